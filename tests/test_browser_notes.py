"""The Notes card in a real browser (Debian's Chromium via Playwright): a rep writes a memo with a reminder on an
invoice, sees it listed with its line breaks and its reminder, is told beside the field what is wrong, deletes
it; the card on a product's page in Traditional Chinese, at desktop and phone width. Screenshots are kept in
tests/artifacts/. Pages must run without a script error or a CSP violation (the `page` fixture).

Only SQLite: the browser side does not depend on the database (tests/test_staff_notes.py covers both).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import User
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.sales import documents
from crm_store.staff import passwords, users

from .browser_support import ARTIFACTS, LiveServer
from .sales_support import make_shop, two_lines
from .test_browser_documents import sign_in
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def test_a_rep_writes_a_memo_on_an_invoice_and_a_product_in_both_languages(
    page: Page, crm_server: LiveServer, session: Session  # noqa: F811 - the fixtures
) -> None:
    rep = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="en", time_zone="Asia/Taipei",
                         welcome=False)
    passwords.set_password(session, rep, CHOSEN)
    shop = make_shop(session)
    shop.account.owner_id = rep.id
    invoice = documents.create(session, "invoices", {
        "subject": "辦公室設備 Office kit", "account_id": shop.account.id, "owner_id": rep.id,
        "invoice_date": dt.date(2026, 3, 2)}, two_lines(shop), Actor.user(rep.id)).document
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    sent = activities.add_note(session, "客戶說下週付款。\nThey pay next week.", Actor.user(rep.id),
                               invoice_id=invoice.id, remind_at=earlier + dt.timedelta(hours=1), at=earlier)
    sent.reminded_at = sent.remind_at  # the reminders flow has emailed it
    lead = records.create_lead(session, {"last_name": "王", "first_name": "大明", "company": "大明貿易",
                                         "owner_id": rep.id}, Actor.user(rep.id))
    session.commit()
    number, product, rep_id, lead_no = invoice.invoice_no, shop.widget.product_no, rep.id, lead.lead_no
    session.commit()
    tomorrow = (dt.datetime.now(TAIPEI) + dt.timedelta(days=1)).date().isoformat()

    sign_in(page, crm_server, "mei@leadline.test", f"/invoices/{number}")
    notes = page.locator("#notes")
    expect(notes.locator("li")).to_have_count(1)
    notes.get_by_role("button", name="Add note").click()
    expect(page.locator("#note_body-error")).to_have_text("Write the note.")
    notes.get_by_label("Note", exact=True).fill("Call Mr. Wang about the balance\n王先生：確認尾款")
    notes.get_by_label("Date", exact=True).fill(tomorrow)
    notes.get_by_role("button", name="Add note").click()
    expect(page.locator("#note_remind_time-error")).to_have_text("Pick the time to be reminded at, or clear the date.")
    expect(notes.get_by_label("Note", exact=True)).to_have_value("Call Mr. Wang about the balance\n王先生：確認尾款")
    notes.scroll_into_view_if_needed()
    shoot(page, "staff_notes_error_en")
    notes.get_by_label("Time", exact=True).fill("09:30")
    notes.get_by_role("button", name="Add note").click()
    expect(page.locator(".flash--success")).to_contain_text("Your note is saved. You will be reminded on")
    expect(notes.locator("li")).to_have_count(2)
    newest = notes.locator("li").first
    expect(newest.locator(".timeline__detail")).to_have_text("Call Mr. Wang about the balance\n王先生：確認尾款")
    expect(newest.locator(".badge")).to_contain_text("Reminder set for")
    expect(notes.locator("li").nth(1).locator(".badge")).to_have_text("Reminded")
    notes.scroll_into_view_if_needed()
    shoot(page, "staff_notes_invoice_en")
    notes.screenshot(path=str(ARTIFACTS / "staff_notes_card_en.png"))

    page.set_viewport_size(PHONE)
    page.reload()
    shoot(page, "staff_notes_invoice_en_phone")

    page.set_viewport_size(DESKTOP)
    page.goto(crm_server.url(f"/leads/{lead_no}"))
    notes = page.locator("#notes")
    expect(notes).to_contain_text("No notes yet.")
    notes.get_by_label("Note", exact=True).fill("Prefers LINE to email.")
    notes.get_by_role("button", name="Add note").click()
    expect(page.locator(".flash--success")).to_have_text("Your note is saved.")
    expect(notes.locator("li .timeline__detail")).to_have_text("Prefers LINE to email.")
    expect(notes.locator("li .badge")).to_have_count(0)  # no reminder asked for
    notes.scroll_into_view_if_needed()
    shoot(page, "staff_notes_lead_en")
    notes.get_by_role("link", name="Edit the note").click()
    expect(page.locator("h1")).to_have_text("Edit note")
    page.get_by_label("Note", exact=True).fill("Prefers LINE to email.\nLINE ID: daming88")
    page.get_by_label("Date", exact=True).fill(tomorrow)
    page.get_by_label("Time", exact=True).fill("16:45")
    shoot(page, "staff_notes_edit_en")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash--success")).to_have_text("The note is saved.")
    expect(notes.locator("li .timeline__detail")).to_have_text("Prefers LINE to email.\nLINE ID: daming88")
    expect(notes.locator("li .badge")).to_contain_text("Reminder set for")

    session.get_one(User, rep_id).language = "zh_Hant"
    session.commit()
    page.set_viewport_size(DESKTOP)
    page.goto(crm_server.url(f"/products/{product}"))
    notes = page.locator("#notes")
    expect(notes.locator("h2")).to_have_text("備忘錄")
    notes.get_by_label("備忘內容").fill("供應商下個月漲價，\n先通知老客戶。")
    notes.get_by_label("日期").fill(tomorrow)
    notes.get_by_label("時間").fill("10:00")
    notes.get_by_role("button", name="新增備忘").click()
    expect(page.locator(".flash--success")).to_contain_text("備忘已儲存")
    expect(notes.locator("li .badge")).to_contain_text("提醒時間：")
    notes.scroll_into_view_if_needed()
    shoot(page, "staff_notes_product_zh")
    notes.screenshot(path=str(ARTIFACTS / "staff_notes_card_zh.png"))
    page.set_viewport_size(PHONE)
    page.reload()
    shoot(page, "staff_notes_product_zh_phone")

    notes.get_by_role("button", name="刪除").click()
    expect(page.locator(".flash--success")).to_have_text("備忘已刪除。")
    expect(notes.locator("li")).to_have_count(0)
    expect(notes).to_contain_text("還沒有備忘")
    page.goto(crm_server.url(f"/invoices/{number}"))
    expect(page.locator("#notes li")).to_have_count(2)
    shoot(page, "staff_notes_invoice_zh_phone")
