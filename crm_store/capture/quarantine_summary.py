"""The admins' daily summary of the quarantine, so that no real inquiry dies there unseen.

The summary sent on a company day (`time_zone`) covers the submissions still held that arrived from the
start of the day the previous summary was sent (yesterday, the first time) to the start of today: how many
per form and reason, the newest few, how to release them. It goes to every active admin, each message
keyed `quarantine_summary:<day>:<user id>` in the outbox, so queuing it again the same day is a no-op and
the latest key tells where the next summary starts: no table of its own. A day with nothing held sends
nothing, and the next summary reaches back over it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from crm_store.capture import notices
from crm_store.models import OutboxMessage, User, WebForm, WebSubmission, utcnow
from crm_store.settings import company

TEMPLATE = "quarantine_summary"
NEWEST = 5  # submissions listed one by one; the counts cover them all
NO_REASON = "(no reason recorded)"
_KEY = f"{TEMPLATE}:"


@dataclass(frozen=True)
class Held:
    """One of the newest held submissions, as the summary lists it."""

    public_id: str
    received_at: dt.datetime
    form_name: str
    email: str | None
    reason: str


@dataclass(frozen=True)
class Summary:
    """What the summary sent on `day` covers: submissions held that arrived on `first_day` … `last_day`."""

    day: dt.date
    first_day: dt.date
    last_day: dt.date
    counts: dict[str, dict[str, int]]  # form name -> reason -> how many; most held first
    newest: list[Held]

    @property
    def total(self) -> int:
        """How many submissions were held in all."""
        return sum(n for reasons in self.counts.values() for n in reasons.values())

    @property
    def period(self) -> str:
        """The company days covered: 2025-03-13, or 2025-03-10 – 2025-03-13."""
        if self.first_day == self.last_day:
            return self.last_day.isoformat()
        return f"{self.first_day.isoformat()} – {self.last_day.isoformat()}"


def summarise(session: Session, now: dt.datetime | None = None) -> Summary:
    """Collect what the summary of the company's day of `now` covers (nothing is queued)."""
    zone = company.zone(session)
    day = (now or utcnow()).astimezone(zone).date()
    first = _last_summarised_day(session, day) or day - dt.timedelta(days=1)
    window = (
        WebSubmission.outcome == "quarantined",
        WebSubmission.received_at >= _start(first, zone),
        WebSubmission.received_at < _start(day, zone),
    )
    counts: dict[str, dict[str, int]] = {}
    for form_name, reason, n in sorted(session.execute(_counts(window)), key=lambda r: (-r[2], r[0], r[1] or "")):
        counts.setdefault(form_name, {})[reason or NO_REASON] = n
    counts = dict(sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])))
    newest = [Held(p, at, name, email, reason or NO_REASON) for p, at, name, email, reason in
              session.execute(_newest(window))]
    return Summary(day, first, day - dt.timedelta(days=1), counts, newest)


def admins() -> Select[User]:
    """Select the users who get the summary: the active admins."""
    return select(User).where(User.role == "admin", User.active).order_by(User.id)


def queue_summary(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Queue today's summary for each active admin not sent it yet; return the addresses it was queued for."""
    summary = summarise(session, now)
    if not summary.total:
        return []
    return [admin.email for admin in session.scalars(admins())
            if notices.queue(session, notice(summary, admin, company.zone_for(session, admin)))]


def notice(summary: Summary, admin: User, zone: zoneinfo.ZoneInfo) -> notices.Notice:
    """One admin's summary message, its times shown in `zone`."""
    return notices.Notice(
        TEMPLATE, admin.email, f"{_KEY}{summary.day.isoformat()}:{admin.id}", context(summary, admin.name, zone),
        admin.language, recipient_name=admin.name, to_staff=True,
    )


def context(summary: Summary, recipient_name: str, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """The template's context (see `emails.catalog.CONTEXT["quarantine_summary"]`)."""
    return {
        "recipient_name": recipient_name,
        "period": summary.period,
        "total": summary.total,
        "forms": [
            {"name": name, "count": sum(reasons.values()),
             "reasons": [{"reason": reason, "count": n} for reason, n in reasons.items()]}
            for name, reasons in summary.counts.items()
        ],
        "newest": [
            {"received_at": company.show_time(h.received_at, zone), "form_name": h.form_name, "email": h.email,
             "reason": h.reason, "submission": h.public_id}
            for h in summary.newest
        ],
    }


def _last_summarised_day(session: Session, day: dt.date) -> dt.date | None:
    """The latest day before `day` a summary was queued on, read from its idempotency keys."""
    key = session.scalar(
        select(func.max(OutboxMessage.idempotency_key))
        .where(OutboxMessage.idempotency_key >= _KEY, OutboxMessage.idempotency_key < f"{_KEY}{day.isoformat()}")
        .where(OutboxMessage.template == TEMPLATE)
    )
    try:
        return dt.date.fromisoformat(key.removeprefix(_KEY).split(":")[0]) if key else None
    except ValueError:
        return None


def _start(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The moment a company day begins, in UTC."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _counts(window: tuple[ColumnElement[bool], ...]) -> Select[str, str | None, int]:
    return (
        select(WebForm.name, WebSubmission.spam_reason, func.count())
        .join(WebForm, WebForm.id == WebSubmission.form_id).where(*window)
        .group_by(WebForm.name, WebSubmission.spam_reason)
    )


def _newest(window: tuple[ColumnElement[bool], ...]) -> Select[str, dt.datetime, str, str | None, str | None]:
    return (
        select(WebSubmission.public_id, WebSubmission.received_at, WebForm.name, WebSubmission.email,
               WebSubmission.spam_reason)
        .join(WebForm, WebForm.id == WebSubmission.form_id).where(*window)
        .order_by(WebSubmission.received_at.desc(), WebSubmission.id.desc()).limit(NEWEST)
    )
