"""Speed-to-lead: a lead assigned without a first response is chased, step by step, each step once.

The SLA is `sla_hours` working hours from `assigned_at` (the working calendar: days, hours, holidays),
measured in working minutes; its deadline is `calendar.add_working_minutes(assigned_at, sla_hours * 60)`.

- Step 1, at 75 % of those minutes: the owner gets `sla_reminder` (the working minutes left, the deadline).
- Step 2, at twice the limit: the owner's manager gets `sla_escalation` (the working minutes past the
  deadline). The manager is the owner's `manager_id`; without one, the managers of the owner's teams;
  without those, the active admins — an SLA miss always reaches someone who can act.
- Step 3, at three times the limit and only with `sla_reassign` on: the lead is reassigned by the rules
  (`assign_by_rules(..., exclude_owner=True)`, its reason starting "SLA missed"). A lead that leaves its
  owner starts a fresh SLA: `sla_step` back to 0 (set here, whatever the assignment does) and, with its
  new owner, a new `assigned_at`, so they are reminded and their manager told in turn; one the rules put
  in a team's pool starts its SLA when someone takes it. A lead the rules cannot give to anyone else
  keeps its owner and step 3 and is not tried again until it is assigned anew.

A lead past several thresholds at once (the flow did not run for a while) gets what still makes sense:
the reminder only before the deadline (after it, "time left" would be a lie; the step is recorded
without mail), the manager's notice whenever twice the limit has passed and it was not sent (also when
the same run reassigns: the manager hears of the miss either way), the reassignment at three times.

Leads are chased for at least `CATCH_UP` (two weeks) after their last step fell due: a run after an
outage catches up on those, while older leads without a response — a big import's, or those from before
this flow ran — are left to lead aging (stale, cold) instead of flooding managers with escalations. That
also keeps each run's read short on a store of a million leads.

Candidates: owned, open, `first_response_at` empty and no completed activity since the assignment (by a
person, as `cadence.on_activity_completed` counts a first response), not history (an import or demo
batch assigned it before the batch was loaded). They are read through `ix_leads_sla` (first_response_at,
sla_step, assigned_at), one step at a time and only as far back as that step's next threshold could
have passed, in chunks of `CHUNK`, each in its own transaction.

Counted: `reminded` (reminders queued), `escalated` (leads whose manager was told), `reassigned` (leads
that left their owner, for someone else or a team's pool).

Once, even with two runs at the same time: a step is claimed by a conditional UPDATE (`sla_step < k`
for the same `assigned_at`) and only the run whose UPDATE changed the row acts on it; each mail has an
idempotency key per lead, assignment and step (and recipient), so the outbox refuses a second copy.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from crm_store import languages
from crm_store.assignment.rules import assign_by_rules
from crm_store.automation.calendar import WorkingCalendar
from crm_store.automation.runs import CHUNK, Outcome
from crm_store.mail import outbox
from crm_store.models import Activity, Batch, Lead, Team, TeamMember, User
from crm_store.pipeline.leads import open_lead_condition
from crm_store.records.names import display_name
from crm_store.settings import company

REMINDED, ESCALATED, REASSIGNED = 1, 2, 3  # Lead.sla_step
REASON = "SLA missed"  # the start of a reassigned lead's assignment_reason
CATCH_UP = dt.timedelta(days=14)  # how long after its last step fell due a lead is still chased


# -- the people told ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Staff:
    """The users an automation may write to, read once per run, with who manages whom."""

    users: dict[int, Any]  # id -> row: id, email, name, language, time_zone, active, role, manager_id
    team_managers: dict[int, tuple[int, ...]]  # user id -> the managers of the teams they are in

    @classmethod
    def load(cls, session: Session) -> Staff:
        """Read the users and the teams' managers."""
        users = {row.id: row for row in session.execute(select(
            User.id, User.email, User.name, User.language, User.time_zone, User.active, User.role, User.manager_id,
        ))}
        managers: dict[int, list[int]] = {}
        for user_id, manager_id in session.execute(
            select(TeamMember.user_id, Team.manager_id).join(Team, Team.id == TeamMember.team_id)
            .where(Team.manager_id.is_not(None)).order_by(Team.id)
        ):
            if manager_id is not None and manager_id not in managers.setdefault(user_id, []):
                managers[user_id].append(manager_id)
        return cls(users, {k: tuple(v) for k, v in managers.items()})

    def active(self, user_id: int | None) -> Any | None:
        """An active user by id, else None."""
        user = self.users.get(user_id) if user_id is not None else None
        return user if user is not None and user.active else None

    def managers_of(self, user_id: int, *, or_admins: bool = False) -> list[Any]:
        """Who is above a user: their manager; else their teams' managers; else (`or_admins`) the active admins.

        Only active users other than the user themself; an empty list when there is nobody.
        """
        user = self.users.get(user_id)
        direct = [self.active(user.manager_id)] if user is not None else []
        for found in (direct, [self.active(m) for m in self.team_managers.get(user_id, ())]):
            people = [m for m in found if m is not None and m.id != user_id]
            if people:
                return people
        if not or_admins:
            return []
        return [u for u in self.users.values() if u.role == "admin" and u.active and u.id != user_id]


def shown_time(moment: dt.datetime, user: Any, default_zone: zoneinfo.ZoneInfo) -> str:
    """A moment as a user reads it in a mail: their language, their zone (else the company's), its abbreviation."""
    zone = zoneinfo.ZoneInfo(user.time_zone) if user.time_zone else default_zone
    local = moment.astimezone(zone)
    return f"{languages.format_datetime(moment, user.language, zone)} {local.tzname()}"


def lead_reference(row: Any) -> dict[str, Any]:
    """A lead as the mail templates take it: {number, name, company}."""
    return {"number": row.lead_no, "name": display_name(row.first_name, row.last_name), "company": row.company}


def notice(template: str, user: Any, key: str, lead_id: int, context: dict[str, Any]) -> dict[str, Any]:
    """The outbox row of a notice to a member of staff about a lead."""
    return outbox.message_values(
        template, user.email, key=key, context={"recipient_name": user.name, **context}, language=user.language,
        recipient_name=user.name, to_staff=True, record_module="leads", record_id=lead_id,
    )


# -- the policy -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    """The SLA of this run: its length in working minutes, whether step 3 reassigns, the calendar, the staff."""

    minutes: int
    reassign: bool
    calendar: WorkingCalendar
    staff: Staff

    @classmethod
    def load(cls, session: Session) -> Policy:
        """Read `sla_hours`, `sla_reassign`, the working calendar and the users."""
        return cls(
            int(company.get(session, "sla_hours")) * 60, bool(company.get(session, "sla_reassign")),
            WorkingCalendar.load(session), Staff.load(session),
        )

    def target(self, worked: int) -> int:
        """The step a lead has reached after `worked` working minutes without a response."""
        if self.reassign and worked >= 3 * self.minutes:
            return REASSIGNED
        if worked >= 2 * self.minutes:
            return ESCALATED
        return REMINDED if worked >= self.minutes * 3 // 4 else 0

    def lookback(self, as_of: dt.datetime) -> dt.datetime:
        """How far back leads are chased: `CATCH_UP` before the last step of a lead assigned then fell due, or more.

        The time the last step takes is found by doubling a span of days until it holds that many working
        minutes, so it may be up to twice as long (a bound, not a deadline)."""
        last = (3 if self.reassign else 2) * self.minutes
        back = dt.timedelta(days=1)
        while self.calendar.working_minutes_between(as_of - back, as_of) < last:
            back *= 2  # a working calendar has at least a minute a week: this ends
        return as_of - back - CATCH_UP

    def next_threshold(self, step: int) -> int | None:
        """The working minutes a lead at `step` needs before its next step (None: it has none)."""
        return {0: self.minutes * 3 // 4, 1: 2 * self.minutes, 2: 3 * self.minutes if self.reassign else None}.get(step)


# -- the job --------------------------------------------------------------------------------------------

def sla_escalation(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The sla-escalation job: remind owners, tell managers and reassign leads still without a first response."""
    for name in ("reminded", "escalated", "reassigned"):
        outcome.add(name, 0)
    with factory() as session:
        policy = Policy.load(session)
    since = policy.lookback(as_of)
    # Latest step first: a lead moved on in this run is not met again at its new step.
    for step in (ESCALATED, REMINDED, 0):
        threshold = policy.next_threshold(step)
        if threshold is None:
            continue
        # Working minutes never outrun the clock: a lead assigned later cannot have reached the threshold.
        bound = as_of - dt.timedelta(minutes=threshold)
        after: tuple[dt.datetime, int] | None = None
        while True:
            with factory.begin() as session:
                rows = session.execute(candidates(step, bound, after, since=since)).all()
                if rows:
                    _act(session, policy, rows, as_of, outcome)
            if len(rows) < CHUNK:
                break
            after = (rows[-1].assigned_at, rows[-1].id)


def candidates(
    step: int, bound: dt.datetime, after: tuple[dt.datetime, int] | None = None, *, since: dt.datetime | None = None
) -> Select[*tuple[Any, ...]]:
    """Leads at `step` assigned from `since` to `bound` without a first response, in (assigned_at, id) order
    after `after`."""
    responded = exists().where(
        Activity.lead_id == Lead.id, Activity.completed_at.is_not(None), Activity.completed_at >= Lead.assigned_at,
        Activity.deleted_at.is_(None),
        or_(Activity.completed_by_id.is_not(None), Activity.created_by_automation.is_(None)),
    )
    stmt: Select[*tuple[Any, ...]] = (
        select(Lead.id, Lead.lead_no, Lead.first_name, Lead.last_name, Lead.company, Lead.owner_id,
               Lead.assigned_at, Lead.sla_step)
        .outerjoin(Batch, Batch.id == Lead.batch_id)
        .where(
            Lead.first_response_at.is_(None), Lead.sla_step == step, Lead.assigned_at <= bound,
            Lead.owner_id.is_not(None), open_lead_condition(), ~responded,
            or_(Lead.batch_id.is_(None), Lead.assigned_at >= Batch.created_at),
        )
        .order_by(Lead.assigned_at, Lead.id).limit(CHUNK)
    )
    if since is not None:
        stmt = stmt.where(Lead.assigned_at >= since)
    if after is not None:
        stmt = stmt.where(or_(Lead.assigned_at > after[0], and_(Lead.assigned_at == after[0], Lead.id > after[1])))
    return stmt


def _act(session: Session, policy: Policy, rows: Sequence[Any], as_of: dt.datetime, outcome: Outcome) -> None:
    """Take each lead of a chunk to the step it has reached, acting on the ones this run claimed."""
    by_target: dict[int, list[tuple[Any, int]]] = {}
    for row in rows:
        worked = policy.calendar.working_minutes_between(row.assigned_at, as_of)
        target = policy.target(worked)
        if target > row.sla_step:
            by_target.setdefault(target, []).append((row, worked))
    messages: list[dict[str, Any]] = []
    for target, items in sorted(by_target.items()):
        claimed = _claim(session, target, [row for row, _ in items])
        won = [(row, worked) for row, worked in items if row.id in claimed]
        for row, worked in won:
            deadline = policy.calendar.add_working_minutes(row.assigned_at, policy.minutes)
            if target == REMINDED and worked < policy.minutes:
                reminder = _reminder(policy, row, worked, deadline)
                messages.extend(reminder)
                outcome.add("reminded", len(reminder))
            if target >= ESCALATED and row.sla_step < ESCALATED:
                told = _escalation(policy, row, worked, deadline)
                messages.extend(told)
                outcome.add("escalated", 1 if told else 0)
        if target == REASSIGNED and won:
            outcome.add("reassigned", _reassign(session, [row for row, _ in won], as_of))
    outbox.enqueue_many(session, messages)


def _claim(session: Session, step: int, rows: Sequence[Any]) -> set[int]:
    """Move leads to `step` if no run did it before for the same assignment; return the ids this run moved."""
    moved = session.scalars(
        update(Lead)
        .where(tuple_(Lead.id, Lead.assigned_at).in_([(row.id, row.assigned_at) for row in rows]),
               Lead.sla_step < step, Lead.first_response_at.is_(None))
        .values(sla_step=step, updated_at=Lead.updated_at)  # a step taken is not an edit of the lead
        .returning(Lead.id)
        .execution_options(synchronize_session=False)
    )
    return set(moved)


def _key(row: Any, step: str, recipient: int | None = None) -> str:
    tail = f":{recipient}" if recipient is not None else ""
    return f"sla:{row.id}:{row.assigned_at.isoformat()}:{step}{tail}"


def _reminder(policy: Policy, row: Any, worked: int, deadline: dt.datetime) -> list[dict[str, Any]]:
    owner = policy.staff.active(row.owner_id)
    if owner is None:
        return []
    return [notice("sla_reminder", owner, _key(row, "reminder"), row.id, {
        "lead": lead_reference(row), "minutes_left": policy.minutes - worked,
        "deadline": shown_time(deadline, owner, policy.calendar.zone),
    })]


def _escalation(policy: Policy, row: Any, worked: int, deadline: dt.datetime) -> list[dict[str, Any]]:
    owner = policy.staff.users.get(row.owner_id)
    owner_name = owner.name if owner is not None else ""
    return [
        notice("sla_escalation", manager, _key(row, "escalation", manager.id), row.id, {
            "lead": lead_reference(row), "owner_name": owner_name, "minutes_late": worked - policy.minutes,
            "deadline": shown_time(deadline, manager, policy.calendar.zone),
        })
        for manager in policy.staff.managers_of(row.owner_id, or_admins=True)
    ]


def _reassign(session: Session, rows: Sequence[Any], as_of: dt.datetime) -> int:
    """Reassign leads by the rules away from their owner; each that left its owner starts a fresh SLA."""
    before = {row.id: row.owner_id for row in rows}
    owners = assign_by_rules(session, list(before), as_of, reason_prefix=REASON, exclude_owner=True)
    moved = [lead_id for lead_id, owner in owners.items() if owner != before.get(lead_id)]
    if moved:
        session.execute(
            update(Lead).where(Lead.id.in_(moved), Lead.sla_step == REASSIGNED)
            .values(sla_step=0, updated_at=Lead.updated_at).execution_options(synchronize_session=False)
        )
    return len(moved)
