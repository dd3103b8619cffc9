"""Quotes, sales orders and invoices in the staff web app (SQLite and PostgreSQL, the real app and store): lists and
pages within scope, the line editor (the store's totals on the unsaved form, errors on their line, nothing
written), one-click conversions, payments with the balance, the printable page, the audited PDF and sending.

Pages are parsed (`tests/staff_support.py`); what a request did is read back from the database.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Activity, AuditEntry, Contact, Invoice, OutboxMessage, Payment, Quote, SalesOrder
from crm_store.records import lifecycle
from crm_store.sales import documents

from .sales_support import Shop, count, make_shop, two_lines
from .staff_support import Page
from .test_staff_records import Crew, make_crew, signed_in


@pytest.fixture
def crew(session: Session) -> Crew:
    return make_crew(session)


@pytest.fixture
def shop(session: Session, crew: Crew) -> Shop:
    """The sales tests' shop; its account is the rep's, with a contact who has an email address."""
    made = make_shop(session)
    made.account.owner_id = crew.ids["rep"]
    session.commit()
    return made


def contact_of(session: Session, crew: Crew, shop: Shop) -> int:
    contact = lifecycle.create(session, "contacts", {
        "last_name": "陳", "first_name": "美玲", "email": "mei@example.test", "account_id": shop.account.id,
        "owner_id": crew.ids["rep"]})
    session.commit()
    return int(contact.id)


def quote_of(session: Session, crew: Crew, shop: Shop, who: str = "rep", contact_id: int | None = None) -> str:
    """A quote of the shop's two lines owned by `who` (a crew key); its number."""
    values: dict[str, Any] = {"subject": "Widgets for Taipei", "account_id": shop.account.id,
                              "owner_id": crew.ids[who], "contact_id": contact_id}
    saved = documents.create(session, "quotes", values, two_lines(shop), Actor.user(crew.ids[who]))
    number = str(saved.document.quote_no)
    session.commit()
    return number


def editor_form(shop: Shop, crew: Crew, **changes: Any) -> dict[str, Any]:
    """The new-quote form as the editor posts it: two lines typed by code and number, a spare empty one."""
    form = {
        "subject": "Phone order", "account_id": str(shop.account.id), "contact_id": "", "status": "Created",
        "owner_id": str(crew.ids["rep"]), "valid_till": "", "price_book_id": "", "tax_mode": "individual",
        "terms": "", "description": "",
        "lines-0-product": "WID-1", "lines-0-quantity": "3", "lines-0-list_price": "",
        "lines-0-discount_kind": "percent", "lines-0-discount_value": "10", "lines-0-comment": "",
        "lines-1-product": shop.gadget.product_no, "lines-1-quantity": "2", "lines-1-list_price": "",
        "lines-1-discount_kind": "amount", "lines-1-discount_value": "66", "lines-1-comment": "rush",
        "lines-2-product": "", "lines-2-quantity": "", "lines-2-list_price": "", "lines-2-discount_kind": "",
        "lines-2-discount_value": "", "lines-2-comment": "",
    }
    return form | changes


def counted(session: Session, model: Any) -> int:
    """How many rows `model` has (the test's transaction ended after: the app writes next, on SQLite too)."""
    found = count(session, model)
    session.rollback()
    return found


def expected_total(session: Session, shop: Shop) -> str:
    """The grand total the store computes for the two lines, as the page shows it (NT$…)."""
    clean, draft = documents.prepare(session, "quotes", {"subject": "x", "account_id": shop.account.id},
                                     two_lines(shop))
    total = documents.compute_totals(session, clean, draft).grand_total
    session.rollback()
    return f"NT${total:,.0f}"


def grand_total(page: Page) -> str:
    return page.find("dd", **{"data-grand-total": ""}).text.strip()


def test_lists_and_pages_hold_what_the_reader_may_see(app: Any, client: Any, session: Session, crew: Crew,
                                                      shop: Shop) -> None:
    mine = quote_of(session, crew, shop, "rep")
    theirs = quote_of(session, crew, shop, "rep_c")
    rep = signed_in(client, crew, "rep")
    listed = rep.get("/quotes")
    assert rep.status == 200
    numbers = [e.text.strip() for e in listed.all(class_="table__sub")]
    assert mine in numbers and theirs not in numbers
    page = rep.get(f"/quotes/{mine}")
    assert rep.status == 200 and page.find("h1").text.strip() == "Widgets for Taipei"
    assert grand_total(page) == expected_total(session, shop)
    for where in (f"/quotes/{theirs}", f"/quotes/{theirs}/edit", f"/quotes/{theirs}/print", f"/quotes/{theirs}/pdf",
                  f"/quotes/{theirs}/send", "/quotes/QUO999999", f"/invoices/{mine}"):
        rep.get(where)
        assert rep.status == 404, where
    admin = signed_in(app.test_client(), crew, "admin")
    assert admin.get(f"/quotes/{theirs}") and admin.status == 200
    assert {"/quotes", "/sales-orders", "/invoices"} <= {a.attrs.get("href") for a in admin.get("/").all("a")}


def test_signed_out_is_sent_to_sign_in(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    number = quote_of(session, crew, shop)
    for where in ("/quotes", "/invoices/new", f"/quotes/{number}", f"/quotes/{number}/pdf", "/sales/products?q=w"):
        answer = client.get(where)
        assert answer.status_code in (302, 303) and "/auth/sign-in" in answer.headers["Location"], where


def test_recalculate_shows_the_stores_totals_and_writes_nothing(client: Any, session: Session, crew: Crew,
                                                                shop: Shop) -> None:
    rep = signed_in(client, crew, "rep")
    rep.get("/quotes/new")
    assert rep.status == 200
    page = rep.post("/quotes/new", editor_form(shop, crew, recalculate="1"))
    assert rep.status == 200
    assert grand_total(page) == expected_total(session, shop)
    rows = page.find("table", class_="totals-lines").find("tbody").all("tr")
    assert [row.all("td")[0].text.strip() for row in rows] == ["Widget 小工具", "Gadget"]
    assert counted(session, Quote) == 0
    token = page.csrf()
    fragment = rep.post("/quotes/totals", editor_form(shop, crew, **{"lines-0-quantity": "4"}))
    assert rep.status == 200 and "<html" not in rep.response.get_data(as_text=True)
    assert grand_total(fragment) != grand_total(page)
    wrong = rep.post("/quotes/totals", editor_form(shop, crew, **{"lines-1-quantity": "0"}) | {"csrf_token": token})
    assert wrong.find("p", class_="totals__error").text.strip() == (
        "The totals wait for this: Line 2, Quantity: must be more than zero")
    assert not wrong.all("dd", **{"data-grand-total": ""})
    rep.post("/quotes/totals", editor_form(shop, crew), csrf=False)
    assert rep.status == 400
    assert counted(session, Quote) == 0


def test_add_a_line_without_script_keeps_what_was_typed(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    rep = signed_in(client, crew, "rep")
    rep.get("/quotes/new")
    page = rep.post("/quotes/new", editor_form(shop, crew, add_line="1"))
    assert len(page.all("tr", class_="lines__row")) == 4
    assert page.find("input", name="lines-0-product").attrs["value"] == "WID-1"
    assert counted(session, Quote) == 0


def test_save_creates_the_quote_with_its_lines(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    rep = signed_in(client, crew, "rep")
    rep.get("/quotes/new")
    rep.post("/quotes/new", editor_form(shop, crew, save="1"))
    assert rep.status == 303
    quote = session.scalars(select(Quote)).one()
    assert rep.location.endswith(f"/quotes/{quote.quote_no}")
    assert (quote.subject, quote.owner_id, f"NT${quote.grand_total:,.0f}") == (
        "Phone order", crew.ids["rep"], expected_total(session, shop))
    lines = documents.lines_of(session, quote)
    assert [(p.product_code, item.quantity, item.comment) for item, p in lines] == [
        ("WID-1", D(3), None), ("GAD-2", D(2), "rush")]


@pytest.mark.parametrize(("changes", "field_id", "message"), [
    ({"lines-1-quantity": "0"}, "lines-1-quantity", "must be more than zero"),
    ({"lines-1-product": "NOPE-9"}, "lines-1-product", "no product 'NOPE-9'"),
    ({"lines-0-discount_value": "120"}, "lines-0-discount_value", "must be a percent from 0 to 100"),
    ({"subject": ""}, "subject", "This field is required."),
])
def test_a_bad_line_is_named_beside_its_field_and_nothing_is_written(
    client: Any, session: Session, crew: Crew, shop: Shop, changes: dict[str, str], field_id: str, message: str,
) -> None:
    rep = signed_in(client, crew, "rep")
    rep.get("/quotes/new")
    page = rep.post("/quotes/new", editor_form(shop, crew, save="1", **changes))
    assert rep.status == 422
    assert message in page.field_error(field_id), [e.text for e in page.all(class_="field__error")]
    assert counted(session, Quote) == 0


def test_a_rep_cannot_make_a_quote_for_an_account_they_do_not_see(client: Any, session: Session, crew: Crew,
                                                                  shop: Shop) -> None:
    shop.account.owner_id = crew.ids["rep_c"]
    session.commit()
    rep = signed_in(client, crew, "rep")
    rep.get("/quotes/new")
    page = rep.post("/quotes/new", editor_form(shop, crew, save="1"))
    assert rep.status == 422 and page.field_error("account_id") == "Choose one from the list."
    assert counted(session, Quote) == 0


def test_edit_replaces_the_lines(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    number = quote_of(session, crew, shop)
    rep = signed_in(client, crew, "rep")
    page = rep.get(f"/quotes/{number}/edit")
    assert page.find("input", name="lines-0-product").attrs["value"] == "WID-1"
    form = editor_form(shop, crew, subject="Widgets for Taipei", save="1", **{"lines-0-quantity": "5"})
    rep.post(f"/quotes/{number}/edit", form | {"number": number})
    assert rep.status == 303
    quote = session.scalars(select(Quote)).one()
    assert [item.quantity for item, _p in documents.lines_of(session, quote)] == [D(5), D(2)]


def test_product_suggestions_find_names_and_codes(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    shop.gadget.active = False
    session.commit()
    rep = signed_in(client, crew, "rep")
    found = rep.get("/sales/products?q=小工具")
    assert [b.attrs["data-product"] for b in found.all("button")] == ["WID-1"]
    assert [b.attrs["data-product"] for b in rep.get("/sales/products?q=gad").all("button")] == []
    assert [b.attrs["data-product"] for b in rep.get("/sales/products?q=svc").all("button")] == ["SVC-1"]


def test_convert_quote_to_invoice_then_pay_part_of_it(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    number = quote_of(session, crew, shop)
    rep = signed_in(client, crew, "rep")
    rep.get(f"/quotes/{number}")
    rep.post(f"/quotes/{number}/convert", {"to": "invoices"})
    assert rep.status == 303
    invoice = session.scalars(select(Invoice)).one()
    total, invoice_no = invoice.grand_total, invoice.invoice_no
    session.rollback()
    assert rep.location.endswith(f"/invoices/{invoice_no}")
    assert session.scalars(select(Quote)).one().status == "Accepted"
    session.rollback()
    rep.get(f"/invoices/{invoice_no}")
    rep.post(f"/invoices/{invoice_no}/payments", {"paid_on": "2026-12-01", "amount": "1000", "method": "Cash",
                                                  "reference": "r-1"})
    assert rep.status == 303
    page = rep.get(f"/invoices/{invoice_no}")
    assert page.find("dd", **{"data-balance": ""}).text.strip() == f"NT${total - 1000:,.0f}"
    over = rep.post(f"/invoices/{invoice_no}/payments", {"paid_on": "2026-12-02", "amount": str(total)})
    assert rep.status == 422 and "is more than the balance" in over.field_error("amount")
    assert counted(session, Payment) == 1
    rep.get(f"/invoices/{invoice_no}")
    rep.post(f"/invoices/{invoice_no}/payments", {"paid_on": "2026-12-03", "amount": str(total - 1000)})
    assert session.scalars(select(Invoice)).one().status == "Paid"
    session.rollback()


def test_convert_needs_a_target_the_document_has_and_the_token(client: Any, session: Session, crew: Crew,
                                                              shop: Shop) -> None:
    number = quote_of(session, crew, shop)
    rep = signed_in(client, crew, "rep")
    rep.get(f"/quotes/{number}")
    rep.post(f"/quotes/{number}/convert", {"to": "quotes"})
    assert rep.status == 400
    rep.post(f"/quotes/{number}/convert", {"to": "sales_orders"}, csrf=False)
    assert rep.status == 400
    assert counted(session, SalesOrder) == 0
    other = quote_of(session, crew, shop, "rep_c")
    rep.get(f"/quotes/{number}")
    rep.post(f"/quotes/{other}/convert", {"to": "sales_orders"})
    assert rep.status == 404 and counted(session, SalesOrder) == 0


def test_print_and_the_audited_pdf(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    number = quote_of(session, crew, shop)
    rep = signed_in(client, crew, "rep")
    printed = rep.get(f"/quotes/{number}/print")
    assert rep.status == 200 and number in printed.text and "台北貿易股份有限公司" in printed.text
    with client.get(f"/quotes/{number}/pdf") as answer:
        body = answer.get_data()
    assert answer.status_code == 200 and answer.mimetype == "application/pdf" and body.startswith(b"%PDF")
    assert f"{number}.pdf" in answer.headers["Content-Disposition"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "download")).one()
    assert (entry.module, entry.record_no, entry.user_id) == ("quotes", number, crew.ids["rep"])
    session.rollback()


def test_send_shows_the_recipient_then_queues_the_pdf(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    contact_id = contact_of(session, crew, shop)
    number = quote_of(session, crew, shop, contact_id=contact_id)
    rep = signed_in(client, crew, "rep")
    page = rep.get(f"/quotes/{number}/send")
    assert "mei@example.test" in page.find("p", class_="send__to").text
    assert counted(session, OutboxMessage) == 0
    rep.post(f"/quotes/{number}/send", {"to": ""})
    assert rep.status == 303
    message = session.scalars(select(OutboxMessage)).one()
    assert message.recipient == "mei@example.test" and message.template == "sales_document"
    assert [a["filename"] for a in message.attachments] == [f"{number}.pdf"]
    assert session.scalars(select(Activity).where(Activity.type == "email")).one().contact_id == contact_id
    session.rollback()


def test_send_without_a_contact_asks_for_an_address(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    number = quote_of(session, crew, shop)
    rep = signed_in(client, crew, "rep")
    rep.get(f"/quotes/{number}/send")
    page = rep.post(f"/quotes/{number}/send", {"to": ""})
    assert rep.status == 422 and "give the address to send it to" in page.field_error("to")
    assert counted(session, OutboxMessage) == 0 and counted(session, Contact) == 0


def form_of(page: Page) -> dict[str, str]:
    """The editor's form as a browser would post it, from the page as drawn (every input, select and text area)."""
    form = page.find("form", class_="editor")
    values: dict[str, str] = {}
    for element in form.all():
        name = element.attrs.get("name")
        if not name or element.attrs.get("type") in ("submit", "button"):
            continue
        if element.tag == "input":
            values[name] = element.attrs.get("value", "")
        elif element.tag == "select":
            options = element.all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            values[name] = chosen[0].attrs.get("value", "") if chosen else ""
        elif element.tag == "textarea":
            values[name] = "".join(element.parts).lstrip("\n")
    return values


def updates_of(session: Session, module: str) -> list[Any]:
    """What the audit trail holds of the changes to `module`'s records (nothing for a save that changed nothing)."""
    return [e.changes for e in session.scalars(select(AuditEntry).where(
        AuditEntry.action == "update", AuditEntry.module == module))]


def charged_invoice(session: Session, crew: Crew, shop: Shop) -> tuple[str, D]:
    """An invoice of the two lines with 5 % off overall, NT$300 shipping (taxed) and −NT$15 adjustment."""
    values = {"subject": "Charges", "account_id": shop.account.id, "owner_id": crew.ids["rep"],
              "discount_percent": "5", "shipping_amount": "300", "adjustment": "-15"}
    saved = documents.create(session, "invoices", values, two_lines(shop), Actor.user(crew.ids["rep"]))
    number, total = str(saved.document.invoice_no), saved.document.grand_total
    session.commit()
    return number, total


def test_saving_an_edited_document_unchanged_keeps_its_discount_shipping_and_adjustment(
    client: Any, session: Session, crew: Crew, shop: Shop,
) -> None:
    number, total = charged_invoice(session, crew, shop)
    invoice = session.scalars(select(Invoice)).one()
    kept = (invoice.discount_percent, invoice.discount_amount, invoice.shipping_amount, invoice.shipping_tax,
            invoice.adjustment, invoice.overall_discount)
    assert invoice.overall_discount and invoice.shipping_tax and invoice.adjustment == D(-15)
    session.rollback()
    rep = signed_in(client, crew, "rep")
    page = rep.get(f"/invoices/{number}/edit")
    assert grand_total(page) == f"NT${total:,.0f}"
    form = form_of(page)
    assert (form["discount_percent"], form["discount_amount"], form["shipping_amount"], form["adjustment"]) == (
        "5", "", "300", "-15")
    rep.post(f"/invoices/{number}/edit", form | {"save": "1"})
    assert rep.status == 303
    invoice = session.scalars(select(Invoice)).one()
    assert invoice.grand_total == total
    assert (invoice.discount_percent, invoice.discount_amount, invoice.shipping_amount, invoice.shipping_tax,
            invoice.adjustment, invoice.overall_discount) == kept
    assert not updates_of(session, "invoices")
    session.rollback()


def test_changing_shipping_in_the_editor_changes_the_totals_as_the_store_computes_them(
    client: Any, session: Session, crew: Crew, shop: Shop,
) -> None:
    number, total = charged_invoice(session, crew, shop)
    rep = signed_in(client, crew, "rep")
    form = form_of(rep.get(f"/invoices/{number}/edit"))
    fragment = rep.post("/invoices/totals", form | {"shipping_amount": "500"})
    assert rep.status == 200
    values = {"subject": "x", "account_id": shop.account.id, "discount_percent": "5", "shipping_amount": "500",
              "adjustment": "-15"}
    clean, draft = documents.prepare(session, "invoices", values, two_lines(shop))
    expected = documents.compute_totals(session, clean, draft)
    session.rollback()
    assert expected.shipping_tax == D(25) and expected.grand_total != total
    assert grand_total(fragment) == f"NT${expected.grand_total:,.0f}"
    rows = {row.find("dt").text: row.find("dd").text for row in fragment.all("div", class_="totals__row")}
    assert rows["Shipping & handling"] == "NT$500" and rows["Tax on shipping"] == "NT$25"
    assert rows["Adjustment"] == "-NT$15"
    plain = rep.post("/invoices/totals", form | {"shipping_amount": "", "discount_percent": "", "adjustment": ""})
    clean, draft = documents.prepare(session, "invoices", {"subject": "x", "account_id": shop.account.id},
                                     two_lines(shop))
    assert grand_total(plain) == f"NT${documents.compute_totals(session, clean, draft).grand_total:,.0f}"
    session.rollback()
    assert counted(session, Invoice) == 1 and not updates_of(session, "invoices")


@pytest.mark.parametrize(("changes", "field_id", "message"), [
    ({"shipping_amount": "-1"}, "shipping_amount", "must not be negative"),
    ({"discount_percent": "", "discount_amount": "99999"}, "discount_amount", "is more than the subtotal"),
    ({"discount_amount": "10"}, "discount_amount", "give a discount as a percent or as an amount, not both"),
    ({"discount_percent": "120"}, "discount_percent", "must be a percent from 0 to 100"),
    ({"shipping_amount": "lots"}, "shipping_amount", "is not a number"),
    ({"adjustment": "ten"}, "adjustment", "is not a number"),
    ({"adjustment": "-99999"}, "adjustment", "would make the grand total negative"),
])
def test_a_bad_charge_is_named_beside_its_field_and_nothing_is_written(
    client: Any, session: Session, crew: Crew, shop: Shop, changes: dict[str, str], field_id: str, message: str,
) -> None:
    number, total = charged_invoice(session, crew, shop)
    rep = signed_in(client, crew, "rep")
    form = form_of(rep.get(f"/invoices/{number}/edit"))
    page = rep.post(f"/invoices/{number}/edit", form | changes | {"save": "1"})
    assert rep.status == 422
    assert message in page.field_error(field_id), [e.text for e in page.all(class_="field__error")]
    assert session.scalars(select(Invoice)).one().grand_total == total
    assert not updates_of(session, "invoices")
    session.rollback()
    rep.get("/quotes/new")
    page = rep.post("/quotes/new", editor_form(shop, crew, save="1", discount_percent="5") | changes)
    assert rep.status == 422 and message in page.field_error(field_id)
    assert counted(session, Quote) == 0
