"""What a company sells: products and services, taxes, and price books."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Money, Percent, Quantity, Record, intpk, str20, str100, str255

PRODUCT_TYPES = ("product", "service")  # a service has no stock


class Product(Record, Base):
    """A product or a service: code, price, stock (products only), tax classes, an image."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("product_type in ('product','service')", name="product_type"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
        CheckConstraint("reorder_level >= 0", name="reorder_level"),
        Index("ix_products_name", "name", "id"),
        Index("ix_products_created", "created_at", "id"),
        Index("ix_products_owner_created", "owner_id", "created_at", "id"),
    )

    product_no: Mapped[str20] = mapped_column(unique=True)
    product_code: Mapped[str | None] = mapped_column(String(100), unique=True)  # the part number, as typed
    name: Mapped[str255]
    product_type: Mapped[str] = mapped_column(String(10), default="product")
    category: Mapped[str | None] = mapped_column(String(100))
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id"))
    usage_unit: Mapped[str | None] = mapped_column(String(100))
    qty_in_stock: Mapped[Decimal | None] = mapped_column(Quantity)  # may go negative (Vtiger: NN~O)
    reorder_level: Mapped[Decimal | None] = mapped_column(Quantity)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Key/value pairs in the order entered: [{"name": "Voltage", "value": "220 V"}, …]
    specifications: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))


class Tax(Base):
    """A tax (name, rate in percent): products carry their tax classes, documents copy the rates at save time."""

    __tablename__ = "taxes"
    # Not "rate <= 100": on SQLite the column holds thousandths (5 % is 5000); the store checks the upper bound.
    __table_args__ = (CheckConstraint("rate >= 0", name="rate"),)

    id: Mapped[intpk]
    name: Mapped[str100] = mapped_column(unique=True)
    rate: Mapped[Decimal] = mapped_column(Percent)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    applies_to_shipping: Mapped[bool] = mapped_column(Boolean, default=False)


class ProductTax(Base):
    """A product's tax class: the taxes its lines pay in individual tax mode."""

    __tablename__ = "product_taxes"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    tax_id: Mapped[int] = mapped_column(ForeignKey("taxes.id", ondelete="CASCADE"), primary_key=True, index=True)


class PriceBook(Record, Base):
    """A named list of prices in one currency: a line takes its price from its document's price book."""

    __tablename__ = "price_books"

    price_book_no: Mapped[str20] = mapped_column(unique=True)
    name: Mapped[str255]
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PriceBookPrice(Base):
    """A product's list price in a price book."""

    __tablename__ = "price_book_prices"
    __table_args__ = (
        UniqueConstraint("price_book_id", "product_id"),
        CheckConstraint("list_price >= 0", name="list_price"),
    )

    id: Mapped[intpk]
    price_book_id: Mapped[int] = mapped_column(ForeignKey("price_books.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    list_price: Mapped[Decimal] = mapped_column(Money)


