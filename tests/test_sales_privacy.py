"""Personal-data requests reach quotes, sales orders and invoices: export gives them with their lines and payments;
erase keeps each document — numbers, dates, amounts, lines, payments — and takes the person off it."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import AuditEntry, Invoice, LineItem, Payment, Quote, SalesOrder
from crm_store.pipeline import conversion
from crm_store.records import lifecycle, privacy
from crm_store.sales import documents, payments
from crm_store.search.query import search
from tests.sales_support import Shop, make_shop

ACTOR = Actor.system("test")
HUA = {"last_name": "林", "first_name": "小華", "email": "hua@example.com", "mobile": "0912-000-111",
       "mailing_street": "信義路五段 7 號", "mailing_city": "台北市", "mailing_postal_code": "110"}


@pytest.fixture
def shop(session: Session) -> Shop:
    return make_shop(session)


def create(session: Session, module: str, shop: Shop, lines: list[dict[str, Any]] | None = None, **values: Any) -> Any:
    head = {"subject": "Office chairs", "account_id": shop.account.id, **values}
    return documents.create(session, module, head, lines or [{"product": "WID-1", "quantity": 2}], ACTOR).document


def stored(session: Session, model: Any, record_id: int) -> Any:
    """The row as the database holds it now."""
    session.flush()
    session.expire_all()
    return session.get_one(model, record_id)


def test_a_contact_on_a_company_s_documents_is_exported_with_their_lines_and_payments(
    session: Session, shop: Shop
) -> None:
    hua = lifecycle.create_contact(session, HUA | {"account_id": shop.account.id})
    quote = create(session, "quotes", shop, contact_id=hua.id)
    invoice = create(session, "invoices", shop, [{"product": "WID-1", "quantity": 2, "comment": "for 林小華"}],
                     contact_id=hua.id, ship_street="信義路五段 7 號", ship_city="台北市")
    payments.add_payment(session, invoice, {"paid_on": "2026-03-01", "amount": "100", "reference": "ATM 林小華"})
    create(session, "invoices", shop, subject="Someone else's")
    data = privacy.export_person(session, "HUA@example.com")
    json.dumps(data)  # JSON-ready (amounts as text, as the audit trail writes them)
    assert [q["quote_no"] for q in data["quotes"]] == [quote.quote_no]
    [exported] = data["invoices"]
    assert exported["invoice_no"] == invoice.invoice_no and exported["ship_street"] == "信義路五段 7 號"
    assert [(line["product_id"], line["comment"]) for line in exported["lines"]] == [(shop.widget.id, "for 林小華")]
    assert [(D(p["amount"]), p["reference"]) for p in exported["payments"]] == [(D("100"), "ATM 林小華")]
    assert "sales_orders" not in data  # they are on no order


def test_erase_keeps_an_invoice_and_takes_the_contact_off_it(session: Session, shop: Shop) -> None:
    hua = lifecycle.create_contact(session, HUA | {"account_id": shop.account.id})
    invoice = create(session, "invoices", shop, [{"product": "WID-1", "quantity": 2, "comment": "for 林小華"},
                                                 {"product": "GAD-2", "quantity": 1}],
                     subject="林小華 office chairs", contact_id=hua.id, description="Call 0912 000 111 first",
                     terms="Net 30", bill_street="Company Rd 1", bill_city="台北市",
                     ship_street="  信義路五段  7 號", ship_city="台北市", ship_postal_code="110",
                     ship_country="Taiwan")
    payments.add_payment(session, invoice, {"paid_on": "2026-03-01", "amount": "100", "reference": "ATM 林小華"})
    other = lifecycle.create_contact(session, {"last_name": "王", "email": "wang@example.com"})
    theirs = create(session, "invoices", shop, contact_id=other.id, subject="王 order")
    session.commit()
    before = {c.name: getattr(invoice, c.name) for c in Invoice.__table__.columns}
    lines_before = [(i.product_id, i.quantity, i.list_price, i.total) for i in session.scalars(
        select(LineItem).where(LineItem.invoice_id == invoice.id).order_by(LineItem.position))]

    counts = privacy.erase_person(session, "hua@example.com", ACTOR)
    session.commit()

    assert counts["contacts"] == 1 and counts["invoices"] == 1
    kept = stored(session, Invoice, invoice.id)
    blanked = {"contact_id", "subject", "description", "ship_street", "ship_city", "ship_postal_code", "updated_at"}
    assert {c: getattr(kept, c) for c in before if c not in blanked} == {
        c: v for c, v in before.items() if c not in blanked}  # number, dates, amounts, status, the company's address
    assert (kept.contact_id, kept.subject, kept.description) == (None, "[erased] office chairs", "Call [erased] first")
    assert (kept.ship_street, kept.ship_city, kept.ship_postal_code, kept.ship_country) == (None, None, None, "Taiwan")
    assert (kept.bill_street, kept.bill_city, kept.terms) == ("Company Rd 1", "台北市", "Net 30")
    lines = list(session.scalars(select(LineItem).where(LineItem.invoice_id == invoice.id)
                                 .order_by(LineItem.position)))
    assert [(i.product_id, i.quantity, i.list_price, i.total) for i in lines] == lines_before
    assert [i.comment for i in lines] == ["for [erased]", None]
    [payment] = session.scalars(select(Payment).where(Payment.invoice_id == invoice.id))
    assert (payment.amount, payment.reference) == (D("100"), "ATM [erased]")
    assert stored(session, Invoice, theirs.id).contact_id == other.id  # another person's invoice is untouched
    history = json.dumps([e.changes for e in session.scalars(
        select(AuditEntry).where(AuditEntry.module == "invoices", AuditEntry.record_id == invoice.id))],
        ensure_ascii=False)
    assert "小華" not in history and "信義路" not in history and "0912" not in history
    assert all(r.module != "invoices" or r.id != invoice.id for r in search(session, "林小華"))
    assert [r.number for r in search(session, invoice.invoice_no)] == [invoice.invoice_no]  # still found by number


def test_quotes_and_orders_lose_the_person_the_same_way(session: Session, shop: Shop) -> None:
    hua = lifecycle.create_contact(session, HUA | {"account_id": shop.account.id})
    quote = create(session, "quotes", shop, contact_id=hua.id, description="林小華 asked for a discount")
    order = create(session, "sales_orders", shop, contact_id=hua.id, ship_street="信義路五段 7 號")
    counts = privacy.erase_person(session, "hua@example.com", ACTOR)
    assert counts["quotes"] == 1 and counts["sales_orders"] == 1
    kept_quote, kept_order = stored(session, Quote, quote.id), stored(session, SalesOrder, order.id)
    assert (kept_quote.contact_id, kept_quote.description, kept_quote.grand_total) == (
        None, "[erased] asked for a discount", quote.grand_total)
    assert kept_quote.bill_city == "台北市"  # copied from the company's account: not the person's
    assert (kept_order.contact_id, kept_order.ship_street, kept_order.sales_order_no) == (
        None, None, order.sales_order_no)


def test_documents_of_the_account_made_from_the_person_s_lead_lose_their_address(
    session: Session, shop: Shop
) -> None:
    lead = lifecycle.create_lead(session, {"last_name": "陳", "first_name": "大明", "email": "ming@example.com",
                                           "street": "中山路 1 號", "city": "台中市"})
    made = conversion.convert_lead(session, lead, ACTOR, new_account=True)
    invoice = create(session, "invoices", shop, account_id=made.account.id, contact_id=made.contact.id)
    order = create(session, "sales_orders", shop, account_id=made.account.id)  # no contact: tied by the account
    assert (invoice.bill_street, order.bill_city) == ("中山路 1 號", "台中市")  # copied from the account
    assert [o["sales_order_no"] for o in privacy.export_person(session, "ming@example.com")["sales_orders"]] == [
        order.sales_order_no]
    counts = privacy.erase_person(session, "ming@example.com", ACTOR)
    assert counts["invoices"] == 1 and counts["sales_orders"] == 1
    kept, kept_order = stored(session, Invoice, invoice.id), stored(session, SalesOrder, order.id)
    assert (kept.account_id, kept.contact_id, kept.bill_street, kept.bill_city) == (made.account.id, None, None, None)
    assert (kept_order.bill_street, kept_order.bill_city, kept_order.grand_total) == (None, None, order.grand_total)
    assert kept.grand_total == invoice.grand_total and kept.invoice_no == invoice.invoice_no


def test_the_command_exports_and_erases_the_documents(
    crm: Callable[..., Result], session: Session, shop: Shop
) -> None:
    hua = lifecycle.create_contact(session, HUA | {"account_id": shop.account.id})
    invoice = create(session, "invoices", shop, contact_id=hua.id)
    session.commit()
    exported = json.loads(crm("person", "export", "hua@example.com").output)
    assert exported["invoices"][0]["invoice_no"] == invoice.invoice_no
    assert D(exported["invoices"][0]["lines"][0]["quantity"]) == 2
    out = crm("person", "erase", "hua@example.com", "--yes").output
    assert "1 invoices" in out
    kept = stored(session, Invoice, invoice.id)
    assert kept.contact_id is None and kept.grand_total == invoice.grand_total
