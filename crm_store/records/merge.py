"""Merge 2–3 duplicate records into one, and undo a merge (or any simple change) from its audit row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import AuditEntry, Base, StageHistory, utcnow
from crm_store.records import audit, registry
from crm_store.records.lifecycle import reindex, stock_follows_bin
from crm_store.records.validation import SYSTEM_FIELDS, coerce

# History stays with the opportunity it describes; everything else follows the survivor.
NOT_MOVED = frozenset({StageHistory.__table__})
# Columns kept from a field (its E.164 form, its company key): taken with it, so search and duplicates follow.
DERIVED_FROM = {"phone": ("phone_e164",), "mobile": ("mobile_e164",), "name": ("name_key",)}


def _module_of(record: Any) -> registry.Module:
    spec = registry.of_record(record)
    if not spec.mergeable:
        raise ValidationError("module", f"{spec.name} cannot be merged")
    return spec


def merge(
    session: Session, survivor: Any, others: list[Any], actor: Actor, take: dict[str, Any] | None = None
) -> AuditEntry:
    """Keep `survivor`, taking chosen field values from the others; move their related rows; bin them."""
    spec = _module_of(survivor)
    module, number_field = spec.name, spec.number_field
    if not 1 <= len(others) <= 2:
        raise ValidationError("records", "merge 2 or 3 records at a time")
    if any(type(o) is not type(survivor) or o.id == survivor.id for o in others):
        raise ValidationError("records", "merge records of the same module, each once")
    if any(r.deleted_at is not None for r in [survivor, *others]):
        raise ValidationError("records", N_("a deleted record cannot be merged; restore it first"))
    fields: dict[str, list[Any]] = {}
    chosen = take or {}
    for name, source in chosen.items():
        if name not in survivor.__table__.columns or name in SYSTEM_FIELDS or name == number_field:
            raise ValidationError(name, f"is not a field that can be taken in a merge of {module}")
        if source not in others:
            raise ValidationError(name, "take values from one of the records being merged")
        derived = [d for d in DERIVED_FROM.get(name, ()) if d in survivor.__table__.columns and d not in chosen]
        for column in (name, *derived):
            old, new = getattr(survivor, column), getattr(source, column)
            if old != new:
                fields[column] = [audit.plain(old), audit.plain(new)]
                setattr(survivor, column, new)
    session.flush()
    moved = _move_related(session, survivor.__table__, [o.id for o in others], survivor.id)
    session.expire_all()  # the set-based moves bypassed the objects already loaded
    now = utcnow()
    for other in others:
        other.deleted_at = now
    session.flush()
    reindex(session, survivor, *others)
    entry = audit.log(
        session, "merge", module, survivor.id, actor, record_no=getattr(survivor, number_field),
        changes={"fields": fields, "merged": [[o.id, getattr(o, number_field)] for o in others],
                 "moved": moved},
        at=now,  # the moment the others went to the bin (the bin says who put them there)
    )
    session.flush()
    return entry


def _move_related(session: Session, target: Any, from_ids: list[int], to_id: int) -> list[list[Any]]:
    """Point every row that refers to the merged records at the survivor; return what moved, for undo."""
    moved = []
    for table in Base.metadata.sorted_tables:
        if table in NOT_MOVED:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is not target:
                continue
            column = fk.parent
            for old_id in from_ids:
                ids = list(session.scalars(select(table.c.id).where(column == old_id)))
                if table is target and old_id in ids:
                    ids.remove(old_id)
                if ids:
                    session.execute(update(table).where(table.c.id.in_(ids)).values({column.name: to_id}))
                    moved.append([table.name, column.name, ids, old_id])
    return moved


def undo(session: Session, entry_id: int, actor: Actor) -> AuditEntry:
    """Reverse a merge, an update, an assignment or a delete recorded in the audit trail."""
    entry = session.get(AuditEntry, entry_id)
    if entry is None:
        raise NotFound(f"no audit entry {entry_id}; `crm history RECORD_NO` lists them")
    if entry.undone_by_id is not None:
        raise ValidationError("audit_id", N_("entry %(entry)s was already undone by entry %(by)s"), entry=entry_id,
                              by=entry.undone_by_id)
    model = registry.get(entry.module).model
    record = session.get(model, entry.record_id)
    if record is None:
        raise NotFound(f"the record of entry {entry_id} no longer exists (purged)")
    if entry.action == "merge":
        gone = [number for other_id, number in entry.changes["merged"] if session.get(model, other_id) is None]
        if gone:
            raise ValidationError(
                "audit_id", N_("%(numbers)s was purged from the recycle bin: the merge cannot be undone"),
                numbers=", ".join(gone),
            )
        _undo_merge(session, model, record, entry.changes)
    elif entry.action == "update" and "stage" in entry.changes:
        raise ValidationError("audit_id", "a stage change is undone by moving the opportunity back to its stage")
    elif entry.action == "update" and _is_sales_document(entry.module):
        _undo_document_update(session, record, entry.changes, actor)
    elif entry.action in ("update", "assign"):
        _set_fields(record, {k: v[0] for k, v in entry.changes.items() if k in record.__table__.columns})
    elif entry.action == "delete":
        if record.deleted_at is None:
            raise ValidationError("audit_id", N_("the record is not in the recycle bin"))
        stock_follows_bin(session, record, actor, binned=False)  # a restored invoice takes its stock again
        record.deleted_at = None
    else:
        raise ValidationError("audit_id", f"a {entry.action} cannot be undone")
    session.flush()
    reindex(session, record, *_merged_records(session, model, entry))
    done = audit.log(session, "undo", entry.module, record.id, actor, record_no=entry.record_no,
                     changes={"undid": entry.id, "action": entry.action})
    session.flush()
    entry.undone_by_id = done.id
    session.flush()
    return done


def _undo_merge(session: Session, model: Any, survivor: Any, changes: dict[str, Any]) -> None:
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    session.flush()
    for table_name, column, ids, old_id in changes["moved"]:
        table = tables[table_name]
        session.execute(update(table).where(table.c.id.in_(ids)).values({column: old_id}))
    session.expire_all()  # the set-based moves bypassed the objects already loaded
    _set_fields(survivor, {k: v[0] for k, v in changes["fields"].items()})
    for other_id, _number in changes["merged"]:
        other = session.get(model, other_id)
        if other is not None:
            other.deleted_at = None


def _is_sales_document(module: str) -> bool:
    from crm_store.sales import documents  # sales builds on records: loaded when first needed

    return module in documents.MODELS


def _undo_document_update(session: Session, record: Any, changes: dict[str, Any], actor: Actor) -> None:
    """Put a quote's, order's or invoice's changed fields back through its own save: totals, locks and stock follow.
    Its lines are not (the audit trail keeps them in words): they are changed back by editing the document."""
    from crm_store.sales import documents, headers

    if "lines" in changes:
        raise ValidationError("audit_id", N_("a change of a document's lines is undone by editing its lines again"))
    module = registry.of_record(record).name
    entered = headers.COMMON | headers.OWN[module] | {"adjustment"}
    documents.update(session, record, {k: v[0] for k, v in changes.items() if k in entered}, actor=actor)


def _set_fields(record: Any, values: dict[str, Any]) -> None:
    for name, raw in values.items():
        setattr(record, name, coerce(name, record.__table__.columns[name].type, raw) if isinstance(raw, str) else raw)


def _merged_records(session: Session, model: Any, entry: AuditEntry) -> list[Any]:
    if entry.action != "merge":
        return []
    return [r for r in (session.get(model, i) for i, _ in entry.changes["merged"]) if r is not None]
