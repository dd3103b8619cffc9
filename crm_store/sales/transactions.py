"""An account's transactions: its quotes, sales orders, invoices and payments, newest first.

What the customer was offered, ordered, billed and paid, with the totals and the products and quantities of
each document — the history the customer-value reports are computed from. Documents in the recycle bin are
left out, and so are the payments of invoices there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Account, Currency, Invoice, LineItem, Payment, Product
from crm_store.records import registry
from crm_store.sales.documents import MODELS
from crm_store.settings import company

KINDS = {"quotes": "quote", "sales_orders": "sales_order", "invoices": "invoice"}


@dataclass(frozen=True)
class Bought:
    """A product on a document and how many."""

    product_no: str
    name: str
    quantity: Decimal


@dataclass(frozen=True)
class Transaction:
    """One quote, sales order, invoice or payment of an account.

    `on` is the invoice date, the payment date, or the day a quote or order was made (in the company's zone);
    `amount` the grand total or the payment; `balance` what is still due on an invoice; a payment's `number`
    and `document` are its invoice's, its `method` how it was paid.
    """

    kind: str  # quote | sales_order | invoice | payment
    number: str
    on: dt.date
    at: dt.datetime
    subject: str
    status: str | None
    amount: Decimal
    currency: str
    minor_unit: int
    products: tuple[Bought, ...] = ()
    balance: Decimal | None = None
    document: str | None = None
    method: str | None = None


def account_transactions(session: Session, account: Account) -> list[Transaction]:
    """Every live quote, order, invoice and payment of an account, newest first."""
    zone = company.zone(session)
    currencies = {c.id: (c.code, c.minor_unit) for c in session.scalars(select(Currency))}
    found: list[Transaction] = []
    for module, model in MODELS.items():
        docs = list(session.scalars(select(model).where(model.account_id == account.id, model.deleted_at.is_(None))))
        bought = _bought(session, registry.get(module).link_column or "", [d.id for d in docs])
        for doc in docs:
            code, minor_unit = currencies[doc.currency_id]
            on = doc.invoice_date if isinstance(doc, Invoice) else doc.created_at.astimezone(zone).date()
            found.append(Transaction(
                KINDS[module], getattr(doc, registry.get(module).number_field), on, doc.created_at, doc.subject,
                doc.status, doc.grand_total, code, minor_unit, tuple(bought.get(doc.id, ())),
                doc.balance if isinstance(doc, Invoice) else None))
    paid = select(Payment, Invoice).join(Invoice, Invoice.id == Payment.invoice_id).where(
        Invoice.account_id == account.id, Invoice.deleted_at.is_(None))
    for payment, invoice in session.execute(paid):
        code, minor_unit = currencies[invoice.currency_id]
        found.append(Transaction("payment", invoice.invoice_no, payment.paid_on, payment.created_at,
                                 invoice.subject, None, payment.amount, code, minor_unit,
                                 document=invoice.invoice_no, method=payment.method))
    return sorted(found, key=lambda t: (t.on, t.at), reverse=True)


def _bought(session: Session, link: str, document_ids: list[int]) -> dict[int, list[Bought]]:
    """The products and quantities on each document, in line order."""
    out: dict[int, list[Bought]] = {}
    column: Any = getattr(LineItem, link)
    for chunk in (document_ids[i:i + 5000] for i in range(0, len(document_ids), 5000)):
        stmt = (select(column, Product.product_no, LineItem.description, Product.name, LineItem.quantity)
                .join(Product, Product.id == LineItem.product_id).where(column.in_(chunk))
                .order_by(column, LineItem.position))
        for doc_id, number, description, name, quantity in session.execute(stmt):
            out.setdefault(doc_id, []).append(Bought(number, description or name, quantity))
    return out
