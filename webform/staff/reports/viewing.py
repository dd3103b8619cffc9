"""What a report page shows: the viewer's scope as the report's `viewers`, the filters turned into ReportParams,
and the warehouse read once per snapshot.

The warehouse file is opened once (read-only) and each request reads through its own cursor; a refresh renames a
new file into place, so the file's identity (inode, size, mtime) names the snapshot. A report's result and its
charts are kept per snapshot and parameters (a few dozen, newest used kept): eight managers opening the Monday
pipeline compute it once, and a refresh makes every kept result stale at once. Results are never shared between
viewers with different scopes: the scope is part of the parameters.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.reports import OPEN_PERIOD, ReportParams, ReportResult, report_sql, resolve, run_report
from analytics.warehouse import open_warehouse
from crm_store.models import SalesProcess, Team, TeamMember, User
from crm_store.staff import scope as scoping

KEPT = 256  # results (and rendered charts) kept in memory, newest used kept…
KEPT_ROWS = 400_000  # …and at most this many report rows in all (customer-value of 88,000 customers: ~40 MB)


@dataclass(frozen=True)
class Snapshot:
    """The warehouse as last refreshed: when the store was copied, and the open connection to read it through."""

    key: tuple[int, int, int]
    taken_at: dt.datetime  # naive UTC
    connection: duckdb.DuckDBPyConnection


class Warehouse:
    """The warehouse file read by the web app: one connection per snapshot, results kept per snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._kept: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._rows: dict[tuple[Any, ...], int] = {}  # the report rows a kept value holds
        self._computing: dict[tuple[Any, ...], threading.Lock] = {}

    def snapshot(self, path: Path) -> Snapshot | None:
        """The current snapshot, or None when the warehouse has not been built yet."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if self._snapshot is not None and self._snapshot.key == key:
                return self._snapshot
        connection = open_warehouse(path)
        taken = connection.execute("SELECT max(taken_at) FROM _snapshot").fetchone()
        snapshot = Snapshot(key, taken[0] if taken else dt.datetime.min, connection)
        with self._lock:
            if self._snapshot is None or self._snapshot.key != key:
                self._snapshot = snapshot  # the old connection closes when its last reader lets go of it
                self._kept.clear()
                self._rows.clear()
            return self._snapshot

    def kept(self, snapshot: Snapshot, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`'s value for `key` in this snapshot, computed once however many requests ask at once."""
        full = (snapshot.key, *key)
        with self._lock:
            if full in self._kept:
                self._kept.move_to_end(full)
                return self._kept[full]
            gate = self._computing.setdefault(full, threading.Lock())
        with gate:
            with self._lock:
                if full in self._kept:
                    return self._kept[full]
            value = compute()
            with self._lock:
                self._kept[full] = value
                self._rows[full] = _rows_in(value)
                while len(self._kept) > 1 and (len(self._kept) > KEPT or sum(self._rows.values()) > KEPT_ROWS):
                    oldest, _ = self._kept.popitem(last=False)
                    self._rows.pop(oldest, None)
                self._computing.pop(full, None)
            return value

    def run(self, snapshot: Snapshot, name: str, params: ReportParams) -> tuple[ReportParams, ReportResult]:
        """The report's parameters as run (defaults filled) and its rows."""

        def compute() -> tuple[ReportParams, ReportResult]:
            cursor = snapshot.connection.cursor()
            try:
                resolved = resolve(cursor, params)
                if OPEN_PERIOD in report_sql(name) and params.date_from is None and params.date_to is None:
                    resolved = replace(resolved, date_from=None, date_to=None)  # as the runner reads it: all history
                return resolved, run_report(cursor, name, params)
            finally:
                cursor.close()

        return self.kept(snapshot, ("run", name, params), compute)

    def parameters(self, snapshot: Snapshot, name: str) -> frozenset[str]:
        """The parameters report `name`'s SQL uses (which filters its page offers)."""

        def compute() -> frozenset[str]:
            cursor = snapshot.connection.cursor()
            try:
                return frozenset(cursor.extract_statements(report_sql(name))[0].named_parameters)
            finally:
                cursor.close()

        return self.kept(snapshot, ("parameters", name), compute)


def _rows_in(value: Any) -> int:
    """How many report rows a kept value holds (a report's result, or nothing to speak of)."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], ReportResult):
        return len(value[1].rows)
    return 0


WAREHOUSE = Warehouse()


@dataclass(frozen=True)
class Choices:
    """What the viewer may filter by: the owners and teams within their scope, the sales processes."""

    owners: list[tuple[str, str]]
    teams: list[tuple[str, str]]
    processes: list[tuple[str, str]]


def viewers(scope: scoping.Scope) -> frozenset[int] | None:
    """The report's `viewers`: None for an admin (everyone), else the users whose records the viewer sees."""
    return None if scope.everything else frozenset(scope.owners)


def choices(db: Session, user: User, scope: scoping.Scope) -> Choices:
    """The owners (active users in scope, the viewer first), teams with a member in scope, the processes."""
    people = select(User.id, User.name).where(User.active).order_by(User.name, User.id)
    teams = select(Team.id, Team.name).order_by(Team.name)
    if not scope.everything:
        people = people.where(User.id.in_(sorted(scope.owners | {user.id})))
        members = select(TeamMember.team_id).where(TeamMember.user_id.in_(sorted(scope.owners)))
        teams = teams.where(Team.id.in_(members))
    owners = [(str(i), n) for i, n in db.execute(people)]
    owners.sort(key=lambda o: o[0] != str(user.id))
    processes = select(SalesProcess.id, SalesProcess.name).order_by(SalesProcess.is_default.desc(), SalesProcess.id)
    return Choices(owners, [(str(i), n) for i, n in db.execute(teams)],
                   [(str(i), n) for i, n in db.execute(processes)])


def params(db: Session, scope: scoping.Scope, values: dict[str, Any]) -> ReportParams:
    """The filters (already checked against the viewer's choices) as the report's parameters, scoped."""
    owner = db.scalar(select(User.email).where(User.id == int(values["owner"]))) if values.get("owner") else None
    team = db.scalar(select(Team.name).where(Team.id == int(values["team"]))) if values.get("team") else None
    process = (db.scalar(select(SalesProcess.name).where(SalesProcess.id == int(values["sales_process"])))
               if values.get("sales_process") else None)
    return ReportParams(as_of=values.get("as_of"), date_from=values.get("date_from"), date_to=values.get("date_to"),
                        owner=owner, team=team, process=process, viewers=viewers(scope))
