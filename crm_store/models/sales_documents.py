"""Quotes, sales orders and invoices (Vtiger's inventory documents), their line items and invoices' payments.

The totals on a document are the store's (crm_store.sales.totals), computed in `Decimal` in Vtiger's order
and stored exactly (`Money`); the rates of the taxes applied are copied onto the document and its lines at
save time, so a later change of a tax's rate never changes a document already written.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from .base import Base, Money, Percent, Quantity, Rate, Record, intpk, str20, str255, utcnow

TAX_MODES = ("individual", "group")  # taxes per line (the product's own) or on the whole document
DISCOUNT_KINDS = ("percent", "amount")
DOCUMENT_KINDS = ("quote", "sales_order", "invoice")


class InventoryDocument(Record):
    """What quotes, sales orders and invoices share: parties, currency, addresses, terms and totals."""

    subject: Mapped[str255]
    status: Mapped[str] = mapped_column(String(100))

    @declared_attr
    def account_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(ForeignKey("accounts.id"), index=True)

    @declared_attr
    def contact_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("contacts.id"), index=True)

    @declared_attr
    def opportunity_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("opportunities.id"), index=True)

    @declared_attr
    def currency_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(ForeignKey("currencies.id"))

    @declared_attr
    def price_book_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("price_books.id"))

    # company currency per unit of the document's currency, copied from the currency when saved
    conversion_rate: Mapped[Decimal] = mapped_column(Rate, server_default=text("1"))
    tax_mode: Mapped[str] = mapped_column(String(10), default="individual")
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, default=False)  # the company setting when saved
    bill_street: Mapped[str | None] = mapped_column(String(250))
    bill_city: Mapped[str | None] = mapped_column(String(100))
    bill_state: Mapped[str | None] = mapped_column(String(100))
    bill_postal_code: Mapped[str | None] = mapped_column(String(30))
    bill_country: Mapped[str | None] = mapped_column(String(100))
    bill_po_box: Mapped[str | None] = mapped_column(String(30))
    ship_street: Mapped[str | None] = mapped_column(String(250))
    ship_city: Mapped[str | None] = mapped_column(String(100))
    ship_state: Mapped[str | None] = mapped_column(String(100))
    ship_postal_code: Mapped[str | None] = mapped_column(String(30))
    ship_country: Mapped[str | None] = mapped_column(String(100))
    ship_po_box: Mapped[str | None] = mapped_column(String(30))
    terms: Mapped[str | None] = mapped_column(Text)
    # Entered: the overall discount (a percent or an amount, not both), shipping & handling, the adjustment.
    discount_percent: Mapped[Decimal | None] = mapped_column(Percent)
    discount_amount: Mapped[Decimal | None] = mapped_column(Money)
    shipping_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    adjustment: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # signed
    # Computed by the store (crm_store.sales.totals), rounded to the currency's minor unit.
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    overall_discount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    shipping_tax: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    pre_tax_total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    tax_total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    grand_total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # The taxes applied at save time: [{"tax_id", "name", "rate", "base", "amount"}] (group mode: on the
    # document; individual mode: the lines' taxes summed per tax), and those on shipping.
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    shipping_taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Quote(InventoryDocument, Base):
    """A quote (報價單) to an account: valid till a date; converted to a sales order or an invoice."""

    __tablename__ = "quotes"
    __table_args__ = (
        Index("ix_quotes_created", "created_at", "id"),
        Index("ix_quotes_owner_created", "owner_id", "created_at", "id"),
        Index("ix_quotes_account_created", "account_id", "created_at"),
    )

    quote_no: Mapped[str20] = mapped_column(unique=True)
    valid_till: Mapped[dt.date | None] = mapped_column(Date)
    carrier: Mapped[str | None] = mapped_column(String(100))


class SalesOrder(InventoryDocument, Base):
    """A sales order (訂單): what the customer ordered; from a quote, invoiced later. Does not touch stock."""

    __tablename__ = "sales_orders"
    __table_args__ = (
        Index("ix_sales_orders_created", "created_at", "id"),
        Index("ix_sales_orders_owner_created", "owner_id", "created_at", "id"),
        Index("ix_sales_orders_account_created", "account_id", "created_at"),
    )

    sales_order_no: Mapped[str20] = mapped_column(unique=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    carrier: Mapped[str | None] = mapped_column(String(100))
    purchase_order: Mapped[str | None] = mapped_column(String(100))  # the customer's PO number
    customer_no: Mapped[str | None] = mapped_column(String(100))


class Invoice(InventoryDocument, Base):
    """An invoice (請款單 — a commercial document, not a government uniform invoice): payments, balance, stock."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("received >= 0", name="received"),
        Index("ix_invoices_created", "created_at", "id"),
        Index("ix_invoices_owner_created", "owner_id", "created_at", "id"),
        Index("ix_invoices_account_date", "account_id", "invoice_date"),
        Index("ix_invoices_date", "invoice_date", "id"),
    )

    invoice_no: Mapped[str20] = mapped_column(unique=True)
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), index=True)
    invoice_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    purchase_order: Mapped[str | None] = mapped_column(String(100))
    customer_no: Mapped[str | None] = mapped_column(String(100))
    received: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # the payments' sum
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # grand total − received
    # Whether the lines' quantities are out of stock now (Vtiger's incrementondel): set when saved live,
    # cleared when cancelled or deleted, so stock is deducted and given back exactly once each time.
    stock_deducted: Mapped[bool] = mapped_column(Boolean, default=False)


class LineItem(Base):
    """A line of a quote, sales order or invoice: a product, a quantity, a price, a discount, its taxes."""

    __tablename__ = "line_items"
    __table_args__ = (
        CheckConstraint("(case when quote_id is null then 0 else 1 end) + (case when sales_order_id is null then 0 "
                        "else 1 end) + (case when invoice_id is null then 0 else 1 end) = 1", name="one_document"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("list_price >= 0", name="list_price"),
        CheckConstraint("discount_kind is null or discount_kind in ('percent','amount')", name="discount_kind"),
        Index("ix_line_items_quote", "quote_id", "position"),
        Index("ix_line_items_sales_order", "sales_order_id", "position"),
        Index("ix_line_items_invoice", "invoice_id", "position"),
    )

    id: Mapped[intpk]
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)  # the product's name when saved, or as edited
    comment: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    list_price: Mapped[Decimal] = mapped_column(Money)
    discount_kind: Mapped[str | None] = mapped_column(String(10))
    discount_value: Mapped[Decimal | None] = mapped_column(Money)  # a percent or an amount, per discount_kind
    # Computed: quantity × price, the discount, what is left, the line's taxes (individual mode), the total.
    line_total: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    net: Mapped[Decimal] = mapped_column(Money)
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    total: Mapped[Decimal] = mapped_column(Money)
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{"tax_id", "name", "rate", "amount"}]


class Payment(Base):
    """A payment received against an invoice."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_payments_invoice", "invoice_id", "paid_on"),
    )

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str | None] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
