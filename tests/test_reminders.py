"""reminders: an event's reminder when its window has come (with its invite.ics), a memo's when its remind-at has
come; each once — on a rerun, across a change of the clocks, and with two runs at the same time."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import threading
import zoneinfo
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation import reminders
from crm_store.automation.runs import Outcome
from crm_store.config import load_config
from crm_store.db.engine import session_factory
from crm_store.models import Activity, Lead, Note, OutboxMessage, User
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import agenda
from crm_store.staff.users import add_user
from emails.worker import send_all_due
from flows import catalog
from tests.test_flows import runs_of

UTC = dt.UTC
NEW_YORK, BERLIN, TAIPEI = (zoneinfo.ZoneInfo(z) for z in ("America/New_York", "Europe/Berlin", "Asia/Taipei"))
NBSP = "\u202f"  # CLDR's narrow space before AM/PM
HOST = "crm.goodfortune.example"
START = dt.datetime(2026, 6, 16, 14, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


@pytest.fixture
def people(session: Session, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A New York company at https://crm.goodfortune.example: an owner (English, the company's zone), a colleague
    (Chinese, Taipei), a lead of the owner's."""
    monkeypatch.setenv("CRM_BASE_URL", f"https://{HOST}")
    company.set_value(session, "time_zone", "America/New_York")
    owner = add_user(session, "olivia@example.com", "Olivia Owner", welcome=False)
    colleague = add_user(session, "mei@example.com", "林美玲", language="zh_Hant", time_zone="Asia/Taipei",
                         welcome=False)
    lead = records.create_lead(session, {"first_name": "Mei", "last_name": "Chen", "company": "Formosa Tea",
                                         "owner_id": owner.id})
    session.commit()
    return {"owner": owner, "colleague": colleague, "lead": lead}


def meeting(session: Session, owner: User, start: dt.datetime = START, *, minutes: int | None = 30,
            attendees: list[str] | None = None, related: str | None = None, **values: Any) -> Activity:
    """A one-hour meeting on the owner's agenda, as the agenda page adds it (inviting `attendees`)."""
    found = agenda.create_event(session, owner, {
        "type": "meeting", "subject": "Q1 review 季度檢討", "start_at": start, "end_at": start + dt.timedelta(hours=1),
        "reminder_minutes": minutes, "location": "Room B", **values,
    }, Actor.user(owner.id), related=related, attendees=attendees, domain=HOST)
    session.commit()
    return found


def run(session: Session, engine: Engine, as_of: dt.datetime) -> dict[str, int]:
    session.commit()
    outcome = Outcome()
    reminders.reminders(session_factory(engine), as_of, outcome)
    session.expire_all()
    assert not outcome.errors
    return outcome.counts


def mails(session: Session, template: str) -> list[OutboxMessage]:
    found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                                 .order_by(OutboxMessage.id)))
    session.commit()
    return found


def delivered(session: Session, env: dict[str, str], template: str) -> list[EmailMessage]:
    """Deliver what is queued (to .eml files, as with no relay) and read back the messages of a template."""
    session.commit()  # on SQLite a transaction left open holds the write lock the mail worker needs
    send_all_due(load_config())
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(Path(env["CRM_DATA_DIR"], "outbox").glob(f"*-{template}.eml"))]


def calendar_of(message: EmailMessage) -> dict[str, str]:
    """The properties of the message's invite.ics (one event), unfolded, by name."""
    (invite,) = [part for part in message.iter_attachments() if part.get_filename() == "invite.ics"]
    assert invite.get_content_type() == "text/calendar" and invite.get_param("method") == "PUBLISH"
    raw = invite.get_payload(decode=True).decode()  # type: ignore[union-attr]
    lines = raw.replace("\r\n ", "").split("\r\n")
    return {line.split(":", 1)[0].split(";")[0]: line.split(":", 1)[1] for line in lines if ":" in line}


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()


# -- an event's window --------------------------------------------------------------------------------------

def test_an_event_is_reminded_once_when_its_window_has_come(
    session: Session, engine: Engine, env: dict[str, str], people: dict[str, Any]
) -> None:
    owner, lead = people["owner"], people["lead"]
    found = meeting(session, owner, related=lead.lead_no, description="Bring the samples\n帶上樣品目錄")
    assert run(session, engine, START - dt.timedelta(minutes=31)) == {"events": 0, "memos": 0, "too_late": 0}
    assert mails(session, "event_reminder") == []

    assert run(session, engine, START - dt.timedelta(minutes=30))["events"] == 1
    (row,) = mails(session, "event_reminder")
    assert (row.recipient, row.recipient_name, row.language, row.to_staff) == (
        "olivia@example.com", "Olivia Owner", "en", True)
    assert row.context["start"] == f"Tuesday, June 16, 2026, 10:00{NBSP}AM EDT"
    assert row.context["time_zone"] == "America/New_York (UTC-4)"
    assert row.context["related"] == {"module": "leads", "number": lead.lead_no, "name": "Mei Chen"}
    assert session.get(Activity, found.id).reminder_sent_at == START - dt.timedelta(minutes=30)  # type: ignore[union-attr]

    (message,) = delivered(session, env, "event_reminder")
    assert str(message["Subject"]) == f"Meeting reminder: Q1 review 季度檢討, Tuesday, June 16, 2026, 10:00{NBSP}AM EDT"
    assert f"https://{HOST}/leads/{lead.lead_no}" in text_of(message)
    ics = calendar_of(message)
    assert ics["METHOD"] == "PUBLISH" and "ATTENDEE" not in ics
    assert (ics["UID"], ics["SEQUENCE"]) == (f"activity-{found.id}@{HOST}", "0")
    assert (ics["DTSTART"], ics["DTEND"]) == ("20260616T140000Z", "20260616T150000Z")
    assert (ics["SUMMARY"], ics["LOCATION"]) == ("Q1 review 季度檢討", "Room B")
    assert ics["DESCRIPTION"] == "Bring the samples\\n帶上樣品目錄"
    assert ics["ORGANIZER"] == "mailto:olivia@example.com"

    for later in (START - dt.timedelta(minutes=30), START - dt.timedelta(minutes=10)):
        assert run(session, engine, later) == {"events": 0, "memos": 0, "too_late": 0}
    assert len(mails(session, "event_reminder")) == 1


def test_an_event_moved_after_its_reminder_is_reminded_again_for_its_new_time(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    found = meeting(session, owner)
    assert run(session, engine, START - dt.timedelta(minutes=30))["events"] == 1
    later = START + dt.timedelta(days=1)
    agenda.move_event(session, owner, found.id, later, Actor.user(owner.id), domain=HOST)
    session.commit()
    assert session.get(Activity, found.id).reminder_sent_at is None  # type: ignore[union-attr]
    assert run(session, engine, START)["events"] == 0  # not at the old time
    assert run(session, engine, later - dt.timedelta(minutes=30))["events"] == 1
    agenda.change_event(session, owner, found.id, {"subject": "Q1 review, room changed"}, Actor.user(owner.id),
                        domain=HOST)
    session.commit()  # a change of subject alone: the reminder for this time was sent already
    assert run(session, engine, later - dt.timedelta(minutes=20))["events"] == 0
    assert [m.context["start"] for m in mails(session, "event_reminder")] == [
        f"Tuesday, June 16, 2026, 10:00{NBSP}AM EDT", f"Wednesday, June 17, 2026, 10:00{NBSP}AM EDT"]


def test_a_second_run_for_the_same_as_of_writes_nothing(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    meeting(session, people["owner"])
    note = activities.add_note(session, "Call back about the quote", Actor.user(people["owner"].id),
                               remind_at=START, lead_id=people["lead"].id)
    meeting(session, people["owner"], START - dt.timedelta(hours=2))  # past reminding: marked
    assert note.id is not None
    assert run(session, engine, START) == {"events": 1, "memos": 1, "too_late": 1}
    writes: list[str] = []

    def spy(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE") and cursor.rowcount > 0:
            writes.append(statement)

    event.listen(engine, "after_cursor_execute", spy)
    try:
        assert run(session, engine, START) == {"events": 0, "memos": 0, "too_late": 0}
    finally:
        event.remove(engine, "after_cursor_execute", spy)
    assert writes == []


@pytest.mark.parametrize(("zone", "local_start", "fires_at", "language", "shown"), [
    # The US springs forward on Sunday 8 March 2026 at 02:00: a day before 09:00 EDT is 08:00 EST.
    (NEW_YORK, dt.datetime(2026, 3, 8, 9, 0), dt.datetime(2026, 3, 7, 13, 0, tzinfo=UTC), "en",
     f"Sunday, March 8, 2026, 9:00{NBSP}AM EDT"),
    # Germany falls back on Sunday 25 October 2026 at 03:00: a day before 09:00 CET is 10:00 CEST.
    (BERLIN, dt.datetime(2026, 10, 25, 9, 0), dt.datetime(2026, 10, 24, 8, 0, tzinfo=UTC), "zh_Hant",
     "2026年10月25日 星期日 上午9:00 CET"),
])
def test_a_day_ahead_reminder_across_a_change_of_the_clocks(
    session: Session, engine: Engine, env: dict[str, str], people: dict[str, Any], zone: zoneinfo.ZoneInfo,
    local_start: dt.datetime, fires_at: dt.datetime, language: str, shown: str,
) -> None:
    """A reminder 24 * 60 minutes ahead fires 24 hours before, in UTC; the mail shows 09:00 local with the
    abbreviation of the event's moment, not of the moment it was sent."""
    company.set_value(session, "time_zone", zone.key)
    owner = people["owner"]
    owner.language = language
    start = local_start.replace(tzinfo=zone).astimezone(UTC)
    meeting(session, owner, start, minutes=24 * 60)
    assert run(session, engine, fires_at - dt.timedelta(minutes=1))["events"] == 0
    assert run(session, engine, fires_at)["events"] == 1
    (row,) = mails(session, "event_reminder")
    assert row.context["start"] == shown
    assert fires_at.astimezone(zone).tzname() != start.astimezone(zone).tzname()  # sent in the other time
    (message,) = delivered(session, env, "event_reminder")
    assert shown in text_of(message)
    assert calendar_of(message)["DTSTART"] == start.strftime("%Y%m%dT%H%M%SZ")


def test_invitees_who_are_users_are_reminded_in_their_language_and_zone(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    found = meeting(session, owner, attendees=["林美玲 <MEI@example.com>", "buyer@formosa-tea.example",
                                                "olivia@example.com"])
    agenda.change_event(session, owner, found.id, {"location": "Room C"}, Actor.user(owner.id), domain=HOST)
    session.commit()  # the invitation's second revision
    assert run(session, engine, START - dt.timedelta(minutes=20))["events"] == 1
    rows = {m.recipient: m for m in mails(session, "event_reminder")}
    assert set(rows) == {"olivia@example.com", "mei@example.com"}  # the outside guest's calendar reminds them
    mei = rows["mei@example.com"]
    assert (mei.language, mei.recipient_name) == ("zh_Hant", "林美玲")
    assert mei.context["start"] == "2026年6月16日 星期二 晚上10:00 CST"
    assert mei.context["time_zone"] == "Asia/Taipei (UTC+8)"
    assert mei.context["event_sequence"] == rows["olivia@example.com"].context["event_sequence"] == 1
    assert mei.context["location"] == "Room C"


def test_an_event_a_run_reaches_late_is_reminded_until_a_quarter_hour_after_its_start(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    at_start = meeting(session, people["owner"], START, minutes=0)
    missed = meeting(session, people["owner"], START - dt.timedelta(minutes=16), minutes=60)
    counts = run(session, engine, START + dt.timedelta(minutes=14))
    assert counts == {"events": 1, "memos": 0, "too_late": 1}
    assert [m.context["event_uid"] for m in mails(session, "event_reminder")] == [f"activity-{at_start.id}@{HOST}"]
    assert session.get(Activity, missed.id).reminder_sent_at is not None  # type: ignore[union-attr]


def test_deleted_completed_and_ownerless_events_and_tasks_are_not_reminded(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    deleted = meeting(session, owner)
    deleted.deleted_at = START - dt.timedelta(days=1)
    held = meeting(session, owner)
    activities.complete_activity(session, held, Actor.user(owner.id), at=START - dt.timedelta(days=1))
    gone = add_user(session, "gone@example.com", "Gone", welcome=False)
    meeting(session, gone)
    gone.active = False
    activities.create_activity(session, {"type": "task", "subject": "Send the quote", "due_date": START.date(),
                                         "reminder_minutes": 30}, Actor.user(owner.id))
    counts = run(session, engine, START - dt.timedelta(minutes=5))
    assert counts["events"] == 0 and mails(session, "event_reminder") == []
    assert session.get(Activity, deleted.id).reminder_sent_at is None  # type: ignore[union-attr]  # restorable
    run(session, engine, START + dt.timedelta(hours=1))  # once past, every one is marked: the index stays small
    left = session.scalars(select(Activity.id).where(*reminders.event_due())).all()
    assert left == [] and mails(session, "event_reminder") == []


# -- memos --------------------------------------------------------------------------------------------------

def test_a_memo_is_reminded_to_its_author_once(
    session: Session, engine: Engine, env: dict[str, str], people: dict[str, Any]
) -> None:
    colleague, lead = people["colleague"], people["lead"]
    written = START - dt.timedelta(days=3)
    note = activities.add_note(session, "客戶下個月重新審核預算。\nAsk about the budget.", Actor.user(colleague.id),
                               remind_at=START, at=written, lead_id=lead.id)
    dismissed = activities.add_note(session, "Seen on My day", Actor.user(colleague.id), remind_at=START,
                                    lead_id=lead.id)
    dismissed.reminded_at = START - dt.timedelta(hours=1)
    removed = activities.add_note(session, "Deleted", Actor.user(colleague.id), remind_at=START, lead_id=lead.id)
    removed.deleted_at = START - dt.timedelta(hours=1)
    assert run(session, engine, START - dt.timedelta(minutes=1))["memos"] == 0
    assert run(session, engine, START)["memos"] == 1
    (row,) = mails(session, "memo_reminder")
    assert (row.recipient, row.language) == ("mei@example.com", "zh_Hant")
    assert row.context == {
        "recipient_name": "林美玲", "note": "客戶下個月重新審核預算。\nAsk about the budget.", "written_by": "林美玲",
        "written_at": "2026年6月13日 晚上10:00 CST",  # in her zone and language
        "related": {"module": "leads", "number": lead.lead_no, "name": "Mei Chen"},
    }
    assert session.get(Note, note.id).reminded_at == START  # type: ignore[union-attr]
    assert run(session, engine, START + dt.timedelta(days=1))["memos"] == 0
    (message,) = delivered(session, env, "memo_reminder")
    assert "Ask about the budget." in text_of(message) and f"https://{HOST}/leads/{lead.lead_no}" in text_of(message)


def test_a_memo_on_a_record_in_the_recycle_bin_waits_for_its_restore(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    owner, lead = people["owner"], people["lead"]
    activities.add_note(session, "Follow up", Actor.user(owner.id), remind_at=START, lead_id=lead.id)
    records.delete(session, lead)
    assert run(session, engine, START)["memos"] == 0
    records.restore(session, session.get(Lead, lead.id))
    assert run(session, engine, START + dt.timedelta(hours=1))["memos"] == 1
    assert [m.recipient for m in mails(session, "memo_reminder")] == ["olivia@example.com"]


# -- the indexes, and runs that meet ------------------------------------------------------------------------

def test_the_reads_go_through_the_partial_indexes(session: Session, engine: Engine, backend: str) -> None:
    after = (START, 7)
    for stmt, index in ((reminders.past_events(START, after), "ix_activities_reminder_due"),
                        (reminders.coming_events(START, 60, after), "ix_activities_reminder_due"),
                        (reminders.due_memos(START, after), "ix_notes_remind_due")):
        sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        if backend == "sqlite":
            plan = " ".join(str(row[-1]) for row in session.execute(text(f"explain query plan {sql}")))
        else:
            session.execute(text("set local enable_seqscan = off"))  # an empty table is read whole otherwise
            plan = " ".join(row[0] for row in session.execute(text(f"explain {sql}")))
        assert index in plan, plan
    session.rollback()


def test_two_runs_at_the_same_time_send_one_mail_each(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    owner, colleague, lead = people["owner"], people["colleague"], people["lead"]
    for n in range(6):
        meeting(session, owner, START + dt.timedelta(minutes=n), attendees=[colleague.email])
        activities.add_note(session, f"Memo {n}", Actor.user(owner.id), remind_at=START, lead_id=lead.id)
    session.commit()
    factory, start = session_factory(engine), threading.Barrier(2)
    outcomes, failures = [Outcome(), Outcome()], []

    def one(outcome: Outcome) -> None:
        try:
            start.wait()
            reminders.reminders(factory, START, outcome)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(o,)) for o in outcomes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(o.counts["events"] for o in outcomes) == 6 and sum(o.counts["memos"] for o in outcomes) == 6
    events = [(m.context["event_uid"], m.recipient) for m in mails(session, "event_reminder")]
    assert len(events) == len(set(events)) == 12
    memos = [m.context["note"] for m in mails(session, "memo_reminder")]
    assert sorted(memos) == [f"Memo {n}" for n in range(6)]


def test_a_run_that_read_before_another_claimed_sends_nothing(
    session: Session, engine: Engine, people: dict[str, Any]
) -> None:
    meeting(session, people["owner"])
    factory = session_factory(engine)
    with factory() as reader:
        stale = reader.scalars(reminders.coming_events(START, 60)).all()
        reader.expunge_all()
    assert len(stale) == 1
    run(session, engine, START - dt.timedelta(minutes=30))  # another run claims it first
    with factory.begin() as late:
        assert reminders._claim_events(late, [e.id for e in stale], START) == set()
    session.execute(update(Activity).values(reminder_sent_at=None))  # even unclaimed, the outbox refuses a copy
    session.commit()
    run(session, engine, START - dt.timedelta(minutes=30))
    assert len(mails(session, "event_reminder")) == 1


# -- under Prefect ------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("prefect_api")
def test_the_flow_runs_for_real_under_prefect(session: Session, people: dict[str, Any]) -> None:
    meeting(session, people["owner"])
    state = catalog.flow("reminders")(as_of=(START - dt.timedelta(minutes=30)).isoformat(), return_state=True)
    assert state.is_completed(), state.message
    (found,) = runs_of(session, "reminders")
    assert (found.status, found.trigger, found.counts) == ("completed", "prefect",
                                                           {"events": 1, "memos": 0, "too_late": 0})
    assert state.result()["counts"] == found.counts
    assert [m.recipient for m in mails(session, "event_reminder")] == ["olivia@example.com"]
