"""What a record page shows: the record within the user's scope, its fields in Vtiger's blocks (references by
name), and its related lists — contacts, opportunities, activities, notes, stage history with the days spent
in each stage, campaigns; a lead's and an opportunity's automation facts (`LeadFollowUp`, `DealRotting`). The
timeline is `crm_store.records.timeline`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from crm_store.languages import translate, translate_value
from crm_store.models import Activity, Cadence, Contact, Lead, Opportunity, SalesStage, User, utcnow
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
from crm_store.settings import company
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
class NextTouch:
    """The open task of a lead's follow-up cadence: touch `step` of `total` (None: the cadence is unknown)."""

    activity_id: int
    step: int
    total: int | None
    due_date: dt.date | None


@dataclass(frozen=True)
class LeadFollowUp:
    """What the automation knows of a lead: its aging, its cadence, why it has its owner, its first response.

    `cadence_finished`: every touch of the cadence was created and none is open. `cadence_step` is how many
    touches were created (None: no cadence started). `today` is the user's (a touch due before it is late);
    `idle_days_mode` how lead-aging counts idle days (calendar, working).
    """

    today: dt.date
    idle_days_mode: str
    aging_state: str | None
    idle_days: int | None
    next_touch: NextTouch | None
    cadence_step: int | None
    cadence_total: int | None
    cadence_finished: bool
    assignment_reason: str | None
    assigned_at: dt.datetime | None
    first_response_at: dt.datetime | None
    first_response_minutes: int | None
    last_touch_at: dt.datetime | None

    @property
    def awaiting_response(self) -> bool:
        """Assigned and not touched since, so no first response yet (a lead worked before the automation recorded
        first responses has none recorded, but is not waiting)."""
        if self.first_response_at is not None or self.assigned_at is None:
            return False
        return self.last_touch_at is None or self.last_touch_at < self.assigned_at


@dataclass(frozen=True)
class DealRotting:
    """An opportunity's idle days against its stage's `rotting_days`; `rotting_since` None when it is not rotting."""

    idle_days_mode: str
    idle_days: int | None
    rotting_days: int | None
    rotting_since: dt.datetime | None


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
    follow_up: LeadFollowUp | None = None  # leads
    rotting: DealRotting | None = None  # opportunities


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
    spec, now = registry.get(module), now or utcnow()
    shown = _references(session, module, record, language)
    owner = shown.get("owner_id")
    return RecordPage(
        module, record.id, getattr(record, spec.number_field), _title(spec, record), record.owner_id,
        owner[0] if owner else None, record, _blocks(module, record, shown, language),
        contacts=_related_rows(session, scope, "contacts", _contact_ids(module, record)),
        opportunities=_related_rows(session, scope, "opportunities", _opportunity_ids(module, record)),
        activities=activities(session, spec.link_column, record.id, RELATED_LIMIT),
        notes=notes(session, spec.link_column, record.id, RELATED_LIMIT),
        stage_history=stage_history(session, record.id, now) if module == "opportunities" else [],
        campaigns=campaigns(session, module, record),
        follow_up=lead_follow_up(session, user, record, now) if module == "leads" else None,
        rotting=deal_rotting(session, record) if module == "opportunities" else None,
    )


def lead_follow_up(session: Session, user: User, lead: Lead, now: dt.datetime) -> LeadFollowUp:
    """A lead's automation facts: its open cadence task (the latest touch not done) and the cadence's length."""
    touch = session.execute(
        select(Activity.id, Activity.cadence_step, Activity.due_date)
        .where(Activity.lead_id == lead.id, Activity.cadence_step.is_not(None), Activity.completed_at.is_(None),
               Activity.deleted_at.is_(None))
        .order_by(Activity.cadence_step.desc(), Activity.id.desc()).limit(1)
    ).first()
    total = _cadence_length(session, lead.cadence_id) if lead.cadence_step is not None or touch else None
    finished = touch is None and lead.cadence_step is not None and total is not None and lead.cadence_step >= total
    return LeadFollowUp(
        now.astimezone(company.zone_for(session, user)).date(), str(company.get(session, "idle_days_mode")),
        lead.aging_state, lead.idle_days, NextTouch(touch[0], touch[1] or 0, total, touch[2]) if touch else None,
        lead.cadence_step, total, finished, lead.assignment_reason, lead.assigned_at, lead.first_response_at,
        lead.first_response_minutes, lead.last_touch_at,
    )


def _cadence_length(session: Session, cadence_id: int | None) -> int | None:
    """How many touches a cadence has (no id: the default cadence's)."""
    stmt = select(Cadence.offsets)
    stmt = stmt.where(Cadence.id == cadence_id) if cadence_id is not None else stmt.where(Cadence.is_default)
    offsets = session.scalars(stmt.order_by(Cadence.id).limit(1)).first()
    return len(offsets) if offsets else None


def deal_rotting(session: Session, opportunity: Opportunity) -> DealRotting:
    """An opportunity's idle days, its stage's rotting threshold and since when it is rotting."""
    days = session.scalar(select(SalesStage.rotting_days).where(SalesStage.id == opportunity.stage_id))
    open_deal = opportunity.closed_at is None
    return DealRotting(str(company.get(session, "idle_days_mode")), opportunity.idle_days if open_deal else None, days,
                       opportunity.rotting_since if open_deal else None)


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


def _references(session: Session, module: str, record: Any, language: str = "en") -> dict[str, Shown]:
    """Field -> (what it shows, (module, id) to link to) for each reference the record holds."""
    found: dict[str, Shown] = {}
    for column in registry.get(module).model.__table__.columns:
        value = getattr(record, column.name)
        for fk in column.foreign_keys:
            if value is not None:
                shown = _shown(session, fk.column.table, value, language)
                if shown is not None:
                    found[column.name] = shown
    return found


TRANSLATED_NAMES = ("sales_stages", "sales_processes")  # seeded names in the catalogue (`translate_value`)


def _shown(session: Session, table: Table, row_id: int, language: str = "en") -> Shown | None:
    spec = next((m for m in registry.modules() if m.model.__table__ is table), None)
    if spec is not None:
        row = session.get(spec.model, row_id)
        return (_title(spec, row), (spec.name, row_id)) if row is not None else None
    for column in ("name", "code"):
        if column in table.c:
            name = session.scalar(select(table.c[column]).where(table.c.id == row_id))
            if name is None:
                return None
            return (translate_value(language, name) if table.name in TRANSLATED_NAMES else str(name)), None
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
