"""The rows of the staff lists, one dataclass per module, read by id with the names they show (owner, account,
stage) in one statement; the records activities and documents are about, named where the user may see them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, literal, select
from sqlalchemy.orm import Session, aliased

from crm_store.models import (
    Account,
    Activity,
    Campaign,
    Contact,
    Currency,
    Document,
    DocumentLink,
    Lead,
    Opportunity,
    SalesStage,
    User,
)
from crm_store.records import registry
from crm_store.records.names import display_name

RELATED = ("leads", "accounts", "contacts", "opportunities")  # what activities and documents are about


@dataclass(frozen=True)
class LeadRow:
    """A lead in the list."""

    id: int
    number: str
    name: str
    company: str | None
    status: str | None
    lead_source: str | None
    email: str | None
    phone: str | None
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class AccountRow:
    """An account in the list."""

    id: int
    number: str
    name: str
    industry: str | None
    account_type: str | None
    phone: str | None
    email: str | None
    city: str | None
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class ContactRow:
    """A contact in the list, with the account they work at."""

    id: int
    number: str
    name: str
    title: str | None
    account_id: int | None
    account_name: str | None
    email: str | None
    phone: str | None
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class OpportunityRow:
    """An opportunity in the list, with its account, stage and amount."""

    id: int
    number: str
    name: str
    account_id: int | None
    account_name: str | None
    stage: str
    amount: Decimal | None
    currency: str
    expected_close_date: dt.date
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class CampaignRow:
    """A campaign in the list."""

    id: int
    number: str
    name: str
    campaign_type: str | None
    status: str | None
    start_date: dt.date | None
    expected_close_date: dt.date | None
    expected_revenue: Decimal | None
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class SalesDocumentRow:
    """A quote, sales order or invoice in the list: its account, status, date, grand total (an invoice's balance)."""

    id: int
    number: str
    name: str
    account_id: int
    account_name: str | None
    status: str
    day: dt.date | None  # valid till, the due date, or the invoice date
    grand_total: Decimal
    balance: Decimal | None  # invoices
    currency: str
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class RecordRef:
    """A record an activity or a document is about: its module, number and title."""

    module: str
    number: str
    title: str


@dataclass(frozen=True)
class DocumentRow:
    """A document in the list: its title, file, sniffed type and size; who uploaded it; what it is attached to
    (the records the user may see)."""

    id: int
    number: str
    name: str
    filename: str
    content_type: str
    size: int
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime
    links: tuple[tuple[str, int], ...] = ()  # (module, id) of each record it is attached to
    about: tuple[RecordRef, ...] = ()


@dataclass(frozen=True)
class ActivityRow:
    """A task, call, meeting or logged email in the list, with the record it is about (when the user sees it)."""

    id: int
    number: str  # its id: activities have no record number
    name: str
    type: str
    status: str
    priority: str | None
    due_date: dt.date | None
    start_at: dt.datetime | None
    completed_at: dt.datetime | None
    owner_id: int | None
    owner_name: str | None
    created_at: dt.datetime
    links: tuple[tuple[str, int], ...] = ()
    about: tuple[RecordRef, ...] = ()


def read(session: Session, module: str, ids: Sequence[int]) -> list[Any]:
    """The rows of these records, in the order of `ids`."""
    if not ids:
        return []
    statement, make = READERS[module]()
    model = Activity if module == "activities" else registry.get(module).model
    by_id = {row.id: make(row) for row in session.execute(statement.where(model.id.in_(list(ids))))}
    return [by_id[i] for i in ids if i in by_id]


def _owner() -> Any:
    return aliased(User, name="owner")


def _leads() -> tuple[Any, Callable[[Row[Any]], LeadRow]]:
    owner = _owner()
    stmt = select(
        Lead.id, Lead.lead_no, Lead.first_name, Lead.last_name, Lead.company, Lead.status,
        Lead.lead_source, Lead.email, Lead.phone, Lead.mobile, Lead.owner_id, owner.name.label("owner_name"),
        Lead.created_at,
    ).outerjoin(owner, owner.id == Lead.owner_id)
    return stmt, lambda r: LeadRow(
        r.id, r.lead_no, display_name(r.first_name, r.last_name), r.company, r.status, r.lead_source, r.email,
        r.phone or r.mobile, r.owner_id, r.owner_name, r.created_at,
    )


def _accounts() -> tuple[Any, Callable[[Row[Any]], AccountRow]]:
    owner = _owner()
    stmt = select(
        Account.id, Account.account_no, Account.name, Account.industry, Account.account_type,
        Account.phone, Account.email, Account.bill_city, Account.owner_id, owner.name.label("owner_name"),
        Account.created_at,
    ).outerjoin(owner, owner.id == Account.owner_id)
    return stmt, lambda r: AccountRow(
        r.id, r.account_no, r.name, r.industry, r.account_type, r.phone, r.email, r.bill_city, r.owner_id,
        r.owner_name, r.created_at,
    )


def _contacts() -> tuple[Any, Callable[[Row[Any]], ContactRow]]:
    owner = _owner()
    stmt = (
        select(
            Contact.id, Contact.contact_no, Contact.first_name, Contact.last_name, Contact.title,
            Contact.account_id, Account.name.label("account_name"), Contact.email, Contact.phone, Contact.mobile,
            Contact.owner_id, owner.name.label("owner_name"), Contact.created_at,
        )
        .outerjoin(owner, owner.id == Contact.owner_id)
        .outerjoin(Account, Account.id == Contact.account_id)
    )
    return stmt, lambda r: ContactRow(
        r.id, r.contact_no, display_name(r.first_name, r.last_name), r.title, r.account_id, r.account_name, r.email,
        r.phone or r.mobile, r.owner_id, r.owner_name, r.created_at,
    )


def _opportunities() -> tuple[Any, Callable[[Row[Any]], OpportunityRow]]:
    owner = _owner()
    stmt = (
        select(
            Opportunity.id, Opportunity.opportunity_no, Opportunity.name, Opportunity.account_id,
            Account.name.label("account_name"), SalesStage.name.label("stage"), Opportunity.amount,
            Currency.code.label("currency"), Opportunity.expected_close_date, Opportunity.owner_id,
            owner.name.label("owner_name"), Opportunity.created_at,
        )
        .join(SalesStage, SalesStage.id == Opportunity.stage_id)
        .join(Currency, Currency.id == Opportunity.currency_id)
        .outerjoin(owner, owner.id == Opportunity.owner_id)
        .outerjoin(Account, Account.id == Opportunity.account_id)
    )
    return stmt, lambda r: OpportunityRow(
        r.id, r.opportunity_no, r.name, r.account_id, r.account_name, r.stage, r.amount, r.currency,
        r.expected_close_date, r.owner_id, r.owner_name, r.created_at,
    )


def _campaigns() -> tuple[Any, Callable[[Row[Any]], CampaignRow]]:
    owner = _owner()
    stmt = select(
        Campaign.id, Campaign.campaign_no, Campaign.name, Campaign.campaign_type, Campaign.status, Campaign.start_date,
        Campaign.expected_close_date, Campaign.expected_revenue, Campaign.owner_id, owner.name.label("owner_name"),
        Campaign.created_at,
    ).outerjoin(owner, owner.id == Campaign.owner_id)
    return stmt, lambda r: CampaignRow(
        r.id, r.campaign_no, r.name, r.campaign_type, r.status, r.start_date, r.expected_close_date,
        r.expected_revenue, r.owner_id, r.owner_name, r.created_at,
    )


def _documents() -> tuple[Any, Callable[[Row[Any]], DocumentRow]]:
    owner = _owner()
    stmt = select(
        Document.id, Document.document_no, Document.title, Document.filename, Document.content_type, Document.size,
        Document.owner_id, owner.name.label("owner_name"), Document.created_at,
    ).outerjoin(owner, owner.id == Document.owner_id)
    return stmt, lambda r: DocumentRow(
        r.id, r.document_no, r.title, r.filename, r.content_type, r.size, r.owner_id, r.owner_name, r.created_at,
    )


def _activities() -> tuple[Any, Callable[[Row[Any]], ActivityRow]]:
    owner = _owner()
    stmt = select(
        Activity.id, Activity.subject, Activity.type, Activity.status, Activity.priority, Activity.due_date,
        Activity.start_at, Activity.completed_at, Activity.owner_id, owner.name.label("owner_name"),
        Activity.created_at, *(getattr(Activity, _link(m)) for m in RELATED),
    ).outerjoin(owner, owner.id == Activity.owner_id)
    return stmt, lambda r: ActivityRow(
        r.id, str(r.id), r.subject, r.type, r.status, r.priority, r.due_date, r.start_at, r.completed_at, r.owner_id,
        r.owner_name, r.created_at, tuple((m, getattr(r, _link(m))) for m in RELATED if getattr(r, _link(m))),
    )


def _sales_documents(module: str) -> Callable[[], tuple[Any, Callable[[Row[Any]], SalesDocumentRow]]]:
    def reader() -> tuple[Any, Callable[[Row[Any]], SalesDocumentRow]]:
        spec, owner = registry.get(module), _owner()
        model = spec.model
        day = {"quotes": "valid_till", "sales_orders": "due_date", "invoices": "invoice_date"}[module]
        balance = model.balance if module == "invoices" else literal(None).label("balance")
        stmt = (
            select(
                model.id, getattr(model, spec.number_field).label("number"), model.subject, model.account_id,
                Account.name.label("account_name"), model.status, getattr(model, day).label("day"), model.grand_total,
                balance, Currency.code.label("currency"), model.owner_id, owner.name.label("owner_name"),
                model.created_at,
            )
            .join(Currency, Currency.id == model.currency_id)
            .outerjoin(owner, owner.id == model.owner_id)
            .outerjoin(Account, Account.id == model.account_id)
        )
        return stmt, lambda r: SalesDocumentRow(
            r.id, r.number, r.subject, r.account_id, r.account_name, r.status, r.day, r.grand_total, r.balance,
            r.currency, r.owner_id, r.owner_name, r.created_at,
        )

    return reader


def attached(session: Session, module: str, record_id: int, limit: int = 50) -> list[DocumentRow]:
    """The live documents attached to a record (a lead, account, contact or opportunity), newest first."""
    column = getattr(DocumentLink, _link(module))
    stmt = (
        select(Document.id).join(DocumentLink, DocumentLink.document_id == Document.id)
        .where(column == record_id, Document.deleted_at.is_(None))
        .order_by(Document.created_at.desc(), Document.id.desc()).limit(limit)
    )
    return read(session, "documents", list(dict.fromkeys(session.scalars(stmt))))


def _link(module: str) -> str:
    return registry.get(module).link_column or ""


def with_records(
    session: Session, rows: list[Any], visible: Callable[[str], ColumnElement[bool]]
) -> list[Any]:
    """Activity or document rows with the records they are about named: those `visible(module)` lets through."""
    if rows and isinstance(rows[0], DocumentRow):
        rows = _with_links(session, rows)
    wanted: dict[str, set[int]] = {}
    for row in rows:
        for module, record_id in row.links:
            wanted.setdefault(module, set()).add(record_id)
    named: dict[tuple[str, int], RecordRef] = {}
    for module, ids in wanted.items():
        spec = registry.get(module)
        first = spec.searchable.first_name if spec.searchable is not None else None
        columns = [spec.model.id, getattr(spec.model, spec.number_field), getattr(spec.model, spec.title)]
        stmt = select(*columns, *([getattr(spec.model, first)] if first else [])).where(
            spec.model.id.in_(sorted(ids)), spec.model.deleted_at.is_(None), visible(module))
        for found in session.execute(stmt):
            title = display_name(found[3], found[2]) if first else str(found[2])
            named[(module, found[0])] = RecordRef(module, found[1], title)
    return [replace(row, about=tuple(named[link] for link in row.links if link in named)) for row in rows]


def _with_links(session: Session, rows: list[DocumentRow]) -> list[DocumentRow]:
    """Document rows with the (module, id) of each record they are attached to."""
    columns = [getattr(DocumentLink, _link(m)) for m in RELATED]
    stmt = select(DocumentLink.document_id, *columns).where(DocumentLink.document_id.in_([r.id for r in rows]))
    links: dict[int, list[tuple[str, int]]] = {}
    for found in session.execute(stmt.order_by(DocumentLink.id)):
        links.setdefault(found[0], []).extend((m, v) for m, v in zip(RELATED, found[1:], strict=True) if v)
    return [replace(row, links=tuple(links.get(row.id, ()))) for row in rows]


READERS: dict[str, Callable[[], tuple[Any, Callable[[Row[Any]], Any]]]] = {
    "leads": _leads, "accounts": _accounts, "contacts": _contacts, "opportunities": _opportunities,
    "campaigns": _campaigns, "documents": _documents, "activities": _activities,
    **{name: _sales_documents(name) for name in ("quotes", "sales_orders", "invoices")},
}
