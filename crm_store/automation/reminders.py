"""Reminders: an event's when its window has come, a memo note's when its remind-at has come; one email each, once.

Events: activities with a `start_at` and `reminder_minutes`, not completed or deleted, not reminded yet. One is due
when `start_at - reminder_minutes <= as_of`, in exact minutes (24 * 60 is 24 hours, also across a change of the
clocks: a 09:00 event the morning after is reminded at 08:00 local the day before, as calendars do). It is
reminded until `LATE` (15 minutes) after it started, so a reminder set to 0 minutes, or one a run missed, still
goes out on the next run of the five-minute schedule; an event that started longer ago is marked reminded without
mail (counted `too_late`), so a run after an outage sends nothing stale and the partial index holds only what is
to come. Its owner gets `event_reminder` with the event's invite.ics (published, with the UID and the last
sequence of its invitations), and so does each invitee who is an active user (`staff.invitations` keeps who was
invited); guests outside the CRM are not mailed: their calendars remind them of the invitation they accepted,
and a CRM does not write to customers on its own. Times are in each recipient's language and zone, with the
zone's abbreviation of that moment (EDT, CET).

Memos: notes with `remind_at <= as_of`, not reminded (nor dismissed on My day) and not deleted: their author
gets `memo_reminder`, however late (a memo is about its note, not about a moment that passed). A memo whose
record is in the recycle bin waits: reminded if the record is restored, gone when it is purged. A memo with no
author, or an inactive one, is marked without mail.

Tasks carry only a due date: they are in the daily digest, not reminded here.

Once, also with two runs at the same time: each row is claimed by a conditional UPDATE (`reminder_sent_at` /
`reminded_at` still empty), and only the run whose UPDATE changed it writes the mail; each mail has an
idempotency key (the event and its start, or the memo and its remind-at, and the recipient), so the outbox
refuses a second copy. Rows are read through the partial indexes `ix_activities_reminder_due` and
`ix_notes_remind_due`, in chunks of `CHUNK`, each in its own transaction.

Counted: `events` (events reminded), `memos` (memos reminded), `too_late` (events past, marked without mail).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_store import languages
from crm_store.automation.runs import CHUNK, Outcome
from crm_store.automation.sla_escalation import Staff, shown_time
from crm_store.mail import outbox
from crm_store.models import Activity, Note
from crm_store.records import registry
from crm_store.records.record_page import title_of
from crm_store.settings import company
from crm_store.staff import invitations

LATE = dt.timedelta(minutes=15)  # how long after its start an event is still reminded: three five-minute runs
# the record a reminder links to: the first found (a memo is on one record: a product or sales document too)
LINKS = ("lead_id", "opportunity_id", "contact_id", "account_id", "quote_id", "sales_order_id", "invoice_id",
         "product_id")
COUNTED = ("events", "memos", "too_late")
S = TypeVar("S", bound=Select[Any])
Cursor = tuple[Any, int]  # keyset paging: the (moment, id) of the last row read


def event_due() -> list[ColumnElement[bool]]:
    """The condition of `ix_activities_reminder_due`, term by term (SQLite uses a partial index only so)."""
    return [Activity.reminder_minutes.is_not(None), Activity.reminder_sent_at.is_(None), Activity.start_at.is_not(None)]


# -- the job --------------------------------------------------------------------------------------------

def reminders(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The reminders job: the events and memos whose time has come get their email, each once."""
    from crm_store.config import load_config

    domain = urlsplit(load_config().base_url).hostname or outbox.DEFAULT_DOMAIN
    remind(factory, as_of, outcome, domain=domain)


def remind(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome, *, domain: str) -> None:
    """Mark the events past reminding, then remind the events and memos due (`domain`: the events' UIDs')."""
    for name in COUNTED:
        outcome.add(name, 0)
    with factory() as session:
        people = People.load(session)
    _mark_past(factory, as_of, outcome)
    _remind_events(factory, people, as_of, outcome, domain)
    _remind_memos(factory, people, as_of, outcome)


@dataclass(frozen=True)
class People:
    """Who may be written to, by id and by address, and the company's zone (for those without their own)."""

    staff: Staff
    by_email: dict[str, Any]
    zone: zoneinfo.ZoneInfo

    @classmethod
    def load(cls, session: Session) -> People:
        """Read the users and the company's zone."""
        staff = Staff.load(session)
        by_email = {u.email.lower(): u for u in staff.users.values() if u.active}
        return cls(staff, by_email, company.zone(session))

    def zone_of(self, user: Any) -> zoneinfo.ZoneInfo:
        """The zone a user reads times in: their own, else the company's."""
        return zoneinfo.ZoneInfo(user.time_zone) if user.time_zone else self.zone


# -- events ---------------------------------------------------------------------------------------------

def past_events(as_of: dt.datetime, after: Cursor | None = None) -> Select[*tuple[Any, ...]]:
    """Events with a reminder not sent that started more than `LATE` before `as_of`, in (start_at, id) order."""
    stmt = (select(Activity.id, Activity.start_at, Activity.completed_at, Activity.deleted_at)
            .where(*event_due(), Activity.start_at < as_of - LATE)
            .order_by(Activity.start_at, Activity.id).limit(CHUNK))
    return _after(stmt, Activity.start_at, Activity.id, after)


def coming_events(
    as_of: dt.datetime, horizon: int, after: Cursor | None = None
) -> Select[Activity]:
    """Events with a reminder not sent starting from `LATE` before `as_of` to `horizon` minutes after it."""
    stmt = (select(Activity)
            .where(*event_due(), Activity.start_at >= as_of - LATE,
                   Activity.start_at <= as_of + dt.timedelta(minutes=horizon))
            .order_by(Activity.start_at, Activity.id).limit(CHUNK))
    return _after(stmt, Activity.start_at, Activity.id, after)


def _mark_past(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """Mark reminded, without mail, the events whose time to remind has passed (deleted or completed ones too)."""
    after = None
    while True:
        with factory.begin() as session:
            rows = session.execute(past_events(as_of, after)).all()
            claimed = _claim_events(session, [row.id for row in rows], as_of)
            outcome.add("too_late", sum(1 for row in rows if row.id in claimed and row.completed_at is None
                                        and row.deleted_at is None))
        if len(rows) < CHUNK:
            return
        after = (rows[-1].start_at, rows[-1].id)


def _remind_events(
    factory: sessionmaker[Session], people: People, as_of: dt.datetime, outcome: Outcome, domain: str
) -> None:
    with factory() as session:
        horizon = session.scalar(select(func.max(Activity.reminder_minutes)).where(*event_due()))
    if horizon is None:
        return
    after = None
    while True:
        with factory.begin() as session:
            events = session.scalars(coming_events(as_of, horizon, after)).all()
            due = [e for e in events if e.completed_at is None and e.deleted_at is None
                   and e.start_at is not None and e.reminder_minutes is not None
                   and e.start_at - dt.timedelta(minutes=e.reminder_minutes) <= as_of]
            claimed = _claim_events(session, [e.id for e in due], as_of)
            won = [e for e in due if e.id in claimed]
            refs = references(session, won)
            messages = [_event_messages(session, people, e, refs.get(e.id), domain) for e in won]
            outbox.enqueue_many(session, [m for found in messages for m in found])
            outcome.add("events", sum(1 for found in messages if found))
        if len(events) < CHUNK:
            return
        after = (events[-1].start_at, events[-1].id)


def _claim_events(session: Session, ids: Sequence[int], as_of: dt.datetime) -> set[int]:
    """Mark events reminded unless a run did before; return the ids this run marked."""
    if not ids:
        return set()
    marked = session.scalars(
        update(Activity).where(Activity.id.in_(ids), Activity.reminder_sent_at.is_(None))
        .values(reminder_sent_at=as_of, updated_at=Activity.updated_at)  # a reminder sent is not an edit
        .returning(Activity.id).execution_options(synchronize_session=False)
    )
    return set(marked)


def _event_messages(
    session: Session, people: People, event: Activity, related: dict[str, Any] | None, domain: str
) -> list[dict[str, Any]]:
    """The outbox rows of an event's reminder: to its owner and to each invitee who is an active user."""
    assert event.start_at is not None  # noqa: S101 - event_due() holds it
    guests, sequence = invitations.attendees_of(session, event.id)
    owner = people.staff.users.get(event.owner_id)
    recipients = {user.id: user for user in [people.staff.active(event.owner_id), *_users_among(people, guests)]
                  if user is not None}
    end = event.end_at if event.end_at and event.end_at > event.start_at else \
        event.start_at + dt.timedelta(minutes=invitations.DEFAULT_MINUTES)
    shared = {
        "kind": event.type, "subject": event.subject, "location": event.location, "description": event.description,
        "organizer": outbox.mailbox("organizer", formataddr((owner.name, owner.email))) if owner else None,
        "related": related, "event_uid": invitations.event_uid(event.id, domain), "event_sequence": sequence,
        "event_start_utc": event.start_at.astimezone(dt.UTC).isoformat(),
        "event_end_utc": end.astimezone(dt.UTC).isoformat(),
    }
    messages = []
    for user in recipients.values():
        zone = people.zone_of(user)
        context = {**shared, "recipient_name": user.name, "time_zone": invitations.zone_label(zone, event.start_at),
                   "start": when(event.start_at, user.language, zone), "end": when(end, user.language, zone)}
        key = f"reminder:event:{event.id}:{event.start_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}:{user.id}"
        messages.append(outbox.message_values("event_reminder", user.email, key=key, context=context,
                                              language=user.language, recipient_name=user.name, to_staff=True))
    return messages


def _users_among(people: People, guests: Iterable[str]) -> list[Any]:
    """The active users among an event's invitees (by address); outside guests are left out."""
    found = (people.by_email.get(parseaddr(guest)[1].lower()) for guest in guests)
    return [user for user in found if user is not None]


def when(moment: dt.datetime, language: str, zone: zoneinfo.ZoneInfo) -> str:
    """An event's time as its reminder shows it: the day in full, the time, the zone's abbreviation then (EDT)."""
    return f"{languages.format_datetime(moment, language, zone, 'full')} {moment.astimezone(zone).tzname()}"


# -- memos ----------------------------------------------------------------------------------------------

def due_memos(as_of: dt.datetime, after: Cursor | None = None) -> Select[Note]:
    """Notes whose remind-at has come and that were not reminded, in (remind_at, id) order after `after`."""
    stmt = (select(Note).where(Note.reminded_at.is_(None), Note.remind_at <= as_of)
            .order_by(Note.remind_at, Note.id).limit(CHUNK))
    return _after(stmt, Note.remind_at, Note.id, after)


def _remind_memos(factory: sessionmaker[Session], people: People, as_of: dt.datetime, outcome: Outcome) -> None:
    after = None
    while True:
        with factory.begin() as session:
            notes = session.scalars(due_memos(as_of, after)).all()
            live = [n for n in notes if n.deleted_at is None]
            refs = references(session, live)
            claimed = _claim_memos(session, [n.id for n in live if n.id in refs], as_of)
            messages = [_memo_message(people, n, refs[n.id]) for n in live if n.id in claimed]
            outbox.enqueue_many(session, [m for m in messages if m is not None])
            outcome.add("memos", sum(1 for m in messages if m is not None))
        if len(notes) < CHUNK:
            return
        after = (notes[-1].remind_at, notes[-1].id)


def _claim_memos(session: Session, ids: Sequence[int], as_of: dt.datetime) -> set[int]:
    """Mark memos reminded unless a run (or their author, on My day) did before; return the ids this run marked."""
    if not ids:
        return set()
    marked = session.scalars(
        update(Note).where(Note.id.in_(ids), Note.reminded_at.is_(None))
        .values(reminded_at=as_of, updated_at=Note.updated_at)  # a reminder sent is not an edit of the note
        .returning(Note.id).execution_options(synchronize_session=False)
    )
    return set(marked)


def _memo_message(people: People, note: Note, related: dict[str, Any]) -> dict[str, Any] | None:
    """The outbox row of a memo's reminder to its author; None when there is nobody to write to."""
    author = people.staff.active(note.author_id)
    if author is None or note.remind_at is None:
        return None
    context = {"recipient_name": author.name, "note": note.body, "written_by": author.name,
               "written_at": shown_time(note.created_at, author, people.zone), "related": related}
    key = f"reminder:memo:{note.id}:{note.remind_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    return outbox.message_values("memo_reminder", author.email, key=key, context=context, language=author.language,
                                 recipient_name=author.name, to_staff=True)


# -- shared ---------------------------------------------------------------------------------------------

def references(session: Session, rows: Sequence[Activity | Note]) -> dict[int, dict[str, Any]]:
    """The record each activity or note is about, as mail links to it ({module, number, name}), by the row's id;
    rows whose records are all deleted (in the recycle bin) are left out. One query per kind of record."""
    by_column = {m.link_column: m for m in registry.modules() if m.link_column in LINKS}
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for column, spec in by_column.items():
        ids = {getattr(row, column) for row in rows} - {None}
        if ids:
            model = spec.model
            for record in session.scalars(select(model).where(model.id.in_(ids), model.deleted_at.is_(None))):
                found[(column, record.id)] = {"module": spec.path, "number": getattr(record, spec.number_field),
                                              "name": title_of(spec.name, record)}
    refs = {}
    for row in rows:
        ref = next((found[(c, getattr(row, c))] for c in LINKS if (c, getattr(row, c)) in found), None)
        if ref is not None:
            refs[row.id] = ref
    return refs


def _after(stmt: S, moment: Any, key: Any, after: Cursor | None) -> S:
    """Keyset paging: the rows after (moment, id) `after`."""
    if after is None:
        return stmt
    return stmt.where(or_(moment > after[0], and_(moment == after[0], key > after[1])))
