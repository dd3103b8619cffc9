"""One-click work from My day and the record pages: complete a task, log a call with its outcome, plan the next
follow-up ("tomorrow", "in 3 days", "next week"), dismiss a memo reminder. Each acts only within the user's
scope, over `crm_store.pipeline.activities`, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_, translate
from crm_store.models import Activity, Note, User, utcnow
from crm_store.pipeline import activities
from crm_store.records import registry
from crm_store.records.record_page import title_of
from crm_store.settings import company, picklists
from crm_store.staff import scope as scoping
from crm_store.staff.actions import visible_record

# How a call went: Vtiger's event statuses a call that was made can have (Planned is for calls to come).
CALL_OUTCOMES = ("Held", "Not Held")
FOLLOW_UP_CHOICES = {"tomorrow": N_("Tomorrow"), "in_3_days": N_("In 3 days"), "next_week": N_("Next week")}


def follow_up_date(choice: str, today: dt.date) -> dt.date:
    """The date a quick choice means: tomorrow, in 3 days, or next week (its Monday)."""
    if choice == "tomorrow":
        return today + dt.timedelta(days=1)
    if choice == "in_3_days":
        return today + dt.timedelta(days=3)
    if choice == "next_week":
        return today + dt.timedelta(days=7 - today.weekday())
    raise ValidationError("when", N_("%(value)s is not one of %(choices)s"), value=repr(choice),
                          choices=", ".join(FOLLOW_UP_CHOICES))


def today_of(session: Session, user: User, as_of: dt.datetime | None = None) -> dt.date:
    """The user's date now (or at `as_of`), in their time zone, else the company's."""
    return (as_of or utcnow()).astimezone(company.zone_for(session, user)).date()


def complete_task(
    session: Session, user: User, activity_id: int, *, outcome: str | None = None, at: dt.datetime | None = None
) -> Activity:
    """Mark an open activity done: the user's own, or one of an owner in their scope."""
    activity = _activity(session, user, activity_id)
    return activities.complete_activity(session, activity, Actor.user(user.id), outcome=outcome, at=at)


def log_call(
    session: Session, user: User, module: str, record_id: int, *, status: str = "Held", outcome: str | None = None,
    subject: str | None = None, at: dt.datetime | None = None, minutes: int | None = None,
) -> Activity:
    """Record a call the user made about a record: Held or Not Held, what came of it; it touches the record."""
    if status not in CALL_OUTCOMES or status not in picklists.values(session, "event_status"):
        raise ValidationError("status", N_("%(value)s is not one of %(choices)s"), value=repr(status),
                              choices=", ".join(CALL_OUTCOMES))
    if minutes is not None and not 0 <= minutes <= 24 * 60:
        raise ValidationError("minutes", N_("must be from 0 to 1440"))
    record = visible_record(session, user, module, record_id)
    at = at or utcnow()
    values = {
        "type": "call", "owner_id": user.id, "start_at": at, "status": "Planned",
        "subject": subject or translate(user.language, N_("Call with %(name)s"), name=title_of(module, record))[:255],
        "end_at": at + dt.timedelta(minutes=minutes) if minutes is not None else None,
        "outcome": (outcome or "").strip() or None, **_links(module, record),
    }
    call = activities.create_activity(session, values, Actor.user(user.id))
    activities.complete_activity(session, call, Actor.user(user.id), at=at)
    call.status = status
    session.flush()
    return call


def schedule_follow_up(
    session: Session, user: User, module: str, record_id: int, due: dt.date, *, subject: str | None = None,
    priority: str | None = None, as_of: dt.datetime | None = None,
) -> Activity:
    """Plan the next step on a record: a task for the user, due on a date not before their today."""
    record = visible_record(session, user, module, record_id)
    if due < today_of(session, user, as_of):
        raise ValidationError("due_date", N_("%(day)s is in the past"), day=due.isoformat())
    name = title_of(module, record)
    values = {
        "type": "task", "owner_id": user.id, "due_date": due, "priority": priority,
        "subject": subject or translate(user.language, N_("Follow up with %(name)s"), name=name)[:255],
        **_links(module, record),
    }
    return activities.create_activity(session, values, Actor.user(user.id))


def dismiss_reminder(session: Session, user: User, note_id: int, *, at: dt.datetime | None = None) -> Note:
    """Mark a memo reminder of the user's own as seen: My day no longer shows it."""
    note = session.get(Note, note_id)
    if note is None or note.deleted_at is not None or note.author_id != user.id or note.remind_at is None:
        raise NotFound(f"no reminder {note_id}")
    note.reminded_at = at or utcnow()
    session.flush()
    return note


def _activity(session: Session, user: User, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or activity.deleted_at is not None:
        raise NotFound(f"no activity {activity_id}")
    if not scoping.scope_of(session, user).sees_owner(activity.owner_id, "activities"):
        raise NotFound(f"no activity {activity_id}")
    return activity


def _links(module: str, record: Any) -> dict[str, int]:
    """What an activity on a record points at: the record, and the account (and contact) it belongs to."""
    links = {registry.get(module).link_column or "": record.id}
    for column in ("account_id", "contact_id"):
        if module != "leads" and getattr(record, column, None) is not None:
            links.setdefault(column, getattr(record, column))
    return links
