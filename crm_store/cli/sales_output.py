"""What the sales commands print: a document laid out like a printed one — its parties, its lines, and the
totals block under them, amounts in the document's currency with its own decimals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from crm_store.cli.output import Column, pad, table, width

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LANGUAGE = "en"
KIND_NAMES = {"quotes": "Quote", "sales_orders": "Sales order", "invoices": "Invoice"}


class Amounts:
    """Amounts of one currency as people read them: NT$1,250 / US$12.50."""

    def __init__(self, code: str, minor_unit: int) -> None:
        self.code, self.minor_unit = code, minor_unit

    @classmethod
    def of(cls, session: Session, currency_id: int) -> Amounts:
        """The currency of a document."""
        from crm_store.models import Currency

        currency = session.get_one(Currency, currency_id)
        return cls(currency.code, currency.minor_unit)

    def __call__(self, amount: Decimal | None, *, negative: bool = False) -> str:
        from crm_store.languages import format_money

        if amount is None:
            return ""
        text = format_money(amount, self.code, self.minor_unit, LANGUAGE)
        return f"−{text}" if negative and amount else text


def quantity(value: Decimal) -> str:
    """A quantity without trailing zeros: 3, 1.5."""
    return f"{value.normalize():f}"


def echo_document(session: Session, module: str, doc: Any) -> None:
    """Print a document: header, lines, totals (and an invoice's payments)."""
    from crm_store.records import registry
    from crm_store.sales import documents

    money = Amounts.of(session, doc.currency_id)
    number = getattr(doc, registry.get(module).number_field)
    deleted = "  (in the recycle bin)" if doc.deleted_at is not None else ""
    click.echo(f"{KIND_NAMES[module]} {number}  {doc.subject}{deleted}")
    click.echo()
    for label, value in _parties(session, doc) + _details(module, doc, money):
        if value:
            click.echo(f"{label + ':':<14} {value}")
    click.echo()
    lines = table(
        (Column("#", right=True), Column("PRODUCT"), Column("DESCRIPTION", 30), Column("QTY", right=True),
         Column("PRICE", right=True), Column("DISCOUNT", right=True), Column("NET", right=True),
         Column("TAX", right=True), Column("TOTAL", right=True)),
        [row for item, product in documents.lines_of(session, doc) for row in _line_rows(item, product, money)])
    for text in lines:
        click.echo(text)
    click.echo()
    block = totals_block(doc, money)
    labels, values = max(width(label) for label, _v in block), max(width(value) for _l, value in block)
    right = max(width(text) for text in lines)
    for label, value in block:
        click.echo(pad(f"{pad(label, labels)}  {pad(value, values, right=True)}", right, right=True))
    if module == "invoices":
        _echo_payments(session, doc, money)


def _line_rows(item: Any, product: Any, money: Amounts) -> list[tuple[Any, ...]]:
    """A line of the table, and its comment under its description."""
    rows: list[tuple[Any, ...]] = [(
        item.position, product.product_no, item.description or product.name, quantity(item.quantity),
        money(item.list_price), money(item.discount, negative=True) if item.discount else "", money(item.net),
        money(item.tax) if item.tax else "", money(item.total))]
    if item.comment:
        rows.append(("", "", f"  {item.comment}", "", "", "", "", "", ""))
    return rows


def totals_block(doc: Any, money: Amounts) -> list[tuple[str, str]]:
    """The totals under a document's lines, in the order they are computed."""
    rows = [("Subtotal", money(doc.subtotal))]
    if doc.overall_discount:
        percent = f" ({quantity(doc.discount_percent)} %)" if doc.discount_percent is not None else ""
        rows.append((f"Discount{percent}", money(doc.overall_discount, negative=True)))
    if doc.shipping_amount:
        rows.append(("Shipping & handling", money(doc.shipping_amount)))
        rows += [(f"{t['name']} {quantity(Decimal(t['rate']))} % on shipping", money(Decimal(t["amount"])))
                 for t in doc.shipping_taxes if Decimal(t["amount"])]
    included = " (included)" if doc.prices_include_tax else ""
    rows += [(f"{t['name']} {quantity(Decimal(t['rate']))} % on {money(Decimal(t['base']))}{included}",
              money(Decimal(t["amount"]))) for t in doc.taxes]
    if doc.adjustment:
        rows.append(("Adjustment", money(doc.adjustment)))
    rows.append(("Grand total", money(doc.grand_total)))
    if hasattr(doc, "balance"):
        rows += [("Received", money(doc.received)), ("Balance", money(doc.balance))]
    return rows


def _parties(session: Session, doc: Any) -> list[tuple[str, str]]:
    from crm_store.models import Account, Contact
    from crm_store.records.names import display_name

    account = session.get_one(Account, doc.account_id)
    tax_id = f" (統一編號 {account.tax_id})" if account.tax_id else ""
    contact = session.get(Contact, doc.contact_id) if doc.contact_id else None
    return [
        ("Account", f"{account.account_no} {account.name}{tax_id}"),
        ("Contact", f"{contact.contact_no} {display_name(contact.first_name, contact.last_name)}" if contact else ""),
        ("Bill to", _address(doc, "bill")),
        ("Ship to", _address(doc, "ship")),
    ]


def _details(module: str, doc: Any, money: Amounts) -> list[tuple[str, str]]:
    dates = {"quotes": [("Valid till", "valid_till")], "sales_orders": [("Due date", "due_date")],
             "invoices": [("Invoice date", "invoice_date"), ("Due date", "due_date")]}[module]
    prices = "include tax" if doc.prices_include_tax else "exclude tax"
    return [
        ("Status", doc.status),
        *((label, str(getattr(doc, name) or "")) for label, name in dates),
        ("Currency", f"{money.code} (rate {quantity(doc.conversion_rate)})"),
        ("Taxes", f"{doc.tax_mode}; prices {prices}"),
        ("Terms", doc.terms or ""),
    ]


def _address(doc: Any, side: str) -> str:
    parts = ("street", "city", "state", "postal_code", "country", "po_box")
    return ", ".join(str(v) for v in (getattr(doc, f"{side}_{p}") for p in parts) if v)


def _echo_payments(session: Session, doc: Any, money: Amounts) -> None:
    from crm_store.sales.payments import payments_of

    paid = list(session.scalars(payments_of(doc.id)))
    if not paid:
        return
    click.echo()
    click.echo("Payments")
    for text in table((Column("DATE"), Column("AMOUNT", right=True), Column("METHOD"), Column("REFERENCE")),
                      [(p.paid_on, money(p.amount), p.method, p.reference) for p in paid]):
        click.echo(text)
