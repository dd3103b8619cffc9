"""Assignment rules: the ordered list that gives unassigned leads an owner, and applying it.

Rules are kept in `assignment_rules` in order (positions 1, 2, 3…); the first active rule whose conditions
all hold for a lead decides it (`decisions`), and `handover` writes the outcome. `crm rules` and the admin
pages edit the list through the functions here; the assign-leads flow, the SLA escalation and
`crm users deactivate --reassign-by-rules` apply it through `assign_by_rules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.assignment import conditions as cond
from crm_store.assignment.decisions import ActiveRule, Decider, Decision
from crm_store.assignment.handover import hand_over
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import AssignmentRule, Lead, Team, User
from crm_store.pipeline.leads import open_lead_condition
from crm_store.records.lines import one_line

AUTOMATION = "assignment-rules"  # who the audit trail says assigned, unless the caller names someone
CHUNK = 5000  # leads per statement
# What every decision reads of a lead besides the fields the rules look at.
BASE_COLUMNS = ("id", "lead_no", "first_name", "last_name", "company", "lead_source", "owner_id",
                "assignment_reason")

NO_SUCH_RULE = N_("no assignment rule named %(name)s")
ONE_TARGET = N_("give a user or a team to assign to, not both")
BAD_POSITION = N_("must be a whole number from 1 to %(last)s (got %(value)s)")


# -- the list of rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    """A rule as `crm rules list` shows it."""

    position: int
    name: str
    conditions: list[str]
    target: str  # "user rep@example.com" or "team Sales"
    active: bool


def listing(session: Session) -> list[RuleRow]:
    """The rules in order, with their conditions and targets in words."""
    rows = session.execute(
        select(AssignmentRule, User.email, Team.name).outerjoin(User, User.id == AssignmentRule.user_id)
        .outerjoin(Team, Team.id == AssignmentRule.team_id).order_by(AssignmentRule.position, AssignmentRule.id)
    )
    return [
        RuleRow(rule.position, rule.name, [c.describe() for c in cond.check_all(rule.conditions)],
                f"team {team}" if rule.team_id is not None else f"user {email}", rule.active)
        for rule, email, team in rows
    ]


def add_rule(
    session: Session, name: str, conditions: Sequence[Any], *, user: str | None = None, team: str | None = None,
    position: int | None = None, active: bool = True,
) -> AssignmentRule:
    """Add a rule at `position` (default: last); the rules from there on move down one."""
    name = one_line("name", (name or "").strip())
    if not name or len(name) > 100:
        raise ValidationError("name", N_("must be 1 to 100 characters"))
    if session.scalar(select(AssignmentRule.id).where(AssignmentRule.name == name)) is not None:
        raise ValidationError("name", N_("a rule named %(name)s already exists"), name=repr(name))
    checked = cond.check_all(conditions)
    if (user is None) == (team is None):
        raise ValidationError("target", ONE_TARGET)
    user_id = _active_user(session, user) if user is not None else None
    team_id = _team(session, team) if team is not None else None
    rules = _ordered(session)
    at = _position("position", position, len(rules) + 1) if position is not None else len(rules) + 1
    rule = AssignmentRule(name=name, conditions=[c.stored() for c in checked], user_id=user_id, team_id=team_id,
                          active=active, position=at)
    session.add(rule)
    _renumber(session, [*rules[: at - 1], rule, *rules[at - 1 :]])
    return rule


def remove_rule(session: Session, name: str) -> None:
    """Remove a rule; the ones after it move up."""
    rule = find_rule(session, name)
    session.delete(rule)
    session.flush()
    _renumber(session, _ordered(session))


def move_rule(session: Session, name: str, position: int) -> AssignmentRule:
    """Put a rule at `position` (1 = tried first)."""
    rule = find_rule(session, name)
    others = [r for r in _ordered(session) if r.id != rule.id]
    at = _position("position", position, len(others) + 1)
    _renumber(session, [*others[: at - 1], rule, *others[at - 1 :]])
    return rule


def set_active(session: Session, name: str, active: bool) -> AssignmentRule:
    """Switch a rule on or off (an inactive rule keeps its place but matches nothing)."""
    rule = find_rule(session, name)
    rule.active = active
    session.flush()
    return rule


def find_rule(session: Session, name: str) -> AssignmentRule:
    """The rule with this name; fail with a clear message."""
    rule = session.scalar(select(AssignmentRule).where(AssignmentRule.name == (name or "").strip()))
    if rule is None:
        raise NotFound(NO_SUCH_RULE % {"name": repr(name)})
    return rule


def active_rules(session: Session) -> list[ActiveRule]:
    """The active rules in order, checked."""
    rows = session.scalars(
        select(AssignmentRule).where(AssignmentRule.active).order_by(AssignmentRule.position, AssignmentRule.id)
    )
    return [ActiveRule(r.id, r.name, tuple(cond.check_all(r.conditions)), r.user_id, r.team_id) for r in rows]


def _ordered(session: Session) -> list[AssignmentRule]:
    return list(session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)))


def _renumber(session: Session, rules: Sequence[AssignmentRule]) -> None:
    for i, rule in enumerate(rules, start=1):
        rule.position = i
    session.flush()


def _position(field_name: str, value: Any, last: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= last:
        raise ValidationError(field_name, BAD_POSITION, last=last, value=value)
    return value


def _active_user(session: Session, email: str) -> int:
    user = session.execute(select(User.id, User.active).where(User.email == email.strip().lower())).first()
    if user is None:
        raise ValidationError("user", N_("no user with email %(email)s"), email=repr(email))
    if not user.active:
        raise ValidationError("user", N_("%(email)s is inactive"), email=email.strip().lower())
    return int(user.id)


def _team(session: Session, name: str) -> int:
    team_id = session.scalar(select(Team.id).where(Team.name == name.strip()))
    if team_id is None:
        raise ValidationError("team", N_("no team named %(name)s"), name=repr(name))
    return int(team_id)


# -- applying them --------------------------------------------------------------------------------------


@dataclass
class Assignment:
    """What applying the rules to some leads did."""

    owners: dict[int, int | None] = field(default_factory=dict)  # lead id -> new owner (None: left unowned)
    messages: dict[Any, str] = field(default_factory=dict)  # the new owners' messages, from batch to batch
    counts: dict[str, int] = field(default_factory=dict)  # by decision kind, plus emails and cadences_started
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, n: int) -> None:
        """Count `n` more of something."""
        self.counts[name] = self.counts.get(name, 0) + n


def assign_by_rules(
    session: Session, lead_ids: Sequence[int], at: dt.datetime, *, reason_prefix: str | None = None,
    exclude_owner: bool = False, actor: Actor | None = None,
) -> dict[int, int | None]:
    """Give these open leads owners by the rules, at `at`; return lead id -> new owner (None: left unowned).

    Audits each with its reason, sets `assigned_at` and `assignment_reason`, starts the cadence of each newly
    owned lead and queues one `leads_assigned` message per new owner. `exclude_owner`: a lead may not go
    back to its current owner (a reassignment). Leads the pool leaves undecided, and leads that are not
    open, are not in the result. In the caller's transaction.
    """
    found, rules = Assignment(), active_rules(session)
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), CHUNK):
        stmt = lead_rows(rules).where(Lead.id.in_(ids[start : start + CHUNK]), open_lead_condition())
        apply_rules(session, rules, stmt.order_by(Lead.id).with_for_update(key_share=True), at, found,
                    reason_prefix=reason_prefix, exclude_owner=exclude_owner, actor=actor)
    return found.owners


def lead_rows(rules: Sequence[ActiveRule]) -> Select[Any]:
    """Select what deciding needs of leads under these rules (the caller adds which leads)."""
    names = [*BASE_COLUMNS, *sorted(cond.columns_read(c for r in rules for c in r.conditions) - set(BASE_COLUMNS))]
    return select(*(Lead.__table__.c[name] for name in names))


def apply_rules(
    session: Session, rules: Sequence[ActiveRule], stmt: Select[Any], at: dt.datetime, found: Assignment, *,
    reason_prefix: str | None = None, exclude_owner: bool = False, actor: Actor | None = None,
) -> list[int]:
    """Decide and write the owners of the leads `stmt` selects (`lead_rows(rules)`); return the ids read."""
    leads: list[Any] = [row._mapping for row in session.execute(stmt)]
    if not leads:
        return []
    decider = Decider(session, at, rules, exclude_owner=exclude_owner, reason_prefix=reason_prefix)
    decisions = decider.decide(leads)
    handed = hand_over(session, decisions, at, actor or Actor.system(AUTOMATION), found.messages)
    _count(found, handed.written)
    found.add("undecided", sum(d.reason is None for d in decisions))
    found.add("emails", handed.emails)
    found.add("cadences_started", handed.cadences)
    found.problems.extend(p for p in decider.problems if p not in found.problems)
    return [int(lead["id"]) for lead in leads]


def _count(found: Assignment, written: list[Decision]) -> None:
    for d in written:
        found.owners[d.lead_id] = d.owner.id if d.owner is not None else None
    found.add("assigned", sum(d.owner is not None for d in written))
    found.add("to_manager", sum(d.kind == "manager" for d in written))
    found.add("pooled", sum(d.kind == "pool" for d in written))
    found.add("unassigned", sum(d.kind == "unassigned" for d in written))
