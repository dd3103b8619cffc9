"""The daily digest: each member of staff's morning email of the day's work, once per working day.

Who: every active user with `digest_enabled` (reps, and managers or admins who own work too). When: once their
local time — in their own zone, else the company's — has passed their `digest_time` ("HH:MM", else
`models.DIGEST_TIME`, 08:00) on a working day of the company's calendar (`WorkingCalendar.is_working_day` of
their local date), and their `last_digest_on` is not that date. The flow runs every 15 minutes, so a digest
comes within a quarter of an hour of its time; one the flow could not send then is sent at its next run that
day.

What, as My day (`crm_store.staff.my_day`) counts it for the user's local day:
- overdue tasks and tasks due today (open, oldest due first);
- today's calls and meetings not done yet;
- new leads: open leads assigned to them since their previous digest (its date at their digest time; at most
  `NEW_AT_MOST` back), or in the last 24 hours before a first one, newest first;
- aging and stale leads and rotting opportunities, as the nightly lead-aging flow left them (My day's
  `aging_leads` and `rotting_deals`: two reads of an index range each, per user — cheaper than ranking every
  aging lead of every rep at once);
- open opportunities expected to close this week (today to Sunday);
- a manager (someone active users have as `manager_id`, as My day's team counts) also gets each rep's overdue
  tasks (`my_day.team_overdue`) and leads that missed their SLA — owned, open, no first response, and
  escalated (`sla_step` >= 2) or past their deadline (`sla_hours` working minutes since the assignment), as
  sla-escalation's `candidates` finds them; reps with neither are left out.

Each list shows its first `LIMIT` lines and says how many more there are (they are on My day). Every line is
a record reference, so the mail links it to the record's page (`emails/`: `link("record", ...)`).

Once: the users due are read in groups of `USERS_PER_CHUNK`; their lists are read (each list one statement
for the group: tasks, events, new leads and closing deals ranked per user by the database), then, in one
short transaction, each user's date is claimed by a conditional UPDATE of `users.last_digest_on` and only
the users this run claimed get their mail, keyed `digest:<user>:<date>` so the outbox refuses a second copy.
An empty digest is not sent, but its date is claimed all the same: a user with nothing to do at their digest
time gets no mail that day, and the runs after do not read their lists again.

Counted: `emails` (digests queued).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from babel.dates import format_time
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_store import languages
from crm_store.automation.calendar import WorkingCalendar
from crm_store.automation.runs import Outcome
from crm_store.automation.sla_escalation import ESCALATED, REASSIGNED, Policy, candidates
from crm_store.mail import outbox
from crm_store.models import DIGEST_TIME, Currency, Lead, User
from crm_store.records import registry
from crm_store.settings import company
from crm_store.staff import my_day
from crm_store.staff.my_day import Attention, DayTasks
from crm_store.staff.profile import parse_digest_time

LIMIT = 10  # lines per list; the rest are counted ("and 12 more")
FIRST_SINCE = dt.timedelta(hours=24)  # new leads of a user's first digest
NEW_AT_MOST = dt.timedelta(days=7)  # how far back new leads go after a long break
USERS_PER_CHUNK = 200
DEFAULT_TIME = dt.time.fromisoformat(DIGEST_TIME)


@dataclass(frozen=True)
class Recipient:
    """A user whose digest is due: who, their zone and local date, and since when leads are new to them."""

    id: int
    email: str
    name: str
    language: str
    zone: zoneinfo.ZoneInfo
    today: dt.date
    since: dt.datetime
    manages: bool

    @property
    def day(self) -> tuple[dt.datetime, dt.datetime]:
        """The UTC bounds of their local day."""
        start = dt.datetime.combine(self.today, dt.time(), self.zone)
        return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def due(users: list[Any], managers: set[int], calendar: WorkingCalendar, as_of: dt.datetime) -> list[Recipient]:
    """The users whose digest is due as of `as_of`: past their digest time on a working day, not had it that day."""
    found = []
    for user in users:
        zone = _zone(user.time_zone, calendar.zone)
        local = as_of.astimezone(zone)
        today = local.date()
        at = parse_digest_time(user.digest_time) or DEFAULT_TIME
        if user.last_digest_on == today or not calendar.is_working_day(today) or local.time() < at:
            continue
        found.append(Recipient(user.id, user.email, user.name, user.language, zone, today,
                               _since(user.last_digest_on, at, zone, as_of), user.id in managers))
    return found


def _zone(name: str | None, default: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else default
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return default  # a zone this machine does not know: the company's, rather than no digest


def _since(last: dt.date | None, at: dt.time, zone: zoneinfo.ZoneInfo, as_of: dt.datetime) -> dt.datetime:
    """Since when leads are new: the previous digest (its date at the digest time), else the last 24 hours."""
    if last is None:
        return as_of - FIRST_SINCE
    previous = dt.datetime.combine(last, at, zone).astimezone(dt.UTC)
    return as_of - FIRST_SINCE if previous >= as_of else max(previous, as_of - NEW_AT_MOST)


# -- the job --------------------------------------------------------------------------------------------

def daily_digest(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The daily-digest job: queue each due user's digest of the day's work, once per local date."""
    outcome.add("emails", 0)
    with factory() as session:
        calendar = WorkingCalendar.load(session)
        users = list(session.execute(
            select(User.id, User.email, User.name, User.language, User.time_zone, User.digest_time,
                   User.last_digest_on).where(User.active, User.digest_enabled).order_by(User.id)
        ))
        managers = {m for m in session.scalars(select(User.manager_id).where(User.active)) if m is not None}
    recipients = due(users, managers, calendar, as_of)
    for first in range(0, len(recipients), USERS_PER_CHUNK):
        chunk = recipients[first:first + USERS_PER_CHUNK]
        with factory() as session:
            messages = compose(session, chunk, as_of)
        with factory.begin() as session:
            claimed = claim(session, chunk)
            queued = [message for user_id, message in messages.items() if user_id in claimed]
            outbox.enqueue_many(session, queued)
        outcome.add("emails", len(queued))


def claim(session: Session, recipients: list[Recipient]) -> set[int]:
    """Set each user's `last_digest_on` to their local date unless a run did; return the ids this run claimed."""
    by_day: dict[dt.date, list[int]] = {}
    for recipient in recipients:
        by_day.setdefault(recipient.today, []).append(recipient.id)
    claimed: set[int] = set()
    for day, ids in by_day.items():
        claimed.update(session.scalars(
            update(User)
            .where(User.id.in_(ids), User.active, User.digest_enabled,
                   or_(User.last_digest_on.is_(None), User.last_digest_on != day))
            .values(last_digest_on=day)
            .returning(User.id)
            .execution_options(synchronize_session=False)
        ))
    return claimed


# -- what each digest holds ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TeamLine:
    """One of a manager's reps with overdue tasks or leads past their SLA."""

    user_id: int
    name: str
    overdue: int
    sla_missed: int


@dataclass(frozen=True)
class Digest:
    """One user's lists, as read."""

    tasks: DayTasks
    events: Attention
    new_leads: Attention
    aging: Attention
    rotting: Attention
    closing: Attention
    team: list[TeamLine] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether there is nothing to tell."""
        lists = (self.tasks.overdue, self.tasks.due_today, self.events, self.new_leads, self.aging, self.rotting,
                 self.closing)
        return not self.team and not any(found.total for found in lists)


def read(session: Session, recipients: list[Recipient], as_of: dt.datetime) -> dict[int, Digest]:
    """Read the lists of a group of users: one statement per list for all who share a local day."""
    by_day: dict[tuple[str, dt.date], list[Recipient]] = {}
    for recipient in recipients:
        by_day.setdefault((str(recipient.zone), recipient.today), []).append(recipient)
    tasks: dict[int, DayTasks] = {}
    events: dict[int, Attention] = {}
    closing: dict[int, Attention] = {}
    for (_zone_name, today), group in by_day.items():
        ids = [r.id for r in group]
        start, end = group[0].day
        tasks.update(my_day.tasks_of(session, ids, today, LIMIT))
        events.update(my_day.events_of(session, ids, start, end, LIMIT, done=False))
        closing.update(my_day.closing_deals_of(session, ids, today, today + dt.timedelta(days=6 - today.weekday()),
                                               LIMIT))
    new_leads = my_day.new_leads_of(session, {r.id: r.since for r in recipients}, as_of, LIMIT)
    teams = team_lines(session, [r for r in recipients if r.manages], as_of)
    return {r.id: Digest(tasks[r.id], events[r.id], new_leads[r.id], my_day.aging_leads(session, r.id, LIMIT),
                         my_day.rotting_deals(session, r.id, LIMIT), closing[r.id], teams.get(r.id, []))
            for r in recipients}


def team_lines(session: Session, managers: list[Recipient], as_of: dt.datetime) -> dict[int, list[TeamLine]]:
    """Each manager's reps with overdue tasks (as of the manager's day) or leads past their SLA, by name."""
    if not managers:
        return {}
    overdue = {m.id: my_day.team_overdue(session, session.get_one(User, m.id), m.today) for m in managers}
    missed = sla_missed(session, {rep.user_id for reps in overdue.values() for rep in reps}, as_of)
    return {
        manager_id: [TeamLine(rep.user_id, rep.name, rep.overdue, missed[rep.user_id]) for rep in reps
                     if rep.overdue or missed[rep.user_id]]
        for manager_id, reps in overdue.items()
    }


def sla_missed(session: Session, owners: set[int], as_of: dt.datetime) -> Counter[int]:
    """How many leads without a first response each owner has that were escalated or are past their deadline.

    Leads not escalated yet count from the latest assignment whose deadline has come, back as far as
    sla-escalation still chases them (`Policy.lookback`); escalated ones whatever their age."""
    found: Counter[int] = Counter()
    if not owners:
        return found
    policy = Policy.load(session)
    passed, since = deadline_passed(policy.calendar, policy.minutes, as_of), policy.lookback(as_of)
    for step in range(REASSIGNED + 1):
        late = step >= ESCALATED
        leads = (candidates(step, as_of if late else passed, since=None if late else since)
                 .where(Lead.owner_id.in_(owners)).limit(None).order_by(None).subquery())
        found.update(dict(session.execute(select(leads.c.owner_id, func.count()).group_by(leads.c.owner_id)).all()))
    return found


def deadline_passed(calendar: WorkingCalendar, minutes: int, as_of: dt.datetime) -> dt.datetime:
    """The latest assignment whose deadline (`minutes` working minutes later) has come by `as_of`, to the microsecond.

    Working minutes from an assignment to `as_of` only shrink as the assignment moves later, so the moment
    is found by bisection."""
    back = dt.timedelta(days=1)
    while calendar.working_minutes_between(as_of - back, as_of) < minutes:
        back *= 2  # a working calendar has at least a minute a week: this ends
    passed, not_yet = as_of - back, as_of
    while not_yet - passed > dt.timedelta(microseconds=1):
        middle = passed + (not_yet - passed) / 2
        if calendar.working_minutes_between(middle, as_of) >= minutes:
            passed = middle
        else:
            not_yet = middle
    return passed


# -- the mail ---------------------------------------------------------------------------------------------

def compose(session: Session, recipients: list[Recipient], as_of: dt.datetime) -> dict[int, dict[str, Any]]:
    """The outbox rows of the digests of these users that have something to tell, by user id."""
    digests = read(session, recipients, as_of)
    words = Words(
        {code: minor for code, minor in session.execute(select(Currency.code, Currency.minor_unit))},
        str(company.get(session, "idle_days_mode")) == "working",
    )
    return {
        r.id: outbox.message_values(
            "daily_digest", r.email, key=f"digest:{r.id}:{r.today.isoformat()}", language=r.language,
            context=words.context(r, digests[r.id]), recipient_name=r.name, to_staff=True,
        )
        for r in recipients if not digests[r.id].empty
    }


@dataclass(frozen=True)
class Words:
    """How a digest's values are written for its reader: currencies' decimals, idle days in working days or not."""

    minor_units: dict[str, int]
    working_days: bool

    def context(self, r: Recipient, d: Digest) -> dict[str, Any]:
        """The daily_digest template's context (emails/catalog.py) for one user, in their language and zone."""
        code = r.language
        return {
            "recipient_name": r.name,
            "date": languages.format_date(r.today, code),
            "overdue": _section(d.tasks.overdue, lambda t: self.task(t, code)),
            "due_today": _section(d.tasks.due_today, lambda t: self.task(t, code, due=False)),
            "events": _section(d.events, lambda e: self.event(e, code, r.zone)),
            "new_leads": _section(d.new_leads, lambda lead: {
                **_lead(lead), "source": languages.translate_value(code, lead.source) or None}),
            "stale": _section(d.aging, lambda lead: {
                **_lead(lead), "stale": lead.state == "stale", "days_idle": lead.idle_days or 0}),
            "rotting": _section(d.rotting, lambda deal: {
                "number": deal.number, "name": deal.name, "stage": languages.translate_value(code, deal.stage),
                "days_idle": deal.idle_days or 0}),
            "closing": _section(d.closing, lambda deal: {
                "number": deal.number, "name": deal.name, "stage": languages.translate_value(code, deal.stage),
                "close_date": languages.format_date(deal.close_date, code),
                "amount": self.money(deal.amount, deal.currency, code)}),
            "team": [{"name": t.name, "overdue": t.overdue, "sla_missed": t.sla_missed} for t in d.team],
            "idle_in_working_days": self.working_days,
        }

    def task(self, task: my_day.TaskItem, code: str, *, due: bool = True) -> dict[str, Any]:
        """A task's line: subject, due date (not of today's), priority (translated), the record it is about."""
        line = {"subject": task.subject, "priority": languages.translate_value(code, task.priority) or None,
                "related": _ref(task.record)}
        return {**line, "due": languages.format_date(task.due_date, code)} if due else line

    def event(self, event: my_day.EventItem, code: str, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
        """A call's or meeting's line: its time (and end) in the user's zone, subject, place, record."""
        locale = languages.get(code).locale
        time = format_time(event.start_at.astimezone(zone), "short", locale=locale)
        if event.end_at is not None and event.end_at > event.start_at:
            time += " – " + format_time(event.end_at.astimezone(zone), "short", locale=locale)
        return {"time": time, "kind": event.type, "subject": event.subject, "location": event.location or None,
                "related": _ref(event.record)}

    def money(self, amount: Any, currency: str, code: str) -> str | None:
        """An amount with its currency's symbol and decimals, or None."""
        if amount is None:
            return None
        return languages.format_money(amount, currency, self.minor_units.get(currency, 2), code)


def _section(found: Attention, line: Any) -> dict[str, Any]:
    return {"lines": [line(item) for item in found.items], "total": found.total}


def _lead(lead: Any) -> dict[str, Any]:
    return {"number": lead.number, "name": lead.name, "company": lead.company or None}


def _ref(record: my_day.RecordRef | None) -> dict[str, Any] | None:
    """A record reference as the templates take it: {module (its URL segment), number, name}."""
    if record is None:
        return None
    return {"module": registry.get(record.module).path, "number": record.number, "name": record.title}
