"""The campaigns, activities and documents lists and a campaign's page, through the real app (SQLite and
PostgreSQL): filters, sorts, keyset pages, and nothing outside the viewer's scope; the store's lists behind them.

Pages are parsed (`tests/staff_support.py`), never matched as strings.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import Activity, CampaignMember, Contact, DocumentLink, Lead, User
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.records.documents import add_document
from crm_store.records.listing import ListFilter, count_records, list_records
from crm_store.settings import company

from .staff_support import Page
from .test_staff_records import Crew, make_crew, record_of, signed_in

T0 = dt.datetime(2026, 5, 4, 1, 0, tzinfo=dt.UTC)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; a manager; rep (a report; rep_b a teammate in North); rep_c on their own."""
    return make_crew(session)


def campaign(session: Session, crew: Crew, name: str, who: str = "admin", at: dt.datetime = T0, **values: Any) -> Any:
    found = records.create(session, "campaigns", {"name": name, "owner_id": crew.ids[who], **values},
                           Actor.system("t"), at=at)
    session.commit()
    return found.id, found.campaign_no


def activity(session: Session, crew: Crew, who: str, subject: str, kind: str = "task", **values: Any) -> int:
    row = activities.create_activity(session, {"type": kind, "subject": subject, "owner_id": crew.ids[who], **values},
                                     Actor.user(crew.ids[who]))
    session.commit()
    return row.id


def rows(page: Page) -> list[str]:
    """The first cell of each row of the page's list (a record's name)."""
    return [tr.all("td")[0].all("a")[0].text if tr.all("td")[0].all("a") else tr.all("td")[0].text
            for tr in page.find("tbody").all("tr")] if page.all("tbody") else []


def lead_id(session: Session, number: str) -> int:
    found = session.scalar(select(Lead.id).where(Lead.lead_no == number))
    session.rollback()
    assert found is not None
    return found


# -- campaigns ---------------------------------------------------------------------------------------------

def test_every_user_sees_the_campaigns_filtered_sorted_and_paged(client: Any, session: Session, crew: Crew,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("webform.staff.lists.routes.PAGE_SIZE", 2)
    campaign(session, crew, "Spring webinar", "rep_c", T0, status="Active", campaign_type="Webinar")
    campaign(session, crew, "Trade show Taipei", "admin", T0 + dt.timedelta(hours=1), status="Planning",
             campaign_type="Trade Show")
    campaign(session, crew, "Autumn mailing", "manager", T0 + dt.timedelta(hours=2), status="Active",
             campaign_type="Direct Mail")
    staff = signed_in(client, crew, "rep")

    first = staff.get("/campaigns")
    assert staff.status == 200 and first.find("h1").text == "Campaigns"
    assert rows(first) == ["Autumn mailing", "Trade show Taipei"]  # newest first, two a page
    second = staff.get(first.find("a", rel="next").attrs["href"])
    assert rows(second) == ["Spring webinar"]  # another rep's campaign: campaigns are everyone's
    assert rows(staff.get(second.find("a", rel="prev").attrs["href"])) == ["Autumn mailing", "Trade show Taipei"]

    by_name = staff.get("/campaigns?sort=name&order=asc")
    assert rows(by_name) == ["Autumn mailing", "Spring webinar"]
    assert rows(staff.get("/campaigns?status=Active&sort=name&order=asc")) == ["Autumn mailing", "Spring webinar"]
    assert rows(staff.get("/campaigns?type=Trade+Show")) == ["Trade show Taipei"]
    assert rows(staff.get(f"/campaigns?owner={crew.ids['rep_c']}")) == ["Spring webinar"]
    assert rows(staff.get("/campaigns?q=Tr")) == ["Trade show Taipei"]
    nothing = staff.get("/campaigns?q=Zzz")
    assert nothing.find(class_="empty__title").text == "Nothing matches these filters"
    assert rows(staff.get("/campaigns?status=Bogus&sort=bogus")) == ["Autumn mailing", "Trade show Taipei"]
    staff.get("/campaigns?cursor=garbage")
    assert staff.status == 303 and staff.location == "/campaigns"

    staff.get("/campaigns")
    staff.post("/language", {"language": "zh_Hant", "next": "/campaigns"})
    chinese = staff.get("/campaigns?sort=name&order=asc")
    assert chinese.find("h1").text == "行銷活動"
    assert [tr.all("td")[1].text for tr in chinese.find("tbody").all("tr")] == ["直效郵件", "線上研討會"]


def test_the_campaign_page_lists_only_the_related_records_the_viewer_sees(app: Any, client: Any, session: Session,
                                                                          crew: Crew,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    campaign_id, number = campaign(session, crew, "Spring webinar", "rep_c", status="Active",
                                   campaign_type="Webinar", budget_cost="12000", description="Two sessions")
    mine = record_of(session, crew, "leads", "rep", "Lin")
    team = record_of(session, crew, "leads", "rep_b", "Wang")
    other = record_of(session, crew, "leads", "rep_c", "Chen")
    member = record_of(session, crew, "leads", "rep", "Member")
    record_of(session, crew, "leads", "rep", "Elsewhere")
    contact = record_of(session, crew, "contacts", "rep", "Kao")
    member_id = lead_id(session, member)
    for numbered in (mine, team, other):
        session.execute(Lead.__table__.update().where(Lead.lead_no == numbered).values(campaign_id=campaign_id))
    session.add(CampaignMember(campaign_id=campaign_id, lead_id=member_id))
    session.execute(Contact.__table__.update().where(Contact.contact_no == contact).values(campaign_id=campaign_id))
    deal = records.create(session, "opportunities", {"name": "Webinar deal", "owner_id": crew.ids["rep_c"],
                                                     "expected_close_date": "2026-09-30", "campaign_id": campaign_id},
                          Actor.system("t"))
    session.commit()
    assert deal.campaign_id == campaign_id
    session.rollback()

    staff = signed_in(client, crew, "rep")
    page = staff.get(f"/campaigns/{number}")
    assert staff.status == 200 and page.find("h1").text == "Spring webinar"
    leads = page.by_id("campaign-leads")
    assert sorted(a.text for a in leads.find("tbody").all("a")) == ["Lin", "Member"]  # own, and a member
    assert leads.find(class_="badge").text == "2"
    contacts = page.by_id("campaign-contacts")
    assert [a.text for a in contacts.find("tbody").all("a")] == ["Kao"]
    nothing = page.by_id("campaign-opportunities").find("p").text
    assert nothing == "No opportunities you can see came from this campaign."
    fields = {dt_.text: dd.text for dt_, dd in zip(page.all("dt"), page.all("dd"), strict=True)}
    assert fields["Campaign status"] == "Active" and fields["Budget cost"] == "12,000.00"
    assert fields["Assigned to"] == "Rep C" and fields["Description"] == "Two sessions"

    boss = signed_in(app.test_client(), crew, "manager").get(f"/campaigns/{number}")  # sees rep's leads (a report's)
    assert sorted(a.text for a in boss.by_id("campaign-leads").find("tbody").all("a")) == ["Lin", "Member"]
    admin = signed_in(app.test_client(), crew, "admin")
    everything = admin.get(f"/campaigns/{number}")
    assert sorted(a.text for a in everything.by_id("campaign-leads").find("tbody").all("a")) == [
        "Chen", "Lin", "Member", "Wang"]
    assert [a.text for a in everything.by_id("campaign-opportunities").find("tbody").all("a")] == ["Webinar deal"]
    assert not everything.by_id("campaign-leads").all("a", href=f"/leads?campaign={campaign_id}")

    monkeypatch.setattr("crm_store.records.campaign_page.RELATED_LIMIT", 3)
    capped = admin.get(f"/campaigns/{number}").by_id("campaign-leads")
    assert len(capped.find("tbody").all("tr")) == 3 and capped.find(class_="badge").text == "4"
    assert capped.find("a", href=f"/leads?campaign={campaign_id}").text == "Show all 4"

    admin.get("/campaigns/CAM999")
    assert admin.status == 404


# -- activities --------------------------------------------------------------------------------------------

def test_activities_are_scoped_by_owner_and_filtered_by_type_status_and_day(app: Any, client: Any,
                                                                            session: Session, crew: Crew) -> None:
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.commit()
    today = dt.datetime.now(dt.UTC).astimezone(company.zone_for(session)).date()
    session.rollback()
    lead = record_of(session, crew, "leads", "rep", "Lin")
    late = activity(session, crew, "rep", "Send the quote", due_date=today - dt.timedelta(days=2),
                    lead_id=lead_id(session, lead))
    activity(session, crew, "rep", "Call back", "call", start_at=dt.datetime.combine(
        today, dt.time(15), company.zone_for(session)), status="Planned")
    session.rollback()
    activity(session, crew, "rep", "Prepare demo", due_date=today + dt.timedelta(days=3))
    old = activity(session, crew, "rep", "Old task", due_date=today - dt.timedelta(days=9))
    activities.complete_activity(session, session.get_one(Activity, old), Actor.user(crew.ids["rep"]))
    session.commit()
    activity(session, crew, "rep_c", "Someone else's task", due_date=today)

    staff = signed_in(client, crew, "rep")
    listed = staff.get("/activities")
    assert staff.status == 200 and listed.find("h1").text == "Activities"
    assert sorted(rows(listed)) == ["Call back", "Old task", "Prepare demo", "Send the quote"]
    assert rows(staff.get("/activities?type=call")) == ["Call back"]
    assert rows(staff.get("/activities?due=overdue")) == ["Send the quote"]  # done ones are not late
    assert rows(staff.get("/activities?due=today")) == ["Call back"]
    assert sorted(rows(staff.get("/activities?due=week"))) == ["Call back", "Prepare demo"]
    assert rows(staff.get("/activities?status=Completed")) == ["Old task"]
    assert rows(staff.get("/activities?sort=name&order=asc")) == ["Call back", "Old task", "Prepare demo",
                                                                    "Send the quote"]
    quote = next(tr for tr in staff.get("/activities?q=Send").find("tbody").all("tr"))
    assert quote.all("td")[4].find("a").attrs["href"] == f"/leads/{lead}"  # what it is about

    staff.post(quote.find("form").attrs["action"], {"next": "/activities?q=Send"})
    assert staff.status == 303 and staff.location == "/activities?q=Send"
    done = session.scalar(select(Activity.completed_at).where(Activity.id == late))
    session.rollback()
    assert done is not None

    boss = signed_in(app.test_client(), crew, "manager")
    assert "Send the quote" in rows(boss.get("/activities"))  # a report's
    assert "Someone else's task" not in rows(boss.get("/activities"))
    outsider = signed_in(app.test_client(), crew, "rep_c")
    assert rows(outsider.get("/activities")) == ["Someone else's task"]
    assert rows(outsider.get(f"/activities?owner={crew.ids['rep']}")) == []


# -- documents ---------------------------------------------------------------------------------------------

def test_the_documents_list_shows_what_the_viewer_may_see(app: Any, client: Any, session: Session, crew: Crew,
                                                          env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = Path(env["CRM_DATA_DIR"])
    mine = record_of(session, crew, "leads", "rep", "Lin")
    theirs = record_of(session, crew, "leads", "rep_c", "Chen")
    lead_of = {n: session.scalars(select(Lead).where(Lead.lead_no == n)).one() for n in (mine, theirs)}
    rep_c = Actor.user(crew.ids["rep_c"])
    add_document(session, data_dir, lead_of[mine], PDF, filename="quote.pdf", actor=Actor.user(crew.ids["rep"]))
    shared = add_document(session, data_dir, lead_of[theirs], PDF, filename="brochure.pdf", title="Brochure",
                          actor=rep_c)
    session.flush()
    session.add(DocumentLink(document_id=shared.id, lead_id=lead_of[mine].id))  # attached to both leads
    add_document(session, data_dir, lead_of[theirs], PDF, filename="private.pdf", actor=rep_c)
    session.commit()

    staff = signed_in(client, crew, "rep")
    listed = staff.get("/documents?sort=name&order=asc")
    assert staff.status == 200 and listed.find("h1").text == "Documents"
    assert rows(listed) == ["Brochure", "quote.pdf"]
    brochure = listed.find("tbody").all("tr")[0]
    assert [a.text for a in brochure.all("td")[3].all("a")] == ["Lin"]  # not rep_c's lead the rep may not see
    assert brochure.all("td")[1].text == "PDF" and brochure.all("td")[4].text == "Rep C"
    assert brochure.find("a", download="").attrs["href"].startswith("/documents/DOC")
    assert rows(staff.get(f"/documents?owner={crew.ids['rep_c']}")) == ["Brochure"]
    assert rows(staff.get("/documents?q=quo")) == ["quote.pdf"]
    assert sorted(rows(signed_in(app.test_client(), crew, "rep_c").get("/documents"))) == ["Brochure", "private.pdf"]
    monkeypatch.setattr("webform.staff.lists.routes.PAGE_SIZE", 1)
    admin = signed_in(app.test_client(), crew, "admin")
    first = admin.get("/documents")
    assert rows(first) == ["private.pdf"]
    assert rows(admin.get(first.find("a", rel="next").attrs["href"])) == ["Brochure"]


def test_the_more_menu_leads_to_the_three_lists(client: Any, crew: Crew) -> None:
    page = signed_in(client, crew, "rep").get("/campaigns")
    menu = page.find("details", class_="morenav")
    assert {a.text: a.attrs["href"] for a in menu.all("a")}.items() >= {
        "Campaigns": "/campaigns", "Activities": "/activities", "Documents": "/documents"}.items()
    assert menu.find("a", href="/campaigns").attrs.get("aria-current") == "page"


# -- the store's lists -------------------------------------------------------------------------------------

def test_the_store_pages_the_three_lists_by_keyset_with_ties_and_counts_them(session: Session, crew: Crew,
                                                                              env: dict) -> None:
    admin, rep = (session.get(User, crew.ids[k]) for k in ("admin", "rep"))
    assert admin is not None and rep is not None
    for i in range(5):
        campaign(session, crew, f"Same name {i % 2}", at=T0 + dt.timedelta(minutes=i // 2))
    number = record_of(session, crew, "leads", "rep", "Lin")
    lead = session.scalar(select(Lead).where(Lead.lead_no == number))
    for i in range(4):
        add_document(session, Path(env["CRM_DATA_DIR"]), lead, PDF, filename=f"file{i % 2}.pdf",
                     actor=Actor.user(rep.id))
        activity(session, crew, "rep", f"Task {i % 2}", due_date=T0.date())
    session.commit()

    for module, total in (("campaigns", 5), ("documents", 4), ("activities", 4)):
        for sort in ("created", "name"):
            for descending in (True, False):
                seen, page = [], list_records(session, rep, module, sort=sort, descending=descending, size=2)
                while True:
                    seen += [row.id for row in page.rows]
                    if page.next_cursor is None:
                        break
                    page = list_records(session, rep, module, sort=sort, descending=descending, size=2,
                                        cursor=page.next_cursor)
                assert len(seen) == len(set(seen)) == total, (module, sort, descending)
                back = list_records(session, rep, module, sort=sort, descending=descending, size=2,
                                    cursor=page.previous_cursor)
                assert [row.id for row in back.rows] == seen[-len(page.rows) - 2:-len(page.rows)]
        assert count_records(session, rep, module) == total
    assert count_records(session, session.get_one(User, crew.ids["rep_c"]), "documents") == 0
    with pytest.raises(ValidationError) as err:
        list_records(session, admin, "documents", ListFilter(status="Active"))
    assert err.value.field == "status"
    with pytest.raises(ValidationError) as err:
        list_records(session, admin, "campaigns", ListFilter(due="today"))
    assert err.value.field == "due"


# -- activities by their day; the lists' tools ---------------------------------------------------------------

def test_activities_sort_by_their_day_a_meeting_beside_a_task(client: Any, session: Session, crew: Crew) -> None:
    """By `when`: a call's or meeting's start, a task's due day (from its start in UTC), else when it was logged."""
    day = dt.date(2026, 6, 10)
    taipei = dt.timezone(dt.timedelta(hours=8))
    activity(session, crew, "rep", "Task on the 10th", due_date=day)  # 2026-06-10 00:00 UTC
    activity(session, crew, "rep", "Early meeting", "meeting", start_at=dt.datetime(2026, 6, 10, 7, 0, tzinfo=taipei))
    activity(session, crew, "rep", "Late call", "call", start_at=dt.datetime(2026, 6, 10, 15, 0, tzinfo=taipei))
    activity(session, crew, "rep", "Task on the 9th", due_date=day - dt.timedelta(days=1))
    activity(session, crew, "rep", "Second task on the 10th", due_date=day)
    logged = activity(session, crew, "rep", "Logged email", "email",  # no day: when it was logged
                      created_at=dt.datetime(2026, 6, 11, 9, 0, tzinfo=dt.UTC))
    wanted = ["Task on the 9th", "Early meeting", "Task on the 10th", "Second task on the 10th", "Late call",
              "Logged email"]  # the meeting at 07:00 in Taipei is 23:00 UTC on the 9th

    staff = signed_in(client, crew, "rep")
    page = staff.get("/activities")
    header = page.find("a", class_="sort", href="/activities?sort=when&order=asc")
    assert header.text == "When"
    assert rows(staff.get("/activities?sort=when&order=asc")) == wanted
    newest = staff.get("/activities?sort=when")
    assert rows(newest) == wanted[::-1]
    assert newest.find("a", class_="sort--current").attrs["aria-sort"] == "descending"

    rep = session.get_one(User, crew.ids["rep"])
    for descending in (False, True):  # keyset pages of two, forward then back, on the computed key
        seen, page_ = [], list_records(session, rep, "activities", sort="when", descending=descending, size=2)
        while True:
            seen += [row.name for row in page_.rows]
            if page_.next_cursor is None:
                break
            page_ = list_records(session, rep, "activities", sort="when", descending=descending, size=2,
                                 cursor=page_.next_cursor)
        assert seen == (wanted[::-1] if descending else wanted)
        back = list_records(session, rep, "activities", sort="when", descending=descending, size=2,
                            cursor=page_.previous_cursor)
        assert [row.name for row in back.rows] == seen[2:4]
    assert list_records(session, rep, "activities", sort="when", size=1).rows[0].id == logged
    session.rollback()


def test_the_three_lists_offer_their_tools_on_the_rows_the_viewer_may_change(client: Any, session: Session,
                                                                            crew: Crew, env: dict) -> None:
    campaign(session, crew, "Admin's campaign", "admin", status="Active")
    own_id, _ = campaign(session, crew, "Rep's campaign", "rep", T0 + dt.timedelta(hours=1), status="Planning")
    mine = activity(session, crew, "rep", "Call back", "call", start_at=T0)
    theirs_lead = record_of(session, crew, "leads", "rep_c", "Chen")
    my_lead = record_of(session, crew, "leads", "rep", "Lin")
    lead_of = {n: session.scalars(select(Lead).where(Lead.lead_no == n)).one() for n in (my_lead, theirs_lead)}
    data_dir = Path(env["CRM_DATA_DIR"])
    my_file = add_document(session, data_dir, lead_of[my_lead], PDF, filename="quote.pdf",
                           actor=Actor.user(crew.ids["rep"])).id
    shared = add_document(session, data_dir, lead_of[theirs_lead], PDF, filename="brochure.pdf",
                          actor=Actor.user(crew.ids["rep_c"]))
    session.flush()
    session.add(DocumentLink(document_id=shared.id, lead_id=lead_of[my_lead].id))  # seen by rep, not theirs
    session.commit()
    staff = signed_in(client, crew, "rep")

    page = staff.get("/campaigns")
    assert rows(page) == ["Rep's campaign", "Admin's campaign"]  # every campaign is seen…
    assert [b.attrs["value"] for b in page.all("input", name="ids")] == [str(own_id)]  # …the own one is changed
    bar = page.by_id("bulk-form")
    assert bar.attrs["action"] == "/campaigns/bulk" and bar.find("input", name="page_ids").attrs["value"] == str(own_id)
    assert [o.attrs["value"] for o in bar.find("select", name="status").all("option")][1:] == [
        "Planning", "Active", "Inactive", "Completed", "Cancelled"]
    assert [b.attrs["value"] for b in bar.all("button", name="action")] == ["reassign", "status", "delete"]
    assert "recycle bin? An admin can restore" in bar.find("button", value="delete").attrs["data-confirm"]
    assert page.find("a", download="").attrs["href"] == "/campaigns/export.csv"

    page = staff.get("/activities?type=call")
    assert [b.attrs["value"] for b in page.all("input", name="ids")] == [str(mine)]
    bar = page.by_id("bulk-form")
    statuses = [o.attrs["value"] for o in bar.find("select", name="status").all("option")][1:]
    assert {"Not Started", "Completed", "Planned", "Held", "Not Held"} <= set(statuses)
    assert len(statuses) == len(set(statuses))  # Planned once, though tasks and events both have it
    assert [o.text for o in bar.find("select", name="owner_id").all("option")][1:] == ["Rep A"]
    assert "cannot be restored" in bar.find("button", value="delete").attrs["data-confirm"]
    assert page.find("a", download="").attrs["href"] == "/activities/export.csv?type=call"
    assert page.find("form", action="/activities/filters")  # filtered: the filter can be saved

    page = staff.get("/documents?sort=name&order=asc")
    assert rows(page) == ["brochure.pdf", "quote.pdf"]
    assert [b.attrs["value"] for b in page.all("input", name="ids")] == [str(my_file)]  # not rep_c's, attached
    bar = page.by_id("bulk-form")
    assert not bar.all("select", name="status")  # documents have no status
    assert [b.attrs["value"] for b in bar.all("button", name="action")] == ["reassign", "delete"]
    assert page.find("tbody").all("tr")[0].all("td")[4].text == "Rep C"  # the owner, "Assigned to"

    outsider = signed_in(client.application.test_client(), crew, "rep_c").get("/campaigns")
    assert not outsider.all("input", name="ids") and not outsider.all("form", id="bulk-form")  # none is theirs
