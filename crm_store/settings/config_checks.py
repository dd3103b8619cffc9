"""Checking a configuration file: every problem kept with its path in the file and its line, none fatal.

A path is the chain of keys and list positions that leads to a value (`("playbooks", "Standard Sales",
"Prospecting", "tasks", 1, "offset_days")`), shown as people read it:
`playbooks."Standard Sales".Prospecting.tasks[1].offset_days` (list positions count from 0). `Checker`
collects the problems of a whole file so that an import reports them all at once, and looks up the people,
teams and stages a file names (they are people and reference data: a file names only ones that exist).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import CrmError
from crm_store.models import SalesProcess, SalesStage, Team, TeamMember, User
from crm_store.records.lines import control_character
from crm_store.settings import picklists

Path = tuple[str | int, ...]
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a key shown without quotes in a path


def dotted(path: Path) -> str:
    """A path as people read it: assignment_rules[2].conditions[0].op, teams."Sales North".members."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            shown = part if _BARE.fullmatch(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += f".{shown}" if out else shown
    return out


class FlowMap(dict[str, Any]):
    """A mapping the file shows on one line: {field: country, op: equals, value: TW}."""


class FlowList(list[Any]):
    """A list the file shows on one line: [0, 1, 3, 7]."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a configuration file: where (path, line) and what."""

    path: Path
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{dotted(self.path)}: {self.message}" if self.path else f"{where}{self.message}"


class ConfigProblems(CrmError):
    """A configuration file that cannot be imported, with every problem found in it (in the order of the file)."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line if p.line is not None else 0)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: {count}, nothing was imported:\n{lines}")


@dataclass(frozen=True)
class StageRef:
    """A stage a file names: its id and whether it is closed (won or lost)."""

    id: int
    closed: bool


class Checker:
    """Checks the values of one file at their paths, collecting every problem; looks up what they name."""

    def __init__(self, session: Session, lines: Mapping[Path, int]) -> None:
        self.session = session
        self.lines = lines
        self.problems: list[Problem] = []

    def problem(self, at: Path, message: str) -> None:
        """Note a problem at a path (on the line of the path, or of the nearest value around it)."""
        line = next((self.lines[at[:n]] for n in range(len(at), -1, -1) if at[:n] in self.lines), None)
        self.problems.append(Problem(at, message, line))

    # -- shapes ---------------------------------------------------------------------------------------------

    def mapping(self, raw: Any, at: Path, keys: Sequence[str], *,
                required: Sequence[str] = ()) -> dict[str, Any] | None:
        """A mapping whose keys are among `keys` (each unknown key a problem), with the `required` ones."""
        if not isinstance(raw, dict):
            self.problem(at, f"must be a mapping with the keys {', '.join(keys)}")
            return None
        for key in raw:
            if key not in keys:
                self.problem((*at, key), f"unknown key; use {', '.join(keys)}")
        for key in required:
            if key not in raw:
                self.problem(at, f"{key} is missing")
        return raw

    def named(self, raw: Any, at: Path, what: str) -> dict[str, Any] | None:
        """A mapping of names (of teams, processes, stages, …) to their entries; empty for none."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(at, f"must be a mapping of {what}")
            return None
        return raw

    def listed(self, raw: Any, at: Path, what: str) -> list[Any] | None:
        """A list (of rules, cadences, tasks, …); empty for none."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(at, f"must be a list of {what}")
            return None
        return raw

    def whole(self, raw: Any, at: Path, low: int, high: int) -> int | None:
        """A whole number from `low` to `high`."""
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self.problem(at, f"must be a whole number from {low} to {high} (got {_shown(raw)})")
            return None
        return raw

    def text(self, raw: Any, at: Path, limit: int, *, one_line: bool = True, required: bool = True) -> str | None:
        """Text of at most `limit` characters, its ends trimmed; one line unless said otherwise."""
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self.problem(at, f"must be text (got {_shown(raw)})")
            return None
        text = str(raw).strip()
        found = control_character(text.replace("\n", "") if not one_line else text)
        if found is not None:
            kind = "one line without control characters" if one_line else "text without control characters"
            self.problem(at, f"must be {kind} (found U+{ord(found):04X})")
        elif required and not text:
            self.problem(at, "must not be empty")
        elif len(text) > limit:
            self.problem(at, f"must be at most {limit} characters (got {len(text)})")
        else:
            return text
        return None

    def flag(self, raw: Any, at: Path) -> bool | None:
        """true or false."""
        if not isinstance(raw, bool):
            self.problem(at, f"must be true or false (got {_shown(raw)})")
            return None
        return raw

    # -- what a file names ----------------------------------------------------------------------------------

    @cached_property
    def users(self) -> dict[str, tuple[int, bool]]:
        """Every user's email -> (id, active)."""
        return {r.email: (r.id, r.active) for r in self.session.execute(select(User.id, User.email, User.active))}

    @cached_property
    def teams(self) -> dict[str, int]:
        """Every team's name -> id."""
        return {r.name: r.id for r in self.session.execute(select(Team.id, Team.name))}

    @cached_property
    def memberships(self) -> set[tuple[int, int]]:
        """Every (team id, user id) of a member."""
        return {(r.team_id, r.user_id) for r in self.session.execute(select(TeamMember.team_id, TeamMember.user_id))}

    @cached_property
    def priorities(self) -> list[str]:
        """The values a task's priority may take: the task priority picklist's."""
        return picklists.values(self.session, "task_priority")

    @cached_property
    def stages(self) -> dict[str, dict[str, StageRef]]:
        """Every sales process's name -> its stages' names -> the stage, in stage order."""
        rows = self.session.execute(
            select(SalesProcess.name, SalesStage.name.label("stage"), SalesStage.id, SalesStage.is_won,
                   SalesStage.is_lost).join(SalesStage, SalesStage.sales_process_id == SalesProcess.id)
            .order_by(SalesStage.position)
        )
        found: dict[str, dict[str, StageRef]] = {}
        for r in rows:
            found.setdefault(r.name, {})[r.stage] = StageRef(r.id, r.is_won or r.is_lost)
        return by_name(found)

    def user(self, raw: Any, at: Path) -> str | None:
        """The stored email of the user an email names (any case); a problem when there is none."""
        email = self.text(raw, at, 255)
        if email is None:
            return None
        if email.lower() not in self.users:
            self.problem(at, f"no user with email {email!r} (users are people data: add them with `crm users add`)")
            return None
        return email.lower()

    def team(self, raw: Any, at: Path) -> str | None:
        """A team's name; a problem when there is no such team."""
        name = self.text(raw, at, 100)
        if name is None:
            return None
        if name not in self.teams:
            self.problem(at, f"no team named {name!r} (teams are people data: add them with `crm teams add`)")
            return None
        return name

    def process(self, name: str, at: Path) -> dict[str, StageRef] | None:
        """A sales process's stages by name; a problem when there is no such process."""
        stages = self.stages.get(name)
        if stages is None:
            self.problem(at, f"no sales process named {name!r}; use one of {', '.join(map(repr, self.stages))}")
        return stages

    def stage(self, stages: Mapping[str, StageRef], name: str, at: Path) -> StageRef | None:
        """A stage of a process by name; a problem (listing the process's stages) when it has none so named."""
        stage = stages.get(name)
        if stage is None:
            self.problem(at, f"no stage named {name!r} in this process; its stages are {', '.join(stages)}")
        return stage


def by_name(found: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping in the order of its keys, sorted here: a database's collation would sort them its own way."""
    return {name: found[name] for name in sorted(found)}


def set_changed(row: Any, **values: Any) -> None:
    """Set the attributes of a row that differ (an unchanged row is not written, nor its `updated_at` moved)."""
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)


def _shown(raw: Any) -> str:
    """A wrong value as a problem shows it."""
    if raw is None:
        return "nothing"
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    return repr(raw)
