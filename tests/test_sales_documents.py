"""Quotes, sales orders and invoices in the store: lines priced and taxed, totals stored as computed, conversions,
payments, stock as Vtiger keeps it, an account's transactions, the bulk path, and bad input naming its field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import (
    AuditEntry,
    Invoice,
    LineItem,
    Payment,
    Product,
    Quote,
    SalesOrder,
    SearchDocument,
)
from crm_store.records import lifecycle, recycle_bin, registry
from crm_store.sales import bulk, conversions, documents, payments, stock, transactions
from crm_store.sales.documents import MODELS
from crm_store.search.query import search
from crm_store.settings import company
from tests.sales_support import Shop, count, make_shop, recomputed, two_lines

ACTOR = Actor.system("test")


@pytest.fixture
def shop(session: Session) -> Shop:
    return make_shop(session)


def header(shop: Shop, **values: Any) -> dict[str, Any]:
    return {"subject": "Office fit-out 辦公室", "account_id": shop.account.id, **values}


def stored_lines(session: Session, doc: Any) -> list[LineItem]:
    return [item for item, _product in documents.lines_of(session, doc)]


def stock_of(session: Session, product: Product) -> D:
    session.flush()
    return session.scalar(select(Product.qty_in_stock).where(Product.id == product.id))


def invoice(session: Session, shop: Shop, lines: list[dict[str, Any]] | None = None, **values: Any) -> Invoice:
    return documents.create(session, "invoices", header(shop, **values), lines or two_lines(shop), ACTOR).document


# -- creating ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", sorted(MODELS))
def test_each_kind_stores_the_totals_compute_gives(session: Session, shop: Shop, module: str) -> None:
    doc = documents.create(session, module, header(shop), two_lines(shop), ACTOR).document
    session.commit()
    session.expire_all()
    lines = stored_lines(session, doc)
    expected = recomputed(doc, lines, minor_unit=0)
    # 3 × 1,250 − 10 % = 3,375 + 5 % (169) = 3,544; 2 × 333 − 66 = 600 + 5 % (30) + 2.5 % (15) = 645
    assert [(x.line_total, x.discount, x.net, x.tax, x.total) for x in lines] == [
        (D("3750"), D("375"), D("3375"), D("169"), D("3544")), (D("666"), D("66"), D("600"), D("45"), D("645"))]
    assert [(x.line_total, x.discount, x.net, x.tax, x.total) for x in expected.lines] == [
        (x.line_total, x.discount, x.net, x.tax, x.total) for x in lines]
    assert (doc.subtotal, doc.grand_total, doc.tax_total, doc.pre_tax_total) == (
        expected.subtotal, expected.grand_total, expected.tax_total, expected.pre_tax_total)
    assert doc.grand_total == D("4189")
    assert [t["name"] for t in doc.taxes] == ["VAT 營業稅", "Local"]
    assert getattr(doc, registry.get(module).number_field) == f"{registry.get(module).prefix}1"
    assert doc.status == "Created" and doc.currency_id == shop.twd.id and doc.conversion_rate == 1
    assert doc.bill_city == "台北市"  # copied from the account
    assert lines[1].comment == "rush" and lines[0].description == "Widget 小工具"
    created = session.scalars(select(AuditEntry).where(AuditEntry.module == module)).one()
    assert created.action == "create" and created.changes["lines"][1][0].startswith(shop.widget.product_no)
    assert [h.number for h in search(session, "辦公室")] == [getattr(doc, registry.get(module).number_field)]


def test_group_mode_shipping_discount_and_adjustment(session: Session, shop: Shop) -> None:
    doc = documents.create(session, "quotes", header(
        shop, tax_mode="group", taxes=["vat 營業稅"], discount_percent="5", shipping_amount="150", adjustment="-3",
    ), two_lines(shop), ACTOR).document
    # subtotal 3,375 + 600 = 3,975; 5 % off = 198.75 → 199; 3,776 × 5 % = 188.8 → 189; shipping 150 + 7.5 → 8
    assert (doc.subtotal, doc.overall_discount, doc.shipping_tax, doc.tax_total) == (
        D("3975"), D("199"), D("8"), D("197"))
    assert doc.grand_total == D("4120")  # 3,975 − 199 + 150 + 8 + 189 − 3
    assert [(t["name"], t["amount"]) for t in doc.taxes] == [("VAT 營業稅", "189")]
    assert recomputed(doc, stored_lines(session, doc), 0).grand_total == doc.grand_total


def test_prices_including_tax_are_copied_from_the_company_setting(session: Session, shop: Shop) -> None:
    company.set_value(session, "prices_include_tax", "on")
    doc = invoice(session, shop, [{"product": "WID-1", "quantity": "1", "list_price": "1050"}])
    assert doc.prices_include_tax is True
    assert (doc.grand_total, doc.tax_total, doc.pre_tax_total) == (D("1050"), D("50"), D("1000"))
    company.set_value(session, "prices_include_tax", "off")
    assert documents.update(session, doc, {"subject": "Renamed"}, actor=ACTOR).document.grand_total == D("1050")


def test_a_price_comes_from_the_line_then_the_price_book_then_the_unit_price(session: Session, shop: Shop) -> None:
    doc = documents.create(session, "quotes", header(shop, price_book_id=shop.book.id), [
        {"product": "WID-1", "quantity": 1},  # in the book: 1,000
        {"product": "GAD-2", "quantity": 1},  # not in it: its unit price
        {"product": shop.widget.id, "quantity": 1, "list_price": "900"},  # given
    ], ACTOR).document
    assert [x.list_price for x in stored_lines(session, doc)] == [D("1000"), D("333"), D("900")]


def test_a_price_book_takes_its_currency_and_a_unit_price_is_converted(session: Session, shop: Shop) -> None:
    doc = documents.create(session, "quotes", header(shop, price_book_id=shop.usd_book.id), [
        {"product": "WID-1", "quantity": 1}, {"product": "GAD-2", "quantity": 3}], ACTOR).document
    assert doc.currency_id == shop.usd.id and doc.conversion_rate == D("32.5")
    # the book's US$40; the gadget's NT$333 is US$10.2461… at 32.5, kept to four places
    assert [x.list_price for x in stored_lines(session, doc)] == [D("40"), D("10.2462")]
    assert stored_lines(session, doc)[1].line_total == D("30.74")  # cents: 30.7386 → 30.74


def test_update_replaces_the_lines_and_keeps_the_document_current(session: Session, shop: Shop) -> None:
    doc = documents.create(session, "quotes", header(shop), two_lines(shop), ACTOR).document
    assert len(stored_lines(session, doc)) == 2
    documents.update(session, doc, {"subject": "Warehouse 倉庫"}, [{"product": "SVC-1", "quantity": "1.5"}], ACTOR)
    assert [(x.quantity, x.list_price, x.total) for x in stored_lines(session, doc)] == [(D("1.5"), D(2000), D(3150))]
    session.commit()
    lines = stored_lines(session, doc)
    assert [(x.quantity, x.list_price, x.total) for x in lines] == [(D("1.5"), D("2000"), D("3150"))]
    assert doc.grand_total == D("3150") and count(session, LineItem) == 1
    change = session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one().changes
    assert change["subject"] == ["Office fit-out 辦公室", "Warehouse 倉庫"]
    assert change["grand_total"] == ["4189", "3150"]
    assert len(change["lines"][0]) == 2 and len(change["lines"][1]) == 1
    assert [h.number for h in search(session, "倉庫")] == [doc.quote_no]


def test_resaving_an_unchanged_document_writes_nothing(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop)
    session.commit()
    audited, stamp, ids = count(session, AuditEntry), doc.updated_at, [x.id for x in stored_lines(session, doc)]
    documents.update(session, doc, {}, actor=ACTOR)
    documents.update(session, doc, {"subject": doc.subject}, two_lines(shop), ACTOR)
    session.commit()
    assert count(session, AuditEntry) == audited and doc.updated_at == stamp
    assert [x.id for x in stored_lines(session, doc)] == ids
    assert stock_of(session, shop.widget) == D("97")


def test_changing_the_currency_or_the_tax_mode(session: Session, shop: Shop) -> None:
    doc = documents.create(session, "quotes", header(shop), two_lines(shop), ACTOR).document
    with pytest.raises(ValidationError) as caught:
        documents.update(session, doc, {"currency": "USD"}, actor=ACTOR)
    assert caught.value.field == "currency" and doc.currency_id == shop.twd.id
    documents.update(session, doc, {"currency": "USD"}, [{"product": "WID-1", "quantity": 1, "list_price": "40"}],
                     ACTOR)
    assert (doc.currency_id, doc.conversion_rate, doc.grand_total) == (shop.usd.id, D("32.5"), D("42"))
    documents.update(session, doc, {"tax_mode": "group", "taxes": ["Local"]}, actor=ACTOR)
    assert ([t["name"] for t in doc.taxes], doc.grand_total) == (["Local"], D("41"))
    documents.update(session, doc, {"tax_mode": "individual"}, actor=ACTOR)  # the product's own taxes again
    assert ([t["name"] for t in doc.taxes], doc.grand_total) == (["VAT 營業稅"], D("42"))


def test_rates_stay_with_a_saved_document(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop)
    shop.vat.rate = D("10")
    documents.update(session, doc, {"subject": "Same lines"}, actor=ACTOR)
    assert doc.grand_total == D("4189")  # the rates it was saved with
    documents.update(session, doc, {}, two_lines(shop), ACTOR)
    assert doc.grand_total == D("4189") + D("169") + D("30")  # lines given again take today's rate


# -- conversions ------------------------------------------------------------------------------------------

def test_conversions_copy_lines_and_totals_and_link_the_documents(session: Session, shop: Shop) -> None:
    quote = documents.create(session, "quotes", header(shop, tax_mode="group", discount_amount="75",
                                                        shipping_amount="120"), two_lines(shop), ACTOR).document
    order = conversions.convert(session, quote, "sales_orders", ACTOR).document
    billed = conversions.convert(session, order, "invoices", ACTOR).document
    direct = conversions.convert(session, quote, "invoices", ACTOR).document
    session.commit()
    for copy in (order, billed, direct):
        assert (copy.subtotal, copy.overall_discount, copy.shipping_tax, copy.taxes, copy.grand_total) == (
            quote.subtotal, quote.overall_discount, quote.shipping_tax, quote.taxes, quote.grand_total)
        assert [(x.product_id, x.quantity, x.list_price, x.total) for x in stored_lines(session, copy)] == [
            (x.product_id, x.quantity, x.list_price, x.total) for x in stored_lines(session, quote)]
    assert quote.status == "Accepted" and order.quote_id == quote.id
    assert (billed.sales_order_id, billed.quote_id) == (order.id, quote.id) and direct.quote_id == quote.id
    assert billed.balance == billed.grand_total and billed.stock_deducted
    with pytest.raises(ValidationError) as caught:
        conversions.convert(session, billed, "sales_orders", ACTOR)
    assert caught.value.field == "to"


# -- payments ---------------------------------------------------------------------------------------------

def test_payments_bring_the_balance_to_zero_and_the_invoice_to_paid(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop)
    payments.add_payment(session, doc, {"paid_on": "2026-03-01", "amount": "1000", "method": "Cash"}, ACTOR)
    assert (doc.received, doc.balance, doc.status) == (D("1000"), D("3189"), "Created")
    with pytest.raises(ValidationError) as caught:
        payments.add_payment(session, doc, {"paid_on": "2026-03-02", "amount": "3190"}, ACTOR)
    assert caught.value.field == "amount" and "3,189" in caught.value.message
    payments.add_payment(session, doc, {"paid_on": "2026-03-05", "amount": "3189", "reference": "TX-9"}, ACTOR)
    session.commit()
    assert (doc.received, doc.balance, doc.status) == (D("4189"), D("0"), "Paid")
    assert session.scalar(select(func.sum(Payment.amount))) == D("4189")
    with pytest.raises(ValidationError) as caught:
        payments.add_payment(session, doc, {"paid_on": "2026-03-06", "amount": "1"}, ACTOR)
    assert caught.value.field == "amount"


@pytest.mark.parametrize(("values", "field"), [
    ({"paid_on": "2026-03-01", "amount": "0"}, "amount"),
    ({"paid_on": "2026-03-01", "amount": "10.5"}, "amount"),  # NT$ has no cents
    ({"paid_on": "2026-03-01"}, "amount"),
    ({"amount": "10"}, "paid_on"),
    ({"paid_on": "2026-03-01", "amount": "10", "method": "Barter"}, "method"),
    ({"paid_on": "2026-03-01", "amount": "10", "tip": "1"}, "tip"),
])
def test_bad_payments_name_their_field_and_write_nothing(session: Session, shop: Shop, values: dict[str, Any],
                                                         field: str) -> None:
    doc = invoice(session, shop)
    with pytest.raises(ValidationError) as caught:
        payments.add_payment(session, doc, values, ACTOR)
    assert caught.value.field == field
    assert count(session, Payment) == 0 and doc.received == 0


def test_a_cancelled_invoice_takes_no_payment(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop, status="Cancel")
    with pytest.raises(ValidationError) as caught:
        payments.add_payment(session, doc, {"paid_on": "2026-03-01", "amount": "10"}, ACTOR)
    assert caught.value.field == "status" and count(session, Payment) == 0


# -- stock ------------------------------------------------------------------------------------------------

def test_stock_follows_an_invoice_through_edit_cancel_bin_and_restore(session: Session, shop: Shop) -> None:
    lines = [{"product": "WID-1", "quantity": 3}, {"product": "SVC-1", "quantity": 2},
             {"product": "WID-1", "quantity": 1}]
    doc = invoice(session, shop, lines)
    assert (stock_of(session, shop.widget), doc.stock_deducted) == (D("96"), True)  # both widget lines
    assert stock_of(session, shop.install) is None  # a service has no stock
    documents.update(session, doc, {}, [{"product": "WID-1", "quantity": 10}, {"product": "GAD-2", "quantity": 2}],
                     ACTOR)
    assert (stock_of(session, shop.widget), stock_of(session, shop.gadget)) == (D("90"), D("8"))
    documents.update(session, doc, {"status": "Cancel"}, actor=ACTOR)
    assert (stock_of(session, shop.widget), stock_of(session, shop.gadget), doc.stock_deducted) == (
        D("100"), D("10"), False)
    documents.update(session, doc, {"status": "Approved"}, actor=ACTOR)
    assert (stock_of(session, shop.widget), stock_of(session, shop.gadget)) == (D("90"), D("8"))
    lifecycle.delete(session, doc, ACTOR)
    assert (stock_of(session, shop.widget), doc.stock_deducted) == (D("100"), False)
    lifecycle.restore(session, doc, ACTOR)
    assert (stock_of(session, shop.widget), doc.stock_deducted) == (D("90"), True)
    session.commit()
    reasons = [e.changes["reason"] for e in session.scalars(
        select(AuditEntry).where(AuditEntry.module == "products", AuditEntry.record_id == shop.widget.id)
        .order_by(AuditEntry.id))]
    assert reasons == ["INV1 saved", "INV1 changed", "INV1 cancelled", "INV1 un-cancelled", "INV1 deleted",
                       "INV1 restored"]


def test_a_cancelled_invoice_in_the_bin_gives_nothing_back_twice(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop, status="Cancel")  # created cancelled: no deduction (Vtiger)
    assert (stock_of(session, shop.widget), doc.stock_deducted) == (D("100"), False)
    lifecycle.delete(session, doc, ACTOR)
    lifecycle.restore(session, doc, ACTOR)
    assert stock_of(session, shop.widget) == D("100")


def test_purging_binned_documents_takes_their_lines_and_payments(session: Session, shop: Shop) -> None:
    quote = documents.create(session, "quotes", header(shop), two_lines(shop), ACTOR).document
    order = conversions.convert(session, quote, "sales_orders", ACTOR).document
    doc = invoice(session, shop)
    payments.add_payment(session, doc, {"paid_on": "2026-03-01", "amount": "100"}, ACTOR)
    lifecycle.delete(session, doc, ACTOR)
    lifecycle.delete(session, quote, ACTOR)
    assert recycle_bin.purge_records(session, "invoices", [doc.id], ACTOR) == 1
    assert recycle_bin.purge_records(session, "quotes", [quote.id], ACTOR) == 1
    session.commit()
    assert count(session, Payment) == 0 and count(session, Invoice) == 0 and count(session, Quote) == 0
    session.refresh(order)
    assert count(session, LineItem) == 2 and order.quote_id is None  # the order keeps its own lines
    assert stock_of(session, shop.widget) == D("100")  # given back when binned, not again when purged


@pytest.mark.parametrize("module", ["quotes", "sales_orders"])
def test_quotes_and_orders_never_touch_stock(session: Session, shop: Shop, module: str) -> None:
    doc = documents.create(session, module, header(shop), two_lines(shop), ACTOR).document
    lifecycle.delete(session, doc, ACTOR)
    lifecycle.restore(session, doc, ACTOR)
    assert (stock_of(session, shop.widget), stock_of(session, shop.gadget)) == (D("100"), D("10"))


def test_negative_stock_is_allowed_with_a_warning_by_default(session: Session, shop: Shop) -> None:
    saved = documents.create(session, "invoices", header(shop), [{"product": "GAD-2", "quantity": 12}], ACTOR)
    assert stock_of(session, shop.gadget) == D("-2")
    assert [str(w) for w in saved.warnings] == [f"stock of {shop.gadget.product_no} Gadget is now -2, below zero"]


def test_negative_stock_refused_when_the_setting_is_off(session: Session, shop: Shop) -> None:
    company.set_value(session, "allow_negative_stock", "off")
    session.commit()
    with pytest.raises(ValidationError) as caught:
        documents.create(session, "invoices", header(shop), [
            {"product": "WID-1", "quantity": 1}, {"product": "GAD-2", "quantity": 12}], ACTOR)
    assert (caught.value.field, caught.value.row) == ("quantity", 2)
    assert "has 10 in stock" in caught.value.message
    assert count(session, Invoice) == 0 and count(session, LineItem) == 0
    assert stock_of(session, shop.widget) == D("100")
    doc = invoice(session, shop, [{"product": "GAD-2", "quantity": 10}])  # exactly what there is
    assert stock_of(session, shop.gadget) == 0
    documents.update(session, doc, {"status": "Cancel"}, actor=ACTOR)
    invoice(session, shop, [{"product": "GAD-2", "quantity": 4}])
    with pytest.raises(ValidationError):  # un-cancelling would take 10 of the 6 left
        documents.update(session, doc, {"status": "Created"}, actor=ACTOR)
    assert doc.status == "Cancel" and stock_of(session, shop.gadget) == D("6")
    live = invoice(session, shop, [{"product": "GAD-2", "quantity": 6}])
    lifecycle.delete(session, live, ACTOR)
    invoice(session, shop, [{"product": "GAD-2", "quantity": 1}])
    with pytest.raises(ValidationError) as caught:  # restoring would take 6 of the 5 left
        lifecycle.restore(session, live, ACTOR)
    assert caught.value.field == "quantity" and live.deleted_at is not None
    assert stock_of(session, shop.gadget) == D("5")


def test_adjust_stock_is_audited_with_its_reason_and_low_stock_lists_products(session: Session, shop: Shop) -> None:
    stock.adjust_stock(session, shop.gadget, "-4", "counted 倉庫", ACTOR)
    stock.adjust_stock(session, shop.widget, "-96", "broken", ACTOR)
    session.commit()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.record_id == shop.gadget.id,
                                                     AuditEntry.module == "products")).one()
    assert entry.changes == {"qty_in_stock": ["10.000", "6.000"], "reason": "counted 倉庫"}
    assert [p.product_code for p in session.scalars(stock.low_stock())] == ["GAD-2", "WID-1"]  # 6 of 20, 4 of 5
    for product, by, reason, field in ((shop.install, "1", "x", "product"), (shop.widget, "0", "x", "by"),
                                       (shop.widget, "1.2345", "x", "by"), (shop.widget, "3", " ", "reason")):
        with pytest.raises(ValidationError) as caught:
            stock.adjust_stock(session, product, by, reason, ACTOR)
        assert caught.value.field == field


# -- bad input --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lines", "field", "row"), [
    ([{"product": "WID-1", "quantity": "0"}], "quantity", 1),
    ([{"product": "WID-1", "quantity": 1}, {"product": "GAD-2", "quantity": "-2"}], "quantity", 2),
    ([{"product": "WID-1", "quantity": "1.0005"}], "quantity", 1),
    ([{"product": "WID-1", "quantity": 1}, {"product": "NOPE-9", "quantity": 1}], "product", 2),
    ([{"product": "PRO999", "quantity": 1}], "product", 1),
    ([{"product": "WID-1", "quantity": 1, "discount_kind": "percent", "discount_value": "100.5"}], "discount", 1),
    ([{"product": "GAD-2", "quantity": 1, "discount_kind": "amount", "discount_value": "334"}], "discount", 1),
    ([{"product": "WID-1", "quantity": 1, "discount_value": "5"}], "discount_kind", 1),
    ([{"product": "WID-1", "quantity": 1, "list_price": "-1"}], "list_price", 1),
    ([{"product": "WID-1", "quantity": 1, "colour": "red"}], "colour", 1),
    ([{"quantity": 1}], "product", 1),
    ([], "lines", None),
])
def test_bad_lines_name_the_field_and_line_and_write_nothing(session: Session, shop: Shop, lines: list[Any],
                                                              field: str, row: int | None) -> None:
    with pytest.raises(ValidationError) as caught:
        documents.create(session, "invoices", header(shop), lines, ACTOR)
    assert (caught.value.field, caught.value.row) == (field, row)
    assert count(session, Invoice) == 0 and count(session, LineItem) == 0 and count(session, AuditEntry) == 1
    assert stock_of(session, shop.widget) == D("100")


@pytest.mark.parametrize(("values", "field"), [
    ({"currency": "TWD", "price_book_id": "usd"}, "price_book_id"),
    ({"currency": "EUR", "price_book_id": "twd"}, "price_book_id"),
    ({"subject": " "}, "subject"),
    ({"status": "Shipped"}, "status"),
    ({"grand_total": "1"}, "grand_total"),
    ({"tax_mode": "flat"}, "tax_mode"),
    ({"taxes": ["VAT 營業稅"]}, "taxes"),  # group mode only
    ({"tax_mode": "group", "taxes": ["Sales tax"]}, "taxes"),
    ({"discount_percent": "5", "discount_amount": "5"}, "discount_amount"),
    ({"currency": "XXX"}, "currency"),
    ({"account_id": 999}, "account_id"),
])
def test_bad_header_values_name_their_field_and_write_nothing(session: Session, shop: Shop, values: dict[str, Any],
                                                               field: str) -> None:
    books = {"usd": shop.usd_book.id, "twd": shop.book.id}
    values = {k: books.get(v, v) if k == "price_book_id" else v for k, v in values.items()}
    with pytest.raises(ValidationError) as caught:
        documents.create(session, "quotes", header(shop, **values), two_lines(shop), ACTOR)
    assert caught.value.field == field
    assert count(session, Quote) == 0 and count(session, LineItem) == 0


def test_a_paid_or_cancelled_invoice_cannot_be_edited(session: Session, shop: Shop) -> None:
    paid = invoice(session, shop)
    payments.add_payment(session, paid, {"paid_on": "2026-03-01", "amount": "4189"}, ACTOR)
    cancelled = invoice(session, shop, status="Cancel")
    session.commit()
    audited = count(session, AuditEntry)
    for doc, values, lines in ((paid, {"subject": "x"}, None), (paid, {"status": "Cancel"}, None),
                               (paid, {}, [{"product": "WID-1", "quantity": 1}]),
                               (cancelled, {"subject": "x"}, None),
                               (cancelled, {"status": "Created", "terms": "net 30"}, None),
                               (cancelled, {}, [{"product": "WID-1", "quantity": 1}])):
        with pytest.raises(ValidationError) as caught:
            documents.update(session, doc, values, lines, ACTOR)
        assert caught.value.field == "status"
    session.rollback()
    assert count(session, AuditEntry) == audited
    documents.update(session, cancelled, {"status": "Created"}, actor=ACTOR)  # changing the status away is allowed
    assert cancelled.status == "Created" and cancelled.stock_deducted


def test_status_paid_cannot_be_typed_and_the_total_cannot_fall_below_payments(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop)
    with pytest.raises(ValidationError) as caught:
        documents.update(session, doc, {"status": "Paid"}, actor=ACTOR)
    assert caught.value.field == "status"
    payments.add_payment(session, doc, {"paid_on": "2026-03-01", "amount": "4000"}, ACTOR)
    with pytest.raises(ValidationError) as caught:
        documents.update(session, doc, {}, [{"product": "WID-1", "quantity": 1}], ACTOR)
    assert caught.value.field == "lines"
    documents.update(session, doc, {"adjustment": "-189"}, actor=ACTOR)  # now the payments cover it
    assert (doc.grand_total, doc.balance, doc.status) == (D("4000"), D("0"), "Paid")


# -- an account's transactions ----------------------------------------------------------------------------

def test_an_accounts_transactions_newest_first(session: Session, shop: Shop) -> None:
    quote = documents.create(session, "quotes", header(shop), two_lines(shop), ACTOR).document
    early = invoice(session, shop, [{"product": "WID-1", "quantity": 2}], invoice_date="2020-01-15")
    payments.add_payment(session, early, {"paid_on": "2020-02-01", "amount": "500", "method": "Cash"}, ACTOR)
    order = conversions.convert(session, quote, "sales_orders", ACTOR).document
    gone = invoice(session, shop, invoice_date="2021-01-01")
    lifecycle.delete(session, gone, ACTOR)
    session.commit()
    found = transactions.account_transactions(session, shop.account)
    assert [(t.kind, t.number) for t in found] == [
        ("sales_order", order.sales_order_no), ("quote", quote.quote_no), ("payment", early.invoice_no),
        ("invoice", early.invoice_no)]
    assert found[1].products[0].product_no == shop.widget.product_no and found[1].products[1].quantity == 2
    # 2 × 1,250 + 5 % − 500 due
    assert (found[2].amount, found[2].method, found[3].balance) == (D("500"), "Cash", D("2125"))


# -- many at once -----------------------------------------------------------------------------------------

def test_the_bulk_path_stores_what_one_save_at_a_time_stores(session: Session, shop: Shop) -> None:
    one = invoice(session, shop)
    batch = [
        bulk.NewDocument({"subject": "Bulk 大量", "account_id": shop.account.id, "invoice_date": dt.date(2025, 5, 1)},
                         [bulk.NewLine(shop.widget.id, D(3), None, "percent", D(10)),
                          bulk.NewLine(shop.gadget.id, D(2), None, "amount", D(66))],
                         [bulk.NewPayment(dt.date(2025, 5, 9), D("4189"), "Cash")]),
        bulk.NewDocument({"subject": "Bulk cancelled", "account_id": shop.account.id, "status": "Cancel",
                          "tax_mode": "group"}, [bulk.NewLine(shop.install.id, D("1.5"), D("1999.99"))]),
    ]
    ids = bulk.insert_documents(session, "invoices", batch, ACTOR)
    session.commit()
    session.expire_all()
    paid, cancelled = (session.get_one(Invoice, i) for i in ids)
    assert [x.total for x in stored_lines(session, paid)] == [x.total for x in stored_lines(session, one)]
    assert (paid.grand_total, paid.taxes, paid.status, paid.balance) == (one.grand_total, one.taxes, "Paid", D(0))
    assert paid.invoice_no == "INV2" and cancelled.invoice_no == "INV3"
    assert cancelled.grand_total == recomputed(cancelled, stored_lines(session, cancelled), 0).grand_total
    assert (cancelled.stock_deducted, paid.stock_deducted) == (False, True)
    assert stock_of(session, shop.widget) == D("94")  # one save and one bulk invoice took 3 each
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.module == "invoices", AuditEntry.action == "create")) == 3
    assert session.scalar(select(func.count()).select_from(SearchDocument)
                          .where(SearchDocument.module == "invoices")) == 3
    assert {h.number for h in search(session, "大量")} == {"INV2"}
    with pytest.raises(ValidationError) as caught:
        bulk.insert_documents(session, "invoices", [batch[1], bulk.NewDocument(
            {"subject": "x", "account_id": shop.account.id}, [bulk.NewLine(shop.widget.id, D(0))])], ACTOR)
    assert (caught.value.field, caught.value.row) == ("quantity", 2)


def test_sales_orders_and_quotes_load_in_bulk_too(session: Session, shop: Shop) -> None:
    ids = bulk.insert_documents(session, "sales_orders", [
        bulk.NewDocument({"subject": f"SO {n}", "account_id": shop.account.id}, [bulk.NewLine(shop.widget.id, D(n))])
        for n in range(1, 4)], ACTOR)
    assert [session.get_one(SalesOrder, i).grand_total for i in ids] == [D("1313"), D("2625"), D("3938")]
    assert stock_of(session, shop.widget) == D("100")
