"""A document's header values: which a caller sets, checked as every record's are, and what the store adds.

The fields are checked by `crm_store.records.validation` (picklists, references, lengths), like any record's;
the currency (a code or an id) comes with its exchange rate copied, the price book must be active and in the
document's currency, the chosen group taxes are looked up, and amounts may have no more decimals than their
columns keep. The totals, the copied rate and tax setting, received and balance are the store's alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Account, Currency, PriceBook, Tax
from crm_store.records import registry
from crm_store.records.validation import Validator
from crm_store.sales.line_items import decimal_value
from crm_store.sales.totals import TaxRate
from crm_store.settings import company

ADDRESS = tuple(f"{side}_{part}" for side in ("bill", "ship")
                for part in ("street", "city", "state", "postal_code", "country", "po_box"))
COMMON = frozenset({"subject", "status", "account_id", "contact_id", "opportunity_id", "owner_id", "description",
                    "price_book_id", "tax_mode", "terms", "discount_percent", "discount_amount", "shipping_amount",
                    *ADDRESS})
OWN = {
    "quotes": frozenset({"valid_till", "carrier"}),
    "sales_orders": frozenset({"due_date", "carrier", "purchase_order", "customer_no", "quote_id"}),
    "invoices": frozenset({"invoice_date", "due_date", "purchase_order", "customer_no", "sales_order_id",
                           "quote_id"}),
}
AMOUNT_PLACES = {"discount_percent": 3, "discount_amount": 4, "shipping_amount": 4, "adjustment": 4}
TAX_MODES = ("individual", "group")


@dataclass(frozen=True)
class Entered:
    """What a caller gave besides the plain fields: a currency, the chosen group taxes, the (signed) adjustment."""

    currency: Any = None
    taxes: Any = None
    adjustment: Decimal | None = None
    has_adjustment: bool = False


def split(module: str, values: dict[str, Any]) -> tuple[dict[str, Any], Entered]:
    """Separate the plain fields from the others; refuse fields the store sets or the module lacks."""
    values = dict(values)
    currency, currency_id = values.pop("currency", None), values.pop("currency_id", None)
    currency = currency_id if currency is None else currency
    taxes = values.pop("taxes", None)
    has_adjustment = "adjustment" in values
    adjustment = decimal_value("adjustment", values.pop("adjustment", None), AMOUNT_PLACES["adjustment"])
    columns = registry.get(module).model.__table__.columns
    for name in values:
        if name not in COMMON | OWN[module]:
            if name in columns:
                raise ValidationError(name, N_("is set by the store"))
            raise ValidationError(name, N_("is not a field of %(module)s"), module=module)
    for name in AMOUNT_PLACES.keys() & values.keys():
        decimal_value(name, values[name], AMOUNT_PLACES[name])
    return values, Entered(currency, taxes, adjustment, has_adjustment)


def clean(session: Session, module: str, values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Checked, normalised values (picklists, references, lengths); the first bad one raised naming its field."""
    v = Validator.for_session(session)
    out = v.clean(module, values, partial=partial)
    v.check_references(session, module, [out])
    if out.get("tax_mode", "individual") not in TAX_MODES:
        raise ValidationError("tax_mode", N_("must be individual or group"))
    return out


def defaults(session: Session, module: str, values: dict[str, Any]) -> dict[str, Any]:
    """A new document's values with its status, tax mode and (invoices) today's date when not given."""
    out = {"status": "Created", "tax_mode": "individual", **{k: v for k, v in values.items() if v is not None}}
    if module == "invoices" and not out.get("invoice_date"):
        out["invoice_date"] = dt.datetime.now(company.zone(session)).date()
    return out


def currency(session: Session, given: Any, price_book_id: int | None) -> Currency:
    """The document's currency: the one given (code or id), else its price book's, else the company's."""
    if given is None and price_book_id is not None:
        given = session.scalar(select(PriceBook.currency_id).where(PriceBook.id == price_book_id))
    if given is None:
        given = company.get(session, "default_currency")
    if isinstance(given, int) and not isinstance(given, bool):
        found = session.scalar(select(Currency).where(Currency.id == given, Currency.active))
    else:
        found = session.scalar(select(Currency).where(Currency.code == str(given).strip().upper(), Currency.active))
    if found is None:
        raise ValidationError("currency", N_("%(currency)s is not an active currency"), currency=repr(given))
    return found


def check_price_book(session: Session, price_book_id: int | None, currency: Currency) -> None:
    """A document's price book must be active and in the document's currency."""
    if price_book_id is None:
        return
    book = session.get(PriceBook, price_book_id)
    if book is None or book.deleted_at is not None:
        raise ValidationError("price_book_id", N_("price book %(id)s does not exist"), id=price_book_id)
    if not book.active:
        raise ValidationError("price_book_id", N_("%(book)s is not active"), book=book.price_book_no)
    if book.currency_id != currency.id:
        book_currency = session.scalar(select(Currency.code).where(Currency.id == book.currency_id))
        raise ValidationError("price_book_id", N_("%(book)s is in %(book_currency)s, the document in %(currency)s"),
                              book=book.price_book_no, book_currency=book_currency, currency=currency.code)


def copy_address(session: Session, values: dict[str, Any]) -> None:
    """Fill a new document's billing and shipping address from its account when none is given (as Vtiger does)."""
    if any(values.get(name) for name in ADDRESS):
        return
    account = session.get(Account, values["account_id"])
    for name in ADDRESS:
        value = getattr(account, name, None)
        if value:
            values[name] = value


def chosen_taxes(session: Session, chosen: Any) -> tuple[TaxRate, ...]:
    """The group taxes chosen by id or name (every active tax when None), in the taxes' order."""
    active = select(Tax).where(Tax.active).order_by(Tax.position, Tax.id)
    if chosen is None:
        return tuple(TaxRate(t.id, t.name, t.rate) for t in session.scalars(active))
    if isinstance(chosen, (str, int)):
        chosen = [chosen]
    if not isinstance(chosen, Sequence):
        raise ValidationError("taxes", N_("must be a list of taxes"))
    found = []
    for item in chosen:
        column = Tax.id if isinstance(item, int) and not isinstance(item, bool) else func.lower(Tax.name)
        key = item if column is Tax.id else str(item).strip().lower()
        tax = session.scalar(select(Tax).where(column == key))
        if tax is None:
            raise ValidationError("taxes", N_("no tax %(tax)s"), tax=repr(item))
        if not tax.active:
            raise ValidationError("taxes", N_("%(tax)s is not active"), tax=tax.name)
        found.append(tax)
    ordered = sorted({t.id: t for t in found}.values(), key=lambda t: (t.position, t.id))
    return tuple(TaxRate(t.id, t.name, t.rate) for t in ordered)


def shipping_taxes(session: Session) -> tuple[TaxRate, ...]:
    """The active taxes on shipping and handling, in the taxes' order."""
    stmt = select(Tax).where(Tax.active, Tax.applies_to_shipping).order_by(Tax.position, Tax.id)
    return tuple(TaxRate(t.id, t.name, t.rate) for t in session.scalars(stmt))
