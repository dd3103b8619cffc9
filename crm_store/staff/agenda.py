"""The agenda: a user's calls and meetings by the hour and their tasks by the day, for a day or a week, in
their own time zone (else the company's); weeks start on Monday. Create an event, move one (keeping its
length; a task moves to another day), change one: each write is validated as a new activity is
(`crm_store.pipeline.activities.clean_activity`) and written to the audit trail under the module
"activities"; an event with attendees sends them the invitation again, revised (`crm_store.staff.invitations`).

Events are read by `ix_activities_owner_start` (owner, start), tasks by `ix_activities_owner_open` (owner,
completed_at, due date): open ones due in the range, and those completed in it. A user sees their own agenda,
or that of an owner in their scope (a manager's reports); another user's event is not found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation.calendar import WorkingCalendar
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Activity, User, utcnow
from crm_store.pipeline import activities
from crm_store.records import audit, registry
from crm_store.settings import company, picklists
from crm_store.staff import invitations
from crm_store.staff import scope as scoping
from crm_store.staff.my_day import LINKS, RecordRef
from crm_store.staff.my_day import _records as records_of  # the records rows are about, one query per module

EVENTS = ("call", "meeting")
LIMIT = 500  # events or tasks read for one range; a week with more is not a calendar anyone reads
DEFAULT_MINUTES = 30  # how long an event without an end is drawn (and invited to)
LONGEST_MINUTES = 24 * 60
VIEWS = ("day", "week")
EDITABLE = ("subject", "start_at", "end_at", "due_date", "location", "reminder_minutes", "description")


@dataclass(frozen=True)
class AgendaEvent:
    """A call or a meeting: `start` and `end` in the viewer's zone (an event without an end lasts 30 minutes)."""

    id: int
    type: str
    subject: str
    start: dt.datetime
    end: dt.datetime
    open_ended: bool
    location: str | None
    status: str
    done: bool
    record: RecordRef | None

    @property
    def minutes(self) -> int:
        """How long it lasts, in minutes."""
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class AgendaTask:
    """A task due on a day (all day)."""

    id: int
    subject: str
    due_date: dt.date
    priority: str | None
    status: str
    done: bool
    record: RecordRef | None


@dataclass(frozen=True)
class AgendaDay:
    """One day of the agenda: its tasks on top, its events by start."""

    day: dt.date
    events: list[AgendaEvent]
    tasks: list[AgendaTask]
    working: bool


@dataclass(frozen=True)
class Agenda:
    """A user's agenda for a day or a week, as `viewer` sees it (in the viewer's zone)."""

    owner_id: int
    owner_name: str
    view: str
    days: list[AgendaDay]
    today: dt.date
    zone: str
    working_hours: tuple[dt.time, dt.time]

    @property
    def first(self) -> dt.date:
        """The first day shown."""
        return self.days[0].day

    @property
    def last(self) -> dt.date:
        """The last day shown."""
        return self.days[-1].day

    @property
    def step(self) -> dt.timedelta:
        """How far the previous and next links move."""
        return dt.timedelta(days=len(self.days))


def first_day(day: dt.date, view: str) -> dt.date:
    """The first day of the range `view` shows around `day`: the day itself, or its week's Monday."""
    return day - dt.timedelta(days=day.weekday()) if view == "week" else day


def agenda(
    session: Session, viewer: User, day: dt.date, view: str = "week", *, owner_id: int | None = None,
    as_of: dt.datetime | None = None,
) -> Agenda:
    """The agenda of `owner_id` (the viewer's own by default) for the day or week around `day`."""
    if view not in VIEWS:
        raise ValidationError("view", N_("%(value)s is not one of %(choices)s"), value=repr(view),
                              choices=", ".join(VIEWS))
    owner = _owner(session, viewer, owner_id)
    zone = company.zone_for(session, viewer)
    first = first_day(day, view)
    dates = [first + dt.timedelta(days=i) for i in range(7 if view == "week" else 1)]
    start = dt.datetime.combine(dates[0], dt.time(), zone)
    end = dt.datetime.combine(dates[-1] + dt.timedelta(days=1), dt.time(), zone)
    events = _events(session, owner.id, start, end)
    tasks = _tasks(session, owner.id, dates[0], dates[-1], start, end)
    refs = records_of(session, [*events, *tasks])
    calendar = WorkingCalendar.load(session)
    by_day: dict[dt.date, AgendaDay] = {
        d: AgendaDay(d, [], [], calendar.is_working_day(d)) for d in dates
    }
    for row in events:
        event = _event(row, zone, refs)
        if event.start.date() in by_day:
            by_day[event.start.date()].events.append(event)
    for row in tasks:
        if row.due_date in by_day:
            by_day[row.due_date].tasks.append(AgendaTask(row.id, row.subject, row.due_date, row.priority, row.status,
                                                         row.completed_at is not None, _ref(row, refs)))
    hours = str(company.get(session, "working_hours")).split("-")
    return Agenda(owner.id, owner.name, view, list(by_day.values()), (as_of or utcnow()).astimezone(zone).date(),
                  str(zone), (dt.time.fromisoformat(hours[0]), dt.time.fromisoformat(hours[1])))


def _owner(session: Session, viewer: User, owner_id: int | None) -> User:
    """The user whose agenda is asked for: the viewer, or an owner in their scope (else not found)."""
    if owner_id is None or owner_id == viewer.id:
        return viewer
    owner = session.get(User, owner_id)
    if owner is None or not scoping.scope_of(session, viewer).sees_owner(owner.id, "activities"):
        raise NotFound(f"no agenda of user {owner_id}")
    return owner


def _events(session: Session, owner_id: int, start: dt.datetime, end: dt.datetime) -> list[Any]:
    stmt = (
        select(Activity.id, Activity.type, Activity.subject, Activity.start_at, Activity.end_at, Activity.location,
               Activity.status, Activity.completed_at, *(getattr(Activity, c) for c in LINKS))
        .where(Activity.owner_id == owner_id, Activity.start_at >= start, Activity.start_at < end,
               Activity.type.in_(EVENTS), Activity.deleted_at.is_(None))
        .order_by(Activity.start_at, Activity.id).limit(LIMIT)
    )
    return list(session.execute(stmt))


def _tasks(session: Session, owner_id: int, first: dt.date, last: dt.date, start: dt.datetime,
           end: dt.datetime) -> list[Any]:
    """Open tasks due in the range, and tasks due in it that were completed in it: two index ranges."""
    columns = (Activity.id, Activity.subject, Activity.due_date, Activity.priority, Activity.status,
               Activity.completed_at, *(getattr(Activity, c) for c in LINKS))
    due = (Activity.owner_id == owner_id, Activity.due_date >= first, Activity.due_date <= last,
           Activity.type == "task", Activity.deleted_at.is_(None))
    still_open = select(*columns).where(*due, Activity.completed_at.is_(None))
    done = select(*columns).where(*due, Activity.completed_at >= start, Activity.completed_at < end)
    rows = [*session.execute(still_open.limit(LIMIT)), *session.execute(done.limit(LIMIT))]
    return sorted(rows, key=lambda r: (r.completed_at is not None, r.due_date, r.id))


def _event(row: Any, zone: Any, refs: dict[tuple[str, int], RecordRef]) -> AgendaEvent:
    start = row.start_at.astimezone(zone)
    end = row.end_at.astimezone(zone) if row.end_at is not None and row.end_at > row.start_at else None
    return AgendaEvent(row.id, row.type, row.subject, start, end or start + dt.timedelta(minutes=DEFAULT_MINUTES),
                       end is None, row.location, row.status, row.completed_at is not None, _ref(row, refs))


def _ref(row: Any, refs: dict[tuple[str, int], RecordRef]) -> RecordRef | None:
    column = next((c for c in LINKS if getattr(row, c) is not None), None)
    return refs.get((column, getattr(row, column))) if column else None


# -- writes ---------------------------------------------------------------------------------------------------

def event_of(session: Session, user: User, activity_id: int) -> Activity:
    """An event or task the user may change: their own, or an owner's in their scope (else not found)."""
    activity = session.get(Activity, activity_id)
    if (activity is None or activity.deleted_at is not None or activity.type not in (*EVENTS, "task")
            or not scoping.scope_of(session, user).sees_owner(activity.owner_id, "activities")):
        raise NotFound(f"no event {activity_id}")
    return activity


def related_links(session: Session, user: User, number: str | None) -> dict[str, int]:
    """What an event about the record numbered `number` points at (none for an empty number)."""
    number = (number or "").strip().upper()
    if not number:
        return {}
    spec = registry.by_number(number)
    found = scoping.fetch_by_number(session, user, spec.name, number) if spec is not None else None
    if spec is None or found is None or not spec.link_column:
        raise ValidationError("related", N_("No record %(number)s that you may see."), number=number)
    links = {spec.link_column: found.id}
    for column in ("account_id", "contact_id"):
        if spec.name != "leads" and getattr(found, column, None) is not None:
            links.setdefault(column, getattr(found, column))
    return links


def create_event(
    session: Session, user: User, values: dict[str, Any], actor: Actor, *, related: str | None = None,
    attendees: str | list[str] | None = None, domain: str = invitations.DEFAULT_DOMAIN,
) -> Activity:
    """Add a call or meeting to the user's agenda and invite the attendees (addresses), if any.

    `values`: type, subject, start_at, end_at (after the start), location, reminder_minutes, description.
    `related`: a record number the user may see (LEA12). The invitation carries an .ics (`invitations`).
    """
    if values.get("type") not in EVENTS:
        raise ValidationError("type", N_("%(value)s is not one of %(choices)s"), value=repr(values.get("type")),
                              choices=", ".join(EVENTS))
    guests = invitations.parse_attendees(attendees)
    _check_times(values.get("start_at"), values.get("end_at"))
    links = related_links(session, user, related)
    event = activities.create_activity(session, {**values, **links, "owner_id": user.id}, actor)
    changes = audit.created_values(event, [c.name for c in Activity.__table__.columns])
    if guests:
        changes[invitations.ATTENDEES] = [None, guests]
    audit.log(session, "create", "activities", event.id, actor, changes=changes)
    if guests:
        invitations.invite(session, event, guests, sequence=0, domain=domain)
    return event


def move_event(
    session: Session, user: User, activity_id: int, new_start: dt.datetime | dt.date, actor: Actor, *,
    domain: str = invitations.DEFAULT_DOMAIN,
) -> Activity:
    """Move an event to start at `new_start`, keeping its length (a task: to `new_start`'s day, in the user's zone)."""
    activity = event_of(session, user, activity_id)
    if activity.type == "task":
        day = new_start.astimezone(company.zone_for(session, user)).date() \
            if isinstance(new_start, dt.datetime) else new_start
        return change_event(session, user, activity_id, {"due_date": day}, actor, domain=domain)
    if not isinstance(new_start, dt.datetime) or new_start.tzinfo is None:
        raise ValidationError("start_at", N_("An event moves to a time of day."))
    length = activity.end_at - activity.start_at if activity.end_at and activity.start_at else None
    changes = {"start_at": new_start, "end_at": new_start + length if length is not None else None}
    return change_event(session, user, activity_id, changes, actor, domain=domain)


def change_event(
    session: Session, user: User, activity_id: int, changes: dict[str, Any], actor: Actor, *,
    domain: str = invitations.DEFAULT_DOMAIN,
) -> Activity:
    """Change an event's or task's time, subject, place or reminder: validated, audited, its attendees re-invited."""
    activity = event_of(session, user, activity_id)
    unknown = next((k for k in changes if k not in EDITABLE), None)
    if unknown is not None:
        raise ValidationError(unknown, N_("cannot be changed here"))
    if activity.completed_at is not None:
        raise ValidationError("start_at" if activity.type in EVENTS else "due_date",
                              N_("It is done already: it stays where it happened."))
    columns = [c.name for c in Activity.__table__.columns if c.name not in ("id", "deleted_at")]
    current = {c: getattr(activity, c) for c in columns}
    clean = activities.clean_activity({**current, **changes}, picklists.all_values(session))
    if activity.type in EVENTS:  # as stored before: an end may be missing, or at the start (a call logged as made)
        _check_times(clean.get("start_at"), clean.get("end_at"), strict=False)
    changed = {k: clean[k] for k in changes if clean[k] != current[k]}
    if not changed:
        return activity
    for name, value in changed.items():
        setattr(activity, name, value)
    if activity.reminder_sent_at is not None and changed.keys() & {"start_at", "reminder_minutes"}:
        activity.reminder_sent_at = None  # a new time or lead time: its reminder is due again, for the new time
    record = dict(changed)
    guests, sequence = invitations.attendees_of(session, activity.id)
    resend = bool(guests) and bool(changed.keys() & invitations.SHOWN_FIELDS)
    audit.log(session, "update", "activities", activity.id, actor,
              changes={**audit.diff(current, record),
                       **({invitations.SEQUENCE: [sequence, sequence + 1]} if resend else {})})
    session.flush()
    if resend:
        invitations.invite(session, activity, guests, sequence=sequence + 1, domain=domain)
    return activity


def _check_times(start: Any, end: Any, *, strict: bool = True) -> None:
    """An event starts at a time and ends after it, within a day (`strict=False`: no end, or one at its start)."""
    if not isinstance(start, dt.datetime):
        raise ValidationError("start_at", N_("Enter the time it starts."))
    if end is None and not strict:
        return
    if not isinstance(end, dt.datetime) or end < start or (strict and end == start):
        raise ValidationError("end_at", N_("It must end after it starts."))
    if end - start > dt.timedelta(minutes=LONGEST_MINUTES):
        raise ValidationError("end_at", N_("An event lasts at most a day."))
