"""Stock, as Vtiger keeps it: invoices take their lines' quantities out, and give them back.

A live invoice (saved, not Cancel, not in the recycle bin) has its products' quantities out of stock and
`stock_deducted` set; editing it gives the old quantities back before taking the new ones; Cancel and the
recycle bin give them back, un-cancelling and restoring take them again. Quotes and sales orders never
touch stock, nor do services. Whether stock may go below zero is the `allow_negative_stock` company
setting (on, as in Vtiger: the change is made and a warning returned). Every change of a product's stock
is audited on the product with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Invoice, Product
from crm_store.records import audit
from crm_store.records.lines import one_line
from crm_store.records.validation import coerce
from crm_store.sales import line_items
from crm_store.settings import company

CANCELLED = "Cancel"  # the invoice status that gives the stock back
ZERO = Decimal(0)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StockWarning:
    """A product whose stock a change took below zero (allowed by `allow_negative_stock`)."""

    product_no: str
    name: str
    quantity: Decimal

    def __str__(self) -> str:
        return f"stock of {self.product_no} {self.name} is now {self.quantity.normalize():f}, below zero"


@dataclass(frozen=True)
class StockPlan:
    """The stock changes a save makes, checked before anything is written: (product, before, after)."""

    changes: tuple[tuple[Product, Decimal, Decimal], ...] = ()
    warnings: tuple[StockWarning, ...] = ()


def taken(entries: Iterable[line_items.Entry]) -> dict[int, Decimal]:
    """The quantity of each stocked product that lines take out of stock."""
    out: dict[int, Decimal] = {}
    for entry in entries:
        if entry.stocked:
            out[entry.product_id] = out.get(entry.product_id, ZERO) + entry.line.quantity
    return out


def first_rows(entries: Iterable[line_items.Entry]) -> dict[int, int]:
    """The first line (from 1) of each product: where an error about its stock points."""
    rows: dict[int, int] = {}
    for i, entry in enumerate(entries, 1):
        rows.setdefault(entry.product_id, i)
    return rows


def plan(
    session: Session, out_before: Mapping[int, Decimal], out_after: Mapping[int, Decimal], *,
    rows: Mapping[int, int] | None = None, field: str = "quantity",
) -> StockPlan:
    """What moving from `out_before` to `out_after` taken out of stock does; refuse going below zero if not allowed."""
    delta = {pid: out_after.get(pid, ZERO) - out_before.get(pid, ZERO) for pid in {*out_before, *out_after}}
    delta = {pid: d for pid, d in delta.items() if d != 0}
    if not delta:
        return StockPlan()
    products = session.scalars(select(Product).where(Product.id.in_(delta)).order_by(Product.id).with_for_update()
                               .execution_options(populate_existing=True))
    allowed = company.get(session, "allow_negative_stock")
    changes, warnings = [], []
    for product in products:
        before = product.qty_in_stock if product.qty_in_stock is not None else ZERO
        after = before - delta[product.id]
        if after < 0 and delta[product.id] > 0:
            if not allowed:
                raise ValidationError(
                    field, N_("%(product)s has %(stock)s in stock, less than the %(wanted)s this takes"),
                    row=(rows or {}).get(product.id), product=product.product_no, stock=_shown(before),
                    wanted=_shown(delta[product.id]))
            warnings.append(StockWarning(product.product_no, product.name, after))
        changes.append((product, before, after))
    return StockPlan(tuple(changes), tuple(warnings))


def write(session: Session, planned: StockPlan, actor: Actor, reason: str) -> None:
    """Make the planned changes, each audited on its product with the reason."""
    for product, before, after in planned.changes:
        product.qty_in_stock = after
        audit.log(session, "update", "products", product.id, actor, record_no=product.product_no,
                  changes={"qty_in_stock": [audit.plain(before), audit.plain(after)], "reason": reason})
    if planned.changes:
        session.flush()


def give_back(session: Session, invoice: Invoice, actor: Actor) -> None:
    """An invoice going to the recycle bin gives back the stock its lines took."""
    if not invoice.stock_deducted:
        return
    entries = line_items.stored(session, "invoice_id", invoice.id)
    write(session, plan(session, taken(entries), {}), actor, f"{invoice.invoice_no} deleted")
    invoice.stock_deducted = False


def take_again(session: Session, invoice: Invoice, actor: Actor) -> tuple[StockWarning, ...]:
    """An invoice restored from the recycle bin takes its lines' stock again (unless it is cancelled)."""
    if invoice.stock_deducted or invoice.status == CANCELLED:
        return ()
    entries = line_items.stored(session, "invoice_id", invoice.id)
    planned = plan(session, {}, taken(entries), rows=first_rows(entries))
    write(session, planned, actor, f"{invoice.invoice_no} restored")
    invoice.stock_deducted = True
    for warning in planned.warnings:
        log.warning("%s (%s restored)", warning, invoice.invoice_no)
    return planned.warnings


def adjust_stock(session: Session, product: Product, by: Any, reason: str, actor: Actor) -> StockPlan:
    """Add (or, negative, remove) stock received or counted; audited with the reason."""
    if product.deleted_at is not None:
        raise ValidationError("product", N_("%(product)s is in the recycle bin"), product=product.product_no)
    if product.product_type != "product":
        raise ValidationError("product", N_("%(product)s is a service: services have no stock"),
                              product=product.product_no)
    change = line_items.decimal_value("by", by, 3)
    if change is None or change == 0:
        raise ValidationError("by", N_("must be a quantity other than zero"))
    text = coerce("reason", product.__table__.c["name"].type, reason)
    if not text:
        raise ValidationError("reason", N_("is required"))
    planned = plan(session, {}, {product.id: -change}, field="by")
    write(session, planned, actor, one_line("reason", text))
    return planned


def low_stock() -> Select[Any]:
    """Select the live products below their reorder level, the furthest below first."""
    stock = func.coalesce(Product.qty_in_stock, 0)
    return (select(Product).where(Product.deleted_at.is_(None), Product.product_type == "product",
                                  Product.reorder_level.is_not(None), stock < Product.reorder_level)
            .order_by(stock - Product.reorder_level, Product.id))


def _shown(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"
