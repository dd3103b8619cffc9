"""Duplicates and merge, and the recycle bin, through the real app (SQLite and PostgreSQL).

Groups with the reason they match, within the reader's scope; a field-by-field merge that bins the others and its
undo from the kept record's timeline; the bin (what I may see, who deleted what), restore with the duplicate
warning, and purge for admins only. Pages are parsed (`tests/staff_support.py`); what a click did is read back
from the database.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Activity, AuditEntry, Lead, utcnow
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records

from .staff_support import Page
from .test_staff_records import Crew, make_crew, signed_in


@pytest.fixture
def crew(session: Session) -> Crew:
    """The users of tests/test_staff_records.py: admin, manager, rep (a report; rep_b a teammate), rep_c."""
    return make_crew(session)


def add(session: Session, crew: Crew, module: str, who: str, **values: Any) -> tuple[int, str]:
    """Make a record owned by `who` (committed); its id and number."""
    row = records.create(session, module, {"owner_id": crew.ids[who], **values}, Actor.user(crew.ids[who]))
    found = row.id, getattr(row, {"leads": "lead_no", "accounts": "account_no", "contacts": "contact_no"}[module])
    session.commit()
    return found


def delete(session: Session, crew: Crew, who: str, number: str) -> None:
    records.delete(session, records.get_by_number(session, number), Actor.user(crew.ids[who]))
    session.commit()


def lead(session: Session, number: str) -> dict[str, Any]:
    """A lead's columns as plain values (the read ends at once: SQLite's app writers wait behind an open one)."""
    row = session.execute(select(Lead.__table__).where(Lead.lead_no == number)).mappings().one()
    session.rollback()
    return dict(row)


def groups(page: Page) -> list[tuple[str, list[str]]]:
    """Each group on the duplicates page: its reasons (the card's title) and its records' numbers."""
    return [(card.find("h2").text, [e.text for e in card.all(class_="table__sub")])
            for card in page.all(class_="dupgroup")]


def test_groups_show_why_they_match_and_only_records_i_may_see(client: Any, app: Any, session: Session,
                                                               crew: Crew) -> None:
    _, amy = add(session, crew, "leads", "rep", last_name="Chen", first_name="Amy", email="amy@example.com")
    _, amy2 = add(session, crew, "leads", "rep", last_name="Chen", email="AMY@example.com", phone="+886 2 2345 6789")
    _, theirs = add(session, crew, "leads", "rep_c", last_name="Chen", email="amy@example.com")
    _, lone = add(session, crew, "leads", "rep", last_name="Lin", phone="+886 933 222 111")
    _, lone_twin = add(session, crew, "leads", "rep_c", last_name="Lin", mobile="+886 933 222 111")
    add(session, crew, "leads", "rep", last_name="Wu", email="wu@example.com")
    _, acme = add(session, crew, "accounts", "rep", name="Acme Trading Co., Ltd.")
    _, acme2 = add(session, crew, "accounts", "rep", name="ACME trading")

    rep = signed_in(client, crew, "rep")
    page = rep.get("/duplicates")
    assert rep.status == 200 and page.find("h1").text == "Duplicates"
    assert page.find(class_="tabs__tab", aria_current="page").text == "Leads"
    assert groups(page) == [("Same email: amy@example.com", [amy, amy2])]  # not rep_c's twin, nor the lone Lin
    row = next(r for r in page.all("tr") if amy2 in r.text)
    assert "+886 2 2345 6789" in row.text and "Rep A" in row.text
    assert all("checked" in box.attrs for box in page.all("input", name="ids"))
    assert page.find(class_="dupgroup").attrs["action"] == "/duplicates/merge"

    accounts = rep.get("/duplicates?module=accounts")
    assert groups(accounts) == [("Same company name: Acme Trading Co., Ltd.", [acme, acme2])]
    rep.get("/duplicates?module=opportunities")
    assert rep.status == 404  # no duplicate rule for deals
    empty = rep.get("/duplicates?module=contacts")
    assert empty.find(class_="empty__title").text == "No possible duplicates"

    admin = signed_in(app.test_client(), crew, "admin")
    everyone = dict((tuple(numbers), reason) for reason, numbers in groups(admin.get("/duplicates")))
    assert everyone == {(amy, amy2, theirs): "Same email: amy@example.com",
                        (lone, lone_twin): "Same phone: +886933222111"}


def test_a_rep_reaches_no_record_outside_their_scope_by_url(client: Any, app: Any, session: Session,
                                                            crew: Crew) -> None:
    mine_id, mine = add(session, crew, "leads", "rep", last_name="Chen", email="amy@example.com")
    other_id, other = add(session, crew, "leads", "rep_c", last_name="Chen", email="amy@example.com")
    gone_id, gone = add(session, crew, "leads", "rep_c", last_name="Gone")
    delete(session, crew, "rep_c", gone)
    rep = signed_in(client, crew, "rep")
    for where in (f"/duplicates/merge?module=leads&ids={mine_id},{other_id}",
                  f"/duplicates/merge?module=leads&ids={mine_id},{gone_id}",
                  f"/duplicates/merge?module=reports&ids={mine_id},{other_id}",
                  f"/duplicates/merge?module=leads&ids={mine_id},x", "/duplicates?module=nothing"):
        rep.get(where)
        assert rep.status == 404, where
    rep.get("/bin")
    rep.post(f"/duplicates/merge?module=leads&ids={mine_id},{other_id}", {"survivor": str(mine_id)})
    assert rep.status == 404
    rep.get("/bin")
    rep.post(f"/bin/leads/{gone}/restore")
    assert rep.status == 404
    rep.get("/bin")
    rep.post(f"/bin/leads/{mine}/restore")  # live: not in the bin, but the rep's: told so
    assert rep.status == 303 and rep.location == f"/leads/{mine}"
    assert rep.get(rep.location).flashes() == [f"{mine} is not in the recycle bin any more."]
    assert lead(session, gone)["deleted_at"] is not None and lead(session, other)["deleted_at"] is None

    rep.get(f"/duplicates/merge?module=leads&ids={mine_id}")
    assert rep.status == 303 and rep.location == "/duplicates?module=leads"
    assert rep.get(rep.location).flashes() == ["Choose 2 or 3 records to merge."]

    admin = signed_in(app.test_client(), crew, "admin")
    admin.get(f"/duplicates/merge?module=leads&ids={mine_id},{other_id}")
    admin.post(f"/duplicates/merge?module=leads&ids={mine_id},{other_id}",
               {"survivor": str(other_id), "take_owner_id": str(other_id)})
    assert admin.status == 303 and admin.location == f"/leads/{other}"
    entry_id = session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action == "merge"))
    session.rollback()
    binned = rep.get("/bin").by_id(f"bin-{mine}")  # the rep's lead, merged away into one they may not see
    assert f"Merged into {other} by Admin" in binned.text
    rep.post(f"/merges/{entry_id}/undo")  # the kept record is rep_c's
    assert rep.status == 404
    assert lead(session, mine)["deleted_at"] is not None


def test_a_merge_takes_each_value_from_the_chosen_record_and_undo_puts_both_back(client: Any, session: Session,
                                                                               crew: Crew) -> None:
    keep_id, keep = add(session, crew, "leads", "rep", last_name="Chen", first_name="Amy", company="Acme",
                        email="amy@example.com", lead_source="Web Site")
    twin_id, twin = add(session, crew, "leads", "rep", last_name="Chen", company="Acme Trading",
                        email="amy@example.com", phone="+886 2 2345 6789", lead_source="Trade Show")
    task = activities.create_activity(session, {"type": "task", "subject": "Call Amy", "lead_id": twin_id,
                                                "due_date": utcnow().date(), "owner_id": crew.ids["rep"]},
                                      Actor.user(crew.ids["rep"]))
    task_id = task.id
    session.commit()
    rep = signed_in(client, crew, "rep")
    where = f"/duplicates/merge?module=leads&ids={keep_id},{twin_id}"
    page = rep.get(where)
    assert rep.status == 200 and page.find("h1").text == "Merge 2 records"
    checked = {i.attrs["name"]: i.attrs["value"] for i in page.all("input", type="radio") if "checked" in i.attrs}
    assert checked == {"survivor": str(keep_id), "take_first_name": str(keep_id), "take_company": str(keep_id),
                       "take_phone": str(twin_id), "take_lead_source": str(keep_id)}  # the kept one's, else any
    labels = [th.text for th in page.all("th", scope="row")]
    assert labels == ["Record to keep", "First name", "Company", "Lead source", "Phone"]

    bad = rep.post(where, {**checked, "take_company": "999999"})
    assert rep.status == 422 and bad.field_error("take_company") == "Choose which record's value to keep."
    assert lead(session, twin)["deleted_at"] is None

    rep.post(where, {**checked, "take_company": str(twin_id), "take_lead_source": str(twin_id)})
    assert rep.status == 303 and rep.location == f"/leads/{keep}"
    shown = rep.get(rep.location)
    assert shown.flashes() == [f"{twin} merged into {keep}. You can undo it from the timeline."]
    kept, binned = lead(session, keep), lead(session, twin)
    assert (kept["first_name"], kept["company"], kept["phone"], kept["phone_e164"], kept["lead_source"]) == (
        "Amy", "Acme Trading", "+886 2 2345 6789", "+886223456789", "Trade Show")
    assert binned["deleted_at"] is not None
    assert session.scalar(select(Activity.lead_id).where(Activity.id == task_id)) == keep_id
    session.rollback()
    item = shown.find(class_="timeline__item--merged")
    assert [p.text for p in item.all(class_="timeline__detail")][:2] == [f"Merged in: {twin}",
                                                                        "Company: Acme → Acme Trading"]
    undo = item.find("form")
    bin_page = rep.get("/bin")
    line = bin_page.by_id(f"bin-{twin}")
    assert "Merged into " + keep + " by Rep A" in line.text

    rep.get(f"/leads/{keep}")
    rep.post(undo.attrs["action"])
    assert rep.status == 303 and rep.location == f"/leads/{keep}"
    after = rep.get(rep.location)
    assert after.flashes() == [f"The merge is undone; {twin} came back from the recycle bin."]
    assert after.all(class_="timeline__item--merged")[0].all("form") == []  # undone: no second undo
    kept, back = lead(session, keep), lead(session, twin)
    assert (kept["company"], kept["phone"], kept["phone_e164"], kept["lead_source"]) == ("Acme", None, None, "Web Site")
    assert back["deleted_at"] is None
    assert session.scalar(select(Activity.lead_id).where(Activity.id == task_id)) == twin_id
    session.rollback()
    rep.post(undo.attrs["action"])
    assert rep.status == 303 and rep.get(rep.location).flashes() == ["This merge was already undone."]


def test_the_bin_lists_what_i_may_see_and_restore_warns_of_duplicates(client: Any, app: Any, session: Session,
                                                                      crew: Crew) -> None:
    old_id, old = add(session, crew, "leads", "rep", last_name="Chen", email="amy@example.com")
    _, mine = add(session, crew, "accounts", "rep", name="Binned Ltd")
    _, theirs = add(session, crew, "leads", "rep_c", last_name="Theirs")
    delete(session, crew, "rep", old)
    delete(session, crew, "rep", mine)
    delete(session, crew, "rep_c", theirs)
    new_id, new = add(session, crew, "leads", "rep", last_name="Chen", first_name="Amy", email="amy@example.com")
    add(session, crew, "leads", "rep_c", last_name="Chen", email="amy@example.com")  # not the rep's to see

    rep = signed_in(client, crew, "rep")
    page = rep.get("/bin")
    rows = {tr.attrs["id"]: tr for tr in page.all("tr") if tr.attrs.get("id", "").startswith("bin-")}
    assert set(rows) == {f"bin-{old}", f"bin-{mine}"}
    assert "By Rep A" in rows[f"bin-{old}"].text and "Lead" in rows[f"bin-{old}"].text
    assert rows[f"bin-{old}"].all("a", class_="btn--danger") == []  # purge is for admins
    accounts = rep.get("/bin?module=accounts")
    assert [r.attrs["id"] for r in accounts.all("tr") if r.attrs.get("id")] == [f"bin-{mine}"]
    assert accounts.find(class_="tabs__tab", aria_current="page").text == "Accounts"

    rep.get("/bin")
    rep.post(f"/bin/leads/{old}/restore")
    assert rep.status == 303 and rep.location == f"/leads/{old}"
    shown = rep.get(rep.location)
    assert shown.flashes()[0] == f"{old} is restored."
    warning = shown.all(class_="flash")[1]  # the possible duplicates, the rep's only
    assert f"{old} may be a duplicate of" in warning.text
    record_link, merge_link = warning.all("a")
    assert [record_link.text, merge_link.text] == [f"{new} Amy Chen", "Compare and merge"]
    assert record_link.attrs["href"] == f"/leads/{new}"
    query = parse_qs(urlsplit(merge_link.attrs["href"]).query)
    assert urlsplit(merge_link.attrs["href"]).path == "/duplicates/merge"
    assert query == {"module": ["leads"], "ids": [f"{old_id},{new_id}"]}
    assert lead(session, old)["deleted_at"] is None
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.record_no == old)
                          .order_by(AuditEntry.id.desc()).limit(1)) == "restore"
    session.rollback()

    empty = signed_in(app.test_client(), crew, "rep_b").get("/bin")
    assert empty.find(class_="empty__title").text == "The recycle bin is empty"


def test_only_an_admin_purges_and_after_a_confirmation(client: Any, app: Any, session: Session, crew: Crew) -> None:
    _, number = add(session, crew, "leads", "rep", last_name="Purged")
    delete(session, crew, "rep", number)
    rep = signed_in(client, crew, "rep")
    rep.get(f"/bin/leads/{number}/purge")
    assert rep.status == 403
    rep.get("/bin")
    rep.post(f"/bin/leads/{number}/purge")
    assert rep.status == 403
    assert lead(session, number)["deleted_at"] is not None

    admin = signed_in(app.test_client(), crew, "admin")
    row = admin.get("/bin").by_id(f"bin-{number}")
    assert row.find("a", class_="btn--danger").attrs["href"] == f"/bin/leads/{number}/purge"
    confirm = admin.get(f"/bin/leads/{number}/purge")
    assert admin.status == 200 and confirm.find("h1").text == "Delete Purged for good?"
    admin.post(f"/bin/leads/{number}/purge")
    assert admin.status == 303 and admin.location == "/bin"
    assert admin.get("/bin").flashes() == [f"{number} is deleted for good."]
    assert session.scalar(select(Lead.id).where(Lead.lead_no == number)) is None
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.record_no == number)
                          .order_by(AuditEntry.id.desc()).limit(1)) == "purge"
    session.rollback()
    admin.get(f"/bin/leads/{number}/purge")
    assert admin.status == 404


def test_the_more_menu_leads_to_duplicates_and_the_bin(client: Any, crew: Crew) -> None:
    page = signed_in(client, crew, "rep").get("/")
    menu = {a.text: a.attrs["href"] for a in page.find("details", class_="morenav").all("a")}
    assert (menu["Duplicates"], menu["Recycle bin"]) == ("/duplicates", "/bin")
