"""Who sees what: role × module × own/team/other record under both `record_sharing` values, the pool and taking
a lead from it, and the record actions that refuse a user outside their scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.models import AuditEntry, Document, DocumentLink, Lead, Opportunity, SearchDocument, User
from crm_store.records import lifecycle as records
from crm_store.records.listing import list_records
from crm_store.settings import company
from crm_store.staff import actions, scope
from tests.staff_support import make_staff

T0 = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)
MODULES = ("leads", "accounts", "contacts", "opportunities")
ROLES = ("admin", "manager", "rep")
RELATIONS = ("own", "team", "other")


@pytest.fixture
def staff(session: Session) -> dict[str, User]:
    """The users of tests/staff_support.make_staff: admin, manager, rep_a/rep_b (team North), rep_c."""
    users = make_staff(session)
    return users


def make(session: Session, module: str, owner: User | None, name: str) -> Any:
    values: dict[str, Any] = {"owner_id": owner.id} if owner is not None else {}
    if module in ("leads", "contacts"):
        values["last_name"] = name
    else:
        values["name"] = name
    if module == "opportunities":
        values["expected_close_date"] = "2026-09-30"
    return records.create(session, module, values, Actor.system("t"), at=T0)


def owner_of(staff: dict[str, User], role: str, relation: str) -> User:
    """Whose record is the viewer's own, their team's (a report's or a teammate's), or someone else's."""
    if relation == "other":
        return staff["rep_c"]
    if relation == "own":
        return staff[role]
    return staff["rep_b"] if role == "rep" else staff["rep_a"]


def expected(role: str, relation: str, sharing: str) -> bool:
    if role == "admin" or relation == "own":
        return True
    if relation == "other":
        return False
    return role == "manager" or sharing == "team"  # a manager sees reports; a rep sees teammates only when shared


@pytest.mark.parametrize("sharing", ("private", "team"))
@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("role", ROLES)
def test_visibility(session: Session, staff: dict, role: str, module: str, relation: str, sharing: str) -> None:
    company.set_value(session, "record_sharing", sharing)
    record = make(session, module, owner_of(staff, role, relation), "Target")
    make(session, module, staff["rep_c"] if relation != "other" else staff["rep_b"], "Decoy")
    session.commit()
    viewer, model, wanted = staff[role], record.__class__, expected(role, relation, sharing)

    assert scope.can_see(session, viewer, record) is wanted
    assert (scope.fetch(session, viewer, module, record.id) is record) is wanted
    listed = session.scalars(select(model.id).where(scope.visible(session, viewer, module))).all()
    assert (record.id in listed) is wanted
    assert (record.id in {r.id for r in list_records(session, viewer, module).rows}) is wanted
    condition = scope.search_condition(session, viewer, SearchDocument.module, SearchDocument.record_id)
    found = select(SearchDocument.record_id).where(SearchDocument.module == module)
    found = found.where(condition) if condition is not None else found
    assert (record.id in session.scalars(found).all()) is wanted
    assert (condition is None) is (role == "admin")
    number = getattr(record, f"{record.__class__.__name__.lower()}_no")
    assert (scope.fetch_by_number(session, viewer, module, number.lower()) is record) is wanted


def test_a_document_is_seen_with_its_owner_s_records_or_a_record_it_is_attached_to(
    session: Session, staff: dict
) -> None:
    rep_a, rep_b, rep_c = staff["rep_a"], staff["rep_b"], staff["rep_c"]
    lead = make(session, "leads", rep_a, "Own")
    attached = Document(document_no="DOC1", title="Quote", filename="quote.pdf", content_type="application/pdf",
                        size=1, sha256="0" * 64, owner_id=rep_c.id)
    loose = Document(document_no="DOC2", title="Other", filename="other.pdf", content_type="application/pdf",
                     size=1, sha256="1" * 64, owner_id=rep_c.id)
    session.add_all([attached, loose])
    session.flush()
    session.add(DocumentLink(document_id=attached.id, lead_id=lead.id))
    session.commit()
    assert scope.can_see(session, rep_a, attached) and not scope.can_see(session, rep_a, loose)
    assert not scope.can_see(session, rep_b, attached)
    assert scope.can_see(session, rep_c, loose) and scope.can_see(session, staff["manager"], attached)
    seen = session.scalars(select(Document.document_no).where(scope.visible(session, rep_a, "documents"))).all()
    assert seen == ["DOC1"]


def test_the_pool_is_seen_and_taken_by_its_team_only(session: Session, staff: dict) -> None:
    rep_a, rep_b, rep_c = staff["rep_a"], staff["rep_b"], staff["rep_c"]
    pooled = make(session, "leads", None, "Pooled")
    unowned_account = make(session, "accounts", None, "Nobody's Ltd")
    session.commit()
    assert not scope.can_see(session, rep_a, pooled)  # no pool named yet
    company.set_value(session, "unassigned_pool", "North")
    session.commit()
    assert scope.can_see(session, rep_a, pooled) and scope.can_see(session, rep_b, pooled)
    assert not scope.can_see(session, rep_c, pooled)
    assert not scope.can_see(session, rep_a, unowned_account)  # the pool holds leads only

    with pytest.raises(ValidationError) as err:
        actions.take_lead(session, rep_c, pooled.id)
    assert err.value.field == "lead"
    taken = actions.take_lead(session, rep_a, pooled.id, at=T0 + dt.timedelta(hours=1))
    session.commit()
    assert taken.owner_id == rep_a.id and taken.assigned_at == T0 + dt.timedelta(hours=1)
    with pytest.raises(ValidationError, match="no longer in the pool"):
        actions.take_lead(session, rep_b, pooled.id)
    session.rollback()
    assert not scope.can_see(session, rep_b, session.get_one(Lead, pooled.id))  # now rep_a's, sharing is private
    entry = session.scalars(select(AuditEntry).where(AuditEntry.module == "leads", AuditEntry.record_id == pooled.id,
                                                     AuditEntry.action == "assign")).one()
    assert entry.user_id == rep_a.id and entry.changes == {"owner_id": [None, rep_a.id]}


def test_an_inactive_user_sees_nothing(session: Session, staff: dict) -> None:
    rep_a = staff["rep_a"]
    own = make(session, "leads", rep_a, "Own")
    rep_a.active = False
    session.commit()
    assert not scope.can_see(session, rep_a, own)
    assert list_records(session, rep_a, "leads").rows == []


def test_owner_and_stage_changes_refuse_records_out_of_scope_and_are_audited(session: Session, staff: dict) -> None:
    rep_a, rep_c = staff["rep_a"], staff["rep_c"]
    lead = make(session, "leads", rep_c, "Theirs")
    deal = make(session, "opportunities", rep_a, "Deal")
    session.commit()
    with pytest.raises(NotFound):
        actions.change_owner(session, rep_a, "leads", lead.id, rep_a.id)
    with pytest.raises(NotFound):
        actions.change_stage(session, rep_c, deal.id, "Qualification")
    with pytest.raises(ValidationError) as err:
        actions.change_owner(session, rep_a, "opportunities", deal.id, 10_000)
    assert err.value.field == "owner_id"

    with pytest.raises(ValidationError) as err:
        actions.change_stage(session, rep_a, deal.id, "Closed Lost")
    assert err.value.field == "lost_reason"
    with pytest.raises(ValidationError) as err:
        actions.change_stage(session, rep_a, deal.id, "Closed Lost", lost_reason="Bad luck")  # not in the picklist
    assert err.value.field == "lost_reason"
    session.rollback()
    deal = session.get_one(Opportunity, deal.id)
    assert deal.closed_at is None and deal.lost_reason is None  # nothing half-written

    actions.change_stage(session, rep_a, deal.id, "Closed Lost", lost_reason="Price", lost_reason_detail="2x budget")
    session.commit()
    assert deal.closed_at is not None and (deal.lost_reason, deal.lost_reason_detail) == ("Price", "2x budget")
    actions.change_stage(session, rep_a, deal.id, "Qualification")  # reopened: the reason goes
    actions.change_owner(session, rep_a, "opportunities", deal.id, rep_c.id)
    session.commit()
    assert deal.lost_reason is None and deal.owner_id == rep_c.id
    actions_by_rep = session.execute(
        select(AuditEntry.action, AuditEntry.changes).where(AuditEntry.record_id == deal.id,
                                                            AuditEntry.module == "opportunities",
                                                            AuditEntry.user_id == rep_a.id).order_by(AuditEntry.id)
    ).all()
    assert [a for a, _ in actions_by_rep] == ["update", "update", "update", "update", "assign"]
    assert actions_by_rep[-1][1] == {"owner_id": [rep_a.id, rep_c.id]}
    assert not scope.can_see(session, rep_a, deal)  # handed on: out of rep_a's scope


def test_conversion_shows_the_account_match_and_takes_the_choice(session: Session, staff: dict) -> None:
    rep_a, rep_c = staff["rep_a"], staff["rep_c"]
    existing = records.create_account(session, {"name": "台灣精密股份有限公司", "owner_id": rep_c.id},
                                      Actor.system("t"))
    first = make(session, "leads", rep_a, "王")
    first.company = "台灣精密"
    second = make(session, "leads", rep_a, "李")
    second.company = "台灣精密"
    session.commit()

    preview = actions.conversion_preview(session, rep_a, first.id)
    assert preview.account_name == "台灣精密"
    assert [(m.number, m.visible) for m in preview.matches] == [(existing.account_no, False)]
    with pytest.raises(ValidationError) as err:  # an account out of scope cannot be chosen by number
        actions.convert(session, rep_a, first.id, account=existing.account_no)
    assert err.value.field == "account"
    with pytest.raises(NotFound):
        actions.convert(session, rep_c, first.id)

    done = actions.convert(session, rep_a, first.id, new_account=True)  # a new account, though the name matches
    assert done.account_created and done.account.id != existing.id and done.opportunity is None
    matched = actions.convert(session, rep_a, second.id, opportunity={"name": "Lathes",
                                                                      "expected_close_date": "2026-12-31"})
    session.commit()
    assert not matched.account_created and matched.account.id == existing.id  # the default: the match
    assert matched.opportunity is not None and matched.opportunity.owner_id == rep_a.id
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "convert", AuditEntry.user_id == rep_a.id)) == 2


def test_record_sharing_is_private_by_default_and_takes_only_its_two_values(session: Session) -> None:
    assert company.get(session, "record_sharing") == "private"
    assert company.set_value(session, "record_sharing", " Team ") == "team"
    with pytest.raises(ValidationError) as err:
        company.set_value(session, "record_sharing", "everyone")
    assert err.value.field == "record_sharing"
