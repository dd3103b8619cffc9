"""My day: what a user has to do today, in their own time zone (else the company's) — overdue tasks, tasks due
today, today's calls and meetings, leads assigned to them since yesterday with how long each has waited, memo
reminders due, their aging and stale leads and their rotting opportunities (as the nightly lead-aging flow left
them: `Lead.aging_state`, `Opportunity.rotting_since`); a manager also sees how many overdue tasks each of their
reps has.

A day begins at midnight in the user's zone: at 00:30 in Taipei a task due "yesterday" is overdue, though it
is still yesterday in UTC. The one-click actions are in `crm_store.staff.follow_ups`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from crm_store.models import Activity, Currency, Lead, Note, Opportunity, SalesStage, User, utcnow
from crm_store.models.base import UTCDateTime
from crm_store.records import registry
from crm_store.records.names import display_name
from crm_store.settings import company

LIMIT = 100
ATTENTION_LIMIT = 20  # aging leads and rotting deals shown; the page says how many more there are
AGING_STATES = ("aging", "stale")  # cold leads are out of the active queues
TASKS = ("task",)
EVENTS = ("call", "meeting")
# the record an activity or a memo is shown under: the first found
LINKS = ("lead_id", "opportunity_id", "contact_id", "account_id", "quote_id", "sales_order_id", "invoice_id",
         "product_id")


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
    source: str | None = None  # its lead source (read for the daily digest)


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
class AgingLead:
    """An open lead of the user's gone without staff action: `state` aging or stale, idle since `last_touch_at`."""

    id: int
    number: str
    name: str
    company: str | None
    status: str | None
    state: str
    idle_days: int | None
    last_touch_at: dt.datetime


@dataclass(frozen=True)
class RottingDeal:
    """An open opportunity of the user's idle beyond its stage's `rotting_days`, rotting since `rotting_since`."""

    id: int
    number: str
    name: str
    stage: str
    rotting_days: int | None
    idle_days: int | None
    rotting_since: dt.datetime
    amount: Decimal | None
    currency: str


@dataclass(frozen=True)
class Attention:
    """The leads or deals that need attention, the oldest first, and how many there are in all."""

    items: list[Any]
    total: int


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
    aging: Attention = field(default_factory=lambda: Attention([], 0))
    rotting: Attention = field(default_factory=lambda: Attention([], 0))
    idle_days_mode: str = "calendar"  # how lead-aging counts idle days: calendar or working


def my_day(session: Session, user: User, as_of: dt.datetime | None = None) -> MyDay:
    """Gather a user's day as of a moment (now by default), its day bounds in the user's zone."""
    as_of = as_of or utcnow()
    zone = company.zone_for(session, user)
    today = as_of.astimezone(zone).date()
    start = dt.datetime.combine(today, dt.time(), zone)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone)
    tasks = _open_tasks(session, user.id, today)
    events = list(session.execute(
        select(Activity.id, Activity.type, Activity.subject, Activity.start_at, Activity.end_at, Activity.location,
               Activity.status, Activity.completed_at, *_links(Activity))
        .where(Activity.owner_id == user.id, Activity.type.in_(EVENTS), Activity.deleted_at.is_(None),
               Activity.start_at >= start, Activity.start_at < end)
        .order_by(Activity.start_at, Activity.id).limit(LIMIT)
    ))
    notes = list(session.execute(
        select(Note.id, Note.remind_at, Note.body, *_links(Note))
        .where(Note.author_id == user.id, Note.remind_at < end, Note.reminded_at.is_(None), Note.deleted_at.is_(None))
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
        aging_leads(session, user.id),
        rotting_deals(session, user.id),
        str(company.get(session, "idle_days_mode")),
    )


def aging_leads(session: Session, user_id: int, limit: int = ATTENTION_LIMIT) -> Attention:
    """The user's open aging and stale leads, the longest idle first.

    Which ones and how many are read from `ix_leads_owner_aging` alone (a rep may have thousands); only the
    rows shown are read from the table.
    """
    mine = (Lead.owner_id == user_id, Lead.aging_state.in_(AGING_STATES), Lead.deleted_at.is_(None),
            Lead.converted_at.is_(None))
    order = (Lead.idle_days.desc(), Lead.id)
    shown = select(Lead.id).where(*mine).order_by(*order).limit(limit).scalar_subquery()
    stmt = (
        select(Lead.id, Lead.lead_no, Lead.first_name, Lead.last_name, Lead.company, Lead.status, Lead.aging_state,
               Lead.idle_days, func.coalesce(Lead.last_touch_at, Lead.created_at))
        .where(Lead.id.in_(shown)).order_by(*order)
    )
    items = [AgingLead(row[0], row[1], display_name(row[2], row[3]), row[4], row[5], row[6] or "", row[7], row[8])
             for row in session.execute(stmt)]
    return Attention(items, _total(session, len(items), limit, select(func.count()).select_from(Lead).where(*mine)))


def rotting_deals(session: Session, user_id: int, limit: int = ATTENTION_LIMIT) -> Attention:
    """The user's open opportunities rotting in their stage, the longest rotting first (chosen and counted from
    `ix_opportunities_owner_rotting` alone)."""
    mine = (Opportunity.owner_id == user_id, Opportunity.rotting_since.is_not(None), Opportunity.closed_at.is_(None),
            Opportunity.deleted_at.is_(None))
    order = (Opportunity.rotting_since, Opportunity.id)
    shown = select(Opportunity.id).where(*mine).order_by(*order).limit(limit).scalar_subquery()
    stmt = (
        select(Opportunity.id, Opportunity.opportunity_no, Opportunity.name, SalesStage.name, SalesStage.rotting_days,
               Opportunity.idle_days, Opportunity.rotting_since, Opportunity.amount, Currency.code)
        .join(SalesStage, SalesStage.id == Opportunity.stage_id)
        .join(Currency, Currency.id == Opportunity.currency_id)
        .where(Opportunity.id.in_(shown))
        .order_by(*order)
    )
    items = [RottingDeal(row[0], row[1], row[2], row[3], row[4], row[5], cast(dt.datetime, row[6]), row[7], row[8])
             for row in session.execute(stmt)]  # rotting_since: never None here
    count = select(func.count()).select_from(Opportunity).where(*mine)
    return Attention(items, _total(session, len(items), limit, count))


def _total(session: Session, shown: int, limit: int, count: Any) -> int:
    """How many there are in all: what is shown, unless the limit cut the list (then counted)."""
    return shown if shown < limit else int(session.scalar(count) or 0)


def team_overdue(session: Session, manager: User, today: dt.date) -> list[RepOverdue]:
    """Each active user whose manager is `manager`, with their overdue tasks as of `today`, by name."""
    overdue = (  # per rep, so each count is a range of ix_activities_owner_open (grouping all tasks took seconds)
        select(func.count()).select_from(Activity)
        .where(Activity.owner_id == User.id, Activity.completed_at.is_(None), Activity.due_date < today,
               Activity.type.in_(TASKS), Activity.deleted_at.is_(None))
        .correlate(User).scalar_subquery()
    )
    stmt = (select(User.id, User.name, overdue).where(User.manager_id == manager.id, User.active)
            .order_by(User.name, User.id))
    return [RepOverdue(user_id, name, int(n)) for user_id, name, n in session.execute(stmt)]


def _links(model: type[Activity] | type[Note]) -> list[Any]:
    """The columns naming the record a row is about (read as columns: a full ORM row costs more than it shows)."""
    return [getattr(model, column) for column in LINKS]


def _open_tasks(session: Session, user_id: int, today: dt.date) -> list[Any]:
    """The user's open tasks due today or before, oldest due first."""
    stmt = (
        select(Activity.id, Activity.subject, Activity.due_date, Activity.priority, Activity.status,
               *_links(Activity))
        .where(Activity.owner_id == user_id, Activity.completed_at.is_(None), Activity.due_date <= today,
               Activity.type.in_(TASKS), Activity.deleted_at.is_(None))
        .order_by(Activity.due_date, Activity.id).limit(2 * LIMIT)
    )
    return list(session.execute(stmt))


def _new_leads(session: Session, user_id: int, since: dt.datetime, as_of: dt.datetime) -> list[NewLead]:
    stmt = (
        select(Lead.id, Lead.lead_no, Lead.first_name, Lead.last_name, Lead.company, Lead.status, Lead.assigned_at,
               Lead.last_touch_at)
        .where(Lead.owner_id == user_id, Lead.assigned_at >= since, Lead.assigned_at <= as_of,
               Lead.deleted_at.is_(None), Lead.converted_at.is_(None))
        .order_by(Lead.assigned_at.desc(), Lead.id.desc()).limit(LIMIT)
    )
    found = []
    for lead in session.execute(stmt):
        assigned = lead.assigned_at or as_of
        touched = lead.last_touch_at is not None and lead.last_touch_at >= assigned
        waited = (lead.last_touch_at if touched and lead.last_touch_at else as_of) - assigned
        found.append(NewLead(lead.id, lead.lead_no, display_name(lead.first_name, lead.last_name), lead.company,
                             lead.status, assigned, waited, touched))
    return found


def _task(task: Any, refs: dict[tuple[str, int], RecordRef]) -> TaskItem:
    return TaskItem(task.id, task.subject, task.due_date or dt.date.min, task.priority, task.status, _ref(task, refs))


def _ref(row: Any, refs: dict[tuple[str, int], RecordRef]) -> RecordRef | None:
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


# -- many users at once (the daily digest) --------------------------------------------------------------------
# The same lists as above, read for a group of users in one statement each: every user's rows are ranked by the
# database (`_first_of_each`), so only the first `limit` of each are read, with how many there are in all.


@dataclass(frozen=True)
class DayTasks:
    """A user's open tasks due before today, and those due today, each the oldest due first."""

    overdue: Attention
    due_today: Attention


@dataclass(frozen=True)
class ClosingDeal:
    """An open opportunity of the user's expected to close on `close_date`."""

    id: int
    number: str
    name: str
    stage: str
    close_date: dt.date
    amount: Decimal | None
    currency: str


EMPTY = Attention([], 0)


def tasks_of(session: Session, user_ids: list[int], today: dt.date, limit: int = LIMIT) -> dict[int, DayTasks]:
    """Each user's overdue tasks and tasks due today as of `today` (My day's), the first `limit` of each."""
    overdue = Activity.due_date < today
    rows = _first_of_each(
        session,
        [Activity.owner_id.label("user_id"), overdue.label("overdue"), Activity.id, Activity.subject,
         Activity.due_date, Activity.priority, Activity.status, *_links(Activity)],
        [Activity.owner_id.in_(user_ids), Activity.completed_at.is_(None), Activity.due_date <= today,
         Activity.type.in_(TASKS), Activity.deleted_at.is_(None)],
        (Activity.owner_id, overdue), (Activity.due_date, Activity.id), limit,
    )
    refs = _records(session, rows)
    found: dict[tuple[int, bool], Attention] = {}
    for row in rows:
        found.setdefault((row.user_id, bool(row.overdue)), Attention([], row.total)).items.append(_task(row, refs))
    return {user_id: DayTasks(found.get((user_id, True), EMPTY), found.get((user_id, False), EMPTY))
            for user_id in user_ids}


def events_of(
    session: Session, user_ids: list[int], start: dt.datetime, end: dt.datetime, limit: int = LIMIT, *,
    done: bool = True,
) -> dict[int, Attention]:
    """Each user's calls and meetings starting from `start` to before `end`, in order (`done`: those done too)."""
    conditions = [Activity.owner_id.in_(user_ids), Activity.type.in_(EVENTS), Activity.deleted_at.is_(None),
                  Activity.start_at >= start, Activity.start_at < end]
    if not done:
        conditions.append(Activity.completed_at.is_(None))
    rows = _first_of_each(
        session,
        [Activity.owner_id.label("user_id"), Activity.id, Activity.type, Activity.subject, Activity.start_at,
         Activity.end_at, Activity.location, Activity.status, Activity.completed_at, *_links(Activity)],
        conditions, (Activity.owner_id,), (Activity.start_at, Activity.id), limit,
    )
    refs = _records(session, rows)
    return _by_user(user_ids, rows, lambda e: EventItem(
        e.id, e.type, e.subject, e.start_at or start, e.end_at, e.location, e.status, e.completed_at is not None,
        _ref(e, refs)))


def new_leads_of(
    session: Session, since: dict[int, dt.datetime], as_of: dt.datetime, limit: int = LIMIT
) -> dict[int, Attention]:
    """Each user's open leads assigned to them from their `since` moment to `as_of`, the newest first."""
    if not since:
        return {}
    after = case({user_id: literal(moment, UTCDateTime()) for user_id, moment in since.items()},
                 value=Lead.owner_id)  # each user's own moment
    rows = _first_of_each(
        session,
        [Lead.owner_id.label("user_id"), Lead.id, Lead.lead_no, Lead.first_name, Lead.last_name, Lead.company,
         Lead.status, Lead.lead_source, Lead.assigned_at, Lead.last_touch_at],
        [Lead.owner_id.in_(list(since)), Lead.assigned_at >= min(since.values()), Lead.assigned_at >= after,
         Lead.assigned_at <= as_of, Lead.deleted_at.is_(None), Lead.converted_at.is_(None)],
        (Lead.owner_id,), (Lead.assigned_at.desc(), Lead.id.desc()), limit,
    )
    return _by_user(list(since), rows, lambda lead: _new_lead(lead, as_of))


def closing_deals_of(
    session: Session, user_ids: list[int], first: dt.date, last: dt.date, limit: int = LIMIT
) -> dict[int, Attention]:
    """Each user's open opportunities expected to close from `first` to `last`, the soonest first."""
    rows = _first_of_each(
        session,
        [Opportunity.owner_id.label("user_id"), Opportunity.id, Opportunity.opportunity_no, Opportunity.name,
         SalesStage.name.label("stage"), Opportunity.expected_close_date, Opportunity.amount,
         Currency.code.label("currency")],
        [Opportunity.owner_id.in_(user_ids), Opportunity.expected_close_date.between(first, last),
         Opportunity.closed_at.is_(None), Opportunity.deleted_at.is_(None),
         SalesStage.id == Opportunity.stage_id, Currency.id == Opportunity.currency_id],
        (Opportunity.owner_id,), (Opportunity.expected_close_date, Opportunity.id), limit,
    )
    return _by_user(user_ids, rows, lambda o: ClosingDeal(
        o.id, o.opportunity_no, o.name, o.stage, o.expected_close_date, o.amount, o.currency))


def _first_of_each(
    session: Session, columns: list[Any], conditions: list[Any], partition: tuple[Any, ...], order: tuple[Any, ...],
    limit: int,
) -> list[Any]:
    """The rows meeting `conditions`, the first `limit` of each `partition` in `order`, each with its partition's
    `total` (the database ranks them: only the rows kept are read)."""
    rank = func.row_number().over(partition_by=partition, order_by=order).label("rank")
    total = func.count().over(partition_by=partition).label("total")
    ranked = select(*columns, rank, total).where(*conditions).subquery()
    return list(session.execute(select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.rank)))


def _by_user(user_ids: list[int], rows: list[Any], item: Any) -> dict[int, Attention]:
    """Ranked rows as each user's Attention (users without any: empty), `item` making each row's item."""
    items: dict[int, list[Any]] = {user_id: [] for user_id in user_ids}
    totals: dict[int, int] = {}
    for row in rows:
        items[row.user_id].append(item(row))
        totals[row.user_id] = row.total
    return {user_id: Attention(items[user_id], totals.get(user_id, 0)) for user_id in user_ids}


def _new_lead(lead: Any, as_of: dt.datetime) -> NewLead:
    """A lead assigned since: how long it waited, until its first touch or until `as_of`."""
    assigned = lead.assigned_at or as_of
    touched = lead.last_touch_at is not None and lead.last_touch_at >= assigned
    waited = (lead.last_touch_at if touched and lead.last_touch_at else as_of) - assigned
    return NewLead(lead.id, lead.lead_no, display_name(lead.first_name, lead.last_name), lead.company, lead.status,
                   assigned, waited, touched, lead.lead_source)
