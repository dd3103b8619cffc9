"""Notes on a record's page, each with an optional memo reminder (the reminders flow emails it to its author).

Notes are written on the records a user may see: leads, accounts, contacts and opportunities within their scope
(`crm_store.staff.scope`), quotes, sales orders and invoices the same way, and products, which every user sees
(the catalogue is the company's). A record's notes are seen by whoever sees the record. A note is deleted (to
nothing shown: `deleted_at`) by its author, or by a manager or an admin who sees its record; edited by its
author only (a new reminder time is reminded anew).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Note, Product, User, utcnow
from crm_store.pipeline import activities
from crm_store.records import registry
from crm_store.staff import scope as scoping

NOTABLE = ("leads", "accounts", "contacts", "opportunities", "quotes", "sales_orders", "invoices", "products")
EVERYONE = ("products",)  # seen by every user, so are their notes
KEEPERS = ("admin", "manager")  # who may delete another's note on a record they see
MAX_BODY = 5000  # characters of a note


@dataclass(frozen=True)
class NoteItem:
    """A note as a record's page lists it: who wrote it and when, its text, its reminder and whether it was sent."""

    id: int
    body: str
    author_id: int | None
    author_name: str | None
    created_at: dt.datetime
    remind_at: dt.datetime | None
    reminded_at: dt.datetime | None


def record_of(session: Session, user: User, module: str, number: str) -> Any | None:
    """The live record numbered `number` of a module with notes, if `user` may see it; else None."""
    if module not in NOTABLE:
        return None
    if module in EVERYONE:
        product = session.scalar(select(Product).where(Product.product_no == number.strip().upper(),
                                                       Product.deleted_at.is_(None)))
        return product if user.active else None
    return scoping.fetch_by_number(session, user, module, number)


def listed(module: str, record_id: int, limit: int) -> Select[Note, str]:
    """Select a record's live notes with their authors' names, newest first."""
    column = getattr(Note, registry.get(module).link_column or "")
    return (select(Note, User.name).outerjoin(User, User.id == Note.author_id)
            .where(column == record_id, Note.deleted_at.is_(None))
            .order_by(Note.created_at.desc(), Note.id.desc()).limit(limit))


def notes_on(session: Session, module: str, record_id: int, limit: int = 50) -> list[NoteItem]:
    """A record's live notes, newest first (the caller has checked the user sees the record)."""
    return [NoteItem(n.id, n.body, n.author_id, name, n.created_at, n.remind_at, n.reminded_at)
            for n, name in session.execute(listed(module, record_id, limit))]


def add(
    session: Session, user: User, module: str, record: Any, body: str, *, remind_at: dt.datetime | None = None,
    as_of: dt.datetime | None = None,
) -> Note:
    """Write a note on a record the user sees, with a reminder at a moment to come (or none)."""
    _check(body, remind_at, as_of)
    column = registry.get(module).link_column or ""
    return activities.add_note(session, body, Actor.user(user.id), remind_at=remind_at, **{column: record.id})


def may_delete(user: User, author_id: int | None) -> bool:
    """Whether the user deletes a note they see: their own, or anyone's for a manager or an admin."""
    return user.active and (author_id == user.id or user.role in KEEPERS)


def may_edit(user: User, author_id: int | None) -> bool:
    """Whether the user edits a note they see: only their own (nobody rewrites another's words)."""
    return user.active and author_id == user.id


def visible_note(session: Session, user: User, note_id: int) -> tuple[Note, str, str]:
    """A live note on a record the user sees, with its record's module and number; `NotFound` otherwise."""
    note = session.get(Note, note_id)
    found = _record_of_note(session, user, note) if note is not None and note.deleted_at is None else None
    if note is None or found is None:
        raise NotFound(f"no note {note_id}")
    return note, *found


def edit(
    session: Session, user: User, note_id: int, body: str, *, remind_at: dt.datetime | None,
    as_of: dt.datetime | None = None,
) -> tuple[str, str]:
    """Rewrite one's own note and its reminder; a new reminder time is reminded anew. Return its record's
    (module, number)."""
    note, module, number = visible_note(session, user, note_id)
    if not may_edit(user, note.author_id):
        raise ValidationError("note", N_("Only its author edits a note."))
    if not body or not body.strip():
        raise ValidationError("body", "is required")
    kept = remind_at == note.remind_at or (remind_at is not None and note.remind_at is not None
                                           and abs(remind_at - note.remind_at) < dt.timedelta(minutes=1))
    _check(body, None if kept else remind_at, as_of)  # a reminder kept as it was (to the minute) may be past
    if not kept:
        note.remind_at, note.reminded_at = remind_at, None
    note.body = body.strip()
    session.flush()
    return module, number


def delete(session: Session, user: User, note_id: int, *, at: dt.datetime | None = None) -> tuple[str, str]:
    """Delete a note on a record the user sees, if they may; return its record's (module, number)."""
    note, module, number = visible_note(session, user, note_id)
    if not may_delete(user, note.author_id):
        raise ValidationError("note", N_("Only its author, a manager or an admin deletes a note."))
    note.deleted_at = at or utcnow()
    session.flush()
    return module, number


def _check(body: str, remind_at: dt.datetime | None, as_of: dt.datetime | None) -> None:
    if len(body or "") > MAX_BODY:
        raise ValidationError("body", N_("Use at most %(max)d characters."), max=MAX_BODY)
    if remind_at is not None and remind_at.tzinfo is None:
        raise ValidationError("remind_at", "needs a time zone")
    if remind_at is not None and remind_at <= (as_of or utcnow()):
        raise ValidationError("remind_at", N_("The reminder must be in the future."))


def _record_of_note(session: Session, user: User, note: Note) -> tuple[str, str] | None:
    """The (module, number) of the record a note is on, if the user sees it."""
    for module in NOTABLE:
        spec = registry.get(module)
        record_id = getattr(note, spec.link_column or "")
        if record_id is None:
            continue
        record = session.get(spec.model, record_id)
        if record is None or record.deleted_at is not None:
            return None
        number = str(getattr(record, spec.number_field))
        return (module, number) if record_of(session, user, module, number) is not None else None
    return None
