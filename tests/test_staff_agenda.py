"""The agenda through the real app (SQLite and PostgreSQL): a week and a day in the user's zone, scope, moving an
event (its length kept, audited, its attendees re-invited), a new event with an invitation whose .ics is parsed
(a request to answer: METHOD:REQUEST, each guest an ATTENDEE), the invitations delivered by the mail worker to a
real SMTP server (aiosmtpd), and bad input shown beside its field. Pages are parsed (`tests/staff_support.py`);
what a request did is read back from the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.config import load_config
from crm_store.models import Activity, AuditEntry, Lead, OutboxMessage, User
from crm_store.pipeline import activities
from crm_store.staff import agenda
from emails.render import render
from emails.worker import send_due

from .smtp_server import RecordingHandler, SmtpServer
from .staff_support import Page
from .test_email_render import Page as MailPage
from .test_email_render import unfold
from .test_staff_records import Crew, make_crew, record_of, signed_in

TAIPEI = ZoneInfo("Asia/Taipei")
UTC = dt.UTC
WEEK = "2026-12-16"  # a Wednesday: its week runs from Monday 14 to Sunday 20 December


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin, manager, rep (Rep A, the manager's report; in Taipei), rep_b, rep_c."""
    found = make_crew(session)
    session.execute(update(User).where(User.id == found.ids["rep"]).values(time_zone="Asia/Taipei"))
    session.commit()
    return found


def event(session: Session, crew: Crew, who: str, subject: str, start: dt.datetime, minutes: int | None = 60,
          kind: str = "meeting", **links: int) -> int:
    end = start + dt.timedelta(minutes=minutes) if minutes is not None else None
    row = activities.create_activity(session, {"type": kind, "subject": subject, "start_at": start, "end_at": end,
                                               "owner_id": crew.ids[who], **links}, Actor.user(crew.ids[who]))
    session.commit()
    return row.id


def task(session: Session, crew: Crew, who: str, subject: str, due: dt.date) -> int:
    row = activities.create_activity(session, {"type": "task", "subject": subject, "due_date": due,
                                               "owner_id": crew.ids[who]}, Actor.user(crew.ids[who]))
    session.commit()
    return row.id


def days(page: Page) -> dict[str, Any]:
    """The agenda's day sections by date (YYYY-MM-DD)."""
    return {s.attrs["aria-labelledby"].removeprefix("day-"): s for s in page.all("section", class_="day")}


def titles(section: Any, kind: str) -> list[str]:
    return [e.text for e in section.all(class_="event__title" if kind == "event" else "chip__title")]


@dataclass(frozen=True)
class Calendar:
    """An invite.ics as a calendar program reads it."""

    method: str  # the method parameter of the part's Content-Type
    props: dict[str, str]  # property -> value (ATTENDEE: the last one)
    attendees: dict[str, dict[str, str]]  # mailto address -> the parameters of its ATTENDEE line


def calendar_in(message: EmailMessage) -> Calendar:
    """The one invite.ics of a message, parsed (framing and folding checked)."""
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_filename() == "invite.ics"
    data = parts[0].get_payload(decode=True)
    assert isinstance(data, bytes)
    lines = unfold(data)
    names = [name for name, _, _ in lines]
    assert names[0] == "BEGIN" and names[-1] == "END" and ("BEGIN", {}, "VEVENT") in lines
    attendees = {value.removeprefix("mailto:"): params for name, params, value in lines if name == "ATTENDEE"}
    return Calendar(str(parts[0].get_param("method")), {name: value for name, _, value in lines}, attendees)


def ics_of(row: OutboxMessage) -> Calendar:
    """Render a queued invitation as the mail worker would, and read its .ics."""
    message = render(row.template, language=row.language, context=row.context, sender="Leadline <crm@example.test>",
                     recipient=row.recipient, message_id="<1@example.test>", base_url="http://127.0.0.1:8000",
                     company_name="Example Trading")
    return calendar_in(message)


def invitations(session: Session) -> list[OutboxMessage]:
    rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "event_invitation")
                                .order_by(OutboxMessage.id)))
    session.expunge_all()  # plain copies: reading one later must not begin a transaction the app's writes wait for
    session.rollback()
    return rows


# -- the week and the day ------------------------------------------------------------------------------------

def test_the_week_shows_my_events_and_tasks_in_my_zone_and_nobody_elses(client: Any, session: Session,
                                                                        crew: Crew) -> None:
    late = event(session, crew, "rep", "Late call to Kaohsiung", dt.datetime(2026, 12, 16, 0, 30, tzinfo=TAIPEI),
                 30, kind="call")  # 16:30 UTC on Tuesday the 15th
    event(session, crew, "rep", "Q1 review", dt.datetime(2026, 12, 14, 9, 0, tzinfo=TAIPEI), 90)
    event(session, crew, "rep", "Before the week", dt.datetime(2026, 12, 13, 23, 0, tzinfo=TAIPEI))
    event(session, crew, "rep_c", "Someone else's meeting", dt.datetime(2026, 12, 16, 10, 0, tzinfo=TAIPEI))
    task(session, crew, "rep", "Send the quote", dt.date(2026, 12, 18))
    task(session, crew, "rep_c", "Someone else's task", dt.date(2026, 12, 18))
    staff = signed_in(client, crew, "rep")

    page = staff.get(f"/agenda?view=week&date={WEEK}")
    assert staff.status == 200 and page.title == "Agenda · Leadline"
    assert page.find("nav", class_="mainnav").find("a", **{"aria-current": "page"}).text == "Agenda"
    week = days(page)
    assert list(week) == [f"2026-12-{d}" for d in range(14, 21)]  # Monday first
    assert titles(week["2026-12-16"], "event") == ["Late call to Kaohsiung"]  # 00:30 in Taipei: Wednesday there
    assert titles(week["2026-12-15"], "event") == []
    assert titles(week["2026-12-14"], "event") == ["Q1 review"]
    assert titles(week["2026-12-18"], "task") == ["Send the quote"]
    everything = page.text
    assert "Someone else's" not in everything and "Before the week" not in everything
    placed = week["2026-12-16"].find("li", class_="event")
    assert placed.attrs["data-id"] == str(late) and placed.attrs["data-minute"] == "30"
    assert placed.find(class_="event__time").text == "12:30 AM – 1:00 AM"
    assert placed.find("a").attrs["href"] == f"/agenda/events/{late}"
    assert page.find(class_="agenda-bar__title").text == "Dec 14 – 20, 2026"
    assert page.find("a", rel="prev").attrs["href"] == "/agenda?view=week&date=2026-12-09"
    assert page.find("a", rel="next").attrs["href"] == "/agenda?view=week&date=2026-12-23"

    day = staff.get(f"/agenda?view=day&date={WEEK}")
    assert list(days(day)) == ["2026-12-16"]
    assert day.find(class_="agenda-bar__title").text == "Wednesday, December 16, 2026"

    staff.post("/language", {"language": "zh_Hant", "next": f"/agenda?view=week&date={WEEK}"})
    chinese = days(staff.get(f"/agenda?view=week&date={WEEK}"))
    assert chinese["2026-12-16"].find(class_="event__time").text == "凌晨12:30 – 凌晨1:00"  # CLDR's day periods
    assert chinese["2026-12-16"].find(class_="day__weekday").text == "週三"


def test_without_a_view_the_week_is_shown_with_today_in_focus(client: Any, session: Session, crew: Crew) -> None:
    staff = signed_in(client, crew, "rep")
    page = staff.get("/agenda")
    today = dt.datetime.now(TAIPEI).date()
    week = days(page)
    assert len(week) == 7 and "agenda--auto" in page.find(id="agenda").attrs["class"]
    classes = week[today.isoformat()].attrs["class"].split()
    assert "day--focus" in classes and "day--today" in classes
    assert page.find("a", class_="only-narrow", rel="next").attrs["href"] == \
        f"/agenda?date={(today + dt.timedelta(days=1)).isoformat()}"


def test_a_manager_sees_a_reports_agenda_and_a_rep_nobody_elses(app: Any, client: Any, session: Session,
                                                                 crew: Crew) -> None:
    event(session, crew, "rep", "Rep A's demo", dt.datetime(2026, 12, 16, 2, 0, tzinfo=UTC))
    boss = signed_in(client, crew, "manager")
    page = boss.get(f"/agenda?view=week&date={WEEK}&user={crew.ids['rep']}")
    assert boss.status == 200 and page.find("h1").text == "Agenda of Rep A"
    assert "Rep A's demo" in titles(days(page)["2026-12-16"], "event")
    rep = signed_in(app.test_client(), crew, "rep_c")
    rep.get(f"/agenda?view=week&date={WEEK}&user={crew.ids['rep']}")
    assert rep.status == 404


# -- moving ----------------------------------------------------------------------------------------------------

def test_another_reps_event_is_neither_shown_nor_moved(client: Any, session: Session, crew: Crew) -> None:
    theirs = event(session, crew, "rep_c", "Not yours", dt.datetime(2026, 12, 16, 2, 0, tzinfo=UTC))
    staff = signed_in(client, crew, "rep")
    staff.get(f"/agenda/events/{theirs}")
    assert staff.status == 404
    staff.get(f"/agenda?view=week&date={WEEK}")
    staff.post(f"/agenda/events/{theirs}/move", {"start": "2026-12-17T09:00"},
               headers={"Accept": "application/json"})
    assert staff.status == 404
    row = session.get(Activity, theirs)
    assert row is not None and row.start_at == dt.datetime(2026, 12, 16, 2, 0, tzinfo=UTC)
    session.rollback()


def test_a_drag_moves_an_event_keeping_its_length_and_a_task_to_another_day(client: Any, session: Session,
                                                                              crew: Crew) -> None:
    moved = event(session, crew, "rep", "Site visit", dt.datetime(2026, 12, 14, 10, 0, tzinfo=TAIPEI), 90)
    open_ended = event(session, crew, "rep", "Quick call", dt.datetime(2026, 12, 14, 15, 0, tzinfo=TAIPEI), None,
                       kind="call")
    todo = task(session, crew, "rep", "Prepare samples", dt.date(2026, 12, 15))
    staff = signed_in(client, crew, "rep")
    staff.get(f"/agenda?view=week&date={WEEK}")

    staff.post(f"/agenda/events/{moved}/move", {"start": "2026-12-17T14:15", "view": "week"},
               headers={"Accept": "application/json"})
    assert staff.status == 200
    answer = staff.response.get_json()
    assert answer["ok"] is True and " ".join(answer["time"].split()) == "2:15 PM – 3:45 PM"
    row = session.get(Activity, moved)
    assert row is not None and row.start_at == dt.datetime(2026, 12, 17, 6, 15, tzinfo=UTC)
    assert row.end_at is not None and row.end_at - row.start_at == dt.timedelta(minutes=90)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.module == "activities", AuditEntry.record_id == moved,
                                                     AuditEntry.action == "update")).one()
    assert audit.user_id == crew.ids["rep"]
    assert audit.changes["start_at"] == ["2026-12-14T02:00:00+00:00", "2026-12-17T06:15:00+00:00"]
    session.rollback()

    staff.post(f"/agenda/events/{open_ended}/move", {"start": "2026-12-18T09:00"})  # without script: a redirect
    assert staff.status == 303 and staff.location == "/agenda?date=2026-12-18"
    assert staff.get(staff.location).flashes() == ["Moved to Friday, December 18, 2026, 9:00 AM."]
    row = session.get(Activity, open_ended)
    assert row is not None and row.start_at == dt.datetime(2026, 12, 18, 1, 0, tzinfo=UTC) and row.end_at is None
    session.rollback()

    staff.post(f"/agenda/events/{todo}/move", {"date": "2026-12-19"}, headers={"Accept": "application/json"})
    assert staff.status == 200
    assert session.scalar(select(Activity.due_date).where(Activity.id == todo)) == dt.date(2026, 12, 19)
    session.rollback()

    staff.post(f"/agenda/events/{moved}/move", {"start": "yesterday"}, headers={"Accept": "application/json"})
    assert staff.status == 422 and staff.response.get_json()["error"] == "Drop it on a day and a time."
    staff.post(f"/agenda/events/{moved}/move", {"start": "2026-12-17T09:00"}, csrf=False)
    assert staff.status == 400


def test_the_edit_form_moves_an_event_by_its_date_and_time(client: Any, session: Session, crew: Crew) -> None:
    moved = event(session, crew, "rep", "Pricing call", dt.datetime(2026, 12, 14, 10, 0, tzinfo=TAIPEI), 45)
    staff = signed_in(client, crew, "rep")
    form = staff.get(f"/agenda/events/{moved}")
    assert form.find("input", id="date").attrs["value"] == "2026-12-14"
    assert form.find("input", id="start_time").attrs["value"] == "10:00"
    chosen = [o.attrs["value"] for o in form.find("select", id="duration").all("option") if "selected" in o.attrs]
    assert chosen == ["45"]
    staff.post(f"/agenda/events/{moved}", {"subject": "Pricing call", "date": "2026-12-15", "start_time": "16:30",
                                          "duration": "45", "location": "", "reminder_minutes": "", "description": ""})
    assert staff.status == 303 and staff.location == "/agenda?date=2026-12-15"
    row = session.get(Activity, moved)
    assert row is not None and row.start_at == dt.datetime(2026, 12, 15, 8, 30, tzinfo=UTC)
    assert row.end_at is not None and row.end_at - row.start_at == dt.timedelta(minutes=45)
    session.rollback()


# -- a new event with an invitation ----------------------------------------------------------------------------

def test_a_new_event_invites_its_attendees_with_an_ics_and_a_move_sends_the_revision(client: Any, session: Session,
                                                                                     crew: Crew, app: Any) -> None:
    number = record_of(session, crew, "leads", "rep", "Wang")
    staff = signed_in(client, crew, "rep")
    form = staff.get(f"/agenda/events/new?date={WEEK}&time=09:30")
    assert form.find("input", id="date").attrs["value"] == WEEK
    assert form.find("input", id="start_time").attrs["value"] == "09:30"
    staff.post("/agenda/events/new", {
        "type": "meeting", "subject": "季度檢討 Q1 review", "date": WEEK, "start_time": "00:30", "duration": "60",
        "location": "台北市信義區松仁路 100 號", "related": number.lower(), "reminder_minutes": "15",
        "attendees": "mei@example.com; 陳志明 <chen@example.com>, MEI@example.com", "description": "Agenda: Q1",
    })
    assert staff.status == 303, staff.last.text if staff.last else ""
    assert staff.location == f"/agenda?date={WEEK}"
    assert staff.get(staff.location).flashes() == ["Saved: 季度檢討 Q1 review",
                                                   "The invitation is on its way to 2 people."]
    row = session.scalars(select(Activity).where(Activity.subject == "季度檢討 Q1 review")).one()
    lead_id = session.scalar(select(Lead.id).where(Lead.lead_no == number))
    assert (row.type, row.owner_id, row.lead_id, row.reminder_minutes) == ("meeting", crew.ids["rep"], lead_id, 15)
    assert row.start_at == dt.datetime(2026, 12, 15, 16, 30, tzinfo=UTC)  # 00:30 in Taipei
    event_id = row.id
    session.rollback()

    sent = invitations(session)
    assert sorted(r.recipient for r in sent) == ["chen@example.com", "mei@example.com"]
    chen = next(r for r in sent if r.recipient == "chen@example.com")
    assert chen.recipient_name == "陳志明" and chen.reply_to == "Rep A <a@example.com>"
    ics = ics_of(chen)
    assert ics.method == "REQUEST" and ics.props["METHOD"] == "REQUEST"  # an invitation to answer
    assert ics.props["DTSTART"] == "20261215T163000Z" and ics.props["DTEND"] == "20261215T173000Z"
    assert ics.props["UID"] == f"activity-{event_id}@127.0.0.1" and ics.props["SEQUENCE"] == "0"
    assert ics.props["SUMMARY"] == "季度檢討 Q1 review" and ics.props["LOCATION"] == "台北市信義區松仁路 100 號"
    assert ics.props["ORGANIZER"] == "mailto:a@example.com"
    assert set(ics.attendees) == {"mei@example.com", "chen@example.com"}
    assert ics.attendees["chen@example.com"]["CN"] == '"陳志明"'
    assert {k: ics.attendees["chen@example.com"][k] for k in ("PARTSTAT", "RSVP")} == \
        {"PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
    assert chen.context["related"] is None  # an outside guest is shown no record of the CRM

    staff.get(f"/agenda?view=week&date={WEEK}")
    staff.post(f"/agenda/events/{event_id}/move", {"start": "2026-12-17T10:00"},
               headers={"Accept": "application/json"})
    assert staff.status == 200
    revised = [r for r in invitations(session) if r.id not in {s.id for s in sent}]
    assert sorted(r.recipient for r in revised) == ["chen@example.com", "mei@example.com"]
    again = ics_of(revised[0])
    assert again.method == "REQUEST" and again.props["UID"] == ics.props["UID"] and again.props["SEQUENCE"] == "1"
    assert again.props["DTSTART"] == "20261217T020000Z" and again.props["DTEND"] == "20261217T030000Z"
    form = staff.get(f"/agenda/events/{event_id}")
    assert "mei@example.com" in form.find(class_="invited").text


def body(message: EmailMessage, kind: str) -> str:
    """The text ("plain") or HTML ("html") of a message."""
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def deliver(env: dict[str, str], engine: Any, expected: int) -> dict[str, EmailMessage]:
    """Run the mail worker once against a real SMTP server; return what each recipient received."""
    handler = RecordingHandler()
    with SmtpServer(handler) as server:
        config = load_config({**env, "CRM_SMTP_URL": f"smtp://127.0.0.1:{server.port}"})
        assert send_due(config, engine=engine)["sent"] == expected
    return {r.rcpt_tos[0]: r.message for r in handler.received}


def test_each_guest_gets_a_request_to_answer_by_mail_and_a_move_sends_the_revision(
    env: dict[str, str], engine: Any, session: Session, crew: Crew,
) -> None:
    number = record_of(session, crew, "leads", "rep", "Wang")
    session.execute(update(User).where(User.id == crew.ids["rep_b"]).values(language="zh_Hant"))
    rep = session.get(User, crew.ids["rep"])
    assert rep is not None
    start = dt.datetime(2026, 12, 16, 10, 0, tzinfo=TAIPEI)
    made = agenda.create_event(
        session, rep, {"type": "meeting", "subject": "Pricing review 報價檢討", "start_at": start,
                       "end_at": start + dt.timedelta(minutes=45), "location": "會議室 B"},
        Actor.user(rep.id), related=number, attendees="b@example.com, 陳志明 <chen@example.com>",
        domain="crm.example.test",
    )
    event_id = made.id
    session.commit()
    assert [(r.template, r.recipient) for r in invitations(session)] == [
        ("event_invitation", "b@example.com"), ("event_invitation", "chen@example.com")]

    mail = deliver(env, engine, 2)
    base = load_config(env).base_url
    uid = f"activity-{event_id}@crm.example.test"
    for address, message in mail.items():
        ics = calendar_in(message)
        assert ics.method == "REQUEST" and ics.props["METHOD"] == "REQUEST"
        assert (ics.props["UID"], ics.props["SEQUENCE"]) == (uid, "0")
        assert (ics.props["DTSTART"], ics.props["DTEND"]) == ("20261216T020000Z", "20261216T024500Z")
        assert ics.props["ORGANIZER"] == "mailto:a@example.com"
        assert set(ics.attendees) == {"b@example.com", "chen@example.com"}
        assert (ics.attendees[address]["PARTSTAT"], ics.attendees[address]["RSVP"]) == ("NEEDS-ACTION", "TRUE")
        assert message["Reply-To"].addresses[0].addr_spec == "a@example.com"  # a reply in words goes to the organizer
    assert calendar_in(mail["b@example.com"]).attendees["b@example.com"]["CN"] == '"Rep B"'  # named as a user

    staff = mail["b@example.com"]  # a user, who reads Chinese: the invitation shows the lead, linked
    assert str(staff["Subject"]).startswith("邀請：Pricing review 報價檢討（")
    staff_text, staff_page = body(staff, "plain"), MailPage(body(staff, "html"))
    assert "邀請您參加以下會議" in staff_text and "陳志明 <chen@example.com>" in staff_text
    assert f"{base}/leads/{number}" in staff_page.hrefs and "Wang" in staff_page.text
    guest = mail["chen@example.com"]  # an outside guest, in the company's language: no link into the CRM
    assert str(guest["Subject"]).startswith("Invitation: Pricing review 報價檢討 — ")
    guest_page = MailPage(body(guest, "html"))
    assert "Hi 陳志明," in body(guest, "plain") and "You are invited to this meeting:" in guest_page.text
    assert not any(h.startswith(base) for h in guest_page.hrefs) and number not in guest_page.text

    agenda.move_event(session, rep, event_id, dt.datetime(2026, 12, 17, 14, 0, tzinfo=TAIPEI), Actor.user(rep.id),
                      domain="crm.example.test")  # what a drag on the agenda does
    session.commit()
    revised = deliver(env, engine, 2)
    assert set(revised) == {"b@example.com", "chen@example.com"}
    for message in revised.values():
        ics = calendar_in(message)
        assert (ics.method, ics.props["UID"], ics.props["SEQUENCE"]) == ("REQUEST", uid, "1")
        assert (ics.props["DTSTART"], ics.props["DTEND"]) == ("20261217T060000Z", "20261217T064500Z")
    assert str(revised["b@example.com"]["Subject"]).startswith("邀請已更新：Pricing review 報價檢討（")
    assert str(revised["chen@example.com"]["Subject"]).startswith("Updated invitation: Pricing review 報價檢討 — ")
    assert "has changed" in body(revised["chen@example.com"], "plain")


def test_bad_input_is_shown_beside_its_field(client: Any, session: Session, crew: Crew) -> None:
    record_of(session, crew, "leads", "rep_c", "Not mine")
    staff = signed_in(client, crew, "rep")
    good = {"type": "meeting", "subject": "Demo", "date": WEEK, "start_time": "10:00", "duration": "30",
            "location": "", "related": "", "reminder_minutes": "", "attendees": "", "description": ""}
    staff.get("/agenda/events/new")
    page = staff.post("/agenda/events/new", {**good, "subject": "", "start_time": "25:99", "date": "16/12/2026"})
    assert staff.status == 422
    assert page.field_error("subject") == "This field is required."
    assert page.field_error("start_time") == "Enter a time like 14:30."
    assert page.field_error("date") == "Enter a date like 2026-03-14."
    page = staff.post("/agenda/events/new", {**good, "attendees": "mei@example.com, not an address"})
    assert staff.status == 422 and "not an address" in page.field_error("attendees")
    page = staff.post("/agenda/events/new", {**good, "related": "LEA999999"})
    assert staff.status == 422 and page.field_error("related") == "No record LEA999999 that you may see."
    page = staff.post("/agenda/events/new", {**good, "start_time": ""})
    assert staff.status == 422 and page.field_error("start_time") == "Enter the time it starts."
    assert session.scalar(select(Activity.id).where(Activity.subject == "Demo")) is None
    assert invitations(session) == []

    staff.post("/language", {"language": "zh_Hant", "next": "/agenda/events/new"})
    staff.get("/agenda/events/new")
    page = staff.post("/agenda/events/new", {**good, "related": "LEA999999"})
    assert page.field_error("related") == "找不到您可查看的記錄 LEA999999。"
