"""The recycle bin: deleted records wait here, can be restored, and are purged after a while."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Activity, Base, CampaignMember, DocumentLink, Note, StageHistory, utcnow
from crm_store.records import audit, registry
from crm_store.search import index as search_index
from crm_store.settings import company

# Rows that only make sense with their record: removed with it when nothing else holds them.
ATTACHED = (Activity.__table__, Note.__table__, DocumentLink.__table__)
OWNED = (StageHistory.__table__, CampaignMember.__table__)


@dataclass(frozen=True)
class BinEntry:
    """A deleted record."""

    module: str
    id: int
    number: str
    label: str
    deleted_at: dt.datetime


def entries(session: Session, module: str | None = None) -> list[BinEntry]:
    """List deleted records, newest deletion first."""
    found = []
    for spec in registry.modules():
        if not spec.editable or (module and spec.name != module):
            continue
        model = spec.model
        number, label = getattr(model, spec.number_field), getattr(model, spec.title)
        stmt = select(model.id, number, label, model.deleted_at).where(model.deleted_at.is_not(None))
        found += [BinEntry(spec.name, i, n, lab, at) for i, n, lab, at in session.execute(stmt)]
    return sorted(found, key=lambda e: e.deleted_at, reverse=True)


def purge(session: Session, actor: Actor, *, older_than_days: int | None = None,
          now: dt.datetime | None = None) -> dict[str, int]:
    """Delete for good what has been in the bin longer than `recycle_bin_days`; return counts per module."""
    days = older_than_days if older_than_days is not None else company.get(session, "recycle_bin_days")
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    purged: dict[str, int] = {}
    for spec in _purge_order():
        module, model = spec.name, spec.model
        number = getattr(model, spec.number_field)
        rows = session.execute(select(model.id, number).where(model.deleted_at < cutoff)).all()
        if not rows:
            continue
        ids = [r[0] for r in rows]
        if spec.searchable is not None:
            search_index.index_records(session, module, ids)  # drops their documents before the rows go
        _detach(session, model.__table__, ids)
        session.execute(delete(model).where(model.id.in_(ids)))
        audit.log_many(session, "purge", module, ((i, n, {}) for i, n in rows), actor)
        purged[module] = len(ids)
    return purged


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
            if table in OWNED:
                session.execute(delete(table).where(column.in_(ids)))
                continue
            if table in ATTACHED:  # an activity or note about nothing else goes with the record
                others = [table.c[c].is_(None) for c in _link_columns() if c != column.name]
                session.execute(delete(table).where(column.in_(ids), and_(*others)))
            session.execute(update(table).where(column.in_(ids)).values({column.name: None}))
