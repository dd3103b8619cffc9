"""The list tools of the quotes, sales orders, invoices and products lists through the real app (SQLite and
PostgreSQL): saved filters per user, the filtered list as CSV (every page, within scope, audited), bulk actions on
the selected documents (scope re-checked for every id, all or nothing; invoices one save each); and the catalogue
(products, price books) found by every user from the header's search.

Pages are parsed (`tests/staff_support.py`); what a click did is read back from the database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import Invoice, Product, Quote, SavedFilter, SearchDocument, User
from crm_store.records import export, saved_filters
from crm_store.sales import documents, price_books
from crm_store.search import query

from .sales_support import Shop, make_shop, two_lines
from .test_staff_list_tools import BOM, audit_rows, parse_csv
from .test_staff_records import Crew, make_crew, signed_in

HEADERS = {
    "quotes": ["Number", "Subject", "Account", "Status", "Valid till", "Grand total", "Currency", "Assigned to",
               "Created"],
    "invoices": ["Number", "Subject", "Account", "Status", "Invoice date", "Grand total", "Balance", "Currency",
                 "Assigned to", "Created"],
}


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; the manager "Boss"; rep (Rep A, Boss's report) and rep_b in the team North; rep_c on their own."""
    return make_crew(session)


@pytest.fixture
def shop(session: Session, crew: Crew) -> Shop:
    return make_shop(session)


def document(session: Session, crew: Crew, shop: Shop, module: str, who: str, subject: str, **values: Any) -> int:
    """A document of the shop's two lines owned by `who` (a crew key), committed; its id."""
    if module == "invoices":
        values.setdefault("invoice_date", dt.date(2026, 4, 1))
    saved = documents.create(session, module, {"subject": subject, "account_id": shop.account.id,
                                               "owner_id": crew.ids[who], **values},
                             two_lines(shop), Actor.user(crew.ids[who]))
    record_id = int(saved.document.id)
    session.commit()
    return record_id


def subjects(page: Any) -> list[str]:
    """The subjects in a sales list's rows."""
    return [r.find("td").find("a").text for r in page.all("tr") if r.all("td")]


def hidden_params(form: Any) -> dict[str, str]:
    return {i.attrs["name"]: i.attrs["value"] for i in form.all("input", type="hidden")
            if i.attrs["name"] != "csrf_token"}


# -- quotes, sales orders, invoices ---------------------------------------------------------------------------

def test_a_rep_saves_renames_and_deletes_a_filter_of_quotes(app: Any, client: Any, session: Session, crew: Crew,
                                                            shop: Shop) -> None:
    document(session, crew, shop, "quotes", "rep", "Accepted one", status="Accepted")
    document(session, crew, shop, "quotes", "rep", "Open one")
    document(session, crew, shop, "quotes", "rep_c", "Theirs", status="Accepted")
    staff = signed_in(client, crew, "rep")
    page = staff.get("/quotes")
    assert sorted(subjects(page)) == ["Accepted one", "Open one"]
    assert not page.all("form", action="/quotes/filters")  # nothing to save without a filter
    statuses = [o.attrs["value"] for o in page.find("select", name="status").all("option")]
    assert statuses == ["", "Created", "Delivered", "Reviewed", "Accepted", "Rejected"]
    page = staff.get("/quotes?owner=me&status=Accepted")
    assert subjects(page) == ["Accepted one"]
    form = page.find("form", action="/quotes/filters")
    assert hidden_params(form) == {"status": "Accepted", "owner": "me"}

    staff.post("/quotes/filters", {**hidden_params(form), "name": "My accepted quotes"})
    assert staff.status == 303
    kept = session.scalars(select(SavedFilter)).one()
    assert (kept.user_id, kept.module, kept.params) == (crew.ids["rep"], "quotes",
                                                        {"status": "Accepted", "owner": "me"})
    filter_id = kept.id
    session.rollback()
    assert staff.location == f"/quotes?owner=me&status=Accepted&saved={filter_id}"
    page = staff.get(staff.location)
    assert page.flashes() == ["Saved the filter “My accepted quotes”."]
    assert "selected" in page.find("select", name="saved").find("option", value=str(filter_id)).attrs

    staff.get(f"/quotes?saved={filter_id}")  # the picker opens it with its filter
    assert staff.status == 303 and staff.location == f"/quotes?owner=me&status=Accepted&saved={filter_id}"
    assert subjects(staff.get(staff.location)) == ["Accepted one"]
    staff.get(f"/invoices?saved={filter_id}")  # a filter of another list
    assert staff.status == 404

    staff.post(f"/quotes/filters/{filter_id}/rename", {"name": "Won"})
    assert staff.status == 303
    assert staff.get(staff.location).flashes() == ["The filter is now called “Won”."]
    staff.post(f"/quotes/filters/{filter_id}/delete", {})
    assert staff.status == 303 and staff.location == "/quotes?owner=me&status=Accepted"
    assert staff.get(staff.location).flashes() == ["Deleted the saved filter “Won”."]
    assert session.scalars(select(SavedFilter)).all() == []
    session.rollback()

    other = signed_in(app.test_client(), crew, "rep_b")
    theirs = saved_filters.save(session, session.get_one(User, crew.ids["rep"]), "invoices", "Mine", {"owner": "me"})
    session.commit()
    other.get(f"/invoices?saved={theirs.id}")
    assert other.status == 404  # another user's saved filter is not found
    other.post(f"/invoices/filters/{theirs.id}/delete", {})
    assert other.status == 404


def test_export_writes_every_page_of_the_filtered_invoices_the_user_sees(app: Any, client: Any, session: Session,
                                                                         crew: Crew, shop: Shop,
                                                                         monkeypatch: Any) -> None:
    monkeypatch.setattr("webform.staff.sales_documents.routes.PAGE_SIZE", 2)
    monkeypatch.setattr(export, "CHUNK_ROWS", 2)  # the export streams in several chunks
    for subject in ("=HYPERLINK(1)", "Second", "Third"):
        document(session, crew, shop, "invoices", "rep", subject)
    document(session, crew, shop, "invoices", "rep_c", "Not the rep's")
    staff = signed_in(client, crew, "rep")
    page = staff.get("/invoices?owner=me")
    assert len(subjects(page)) == 2  # the page shows two
    link = page.find("a", download="")
    assert link.attrs["href"] == "/invoices/export.csv?owner=me" and link.text == "Export CSV"

    response = client.get(link.attrs["href"])
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="invoices-')
    table = parse_csv(response.get_data())
    assert table[0] == HEADERS["invoices"]
    assert sorted(row[1] for row in table[1:]) == ["'=HYPERLINK(1)", "Second", "Third"]
    grand = session.scalars(select(Invoice.grand_total).where(Invoice.subject == "Second")).one()
    session.rollback()
    second = next(row for row in table[1:] if row[1] == "Second")
    assert second[0].startswith("INV") and second[2] == "台北貿易股份有限公司" and second[3] == "Created"
    assert second[4] == "2026-04-01" and second[5] == second[6] == f"{grand:.2f}" and second[7:9] == ["TWD", "Rep A"]
    logged = audit_rows(session, "export", "invoices")
    assert [(e.user_id, e.record_id, e.changes) for e in logged] == [
        (crew.ids["rep"], 0, {"filter": {"owner": "me"}, "rows": 3})]

    admin = app.test_client()
    signed_in(admin, crew, "admin")
    table = parse_csv(admin.get("/invoices/export.csv").get_data())
    assert len(table) == 5  # the admin sees every invoice


def test_sales_orders_and_quotes_export_in_chinese(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    session.get_one(User, crew.ids["rep"]).language = "zh_Hant"
    session.commit()
    document(session, crew, shop, "quotes", "rep", "報價")
    document(session, crew, shop, "sales_orders", "rep", "訂單")
    signed_in(client, crew, "rep")
    table = parse_csv(client.get("/quotes/export.csv").get_data())
    assert table[0] == [languages.translate("zh_Hant", label) for label in HEADERS["quotes"]]
    assert table[0][0] == "編號" and table[0][1] != "Subject" and table[0][4] != "Valid till"
    assert [row[1] for row in table[1:]] == ["報價"]
    response = client.get("/sales-orders/export.csv")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="sales-orders-')
    assert [row[1] for row in parse_csv(response.get_data())[1:]] == ["訂單"]
    assert [e.module for e in audit_rows(session, "export", "sales_orders")] == ["sales_orders"]


def test_a_manager_reassigns_and_a_rep_changes_the_status_of_selected_quotes(app: Any, client: Any, session: Session,
                                                                             crew: Crew, shop: Shop) -> None:
    ids = [document(session, crew, shop, "quotes", "rep", name) for name in ("Able", "Baker")]
    other = document(session, crew, shop, "quotes", "rep_c", "Other")
    staff = signed_in(client, crew, "manager")
    page = staff.get("/quotes")
    boxes = page.all("input", name="ids")
    assert sorted(int(b.attrs["value"]) for b in boxes) == sorted(ids)  # rep_c's is not the manager's to see
    bar = page.by_id("bulk-form")
    assert bar.attrs["action"] == "/quotes/bulk"
    assert [b.attrs["value"] for b in bar.all("button", name="action")] == ["reassign", "status", "delete"]
    assert "Accepted" in [o.attrs["value"] for o in bar.find("select", name="status").all("option")]
    staff.post("/quotes/bulk", {"action": "reassign", "owner_id": str(crew.ids["manager"]), "ids": ids,
                                "next": "/quotes?owner=me"})
    assert staff.status == 303 and staff.location == "/quotes?owner=me"
    assert staff.get(staff.location).flashes() == ["2 quotes are now assigned to Boss."]
    assert session.scalars(select(Quote.owner_id).where(Quote.id.in_(ids))).all() == [crew.ids["manager"]] * 2
    session.rollback()
    assert sorted(e.record_id for e in audit_rows(session, "assign", "quotes")) == sorted(ids)

    rep = signed_in(app.test_client(), crew, "rep_c")
    rep.get("/quotes")
    rep.post("/quotes/bulk", {"action": "status", "status": "Accepted", "ids": [other, ids[0]]})  # one not theirs
    assert rep.get(rep.location).flashes() == [
        "Nothing was changed: 1 of the selected records are gone or not yours to change"]
    rep.post("/quotes/bulk", {"action": "status", "status": "Accepted", "ids": [other]})
    assert rep.get(rep.location).flashes() == ["1 quote now has the status Accepted."]
    assert session.scalars(select(Quote.status).where(Quote.id == other)).one() == "Accepted"
    assert session.scalars(select(Quote.status).where(Quote.id.in_(ids))).all() == ["Created", "Created"]
    session.rollback()


def test_invoices_deleted_in_bulk_give_their_stock_back_and_wait_in_the_recycle_bin(
    client: Any, session: Session, crew: Crew, shop: Shop
) -> None:
    ids = [document(session, crew, shop, "invoices", "rep", name) for name in ("First", "Second")]
    kept = document(session, crew, shop, "invoices", "rep", "Kept")
    stock = session.scalars(select(Product.qty_in_stock).where(Product.id == shop.widget.id)).one()
    session.rollback()
    assert stock == D(100) - 3 * 3  # three invoices of three widgets each
    staff = signed_in(client, crew, "rep")
    staff.get("/invoices")
    staff.post("/invoices/bulk", {"action": "delete", "ids": ids})
    assert staff.get(staff.location).flashes() == ["2 invoices moved to the recycle bin."]
    assert subjects(staff.get("/invoices")) == ["Kept"]
    assert session.scalars(select(Product.qty_in_stock).where(Product.id == shop.widget.id)).one() == D(100) - 3
    assert session.scalars(select(Invoice.id).where(Invoice.deleted_at.is_(None))).all() == [kept]
    session.rollback()

    staff.post("/invoices/bulk", {"action": "status", "status": "Paid", "ids": [kept]})  # Paid is the payments'
    assert staff.get(staff.location).flashes()[0].startswith("Nothing was changed: ")
    staff.post("/invoices/bulk", {"action": "status", "status": "Cancel", "ids": [kept]})
    assert staff.get(staff.location).flashes() == ["1 invoice now has the status Cancel."]
    assert session.scalars(select(Product.qty_in_stock).where(Product.id == shop.widget.id)).one() == D(100)
    session.rollback()


# -- products -------------------------------------------------------------------------------------------------

def test_products_have_saved_filters_and_an_export_but_no_bulk_actions(client: Any, session: Session, crew: Crew,
                                                                       shop: Shop) -> None:
    shop.gadget.category, shop.gadget.active = "Hardware", False
    shop.widget.category = "Hardware"
    session.commit()
    staff = signed_in(client, crew, "rep")
    page = staff.get("/products")
    assert not page.all("input", name="ids") and not page.all(id="bulk-form")  # changed a product at a time
    page = staff.get("/products?category=Hardware&active=yes")
    assert [r.find("td").find("a").text for r in page.all("tr") if r.all("td")] == ["Widget 小工具"]
    form = page.find("form", action="/products/filters")
    assert hidden_params(form) == {"category": "Hardware", "active": "yes"}
    staff.post("/products/filters", {**hidden_params(form), "name": "Hardware on sale"})
    kept = session.scalars(select(SavedFilter)).one()
    assert (kept.module, kept.params) == ("products", {"category": "Hardware", "active": "yes"})
    filter_id = kept.id
    session.rollback()
    assert staff.location == f"/products?category=Hardware&active=yes&saved={filter_id}"
    page = staff.get(staff.location)
    assert page.flashes() == ["Saved the filter “Hardware on sale”."]
    staff.get(f"/products?saved={filter_id}")
    assert staff.status == 303 and staff.location.endswith(f"saved={filter_id}")
    staff.post(f"/products/filters/{filter_id}/rename", {"name": "Sold"})
    assert staff.get(staff.location).flashes() == ["The filter is now called “Sold”."]
    staff.post(f"/products/filters/{filter_id}/delete", {})
    assert staff.get(staff.location).flashes() == ["Deleted the saved filter “Sold”."]

    link = staff.get("/products?category=Hardware").find("a", download="")
    assert link.attrs["href"] == "/products/export.csv?category=Hardware"
    response = client.get(link.attrs["href"])
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith(
        'attachment; filename="products-')
    table = parse_csv(response.get_data())
    assert table[0] == ["Number", "Product name", "Product code", "Type", "Category", "Unit price", "Currency",
                        "Qty in stock", "Reorder level", "Status"]
    assert [row[1:] for row in table[1:]] == [
        ["Gadget", "GAD-2", "Product", "Hardware", "333.00", "TWD", "10.00", "20.00", "Inactive"],
        ["Widget 小工具", "WID-1", "Product", "Hardware", "1250.00", "TWD", "100.00", "5.00",
         "Active"],
    ]
    table = parse_csv(client.get("/products/export.csv?type=service").get_data())
    assert [row[1] for row in table[1:]] == ["Installation"]
    assert [(e.user_id, e.changes) for e in audit_rows(session, "export", "products")] == [
        (crew.ids["rep"], {"filter": {"category": "Hardware"}, "rows": 2}),
        (crew.ids["rep"], {"filter": {"type": "service"}, "rows": 1})]


def test_products_export_in_chinese(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    session.get_one(User, crew.ids["rep"]).language = "zh_Hant"
    session.commit()
    signed_in(client, crew, "rep")
    body = client.get("/products/export.csv?type=service").get_data()
    assert body.startswith(BOM)
    table = parse_csv(body)
    assert table[0][1] == languages.translate("zh_Hant", "Product name") != "Product name"
    assert table[1][3] == languages.translate("zh_Hant", "Service") != "Service"


def test_a_products_filter_keeps_only_its_checked_keys(session: Session, crew: Crew) -> None:
    rep = session.get_one(User, crew.ids["rep"])
    kept = saved_filters.save(session, rep, "products", "Soft", {"category": "Software", "active": "no", "q": "x"})
    assert kept.params == {"category": "Software", "active": "no", "q": "x"}
    with pytest.raises(ValidationError) as caught:
        saved_filters.save(session, rep, "products", "Bad", {"active": "maybe"})
    assert caught.value.field == "active"
    session.rollback()


# -- the catalogue in the header's search ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["postings", "own documents"])
def test_every_user_finds_products_and_price_books_in_the_search(client: Any, session: Session, crew: Crew,
                                                                 monkeypatch: Any, path: str) -> None:
    if path == "own documents":  # a rep's search for a common term reads the user's own documents
        monkeypatch.setattr(query, "SCOPE_FIRST", 0)
        monkeypatch.setattr(query, "OWN_DOCUMENTS", 10**9)
    else:
        monkeypatch.setattr(query, "SCOPE_FIRST", 10**9)
    shop = make_shop(session)
    shop.widget.owner_id = crew.ids["admin"]  # someone else's
    book = price_books.create(session, {"name": "Kestrel dealers", "currency": "TWD",
                                        "owner_id": crew.ids["admin"]}, Actor.user(crew.ids["admin"]))
    session.commit()
    from crm_store.search import index
    index.index_records(session, "products", [shop.widget.id])
    session.commit()
    for who in ("rep", "rep_c", "manager"):
        user = session.get_one(User, crew.ids[who])
        found = {(r.module, r.number) for r in query.search(session, "Widget", user=user)}
        assert found == {("products", shop.widget.product_no)}, who
        found = {(r.module, r.number) for r in query.search(session, "Kestrel", user=user)}
        assert found == {("price_books", book.price_book_no)}, who
    session.rollback()
    staff = signed_in(client, crew, "rep")
    page = staff.get("/search?q=Kestrel")
    assert [a.attrs["href"] for a in page.all("a") if a.text == "Kestrel dealers"] == [
        f"/price-books/{book.price_book_no}"]
    assert staff.get(f"/price-books/{book.price_book_no}").find("h1").text.strip().startswith("Kestrel dealers")


def test_the_upgrade_indexes_the_price_books_there_are(tmp_path: Any) -> None:
    from crm_store.db.engine import make_engine
    from crm_store.db.schema import alembic_config, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0019")
        currency = conn.execute(text("insert into currencies (code, name, symbol, minor_unit, exchange_rate, active) "
                                     "values ('TWD', 'New Taiwan dollar', 'NT$', 0, 1, 1) returning id")).scalar()
        conn.execute(text(
            "insert into price_books (price_book_no, name, currency_id, active, source, created_at, updated_at)"
            " values ('PB1', 'Dealers 經銷商', :c, 1, 'CRM', '2026-01-01', '2026-01-01')"), {"c": currency})
    upgrade(engine)
    with Session(engine) as session:
        found = session.scalars(select(SearchDocument.number).where(SearchDocument.module == "price_books")).all()
        assert found == ["PB1"]
        assert [r.number for r in query.search(session, "經銷商")] == ["PB1"]
    engine.dispose()
