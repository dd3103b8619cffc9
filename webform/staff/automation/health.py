"""What the admins' Automation page and warning banner read: each flow's recent runs, and mail delivery's health.

The banner is on every staff page an admin sees, so `alert` is one statement of a few scalar subqueries, each
an index lookup: the status of each flow's latest run (`ix_flow_runs_flow_started`), the messages that failed
in the last 24 hours and those due for over 15 minutes and still not sent (`ix_outbox_due`). The outbox keeps
no failure time: a failed message's `next_attempt_at` is when its last attempt was due, which is when it
failed give or take one worker cycle.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from crm_store.automation import SCHEDULES, Schedule
from crm_store.languages import N_
from crm_store.mail import outbox
from crm_store.models import FlowRun, OutboxMessage, utcnow

RUNS_SHOWN = 20  # each flow's recent runs on the page
FAILURES_SHOWN = 10  # the newest undelivered messages on the page
FAILED_WITHIN = dt.timedelta(hours=24)
WAITING_OVER = dt.timedelta(minutes=15)
WAITING = ("queued", "retrying")  # statuses of messages still to be sent
UNDELIVERED = ("failed", "retrying")

# The names the flows count under (`Outcome.add`), as people read them; an unknown name is shown as is.
COUNT_LABELS = {
    "assigned": N_("Assigned"), "pooled": N_("Left in a team's pool"), "to_manager": N_("Given to a manager"),
    "unassigned": N_("Left unassigned"), "undecided": N_("Not decided"), "emails": N_("Emails queued"),
    "cadences_started": N_("Cadences started"), "reminded": N_("Owners reminded"),
    "escalated": N_("Managers told"), "reassigned": N_("Reassigned"), "aging": N_("Became aging"),
    "stale": N_("Became stale"), "cold": N_("Went cold"), "notices": N_("Stale notices"),
    "rotting": N_("Rotting deals"), "sent": N_("Sent"), "retrying": N_("Retrying"), "failed": N_("Failed"),
    "suppressed": N_("Suppressed (opted out)"), "tables": N_("Tables copied"), "rows": N_("Rows copied"),
    "backups": N_("Backups made"), "deleted": N_("Old backups deleted"), "fired": N_("Playbooks fired"),
    "tasks": N_("Tasks created"), "events": N_("Events reminded"), "memos": N_("Memos reminded"),
    "too_late": N_("Events past reminding"), "flow_runs": N_("Run records removed"),
    "prefect_runs": N_("Prefect runs removed"), "purged": N_("Purged from the recycle bin"),
    "ips_forgotten": N_("IP addresses forgotten"), "pipeline": N_("Pipeline emails"),
    "customer_value": N_("Customer value emails"), "skipped_opted_out": N_("Managers opted out"),
    "warehouse_refreshed": N_("Warehouse refreshed"),
}
RUN_STATUSES = {"running": N_("Running"), "completed": N_("Completed"), "failed": N_("Failed")}
MAIL_STATUSES = {
    "queued": N_("Queued"), "sending": N_("Sending"), "retrying": N_("Retrying"), "sent": N_("Sent"),
    "failed": N_("Failed"), "suppressed": N_("Suppressed (opted out)"),
}
EVERY_MINUTES = re.compile(r"\*/(\d+) \* \* \* \*")
DAILY = re.compile(r"(\d+) (\d+) \* \* \*")


@dataclass(frozen=True)
class FlowHealth:
    """A scheduled flow and its recent runs, newest first."""

    schedule: Schedule
    runs: list[FlowRun]

    @property
    def last(self) -> FlowRun | None:
        """The latest run, if it ever ran."""
        return self.runs[0] if self.runs else None


@dataclass(frozen=True)
class MailHealth:
    """The outbox: messages by status, the failures of the last day, the messages kept waiting, the newest problems."""

    counts: dict[str, int]
    failed_recently: int
    waiting: int
    undelivered: list[OutboxMessage] = field(default_factory=list)


@dataclass(frozen=True)
class Alert:
    """What the banner warns of: flows whose latest run failed, mail failed lately or kept waiting."""

    failing_flows: list[str]
    mail_failed: int
    mail_waiting: int

    def __bool__(self) -> bool:
        return bool(self.failing_flows or self.mail_failed or self.mail_waiting)


def flows(session: Session, limit: int = RUNS_SHOWN) -> list[FlowHealth]:
    """Each scheduled flow with its last `limit` runs."""
    return [FlowHealth(s, list(session.scalars(_latest(s.name).limit(limit)))) for s in SCHEDULES]


def mail(session: Session, now: dt.datetime | None = None, limit: int = FAILURES_SHOWN) -> MailHealth:
    """The outbox's counts by status, its recent failures and waiting messages, the newest undelivered ones."""
    now = now or utcnow()
    failed, waiting = session.execute(select(_failed_since(now), _waiting_since(now))).one()
    undelivered = session.scalars(
        select(OutboxMessage).where(OutboxMessage.status.in_(UNDELIVERED))
        .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc()).limit(limit)
    )
    return MailHealth(outbox.counts(session), int(failed or 0), int(waiting or 0), list(undelivered))


def alert(session: Session, now: dt.datetime | None = None) -> Alert:
    """What is failing, read with one statement (the banner's)."""
    now = now or utcnow()
    latest = [select(FlowRun.status).where(FlowRun.flow == s.name)
              .order_by(FlowRun.started_at.desc(), FlowRun.id.desc()).limit(1).scalar_subquery() for s in SCHEDULES]
    row = session.execute(select(_failed_since(now), _waiting_since(now), *latest)).one()
    failing = [s.name for s, status in zip(SCHEDULES, row[2:], strict=True) if status == "failed"]
    return Alert(failing, int(row[0] or 0), int(row[1] or 0))


def describe_schedule(cron: str) -> tuple[str, dict[str, Any]] | None:
    """A cron schedule the flows use in words (a message and its values), or None for another schedule."""
    if found := EVERY_MINUTES.fullmatch(cron):
        return N_("Every %(n)s minutes"), {"n": int(found[1])}
    if found := DAILY.fullmatch(cron):
        return N_("Every day at %(time)s"), {"time": f"{int(found[2]):02d}:{int(found[1]):02d}"}
    return None


def _latest(flow: str) -> Select[FlowRun]:
    return select(FlowRun).where(FlowRun.flow == flow).order_by(FlowRun.started_at.desc(), FlowRun.id.desc())


def _failed_since(now: dt.datetime) -> Any:
    """How many messages failed for good in the last day (their last attempt was due then)."""
    return (select(func.count()).select_from(OutboxMessage)
            .where(and_(OutboxMessage.status == "failed", OutboxMessage.next_attempt_at >= now - FAILED_WITHIN))
            .scalar_subquery())


def _waiting_since(now: dt.datetime) -> Any:
    """How many messages have been due for over 15 minutes and are still not sent: is the mail worker running?"""
    return (select(func.count()).select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(WAITING), OutboxMessage.next_attempt_at < now - WAITING_OVER)
            .scalar_subquery())
