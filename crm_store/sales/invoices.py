"""What an invoice adds to a save: its balance, the Paid and Cancel locks, and the stock its lines take."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Invoice, Product
from crm_store.sales import stock
from crm_store.sales.line_items import Entry
from crm_store.sales.totals import Totals

PAID, CANCELLED = "Paid", stock.CANCELLED


def balance_and_status(record: Invoice, changed: dict[str, Any], totals: Totals) -> dict[str, Any]:
    """An invoice's balance follows its grand total; it is Paid when payments cover it, and only then."""
    balance = totals.grand_total - record.received
    if balance < 0:
        raise ValidationError("lines", N_("would make the grand total less than the payments received "
                                          "(%(received)s)"), received=str(record.received))
    out: dict[str, Any] = {"balance": balance} if balance != record.balance else {}
    status = changed.get("status", record.status)
    if status == PAID and (balance != 0 or record.received == 0):
        raise ValidationError("status", N_("an invoice is Paid when its payments cover it"))
    if balance == 0 and record.received > 0 and status not in (PAID, CANCELLED):
        out["status"] = PAID
    return out


def check_lock(record: Invoice, changed: dict[str, Any], lines_changed: bool) -> None:
    """A Paid invoice cannot be changed; a cancelled one only by changing its status away from Cancel."""
    if not changed and not lines_changed:
        return
    if record.status == PAID:
        raise ValidationError("status", N_("the invoice is paid: it cannot be changed"))
    if record.status == CANCELLED and (lines_changed or set(changed) != {"status"}):
        raise ValidationError("status", N_("the invoice is cancelled: change only its status, away from Cancel, "
                                           "to edit it"))


def stock_plan(
    session: Session, record: Invoice, changed: dict[str, Any], old_rows: list[dict[str, Any]],
    entries: Sequence[Entry],
) -> stock.StockPlan:
    """Give back what the old lines took (if they did), take what the new ones take (if the invoice stays live);
    `changed` gets the invoice's new `stock_deducted` when it changes."""
    old: dict[int, Decimal] = {}
    if record.stock_deducted:
        stocked = _stocked_products(session, [r["product_id"] for r in old_rows])
        for r in old_rows:
            if r["product_id"] in stocked:
                old[r["product_id"]] = old.get(r["product_id"], Decimal(0)) + r["quantity"]
    live = changed.get("status", record.status) != CANCELLED
    planned = stock.plan(session, old, stock.taken(entries) if live else {},
                         rows=stock.first_rows(entries))
    if live != record.stock_deducted:
        changed["stock_deducted"] = live
    return planned


def stock_reason(before: dict[str, Any], changed: dict[str, Any]) -> str:
    """Why a save moved stock, for the products' history: cancelled, un-cancelled or changed."""
    if changed.get("status") == CANCELLED:
        return "cancelled"
    return "un-cancelled" if before.get("status") == CANCELLED else "changed"


def _stocked_products(session: Session, product_ids: list[int]) -> set[int]:
    stmt = select(Product.id).where(Product.id.in_(set(product_ids)), Product.product_type == "product")
    return set(session.scalars(stmt))
