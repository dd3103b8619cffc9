"""Many quotes, orders or invoices at once (demo data, the benchmark): what `documents.create` does, set-based.

The same rules and the same stored values as one save at a time — totals by `totals.compute`, rates copied,
stock taken by live invoices, numbers, audit rows and search documents — with everything read once up front
and written with one executemany per table (`crm_store.db.fast_insert`). Header values are trusted to be of
the columns' types (the caller builds them); references, picklists and the lines' products are still checked,
and a bad document fails the whole batch naming the field and its row (from 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.db.fast_insert import insert_rows, reserve_ids
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import (
    Account,
    Currency,
    LineItem,
    Payment,
    PriceBook,
    PriceBookPrice,
    Product,
    SearchDocument,
    utcnow,
)
from crm_store.models.search import SearchGram, SearchPhoneGram
from crm_store.records import audit, numbering, registry
from crm_store.records.validation import Validator
from crm_store.sales import documents, headers, line_items, stock
from crm_store.sales.line_items import Entry
from crm_store.sales.totals import Document, Line, TaxRate, compute
from crm_store.search.documents import build_document
from crm_store.search.terms import phone_grams, text_grams
from crm_store.settings import company, picklists

ZERO = Decimal(0)


@dataclass(frozen=True)
class NewLine:
    """A line of a document loaded in bulk: a product id, a quantity, and optionally a price and a discount."""

    product_id: int
    quantity: Decimal
    list_price: Decimal | None = None  # None: the price book's, else the product's unit price
    discount_kind: str | None = None
    discount_value: Decimal | None = None


@dataclass(frozen=True)
class NewPayment:
    """A payment of an invoice loaded in bulk: an amount, a share of the grand total, or (neither) the rest."""

    paid_on: dt.date
    amount: Decimal | None = None  # None: `share` of the grand total, or else what is left of it
    method: str | None = None
    reference: str | None = None
    share: Decimal | None = None  # a fraction of the grand total, rounded down to the currency's minor unit


@dataclass(frozen=True)
class NewDocument:
    """A document to load: its header values (`created_at` back-dates it), its lines, an invoice's payments."""

    values: Mapping[str, Any]
    lines: Sequence[NewLine]
    payments: Sequence[NewPayment] = ()


@dataclass
class _Context:
    """What every document of a batch needs, read once."""

    currencies: dict[int, Currency]
    default_currency: int
    prices_include_tax: bool
    group_taxes: tuple[TaxRate, ...]
    shipping_taxes: tuple[TaxRate, ...]
    products: dict[int, Product]
    product_taxes: dict[int, list[TaxRate]]
    book_prices: dict[tuple[int, int], Decimal]
    book_currencies: dict[int, int]
    rates: dict[int, Decimal]  # each currency's exchange rate, by id: unit prices in another currency converted


def insert_documents(
    session: Session, module: str, batch: Sequence[NewDocument], actor: Actor, *, at: dt.datetime | None = None,
    index: bool = True,
) -> list[int]:
    """Check, compute and insert a batch of documents of one module; return their ids in the batch's order.

    `index=False` writes no search documents: for a caller that rebuilds the whole index afterwards (the demo).
    """
    model = documents.model_of(module)
    if not batch:
        return []
    at = at or utcnow()
    ctx = _context(session, batch)
    heads = _headers(session, module, batch, ctx, actor, at)
    built = [_built(i, module, head, doc, ctx) for i, (head, doc) in enumerate(zip(heads, batch, strict=True), 1)]
    taken: dict[int, Decimal] = {}
    for head, entries, _totals in built:
        if module == "invoices" and head["stock_deducted"]:
            for pid, qty in stock.taken(entries).items():
                taken[pid] = taken.get(pid, ZERO) + qty
    planned = stock.plan(session, {}, taken)
    spec = registry.get(module)
    numbers = numbering.allocate(session, module, len(batch))
    ids = reserve_ids(session, model.__table__, len(batch))
    rows, lines, payments = [], [], []
    for (head, entries, totals), number, doc_id in zip(built, numbers, ids, strict=True):
        payments += [{**p, "invoice_id": doc_id, "created_at": head["created_at"], "created_by_id": actor.user_id}
                     for p in head.pop("payments", ())]
        rows.append({**head, **documents.totals_columns(totals), "id": doc_id, spec.number_field: number})
        lines += [{**r, spec.link_column or "": doc_id} for r in documents.line_rows(entries, totals)]
    for row, line_id in zip(lines, reserve_ids(session, LineItem.__table__, len(lines)), strict=True):
        row["id"] = line_id
    insert_rows(session, model.__table__, rows)
    insert_rows(session, LineItem.__table__, lines)
    _insert_payments(session, payments)
    stock.write(session, planned, actor, f"{len(batch)} {module} loaded")
    for warning in planned.warnings:
        stock.log.warning("%s (%s %s loaded)", warning, len(batch), module)
    columns = [c.name for c in model.__table__.columns]
    audit.write_many(session, [
        audit.entry("create", module, row["id"], actor, record_no=row[spec.number_field],
                    changes=audit.created_values(row, columns), at=row["created_at"])
        for row in rows
    ])
    if index:
        _index(session, module, rows)
    return ids


def _context(session: Session, batch: Sequence[NewDocument]) -> _Context:
    product_ids = {line.product_id for doc in batch for line in doc.lines}
    products = {p.id: p for p in _chunked(session, select(Product).where(Product.deleted_at.is_(None)),
                                          Product.id, product_ids)}
    books = {doc.values.get("price_book_id") for doc in batch} - {None}
    prices = select(PriceBookPrice).where(PriceBookPrice.price_book_id.in_(books)) if books else None
    book_prices = {(p.price_book_id, p.product_id): p.list_price
                   for p in (session.scalars(prices) if prices is not None else [])}
    default = headers.currency(session, None, None)
    live_books = select(PriceBook.id, PriceBook.currency_id).where(
        PriceBook.id.in_(books), PriceBook.active, PriceBook.deleted_at.is_(None))
    book_currencies = {i: c for i, c in session.execute(live_books)} if books else {}
    currencies = {c.id: c for c in session.scalars(select(Currency))}
    return _Context(
        currencies, default.id,
        bool(company.get(session, "prices_include_tax")), headers.chosen_taxes(session, None),
        headers.shipping_taxes(session), products, line_items.product_taxes(session, list(products)), book_prices,
        book_currencies, {i: c.exchange_rate for i, c in currencies.items()})


def _headers(
    session: Session, module: str, batch: Sequence[NewDocument], ctx: _Context, actor: Actor, at: dt.datetime,
) -> list[dict[str, Any]]:
    """Each document's header with its defaults and copied rates; picklists and references checked at once."""
    allowed = headers.COMMON | headers.OWN[module] | {"currency_id", "adjustment", "created_at"}
    spec = registry.get(module)
    statuses = picklists.all_values(session)
    today = dt.datetime.now(company.zone(session)).date()
    out = []
    for i, doc in enumerate(batch, 1):
        unknown = sorted(set(doc.values) - allowed)
        if unknown:
            raise ValidationError(unknown[0], N_("is not a field of %(module)s"), row=i, module=module)
        head = {"status": "Created", "tax_mode": "individual", "currency_id": ctx.default_currency,
                "shipping_amount": ZERO, "adjustment": ZERO, "created_at": at,
                **{k: v for k, v in doc.values.items() if v is not None}}
        if module == "invoices":
            head.setdefault("invoice_date", today)
        for name in spec.required:
            if head.get(name) is None:
                raise ValidationError(name, N_("is required"), row=i)
        try:
            picklists.check(statuses, spec.picklists["status"], "status", head["status"])
        except ValidationError as exc:
            raise exc.at_row(i) from None
        currency = ctx.currencies.get(head["currency_id"])
        if currency is None:
            raise ValidationError("currency_id", N_("%(currency)s is not an active currency"), row=i,
                                  currency=repr(head["currency_id"]))
        book = head.get("price_book_id")
        if book is not None and ctx.book_currencies.get(book) != currency.id:
            raise ValidationError("price_book_id", N_("is not an active price book in the document's currency"), row=i)
        head |= {"conversion_rate": currency.exchange_rate, "prices_include_tax": ctx.prices_include_tax,
                 "updated_at": head["created_at"], "created_by_id": actor.user_id, "source": "CRM",
                 "deleted_at": None, "batch_id": None}
        out.append(head)
    Validator.for_session(session).check_references(session, module, out)
    return out


def _built(
    row: int, module: str, head: dict[str, Any], doc: NewDocument, ctx: _Context,
) -> tuple[dict[str, Any], list[Entry], Any]:
    """A document's lines as entries and its totals; an invoice's payments applied to its balance."""
    entries = []
    for line in doc.lines:
        product = ctx.products.get(line.product_id)
        if product is None or not product.active:
            raise ValidationError("product", N_("no product %(product)s"), row=row, product=repr(line.product_id))
        price = line.list_price
        if price is None:
            price = ctx.book_prices.get((head.get("price_book_id") or 0, product.id))
        if price is None:  # the unit price, converted when the product is priced in another currency
            price = line_items._unit_price(product, head["currency_id"], ctx.rates, row)
        rates = tuple(ctx.product_taxes.get(product.id, ())) if head["tax_mode"] == "individual" else ()
        entries.append(Entry(product.id, product.product_type == "product", product.name, None,
                             Line(line.quantity, price, line.discount_kind, line.discount_value, rates)))
    try:
        totals = compute(Document(
            lines=[e.line for e in entries], minor_unit=ctx.currencies[head["currency_id"]].minor_unit,
            tax_mode=head["tax_mode"], prices_include_tax=ctx.prices_include_tax,
            group_taxes=ctx.group_taxes if head["tax_mode"] == "group" else (),
            discount_percent=head.get("discount_percent"), discount_amount=head.get("discount_amount"),
            shipping_amount=head["shipping_amount"], shipping_taxes=ctx.shipping_taxes,
            adjustment=head["adjustment"]))
    except ValidationError as exc:
        raise exc.at_row(row) from None
    if module == "invoices":
        payments = _payments(row, doc.payments, totals.grand_total, ctx.currencies[head["currency_id"]].minor_unit)
        received = sum((p["amount"] for p in payments), ZERO)
        head |= {"received": received, "balance": totals.grand_total - received,
                 "stock_deducted": head["status"] != stock.CANCELLED}
        if received > 0 and received == totals.grand_total and head["status"] != stock.CANCELLED:
            head["status"] = documents.PAID
        head["payments"] = payments  # taken off again when the invoice's id is known
    elif doc.payments:
        raise ValidationError("payments", N_("only invoices take payments"), row=row)
    return head, entries, totals


def _payments(row: int, given: Sequence[NewPayment], grand_total: Decimal, minor_unit: int) -> list[dict[str, Any]]:
    """An invoice's payments with their amounts (a share rounded down, the rest what is left); none over the total."""
    unit = Decimal(1).scaleb(-minor_unit)
    out: list[dict[str, Any]] = []
    left = grand_total
    for p in given:
        if p.amount is not None:
            amount = p.amount
        elif p.share is not None:
            amount = (grand_total * p.share).quantize(unit, rounding=ROUND_DOWN)
        else:
            amount = left
        if amount <= 0:
            raise ValidationError("amount", N_("must be more than zero"), row=row)
        left -= amount
        if left < 0:
            raise ValidationError("amount", N_("the payments are more than the grand total"), row=row)
        out.append({"paid_on": p.paid_on, "amount": amount, "method": p.method, "reference": p.reference})
    return out


def _insert_payments(session: Session, payments: list[dict[str, Any]]) -> None:
    for payment, payment_id in zip(payments, reserve_ids(session, Payment.__table__, len(payments)), strict=True):
        payment["id"] = payment_id
    insert_rows(session, Payment.__table__, payments)


def _index(session: Session, module: str, rows: list[dict[str, Any]]) -> None:
    """Search documents for the new documents (their subject, and their account's name), one insert per table."""
    accounts = select(Account.id, Account.name).where(Account.id.in_({r["account_id"] for r in rows}))
    names = {i: name for i, name in session.execute(accounts)}
    docs = [build_document(module, SimpleNamespace(
        id=r["id"], number=r[registry.get(module).number_field], is_open=True, first_name=None, name=r["subject"],
        company=names.get(r["account_id"]), email=None, email2=None, phone=None, mobile=None,
        owner_id=r.get("owner_id"))) for r in rows]
    for doc, doc_id in zip(docs, reserve_ids(session, SearchDocument.__table__, len(docs)), strict=True):
        doc["id"] = doc_id
    insert_rows(session, SearchDocument.__table__, docs)
    insert_rows(session, SearchGram.__table__,
                [{"gram": g, "document_id": d["id"]} for d in docs for g in sorted(text_grams(d["body"]))])
    insert_rows(session, SearchPhoneGram.__table__,
                [{"gram": g, "document_id": d["id"]} for d in docs for g in sorted(phone_grams(d["phones"]))])


def _chunked(session: Session, stmt: Any, column: Any, ids: set[int]) -> list[Any]:
    found: list[Any] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), 5000):
        found += session.scalars(stmt.where(column.in_(ordered[start:start + 5000])))
    return found
