"""My day, the lists, search and the record page's actions through the real app (SQLite and PostgreSQL).

Pages are parsed (`tests/staff_support.py`); what a click did is read back from the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Activity, Lead, Note, Opportunity, User, utcnow
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import follow_ups, teams

from .test_scope import make
from .test_staff_records import Crew, make_crew, path, record_of, signed_in

TODAY_UTC = utcnow().date()


@pytest.fixture
def crew(session: Session) -> Crew:
    """The users of tests/test_staff_records.py: admin, manager, rep (a report; rep_b a teammate), rep_c."""
    return make_crew(session)


def task(session: Session, crew: Crew, who: str, subject: str, due: dt.date, **links: int) -> int:
    done = activities.create_activity(session, {"type": "task", "subject": subject, "due_date": due,
                                                "owner_id": crew.ids[who], **links}, Actor.user(crew.ids[who]))
    session.commit()
    return done.id


def lead_id(session: Session, number: str) -> int:
    found = session.scalar(select(Lead.id).where(Lead.lead_no == number))
    session.rollback()
    assert found is not None
    return found


# -- My day ------------------------------------------------------------------------------------------------

def test_an_empty_day_says_what_to_do(client: Any, crew: Crew) -> None:
    page = signed_in(client, crew, "rep").get("/")
    assert page.title == "My day · Leadline"
    assert page.find(class_="empty__title").text == "Nothing here yet"
    assert page.find(class_="empty").find("a").attrs["href"] == "/leads"


def test_my_day_lists_tasks_and_new_leads_and_each_is_done_in_one_click(client: Any, session: Session,
                                                                         crew: Crew) -> None:
    company.set_value(session, "time_zone", "UTC")
    number = record_of(session, crew, "leads", "rep", "Lin")
    lead = lead_id(session, number)
    session.execute(Lead.__table__.update().where(Lead.id == lead).values(assigned_at=utcnow()))
    late = task(session, crew, "rep", "Send the quote", TODAY_UTC - dt.timedelta(days=2), lead_id=lead)
    task(session, crew, "rep", "Call back", TODAY_UTC)
    task(session, crew, "rep_c", "Not mine", TODAY_UTC)
    staff = signed_in(client, crew, "rep")
    page = staff.get("/")
    titles = [e.text for e in page.all(class_="item__title")]
    assert titles[:2] == ["Send the quote", "Call back"] and "Not mine" not in titles
    assert "Lin" in titles[2]
    assert page.find(class_="item--overdue").find(class_="item__title").text == "Send the quote"

    staff.post(f"/tasks/{late}/complete", {"next": "/"})
    assert staff.status == 303 and staff.location == "/"
    page = staff.get("/")
    assert page.flashes() == ["Task done: Send the quote"]
    assert "Send the quote" not in [e.text for e in page.all(class_="item__title")]

    staff.post(f"/leads/{number}/calls", {"status": "Not Held", "outcome": "voicemail", "next": "/"})
    assert staff.status == 303 and staff.location == "/"
    staff.post(f"/leads/{number}/follow-ups", {"when": "in_3_days", "next": "/"})
    assert staff.status == 303
    staff.post(f"/leads/{number}/follow-ups", {"due_date": "2000-01-01", "next": "/"})
    assert staff.get("/").flashes() == ["Pick today or a later day."]
    staff.post(f"/leads/{number}/follow-ups", {"next": "/"})
    assert staff.get("/").flashes() == ["Pick a day, or press Tomorrow, In 3 days or Next week."]
    calls = session.scalars(select(Activity).where(Activity.lead_id == lead, Activity.type == "call")).all()
    assert [(c.status, c.outcome) for c in calls] == [("Not Held", "voicemail")]
    planned = session.scalars(select(Activity.due_date).where(
        Activity.lead_id == lead, Activity.type == "task", Activity.completed_at.is_(None))).all()
    assert planned == [follow_ups.follow_up_date("in_3_days", TODAY_UTC)]
    session.rollback()


def test_a_long_day_lists_the_first_tasks_with_show_all_and_each_row_points_its_quick_actions_at_its_record(
    client: Any, session: Session, crew: Crew
) -> None:
    company.set_value(session, "time_zone", "UTC")
    number = record_of(session, crew, "leads", "rep", "Chou")
    lead = lead_id(session, number)
    for i in range(25):
        task(session, crew, "rep", f"Follow up {i:02}", TODAY_UTC - dt.timedelta(days=1), lead_id=lead)
    staff = signed_in(client, crew, "rep")
    page = staff.get("/")
    tasks = page.find("section", **{"aria-labelledby": "tasks-title"})
    assert [e.text for e in tasks.all(class_="item__title")] == [f"Follow up {i:02}" for i in range(20)]
    assert tasks.find(class_="card__footer").find("a").text == "Show all 25"
    assert tasks.find(class_="card__footer").find("a").attrs["href"] == "/?all=1"
    assert "25 overdue" in tasks.find(class_="card__header").text
    quick = tasks.all("details", **{"class": "quick"})[0]  # filled by staff.js from the page's one template
    assert quick.attrs["data-call"] == f"/leads/{number}/calls"
    assert quick.attrs["data-follow-up"] == f"/leads/{number}/follow-ups"
    assert quick.find("a").attrs["href"] == f"/leads/{number}"  # without script: the record's own forms
    assert len(page.all("template", id="quick-actions")) == 1
    everything = staff.get("/?all=1").find("section", **{"aria-labelledby": "tasks-title"})
    assert len(everything.all(class_="item__title")) == 25 and not everything.all(class_="card__footer")


def test_a_reminder_is_dismissed_and_another_reps_task_is_not_found(client: Any, session: Session,
                                                                    crew: Crew) -> None:
    number = record_of(session, crew, "leads", "rep", "Kao")
    note = activities.add_note(session, "Ask about the budget", Actor.user(crew.ids["rep"]),
                               remind_at=utcnow() - dt.timedelta(minutes=5), lead_id=lead_id(session, number))
    session.commit()
    others = task(session, crew, "rep_c", "Theirs", TODAY_UTC)
    staff = signed_in(client, crew, "rep")
    page = staff.get("/")
    assert "Ask about the budget" in [e.text for e in page.all(class_="item__title")]
    staff.post(f"/reminders/{note.id}/dismiss", {"next": "/"})
    assert staff.status == 303
    assert "Ask about the budget" not in [e.text for e in staff.get("/").all(class_="item__title")]
    assert session.scalar(select(Note.reminded_at).where(Note.id == note.id)) is not None
    session.rollback()
    staff.post(f"/tasks/{others}/complete", {"next": "/"})
    assert staff.status == 404


def test_a_manager_sees_the_overdue_tasks_of_their_team(client: Any, session: Session, crew: Crew) -> None:
    task(session, crew, "rep", "Late one", TODAY_UTC - dt.timedelta(days=3))
    page = signed_in(client, crew, "manager").get("/")
    table = [r for r in page.all("tr") if r.all("td")]
    assert [[c.text for c in r.all("td")] for r in table] == [["Rep A", "1"]]


# -- lists -------------------------------------------------------------------------------------------------

def test_a_list_filters_sorts_and_pages(client: Any, session: Session, crew: Crew, monkeypatch: Any) -> None:
    from crm_store.records import listing

    monkeypatch.setattr("webform.staff.records.routes.PAGE_SIZE", 2)
    for name in ("Able", "Baker", "Chan", "Dai"):
        record_of(session, crew, "leads", "rep", name)
    record_of(session, crew, "leads", "rep_c", "Elsewhere")
    staff = signed_in(client, crew, "rep")
    page = staff.get("/leads?sort=name&order=asc")
    names = [r.find("td").find("a").text for r in page.all("tr") if r.all("td")]
    assert names == ["Able", "Baker"]
    assert page.find("th").find("a").attrs["aria-sort"] == "ascending"
    nxt = page.find("a", rel="next").attrs["href"]
    page = staff.get(nxt)
    assert [r.find("td").find("a").text for r in page.all("tr") if r.all("td")] == ["Chan", "Dai"]
    assert not page.all("a", rel="next") and page.find("a", rel="prev")
    page = staff.get("/leads?q=Ba")
    assert [r.find("td").find("a").text for r in page.all("tr") if r.all("td")] == ["Baker"]
    owners = [o.text for o in page.find("select", name="owner").all("option")]
    assert "Rep C" not in owners and "Rep A" not in owners[2:]  # "Me" stands for oneself
    page = staff.get(f"/leads?owner={crew.ids['rep_c']}")
    assert not [r for r in page.all("tr") if r.all("td")]
    assert page.find(class_="empty__title").text == "Nothing matches these filters"
    page = staff.get("/leads?cursor=garbage")
    assert staff.status == 303
    assert listing.PAGE_SIZE == 50


def test_a_pool_member_takes_an_unowned_lead_from_the_list(client: Any, session: Session, crew: Crew) -> None:
    pool = teams.add_team(session, "Pool", "boss@example.com")
    teams.add_member(session, pool, "a@example.com")
    company.set_value(session, "unassigned_pool", "Pool")
    make(session, "leads", None, "Nobody")
    session.commit()
    outsider = signed_in(client, crew, "rep_c").get("/leads?owner=pool")
    assert not [r for r in outsider.all("tr") if r.all("td")]
    staff = signed_in(client.application.test_client(), crew, "rep")
    page = staff.get("/leads?owner=pool")
    row = next(r for r in page.all("tr") if r.all("td"))
    assert row.find("td").find("a").text == "Nobody"
    take = row.find("form")
    staff.post(take.attrs["action"], {"next": "/leads?owner=pool"})
    assert staff.status == 303 and staff.location == "/leads?owner=pool"
    assert session.scalar(select(Lead.owner_id).where(Lead.last_name == "Nobody")) == crew.ids["rep"]
    session.rollback()


# -- record actions ----------------------------------------------------------------------------------------

def test_the_record_page_shows_links_owner_and_timeline(client: Any, session: Session, crew: Crew) -> None:
    row = records.create_lead(session, {"last_name": "Wu", "phone": "+886 2 2345 6789", "email": "wu@example.com",
                                        "owner_id": crew.ids["rep"]}, Actor.user(crew.ids["rep"]))
    session.commit()
    staff = signed_in(client, crew, "rep")
    page = staff.get(path("leads", row.lead_no))
    hrefs = [a.attrs.get("href", "") for a in page.all("a")]
    assert "tel:+886223456789" in hrefs and "mailto:wu@example.com" in hrefs
    assert [e.text for e in page.all(class_="timeline__summary")] == ["Record created"]
    staff.post(path("leads", row.lead_no, "calls"), {"status": "Held", "outcome": "Wants a demo"})
    page = staff.get(staff.location)
    assert page.find(class_="timeline__summary").text.startswith("Call")
    choices = [o.attrs["value"] for o in page.find("select", name="owner_id").all("option")]
    assert str(crew.ids["rep_c"]) not in choices
    staff.post(path("leads", row.lead_no, "owner"), {"owner_id": str(crew.ids["rep_c"])})
    assert staff.status == 400


def test_a_manager_gives_a_record_to_a_report(client: Any, session: Session, crew: Crew) -> None:
    number = record_of(session, crew, "accounts", "manager", "Acme")
    staff = signed_in(client, crew, "manager")
    staff.get(path("accounts", number))
    staff.post(path("accounts", number, "owner"), {"owner_id": str(crew.ids["rep"])})
    assert staff.status == 303
    assert staff.get(staff.location).flashes() == [f"{number} is now assigned to Rep A."]


def test_closing_a_deal_as_lost_needs_a_reason(client: Any, session: Session, crew: Crew) -> None:
    number = record_of(session, crew, "opportunities", "rep", "Big deal")
    staff = signed_in(client, crew, "rep")
    page = staff.get(path("opportunities", number))
    stages = [o.attrs["value"] for o in page.find("select", name="stage").all("option")]
    assert "Closed Lost" in stages
    staff.post(path("opportunities", number, "stage"), {"stage": "Closed Lost", "lost_reason": ""})
    assert staff.get(staff.location).flashes() == ["Choose a lost reason to close the deal as lost."]
    staff.post(path("opportunities", number, "stage"), {"stage": "Closed Lost", "lost_reason": "Price"})
    assert staff.get(staff.location).flashes() == [f"{number} is now at Closed Lost."]
    assert session.scalar(select(Opportunity.lost_reason).where(Opportunity.opportunity_no == number)) == "Price"
    session.rollback()


def test_converting_a_lead_shows_the_account_match_and_goes_to_the_new_deal(client: Any, session: Session,
                                                                             crew: Crew) -> None:
    account = record_of(session, crew, "accounts", "rep", "Acme Trading")
    lead = records.create_lead(session, {"last_name": "Ho", "company": "Acme Trading", "owner_id": crew.ids["rep"]},
                               Actor.user(crew.ids["rep"]))
    session.commit()
    staff = signed_in(client, crew, "rep")
    page = staff.get(path("leads", lead.lead_no, "convert"))
    radios = {i.attrs["value"]: "checked" in i.attrs for i in page.all("input", type="radio") if i.attrs.get("value")}
    assert radios == {account: True, "new": False}
    staff.post(path("leads", lead.lead_no, "convert"), {"account": account, "with_opportunity": "y",
                                                         "opportunity_name": "Acme order", "amount": "1200"})
    assert staff.status == 422 and staff.last is not None
    assert staff.last.field_error("expected_close_date") == "This field is required."
    staff.post(path("leads", lead.lead_no, "convert"), {
        "account": account, "with_opportunity": "y", "opportunity_name": "Acme order", "amount": "1200",
        "expected_close_date": "2026-12-31"})
    assert staff.status == 303 and staff.location.startswith("/opportunities/POT")
    page = staff.get(staff.location)
    assert page.find("h1").text == "Acme order"
    assert [a.text for a in page.all("a") if a.attrs.get("href") == f"/accounts/{account}"] == ["Acme Trading"]
    staff.get(path("leads", lead.lead_no, "convert"))
    assert staff.status == 303  # converted already: back to the lead


# -- search ------------------------------------------------------------------------------------------------

def test_search_finds_only_records_in_scope_with_their_owner(client: Any, session: Session, crew: Crew) -> None:
    mine = record_of(session, crew, "leads", "rep", "Zhangmine")
    record_of(session, crew, "leads", "rep_c", "Zhangtheirs")
    staff = signed_in(client, crew, "rep")
    page = staff.get("/search?q=Zhang")
    rows = [[c.text for c in r.all("td")] for r in page.all("tr") if r.all("td")]
    assert [r[0] for r in rows] == [f"Zhangmine {mine}"] and rows[0][3] == "Rep A"
    fragment = staff.get("/search/suggest?q=Zhang")
    assert [a.attrs["href"] for a in fragment.all("a")] == [f"/leads/{mine}", "/search?q=Zhang"]
    assert staff.get("/search?q=Nobodyhere").find(class_="empty__title").text == "No records found"
    page = signed_in(client.application.test_client(), crew, "admin").get("/search?q=Zhang")
    assert len([r for r in page.all("tr") if r.all("td")]) == 2


def test_a_signed_out_visitor_is_sent_to_sign_in(client: Any, crew: Crew) -> None:
    for where in ("/", "/leads", "/leads/LEA1", "/search?q=x", "/leads/new"):
        response = client.get(where)
        assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"], where


@pytest.mark.parametrize("language", ["zh_Hant"])
def test_the_pages_speak_traditional_chinese(client: Any, session: Session, crew: Crew, language: str) -> None:
    session.get(User, crew.ids["rep"]).language = language  # type: ignore[union-attr]
    session.commit()
    number = record_of(session, crew, "leads", "rep", "陳")
    staff = signed_in(client, crew, "rep")
    assert staff.get("/").title == "我的一天 · Leadline"
    page = staff.get(path("leads", number))
    assert page.lang == "zh-Hant-TW"
    assert page.find("a", href=path("leads", number, "edit")).text == "編輯"
