"""Quotes to invoices in a real browser (Debian's Chromium via Playwright), in Traditional Chinese: a rep builds a
quote of two lines in the line editor — products found by typing, the totals block the store computes changing as
they edit — saves it, converts it to an invoice with one click, records a partial payment, prints it and sends it
(the email with its PDF is in the outbox). Screenshots of the editor in both languages and at phone width, the
invoice and the confirmation are kept in tests/artifacts/. Pages must run without a script error or a CSP
violation (the `page` fixture of tests/test_browser_staff.py).

Only SQLite: tests/test_staff_sales_documents.py covers both databases.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.models import Invoice, OutboxMessage, Quote
from crm_store.records import lifecycle
from crm_store.sales import documents
from crm_store.settings import company
from crm_store.staff import passwords, users

from .browser_support import LiveServer
from .sales_support import make_shop
from .test_browser_documents import sign_in
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)


def shown(session: Session, account_id: int, lines: list[dict[str, Any]], language: str = "zh_Hant",
          **charges: str) -> str:
    """The grand total the store computes for these lines (and overall discount, shipping, adjustment), as the page
    shows it in `language`."""
    clean, draft = documents.prepare(session, "quotes", {"subject": "x", "account_id": account_id, **charges}, lines)
    total = documents.compute_totals(session, clean, draft).grand_total
    session.rollback()
    return languages.format_money(total, "TWD", 0, language)


def test_a_quote_of_two_lines_becomes_a_paid_in_part_invoice_printed_and_sent(
    page: Page, crm_server: LiveServer, session: Session, env: dict[str, str]  # noqa: F811 - the fixtures
) -> None:
    company.set_value(session, "time_zone", "Asia/Taipei")
    shop = make_shop(session)
    rep = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="zh_Hant", welcome=False)
    passwords.set_password(session, rep, CHOSEN)
    shop.account.owner_id = rep.id
    lifecycle.create(session, "contacts", {"last_name": "王", "first_name": "小華", "email": "hua@daming.example",
                                           "account_id": shop.account.id, "owner_id": rep.id})
    session.commit()
    account_id = shop.account.id
    widget = {"product": "WID-1", "quantity": "3"}
    gadget = {"product": "GAD-2", "quantity": "2", "discount_kind": "amount", "discount_value": "66"}

    sign_in(page, crm_server, "mei@leadline.test", "/quotes/new")
    expect(page.locator("h1")).to_have_text("新增報價單")
    expect(page.locator("[data-totals-block]")).to_contain_text("加入產品與數量即可看到總計。")
    page.locator("#subject").fill("辦公室設備 Office kit")
    page.locator("#account_id").select_option(str(account_id))
    page.locator("#contact_id").select_option(label="王小華 <hua@daming.example>")

    page.locator("#lines-0-product").press_sequentially("小工具")
    page.get_by_role("option", name="Widget 小工具").click()
    expect(page.locator("#lines-0-product")).to_have_value("WID-1")
    page.locator("#lines-0-quantity").fill("3")
    grand = page.locator("[data-grand-total]")
    expect(grand).to_have_text(shown(session, account_id, [widget]))
    page.locator("#lines-1-product").press_sequentially("gad")  # chosen with the keyboard
    expect(page.get_by_role("option", name="Gadget")).to_be_visible()
    page.locator("#lines-1-product").press("ArrowDown")
    expect(page.get_by_role("option", name="Gadget")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#lines-1-product")).to_have_value("GAD-2")
    page.locator("#lines-1-quantity").fill("2")
    page.locator("#lines-1-discount_kind").select_option("amount")
    page.locator("#lines-1-discount_value").fill("66")
    page.locator("#lines-1-comment").fill("急件")
    expect(grand).to_have_text(shown(session, account_id, [widget, gadget]))
    page.locator("#lines-0-quantity").fill("5")
    expect(grand).to_have_text(shown(session, account_id, [widget | {"quantity": "5"}, gadget]))
    page.get_by_role("button", name="新增品項").click()
    expect(page.locator("tr.lines__row")).to_have_count(3)
    expect(page.locator("#lines-2-product")).to_be_focused()
    page.locator("#lines-0-quantity").fill("-1")
    expect(page.locator("[data-totals-block]")).to_contain_text("請先修正這一點才能計算總計：第 1 項，數量：")
    shoot(page, "sales_editor_error_zh_Hant")
    page.locator("#lines-0-quantity").fill("5")
    expect(grand).to_have_text(shown(session, account_id, [widget | {"quantity": "5"}, gadget]))
    charges = {"discount_percent": "5", "shipping_amount": "300", "adjustment": "-20"}
    page.locator("#discount_percent").fill("5")
    page.locator("#shipping_amount").fill("300")
    page.locator("#adjustment").fill("-20")
    expect(grand).to_have_text(shown(session, account_id, [widget | {"quantity": "5"}, gadget], **charges))
    expect(page.locator("[data-totals-block]")).to_contain_text("運費稅額")
    shoot(page, "sales_editor_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "sales_editor_phone_zh_Hant")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="儲存").click()
    expect(page.locator(".flash--success")).to_contain_text("已儲存")
    quote = session.scalars(select(Quote)).one()
    quote_no, total = quote.quote_no, quote.grand_total
    session.rollback()
    expect(page.locator("h1")).to_have_text("辦公室設備 Office kit")
    expect(page.locator("tbody tr")).to_have_count(2)

    page.get_by_role("button", name="轉為請款單").click()
    expect(page.locator(".flash--success")).to_contain_text(f"已從 {quote_no} 建立")
    invoice = session.scalars(select(Invoice)).one()
    invoice_no = invoice.invoice_no
    session.rollback()
    assert page.url.endswith(f"/invoices/{invoice_no}")
    page.locator("#amount").fill("1000")
    page.locator("#method").select_option("Cash")
    page.get_by_role("button", name="記錄付款").click()
    balance = languages.format_money(total - Decimal(1000), "TWD", 0, "zh_Hant")
    expect(page.locator("[data-balance]")).to_have_text(balance)
    expect(page.locator("#payments tbody tr")).to_have_count(1)
    shoot(page, "sales_invoice_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "sales_invoice_phone_zh_Hant")
    page.set_viewport_size({"width": 1280, "height": 800})

    with page.expect_popup() as opened:
        page.get_by_role("link", name="列印").click()
    printed = opened.value
    expect(printed.locator("body")).to_contain_text(invoice_no)
    expect(printed.locator("body")).to_contain_text("台北貿易股份有限公司")
    printed.close()

    page.get_by_role("link", name="寄給客戶").click()
    expect(page.locator(".send__to")).to_contain_text("hua@daming.example")
    shoot(page, "sales_send_zh_Hant")
    page.get_by_role("button", name="送出", exact=True).click(timeout=30_000)  # renders the PDF: slow on a busy machine
    expect(page.locator(".flash--success")).to_contain_text("hua@daming.example")
    expect(page.locator("#documents")).to_contain_text(f"{invoice_no}.pdf")
    expect(page.locator("section[aria-labelledby=activities-title]")).to_contain_text("hua@daming.example")
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "sales_document")).one()
    assert (message.recipient, message.language) == ("hua@daming.example", "zh_Hant")
    [attached] = message.attachments
    session.rollback()
    assert attached["filename"] == f"{invoice_no}.pdf"
    assert (Path(env["CRM_DATA_DIR"]) / attached["path"]).read_bytes().startswith(b"%PDF")

    page.get_by_role("button", name="English").click()
    page.goto(crm_server.url(f"/invoices/{invoice_no}/edit"))
    expect(page.locator("h1")).to_have_text(f"Edit {invoice_no}")
    expect(page.locator("[data-grand-total]")).to_have_text(languages.format_money(total, "TWD", 0, "en"))
    expect(page.locator("#shipping_amount")).to_have_value("300")
    expect(page.locator("#adjustment")).to_have_value("-20")
    shoot(page, "sales_editor_en")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "sales_editor_phone_en")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.locator("details.morenav > summary").click()
    page.get_by_role("link", name="Invoices").click()
    expect(page.locator("h1")).to_have_text("Invoices")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr td").nth(5)).to_have_text(languages.format_money(total - 1000, "TWD", 0, "en"))
    shoot(page, "sales_invoices_en")
