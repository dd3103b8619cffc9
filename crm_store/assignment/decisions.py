"""Deciding who gets each lead: the first rule that matches, its user or team, else the unassigned pool.

Everything is read once per batch of leads — the active rules, the teams they name (their pointers under a
row lock, in team id order), the users they name and those users' managers — and the owners are decided
in memory, so a batch of thousands costs a handful of queries. Nothing is written here: `handover` does.

- A rule naming a user: that user, when active and not out of the office; else their manager, who is told.
- A rule naming a team: the team's strategy (`round_robin.TeamRotation`); with no member able to take it,
  the team's manager, who is told.
- No rule matches (or the fallback has no active manager): the `unassigned_pool` company setting — a
  user's email gives the lead to that user (as a rule naming them would), a team's name leaves it unowned
  in that team's pool, an empty setting leaves it unowned. A setting naming nobody leaves the lead
  undecided (the next run tries again) and says so in `problems`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.assignment.conditions import Condition, FieldReader
from crm_store.assignment.round_robin import TeamRotation, is_available, load_teams
from crm_store.models import Team, User
from crm_store.settings import company

REASON_LIMIT = 255  # Lead.assignment_reason
USER_COLUMNS = (
    User.id, User.email, User.name, User.language, User.time_zone, User.active, User.out_of_office_from,
    User.out_of_office_to, User.manager_id,
)
# Kinds of decision: given to a rule's user or team member, to a manager for want of one, to the pool's
# user; left unowned in a team's pool, or with no pool at all; not decided (the pool setting names nobody).
KINDS = ("rule", "manager", "pool_user", "pool", "unassigned", "undecided")


@dataclass(frozen=True)
class ActiveRule:
    """An active assignment rule, checked: conditions that must all hold, and its user or team."""

    id: int
    name: str
    conditions: tuple[Condition, ...]
    user_id: int | None
    team_id: int | None

    def matches(self, lead: Mapping[str, Any], reader: FieldReader) -> bool:
        """Whether every condition holds for the lead."""
        return all(c.holds(reader.texts(lead, c.field)) for c in self.conditions)


@dataclass(slots=True)
class Decision:
    """Who gets one lead and why; `owner` is a user row (None: left unowned), `reason` None when undecided.

    `told` is ("team" or "user", name) of who could not take it when the lead went to a manager instead.
    """

    lead: Mapping[str, Any]
    owner: Any
    reason: str | None
    kind: str
    told: tuple[str, str] | None = None
    lead_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.lead_id = int(self.lead["id"])


@dataclass
class Decider:
    """Decides owners for batches of leads against one set of rules, at one moment."""

    session: Session
    at: dt.datetime
    rules: Sequence[ActiveRule]
    exclude_owner: bool = False
    reason_prefix: str | None = None
    problems: list[str] = field(default_factory=list)
    _reader: FieldReader = field(init=False)
    _pool: str = field(init=False)  # the unassigned_pool setting as typed
    _teams: dict[int, TeamRotation] = field(init=False, default_factory=dict)
    _users: dict[int, Any] = field(init=False, default_factory=dict)
    _pool_user: Any = field(init=False, default=None)
    _pool_team: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._reader = FieldReader(self.session, {c.field for r in self.rules for c in r.conditions})
        self._pool = str(company.get(self.session, "unassigned_pool") or "").strip()

    def decide(self, leads: Sequence[Mapping[str, Any]]) -> list[Decision]:
        """Decide each lead's owner; the teams' turns are taken (and their pointers locked) on the way."""
        matched = [(lead, self._first_match(lead)) for lead in leads]
        self._teams = load_teams(self.session, {rule.team_id for _, rule in matched if rule and rule.team_id})
        pool_user_id, self._pool_team = self._read_pool()
        self._users = _users_and_managers(self.session, [
            *(rule.user_id for rule in self.rules if rule.user_id),
            *(team.manager_id for team in self._teams.values() if team.manager_id),
            *([pool_user_id] if pool_user_id else []),
        ])
        self._pool_user = self._users.get(pool_user_id or 0)
        decisions = [self._decide(lead, rule) for lead, rule in matched]
        for rotation in self._teams.values():
            rotation.save(self.session)
        return decisions

    def _first_match(self, lead: Mapping[str, Any]) -> ActiveRule | None:
        return next((rule for rule in self.rules if rule.matches(lead, self._reader)), None)

    def _decide(self, lead: Mapping[str, Any], rule: ActiveRule | None) -> Decision:
        exclude = lead["owner_id"] if self.exclude_owner else None
        team = self._teams.get(rule.team_id) if rule is not None and rule.team_id is not None else None
        if rule is not None and team is not None:
            member = team.take(self.at, exclude)
            if member is not None:
                return self._made(lead, member, f"rule '{rule.name}' → team {team.name} ({team.strategy})", "rule")
            why = f"rule '{rule.name}' → team {team.name}: no member available"
            return self._to_manager(lead, self._users.get(team.manager_id or 0), why, ("team", team.name), exclude)
        if rule is not None and rule.user_id is not None:
            return self._to_user(lead, self._users.get(rule.user_id), f"rule '{rule.name}'", "rule", exclude)
        return self._from_pool(lead, "no rule matched", exclude)

    def _to_user(self, lead: Mapping[str, Any], user: Any, why: str, kind: str, exclude: int | None) -> Decision:
        """The user, if they can take it; else their manager, who is told."""
        if user is not None and user.id != exclude and is_available(user, self.at):
            return self._made(lead, user, f"{why} → {user.email}", kind)
        if user is None:
            return self._from_pool(lead, f"{why}: no such user", exclude, pool_user=kind == "pool_user")
        manager = self._users.get(user.manager_id or 0)
        return self._to_manager(lead, manager, f"{why} → {user.email} unavailable", ("user", user.name), exclude,
                                pool_user=kind == "pool_user")

    def _to_manager(self, lead: Mapping[str, Any], manager: Any, why: str, told: tuple[str, str],
                    exclude: int | None, *, pool_user: bool = False) -> Decision:
        """The manager of a team or user that could not take the lead; else the pool."""
        if manager is not None and manager.active and manager.id != exclude:
            return self._made(lead, manager, f"{why} → manager {manager.email}", "manager", told)
        return self._from_pool(lead, f"{why}, no manager", exclude, pool_user=pool_user)

    def _from_pool(self, lead: Mapping[str, Any], why: str, exclude: int | None, *, pool_user: bool = False
                   ) -> Decision:
        """What `unassigned_pool` says; `pool_user` when the pool's own user could not take it."""
        if self._pool_team is not None:
            return self._made(lead, None, f"pool: {self._pool_team} ({why})", "pool")
        if self._pool_user is not None and not pool_user:
            return self._to_user(lead, self._pool_user, f"{why} → unassigned_pool", "pool_user", exclude)
        if self._pool and self._pool_user is None:
            if not self.problems:
                self.problems.append(f"unassigned_pool {self._pool!r} names no user or team: the leads no rule "
                                     "assigns stay unassigned until it does")
            return Decision(lead, None, None, "undecided")
        return self._made(lead, None, f"{why}: left unassigned", "unassigned")

    def _made(self, lead: Mapping[str, Any], owner: Any, reason: str, kind: str,
              told: tuple[str, str] | None = None) -> Decision:
        if self.reason_prefix:
            reason = f"{reason}; {self.reason_prefix}"
        if len(reason) > REASON_LIMIT:
            reason = reason[: REASON_LIMIT - 1] + "…"
        return Decision(lead, owner, reason, kind, told)

    def _read_pool(self) -> tuple[int | None, str | None]:
        """The pool setting as (user id, team name); (None, None) when it is empty or names nobody."""
        if not self._pool:
            return None, None
        if "@" in self._pool:
            return self.session.scalar(select(User.id).where(User.email == self._pool.lower())), None
        return None, self.session.scalar(select(Team.name).where(Team.name == self._pool))


def _users_and_managers(session: Session, user_ids: Iterable[int]) -> dict[int, Any]:
    """The rows of these users and of their managers, by id."""
    found: dict[int, Any] = {}
    wanted = set(user_ids)
    for _ in range(2):  # the users, then the managers of those who have one
        wanted -= found.keys()
        if not wanted:
            break
        rows = session.execute(select(*USER_COLUMNS).where(User.id.in_(wanted)))
        found.update({row.id: row for row in rows})
        wanted = {row.manager_id for row in found.values() if row.manager_id is not None}
    return found
