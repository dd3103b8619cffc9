"""Quotes, sales orders and invoices: created and changed with their lines; the totals are the store's.

A save checks everything first — the header (`headers`), the lines (`line_items`), the totals (`totals.compute`)
and, for an invoice, its stock (`stock`) — and only then writes: the number, the header with every computed
amount, the lines, the stock, an audit row and the search document. The caller owns the transaction.

The rates a document was saved with stay with it: its lines keep their taxes' rates, the document its group and
shipping taxes, its currency's exchange rate and the company's `prices_include_tax` of the day it was created;
re-saving it computes the same totals. An update replaces the lines when given; a Paid invoice cannot be
changed, and a cancelled one only by changing its status away from Cancel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM, Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, Invoice, LineItem, Product, Quote, SalesOrder, utcnow
from crm_store.records import audit, lifecycle, numbering, registry
from crm_store.sales import headers, invoices, line_items, stock
from crm_store.sales.line_items import Entry
from crm_store.sales.totals import Document, TaxRate, Totals, compute
from crm_store.settings import company

MODELS: dict[str, Any] = {"quotes": Quote, "sales_orders": SalesOrder, "invoices": Invoice}
PAID, CANCELLED = invoices.PAID, stock.CANCELLED
KIND_WORDS = {"quotes": "a quote", "sales_orders": "a sales order", "invoices": "an invoice"}
LINE_COLUMNS = ("position", "product_id", "description", "comment", "quantity", "list_price", "discount_kind",
                "discount_value", "line_total", "discount", "net", "tax", "total", "taxes")


@dataclass(frozen=True)
class Saved:
    """A saved document and the warnings of its save (stock taken below zero)."""

    document: Any
    warnings: tuple[stock.StockWarning, ...] = ()


@dataclass(frozen=True)
class Draft:
    """A document's lines and rates, ready to compute: what create, update and conversions hand to `save_new`."""

    entries: Sequence[Entry]
    group_taxes: Sequence[TaxRate]
    shipping_taxes: Sequence[TaxRate]


def create(
    session: Session, module: str, values: dict[str, Any], lines: Any, actor: Actor = SYSTEM, *,
    at: dt.datetime | None = None,
) -> Saved:
    """Check and add a quote, sales order or invoice with its lines (mappings: see `line_items`)."""
    clean, draft = prepare(session, module, values, lines)
    return save_new(session, module, clean, draft, actor, at=at)


def prepare(
    session: Session, module: str, values: dict[str, Any], lines: Any, *, prices_include_tax: bool | None = None,
) -> tuple[dict[str, Any], Draft]:
    """Check a document's header and lines and price them, writing nothing: what `create` saves, and what the
    editor's totals are computed from (`prices_include_tax`: an existing document's own, else the company's)."""
    model_of(module)
    plain, entered = headers.split(module, values)
    clean = headers.clean(session, module, headers.defaults(session, module, plain), partial=False)
    currency = headers.currency(session, entered.currency, clean.get("price_book_id"))
    headers.check_price_book(session, clean.get("price_book_id"), currency)
    if prices_include_tax is None:
        prices_include_tax = bool(company.get(session, "prices_include_tax"))
    clean |= {"currency_id": currency.id, "conversion_rate": currency.exchange_rate,
              "prices_include_tax": prices_include_tax}
    if entered.adjustment is not None:
        clean["adjustment"] = entered.adjustment
    if clean["tax_mode"] != "group" and entered.taxes is not None:
        raise ValidationError("taxes", N_("are chosen in group tax mode only"))
    headers.copy_address(session, clean)
    entries = line_items.priced(session, lines, currency_id=currency.id, price_book_id=clean.get("price_book_id"),
                                tax_mode=clean["tax_mode"])
    group = headers.chosen_taxes(session, entered.taxes) if clean["tax_mode"] == "group" else ()
    return clean, Draft(entries, group, headers.shipping_taxes(session))


def save_new(
    session: Session, module: str, clean: dict[str, Any], draft: Draft, actor: Actor, *,
    at: dt.datetime | None = None,
) -> Saved:
    """Compute and write a new document from checked header values and its draft (conversions copy both)."""
    model = model_of(module)
    totals = compute_totals(session, clean, draft)
    live = module == "invoices" and clean["status"] != CANCELLED
    planned = stock.plan(session, {}, stock.taken(draft.entries) if live else {},
                         rows=stock.first_rows(draft.entries))
    at = at or utcnow()
    spec = registry.get(module)
    number = numbering.allocate(session, module)[0]
    record = model(**(clean | totals_columns(totals)), created_by_id=actor.user_id, created_at=at, updated_at=at)
    setattr(record, spec.number_field, number)
    if module == "invoices":
        record.received, record.balance, record.stock_deducted = Decimal(0), totals.grand_total, live
    session.add(record)
    session.flush()
    rows = line_rows(draft.entries, totals)
    _insert_lines(session, spec.link_column or "", record.id, rows)
    stock.write(session, planned, actor, f"{number} saved")
    changes = audit.created_values(record, [c.name for c in record.__table__.columns])
    changes["lines"] = [None, _summary(session, rows)]
    audit.log(session, "create", module, record.id, actor, record_no=number, changes=changes, at=at)
    lifecycle.reindex(session, record)
    return Saved(record, planned.warnings)


def update(session: Session, record: Any, values: dict[str, Any], lines: Any = None, actor: Actor = SYSTEM) -> Saved:
    """Check and apply changes to a document; `lines` (when given) replace its lines. Unchanged: nothing written."""
    module = module_of(record)
    if record.deleted_at is not None:
        raise ValidationError("id", N_("the record is in the recycle bin"))
    plain, entered = headers.split(module, values)
    clean = headers.clean(session, module, plain, partial=True)
    _one_discount(record, clean)
    currency = _new_currency(session, record, entered, lines, clean)
    if entered.has_adjustment:
        clean["adjustment"] = entered.adjustment or Decimal(0)
    after = {c.name: getattr(record, c.name) for c in record.__table__.columns} | clean
    if "price_book_id" in clean or "currency_id" in clean:
        headers.check_price_book(session, after["price_book_id"], currency)
    draft = _update_draft(session, module, record, after, lines, entered)
    totals = compute_totals(session, after, draft)
    link = registry.get(module).link_column or ""
    old_rows = _stored_rows(session, link, record.id)
    new_rows = line_rows(draft.entries, totals)
    changed = {k: v for k, v in (clean | totals_columns(totals)).items() if getattr(record, k) != v}
    planned = stock.StockPlan()
    if module == "invoices":
        invoices.check_lock(record, changed, new_rows != old_rows)
        changed |= invoices.balance_and_status(record, changed, totals)
        planned = invoices.stock_plan(session, record, changed, old_rows, draft.entries)
    if not changed and new_rows == old_rows:
        return Saved(record)
    before = {k: getattr(record, k) for k in changed}
    for name, value in changed.items():
        setattr(record, name, value)
    record.updated_at = utcnow()
    if new_rows != old_rows:
        session.execute(delete(LineItem).where(getattr(LineItem, link) == record.id))
        _insert_lines(session, link, record.id, new_rows)
    number = getattr(record, registry.get(module).number_field)
    stock.write(session, planned, actor, f"{number} {invoices.stock_reason(before, changed)}")
    changes = audit.diff(before, changed)
    if new_rows != old_rows:
        changes["lines"] = [_summary(session, old_rows), _summary(session, new_rows)]
    audit.log(session, "update", module, record.id, actor, record_no=number, changes=changes)
    session.flush()
    lifecycle.reindex(session, record)
    return Saved(record, planned.warnings)


def compute_totals(session: Session, header: dict[str, Any], draft: Draft) -> Totals:
    """The totals of a document's header values and lines, in its currency's minor unit."""
    minor_unit = session.scalar(select(Currency.minor_unit).where(Currency.id == header["currency_id"]))
    return compute(Document(
        lines=[e.line for e in draft.entries], minor_unit=2 if minor_unit is None else minor_unit,
        tax_mode=header["tax_mode"], prices_include_tax=bool(header["prices_include_tax"]),
        group_taxes=draft.group_taxes, discount_percent=header.get("discount_percent"),
        discount_amount=header.get("discount_amount"), shipping_amount=header.get("shipping_amount") or Decimal(0),
        shipping_taxes=draft.shipping_taxes, adjustment=header.get("adjustment") or Decimal(0),
    ))


def totals_columns(totals: Totals) -> dict[str, Any]:
    """A document's computed columns (taxes as JSON, as `TaxAmount.as_dict` writes them)."""
    return {
        "subtotal": totals.subtotal, "overall_discount": totals.overall_discount,
        "shipping_amount": totals.shipping_amount, "shipping_tax": totals.shipping_tax,
        "pre_tax_total": totals.pre_tax_total, "tax_total": totals.tax_total, "adjustment": totals.adjustment,
        "grand_total": totals.grand_total, "taxes": [t.as_dict() for t in totals.taxes],
        "shipping_taxes": [t.as_dict() for t in totals.shipping_taxes],
    }


def line_rows(entries: Sequence[Entry], totals: Totals) -> list[dict[str, Any]]:
    """The lines' stored values: as entered, and every amount computed."""
    return [
        {"position": i, "product_id": e.product_id, "description": e.description, "comment": e.comment,
         "quantity": e.line.quantity, "list_price": e.line.list_price, "discount_kind": e.line.discount_kind,
         "discount_value": e.line.discount_value, "line_total": t.line_total, "discount": t.discount, "net": t.net,
         "tax": t.tax, "total": t.total, "taxes": [x.as_dict() for x in t.taxes]}
        for i, (e, t) in enumerate(zip(entries, totals.lines, strict=True), 1)
    ]


def model_of(module: str) -> Any:
    """The model of a document module (quotes, sales_orders, invoices); fail naming the field for another."""
    if module not in MODELS:
        raise ValidationError("module", N_("%(module)s is not quotes, sales_orders or invoices"), module=module)
    return MODELS[module]


def module_of(record: Any) -> str:
    """The module of a document."""
    name = registry.of_record(record).name
    model_of(name)
    return name


def find(session: Session, number: str, module: str | None = None) -> Any:
    """The document with this number (QUO12, SO3, INV7), of `module` when given."""
    record = lifecycle.get_by_number(session, number)
    name = registry.of_record(record).name
    if name not in MODELS or (module is not None and name != module):
        raise ValidationError("number", N_("%(number)s is not %(kind)s"), number=number.upper(),
                              kind=KIND_WORDS.get(module or "", "a quote, sales order or invoice"))
    return record


def lines_of(session: Session, record: Any) -> list[tuple[LineItem, Product]]:
    """A document's lines with their products, in order."""
    link = getattr(LineItem, registry.of_record(record).link_column or "")
    stmt = (select(LineItem, Product).join(Product, Product.id == LineItem.product_id).where(link == record.id)
            .order_by(LineItem.position))
    return [(item, product) for item, product in session.execute(stmt)]


def _new_currency(
    session: Session, record: Any, entered: headers.Entered, lines: Any, clean: dict[str, Any],
) -> Currency:
    """The document's currency after the update; a new one (its rate copied into `clean`) needs new lines."""
    currency = session.get_one(Currency, record.currency_id)
    if entered.currency is None or (chosen := headers.currency(session, entered.currency, None)) == currency:
        return currency
    if lines is None:
        raise ValidationError("currency", N_("give the lines again to change the currency (their prices are in "
                                             "the old one)"))
    clean |= {"currency_id": chosen.id, "conversion_rate": chosen.exchange_rate}
    return chosen


def _update_draft(
    session: Session, module: str, record: Any, after: dict[str, Any], lines: Any, entered: headers.Entered,
) -> Draft:
    """The lines and rates of an updated document: new lines priced now, else its own with their saved rates."""
    mode = after["tax_mode"]
    if mode != "group" and entered.taxes is not None:
        raise ValidationError("taxes", N_("are chosen in group tax mode only"))
    link = registry.get(module).link_column or ""
    if lines is not None:
        entries = line_items.priced(session, lines, currency_id=after["currency_id"],
                                    price_book_id=after["price_book_id"], tax_mode=mode)
    else:
        entries = line_items.stored(session, link, record.id,
                                    product_taxes_now=mode == "individual" and record.tax_mode != mode)
    if mode != "group":
        group: tuple[TaxRate, ...] = ()
    elif entered.taxes is not None or record.tax_mode != "group":
        group = headers.chosen_taxes(session, entered.taxes)
    else:
        group = line_items.rates_of(record.taxes)
    return Draft(entries, group, line_items.rates_of(record.shipping_taxes))


def _one_discount(record: Any, clean: dict[str, Any]) -> None:
    """Setting an overall discount as a percent clears one given as an amount, and the other way round."""
    for given, other in (("discount_percent", "discount_amount"), ("discount_amount", "discount_percent")):
        if clean.get(given) is not None and other not in clean and getattr(record, other) is not None:
            clean[other] = None


def _stored_rows(session: Session, link: str, document_id: int) -> list[dict[str, Any]]:
    stmt = select(LineItem).where(getattr(LineItem, link) == document_id).order_by(LineItem.position)
    return [{c: getattr(item, c) for c in LINE_COLUMNS} for item in session.scalars(stmt)]


def _insert_lines(session: Session, link: str, document_id: int, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(LineItem.__table__), [{**row, link: document_id} for row in rows])


def _summary(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    """The lines in the audit trail: `PRO3 × 2 @ 1250 (−10 %)`."""
    ids = {r["product_id"] for r in rows}
    numbers = {i: n for i, n in session.execute(select(Product.id, Product.product_no).where(Product.id.in_(ids)))}
    out = []
    for r in rows:
        text = f"{numbers.get(r['product_id'], r['product_id'])} × {_plain(r['quantity'])} @ {_plain(r['list_price'])}"
        if r["discount_kind"] is not None:
            unit = " %" if r["discount_kind"] == "percent" else ""
            text += f" (−{_plain(r['discount_value'])}{unit})"
        out.append(text)
    return out


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"
