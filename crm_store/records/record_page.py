"""What a record page shows: the record within the user's scope, its fields in Vtiger's blocks (references by
name), and its related lists — contacts, opportunities, activities, notes, stage history with the days spent
in each stage, campaigns. The timeline is `crm_store.records.timeline`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from crm_store.languages import translate
from crm_store.models import Contact, Opportunity, User, utcnow
from crm_store.records import blocks, list_rows, registry
from crm_store.records.names import display_name
from crm_store.records.related import (
    ActivityLine,
    CampaignLine,
    NoteLine,
    StageStay,
    activities,
    campaigns,
    notes,
    stage_history,
)
from crm_store.staff import scope as scoping

RELATED_LIMIT = 50
Shown = tuple[str, tuple[str, int] | None]  # a reference: what it shows, and the (module, id) to link to


@dataclass(frozen=True)
class FieldValue:
    """A field as the page shows it: `value` as stored, `shown` for a reference (the name it points at), and
    `ref` the (module, id) to link to when it points at a record."""

    name: str
    label: str
    kind: str
    value: Any
    shown: str | None = None
    ref: tuple[str, int] | None = None


@dataclass(frozen=True)
class Block:
    """A titled block of fields, in the user's language."""

    title: str
    fields: list[FieldValue]


@dataclass(frozen=True)
class RecordPage:
    """Everything a record page shows but its timeline."""

    module: str
    id: int
    number: str
    title: str
    owner_id: int | None
    owner_name: str | None
    record: Any
    blocks: list[Block]
    contacts: list[list_rows.ContactRow] = field(default_factory=list)
    opportunities: list[list_rows.OpportunityRow] = field(default_factory=list)
    activities: list[ActivityLine] = field(default_factory=list)
    notes: list[NoteLine] = field(default_factory=list)
    stage_history: list[StageStay] = field(default_factory=list)
    campaigns: list[CampaignLine] = field(default_factory=list)


def record_page(
    session: Session, user: User, module: str, record_id: int, *, language: str = "en", now: dt.datetime | None = None
) -> RecordPage | None:
    """The page of a live record `user` may see; None when there is none they may see (the page answers 404)."""
    if module not in blocks.LAYOUTS:
        return None
    scope = scoping.scope_of(session, user)
    record = scoping.fetch(session, user, module, record_id, scope=scope)
    if record is None:
        return None
    spec = registry.get(module)
    shown = _references(session, module, record)
    owner = shown.get("owner_id")
    return RecordPage(
        module, record.id, getattr(record, spec.number_field), _title(spec, record), record.owner_id,
        owner[0] if owner else None, record, _blocks(module, record, shown, language),
        contacts=_related_rows(session, scope, "contacts", _contact_ids(module, record)),
        opportunities=_related_rows(session, scope, "opportunities", _opportunity_ids(module, record)),
        activities=activities(session, spec.link_column, record.id, RELATED_LIMIT),
        notes=notes(session, spec.link_column, record.id, RELATED_LIMIT),
        stage_history=stage_history(session, record.id, now or utcnow()) if module == "opportunities" else [],
        campaigns=campaigns(session, module, record),
    )


def title_of(module: str, record: Any) -> str:
    """A record's title as people read it: a person's whole name (family name first in Chinese), else its name."""
    return _title(registry.get(module), record)


def _title(spec: registry.Module, record: Any) -> str:
    first = spec.searchable.first_name if spec.searchable is not None else None
    title = getattr(record, spec.title) or ""
    return display_name(getattr(record, first), title) if first else str(title)


def _blocks(module: str, record: Any, shown: dict[str, Shown], language: str) -> list[Block]:
    return [
        Block(translate(language, block.title), [
            FieldValue(f.name, translate(language, f.label), f.kind, getattr(record, f.name),
                       *(shown.get(f.name) or (None, None)))
            for f in block.fields
        ])
        for block in blocks.layout(module)
    ]


def _references(session: Session, module: str, record: Any) -> dict[str, Shown]:
    """Field -> (what it shows, (module, id) to link to) for each reference the record holds."""
    found: dict[str, Shown] = {}
    for column in registry.get(module).model.__table__.columns:
        value = getattr(record, column.name)
        for fk in column.foreign_keys:
            if value is not None:
                shown = _shown(session, fk.column.table, value)
                if shown is not None:
                    found[column.name] = shown
    return found


def _shown(session: Session, table: Table, row_id: int) -> Shown | None:
    spec = next((m for m in registry.modules() if m.model.__table__ is table), None)
    if spec is not None:
        row = session.get(spec.model, row_id)
        return (_title(spec, row), (spec.name, row_id)) if row is not None else None
    for column in ("name", "code"):
        if column in table.c:
            name = session.scalar(select(table.c[column]).where(table.c.id == row_id))
            return (str(name), None) if name is not None else None
    return None


def _contact_ids(module: str, record: Any) -> Any:
    """Select the ids of a record's contacts."""
    if module == "accounts":
        return select(Contact.id).where(Contact.account_id == record.id, Contact.deleted_at.is_(None))
    if module == "opportunities" and record.contact_id is not None:
        return select(Contact.id).where(Contact.id == record.contact_id, Contact.deleted_at.is_(None))
    if module == "leads" and record.converted_contact_id is not None:
        return select(Contact.id).where(Contact.id == record.converted_contact_id, Contact.deleted_at.is_(None))
    return None


def _opportunity_ids(module: str, record: Any) -> Any:
    """Select the ids of a record's opportunities."""
    live = Opportunity.deleted_at.is_(None)
    if module == "accounts":
        return select(Opportunity.id).where(Opportunity.account_id == record.id, live)
    if module == "contacts":
        return select(Opportunity.id).where(Opportunity.contact_id == record.id, live)
    if module == "leads" and record.converted_opportunity_id is not None:
        return select(Opportunity.id).where(Opportunity.id == record.converted_opportunity_id, live)
    return None


def _related_rows(session: Session, scope: scoping.Scope, module: str, ids: Any) -> list[Any]:
    """The list rows of related records the user may see, newest first."""
    if ids is None:
        return []
    model = registry.get(module).model
    stmt = ids.where(scoping.condition(scope, module)).order_by(model.created_at.desc(), model.id.desc())
    return list_rows.read(session, module, list(session.scalars(stmt.limit(RELATED_LIMIT))))
