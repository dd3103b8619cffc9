"""Currencies: the ones every installation starts with, and amounts shown with each one's own decimals."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.errors import ValidationError
from crm_store.models import Currency

CURRENCIES = (
    ("TWD", "New Taiwan Dollar", "NT$", 0, Decimal("1")),
    ("USD", "US Dollar", "US$", 2, Decimal("32.5")),
    ("EUR", "Euro", "€", 2, Decimal("35.0")),
    ("JPY", "Japanese Yen", "¥", 0, Decimal("0.215")),
    ("CNY", "Chinese Yuan", "CN¥", 2, Decimal("4.5")),
    ("HKD", "Hong Kong Dollar", "HK$", 2, Decimal("4.15")),
)


def seed(session: Session) -> int:
    """Add the common currencies of a Taiwanese trading company that are missing; return how many."""
    present = set(session.scalars(select(Currency.code)))
    rows = [
        Currency(code=c, name=n, symbol=s, minor_unit=m, exchange_rate=r)
        for c, n, s, m, r in CURRENCIES
        if c not in present
    ]
    session.add_all(rows)
    return len(rows)


def format_amount(session: Session, amount: Decimal | int | float, currency: str, language: str) -> str:
    """Show an amount in a language with its currency's own minor unit from the store (TWD: no decimals)."""
    minor_unit = session.scalar(select(Currency.minor_unit).where(Currency.code == currency.upper()))
    if minor_unit is None:
        raise ValidationError("currency", f"{currency!r} is not a currency of this CRM")
    return languages.format_money(amount, currency.upper(), minor_unit, language)
