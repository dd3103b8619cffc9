"""Products, stock and an account's transactions in a real browser (Debian's Chromium via Playwright): a manager opens
the products list, adds a product (an error beside its field first), uploads a product's picture and sees it on its
page, adjusts its stock, finds it gone from the low-stock list, and opens an account's Transactions tab. Screenshots
in English, Traditional Chinese and at phone width are kept in tests/artifacts/. Pages must run without a script
error or a CSP violation (the `page` fixture).

Only SQLite: the browser side does not depend on the database (tests/test_staff_products.py and
tests/test_staff_transactions.py cover both).
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import FilePayload, Page, ViewportSize, expect
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.records import lifecycle as records
from crm_store.sales import documents, payments
from crm_store.settings import company
from crm_store.staff import passwords, users

from .browser_support import LiveServer
from .sales_support import make_shop, two_lines
from .test_browser_documents import sign_in
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
PHONE: ViewportSize = {"width": 390, "height": 844}
WIDE: ViewportSize = {"width": 1280, "height": 800}


def widget_png() -> bytes:
    """A small picture of a widget: a rounded box with a dial."""
    image = Image.new("RGB", (240, 240), "#f4f6fb")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((40, 60, 200, 190), radius=24, fill="#2456c9")
    draw.ellipse((90, 95, 150, 155), fill="#ffffff")
    draw.line((120, 125, 140, 105), fill="#2456c9", width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_manager_checks_a_product_adjusts_its_stock_and_reads_an_accounts_transactions(
    page: Page, crm_server: LiveServer, session: Session  # noqa: F811 - the fixtures
) -> None:
    company.set_value(session, "time_zone", "Asia/Taipei")
    manager = users.add_user(session, "lin@leadline.test", "林經理", role="manager", language="en", welcome=False)
    passwords.set_password(session, manager, CHOSEN)
    shop = make_shop(session)
    actor = Actor.user(manager.id)
    gadget = shop.gadget
    gadget.specifications = [{"name": "Voltage 電壓", "value": "110 V"}, {"name": "Weight 重量", "value": "1.2 kg"}]
    gadget.category, gadget.manufacturer = "Hardware", None
    account = records.create(session, "accounts", {"name": "大明貿易股份有限公司", "owner_id": manager.id}, actor)
    quote = documents.create(session, "quotes", {"subject": "辦公室設備 Office kit", "account_id": account.id,
                                                 "owner_id": manager.id}, two_lines(shop), actor).document
    invoice = documents.create(session, "invoices", {"subject": "辦公室設備 Office kit", "account_id": account.id,
                                                     "owner_id": manager.id, "invoice_date": dt.date(2026, 3, 2),
                                                     "quote_id": quote.id}, two_lines(shop), actor).document
    payments.add_payment(session, invoice, {"paid_on": "2026-03-09", "amount": "2000", "method": "Bank Transfer"},
                         actor)
    gadget_no, account_no, invoice_no = gadget.product_no, account.account_no, invoice.invoice_no
    book_no = shop.book.price_book_no
    session.commit()

    sign_in(page, crm_server, "lin@leadline.test", "/")
    page.locator("details.morenav > summary").click()
    page.get_by_role("link", name="Products").click()
    expect(page.locator("h1")).to_have_text("Products")
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.locator("tbody tr").filter(has_text="Gadget").locator(".badge--warning")).to_have_text("Low stock")
    shoot(page, "staff_products_en")

    page.get_by_role("link", name="New product").click()
    page.get_by_label("Product name").fill("Cable 線材")
    page.get_by_label("Product code").fill("gad-2")
    page.get_by_label("Unit price").fill("99.5")
    page.get_by_label("Specifications").fill("Length: 2 m\nColour: 黑色")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#product_code-error")).to_contain_text(f"'gad-2' is already the code of {gadget_no}")
    shoot(page, "staff_product_new_error_en")
    page.get_by_label("Product code").fill("CAB-2")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Cable 線材")
    expect(page.locator(".specs tr")).to_have_count(2)
    page.goto(crm_server.url("/products"))

    page.get_by_role("link", name="Low stock").first.click()
    expect(page.locator("h1")).to_have_text("Low stock")
    expect(page.locator("tbody tr")).to_have_count(1)
    shoot(page, "staff_low_stock_en")
    page.get_by_role("link", name="Gadget").click()
    expect(page.locator("h1")).to_have_text("Gadget")
    page.set_input_files("#image", files=[FilePayload(name="gadget.png", mimeType="image/png", buffer=widget_png())])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash--success")).to_have_text(f"The picture of {gadget_no} is saved.")
    image = page.locator(".product__image img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 240  # the image itself, not a broken icon
    expect(page.locator("#in-stock")).to_have_text("8")  # 10, less the invoice's 2
    expect(page.locator(".specs")).to_contain_text("Voltage 電壓")
    stock = page.locator("#stock")
    stock.get_by_label("Change by").fill("24")
    stock.get_by_label("Reason").fill("Received from supplier 供應商進貨")
    shoot(page, "staff_product_en")
    stock.get_by_role("button", name="Adjust stock").click()
    expect(page.locator(".flash--success")).to_have_text(f"The stock of {gadget_no} is now 32.")
    expect(page.locator("#in-stock")).to_have_text("32")
    expect(stock.locator(".timeline__item").first).to_contain_text("Received from supplier 供應商進貨")
    shoot(page, "staff_product_adjusted_en")

    page.goto(crm_server.url("/low-stock"))
    expect(page.locator(".empty__title")).to_have_text("Nothing is running low")  # 32 is above the 20 reorder level

    page.goto(crm_server.url(f"/accounts/{account_no}"))
    expect(page.locator(".tabs [aria-current=page]")).to_have_text("Details")
    shoot(page, "staff_account_details_en")
    page.get_by_role("link", name="Transactions").click()
    expect(page.locator("h1")).to_have_text("大明貿易股份有限公司")
    rows = page.locator("#transactions tbody tr")
    expect(rows).to_have_count(3)  # the quote, the invoice and its payment
    expect(rows.filter(has_text=invoice_no).filter(has_text="Office kit").locator(".badge")).to_have_text("Unpaid")
    expect(page.locator("#bought tbody tr")).to_have_count(2)
    shoot(page, "staff_account_transactions_en")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator(".tabs [aria-current=page]")).to_have_text("交易")
    expect(page.locator("#bought h2")).to_have_text("已購買產品")
    shoot(page, "staff_account_transactions_zh_Hant")
    page.set_viewport_size(PHONE)
    shoot(page, "staff_account_transactions_phone_zh_Hant")
    page.set_viewport_size(WIDE)

    page.goto(crm_server.url(f"/products/{gadget_no}"))
    expect(page.locator("#stock h2")).to_have_text("庫存")
    shoot(page, "staff_product_zh_Hant")
    page.set_viewport_size(PHONE)
    shoot(page, "staff_product_phone_zh_Hant")
    page.set_viewport_size(WIDE)
    page.goto(crm_server.url("/products"))
    expect(page.locator("h1")).to_have_text("產品")
    shoot(page, "staff_products_zh_Hant")
    page.set_viewport_size(PHONE)
    shoot(page, "staff_products_phone_zh_Hant")
    page.set_viewport_size(WIDE)
    page.goto(crm_server.url(f"/products/{gadget_no}/edit"))
    expect(page.get_by_label("產品名稱")).to_have_value("Gadget")
    shoot(page, "staff_product_edit_zh_Hant")
    page.goto(crm_server.url(f"/price-books/{book_no}"))
    shoot(page, "staff_price_book_zh_Hant")
