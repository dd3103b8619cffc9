"""The audit trail: every create, update, delete, restore, merge, conversion and assignment; document downloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Integer, Select, String, Table, insert, literal, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.db.fast_insert import insert_rows
from crm_store.models import AuditEntry, Document, User, utcnow
from crm_store.models.base import UTCDateTime

# Fields that change on every write and say nothing a person needs in a history.
QUIET_FIELDS = frozenset({"updated_at", "created_at", "id", "email_key"})  # email_key follows email


def plain(value: Any) -> Any:
    """Turn a field value into something JSON keeps exactly (Decimal and dates as text)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Return field -> [old, new] for the fields whose value changed."""
    return {
        k: [plain(before.get(k)), plain(v)]
        for k, v in after.items()
        if k not in QUIET_FIELDS and before.get(k) != v
    }


def log(
    session: Session,
    action: str,
    module: str,
    record_id: int,
    actor: Actor,
    *,
    record_no: str | None = None,
    changes: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Write one audit row in the caller's transaction."""
    entry = AuditEntry(
        at=at or utcnow(), user_id=actor.user_id, automation=actor.automation, action=action, module=module,
        record_id=record_id, record_no=record_no, changes=dict(changes or {}),
    )
    session.add(entry)
    return entry


_INSERT = insert(AuditEntry.__table__)


def entry(
    action: str, module: str, record_id: int, actor: Actor, *, record_no: str | None = None,
    changes: Mapping[str, Any] | None = None, at: dt.datetime | None = None,
) -> dict[str, Any]:
    """One audit row's values, for `write_many`."""
    return {
        "at": at or utcnow(), "user_id": actor.user_id, "automation": actor.automation, "action": action,
        "module": module, "record_id": record_id, "record_no": record_no, "changes": dict(changes or {}),
        "undone_by_id": None,
    }


def write_many(session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Write audit rows made by `entry` with one statement (no ORM objects)."""
    if entries:
        insert_rows(session, AuditEntry.__table__, entries)


def write(
    session: Session, action: str, module: str, record_id: int, actor: Actor, *, record_no: str | None = None,
    changes: Mapping[str, Any] | None = None, at: dt.datetime | None = None,
) -> None:
    """Like `log`, as one Core INSERT (no ORM object): for hot paths such as the web form."""
    session.execute(_INSERT, entry(action, module, record_id, actor, record_no=record_no, changes=changes, at=at))


def log_many(
    session: Session,
    action: str,
    module: str,
    rows: Iterable[tuple[int, str | None, Mapping[str, Any]]],
    actor: Actor,
    at: dt.datetime | None = None,
) -> int:
    """Write audit rows for a bulk operation with one set-based insert; return how many."""
    at = at or utcnow()
    values = [
        entry(action, module, record_id, actor, record_no=record_no, changes=changes, at=at)
        for record_id, record_no, changes in rows
    ]
    for start in range(0, len(values), 10_000):
        write_many(session, values[start : start + 10_000])
    return len(values)


def log_created(
    session: Session, module: str, table: Table, number_column: str, ids: Sequence[int], actor: Actor,
    changes: Mapping[str, Any], at: dt.datetime | None = None,
) -> None:
    """Audit freshly inserted rows with one INSERT … SELECT: set-based, one audit row per record."""
    if not ids:
        return
    columns = ("at", "user_id", "automation", "action", "module", "record_id", "record_no", "changes")
    source = select(
        literal(at or utcnow(), UTCDateTime()), literal(actor.user_id, Integer()),
        literal(actor.automation, String()), literal("create"), literal(module), table.c.id,
        table.c[number_column], literal(dict(changes), JSON()),
    ).where(table.c.id.in_(list(ids)))
    session.execute(insert(AuditEntry.__table__).from_select(columns, source))


def created_values(record: Any, columns: Sequence[str]) -> dict[str, list[Any]]:
    """Return [None, value] for every field set on a new record (an object, or a mapping of its values)."""
    get = record.get if isinstance(record, Mapping) else lambda c: getattr(record, c)
    return {c: [None, plain(get(c))] for c in columns if c not in QUIET_FIELDS and get(c) is not None}


def history(module: str, record_id: int) -> Select[AuditEntry]:
    """Select a record's audit rows, oldest first."""
    return (
        select(AuditEntry)
        .where(AuditEntry.module == module, AuditEntry.record_id == record_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )


def history_with_authors(module: str, record_id: int) -> Select[AuditEntry, str | None]:
    """Select a record's audit rows, oldest first, each with the email of the user who made it (if a user did)."""
    return history(module, record_id).add_columns(User.email).outerjoin(User, User.id == AuditEntry.user_id)


def log_download(session: Session, document: Document, actor: Actor) -> AuditEntry:
    """Write that `actor` downloaded a document (its number, who, when), in the caller's transaction."""
    return log(session, "download", "documents", document.id, actor, record_no=document.document_no)
