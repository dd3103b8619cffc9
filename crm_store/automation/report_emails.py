"""The report emails' store side: which sendings are due, to which managers, each claimed once.

Who: every active manager (role "manager") with `report_emails_enabled`; admins see the whole company and
reps only their own records, so neither gets them. When, in company time (the `time_zone` setting):
- the weekly pipeline email, from Monday 08:00 until the end of Tuesday (a run missed on Monday morning is
  caught up), claimed by `users.last_pipeline_report_week` = that Monday;
- the monthly customer-value email, from the 1st 08:00 until the end of the 3rd, claimed by
  `users.last_customer_value_report_month` = that 1st.

The flow runs every 15 minutes; outside these windows it reads one setting and stops. The reports themselves
are the `analytics` package's, which the store never imports: `flows/scheduled_reports.py` runs them and
queues the mail after `claim` in one transaction (the outbox's key refuses a second copy as well).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from crm_store.models import User

SEND_AFTER = dt.time(8)  # company time, on the first day of a window
PIPELINE = "pipeline"
CUSTOMER_VALUE = "customer-value"


@dataclass(frozen=True)
class Due:
    """A sending that is due: the report, the period it claims (a Monday, a 1st) and the day it is as of."""

    report: str
    period: dt.date
    as_of: dt.date

    @property
    def key(self) -> str:
        """The outbox key's stem: `report:pipeline:2026-09-07` (the user's id is added)."""
        return f"report:{self.report}:{self.period.isoformat()}"


def due(local: dt.datetime) -> list[Due]:
    """The sendings due at `local` (company time): the week's pipeline on Monday from 08:00 and on Tuesday; the
    month's customer value (as of the previous month's last day, all history) on the 1st from 08:00 to the 3rd."""
    today, late = local.date(), local.time() >= SEND_AFTER
    found = []
    if today.weekday() == 1 or (today.weekday() == 0 and late):
        found.append(Due(PIPELINE, today - dt.timedelta(days=today.weekday()), today))
    if today.day in (2, 3) or (today.day == 1 and late):
        first = today.replace(day=1)
        found.append(Due(CUSTOMER_VALUE, first, first - dt.timedelta(days=1)))
    return found


def _claimed_by(report: str) -> InstrumentedAttribute[dt.date | None]:
    return User.last_pipeline_report_week if report == PIPELINE else User.last_customer_value_report_month


def _managers() -> tuple[ColumnElement[bool], ...]:
    return (User.active.is_(True), User.role == "manager")


def recipients(session: Session, sending: Due) -> list[User]:
    """The managers who want the emails and have not had this one, by id."""
    column = _claimed_by(sending.report)
    return list(session.scalars(
        select(User).where(*_managers(), User.report_emails_enabled, _not_had(column, sending.period))
        .order_by(User.id)
    ))


def opted_out(session: Session) -> int:
    """How many active managers have switched the report emails off."""
    return session.scalar(select(func.count()).select_from(User)
                          .where(*_managers(), User.report_emails_enabled.is_(False))) or 0


def claim(session: Session, sending: Due, ids: list[int]) -> set[int]:
    """Set the sending's period on these managers unless a run did (or they opted out since); return who was claimed."""
    if not ids:
        return set()
    column = _claimed_by(sending.report)
    return set(session.scalars(
        update(User)
        .where(User.id.in_(ids), *_managers(), User.report_emails_enabled, _not_had(column, sending.period))
        .values({column: sending.period})
        .returning(User.id)
        .execution_options(synchronize_session=False)
    ))


def _not_had(column: InstrumentedAttribute[dt.date | None], period: dt.date) -> ColumnElement[bool]:
    return or_(column.is_(None), column != period)
