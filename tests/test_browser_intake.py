"""Web forms and the quarantine in a real browser (Debian's Chromium via Playwright): an admin copies a form's
embed snippet, releases a held submission and follows the link to the lead it made, in English and 繁體中文.

Screenshots kept in tests/artifacts/: staff_web_forms_*, staff_web_form_*, staff_quarantine_* (and the
quarantine on a phone). Pages must run without a script error or a CSP violation (the `page` fixture).
Only SQLite: the browser side does not depend on the database (tests/test_staff_intake.py covers both).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.capture import submissions as capture
from crm_store.config import load_config
from crm_store.models import WebForm, utcnow
from crm_store.staff import passwords, teams, users

from .browser_support import LiveServer
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)


def hold(session: Session, form: WebForm, reason: str, minutes_ago: int, first: str, last: str, email: str,
         message: str | None = None, company: str | None = None) -> None:
    values = {"first_name": first, "last_name": last, "email": email, "message": message, "company": company}
    values = {k: v for k, v in values.items() if v}
    capture.receive(session, capture.Inbound(
        form=session.get_one(WebForm, form.id), client_key=uuid.uuid4().hex, raw=dict(values), values=values,
        spam_reason=reason,
    ), at=utcnow() - dt.timedelta(minutes=minutes_ago))


def open_more(page: Page, label: str, item: str) -> None:  # noqa: F811 - a tab, not the fixture
    """Open the header's More menu (`label`) and follow `item`."""
    page.locator("details.morenav > summary", has_text=label).click()
    page.locator("details.morenav").get_by_role("link", name=item).click()


def test_an_admin_copies_the_snippet_and_releases_a_held_inquiry(page: Page, crm_server: LiveServer,  # noqa: F811
                                                                 session: Session, web_form: WebForm,
                                                                 reps: Any) -> None:
    admin = users.add_user(session, "boss@leadline.test", "張經理 Chang", role="admin", language="en", welcome=False)
    passwords.set_password(session, admin, CHOSEN)
    teams.add_team(session, "北區業務", admin.email)
    fair = webforms.add_form(session, {"name": "台北國際食品展 Food Taipei", "language": "zh_Hant", "team": "北區業務",
                                       "allowed_origins": ["https://www.example.com.tw"]})
    session.commit()
    for i in range(4):
        capture.receive(session, capture.Inbound(
            form=session.get_one(WebForm, web_form.id), client_key=uuid.uuid4().hex, raw={},
            values={"last_name": f"Lead {i}", "email": f"lead{i}@example.com"}), at=utcnow() - dt.timedelta(days=i))
    hold(session, web_form, "honeypot filled in", 5, "Grace", "Lin", "grace@formosa-tea.example",
         "We would like a quote for 200 boxes of oolong tea for our shops in Taichung.", "Formosa Tea")
    hold(session, fair, "filled in 1.4 s (minimum 3 s)", 40, "美玲", "林", "meiling@morninglight.example.tw",
         "請問展覽期間可以安排試吃嗎？", "晨光食品")
    hold(session, web_form, "link or HTML in last_name", 90, "Buy", "<a href=http://pills.example>now</a>",
         "pills@spam.example", "<b>CHEAP</b> http://pills.example")
    hold(session, fair, "render token used before", 300, "志明", "陳", "chen@sunrise.example.tw")
    hold(session, web_form, "could not be processed: industry: 'Mining' is not one of the choices", 2000,
         "Kevin", "Wu", "kevin@wu-mining.example")
    session.commit()

    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("boss@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()

    open_more(page, "More", "Web forms")
    expect(page.locator("h1")).to_have_text("Web forms")
    expect(page.locator("tbody tr")).to_have_count(2)
    website = page.locator("tbody tr", has_text="Website inquiry")
    expect(website.locator("td.num")).to_have_text(["4", "3", "7"])  # accepted, in quarantine, total
    shoot(page, "staff_web_forms_en")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=crm_server.url())
    website.get_by_role("link", name="Website inquiry", exact=True).click()
    expect(page.locator("h1")).to_have_text("Website inquiry")
    snippet = webforms.embed_snippet(load_config().base_url, web_form.public_id)
    expect(page.locator("#embed-snippet")).to_have_value(snippet)
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copy__status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    shoot(page, "staff_web_form_en")

    open_more(page, "More", "Quarantine")
    expect(page.locator("h1")).to_have_text("Quarantine")
    expect(page.locator("tbody tr")).to_have_count(5)
    expect(page.locator("tbody tr").first).to_contain_text("Honeypot filled in")
    expect(page.locator("tbody tr", has_text="pills@spam.example")).to_contain_text(
        "<a href=http://pills.example>now</a>")  # shown as typed, never as a link
    expect(page.locator("tbody a", has_text="now")).to_have_count(0)
    shoot(page, "staff_quarantine_en")

    page.get_by_role("button", name="Release Grace Lin").click()
    flash = page.locator(".flash--success")
    expect(flash).to_contain_text("Released: it is now the new lead")
    expect(page.locator("tbody tr")).to_have_count(4)
    flash.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("Grace Lin")
    expect(page.locator("main")).to_contain_text("grace@formosa-tea.example")

    page.get_by_role("button", name="繁體中文").click()
    open_more(page, "更多", "網站表單")
    expect(page.locator("h1")).to_have_text("網站表單")
    expect(page.locator("tbody tr", has_text="Website inquiry").locator("td.num")).to_have_text(["5", "2", "7"])
    shoot(page, "staff_web_forms_zh_Hant")
    page.get_by_role("link", name="台北國際食品展 Food Taipei", exact=True).click()
    expect(page.locator("#fields-title")).to_have_text("欄位")
    expect(page.locator("main")).to_contain_text("https://www.example.com.tw")
    shoot(page, "staff_web_form_zh_Hant")
    open_more(page, "更多", "隔離區")
    expect(page.locator("h1")).to_have_text("隔離區")
    expect(page.locator("tbody tr", has_text="林美玲")).to_contain_text("填寫太快：1.4 秒就送出（至少需 3 秒）")
    shoot(page, "staff_quarantine_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_quarantine_phone_zh_Hant")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="丟棄 Buy <a href=http://pills.example>now</a> 的資料").click()
    expect(page.locator(".flash--success")).to_contain_text("已確認為垃圾訊息並丟棄")
    expect(page.locator("tbody tr")).to_have_count(3)
