"""Products, price books and stock in the staff app, through the real app (SQLite and PostgreSQL).

Every signed-in user sees the catalogue; managers and admins change it (a rep gets 403 and nothing is written).
Forms put the store's errors beside the field that is wrong and write nothing. Pages are parsed, never matched
as strings (`tests/staff_support.py`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import AuditEntry, PriceBookPrice, Product
from crm_store.sales import products
from crm_store.settings import company
from webform.app import MAX_BODY
from webform.staff.documents.routes import UPLOAD_BODY, body_limit

from .sales_support import make_shop
from .staff_support import Page
from .test_staff_records import Crew, make_crew, signed_in

ROLES = ("rep", "manager", "admin")
# A 1×1 PNG: typed by its bytes as image/png.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5d6b2e40000000049454e44ae426082")


@dataclass(frozen=True)
class Catalog:
    """The shop's numbers, as plain values (reading them never opens a transaction)."""

    widget: str  # WID-1: 100 in stock, reorder at 5, VAT; NT$1,000 in Dealers, US$40 in Export
    gadget: str  # GAD-2: 10 in stock, reorder at 20 (low)
    install: str  # SVC-1: a service
    dealers: str
    export: str


@pytest.fixture
def crew(session: Session) -> Crew:
    return make_crew(session)


@pytest.fixture
def catalog(session: Session, crew: Crew) -> Catalog:
    shop = make_shop(session)
    found = Catalog(shop.widget.product_no, shop.gadget.product_no, shop.install.product_no,
                    shop.book.price_book_no, shop.usd_book.price_book_no)
    session.commit()
    return found


def stock_of(session: Session, number: str) -> D | None:
    found = session.scalar(select(Product.qty_in_stock).where(Product.product_no == number))
    session.rollback()
    return found


def names(page: Page) -> list[str]:
    """The first link of each row of the page's table (a product's or a book's name)."""
    return [tr.all("a")[0].text for tr in page.find("tbody").all("tr") if tr.all("a")]


def stock_posted(number: str, by: str, reason: str, next_page: str | None = None) -> dict[str, str]:
    prefix = f"{number.lower()}-"
    return {f"{prefix}by": by, f"{prefix}reason": reason, f"{prefix}next": next_page or f"/products/{number}"}


# -- seeing -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_products_and_a_products_page(client: Any, session: Session, crew: Crew,
                                                          catalog: Catalog, role: str) -> None:
    staff = signed_in(client, crew, role)

    listed = staff.get("/products")
    assert staff.status == 200 and listed.find("h1").text == "Products"
    assert names(listed) == ["Gadget", "Installation", "Widget 小工具"]
    assert [a.text for a in listed.find("nav", class_="mainnav").all("a") if a.attrs["href"] in
            ("/products", "/price-books", "/low-stock")] == ["Products", "Price books", "Low stock"] * 2  # phone, More

    page = staff.get(f"/products/{catalog.widget}")
    assert staff.status == 200 and page.find("h1").text == "Widget 小工具"
    assert page.by_id("in-stock").text == "100"
    assert "VAT 營業稅 5 %" in page.find("section", aria_labelledby="taxes-title").text
    prices = [tr.text for tr in page.by_id("prices").find("tbody").all("tr")]
    assert prices == ["Dealers PB1 1,000 TWD", "Export PB2 40.00 USD"]
    keeper = role != "rep"
    assert bool(page.all("form", action=f"/products/{catalog.widget}/stock")) is keeper
    assert bool(page.all("a", href=f"/products/{catalog.widget}/edit")) is keeper
    assert bool(page.all("form", action=f"/products/{catalog.widget}/prices")) is keeper

    service = staff.get(f"/products/{catalog.install}")
    assert staff.status == 200 and not service.all(id="stock")  # a service has no stock
    staff.get("/products/PRO999")
    assert staff.status == 404


def test_the_list_filters_by_term_type_and_pages(client: Any, crew: Crew, catalog: Catalog,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("webform.staff.catalog.routes.PAGE_SIZE", 2)
    staff = signed_in(client, crew, "rep")
    first = staff.get("/products")
    assert names(first) == ["Gadget", "Installation"]
    second = staff.get(first.find("a", rel="next").attrs["href"])
    assert names(second) == ["Widget 小工具"] and second.all("a", rel="prev")
    assert names(staff.get("/products?q=wid-1")) == ["Widget 小工具"]  # by code, any case
    assert names(staff.get("/products?type=service")) == ["Installation"]
    empty = staff.get("/products?q=nothing-like-this")
    assert staff.status == 200 and empty.find(class_="empty__title").text == "Nothing matches these filters"


def test_the_image_is_shown_inline_to_whoever_sees_the_product(client: Any, session: Session, crew: Crew,
                                                               catalog: Catalog, tmp_path: Path) -> None:
    from webform.state import state

    staff = signed_in(client, crew, "rep")
    staff.get(f"/products/{catalog.widget}/image")
    assert staff.status == 404  # no image yet
    with client.application.app_context():
        data_dir = state().config.data_dir
    widget = session.scalars(select(Product).where(Product.product_no == catalog.widget)).one()
    products.set_image(session, data_dir, widget, PNG, filename="widget.png", actor=Actor.user(crew.ids["admin"]))
    session.commit()

    page = staff.get(f"/products/{catalog.widget}")
    image = page.find("figure", class_="product__image").find("img")
    assert image.attrs["src"] == f"/products/{catalog.widget}/image" and image.attrs["alt"] == "Widget 小工具"
    response = client.get(image.attrs["src"])
    assert response.status_code == 200 and response.mimetype == "image/png" and response.data == PNG
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    response.close()


# -- changing products ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/products/new", "/products/{widget}/edit", "/price-books/new",
                                  "/price-books/{dealers}/edit"])
def test_a_rep_may_not_change_the_catalogue(client: Any, crew: Crew, catalog: Catalog, path: str) -> None:
    staff = signed_in(client, crew, "rep")
    staff.get(path.format(widget=catalog.widget, dealers=catalog.dealers))
    assert staff.status == 403


def test_a_rep_may_not_adjust_stock_or_set_a_price(client: Any, session: Session, crew: Crew,
                                                   catalog: Catalog) -> None:
    staff = signed_in(client, crew, "rep")
    staff.get("/products")
    staff.post(f"/products/{catalog.widget}/stock", stock_posted(catalog.widget, "5", "found"))
    assert staff.status == 403 and stock_of(session, catalog.widget) == D(100)
    staff.get("/products")
    staff.post(f"/price-books/{catalog.dealers}/prices", {"product": catalog.gadget, "list_price": "1"})
    assert staff.status == 403
    assert session.scalar(select(func.count()).select_from(PriceBookPrice)) == 2


def test_a_manager_adds_a_product_errors_beside_their_field_and_nothing_written(
        client: Any, session: Session, crew: Crew, catalog: Catalog) -> None:
    staff = signed_in(client, crew, "manager")
    form = staff.get("/products/new")
    chosen = form.find("select", name="currency").find("option", selected="")
    assert staff.status == 200 and chosen.text.startswith("TWD")
    before = session.scalar(select(func.count()).select_from(Product))
    session.rollback()
    base = {"name": "Cable 線材", "product_type": "product", "currency": "TWD", "unit_price": "99.5",
            "qty_in_stock": "40", "reorder_level": "10", "active": "y", "specifications": "Length: 2 m\nColour: 黑色"}

    again = staff.post("/products/new", {**base, "product_code": "wid-1"})
    assert staff.status == 422
    assert "WID-1" in again.field_error("product_code") or "wid-1" in again.field_error("product_code")
    again = staff.post("/products/new", {**base, "unit_price": "cheap"})
    assert staff.status == 422 and again.field_error("unit_price")
    again = staff.post("/products/new", {**base, "specifications": "Length: 2 m\nlength: 3 m"})
    assert staff.status == 422 and "twice" in again.field_error("specifications")
    assert session.scalar(select(func.count()).select_from(Product)) == before
    session.rollback()

    staff.post("/products/new", {**base, "product_code": "CAB-2", "taxes": []})
    assert staff.status == 303
    page = staff.get(staff.location)
    assert page.find("h1").text == "Cable 線材" and page.by_id("in-stock").text == "40"
    assert [tr.text for tr in page.find("table", class_="specs").all("tr")] == ["Length 2 m", "Colour 黑色"]
    assert page.find("section", aria_labelledby="taxes-title").find("p").text == "No tax: its lines are tax-exempt."


def test_a_manager_edits_a_product(client: Any, session: Session, crew: Crew, catalog: Catalog) -> None:
    staff = signed_in(client, crew, "manager")
    form = staff.get(f"/products/{catalog.widget}/edit")
    assert form.find("input", name="unit_price").attrs["value"] == "1250"
    assert not form.all("input", name="qty_in_stock")  # stock changes by adjustments
    values: dict[str, Any] = {e.attrs["name"]: e.attrs.get("value", "") for e in form.all("input")
              if e.attrs.get("type") not in ("checkbox",) and e.attrs.get("name")}
    values |= {"product_type": "product", "currency": "TWD", "unit_price": "1300", "active": "y",
               "specifications": "Voltage: 220 V", "taxes": []}
    staff.post(f"/products/{catalog.widget}/edit", values)
    assert staff.status == 303
    widget = session.scalars(select(Product).where(Product.product_no == catalog.widget)).one()
    assert widget.unit_price == D(1300) and widget.specifications == [{"name": "Voltage", "value": "220 V"}]
    assert products.tax_classes(session, widget) == []
    session.rollback()


# -- stock ------------------------------------------------------------------------------------------------

def test_stock_adjusted_with_its_reason_and_audited(client: Any, session: Session, crew: Crew,
                                                    catalog: Catalog) -> None:
    staff = signed_in(client, crew, "manager")
    staff.get(f"/products/{catalog.widget}")
    staff.post(f"/products/{catalog.widget}/stock", stock_posted(catalog.widget, "24", "received from supplier"))
    assert staff.status == 303 and staff.location == f"/products/{catalog.widget}"
    page = staff.get(staff.location)
    assert page.flashes() == [f"The stock of {catalog.widget} is now 124."]
    assert page.by_id("in-stock").text == "124"
    latest = page.by_id("stock").find("li", class_="timeline__item")
    assert latest.find("p", class_="timeline__summary").text == "From 100 to 124"
    assert latest.find("p", class_="timeline__detail").text == "received from supplier"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.record_no == catalog.widget)
                            .order_by(AuditEntry.id.desc())).first()
    assert entry is not None and entry.user_id == crew.ids["manager"]
    assert entry.changes == {"qty_in_stock": ["100.000", "124.000"], "reason": "received from supplier"}
    session.rollback()


@pytest.mark.parametrize(("by", "reason", "field"), [("0", "count", "by"), ("lots", "count", "by"),
                                                     ("3", "", "reason")])
def test_a_bad_adjustment_shows_its_error_and_writes_nothing(client: Any, session: Session, crew: Crew,
                                                             catalog: Catalog, by: str, reason: str,
                                                             field: str) -> None:
    staff = signed_in(client, crew, "admin")
    staff.get(f"/products/{catalog.widget}")
    page = staff.post(f"/products/{catalog.widget}/stock", stock_posted(catalog.widget, by, reason))
    assert staff.status == 422
    assert page.field_error(f"{catalog.widget.lower()}-{field}")
    assert stock_of(session, catalog.widget) == D(100)


def test_below_zero_follows_the_company_setting(client: Any, session: Session, crew: Crew,
                                                catalog: Catalog) -> None:
    company.set_value(session, "allow_negative_stock", False)
    session.commit()
    staff = signed_in(client, crew, "manager")
    page = staff.get(f"/products/{catalog.gadget}")
    assert "cannot go below zero" in page.by_id("stock").text
    page = staff.post(f"/products/{catalog.gadget}/stock", stock_posted(catalog.gadget, "-12", "breakage"))
    assert staff.status == 422 and "less than the 12" in page.field_error(f"{catalog.gadget.lower()}-by")
    assert stock_of(session, catalog.gadget) == D(10)

    company.set_value(session, "allow_negative_stock", True)
    session.commit()
    page = staff.get(f"/products/{catalog.gadget}")
    assert "you will be warned" in page.by_id("stock").text
    staff.post(f"/products/{catalog.gadget}/stock", stock_posted(catalog.gadget, "-12", "breakage"))
    assert staff.status == 303
    page = staff.get(staff.location)
    assert page.find("p", class_="flash--warning").text == (
        f"The stock of {catalog.gadget} is now -2, below zero: check the count.")
    assert stock_of(session, catalog.gadget) == D(-2)


def test_the_low_stock_list_and_its_adjustment(client: Any, session: Session, crew: Crew, catalog: Catalog) -> None:
    rep = signed_in(client, crew, "rep")
    listed = rep.get("/low-stock")
    assert rep.status == 200 and names(listed) == ["Gadget"]  # 10 under 20; the widget (100 over 5) is not
    assert not listed.all("form", action=f"/products/{catalog.gadget}/stock")  # a rep only reads

    staff = signed_in(client.application.test_client(), crew, "manager")
    staff.get("/low-stock")
    page = staff.post(f"/products/{catalog.gadget}/stock", stock_posted(catalog.gadget, "", "x", "/low-stock"))
    assert staff.status == 422 and page.find("h1").text == "Low stock"
    assert page.field_error(f"{catalog.gadget.lower()}-by")
    staff.post(f"/products/{catalog.gadget}/stock", stock_posted(catalog.gadget, "15", "received", "/low-stock"))
    assert staff.status == 303 and staff.location == "/low-stock"
    page = staff.get("/low-stock")
    assert page.find(class_="empty__title").text == "Nothing is running low"
    assert stock_of(session, catalog.gadget) == D(25)


# -- price books ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_price_books_and_their_prices(client: Any, crew: Crew, catalog: Catalog,
                                                          role: str) -> None:
    staff = signed_in(client, crew, role)
    listed = staff.get("/price-books")
    assert staff.status == 200
    assert [tr.text for tr in listed.find("tbody").all("tr")] == ["Dealers PB1 TWD 1 Active", "Export PB2 USD 1 Active"]
    page = staff.get(f"/price-books/{catalog.dealers}")
    assert [tr.text for tr in page.by_id("prices").find("tbody").all("tr")] == [
        "Widget 小工具 PRO1 WID-1 1,000 TWD 1,250 TWD"]
    assert bool(page.all("form", action=f"/price-books/{catalog.dealers}/prices")) is (role != "rep")


def test_a_manager_sets_a_price_from_the_book_and_from_the_product(client: Any, session: Session, crew: Crew,
                                                                    catalog: Catalog) -> None:
    staff = signed_in(client, crew, "manager")
    staff.get(f"/price-books/{catalog.dealers}")
    page = staff.post(f"/price-books/{catalog.dealers}/prices", {"product": "NOPE-9", "list_price": "10"})
    assert staff.status == 422 and "NOPE-9" in page.field_error("product")
    page = staff.post(f"/price-books/{catalog.dealers}/prices", {"product": "gad-2", "list_price": "-1"})
    assert staff.status == 422 and "negative" in page.field_error("list_price")
    staff.post(f"/price-books/{catalog.dealers}/prices", {"product": "gad-2", "list_price": "300"})
    assert staff.status == 303
    page = staff.get(staff.location)
    assert [tr.all("td")[0].all("a")[0].text for tr in page.by_id("prices").find("tbody").all("tr")] == [
        "Gadget", "Widget 小工具"]

    product_page = staff.get(f"/products/{catalog.gadget}")
    export = next(o.attrs["value"] for o in product_page.find("select", name="price_book").all("option")
                  if o.text == "Export")
    page = staff.post(f"/products/{catalog.gadget}/prices", {"price_book": "", "list_price": "9"})
    assert staff.status == 422 and page.field_error("price_book") == "Choose a price book."
    staff.post(f"/products/{catalog.gadget}/prices", {"price_book": export, "list_price": "12.5"})
    assert staff.status == 303 and staff.location == f"/products/{catalog.gadget}"
    page = staff.get(staff.location)
    assert [tr.text for tr in page.by_id("prices").find("tbody").all("tr")] == [
        "Dealers PB1 300 TWD", "Export PB2 12.50 USD"]
    entries = session.scalars(select(AuditEntry).where(AuditEntry.module == "price_books")).all()
    assert {next(iter(e.changes)) for e in entries if e.action == "update"} == {f"list_price {catalog.gadget}"}
    session.rollback()


def test_a_price_book_added_and_renamed_a_name_taken_refused(client: Any, session: Session, crew: Crew,
                                                             catalog: Catalog) -> None:
    staff = signed_in(client, crew, "admin")
    staff.get("/price-books/new")
    page = staff.post("/price-books/new", {"name": "dealers", "currency": "TWD", "active": "y"})
    assert staff.status == 422 and catalog.dealers in page.field_error("name")
    staff.post("/price-books/new", {"name": "Retail 零售", "currency": "USD", "active": "y"})
    assert staff.status == 303
    page = staff.get(staff.location)
    assert page.find("h1").text == "Retail 零售" and "USD" in page.find(class_="record-meta").text
    number = page.find(class_="eyebrow").text.split(" · ")[1]
    staff.get(f"/price-books/{number}/edit")
    page = staff.post(f"/price-books/{number}/edit", {"name": "Export", "active": "y"})
    assert staff.status == 422 and catalog.export in page.field_error("name")
    staff.post(f"/price-books/{number}/edit", {"name": "Retail", "description": "Shops"})
    assert staff.status == 303
    page = staff.get(f"/price-books/{number}")
    assert page.find("h1").text == "Retail" and page.find(class_="badge").text == "Inactive"


def test_a_manager_uploads_the_picture_a_rep_may_not_and_a_pdf_is_refused(client: Any, session: Session, crew: Crew,
                                                                         catalog: Catalog) -> None:
    rep = signed_in(client, crew, "rep")
    rep.get(f"/products/{catalog.widget}")
    assert rep.last is not None and not rep.last.all("input", type="file")
    rep.post(f"/products/{catalog.widget}/image", {"image": (io.BytesIO(PNG), "widget.png")},
             content_type="multipart/form-data")
    assert rep.status == 403

    staff = signed_in(client.application.test_client(), crew, "manager")
    staff.get(f"/products/{catalog.widget}")
    page = staff.post(f"/products/{catalog.widget}/image", {"image": (io.BytesIO(b"%PDF-1.7\n%%EOF\n"), "w.png")},
                      content_type="multipart/form-data")
    assert staff.status == 422 and "is not a PNG, JPEG, GIF or WebP image" in page.by_id("image-error").text
    page = staff.post(f"/products/{catalog.widget}/image", {}, content_type="multipart/form-data")
    assert staff.status == 422 and page.by_id("image-error").text == "Choose a picture: PNG, JPEG, GIF or WebP."
    assert session.scalar(select(Product.image_document_id).where(Product.product_no == catalog.widget)) is None
    session.rollback()

    large = PNG + b"\0" * 200_000  # over the app's usual body limit: an image may be as large as a document
    assert body_limit("POST", f"/products/{catalog.widget}/image", MAX_BODY) == UPLOAD_BODY
    staff.post(f"/products/{catalog.widget}/image", {"image": (io.BytesIO(large), "widget.png")},
               content_type="multipart/form-data")
    assert staff.status == 303
    page = staff.get(staff.location)
    assert page.flashes() == [f"The picture of {catalog.widget} is saved."]
    response = client.get(page.find("figure", class_="product__image").find("img").attrs["src"])
    assert response.status_code == 200 and response.data == large
    response.close()
