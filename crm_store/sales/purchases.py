"""What an account bought — each product on its invoices, with the quantity, the amount and the last day bought —
and what it still owes.

Only live invoices count (not cancelled, not in the recycle bin): quotes and sales orders are offers and
promises, not purchases. The amount is the lines' net (after their discounts, before tax), in the invoices'
currency — one row per product and currency, the largest amount first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm_store.models import Account, Currency, Invoice, LineItem, Product
from crm_store.sales.stock import CANCELLED


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
