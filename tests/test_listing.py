"""The staff lists: keyset pages that neither skip nor repeat a row (ties in the sort key included), filters,
the owner's name in each row, and nothing outside the user's scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import Lead, SalesStage, User
from crm_store.records import lifecycle as records
from crm_store.records.list_rows import LeadRow, OpportunityRow
from crm_store.records.listing import ListFilter, Page, list_records
from crm_store.settings import company
from crm_store.staff import teams
from crm_store.staff.users import add_user

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    """An admin; a manager with one report (rep1); rep2 on their own; rep3 in the pool team."""
    admin = add_user(session, "admin@example.com", "Ada Admin", role="admin", welcome=False)
    boss = add_user(session, "boss@example.com", "Bo Boss", role="manager", welcome=False)
    rep1 = add_user(session, "rep1@example.com", "林美玲", manager_email=boss.email, welcome=False)
    rep2 = add_user(session, "rep2@example.com", "Rex Two", welcome=False)
    rep3 = add_user(session, "rep3@example.com", "Ria Three", welcome=False)
    teams.add_member(session, teams.add_team(session, "Inbound", boss.email), rep3.email)
    company.set_value(session, "unassigned_pool", "Inbound")
    return {"admin": admin, "boss": boss, "rep1": rep1, "rep2": rep2, "rep3": rep3}


def lead(session: Session, name: str, owner: User | None, at: dt.datetime, **values: Any) -> Lead:
    owner_id = {"owner_id": owner.id} if owner is not None else {}
    return records.create_lead(session, {"last_name": name, **owner_id, **values}, Actor.system("t"), at=at)


def walk(session: Session, user: User, module: str, size: int, **kw: Any) -> tuple[list[Page[Any]], list[int]]:
    """Every page by next cursors from the first; the ids in the order read."""
    pages = [list_records(session, user, module, size=size, **kw)]
    while pages[-1].next_cursor is not None:
        pages.append(list_records(session, user, module, size=size, cursor=pages[-1].next_cursor, **kw))
        assert len(pages) < 100
    return pages, [row.id for page in pages for row in page.rows]


def test_pages_by_next_and_previous_cover_every_row_once_with_ties(session: Session, people: dict) -> None:
    rep1, rep2, boss = people["rep1"], people["rep2"], people["boss"]
    made = [lead(session, f"Tie {i}", rep1 if i % 2 else boss, T0) for i in range(7)]  # one created_at for all
    made += [lead(session, f"Later {i}", rep1, T0 + dt.timedelta(hours=i + 1)) for i in range(4)]
    lead(session, "Not theirs", rep2, T0 + dt.timedelta(hours=9))
    session.commit()
    expected = [x.id for x in sorted(made, key=lambda x: (x.created_at, x.id), reverse=True)]

    pages, seen = walk(session, boss, "leads", 3)  # the manager: own leads and rep1's, two index ranges merged
    assert seen == expected
    assert [len(p.rows) for p in pages] == [3, 3, 3, 2]
    assert pages[0].previous_cursor is None and pages[-1].next_cursor is None
    back = [pages[-1]]
    while back[-1].previous_cursor is not None:
        back.append(list_records(session, boss, "leads", size=3, cursor=back[-1].previous_cursor))
    assert [[r.id for r in p.rows] for p in reversed(back)] == [[r.id for r in p.rows] for p in pages]

    _, ascending = walk(session, people["admin"], "leads", 4, descending=False)
    everything = session.scalars(select(Lead)).all()
    assert ascending == [x.id for x in sorted(everything, key=lambda x: (x.created_at, x.id))]


def test_sorting_by_name_pages_through_equal_names(session: Session, people: dict) -> None:
    rep1 = people["rep1"]
    made = [lead(session, name, rep1, T0 + dt.timedelta(minutes=i))
            for i, name in enumerate(["Wang", "Chen", "Wang", "Lin", "Wang", "Chen", "Wang"])]
    session.commit()
    _, seen = walk(session, rep1, "leads", 2, sort="name", descending=False)
    assert seen == [x.id for x in sorted(made, key=lambda x: (x.last_name, x.id))]


def test_rows_name_their_owner_and_filters_narrow_the_list(session: Session, people: dict) -> None:
    rep1, admin = people["rep1"], people["admin"]
    hot = lead(session, "Wang", rep1, T0, first_name="Amy", company="Acme Ltd", status="Hot",
               lead_source="Web Site", email="amy@acme.test")
    lead(session, "Chen", rep1, T0 + dt.timedelta(days=1), company="Beta", status="Cold")
    lead(session, "Acheson", rep1, T0 + dt.timedelta(days=2), status="Hot")
    converted = lead(session, "Done", rep1, T0)
    converted.converted_at = T0
    session.commit()

    row = list_records(session, rep1, "leads", ListFilter(status="Hot", lead_source="Web Site")).rows
    assert row == [LeadRow(hot.id, hot.lead_no, "Amy Wang", "Acme Ltd", "Hot", "Web Site", "amy@acme.test", None,
                           rep1.id, "林美玲", T0)]
    by_prefix = list_records(session, admin, "leads", ListFilter(prefix="Ac"), sort="name", descending=False)
    assert [r.name for r in by_prefix.rows] == ["Acheson", "Amy Wang"]  # last name or company begins with it
    assert list_records(session, admin, "leads", ListFilter(prefix="ac")).rows == []  # as typed
    window = ListFilter(created_from=T0 + dt.timedelta(hours=1), created_to=T0 + dt.timedelta(days=2))
    assert [r.name for r in list_records(session, admin, "leads", window).rows] == ["Chen"]
    with_converted = list_records(session, admin, "leads", ListFilter(include_converted=True))
    assert converted.id in {r.id for r in with_converted.rows}
    assert converted.id not in {r.id for r in list_records(session, admin, "leads").rows}
    with pytest.raises(ValidationError) as err:
        list_records(session, admin, "accounts", ListFilter(status="Hot"))
    assert err.value.field == "status"


def test_the_scope_decides_what_a_list_and_its_owner_filter_show(session: Session, people: dict) -> None:
    rep1, rep2, rep3, boss = people["rep1"], people["rep2"], people["rep3"], people["boss"]
    own = lead(session, "Own", rep2, T0)
    theirs = lead(session, "Theirs", rep1, T0)
    pooled = lead(session, "Pooled", None, T0)
    session.commit()

    def ids(user: User, filters: ListFilter | None = None) -> set[int]:
        return {r.id for r in list_records(session, user, "leads", filters).rows}

    assert ids(rep2) == {own.id}
    assert ids(rep2, ListFilter(owner_id=rep1.id)) == set()  # another rep's list, by filter: nothing
    assert ids(boss) == {theirs.id}
    assert ids(rep3) == {pooled.id}  # the pool team's member sees the unowned leads
    assert ids(rep3, ListFilter(unowned=True)) == {pooled.id}
    assert ids(rep2, ListFilter(unowned=True)) == set()
    company.set_value(session, "record_sharing", "team")
    teams.add_member(session, teams.find_team(session, "Inbound"), rep2.email)
    session.commit()
    assert ids(rep3) == {own.id, pooled.id}  # teammates now see each other's records


def test_opportunity_rows_and_their_stage_filter(session: Session, people: dict) -> None:
    rep1 = people["rep1"]
    staff = Actor.user(rep1.id)
    account = records.create_account(session, {"name": "台灣精密股份有限公司", "owner_id": rep1.id}, staff, at=T0)
    deal = records.create_opportunity(session, {"name": "Lathe", "expected_close_date": "2026-06-30",
                                                "amount": 1000, "owner_id": rep1.id, "account_id": account.id},
                                      staff, at=T0)
    records.create_opportunity(session, {"name": "Mill", "expected_close_date": "2026-05-30", "owner_id": rep1.id,
                                         "stage": "Qualification"}, staff, at=T0)
    session.commit()
    first_stage = session.scalar(select(SalesStage).where(SalesStage.id == deal.stage_id))
    page = list_records(session, rep1, "opportunities", ListFilter(stage_id=deal.stage_id))
    assert page.rows == [OpportunityRow(deal.id, deal.opportunity_no, "Lathe", account.id, "台灣精密股份有限公司",
                                        first_stage.name, deal.amount, "TWD", dt.date(2026, 6, 30), rep1.id, "林美玲",
                                        T0)]
    by_close = list_records(session, rep1, "opportunities", sort="close", descending=False)
    assert [r.name for r in by_close.rows] == ["Mill", "Lathe"]


def test_a_cursor_of_another_order_or_garbage_is_refused(session: Session, people: dict) -> None:
    rep1 = people["rep1"]
    for i in range(3):
        lead(session, f"L{i}", rep1, T0 + dt.timedelta(minutes=i))
    session.commit()
    page = list_records(session, rep1, "leads", size=2)
    assert page.next_cursor is not None
    for cursor, sort in ((page.next_cursor, "name"), ("not-a-cursor", "created"), ("e30", "created")):
        with pytest.raises(ValidationError) as err:
            list_records(session, rep1, "leads", sort=sort, cursor=cursor, size=2)
        assert err.value.field == "cursor"
