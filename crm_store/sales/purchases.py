"""What an account bought — each product on its invoices, with the quantity, the amount and the last day bought —
what it still owes, and its transactions a page at a time (the account's Transactions tab).

Only live invoices count (not cancelled, not in the recycle bin): quotes and sales orders are offers and
promises, not purchases. The amount is the lines' net (after their discounts, before tax), in the invoices'
currency — one row per product and currency, the largest amount first.

The tab reads a page of the newest transactions (`transactions_page`): the order is worked out over small keys
(kind, id, day, created) of every live quote, order, invoice and payment, and only the page's rows are read, with
the columns the tab shows; the summary (`owed`, the count) and the products (`top_purchases`) are summed in SQL
over all of them, whatever the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Select, cast, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from crm_store.models import Account, Currency, Invoice, LineItem, Payment, Product
from crm_store.records import registry
from crm_store.sales.documents import MODELS
from crm_store.sales.stock import CANCELLED
from crm_store.sales.transactions import KINDS, Bought, Transaction
from crm_store.settings import company

PER_PAGE = 50
TOP_PRODUCTS = 20


@dataclass(frozen=True)
class Purchase:
    """A product an account bought, summed over its invoices in one currency."""

    product_no: str
    name: str
    quantity: Decimal
    amount: Decimal
    currency: str
    minor_unit: int
    last_bought: dt.date
    invoices: int


def bought(account_id: int) -> Select[str, str, Decimal, Decimal, str, int, dt.date, int]:
    """Select each product an account's live invoices hold, per currency: quantity, net amount, last day, invoices."""
    return (
        select(Product.product_no, Product.name, func.sum(LineItem.quantity), func.sum(LineItem.net), Currency.code,
               Currency.minor_unit, func.max(Invoice.invoice_date), func.count(func.distinct(Invoice.id)))
        .join(Invoice, Invoice.id == LineItem.invoice_id)
        .join(Product, Product.id == LineItem.product_id)
        .join(Currency, Currency.id == Invoice.currency_id)
        .where(Invoice.account_id == account_id, Invoice.deleted_at.is_(None), Invoice.status != CANCELLED)
        .group_by(Product.id, Product.product_no, Product.name, Currency.code, Currency.minor_unit)
        .order_by(func.sum(LineItem.net).desc(), Product.product_no)
    )


def account_purchases(session: Session, account: Account) -> list[Purchase]:
    """The products an account bought on its live invoices, the largest amount first."""
    return [Purchase(*row) for row in session.execute(bought(account.id))]


@dataclass(frozen=True)
class TopPurchases:
    """The `limit` products an account bought for the most, and how many other product rows there are."""

    shown: list[Purchase]
    more: int


def top_purchases(session: Session, account: Account, limit: int = TOP_PRODUCTS) -> TopPurchases:
    """The products an account bought for the largest amounts (summed in SQL), at most `limit`, and the rest's count."""
    rows = list(session.execute(bought(account.id).add_columns(func.count().over()).limit(limit)))
    return TopPurchases([Purchase(*row[:8]) for row in rows], rows[0][8] - len(rows) if rows else 0)


@dataclass(frozen=True)
class Owed:
    """What an account still owes in one currency: the invoices' balances, and how many invoices."""

    currency: str
    minor_unit: int
    balance: Decimal
    invoices: int


def owed(session: Session, account: Account) -> list[Owed]:
    """The balances of the account's live, uncancelled invoices not yet paid, per currency (by code)."""
    stmt = (select(Currency.code, Currency.minor_unit, func.sum(Invoice.balance), func.count(Invoice.id))
            .join(Currency, Currency.id == Invoice.currency_id)
            .where(Invoice.account_id == account.id, Invoice.deleted_at.is_(None), Invoice.status != CANCELLED,
                   Invoice.balance > 0)
            .group_by(Currency.code, Currency.minor_unit).order_by(Currency.code))
    return [Owed(*row) for row in session.execute(stmt)]


@dataclass(frozen=True)
class TransactionPage:
    """One page of an account's transactions, newest first: `number` (from 1) of `pages`, `count` in all."""

    transactions: list[Transaction]
    ids: dict[str, list[int]]  # kind (quote, sales_order, invoice, payment) -> the ids of the page's rows
    number: int
    pages: int
    count: int
    per_page: int

    @property
    def newer(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def older(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def transactions_page(session: Session, account: Account, page: int = 1,
                      per_page: int = PER_PAGE) -> TransactionPage:
    """Page `page` of the account's live quotes, orders, invoices and payments, newest first (a page past the last
    is the last). The order — day, then when it was entered, then kind and id — is the same on every page, so the
    pages follow on without gaps or repeats."""
    if per_page < 1:
        raise ValueError("per_page: must be at least 1")
    zone = company.zone(session)
    keys = []
    for kind, day, at, row_id in session.execute(_keys(account.id)):
        on = day if day is not None else at.replace(tzinfo=at.tzinfo or dt.UTC).astimezone(zone).date()
        on = on if isinstance(on, dt.date) else dt.date.fromisoformat(str(on))
        keys.append((on, at, kind, row_id))
    keys.sort(reverse=True)
    count = len(keys)
    pages = max(1, -(-count // per_page))
    number = min(max(page, 1), pages)
    chosen = keys[(number - 1) * per_page:number * per_page]
    ids: dict[str, list[int]] = {}
    for _, _, kind, row_id in chosen:
        ids.setdefault(kind, []).append(row_id)
    found = _read(session, chosen, ids)
    return TransactionPage([found[(kind, row_id)] for _, _, kind, row_id in chosen], ids, number, pages, count,
                           per_page)


def _keys(account_id: int) -> Any:
    """kind, day (None for a quote or order: its creation, in the company's zone), created, id — of every live
    document and every payment of a live invoice."""
    parts: list[Any] = []
    for module, model in MODELS.items():
        day = model.invoice_date if model is Invoice else cast(null(), Date)
        parts.append(select(literal(KINDS[module]).label("kind"), day.label("day"), model.created_at.label("at"),
                            model.id.label("id"))
                     .where(model.account_id == account_id, model.deleted_at.is_(None)))
    parts.append(select(literal("payment"), Payment.paid_on, Payment.created_at, Payment.id)
                 .join(Invoice, Invoice.id == Payment.invoice_id)
                 .where(Invoice.account_id == account_id, Invoice.deleted_at.is_(None)))
    return union_all(*parts)


def _read(session: Session, chosen: list[tuple[dt.date, dt.datetime, str, int]],
          wanted: dict[str, list[int]]) -> dict[tuple[str, int], Transaction]:
    """The page's rows (`wanted`: kind -> ids), with only the columns the tab shows, by (kind, id)."""
    currencies = {c.id: (c.code, c.minor_unit) for c in session.execute(select(Currency.id, Currency.code,
                                                                                  Currency.minor_unit))}
    on_of = {(kind, row_id): on for on, _, kind, row_id in chosen}
    out: dict[tuple[str, int], Transaction] = {}
    for module, model in MODELS.items():
        kind, ids = KINDS[module], wanted.get(KINDS[module], [])
        if not ids:
            continue
        spec = registry.get(module)
        balance = model.balance if model is Invoice else null()
        stmt = select(model.id, getattr(model, spec.number_field), model.created_at, model.subject, model.status,
                      model.grand_total, model.currency_id, balance).where(model.id.in_(ids))
        products = _products(session, spec.link_column or "", ids)
        for row_id, number, at, subject, status, total, currency_id, due in session.execute(stmt):
            code, minor_unit = currencies[currency_id]
            out[(kind, row_id)] = Transaction(kind, number, on_of[(kind, row_id)], at, subject, status, total, code,
                                              minor_unit, tuple(products.get(row_id, ())), due)
    if wanted.get("payment"):
        stmt = (select(Payment.id, Payment.paid_on, Payment.created_at, Payment.amount, Payment.method,
                       Invoice.invoice_no, Invoice.subject, Invoice.currency_id)
                .join(Invoice, Invoice.id == Payment.invoice_id).where(Payment.id.in_(wanted["payment"])))
        for row_id, paid_on, at, amount, method, invoice_no, subject, currency_id in session.execute(stmt):
            code, minor_unit = currencies[currency_id]
            out[("payment", row_id)] = Transaction("payment", invoice_no, paid_on, at, subject, None, amount, code,
                                                   minor_unit, document=invoice_no, method=method)
    return out


def _products(session: Session, link: str, document_ids: list[int]) -> dict[int, list[Bought]]:
    """The products and quantities on each of a page's documents, in line order."""
    column: Any = getattr(LineItem, link)
    stmt = (select(column, Product.product_no, LineItem.description, Product.name, LineItem.quantity)
            .join(Product, Product.id == LineItem.product_id).where(column.in_(document_ids))
            .order_by(column, LineItem.position))
    out: dict[int, list[Bought]] = {}
    for doc_id, number, description, name, quantity in session.execute(stmt):
        out.setdefault(doc_id, []).append(Bought(number, description or name, quantity))
    return out
