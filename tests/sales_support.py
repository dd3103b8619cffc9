"""A small shop for the sales tests: taxes, products and a service, price books, an account (made with the models)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Account, Currency, PriceBook, PriceBookPrice, Product, ProductTax, Tax
from crm_store.records import lifecycle, numbering
from crm_store.sales.totals import Document, Line, TaxRate, Totals, compute


@dataclass
class Shop:
    """What the tests sell, and to whom."""

    vat: Tax
    local: Tax
    widget: Product  # WID-1, NT$1,250, 100 in stock, VAT
    gadget: Product  # GAD-2, NT$333, 10 in stock, VAT and Local
    install: Product  # SVC-1, a service, NT$2,000, VAT
    book: PriceBook  # TWD: the widget at NT$1,000
    usd_book: PriceBook
    account: Account
    twd: Currency
    usd: Currency


def currency(session: Session, code: str) -> Currency:
    return session.scalars(select(Currency).where(Currency.code == code)).one()


def add_product(session: Session, code: str, name: str, price: str | None, stock: str | None, taxes: list[Tax],
                cur: Currency, kind: str = "product", reorder: str | None = None) -> Product:
    product = Product(product_no=numbering.allocate(session, "products")[0], product_code=code, name=name,
                      unit_price=D(price) if price is not None else None, currency_id=cur.id, product_type=kind,
                      qty_in_stock=D(stock) if stock is not None else None,
                      reorder_level=D(reorder) if reorder is not None else None)
    session.add(product)
    session.flush()
    session.add_all(ProductTax(product_id=product.id, tax_id=t.id) for t in taxes)
    session.flush()
    return product


def add_book(session: Session, name: str, cur: Currency, prices: dict[Product, str]) -> PriceBook:
    book = PriceBook(price_book_no=numbering.allocate(session, "price_books")[0], name=name, currency_id=cur.id)
    session.add(book)
    session.flush()
    session.add_all(PriceBookPrice(price_book_id=book.id, product_id=p.id, list_price=D(v)) for p, v in prices.items())
    session.flush()
    return book


def make_shop(session: Session) -> Shop:
    """Taxes, two products and a service, two price books and an account, committed."""
    twd, usd = currency(session, "TWD"), currency(session, "USD")
    vat = Tax(name="VAT 營業稅", rate=D("5"), position=1, applies_to_shipping=True)
    local = Tax(name="Local", rate=D("2.5"), position=2)
    session.add_all([vat, local])
    session.flush()
    widget = add_product(session, "WID-1", "Widget 小工具", "1250", "100", [vat], twd, reorder="5")
    gadget = add_product(session, "GAD-2", "Gadget", "333", "10", [vat, local], twd, reorder="20")
    install = add_product(session, "SVC-1", "Installation", "2000", None, [vat], twd, kind="service")
    book = add_book(session, "Dealers", twd, {widget: "1000"})
    usd_book = add_book(session, "Export", usd, {widget: "40"})
    account = lifecycle.create_account(session, {"name": "台北貿易股份有限公司", "bill_city": "台北市"})
    session.commit()
    return Shop(vat, local, widget, gadget, install, book, usd_book, account, twd, usd)


def two_lines(shop: Shop) -> list[dict[str, Any]]:
    """A widget at its price with 10 % off, and two gadgets with NT$66 off."""
    return [
        {"product": "WID-1", "quantity": "3", "discount_kind": "percent", "discount_value": "10"},
        {"product": shop.gadget.product_no, "quantity": 2, "discount_kind": "amount", "discount_value": "66",
         "comment": "rush"},
    ]


def recomputed(doc: Any, lines: list[Any], minor_unit: int) -> Totals:
    """The totals computed again from a stored document's parts (its lines, rates, discounts and charges)."""
    def rates(applied: list[dict[str, Any]]) -> list[TaxRate]:
        return [TaxRate(t["tax_id"], t["name"], D(t["rate"])) for t in applied]

    return compute(Document(
        lines=[Line(item.quantity, item.list_price, item.discount_kind, item.discount_value, rates(item.taxes))
               for item in lines],
        minor_unit=minor_unit, tax_mode=doc.tax_mode, prices_include_tax=doc.prices_include_tax,
        group_taxes=rates(doc.taxes) if doc.tax_mode == "group" else (), discount_percent=doc.discount_percent,
        discount_amount=doc.discount_amount, shipping_amount=doc.shipping_amount,
        shipping_taxes=rates(doc.shipping_taxes), adjustment=doc.adjustment,
    ))


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0
