"""Products, services, price books and taxes: the store (crm_store.sales.products, price_books, taxes) and
`crm products|pricebooks`; bad input names its field and writes nothing."""

from __future__ import annotations

import struct
import tomllib
import zlib
from collections.abc import Callable
from decimal import Decimal as D
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.cli import _declared, main
from crm_store.errors import ValidationError
from crm_store.models import (
    AuditEntry,
    Document,
    DocumentLink,
    PriceBook,
    PriceBookPrice,
    Product,
    ProductTax,
    Tax,
)
from crm_store.records import lifecycle
from crm_store.sales import documents, price_books, products, taxes
from crm_store.settings import company
from crm_store.staff import users
from tests.sales_support import count

ACTOR = Actor.system("test")
Crm = Callable[..., Result]
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
COMMANDS = {"products": ("add", "list", "show", "low-stock", "adjust-stock"),
            "pricebooks": ("add", "list", "set-price")}


def png() -> bytes:
    """A real one-pixel PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


@pytest.fixture(autouse=True)
def product_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands as pyproject.toml declares them, also where the installed package's metadata predates them."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["leadline.cli"]
    for name in COMMANDS:
        assert name in declared, f"pyproject.toml does not declare `crm {name}`"
        if name not in _declared():
            monkeypatch.setitem(main.commands, name, EntryPoint(name, declared[name], "leadline.cli").load())


@pytest.fixture
def vat(session: Session) -> Tax:
    tax = taxes.create(session, {"name": "VAT 營業稅", "rate": "5", "applies_to_shipping": True}, ACTOR)
    session.commit()
    return tax


def widget(session: Session, **values: Any) -> Product:
    return products.create(session, {"name": "Widget 小工具", "product_code": "WID-1", "unit_price": "1250",
                                     "qty_in_stock": "100", "reorder_level": "5", **values}, ACTOR)


def written(session: Session) -> tuple[int, ...]:
    """How many products, tax classes, price books, prices, documents and product audit rows there are."""
    session.rollback()
    audits = len(session.scalars(select(AuditEntry.id).where(
        AuditEntry.module.in_(["products", "price_books", "taxes"]))).all())
    counts = (count(session, Product), count(session, ProductTax), count(session, PriceBook),
              count(session, PriceBookPrice), count(session, Document), audits)
    session.rollback()  # SQLite: a command run next needs the write lock a reading transaction holds
    return counts


# -- the store: products --------------------------------------------------------------------------------------

def test_a_product_with_its_taxes_specifications_and_an_audited_create(session: Session, vat: Tax) -> None:
    local = taxes.create(session, {"name": "Local", "rate": "2.5"}, ACTOR)
    product = widget(session, category="Hardware", usage_unit="Each", currency="usd", taxes=["local", vat.id],
                     specifications=[("Voltage", "220 V"), {"name": "重量", "value": "1.5 kg"}],
                     description="Sturdy")
    session.commit()
    assert (product.product_no, product.product_type, product.active) == ("PRO1", "product", True)
    assert (product.unit_price, product.qty_in_stock, product.reorder_level) == (D(1250), D(100), D(5))
    assert product.specifications == [{"name": "Voltage", "value": "220 V"}, {"name": "重量", "value": "1.5 kg"}]
    assert [t.name for t in products.tax_classes(session, product)] == ["VAT 營業稅", "Local"]  # the taxes' order
    assert local.position == 2
    created = session.scalars(select(AuditEntry).where(AuditEntry.module == "products")).one()
    assert created.action == "create" and created.changes["taxes"] == [None, ["VAT 營業稅", "Local"]]
    assert created.changes["product_code"] == [None, "WID-1"]
    assert products.find(session, "wid-1") is product and products.find(session, "pro1") is product
    with pytest.raises(ValidationError) as caught:
        products.find(session, "PRO99")
    assert caught.value.field == "product"


def test_a_service_has_no_stock(session: Session, vat: Tax) -> None:
    service = products.create(session, {"name": "Installation", "product_code": "SVC-1", "product_type": "Service",
                                        "unit_price": "2000"}, ACTOR)
    assert (service.product_type, service.qty_in_stock) == ("service", None)
    for field in ("qty_in_stock", "reorder_level"):
        with pytest.raises(ValidationError) as caught:
            products.create(session, {"name": "Support", "product_type": "service", field: "1"}, ACTOR)
        assert caught.value.field == field and caught.value.message == "a service has no stock"
    from crm_store.sales import stock

    with pytest.raises(ValidationError) as caught:
        stock.adjust_stock(session, service, "3", "counted", ACTOR)
    assert caught.value.field == "product" and "services have no stock" in caught.value.message


@pytest.mark.parametrize(("values", "field"), [
    ({"product_code": "wid-1 "}, "product_code"),  # the widget's code, in another case
    ({"name": " "}, "name"),
    ({"product_type": "gizmo"}, "product_type"),
    ({"unit_price": "-1"}, "unit_price"),
    ({"unit_price": "1.23456"}, "unit_price"),
    ({"unit_price": "lots"}, "unit_price"),
    ({"qty_in_stock": "1.2345"}, "qty_in_stock"),
    ({"qty_in_stock": "-3"}, "qty_in_stock"),
    ({"reorder_level": "-1"}, "reorder_level"),
    ({"currency": "XXX"}, "currency"),
    ({"taxes": ["Nope"]}, "taxes"),
    ({"category": "Food"}, "category"),
    ({"usage_unit": "Bushel"}, "usage_unit"),
    ({"specifications": [("Colour", "red"), ("colour", "blue")]}, "specifications"),
    ({"specifications": [("", "red")]}, "specifications"),
    ({"specifications": [("Colour", "red\nblue")]}, "specifications"),
    ({"specifications": "Colour=red"}, "specifications"),
    ({"product_no": "PRO1"}, "product_no"),  # the widget's number
    ({"colour": "red"}, "colour"),
])
def test_bad_product_input_names_the_field_and_writes_nothing(
    session: Session, vat: Tax, values: dict[str, Any], field: str,
) -> None:
    widget(session, taxes=[vat.name])
    session.commit()
    before = written(session)
    with pytest.raises(ValidationError) as caught:
        products.create(session, {"name": "Gadget", "product_code": "GAD-2", "taxes": [vat.name], **values}, ACTOR)
    assert caught.value.field == field
    assert written(session) == before


def test_an_update_keeps_the_rules_and_replaces_the_taxes(session: Session, vat: Tax) -> None:
    product = widget(session, taxes=[vat.name])
    other = products.create(session, {"name": "Gadget", "product_code": "GAD-2", "qty_in_stock": "0"}, ACTOR)
    session.commit()
    products.update(session, product, {"product_code": "WID-1", "unit_price": "1300"}, ACTOR)  # its own code
    with pytest.raises(ValidationError) as caught:
        products.update(session, other, {"product_code": "Wid-1"}, ACTOR)
    assert caught.value.field == "product_code" and "is already the code of PRO1" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        products.update(session, product, {"qty_in_stock": "5"}, ACTOR)
    assert caught.value.field == "qty_in_stock"
    with pytest.raises(ValidationError) as caught:
        products.update(session, product, {"product_type": "service"}, ACTOR)  # it has 100 in stock
    assert caught.value.field == "product_type"
    products.update(session, other, {"product_type": "service", "taxes": [vat.name]}, ACTOR)
    products.update(session, product, {"taxes": []}, ACTOR)
    session.commit()
    assert (other.product_type, other.qty_in_stock) == ("service", None)
    assert product.unit_price == D(1300) and products.tax_classes(session, product) == []
    changes = [e.changes for e in session.scalars(select(AuditEntry).where(
        AuditEntry.module == "products", AuditEntry.action == "update").order_by(AuditEntry.id))]
    assert [[D(v) for v in pair] for pair in changes[0].values()] == [[D(1250), D(1300)]]
    assert {"taxes": [[], ["VAT 營業稅"]]} in changes and {"taxes": [["VAT 營業稅"], []]} in changes


def test_an_image_is_stored_like_documents_and_only_an_image(
    session: Session, vat: Tax, tmp_path: Path,
) -> None:
    product = widget(session)
    session.commit()
    data_dir = tmp_path / "data"
    picture = tmp_path / "widget.jpg"  # named .jpg, its bytes a PNG: typed by its bytes
    picture.write_bytes(png())
    document = products.set_image(session, data_dir, product, picture, filename=picture.name, actor=ACTOR)
    session.commit()
    assert (document.content_type, document.filename) == ("image/png", "widget.png")
    assert product.image_document_id == document.id
    link = session.scalars(select(DocumentLink).where(DocumentLink.document_id == document.id)).one()
    assert link.product_id == product.id
    stored = sorted(p for p in data_dir.rglob("*") if p.is_file())
    for content, name in ((b"%PDF-1.4 a spec sheet", "sheet.png"), (b"just text", "photo.gif")):
        with pytest.raises(ValidationError) as caught:
            products.set_image(session, data_dir, product, content, filename=name, actor=ACTOR)
        assert caught.value.field == "image" and "is not a PNG, JPEG, GIF or WebP image" in caught.value.message
    assert count(session, Document) == 1 and sorted(p for p in data_dir.rglob("*") if p.is_file()) == stored


def test_listing_filters_by_category_active_type_and_a_term(session: Session, vat: Tax) -> None:
    widget(session, category="Hardware")
    products.create(session, {"name": "Gadget 100%", "product_code": "GAD-2", "category": "Hardware",
                              "active": False}, ACTOR)
    products.create(session, {"name": "Setup", "product_code": "SVC-1", "product_type": "service"}, ACTOR)
    session.commit()

    def names(**narrowed: Any) -> list[str]:
        return [p.name for p in session.scalars(products.listed(**narrowed))]

    assert names() == ["Gadget 100%", "Setup", "Widget 小工具"]
    assert names(category="Hardware", active=True) == ["Widget 小工具"]
    assert names(product_type="service") == ["Setup"]
    assert names(search="小工具") == names(search="wid") == names(search="pro1") == ["Widget 小工具"]
    assert names(search="0%") == ["Gadget 100%"]  # % is a character, not a wildcard
    assert names(limit=1) == ["Gadget 100%"]


# -- the store: price books and taxes --------------------------------------------------------------------------

def test_price_books_hold_list_prices_that_documents_take(session: Session, vat: Tax) -> None:
    product = widget(session, taxes=[vat.name])
    book = price_books.create(session, {"name": "Dealers"}, ACTOR)
    export = price_books.create(session, {"name": "Export", "currency": "usd"}, ACTOR)
    assert (book.price_book_no, book.currency_id != export.currency_id, book.active) == ("PB1", True, True)
    first = price_books.set_price(session, book, product, "1,000", ACTOR)
    assert (first.before, first.price.list_price, first.changed) == (None, D(1000), True)
    again = price_books.set_price(session, book, product, "1100", ACTOR)
    assert (again.before, again.price.list_price) == (D(1000), D(1100))
    assert not price_books.set_price(session, book, product, "1100.00", ACTOR).changed
    price_books.set_price(session, export, product, "40.5", ACTOR)
    session.commit()
    assert count(session, PriceBookPrice) == 2
    assert [(b.name, price, cur.code) for b, price, cur in session.execute(price_books.prices_of_product(product))
            ] == [("Dealers", D(1100), "TWD"), ("Export", D("40.5"), "USD")]
    changes = [e.changes for e in session.scalars(select(AuditEntry).where(
        AuditEntry.module == "price_books", AuditEntry.record_id == book.id).order_by(AuditEntry.id))]
    assert [{k: [v and D(v) for v in pair] for k, pair in c.items()} for c in changes[1:]] == [
        {"list_price PRO1": [None, D(1000)]}, {"list_price PRO1": [D(1000), D(1100)]}]
    account = lifecycle.create_account(session, {"name": "台北貿易"})
    quote = documents.create(session, "quotes", {"subject": "Offer", "account_id": account.id,
                                                  "price_book_id": book.id}, [{"product": "WID-1", "quantity": 2}],
                             ACTOR).document
    assert [item.list_price for item, _p in documents.lines_of(session, quote)] == [D(1100)]  # not 1,250
    assert [(b.name, n) for b, _code, n in session.execute(price_books.listed())] == [("Dealers", 1), ("Export", 1)]


@pytest.mark.parametrize(("case", "field"), [
    ("negative", "list_price"), ("decimals", "list_price"), ("none", "list_price"), ("binned product", "product"),
    ("binned book", "price_book"), ("same name", "name"), ("currency", "currency"), ("no name", "name"),
])
def test_bad_price_book_input_names_the_field_and_writes_nothing(
    session: Session, vat: Tax, case: str, field: str,
) -> None:
    product = widget(session)
    book = price_books.create(session, {"name": "Dealers"}, ACTOR)
    if case == "binned product":
        lifecycle.delete(session, product, ACTOR)
    if case == "binned book":
        lifecycle.delete(session, book, ACTOR)
    session.commit()
    before = written(session)
    action: dict[str, Callable[[], Any]] = {
        "negative": lambda: price_books.set_price(session, book, product, "-1", ACTOR),
        "decimals": lambda: price_books.set_price(session, book, product, "1.00001", ACTOR),
        "none": lambda: price_books.set_price(session, book, product, " ", ACTOR),
        "binned product": lambda: price_books.set_price(session, book, product, "1", ACTOR),
        "binned book": lambda: price_books.set_price(session, book, product, "1", ACTOR),
        "same name": lambda: price_books.create(session, {"name": "dealers "}, ACTOR),
        "currency": lambda: price_books.create(session, {"name": "Yen", "currency": "XXX"}, ACTOR),
        "no name": lambda: price_books.create(session, {"name": ""}, ACTOR),
    }
    with pytest.raises(ValidationError) as caught:
        action[case]()
    assert caught.value.field == field
    assert written(session) == before


def test_taxes_are_checked_and_the_business_tax_is_seeded_once(session: Session) -> None:
    assert taxes.seed(session) == 1
    seeded = session.scalars(taxes.listed()).one()
    assert (seeded.name, seeded.rate, seeded.active, seeded.applies_to_shipping) == ("營業稅 VAT", D(5), True, True)
    assert taxes.seed(session) == 0
    session.commit()
    for values, field in (({"name": "營業稅 vat", "rate": "5"}, "name"), ({"name": "Neg", "rate": "-1"}, "rate"),
                          ({"name": "Big", "rate": "100.5"}, "rate"), ({"name": "Fine", "rate": "1.0005"}, "rate"),
                          ({"name": "None"}, "rate"), ({"rate": "5"}, "name"), ({"name": "X", "rate": 1, "y": 1}, "y"),
                          ({"name": "Two\nlines", "rate": "1"}, "name")):
        with pytest.raises(ValidationError) as caught:
            taxes.create(session, values, ACTOR)
        assert caught.value.field == field, values
    assert written(session)[-1] == 0 and count(session, Tax) == 1
    free = taxes.create(session, {"name": "Zero-rated", "rate": "0", "active": "no"}, ACTOR)
    assert (free.rate, free.active, free.position) == (D(0), False, 2)
    assert [t.name for t in session.scalars(taxes.listed(active=True))] == ["營業稅 VAT"]


def test_errors_read_in_chinese(session: Session, vat: Tax) -> None:
    widget(session)
    with pytest.raises(ValidationError) as caught:
        products.create(session, {"name": "Twin", "product_code": "WID-1"}, ACTOR)
    assert caught.value.in_language("zh_Hant") == "'WID-1' 已是 PRO1 的產品代碼"
    with pytest.raises(ValidationError) as caught:
        products.create(session, {"name": "Support", "product_type": "service", "qty_in_stock": "1"}, ACTOR)
    assert caught.value.in_language("zh_Hant") == "服務沒有庫存"


# -- the commands ---------------------------------------------------------------------------------------------

def one_line_error(result: Result) -> str:
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_products_add_list_and_show(crm: Crm, session: Session, vat: Tax, tmp_path: Path) -> None:
    picture = tmp_path / "widget.png"
    picture.write_bytes(png())
    users.add_user(session, "boss@example.com", "陳老闆", welcome=False)
    session.commit()
    added = crm("--as", "boss@example.com", "products", "add", "--name", "Widget 小工具", "--code", "WID-1",
                "--price", "1,250", "--stock", "100", "--reorder-level", "5", "--category", "Hardware", "--unit",
                "Each", "--spec", "Voltage=220 V", "--spec", "重量 = 1.5 kg", "--image", str(picture),
                "--description", "Sturdy").output
    assert added.strip() == "Added product PRO1 WID-1 Widget 小工具: NT$1,250, 100 in stock."
    service = crm("products", "add", "--name", "Installation", "--code", "SVC-1", "--service", "--price", "2000.5",
                  "--no-tax", "--inactive").output
    assert service.strip() == "Added service PRO2 SVC-1 Installation: NT$2,000.50."
    listed = crm("products", "list").output.splitlines()
    assert listed[0].split() == ["NUMBER", "CODE", "NAME", "CATEGORY", "PRICE", "STOCK"]
    assert listed[1].split() == ["PRO2", "SVC-1", "Installation", "NT$2,000.50", "inactive"]
    assert listed[2].split() == ["PRO1", "WID-1", "Widget", "小工具", "Hardware", "NT$1,250", "100"]
    assert listed[-1] == "2 product(s)."
    assert crm("products", "list", "--active", "--search", "小工具").output.splitlines()[-1] == "1 product(s)."
    assert crm("products", "list", "--type", "service").output.splitlines()[1].startswith("PRO2")
    crm("pricebooks", "add", "--name", "Dealers")
    crm("pricebooks", "set-price", "Dealers", "wid-1", "--price", "1000")
    shown = crm("products", "show", "WID-1").output.splitlines()
    assert shown[0] == "Product PRO1  Widget 小工具"
    fields = dict(line.split(": ", 1) for line in shown[2:shown.index("", 2)])
    assert {k.strip(): v.strip() for k, v in fields.items()} == {
        "Code": "WID-1", "Category": "Hardware", "Unit price": "NT$1,250 (TWD)", "Usage unit": "Each",
        "Stock": "100", "Reorder level": "5", "Active": "yes", "Taxes": "VAT 營業稅 5 %",
        "Image": "DOC1 widget.png (image/png)", "Owner": "陳老闆 <boss@example.com>", "Description": "Sturdy"}
    assert shown[shown.index("Specifications") + 1:shown.index("Specifications") + 3] == [
        "  Voltage: 220 V", "  重量: 1.5 kg"]
    assert shown[-1].split() == ["PB1", "Dealers", "TWD", "NT$1,000"]
    shown_service = crm("products", "show", "PRO2").output
    assert "Stock:         none (a service)" in shown_service and "Taxes:         none" in shown_service
    assert "Active:        no" in shown_service


def test_adjust_stock_is_audited_and_low_stock_lists_products(crm: Crm, session: Session, vat: Tax) -> None:
    widget(session)
    products.create(session, {"name": "Gadget", "product_code": "GAD-2", "qty_in_stock": "10",
                              "reorder_level": "20"}, ACTOR)
    products.create(session, {"name": "Setup", "product_code": "SVC-1", "product_type": "service"}, ACTOR)
    session.commit()
    moved = crm("products", "adjust-stock", "WID-1", "--by", "-97", "--reason", "counted 盤點")
    assert moved.output.strip() == "Stock of PRO1 Widget 小工具: 100 → 3." and moved.stderr == ""
    low = crm("products", "low-stock").output.splitlines()
    assert low[0].split() == ["NUMBER", "CODE", "NAME", "STOCK", "REORDER", "AT", "SHORT", "BY"]
    assert [row.split()[0] for row in low[1:-1]] == ["PRO2", "PRO1"]  # 10 short, then 2 short; no service
    assert low[1].split()[-3:] == ["10", "20", "10"] and low[-1] == "2 product(s) below their reorder level."
    below = crm("products", "adjust-stock", "PRO1", "--by", "-5", "--reason", "broken")
    assert below.stderr.strip() == "warning: stock of PRO1 Widget 小工具 is now -2, below zero"
    crm("settings", "set", "allow_negative_stock", "off")
    assert one_line_error(crm("products", "adjust-stock", "GAD-2", "--by", "-11", "--reason", "x", ok=False)) == (
        "error: by: PRO2 has 10 in stock, less than the 11 this takes")
    assert one_line_error(crm("products", "adjust-stock", "SVC-1", "--by", "1", "--reason", "x", ok=False)) == (
        "error: product: PRO3 is a service: services have no stock")
    assert one_line_error(crm("products", "adjust-stock", "GAD-2", "--by", "1", "--reason", " ", ok=False)) == (
        "error: reason: is required")
    session.rollback()
    reasons = [(e.changes["qty_in_stock"], e.changes["reason"]) for e in session.scalars(
        select(AuditEntry).where(AuditEntry.module == "products", AuditEntry.action == "update")
        .order_by(AuditEntry.id))]
    assert reasons == [(["100.000", "3.000"], "counted 盤點"), (["3.000", "-2.000"], "broken")]
    assert session.scalar(select(Product.qty_in_stock).where(Product.product_code == "GAD-2")) == D(10)
    assert company.get(session, "allow_negative_stock") is False


def test_price_books_add_list_and_set_price(crm: Crm, session: Session, vat: Tax) -> None:
    widget(session)
    session.commit()
    assert crm("pricebooks", "add", "--name", "Dealers 經銷").output.strip() == (
        "Added price book PB1 Dealers 經銷 (TWD).")
    assert crm("pricebooks", "add", "--name", "Export", "--currency", "usd", "--inactive").output.strip() == (
        "Added price book PB2 Export (USD).")
    assert crm("pricebooks", "set-price", "PB1", "PRO1", "--price", "1000").output.strip() == (
        "PB1 Dealers 經銷: PRO1 Widget 小工具 at NT$1,000.")
    assert crm("pricebooks", "set-price", "pb1", "WID-1", "--price", "1100").output.strip() == (
        "PB1 Dealers 經銷: PRO1 Widget 小工具 at NT$1,100 (was NT$1,000).")
    assert crm("pricebooks", "set-price", "Export", "WID-1", "--price", "40.5").output.strip().endswith(
        "at $40.50.")
    listed = crm("pricebooks", "list").output.splitlines()
    assert [row.split() for row in listed] == [
        ["NUMBER", "NAME", "CURRENCY", "PRICES"], ["PB1", "Dealers", "經銷", "TWD", "1"],
        ["PB2", "Export", "USD", "1", "inactive"], ["2", "price", "book(s)."]]
    assert crm("pricebooks", "list", "--inactive").output.splitlines()[-1] == "1 price book(s)."


@pytest.mark.parametrize(("args", "message"), [
    (("products", "add", "--name", "Twin", "--code", "wid-1"), "error: product_code: 'wid-1' is already the code"),
    (("products", "add", "--name", "S", "--service", "--stock", "3"), "error: qty_in_stock: a service has no stock"),
    (("products", "add", "--name", "P", "--image", "{text}"), "error: image: notes.png is not a PNG, JPEG"),
    (("products", "add", "--name", "P", "--tax", "Nope"), "error: taxes: no tax 'Nope'"),
    (("products", "add", "--name", "P", "--tax", "VAT 營業稅", "--no-tax"), "error: taxes: give --tax or --no-tax"),
    (("products", "add", "--name", "P", "--spec", "Colour"), "error: spec: 'Colour' is not NAME=VALUE"),
    (("products", "add", "--name", "P", "--price", "abc"), "error: unit_price: 'abc' is not a number"),
    (("products", "add", "--name", "P", "--currency", "XXX"), "error: currency: 'XXX' is not an active currency"),
    (("products", "add", "--name", "P", "--category", "Food"), "error: category: 'Food' is not a value"),
    (("products", "show", "NOPE"), "error: product: no product 'NOPE'"),
    (("pricebooks", "add", "--name", "dealers"), "error: name: PB1 already has this name"),
    (("pricebooks", "add", "--name", "Yen", "--currency", "XXX"), "error: currency: 'XXX' is not an active currency"),
    (("pricebooks", "set-price", "PB1", "NOPE", "--price", "1"), "error: product: no product 'NOPE'"),
    (("pricebooks", "set-price", "PB9", "WID-1", "--price", "1"), "error: price_book: no price book 'PB9'"),
    (("pricebooks", "set-price", "PB1", "WID-1", "--price", "-1"), "error: list_price: must not be negative"),
])
def test_mistakes_print_one_line_naming_the_field_and_write_nothing(
    crm: Crm, session: Session, vat: Tax, tmp_path: Path, args: tuple[str, ...], message: str,
) -> None:
    widget(session)
    price_books.create(session, {"name": "Dealers"}, ACTOR)
    session.commit()
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    before = written(session)
    result = crm(*(a.replace("{text}", str(text)) for a in args), ok=False)
    assert one_line_error(result).startswith(message)
    assert written(session) == before
    assert not (tmp_path / "data").exists() or not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


def test_usage_mistakes_exit_2_with_a_hint(crm: Crm) -> None:
    result = crm("products", "add", "--name", "P", "--image", "/no/such/file.png", ok=False)
    assert result.exit_code == 2 and "--image" in result.stderr and "products add --help" in result.stderr
    assert crm("pricebooks", "set-price", "PB1", "WID-1", ok=False).exit_code == 2  # --price missing


@pytest.mark.parametrize("path", [(group,) for group in COMMANDS]
                         + [(group, sub) for group, subs in COMMANDS.items() for sub in subs], ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output
    assert len(result.output.split("\n\n")[1].strip()) > 10


def test_init_seeds_the_business_tax_when_there_is_no_tax(crm: Crm, session: Session) -> None:
    first = crm("init").output
    assert "Seeded the default tax: 營業稅 VAT 5 %." in first
    assert "Seeded" not in crm("init").output
    session.rollback()
    assert [(t.name, t.rate) for t in session.scalars(taxes.listed())] == [("營業稅 VAT", D(5))]
    session.rollback()
    added = crm("products", "add", "--name", "Widget", "--price", "100").output
    assert added.startswith("Added product PRO1")
    session.rollback()
    assert [t.name for t in products.tax_classes(session, products.find(session, "PRO1"))] == ["營業稅 VAT"]
