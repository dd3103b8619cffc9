"""Price books: a named list of prices in one currency. A document with a price book takes its lines' prices from it.

A price book is a registry record (PB1: numbering, audit, search, the recycle bin from `records.lifecycle`);
its list prices are rows of their own, each set (or replaced) with `set_price`, which audits the change on
the book. A list price is in the book's currency, whatever the product's own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM, Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, PriceBook, PriceBookPrice, Product
from crm_store.records import audit, lifecycle
from crm_store.records.validation import coerce
from crm_store.sales import headers
from crm_store.sales.line_items import decimal_value


@dataclass(frozen=True)
class PriceSet:
    """What `set_price` did: the price now, and the one it replaced (None: the product was not in the book)."""

    price: PriceBookPrice
    before: Decimal | None

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return self.before != self.price.list_price


def create(session: Session, values: Mapping[str, Any], actor: Actor = SYSTEM, *, at: dt.datetime | None = None
           ) -> PriceBook:
    """Check and add a price book (name, `currency` as a code — the company's by default —, active, description)."""
    values = dict(values)
    values["currency_id"] = headers.currency(session, values.pop("currency", None) or None, None).id
    if "name" in values:
        _free_name(session, values["name"])
    book: PriceBook = lifecycle.create(session, "price_books", values, actor, at=at)
    return book


def set_price(session: Session, book: PriceBook, product: Product, price: Any, actor: Actor = SYSTEM) -> PriceSet:
    """Set (or replace) a product's list price in a book, in the book's currency; audited on the book."""
    for record, field in ((book, "price_book"), (product, "product")):
        if record.deleted_at is not None:
            raise ValidationError(field, N_("%(number)s is in the recycle bin"), number=_number(record))
    amount = decimal_value("list_price", price, 4)
    if amount is None:
        raise ValidationError("list_price", N_("is required"))
    if amount < 0:
        raise ValidationError("list_price", N_("must not be negative"))
    row = session.scalar(select(PriceBookPrice).where(PriceBookPrice.price_book_id == book.id,
                                                      PriceBookPrice.product_id == product.id))
    before = row.list_price if row is not None else None
    if row is not None and before == amount:
        return PriceSet(row, before)
    if row is None:
        row = PriceBookPrice(price_book_id=book.id, product_id=product.id, list_price=amount)
        session.add(row)
    row.list_price = amount
    audit.log(session, "update", "price_books", book.id, actor, record_no=book.price_book_no,
              changes={f"list_price {product.product_no}": [audit.plain(before), audit.plain(amount)]})
    session.flush()
    return PriceSet(row, before)


def listed(*, active: bool | None = None, limit: int = 50) -> Select[PriceBook, str, int]:
    """Select live price books by name, each with its currency's code and how many prices it holds."""
    prices = (select(func.count()).select_from(PriceBookPrice).where(PriceBookPrice.price_book_id == PriceBook.id)
              .scalar_subquery())
    stmt = (select(PriceBook, Currency.code, prices).join(Currency, Currency.id == PriceBook.currency_id)
            .where(PriceBook.deleted_at.is_(None)).order_by(PriceBook.name, PriceBook.id).limit(limit))
    return stmt if active is None else stmt.where(PriceBook.active.is_(active))


def prices_of_product(product: Product) -> Select[PriceBook, Decimal, Currency]:
    """Select the product's list prices in the live price books, with each book and its currency, by book name."""
    return (select(PriceBook, PriceBookPrice.list_price, Currency)
            .join(PriceBookPrice, PriceBookPrice.price_book_id == PriceBook.id)
            .join(Currency, Currency.id == PriceBook.currency_id)
            .where(PriceBookPrice.product_id == product.id, PriceBook.deleted_at.is_(None))
            .order_by(PriceBook.name, PriceBook.id))


def _free_name(session: Session, raw: Any) -> None:
    """Price books are found by name too (`--price-book Dealers`): two live books never share one."""
    name = coerce("name", PriceBook.__table__.c["name"].type, raw)
    if not name:
        return  # the registry says it is required
    taken = session.scalar(select(PriceBook.price_book_no).where(
        func.lower(PriceBook.name) == name.lower(), PriceBook.deleted_at.is_(None)).limit(1))
    if taken is not None:
        raise ValidationError("name", N_("%(book)s already has this name"), book=taken)


def _number(record: Any) -> str:
    return str(getattr(record, "price_book_no", None) or getattr(record, "product_no", ""))
