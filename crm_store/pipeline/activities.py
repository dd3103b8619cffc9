"""Activities and notes on leads, accounts, contacts and opportunities."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation import cadence
from crm_store.errors import ValidationError
from crm_store.models import ACTIVITY_TYPES, Activity, Note, User, utcnow
from crm_store.records import registry
from crm_store.records.validation import coerce
from crm_store.settings import picklists


def parent_columns() -> dict[str, Any]:
    """The columns by which an activity or a note points at a record, and that record's model."""
    return {m.link_column: m.model for m in registry.modules() if m.link_column}

DONE_STATUS = {"task": "Completed", "email": "Completed", "call": "Held", "meeting": "Held"}


def status_picklist(activity_type: str) -> str:
    """Return the picklist an activity type's status comes from (tasks vs events)."""
    return "task_status" if activity_type in ("task", "email") else "event_status"


def clean_activity(values: dict[str, Any], allowed: dict[str, frozenset[str]]) -> dict[str, Any]:
    """Check an activity's own values (no database look-ups); fail naming the field."""
    kind = values.get("type")
    if kind not in ACTIVITY_TYPES:
        raise ValidationError("type", f"{kind!r} is not one of {', '.join(ACTIVITY_TYPES)}")
    columns = Activity.__table__.columns
    unknown = next((k for k in values if k not in columns or k in ("id", "deleted_at")), None)
    if unknown is not None:
        raise ValidationError(unknown, "is not a field of activities")
    clean = {k: coerce(k, columns[k].type, v) for k, v in values.items()}
    if not clean.get("subject"):
        raise ValidationError("subject", "is required")
    clean.setdefault("status", "Not Started" if status_picklist(kind) == "task_status" else "Planned")
    picklists.check(allowed, status_picklist(kind), "status", clean["status"])
    picklists.check(allowed, "task_priority", "priority", clean.get("priority"))
    if kind == "task" and clean.get("due_date") is None:
        raise ValidationError("due_date", "a task needs a due date")
    if kind in ("call", "meeting") and clean.get("start_at") is None:
        raise ValidationError("start_at", f"a {kind} needs a start time")
    if clean.get("end_at") and clean.get("start_at") and clean["end_at"] < clean["start_at"]:
        raise ValidationError("end_at", "must not be before start_at")
    if (clean.get("reminder_minutes") or 0) < 0:
        raise ValidationError("reminder_minutes", "must not be negative")
    return clean


def create_activity(session: Session, values: dict[str, Any], actor: Actor) -> Activity:
    """Add a task, call, meeting or email linked to at most one record of each kind."""
    clean = clean_activity(values, picklists.all_values(session))
    owner_id = clean.get("owner_id") or actor.user_id
    if owner_id is None or session.get(User, owner_id) is None:
        raise ValidationError("owner_id", "an activity needs an existing owner")
    clean["owner_id"] = owner_id
    _check_parents(session, clean)
    activity = Activity(**clean, created_by_id=actor.user_id, created_by_automation=actor.automation)
    session.add(activity)
    session.flush()
    return activity


def complete_activity(
    session: Session, activity: Activity, actor: Actor, *, outcome: str | None = None, at: dt.datetime | None = None
) -> Activity:
    """Mark an activity done; a member of staff completing it touches the records it is about.

    Every completion passes here, so the follow-up cadence hears of each (`crm_store.automation.cadence`).
    """
    if activity.completed_at is not None:
        raise ValidationError("status", "the activity is already completed")
    at = at or utcnow()
    activity.completed_at = at
    activity.completed_by_id = actor.user_id
    activity.status = DONE_STATUS[activity.type]
    if outcome is not None:
        activity.outcome = outcome
    if actor.is_staff:
        _touch(session, activity, at)
    session.flush()
    cadence.on_activity_completed(session, activity, at)  # the lead's first response; a touch's next one
    return activity


def add_note(
    session: Session,
    body: str,
    actor: Actor,
    *,
    remind_at: dt.datetime | None = None,
    at: dt.datetime | None = None,
    **parents: int,
) -> Note:
    """Write a note on a record; a note by a member of staff touches the record."""
    if not body or not body.strip():
        raise ValidationError("body", "is required")
    if remind_at is not None and remind_at.tzinfo is None:
        raise ValidationError("remind_at", "needs a time zone")
    if not parents:
        raise ValidationError("record", "a note must be on a lead, account, contact or opportunity")
    _check_parents(session, parents)
    at = at or utcnow()
    note = Note(body=body.strip(), author_id=actor.user_id, remind_at=remind_at, created_at=at, **parents)
    session.add(note)
    if actor.is_staff:
        _touch(session, note, at)
    session.flush()
    return note


def _check_parents(session: Session, values: dict[str, Any]) -> None:
    for field, model in parent_columns().items():
        if field not in values or values[field] is None:
            continue
        parent = session.get(model, values[field])
        if parent is None or parent.deleted_at is not None:
            raise ValidationError(field, f"{model.__tablename__} record {values[field]} does not exist")


def _touch(session: Session, row: Activity | Note, at: dt.datetime) -> None:
    for field, model in parent_columns().items():
        parent_id = getattr(row, field)
        if parent_id is not None:
            parent = session.get(model, parent_id)
            if parent is None or not hasattr(parent, "last_touch_at"):  # products and sales documents keep none
                continue
            if parent.last_touch_at is None or parent.last_touch_at < at:
                parent.last_touch_at = at
