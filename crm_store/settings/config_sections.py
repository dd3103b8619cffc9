"""The sections of the configuration file: each read from the store, checked from a file, and applied.

A section has one form in the file and in `read` (what `crm config export` writes), so an import is
compared with the store entry by entry: what it would add, change and remove. `assignment_rules`,
`cadences` and `playbooks` replace the store's whole list (what the file leaves out is removed); `teams`
and `thresholds` set what they give and leave the rest as it is (teams, their members and the settings
are not created or removed by a file). Checks reuse the store's own: rule conditions
(`assignment.conditions`), team strategies, the company settings' parsers, the task priority picklist.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.assignment import conditions as cond
from crm_store.errors import ValidationError
from crm_store.models import (
    ASSIGNMENT_STRATEGIES,
    AssignmentRule,
    Cadence,
    Team,
    TeamMember,
    User,
)
from crm_store.settings.config_checks import Checker, FlowList, FlowMap, Path, by_name, dotted, set_changed
from crm_store.settings.config_playbooks import check_playbooks, playbook_entries, read_playbooks, write_playbooks
from crm_store.settings.config_thresholds import check_thresholds, read_thresholds, threshold_entries, write_thresholds


@dataclass(frozen=True)
class Counts:
    """What importing a section would do to the store."""

    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Section:
    """One section of the file: read from the store, checked from a file, its entries compared, applied."""

    name: str
    read: Callable[[Session], Any]
    check: Callable[[Checker, Any, Path], Any]  # None when it has problems (noted in the checker)
    entries: Callable[[Any], Mapping[Hashable, Any]]  # what is compared, entry by entry
    apply: Callable[[Session, Any], None]
    replaces: bool  # entries the file leaves out are removed

    def counts(self, current: Any, wanted: Any) -> Counts:
        """What replacing `current` with `wanted` adds, changes and removes."""
        before, after = self.entries(current), self.entries(wanted)
        return Counts(
            added=sum(key not in before for key in after),
            changed=sum(key in before and before[key] != value for key, value in after.items()),
            removed=sum(key not in after for key in before) if self.replaces else 0,
        )


# -- assignment_rules: the ordered list, first match wins --------------------------------------------------

RULE_KEYS = ("name", "conditions", "user", "team", "active")
CONDITION_KEYS = ("field", "op", "value")


def read_rules(session: Session) -> list[dict[str, Any]]:
    """The rules in order: name, conditions, the user's email or the team's name, active."""
    rows = session.execute(
        select(AssignmentRule, User.email, Team.name).outerjoin(User, User.id == AssignmentRule.user_id)
        .outerjoin(Team, Team.id == AssignmentRule.team_id).order_by(AssignmentRule.position, AssignmentRule.id)
    )
    return [
        {"name": rule.name, "conditions": [FlowMap(c.stored()) for c in cond.check_all(rule.conditions)],
         **({"team": team} if rule.team_id is not None else {"user": email}), "active": rule.active}
        for rule, email, team in rows
    ]


def check_rules(c: Checker, raw: Any, at: Path) -> list[dict[str, Any]] | None:
    """The rules of a file, in the order they are tried."""
    items = c.listed(raw, at, "rules ({name, conditions, user or team, active})")
    if items is None:
        return None
    out: list[dict[str, Any]] = []
    first: dict[str, Path] = {}
    for i, item in enumerate(items):
        here = (*at, i)
        rule = c.mapping(item, here, RULE_KEYS, required=("name",))
        if rule is None:
            continue
        name = c.text(rule.get("name"), (*here, "name"), 100) if "name" in rule else None
        if name is not None and name in first:
            c.problem((*here, "name"), f"another rule has this name ({dotted(first[name])})")
        elif name is not None:
            first[name] = here
        conditions = _conditions(c, rule.get("conditions"), (*here, "conditions"))
        active = c.flag(rule.get("active", True), (*here, "active"))
        target = _target(c, rule, here, active is not False)
        if name is not None and conditions is not None and active is not None and target is not None:
            out.append({"name": name, "conditions": conditions, **target, "active": active})
    return out if len(out) == len(items) else None


def _conditions(c: Checker, raw: Any, at: Path) -> list[FlowMap] | None:
    items = c.listed(raw, at, "conditions ({field, op, value})")
    if items is None:
        return None
    out = []
    for j, item in enumerate(items):
        here = (*at, j)
        if c.mapping(item, here, CONDITION_KEYS, required=("field", "op")) is None:
            continue
        try:
            out.append(FlowMap(cond.check(item).stored()))
        except ValidationError as exc:
            key = {cond.UNKNOWN_FIELD: "field", cond.UNKNOWN_OP: "op"}.get(exc.template, "value")
            c.problem((*here, key), exc.message)
    return out if len(out) == len(items) else None


def _target(c: Checker, rule: Mapping[str, Any], at: Path, active: bool) -> dict[str, str] | None:
    """{"user": email} or {"team": name}: exactly one, naming someone who exists (an active user for an active rule)."""
    if ("user" in rule) == ("team" in rule):
        c.problem(at, "give the user (an email) or the team (a name) the rule assigns to, one of them")
        return None
    if "team" in rule:
        team = c.team(rule["team"], (*at, "team"))
        return None if team is None else {"team": team}
    email = c.user(rule["user"], (*at, "user"))
    if email is not None and active and not c.users[email][1]:
        c.problem((*at, "user"), f"{email} is inactive: assign to someone else, or make the rule active: false")
        return None
    return None if email is None else {"user": email}


def _rule_entries(rules: list[dict[str, Any]]) -> dict[Hashable, Any]:
    return {rule["name"]: (position, rule) for position, rule in enumerate(rules, 1)}


def write_rules(session: Session, wanted: list[dict[str, Any]]) -> None:
    """Make the rules those of the file: the same names keep their rows, in the file's order."""
    users = {r.email: r.id for r in session.execute(select(User.email, User.id))}
    teams = {r.name: r.id for r in session.execute(select(Team.name, Team.id))}
    existing = {rule.name: rule for rule in session.scalars(select(AssignmentRule))}
    for name in existing.keys() - {w["name"] for w in wanted}:
        session.delete(existing.pop(name))
    session.flush()
    for position, w in enumerate(wanted, 1):
        rule = existing.get(w["name"]) or AssignmentRule(name=w["name"])
        set_changed(rule, position=position, conditions=[dict(c) for c in w["conditions"]], active=w["active"],
                    user_id=users[w["user"]] if "user" in w else None,
                    team_id=teams[w["team"]] if "team" in w else None)
        session.add(rule)
    session.flush()


# -- teams: each team's strategy and its members' weights and caps ------------------------------------------

TEAM_KEYS = ("assignment_strategy", "members")
MEMBER_KEYS = ("weight", "open_lead_cap")


def read_teams(session: Session) -> dict[str, Any]:
    """Each team by name: its strategy and its members by email (weight; the cap when there is one)."""
    found: dict[str, Any] = {team.name: {"assignment_strategy": team.assignment_strategy, "members": {}}
                             for team in session.scalars(select(Team))}
    rows = session.execute(select(Team.name, User.email, TeamMember.weight, TeamMember.open_lead_cap)
                           .join(Team, Team.id == TeamMember.team_id).join(User, User.id == TeamMember.user_id))
    for team, email, weight, cap in rows:
        found[team]["members"][email] = _member(weight, cap)
    for team in found.values():
        team["members"] = by_name(team["members"])
    return by_name(found)


def _member(weight: int, cap: int | None) -> FlowMap:
    return FlowMap({"weight": weight, **({"open_lead_cap": cap} if cap is not None else {})})


def check_teams(c: Checker, raw: Any, at: Path) -> dict[str, Any] | None:
    """The teams a file sets: existing teams, their strategy and existing members' weights and caps."""
    teams = c.named(raw, at, "team names to {assignment_strategy, members}")
    if teams is None:
        return None
    before = len(c.problems)
    out: dict[str, Any] = {}
    for name, raw_team in teams.items():
        here = (*at, name)
        team = c.team(name, here)
        body = c.mapping(raw_team, here, TEAM_KEYS)
        if team is None or body is None:
            continue
        out[team] = {}
        if "assignment_strategy" in body:
            strategy = body["assignment_strategy"]
            if strategy not in ASSIGNMENT_STRATEGIES:
                c.problem((*here, "assignment_strategy"),
                          f"{strategy!r} is not one of {', '.join(ASSIGNMENT_STRATEGIES)}")
            out[team]["assignment_strategy"] = strategy
        if "members" in body:
            out[team]["members"] = _members(c, c.teams[team], body["members"], (*here, "members"))
    return out if len(c.problems) == before else None


def _members(c: Checker, team_id: int, raw: Any, at: Path) -> dict[str, FlowMap]:
    members = c.named(raw, at, "member emails to {weight, open_lead_cap}") or {}
    out = {}
    for email, raw_member in members.items():
        here = (*at, email)
        user = c.user(email, here)
        if user is not None and (team_id, c.users[user][0]) not in c.memberships:
            c.problem(here, f"{user} is not a member of this team (add members with `crm teams members`)")
        body = c.mapping(raw_member, here, MEMBER_KEYS)
        if user is None or body is None:
            continue
        weight = c.whole(body.get("weight", 1), (*here, "weight"), 1, 1000)
        raw_cap = body.get("open_lead_cap")
        cap = None if raw_cap is None else c.whole(raw_cap, (*here, "open_lead_cap"), 1, 1_000_000)
        out[user] = _member(weight or 1, cap)
    return out


def _team_entries(teams: dict[str, Any]) -> dict[Hashable, Any]:
    entries: dict[Hashable, Any] = {}
    for name, team in teams.items():
        if "assignment_strategy" in team:
            entries[(name, "assignment_strategy")] = team["assignment_strategy"]
        entries.update({(name, email): member for email, member in team.get("members", {}).items()})
    return entries


def write_teams(session: Session, wanted: dict[str, Any]) -> None:
    """Set the strategies, weights and caps a file gives."""
    users = {r.email: r.id for r in session.execute(select(User.email, User.id))}
    for name, settings in wanted.items():
        team = session.scalars(select(Team).where(Team.name == name)).one()
        if "assignment_strategy" in settings:
            set_changed(team, assignment_strategy=settings["assignment_strategy"])
        by_user = {m.user_id: m for m in team.members}
        for email, member in settings.get("members", {}).items():
            set_changed(by_user[users[email]], weight=member["weight"], open_lead_cap=member.get("open_lead_cap"))
    session.flush()


# -- cadences: the follow-up touches, one of them the default -----------------------------------------------

CADENCE_KEYS = ("name", "offsets", "default")
MAX_OFFSET = 365  # working days after assignment: over a year of follow-up
MAX_TOUCHES = 50


def read_cadences(session: Session) -> list[dict[str, Any]]:
    """The cadences by name: offsets in working days from the assignment, and which is the default."""
    return sorted(({"name": c.name, "offsets": FlowList(c.offsets), "default": c.is_default}
                   for c in session.scalars(select(Cadence))), key=lambda item: item["name"])


def check_cadences(c: Checker, raw: Any, at: Path) -> list[dict[str, Any]] | None:
    """The cadences of a file: named once each, offsets in ascending working days, exactly one default."""
    items = c.listed(raw, at, "cadences ({name, offsets, default})")
    if items is None:
        return None
    out: list[dict[str, Any]] = []
    first: dict[str, Path] = {}
    for i, item in enumerate(items):
        here = (*at, i)
        body = c.mapping(item, here, CADENCE_KEYS, required=("name", "offsets"))
        if body is None:
            continue
        name = c.text(body.get("name"), (*here, "name"), 100) if "name" in body else None
        if name is not None and name in first:
            c.problem((*here, "name"), f"another cadence has this name ({dotted(first[name])})")
        elif name is not None:
            first[name] = here
        offsets = _offsets(c, body.get("offsets"), (*here, "offsets")) if "offsets" in body else None
        default = c.flag(body.get("default", False), (*here, "default"))
        if name is not None and offsets is not None and default is not None:
            out.append({"name": name, "offsets": offsets, "default": default})
    defaults = [item["name"] for item in out if item["default"]]
    if len(out) == len(items) and len(defaults) != 1:
        found = f"{len(defaults)}: {', '.join(defaults)}" if defaults else "none"
        c.problem(at, f"exactly one cadence must have default: true (found {found})")
        return None
    return sorted(out, key=lambda item: item["name"]) if len(out) == len(items) else None


def _offsets(c: Checker, raw: Any, at: Path) -> FlowList | None:
    items = c.listed(raw, at, "working days (0 = the day of the assignment)")
    if items is None:
        return None
    if not 1 <= len(items) <= MAX_TOUCHES:
        c.problem(at, f"must hold 1 to {MAX_TOUCHES} touches (got {len(items)})")
        return None
    offsets = [c.whole(item, (*at, k), 0, MAX_OFFSET) for k, item in enumerate(items)]
    for k in range(1, len(offsets)):
        earlier, later = offsets[k - 1], offsets[k]
        if earlier is not None and later is not None and later <= earlier:
            c.problem((*at, k), f"must come after the touch before it ({later} after {earlier})")
            return None
    return None if None in offsets else FlowList(offsets)


def write_cadences(session: Session, wanted: list[dict[str, Any]]) -> None:
    """Make the cadences those of the file (a lead on a removed cadence follows the default's offsets)."""
    existing = {cadence.name: cadence for cadence in session.scalars(select(Cadence))}
    for name in existing.keys() - {w["name"] for w in wanted}:
        session.delete(existing.pop(name))
    for w in wanted:
        cadence = existing.get(w["name"]) or Cadence(name=w["name"])
        set_changed(cadence, offsets=list(w["offsets"]), is_default=w["default"])
        session.add(cadence)
    session.flush()


# -- all of them -----------------------------------------------------------------------------------------


SECTIONS: tuple[Section, ...] = (
    Section("assignment_rules", read_rules, check_rules, _rule_entries, write_rules, replaces=True),
    Section("teams", read_teams, check_teams, _team_entries, write_teams, replaces=False),
    Section("cadences", read_cadences, check_cadences, lambda items: {c["name"]: c for c in items},
            write_cadences, replaces=True),
    Section("playbooks", read_playbooks, check_playbooks, playbook_entries, write_playbooks, replaces=True),
    Section("thresholds", read_thresholds, check_thresholds, threshold_entries, write_thresholds, replaces=False),
)
NAMES = tuple(s.name for s in SECTIONS)
