"""My day: what a user has to do today, in their own time zone (else the company's) — overdue tasks, tasks due
today, today's calls and meetings, leads assigned to them since yesterday with how long each has waited, memo
reminders due; a manager also sees how many overdue tasks each of their reps has.

A day begins at midnight in the user's zone: at 00:30 in Taipei a task due "yesterday" is overdue, though it
is still yesterday in UTC. The one-click actions are in `crm_store.staff.follow_ups`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Activity, Lead, Note, User, utcnow
from crm_store.records import registry
from crm_store.records.names import display_name
from crm_store.settings import company

LIMIT = 100
TASKS = ("task",)
EVENTS = ("call", "meeting")
LINKS = ("lead_id", "opportunity_id", "contact_id", "account_id")  # the record an activity is shown under


@dataclass(frozen=True)
class RecordRef:
    """The record an item is about, to show and link to it."""

    module: str
    id: int
    number: str
    title: str


@dataclass(frozen=True)
class TaskItem:
    """An open task."""

    id: int
    subject: str
    due_date: dt.date
    priority: str | None
    status: str
    record: RecordRef | None


@dataclass(frozen=True)
class EventItem:
    """A call or meeting today (done ones too)."""

    id: int
    type: str
    subject: str
    start_at: dt.datetime
    end_at: dt.datetime | None
    location: str | None
    status: str
    done: bool
    record: RecordRef | None


@dataclass(frozen=True)
class NewLead:
    """A lead assigned to the user since yesterday; `waited` until the first touch, or until now."""

    id: int
    number: str
    name: str
    company: str | None
    status: str | None
    assigned_at: dt.datetime
    waited: dt.timedelta
    touched: bool


@dataclass(frozen=True)
class Reminder:
    """A memo reminder on a note of the user's, due today or earlier and not dismissed."""

    note_id: int
    remind_at: dt.datetime
    text: str
    record: RecordRef | None


@dataclass(frozen=True)
class RepOverdue:
    """How many overdue tasks one of a manager's reps has."""

    user_id: int
    name: str
    overdue: int


@dataclass(frozen=True)
class MyDay:
    """The My day page of one user at one moment."""

    as_of: dt.datetime
    today: dt.date
    zone: str
    overdue: list[TaskItem]
    due_today: list[TaskItem]
    events: list[EventItem]
    new_leads: list[NewLead]
    reminders: list[Reminder]
    team_overdue: list[RepOverdue]


def my_day(session: Session, user: User, as_of: dt.datetime | None = None) -> MyDay:
    """Gather a user's day as of a moment (now by default), its day bounds in the user's zone."""
    as_of = as_of or utcnow()
    zone = company.zone_for(session, user)
    today = as_of.astimezone(zone).date()
    start = dt.datetime.combine(today, dt.time(), zone)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone)
    tasks = _open_tasks(session, user.id, today)
    events = list(session.scalars(
        select(Activity).where(Activity.owner_id == user.id, Activity.type.in_(EVENTS), Activity.deleted_at.is_(None),
                               Activity.start_at >= start, Activity.start_at < end)
        .order_by(Activity.start_at, Activity.id).limit(LIMIT)
    ))
    notes = list(session.scalars(
        select(Note).where(Note.author_id == user.id, Note.remind_at < end, Note.reminded_at.is_(None),
                           Note.deleted_at.is_(None))
        .order_by(Note.remind_at, Note.id).limit(LIMIT)
    ))
    refs = _records(session, [*tasks, *events, *notes])
    return MyDay(
        as_of, today, str(zone),
        [_task(t, refs) for t in tasks if t.due_date is not None and t.due_date < today],
        [_task(t, refs) for t in tasks if t.due_date == today],
        [EventItem(e.id, e.type, e.subject, e.start_at or start, e.end_at, e.location, e.status,
                   e.completed_at is not None, _ref(e, refs)) for e in events],
        _new_leads(session, user.id, start - dt.timedelta(days=1), as_of),
        [Reminder(n.id, n.remind_at or start, n.body.splitlines()[0] if n.body else "", _ref(n, refs)) for n in notes],
        team_overdue(session, user, today),
    )


def team_overdue(session: Session, manager: User, today: dt.date) -> list[RepOverdue]:
    """Each active user whose manager is `manager`, with their overdue tasks as of `today`, by name."""
    overdue = (
        select(Activity.owner_id, func.count().label("n"))
        .where(Activity.type.in_(TASKS), Activity.completed_at.is_(None), Activity.deleted_at.is_(None),
               Activity.due_date < today)
        .group_by(Activity.owner_id).subquery()
    )
    stmt = (
        select(User.id, User.name, func.coalesce(overdue.c.n, 0))
        .outerjoin(overdue, overdue.c.owner_id == User.id)
        .where(User.manager_id == manager.id, User.active)
        .order_by(User.name, User.id)
    )
    return [RepOverdue(user_id, name, int(n)) for user_id, name, n in session.execute(stmt)]


def _open_tasks(session: Session, user_id: int, today: dt.date) -> list[Activity]:
    """The user's open tasks due today or before, oldest due first."""
    stmt = (
        select(Activity)
        .where(Activity.owner_id == user_id, Activity.completed_at.is_(None), Activity.due_date <= today,
               Activity.type.in_(TASKS), Activity.deleted_at.is_(None))
        .order_by(Activity.due_date, Activity.id).limit(2 * LIMIT)
    )
    return list(session.scalars(stmt))


def _new_leads(session: Session, user_id: int, since: dt.datetime, as_of: dt.datetime) -> list[NewLead]:
    stmt = (
        select(Lead)
        .where(Lead.owner_id == user_id, Lead.assigned_at >= since, Lead.assigned_at <= as_of,
               Lead.deleted_at.is_(None), Lead.converted_at.is_(None))
        .order_by(Lead.assigned_at.desc(), Lead.id.desc()).limit(LIMIT)
    )
    found = []
    for lead in session.scalars(stmt):
        assigned = lead.assigned_at or as_of
        touched = lead.last_touch_at is not None and lead.last_touch_at >= assigned
        waited = (lead.last_touch_at if touched and lead.last_touch_at else as_of) - assigned
        found.append(NewLead(lead.id, lead.lead_no, display_name(lead.first_name, lead.last_name), lead.company,
                             lead.status, assigned, waited, touched))
    return found


def _task(task: Activity, refs: dict[tuple[str, int], RecordRef]) -> TaskItem:
    return TaskItem(task.id, task.subject, task.due_date or dt.date.min, task.priority, task.status, _ref(task, refs))


def _ref(row: Activity | Note, refs: dict[tuple[str, int], RecordRef]) -> RecordRef | None:
    for column in LINKS:
        value = getattr(row, column)
        if value is not None:
            return refs.get((column, value))
    return None


def _records(session: Session, rows: list[Any]) -> dict[tuple[str, int], RecordRef]:
    """The records the rows are about, read with one query per module: (link column, id) -> RecordRef."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        column = next((c for c in LINKS if getattr(row, c) is not None), None)
        if column is not None:
            wanted[column].add(getattr(row, column))
    found: dict[tuple[str, int], RecordRef] = {}
    for module in registry.modules():
        ids = wanted.get(module.link_column or "")
        if not ids:
            continue
        model, first = module.model, module.searchable.first_name if module.searchable else None
        columns = [model.id, getattr(model, module.number_field), getattr(model, module.title)]
        columns += [getattr(model, first)] if first else []
        for row in session.execute(select(*columns).where(model.id.in_(ids))):
            title = display_name(row[3], row[2]) if first else str(row[2])
            found[(module.link_column or "", row[0])] = RecordRef(module.name, row[0], row[1], title)
    return found
