"""The recycle bin: deleted records wait here, can be restored, and are purged after a while.

A record that other rows cannot do without stays: a product on the lines of a quote, order or invoice (the
documents keep their lines, and an invoice must be kept), an account that documents are made out to. Purging
it on request is refused naming what holds it; the daily purge leaves it in the bin until nothing does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Table, and_, delete, func, null, or_, select, tuple_, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import (
    Activity,
    AuditEntry,
    Base,
    CampaignMember,
    DocumentLink,
    LineItem,
    Note,
    Payment,
    StageHistory,
    utcnow,
)
from crm_store.records import audit, registry
from crm_store.records.names import display_name
from crm_store.search import index as search_index
from crm_store.settings import company
from crm_store.staff import scope as scoping

# Rows that only make sense with their record: removed with it when nothing else holds them.
ATTACHED = (Activity.__table__, Note.__table__, DocumentLink.__table__)
OWNED = (StageHistory.__table__, CampaignMember.__table__)
# Rows that belong to a record by one column (a document's lines and payments), not by the others they hold.
OWNED_BY = {(t.name, c) for t, c in ((LineItem.__table__, "quote_id"), (LineItem.__table__, "sales_order_id"),
                                     (LineItem.__table__, "invoice_id"), (Payment.__table__, "invoice_id"))}


@dataclass(frozen=True)
class BinEntry:
    """A deleted record (`first_name` and `owner_id` too when it has them: `title` is its whole name)."""

    module: str
    id: int
    number: str
    label: str
    deleted_at: dt.datetime
    first_name: str | None = None
    owner_id: int | None = None

    @property
    def title(self) -> str:
        """The record as people read it: a person's whole name (family name first in Chinese), else its name."""
        return display_name(self.first_name, self.label) if self.first_name else str(self.label or "")


@dataclass(frozen=True)
class Deletion:
    """Who put a record in the bin (a user or an automation, as the audit row names them) and how: deleted, or merged
    `into` a record."""

    user_id: int | None
    automation: str | None
    at: dt.datetime
    into: str | None = None  # the survivor's number when the record was merged away


def entries(session: Session, module: str | None = None, *, scope: scoping.Scope | None = None) -> list[BinEntry]:
    """List deleted records, newest deletion first; `scope`: only those its user may see."""
    found = []
    for spec in registry.modules():
        if not spec.editable or (module and spec.name != module):
            continue
        model = spec.model
        number, label = getattr(model, spec.number_field), getattr(model, spec.title)
        first = spec.searchable.first_name if spec.searchable is not None else None
        stmt = select(model.id, number, label, model.deleted_at, getattr(model, first) if first else null(),
                      model.owner_id if "owner_id" in model.__table__.c else null()
                      ).where(model.deleted_at.is_not(None))
        if scope is not None:
            stmt = stmt.where(scoping.condition(scope, spec.name))
        found += [BinEntry(spec.name, i, n, lab, at, f, o) for i, n, lab, at, f, o in session.execute(stmt)]
    return sorted(found, key=lambda e: e.deleted_at, reverse=True)


MERGE_WINDOW = dt.timedelta(seconds=2)  # a merge's audit row is written at (older ones: just after) its binning


def deletions(session: Session, binned: list[BinEntry]) -> dict[tuple[str, int], Deletion]:
    """Who put each record in the bin: its `delete` audit row, or the `merge` row that names it among the merged."""
    if not binned:
        return {}
    keys = [(e.module, e.id) for e in binned]
    candidates: dict[tuple[str, int], list[Deletion]] = {}
    deleted = select(AuditEntry.module, AuditEntry.record_id, AuditEntry.user_id, AuditEntry.automation,
                     AuditEntry.at).where(AuditEntry.action == "delete",
                                          tuple_(AuditEntry.module, AuditEntry.record_id).in_(keys))
    for module, record_id, user_id, automation, at in session.execute(deleted):
        candidates.setdefault((module, record_id), []).append(Deletion(user_id, automation, at))
    windows = {(e.module, e.deleted_at) for e in binned}
    merged = select(AuditEntry).where(AuditEntry.action == "merge", or_(*(
        and_(AuditEntry.module == module, AuditEntry.at.between(at, at + MERGE_WINDOW)) for module, at in windows
    )))
    wanted = set(keys)
    for entry in session.scalars(merged):
        for other_id, _number in (entry.changes or {}).get("merged", []):
            if (entry.module, other_id) in wanted:
                candidates.setdefault((entry.module, other_id), []).append(
                    Deletion(entry.user_id, entry.automation, entry.at, entry.record_no))
    by_key = {(e.module, e.id): e.deleted_at for e in binned}
    return {key: min(found, key=lambda d: abs(d.at - by_key[key])) for key, found in candidates.items()}


def purge_date(session: Session, entry: BinEntry) -> dt.datetime:
    """When `purge` (run daily) deletes the record for good: `recycle_bin_days` after it was deleted."""
    return entry.deleted_at + dt.timedelta(days=company.get(session, "recycle_bin_days"))


def purge(session: Session, actor: Actor, *, older_than_days: int | None = None,
          now: dt.datetime | None = None) -> dict[str, int]:
    """Delete for good what has been in the bin longer than `recycle_bin_days`; return counts per module.

    A record something still needs (`holders`) stays in the bin; it is tried again once the others are gone
    (a product whose only lines were those of an invoice purged in the same run goes too)."""
    days = older_than_days if older_than_days is not None else company.get(session, "recycle_bin_days")
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    purged: dict[str, int] = {}
    for _attempt in range(2):
        for spec in _purge_order():
            model = spec.model
            number = getattr(model, spec.number_field)
            rows = session.execute(select(model.id, number).where(model.deleted_at < cutoff)).all()
            held = holders(session, model.__table__, [r[0] for r in rows])
            free = [(r[0], r[1]) for r in rows if r[0] not in held]
            if free:
                purged[spec.name] = purged.get(spec.name, 0) + _purge(session, spec, free, actor)
    return purged


def purge_records(session: Session, module: str, ids: list[int], actor: Actor) -> int:
    """Delete these records for good now, those of them in the bin (an admin's choice); return how many.

    Refused, naming the first record and what holds it, when another row cannot do without one of them."""
    spec = registry.get(module)
    model = spec.model
    number = getattr(model, spec.number_field)
    rows = session.execute(select(model.id, number).where(model.id.in_(ids), model.deleted_at.is_not(None))
                           .order_by(model.id)).all()
    held = holders(session, model.__table__, [r[0] for r in rows])
    for record_id, record_no in rows:
        if record_id in held:
            raise ValidationError("id", N_("%(number)s cannot be purged while other records refer to it (%(held)s): "
                                           "they are kept, and it stays in the recycle bin"), number=record_no,
                                  held=", ".join(f"{what} {n}" for what, n in sorted(held[record_id].items())))
    return _purge(session, spec, [(r[0], r[1]) for r in rows], actor) if rows else 0


def holders(session: Session, target: Table, ids: list[int]) -> dict[int, dict[str, int]]:
    """Which of these records other rows cannot do without (a required reference that is not theirs to delete):
    record id -> {the table holding it ("line_items", "invoices"): how many rows}."""
    held: dict[int, dict[str, int]] = {}
    if not ids:
        return held
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not target or fk.parent.nullable or _owned(table, fk.parent.name, fk.ondelete):
                continue
            column = fk.parent
            stmt = select(column, func.count()).where(column.in_(ids)).group_by(column)
            for record_id, n in session.execute(stmt):
                held.setdefault(record_id, {})[table.name] = n
    return held


def _owned(table: Table, column: str, ondelete: str | None) -> bool:
    """Whether rows of a table pointing at a record by a column are the record's: purged with it."""
    return table in OWNED or (table.name, column) in OWNED_BY or (ondelete or "").upper() == "CASCADE"


def _purge(session: Session, spec: registry.Module, rows: list[tuple[int, str]], actor: Actor) -> int:
    """Delete records of one module with what only they hold, audited; return how many."""
    module, model = spec.name, spec.model
    ids = [i for i, _n in rows]
    if spec.searchable is not None:
        search_index.index_records(session, module, ids)  # drops their documents before the rows go
    _detach(session, model.__table__, ids)
    session.execute(delete(model).where(model.id.in_(ids)))
    audit.log_many(session, "purge", module, ((i, n, {}) for i, n in rows), actor)
    return len(ids)


def _purge_order() -> list[registry.Module]:
    """The modules kept in the bin, those that refer to others first (a deal before its account)."""
    order = {table: i for i, table in enumerate(Base.metadata.sorted_tables)}
    editable = [m for m in registry.modules() if m.editable]
    return sorted(editable, key=lambda m: order.get(m.model.__table__, 0), reverse=True)


def _link_columns() -> list[str]:
    """The columns by which activities, notes and documents point at records."""
    return [m.link_column for m in registry.modules() if m.link_column]


def _detach(session: Session, target: Table, ids: list[int]) -> None:
    """Remove or unlink every row that points at the records about to be purged."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not target:
                continue
            column = fk.parent
            if _owned(table, column.name, fk.ondelete):  # a document's lines, a product's prices in price books
                session.execute(delete(table).where(column.in_(ids)))
                continue
            if table in ATTACHED:  # an activity or note about nothing else goes with the record
                others = [table.c[c].is_(None) for c in _link_columns() if c != column.name]
                session.execute(delete(table).where(column.in_(ids), and_(*others)))
            session.execute(update(table).where(column.in_(ids)).values({column.name: None}))
