"""Payments received against invoices: received is their sum, the balance what is left; Paid at zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Date, String, select
from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM, Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, Invoice, Payment, utcnow
from crm_store.records import audit
from crm_store.records.lines import one_line
from crm_store.records.validation import coerce
from crm_store.sales.invoices import CANCELLED, PAID
from crm_store.sales.line_items import decimal_value
from crm_store.settings import picklists

PAYMENT_FIELDS = frozenset({"paid_on", "amount", "method", "reference"})


def add_payment(session: Session, invoice: Invoice, values: dict[str, Any], actor: Actor = SYSTEM) -> Payment:
    """Record a payment (paid_on, amount, method, reference) on an invoice; an invoice paid in full becomes Paid."""
    clean = _checked(session, invoice, values)
    payment = Payment(invoice_id=invoice.id, created_at=utcnow(), created_by_id=actor.user_id, **clean)
    session.add(payment)
    before = {"received": invoice.received, "balance": invoice.balance, "status": invoice.status}
    invoice.received += clean["amount"]
    invoice.balance -= clean["amount"]
    if invoice.balance == 0:
        invoice.status = PAID
    invoice.updated_at = utcnow()
    after = {"received": invoice.received, "balance": invoice.balance, "status": invoice.status}
    changes: dict[str, Any] = {k: [None, audit.plain(v)] for k, v in clean.items() if v is not None}
    audit.log(session, "payment", "invoices", invoice.id, actor, record_no=invoice.invoice_no,
              changes=changes | audit.diff(before, after))
    session.flush()
    return payment


def payments_of(invoice_id: int) -> Any:
    """Select an invoice's payments, oldest first."""
    return select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.paid_on, Payment.id)


def _checked(session: Session, invoice: Invoice, values: dict[str, Any]) -> dict[str, Any]:
    """The payment's values, checked against the invoice: due, in its currency's minor unit, not over the balance."""
    unknown = sorted(set(values) - PAYMENT_FIELDS)
    if unknown:
        raise ValidationError(unknown[0], N_("is not a field of a payment"))
    if invoice.deleted_at is not None:
        raise ValidationError("invoice", N_("%(number)s is in the recycle bin"), number=invoice.invoice_no)
    if invoice.status == CANCELLED:
        raise ValidationError("status", N_("the invoice is cancelled: it takes no payments"))
    paid_on = coerce("paid_on", Date(), values.get("paid_on"))
    if paid_on is None:
        raise ValidationError("paid_on", N_("is required"))
    amount = decimal_value("amount", values.get("amount"), 4)
    if amount is None:
        raise ValidationError("amount", N_("is required"))
    if amount <= 0:
        raise ValidationError("amount", N_("must be more than zero"))
    minor_unit = session.scalar(select(Currency.minor_unit).where(Currency.id == invoice.currency_id)) or 0
    if amount != amount.quantize(Decimal(1).scaleb(-minor_unit)):
        raise ValidationError("amount", N_("has more than %(places)s decimals"), places=minor_unit)
    if invoice.balance <= 0:
        raise ValidationError("amount", N_("the invoice is paid in full: nothing is due"))
    if amount > invoice.balance:
        raise ValidationError("amount", N_("is more than the balance of %(balance)s"),
                              balance=_shown(invoice.balance, minor_unit))
    method = coerce("method", String(100), values.get("method"))
    picklists.check(picklists.all_values(session), "payment_method", "method", method)
    reference = coerce("reference", String(255), values.get("reference"))
    if reference is not None:
        one_line("reference", reference)
    return {"paid_on": paid_on, "amount": amount, "method": method, "reference": reference}


def _shown(amount: Decimal, minor_unit: int) -> str:
    return f"{amount.quantize(Decimal(1).scaleb(-minor_unit)):,f}"
