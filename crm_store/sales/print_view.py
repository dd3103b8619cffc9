"""What a printed quote, sales order or invoice shows, read from the store: `view_of` → `printing.PrintedDocument`.

Every amount is one the store saved with the document (its lines' and its own computed columns, its taxes as
applied on the day): nothing is computed again here, only formatted — money with `languages.format_money` in
the document's currency and the chosen language, dates the language's way in the company's zone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Account, Contact, Currency
from crm_store.records import registry
from crm_store.records.names import display_name
from crm_store.sales import documents
from crm_store.sales.printing import Buyer, Fact, Letterhead, PrintedDocument, PrintedLine
from crm_store.settings import company


def find_printable(session: Session, number: str) -> Any:
    """The live quote, sales order or invoice numbered `number`; fail naming the field."""
    try:
        record = documents.find(session, number)
    except NotFound:
        raise ValidationError("number", N_("no quote, sales order or invoice is numbered %(number)s"),
                              number=number.strip().upper()) from None
    if record.deleted_at is not None:
        raise ValidationError("number", N_("%(number)s is in the recycle bin"), number=number.strip().upper())
    return record


def language_for(session: Session, chosen: str | None) -> str:
    """The language to print in: the one chosen, else the company's default; fail naming the field."""
    if chosen is None:
        return str(company.get(session, "default_language"))
    code = languages.parse(chosen)
    if code is None:
        raise ValidationError("language", N_("%(value)s is not one of %(choices)s"), value=repr(chosen),
                              choices=", ".join(languages.CODES))
    return code


def view_of(session: Session, record: Any, language: str) -> PrintedDocument:
    """The printed form of a saved document in `language`."""
    module = documents.module_of(record)
    currency = session.get_one(Currency, record.currency_id)
    money = _Money(currency.code, currency.minor_unit, language)
    lines = tuple(_line(item, product, money) for item, product in documents.lines_of(session, record))
    balance: tuple[Fact, ...] = ()
    if module == "invoices":
        balance = (Fact(_t(language, N_("Payments received")), money(record.received, negative=True)),
                   Fact(_t(language, N_("Balance due")), money(record.balance)))
    return PrintedDocument(
        language=language, kind=module, number=getattr(record, registry.get(module).number_field),
        subject=record.subject, letterhead=letterhead(session), buyer=_buyer(session, record, language),
        facts=_facts(session, module, record, language), lines=lines, totals=_totals(record, money),
        grand_total=Fact(_t(language, N_("Grand total")), money(record.grand_total)), after_total=balance,
        tax_summary=_tax_summary(record, money), prices_include_tax=record.prices_include_tax,
        terms=(record.terms or "").strip(),
    )


def letterhead(session: Session) -> Letterhead:
    """The seller as the company settings name it."""
    settings = company.all_settings(session)
    return Letterhead(name=settings["company_name"], address=settings["company_address"],
                      phone=settings["company_phone"], email=settings["company_email"],
                      tax_id=settings["company_tax_id"])


class _Money:
    """Amounts of the document's currency in a language: NT$1,250 / $1,250."""

    def __init__(self, code: str, minor_unit: int, language: str) -> None:
        self.code, self.minor_unit, self.language = code, minor_unit, language

    def __call__(self, amount: Decimal, *, negative: bool = False) -> str:
        text = languages.format_money(amount, self.code, self.minor_unit, self.language)
        return f"−{text}" if negative and amount else text


def _t(language: str, message: str, **values: Any) -> str:
    return languages.translate(language, message, **values)


def _buyer(session: Session, record: Any, language: str) -> Buyer:
    account = session.get_one(Account, record.account_id)
    contact = session.get(Contact, record.contact_id) if record.contact_id else None
    return Buyer(
        name=account.name, account_no=account.account_no, tax_id=(account.tax_id or "").strip(),
        bill_to=address_lines(record, "bill", language), ship_to=address_lines(record, "ship", language),
        contact=display_name(contact.first_name, contact.last_name) if contact else "",
    )


def address_lines(record: Any, side: str, language: str) -> tuple[str, ...]:
    """A document's billing or shipping address as printed: Taiwan's order (postal code, city, street) in
    Chinese, the street first in English."""
    part = {p: (getattr(record, f"{side}_{p}") or "").strip()
            for p in ("street", "city", "state", "postal_code", "country", "po_box")}
    po_box = _t(language, N_("P.O. Box %(box)s"), box=part["po_box"]) if part["po_box"] else ""
    if languages.get(language).address_largest_first:
        first = " ".join(x for x in (part["postal_code"], part["state"] + part["city"] + part["street"]) if x)
        return tuple(x for x in (first, po_box, part["country"]) if x)
    town = " ".join(x for x in (", ".join(x for x in (part["city"], part["state"]) if x), part["postal_code"]) if x)
    return tuple(x for x in (part["street"], po_box, town, part["country"]) if x)


def _facts(session: Session, module: str, record: Any, language: str) -> tuple[Fact, ...]:
    """The header's dates and references: the document's own date, valid till or due, the customer's PO."""
    zone = company.zone(session)

    def day(value: dt.date | None) -> str:
        return languages.format_date(value, language) if value else ""

    made = record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=dt.UTC)
    created = made.astimezone(zone).date()
    if module == "quotes":
        rows = [(N_("Date"), day(created)), (N_("Valid till"), day(record.valid_till))]
    else:
        first = (N_("Invoice date"), day(record.invoice_date)) if module == "invoices" else (
            N_("Order date"), day(created))
        rows = [first, (N_("Due date"), day(record.due_date)), (N_("Your order no."), record.purchase_order or ""),
                (N_("Customer no."), record.customer_no or "")]
    return tuple(Fact(_t(language, label), value) for label, value in rows if value)


def _line(item: Any, product: Any, money: _Money) -> PrintedLine:
    discount = ""
    if item.discount:
        discount = money(item.discount, negative=True)
        if item.discount_kind == "percent":
            discount += f" ({_plain(item.discount_value)}%)"
    unit = f" {languages.translate_value(money.language, product.usage_unit)}" if product.usage_unit else ""
    return PrintedLine(
        position=item.position, description=(item.description or product.name).strip(),
        code=product.product_code or product.product_no, comment=(item.comment or "").strip(),
        quantity=_quantity(item.quantity, money.language) + unit, price=money(item.list_price),
        discount=discount, tax=money(item.tax) if item.tax else "", total=money(item.total),
    )


def _totals(record: Any, money: _Money) -> tuple[Fact, ...]:
    """Subtotal … adjustment as the store computed them, each tax on the document where it is added (or held)."""
    language = money.language
    rows = [Fact(_t(language, N_("Subtotal")), money(record.subtotal))]
    if record.overall_discount:
        label = _t(language, N_("Discount"))
        if record.discount_percent is not None:
            label = _t(language, N_("Discount (%(percent)s%%)"), percent=_plain(record.discount_percent))
        rows.append(Fact(label, money(record.overall_discount, negative=True)))
    if record.shipping_amount:
        rows.append(Fact(_t(language, N_("Shipping and handling")), money(record.shipping_amount)))
        rows += [_tax_row(t, money, record.prices_include_tax, N_("%(tax)s %(rate)s%% on shipping"))
                 for t in record.shipping_taxes if Decimal(t["amount"])]
    if record.tax_mode == "group":
        rows += [_tax_row(t, money, record.prices_include_tax, N_("%(tax)s %(rate)s%%")) for t in record.taxes]
    if record.adjustment:
        rows.append(Fact(_t(language, N_("Adjustment")), money(record.adjustment)))
    return tuple(rows)


def _tax_row(tax: dict[str, Any], money: _Money, included: bool, wording: str) -> Fact:
    label = _t(money.language, wording, tax=tax["name"], rate=_plain(Decimal(tax["rate"])))
    if included:
        label = _t(money.language, N_("%(label)s (included)"), label=label)
    return Fact(label, money(Decimal(tax["amount"])))


def _tax_summary(record: Any, money: _Money) -> tuple[Fact, ...]:
    """The amount before tax, each of the lines' taxes on its base (individual mode), and the tax in all."""
    language = money.language
    rows = [Fact(_t(language, N_("Amount before tax")), money(record.pre_tax_total))]
    if record.tax_mode != "group":
        rows += [Fact(_t(language, N_("%(tax)s %(rate)s%% on %(base)s"), tax=t["name"],
                      rate=_plain(Decimal(t["rate"])), base=money(Decimal(t["base"]))), money(Decimal(t["amount"])))
                 for t in record.taxes]
    rows.append(Fact(_t(language, N_("Tax in all")), money(record.tax_total)))
    return tuple(rows)


def _quantity(value: Decimal, language: str) -> str:
    decimals = max(-value.normalize().as_tuple().exponent, 0)  # type: ignore[operator]  # finite: an int
    return languages.format_number(value, language, decimals=int(decimals))


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"
