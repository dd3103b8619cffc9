"""Running an automation: its `as_of`, its run row (start, end, counts, errors) and its logged summary.

Every automation is a plain function `job(factory, as_of, outcome)`: it opens its own short transactions
from `factory` (committing at most CHUNK rows each, so a long run never holds the write lock for long),
counts what it did in `outcome`, and is idempotent — a second run for the same `as_of` finds nothing left
to do. `run` wraps it: a `flow_runs` row is written before it starts and completed after, in
transactions of their own, so a run that fails still says so in `crm flows status`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_store.errors import ValidationError
from crm_store.models import FlowRun, utcnow
from crm_store.settings import company

log = logging.getLogger("leadline.automation")

CHUNK = 5000  # rows per transaction in bulk work


@dataclass
class Outcome:
    """What one run did: counts by name, and the problems met along the way (the run goes on)."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, name: str, n: int = 1) -> None:
        """Count `n` more of something (a zero is recorded too, so the summary names it)."""
        self.counts[name] = self.counts.get(name, 0) + n

    def summary(self) -> str:
        """One line: "assigned 12, emails 3" (or "nothing to do")."""
        done = ", ".join(f"{name.replace('_', ' ')} {n:,}" for name, n in self.counts.items())
        return done or "nothing to do"


Job = Callable[[sessionmaker[Session], dt.datetime, Outcome], None]


@dataclass(frozen=True)
class RunReport:
    """A finished run, as `run` returns it."""

    id: int
    flow: str
    as_of: dt.datetime
    status: str
    counts: dict[str, int]
    errors: list[str]
    seconds: float


def run(
    factory: sessionmaker[Session], flow: str, job: Job, as_of: dt.datetime | None = None, *, trigger: str = "cli"
) -> RunReport:
    """Run `job` for `as_of` (default now), recorded as a run of `flow`; never raises for the job's failure.

    An exception in the job marks the run failed with the exception's last lines; the work it committed
    before stays (each chunk is whole), and the next run picks up the rest.
    """
    as_of = as_of or utcnow()
    with factory.begin() as session:
        row = FlowRun(flow=flow, as_of=as_of, status="running", counts={}, trigger=trigger)
        session.add(row)
        session.flush()
        run_id = row.id
    outcome, started = Outcome(), time.perf_counter()
    try:
        job(factory, as_of, outcome)
        status = "failed" if outcome.errors else "completed"
    except Exception as exc:  # noqa: BLE001 - a run records any failure and the scheduler carries on
        status = "failed"
        outcome.errors.append(_describe(exc))
        log.exception("%s failed", flow)
    seconds = time.perf_counter() - started
    with factory.begin() as session:
        session.execute(
            FlowRun.__table__.update().where(FlowRun.__table__.c.id == run_id).values(
                finished_at=utcnow(), status=status, counts=dict(outcome.counts),
                errors="\n".join(outcome.errors) or None,
            )
        )
    log.info("%s %s for %s in %.1f s: %s", flow, status, as_of.isoformat(timespec="seconds"), seconds,
             outcome.summary())
    return RunReport(run_id, flow, as_of, status, dict(outcome.counts), list(outcome.errors), seconds)


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[:2000]


def parse_as_of(session: Session, raw: str | None) -> dt.datetime:
    """An `--as-of` value as a UTC moment: ISO date-time; a naive one (or a bare date: its midnight) is company time."""
    if raw is None or not raw.strip():
        return utcnow()
    text = raw.strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("as_of", f"{text!r} is not a date-time like 2026-09-07T08:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=company.zone(session))
    return moment.astimezone(dt.UTC)


def last_runs(session: Session) -> dict[str, FlowRun]:
    """The latest run of each flow that has run."""
    latest = select(FlowRun.flow, func.max(FlowRun.id).label("id")).group_by(FlowRun.flow).subquery()
    rows = session.scalars(select(FlowRun).join(latest, latest.c.id == FlowRun.id))
    return {row.flow: row for row in rows}


def failing(session: Session, flows: Any = None) -> list[FlowRun]:
    """The flows whose latest run failed (for the admins' banner and `crm flows status`)."""
    return [r for name, r in sorted(last_runs(session).items()) if r.status == "failed" and (flows is None
                                                                                           or name in flows)]
