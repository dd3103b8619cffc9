"""Lead aging: how long open leads and opportunities have gone without staff action, and what follows.

Idle days run from a lead's last touch (`last_touch_at`, else its creation) to `as_of`, counted on
local dates in the company's zone: calendar days, or with `idle_days_mode` = working the working days
after the touch day up to today (`WorkingCalendar.working_days_between`). Against `lead_aging_days`,
`lead_stale_days` and `lead_cold_days` (7 / 30 / 90) a lead is fresh (None), 'aging', 'stale' or 'cold'
from the day its idle days reach the threshold (exactly 7 idle days: aging); the highest threshold
reached wins, whatever order the settings are in.

- A lead with an open activity planned after `as_of` (a task due after today, a call or meeting starting
  later) is not aging: a planned next step is attention. Its idle days are still stored.
- stale: the owner and the owner's manager (their `manager_id`, else their teams' managers) get
  `stale_lead`, once per stale episode — an episode is the touch it has been idle since, so a lead
  touched and gone stale again is told about again. `stale_notified_at` records it; so does the lead of
  an owner nobody can be told about. History (a lead of an import or demo batch last touched before the
  batch was loaded) takes its state but no notice.
- cold: status "Cold" (out of the open leads and every active queue), a note saying why in the company's
  language (no author), and an audit row by the automation `lead-aging`. A Cold lead is left alone after.
- A lead no longer open (converted, deleted, Junk, Lost) loses an aging or stale state.
- Opportunities (open: `closed_at` empty) count idle days from the later of their last touch and the
  moment they entered their stage (else their creation), and rot when those exceed their stage's
  `rotting_days` (none: never); `rotting_since` is the `as_of` of the run that first saw it, cleared when
  it is no longer rotting (or closed). The planned-activity rule holds for them too.

Set-based, in Core statements built once per run: a state is a comparison of the touch with a cut-off
moment worked out here (a lead is aging iff its touch is before the start of the first local day whose idle
days fall short of `lead_aging_days`), and idle days are arithmetic on the touch's local day number in SQL
(`IdleDays`). The records are taken in id ranges of `CHUNK`, each range one transaction, and only rows
whose values change are written, so a second run for the same `as_of` writes and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    extract,
    false,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from crm_store import languages
from crm_store.actor import Actor
from crm_store.automation.calendar import WorkingCalendar
from crm_store.automation.runs import CHUNK, Outcome
from crm_store.automation.sla_escalation import Staff, lead_reference, notice, shown_time
from crm_store.mail import outbox
from crm_store.models import (
    OPEN_LEAD_EXCLUDED_STATUSES,
    Activity,
    AuditEntry,
    Batch,
    Lead,
    Note,
    Opportunity,
    SalesStage,
)
from crm_store.models.base import UTCDateTime
from crm_store.settings import company

AUTOMATION = "lead-aging"
ACTOR = Actor.system(AUTOMATION)
COLD_STATUS = "Cold"
DAY = dt.timedelta(days=1)
EPOCH = dt.date(1970, 1, 1).toordinal()  # local day numbers count from 1 January 1970
SHIFT_DAYS = 7 * 100_000  # keeps day numbers positive for SQL's integer division and modulo (a multiple of 7)
PLACEHOLDER = "%(num)s"  # where a Cold note's template takes the idle days
FUTURE = dt.timedelta(days=400)  # how far past `as_of` the zone's offsets are followed (touches dated later)
LEADS, OPPORTUNITIES, ACTIVITIES = Lead.__table__.c, Opportunity.__table__.c, Activity.__table__.c
_LO, _HI = bindparam("lo", type_=Integer()), bindparam("hi", type_=Integer())


def among(column: Any, dialect: str) -> ColumnElement[bool]:
    """`column` is one of the ids bound as `ids` (see `ids_value`): one parameter however many, not one each."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(BigInteger())))
    return column.in_(select(literal_column("value", Integer())).select_from(func.json_each(bindparam("ids"))))


def ids_value(ids: Sequence[int], dialect: str) -> Any:
    """The `ids` parameter of `among`: a list for PostgreSQL's ANY, a JSON array for SQLite's json_each."""
    return list(ids) if dialect == "postgresql" else json.dumps(list(ids))


def local_midnight(day: dt.date, calendar: WorkingCalendar) -> dt.datetime:
    """The UTC moment a local date begins in the company's zone."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=calendar.zone).astimezone(dt.UTC)


def day_number(day: dt.date) -> int:
    """A date as the number of days since 1970-01-01."""
    return day.toordinal() - EPOCH


# -- idle days ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IdleDays:
    """Idle days as of `today`: in Python for one touch, as cut-off moments, and as a SQL expression.

    In SQL a touch's local day number is its Unix time plus the zone's UTC offset at that moment (a CASE
    over the offset changes from the oldest record to a year past `as_of`), divided by 86,400. Calendar
    days are then a subtraction; working days are W(today) - W(day), W(n) counting the working days up to
    day n: whole weeks times the working weekdays, the working weekdays of the partial week (a CASE on the
    weekday), minus the holidays up to n, plus the make-up working days up to n (each a small binary CASE
    over the sorted dates) — what `WorkingCalendar.working_days_between` counts.
    """

    calendar: WorkingCalendar
    working: bool
    today: dt.date
    dialect: str
    offsets: tuple[tuple[dt.datetime, int], ...]  # (from this moment on, the zone's offset in seconds)

    @classmethod
    def load(cls, calendar: WorkingCalendar, working: bool, as_of: dt.datetime, oldest: dt.datetime,
             dialect: str) -> IdleDays:
        """Idle days as of `as_of`'s local date, with the zone's offsets from `oldest` on."""
        return cls(calendar, working, calendar.local_date(as_of), dialect,
                   tuple(_offsets(calendar, min(oldest, as_of), as_of + FUTURE)))

    def of(self, touch: dt.datetime) -> int:
        """The idle days of one touch."""
        day = self.calendar.local_date(touch)
        if self.working:
            return self.calendar.working_days_between(day, self.today)
        return max((self.today - day).days, 0)

    def cutoff(self, days: int) -> dt.datetime:
        """The moment a touch must be before to have been idle `days` days or more (days >= 1)."""
        day = self.today - dt.timedelta(days=days)  # the latest day idle that long in calendar days
        if self.working:  # working days are fewer: walk back to the latest day with enough of them
            day = self.today
            while self.calendar.working_days_between(day, self.today) < days:
                day -= DAY
        return local_midnight(day + DAY, self.calendar)

    def expression(self, touch: ColumnElement[Any]) -> ColumnElement[int]:
        """The idle days of a touch column (0 for a touch today or later)."""
        local = self._day_number(touch)
        today = day_number(self.today)
        idle = (self._working_up_to_today() - self._working_up_to(local)) if self.working else today - local
        return case((touch >= local_midnight(self.today, self.calendar), literal_column("0", Integer())),
                    else_=idle)

    def _day_number(self, touch: ColumnElement[Any]) -> ColumnElement[int]:
        offset: ColumnElement[Any] = _int(self.offsets[0][1])
        if len(self.offsets) > 1:
            offset = case(*((touch >= start, _int(seconds)) for start, seconds in reversed(self.offsets[1:])),
                          else_=_int(self.offsets[0][1]))
        if self.dialect == "postgresql":
            return cast(func.floor((extract("epoch", touch) + offset) / 86400), Integer())
        seconds = cast(func.strftime("%s", touch), Integer())
        return (seconds + offset + _int(SHIFT_DAYS * 86400)) // 86400 - _int(SHIFT_DAYS)

    def _working_up_to(self, n: ColumnElement[int]) -> ColumnElement[int]:
        """W(n) in SQL: the working days up to day number n (from an origin that cancels out)."""
        weekly, partial = self._week_table()
        shifted = n + _int(3 + SHIFT_DAYS)  # 1970-01-01 was a Thursday (3, Monday being 0)
        weekday = case({r: _int(partial[r]) for r in range(7)}, value=shifted % 7)
        lost, gained = self._exceptions()
        return (shifted // 7) * _int(weekly) + weekday - _count_up_to(n, lost) + _count_up_to(n, gained)

    def _working_up_to_today(self) -> int:
        """W(today), in Python, by the same formula."""
        weekly, partial = self._week_table()
        today = day_number(self.today)
        shifted = today + 3 + SHIFT_DAYS
        lost, gained = self._exceptions()
        return (shifted // 7) * weekly + partial[shifted % 7] - bisect_right(lost, today) + bisect_right(gained, today)

    def _week_table(self) -> tuple[int, list[int]]:
        weekdays = self.calendar.weekdays
        return len(weekdays), [sum(1 for w in range(r + 1) if w in weekdays) for r in range(7)]

    def _exceptions(self) -> tuple[list[int], list[int]]:
        """The holidays on working weekdays and the make-up days on other days, as sorted day numbers."""
        cal = self.calendar
        lost = sorted(day_number(d) for d in cal.holidays if d.weekday() in cal.weekdays)
        gained = sorted(day_number(d) for d in cal.extra_working_days - cal.holidays if d.weekday() not in cal.weekdays)
        return lost, gained


def _int(value: int) -> ColumnElement[int]:
    return literal_column(str(int(value)), Integer())


def _count_up_to(n: ColumnElement[int], days: Sequence[int]) -> ColumnElement[int]:
    """How many of the sorted day numbers are <= n, as a binary search of nested CASEs."""

    def node(lo: int, hi: int) -> ColumnElement[int]:  # the count lies in lo..hi
        if lo == hi:
            return _int(lo)
        mid = (lo + hi + 1) // 2
        return case((n >= _int(days[mid - 1]), node(mid, hi)), else_=node(lo, mid - 1))

    return node(0, len(days))


def _offsets(calendar: WorkingCalendar, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """The zone's UTC offsets from `start` to `end`: the first, then each change with the moment it happens."""

    def offset(moment: dt.datetime) -> int:
        delta = moment.astimezone(calendar.zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    found = [(start, offset(start))]
    moment = start
    while moment < end:
        later = min(moment + DAY, end)
        if offset(later) != found[-1][1]:
            lo, hi = moment, later  # the change lies in (lo, hi]: narrow it to the second
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (lo, mid) if offset(mid) != found[-1][1] else (mid, hi)
            found.append((hi.replace(microsecond=0), offset(hi)))
        moment = later
    return found


# -- the plan of a run ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """What one run reads once: `as_of`, the thresholds, the idle days, the staff, the stages that rot."""

    as_of: dt.datetime
    aging_days: int
    stale_days: int
    cold_days: int
    language: str
    idle: IdleDays
    staff: Staff
    rotting: dict[int, list[int]]  # rotting days -> ids of the open stages with them

    @classmethod
    def load(cls, session: Session, as_of: dt.datetime) -> Plan:
        """Read the settings, the calendar, the users and the stages, and how far back the records go."""
        settings = company.all_settings(session)
        calendar = WorkingCalendar.load(session)
        # The zone's offsets are followed from the oldest record on (read through the created_at indexes; a
        # touch dated before its record's creation would take the oldest offset).
        oldest = [session.scalar(select(func.min(LEADS.created_at))),
                  session.scalar(select(func.min(OPPORTUNITIES.created_at)))]
        rotting: dict[int, list[int]] = {}
        for stage_id, days in session.execute(
            select(SalesStage.id, SalesStage.rotting_days)
            .where(SalesStage.rotting_days.is_not(None), ~SalesStage.is_won, ~SalesStage.is_lost)
        ):
            if days is not None:
                rotting.setdefault(days, []).append(stage_id)
        working = settings["idle_days_mode"] == "working"
        idle = IdleDays.load(calendar, working, as_of, min((m for m in oldest if m is not None), default=as_of),
                             session.get_bind().dialect.name)
        return cls(as_of, int(settings["lead_aging_days"]), int(settings["lead_stale_days"]),
                   int(settings["lead_cold_days"]), settings["default_language"], idle, Staff.load(session), rotting)

    @property
    def working(self) -> bool:
        """Whether idle days are working days."""
        return self.idle.working

    def planned(self, link: Any) -> Any:
        """The records of the id range with an open activity planned after `as_of` (`link`: its column)."""
        return select(link).where(
            link.between(_LO, _HI), ACTIVITIES.completed_at.is_(None), ACTIVITIES.deleted_at.is_(None),
            or_(ACTIVITIES.due_date > self.idle.today, ACTIVITIES.start_at > self.as_of),
        )


def lead_touch() -> ColumnElement[dt.datetime]:
    """A lead's last touch: `last_touch_at`, else its creation."""
    return type_coerce(func.coalesce(LEADS.last_touch_at, LEADS.created_at), UTCDateTime())


def opportunity_touch() -> ColumnElement[dt.datetime]:
    """An opportunity's last touch: the later of `last_touch_at` and `stage_entered_at`, else its creation."""
    o = OPPORTUNITIES
    return type_coerce(case(
        (o.last_touch_at.is_(None), func.coalesce(o.stage_entered_at, o.created_at)),
        (or_(o.stage_entered_at.is_(None), o.last_touch_at >= o.stage_entered_at), o.last_touch_at),
        else_=o.stage_entered_at,
    ), UTCDateTime())


def open_lead() -> ColumnElement[bool]:
    """An open lead (`pipeline.leads.open_lead_condition` on the table's own columns: no ORM on the way)."""
    return and_(LEADS.converted_at.is_(None), LEADS.deleted_at.is_(None),
                or_(LEADS.status.is_(None), LEADS.status.not_in(OPEN_LEAD_EXCLUDED_STATUSES)))


def open_opportunity() -> ColumnElement[bool]:
    """An open opportunity: not closed, not deleted."""
    return and_(OPPORTUNITIES.closed_at.is_(None), OPPORTUNITIES.deleted_at.is_(None))


# -- the job --------------------------------------------------------------------------------------------

def lead_aging(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The lead-aging job: idle days and states of open leads, stale notices, cold leads, rotting opportunities."""
    for name in ("aging", "stale", "cold", "notices", "rotting"):
        outcome.add(name, 0)
    with factory() as session:
        plan = Plan.load(session, as_of)
        lead_ids = session.execute(select(func.min(LEADS.id), func.max(LEADS.id))).one()
        opportunity_ids = session.execute(select(func.min(OPPORTUNITIES.id), func.max(OPPORTUNITIES.id))).one()
    leads = LeadStatements.build(plan)
    for lo, hi in id_ranges(*lead_ids, CHUNK):
        with factory.begin() as session:
            _age_leads(session, plan, leads, lo, hi, outcome)
    opportunities = OpportunityStatements.build(plan)
    for lo, hi in id_ranges(*opportunity_ids, CHUNK):
        with factory.begin() as session:
            outcome.add("rotting", session.scalar(opportunities.rotting, {"lo": lo, "hi": hi}) or 0)
            session.execute(opportunities.update, {"lo": lo, "hi": hi})
            session.execute(opportunities.closed, {"lo": lo, "hi": hi})


def id_ranges(first: int | None, last: int | None, size: int) -> list[tuple[int, int]]:
    """Inclusive id ranges of `size` ids covering first..last (none for an empty table)."""
    if first is None or last is None:
        return []
    return [(lo, min(lo + size - 1, last)) for lo in range(first, last + 1, size)]


@dataclass(frozen=True)
class LeadStatements:
    """The statements of one id range of leads, built once per run (`lo`, `hi` bound per range, `ids` by `among`).

    Two passes over the range: `changes` reads the leads whose state changes (or whose owner is to be told),
    which are then written by id; `idle` writes the idle days of the others that change. Only a state change
    rewrites the state's index entries: SQLite rewrites those of every column SET, changed or not.
    """

    changes: Any  # id, old and new state, idle days and whether to tell, of the leads something happens to
    told: Any  # what the notices about the given ids say
    audit_cold: Any  # the audit rows of the given ids going Cold (before they change)
    cold: Any  # make the given ids Cold
    note_cold: Any  # a note on each of the given ids: `template` with their idle days
    moved: Any  # the new state and idle days of the given ids (no state: those no longer open)
    idle: Any  # the idle days of the rest
    notified: Any  # stamp stale_notified_at on the given ids

    @classmethod
    def build(cls, plan: Plan) -> LeadStatements:
        """Build them for a run's plan."""
        c, touch, idle_days = LEADS, lead_touch(), plan.idle
        idle = idle_days.expression(touch)
        planned = c.id.in_(plan.planned(ACTIVITIES.lead_id))
        goes_cold = and_(~planned, touch < idle_days.cutoff(plan.cold_days))
        warm = (
            (touch < idle_days.cutoff(plan.stale_days), literal("stale", String())),
            (touch < idle_days.cutoff(plan.aging_days), literal("aging", String())),
        )
        state = case((planned, null()), (goes_cold, literal("cold", String())), *warm, else_=null())
        not_cold = case((planned, null()), *warm, else_=null())
        loaded = select(Batch.__table__.c.created_at).where(Batch.__table__.c.id == c.batch_id).scalar_subquery()
        untold = and_(
            state == "stale", or_(c.stale_notified_at.is_(None), c.stale_notified_at < touch),
            or_(c.batch_id.is_(None), touch >= loaded),  # history is not told
        )
        is_open, in_range = open_lead(), c.id.between(_LO, _HI)
        # A lead no longer open loses an aging or stale state; a Cold one keeps its 'cold'.
        closing = and_(~is_open, c.aging_state.is_not(None),
                       ~and_(func.coalesce(c.status, "") == COLD_STATUS, c.aging_state == "cold"))
        table, chosen = Lead.__table__, among(c.id, plan.idle.dialect)
        quiet = {"updated_at": c.updated_at}  # idle days are not an edit of the lead
        return cls(
            changes=select(c.id, c.aging_state, case((is_open, state), else_=null()).label("state"),
                           idle.label("idle"), and_(is_open, untold).label("told"))
            .where(in_range, or_(and_(is_open, or_(state.is_distinct_from(c.aging_state), untold)), closing))
            .with_for_update(of=table),  # PostgreSQL: what is read here is what is written (SQLite: one writer)
            told=select(c.id, c.lead_no, c.first_name, c.last_name, c.company, c.owner_id, c.last_touch_at,
                        touch.label("touch")).where(chosen),
            audit_cold=insert(AuditEntry.__table__).from_select(
                ["at", "user_id", "automation", "action", "module", "record_id", "record_no", "changes"],
                select(literal(plan.as_of, UTCDateTime()), literal(None, Integer()),
                       literal(ACTOR.automation, String()), literal("update", String()), literal("leads", String()),
                       c.id, c.lead_no, _status_change(plan.idle.dialect)).where(chosen),
            ),
            cold=update(table).where(chosen, is_open)
            .values(status=COLD_STATUS, aging_state="cold", idle_days=idle, updated_at=plan.as_of),
            note_cold=insert(Note.__table__).from_select(
                ["body", "author_id", "lead_id", "created_at", "updated_at"],
                select(func.replace(bindparam("template", type_=String()), PLACEHOLDER, cast(c.idle_days, String())),
                       literal(None, Integer()), c.id, literal(plan.as_of, UTCDateTime()),
                       literal(plan.as_of, UTCDateTime())).where(chosen),
            ),
            moved=update(table).where(chosen).values(
                aging_state=case((is_open, not_cold), else_=null()), idle_days=case((is_open, idle), else_=c.idle_days),
                **quiet),
            idle=update(table).where(in_range, is_open, ~goes_cold, c.idle_days.is_distinct_from(idle))
            .values(idle_days=idle, **quiet),
            notified=update(table).where(chosen).values(stale_notified_at=plan.as_of, **quiet),
        )


def _status_change(dialect: str) -> ColumnElement[Any]:
    """The audit row's changes, {"status": [old, "Cold"]}, built by the database from each row's status."""
    key, cold = cast(literal("status"), String()), cast(literal(COLD_STATUS), String())
    if dialect == "postgresql":
        return func.json_build_object(key, func.json_build_array(LEADS.status, cold))
    return func.json_object(key, func.json_array(LEADS.status, cold))


def _age_leads(session: Session, plan: Plan, statements: LeadStatements, lo: int, hi: int, outcome: Outcome) -> None:
    """One id range of leads: states, cold leads with their notes and audit rows, stale notices."""
    dialect, bounds = plan.idle.dialect, {"lo": lo, "hi": hi}
    rows = session.execute(statements.changes, bounds).all()
    entered = Counter(row.state for row in rows if row.state is not None and row.state != row.aging_state)
    for state in ("aging", "stale", "cold"):
        outcome.add(state, entered[state])
    cold = [row for row in rows if row.state == "cold"]
    moved = [row.id for row in rows if row.state != "cold" and row.state != row.aging_state]
    if moved:
        session.execute(statements.moved, {"ids": ids_value(moved, dialect), **bounds})
    if cold:
        ids = ids_value([row.id for row in cold], dialect)
        session.execute(statements.audit_cold, {"ids": ids})
        session.execute(statements.cold, {"ids": ids})
        by_template: dict[str, list[int]] = {}
        for row in cold:
            by_template.setdefault(note_template(plan.language, row.idle, plan.working), []).append(row.id)
        for template, same in by_template.items():
            session.execute(statements.note_cold, {"template": template, "ids": ids_value(same, dialect)})
    session.execute(statements.idle, bounds)
    told = [row.id for row in rows if row.told]
    if told:
        ids = ids_value(told, dialect)
        messages = [m for row in session.execute(statements.told, {"ids": ids}) for m in _stale_notices(plan, row)]
        outbox.enqueue_many(session, messages)
        outcome.add("notices", len(messages))
        session.execute(statements.notified, {"ids": ids})


@lru_cache(maxsize=4096)
def note_template(language: str, days: int, working: bool) -> str:
    """The note on a lead gone Cold after `days` idle days, with `%(num)s` where the days go."""
    words = languages.translations(language)
    if working:
        text = words.ngettext("No activity for %(num)s working day: lead aging set the status to Cold.",
                              "No activity for %(num)s working days: lead aging set the status to Cold.", days)
    else:
        text = words.ngettext("No activity for %(num)s day: lead aging set the status to Cold.",
                              "No activity for %(num)s days: lead aging set the status to Cold.", days)
    return text.replace("%%", "%")


def cold_note(language: str, days: int, working: bool) -> str:
    """The note on a lead that went Cold, saying why."""
    return note_template(language, days, working).replace(PLACEHOLDER, str(days))


def _stale_notices(plan: Plan, row: Any) -> list[dict[str, Any]]:
    """`stale_lead` to the owner and the owner's manager (active ones), keyed by lead, episode and recipient."""
    if row.owner_id is None:
        return []
    staff = plan.staff
    owner = staff.users.get(row.owner_id)
    people = [p for p in (staff.active(row.owner_id), *staff.managers_of(row.owner_id)) if p is not None]
    days = plan.idle.of(row.touch)
    return [
        notice("stale_lead", user, f"stale:{row.id}:{row.touch.isoformat()}:{user.id}", row.id, {
            "lead": lead_reference(row), "owner_name": owner.name if owner is not None else "", "days_idle": days,
            "last_touch_at": shown_time(row.last_touch_at, user, plan.idle.calendar.zone)
            if row.last_touch_at else None,
        })
        for user in {p.id: p for p in people}.values()
    ]


# -- opportunities --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpportunityStatements:
    """The statements of one id range of opportunities, built once per run."""

    rotting: Any  # how many start rotting
    update: Any  # idle days and rotting_since
    closed: Any  # clear rotting_since of closed ones

    @classmethod
    def build(cls, plan: Plan) -> OpportunityStatements:
        """Build them for a run's plan."""
        o, touch, table = OPPORTUNITIES, opportunity_touch(), Opportunity.__table__
        idle = plan.idle.expression(touch)
        planned = o.id.in_(plan.planned(ACTIVITIES.opportunity_id))
        # The cut-off of each stage that rots, as a CASE: a condition on stage_id would tempt SQLite to read
        # the stage's index (every opportunity in it) instead of the id range.
        cutoffs = {stage: literal(plan.idle.cutoff(days + 1), UTCDateTime())
                   for days, stages in plan.rotting.items() for stage in stages}
        rots = and_(~planned, touch < case(cutoffs, value=o.stage_id, else_=null())) if cutoffs else false()
        since = case((rots, func.coalesce(o.rotting_since, plan.as_of)), else_=null())
        in_range = and_(o.id.between(_LO, _HI), open_opportunity())
        return cls(
            rotting=select(func.count()).select_from(table).where(in_range, o.rotting_since.is_(None), rots),
            update=update(table).where(
                in_range, or_(o.idle_days.is_distinct_from(idle), o.rotting_since.is_distinct_from(since)),
            ).values(idle_days=idle, rotting_since=since, updated_at=o.updated_at),
            closed=update(table).where(o.id.between(_LO, _HI), o.rotting_since.is_not(None), ~open_opportunity())
            .values(rotting_since=None, updated_at=o.updated_at),
        )
