"""The rows of the staff lists, one dataclass per module, read by id with the names they show (owner, account,
stage) in one statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, aliased

from crm_store.models import Account, Contact, Currency, Lead, Opportunity, SalesStage, User
from crm_store.records import registry
from crm_store.records.names import display_name


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


def read(session: Session, module: str, ids: Sequence[int]) -> list[Any]:
    """The rows of these records, in the order of `ids`."""
    if not ids:
        return []
    statement, make = READERS[module]()
    model = registry.get(module).model
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


READERS: dict[str, Callable[[], tuple[Any, Callable[[Row[Any]], Any]]]] = {
    "leads": _leads, "accounts": _accounts, "contacts": _contacts, "opportunities": _opportunities,
}
