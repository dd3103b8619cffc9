"""The staff web app in a real browser (Debian's Chromium via Playwright): from the welcome email to My day.

A new rep opens the welcome email's link, chooses a password, signs out and in again, switches the pages
to 繁體中文 and signs out. Screenshots of the sign-in page and My day in both languages (and My day on a
phone) are kept in tests/artifacts/. Pages must run without a script error or a CSP violation.

Only SQLite: the browser side does not depend on the database (tests/test_staff_*.py cover both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.config import load_config
from crm_store.models import User
from crm_store.staff import passwords, users
from emails.worker import send_all_due

from .browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, LiveServer
from .test_staff_auth import delivered_link

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
expect.set_options(timeout=TIMEOUT_MS)
CHOSEN = "jasmine tea at four"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `sh .ci/system-deps.sh` as root (or set LEADLINE_CHROMIUM)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
    yield browser
    browser.close()


@pytest.fixture
def crm_server(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A tab in a fresh English context; fails the test on a script error or a console error (a CSP violation)."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(str(exc)))

    def console(message: ConsoleMessage) -> None:
        # A page answered 401/422 logs "Failed to load resource": expected here. A CSP violation says "Refused".
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    def failed(response: Any) -> None:
        if response.status == 404:
            problems.append(f"404 for {response.url}")  # a missing stylesheet, script or icon

    tab.on("console", console)
    tab.on("response", failed)
    yield tab
    context.close()
    assert not problems, f"errors in the page: {problems}"


def shoot(page: Page, name: str) -> Path:
    """Keep a full-page screenshot in tests/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5 * 1024, shot
    return shot


def sign_out(page: Page, label: str) -> None:
    page.locator("details.usermenu > summary").click()
    page.get_by_role("button", name=label).click()


def test_from_the_welcome_email_to_my_day_in_both_languages(page: Page, crm_server: LiveServer, env: Any,
                                                            session: Session) -> None:
    rep_id = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="en").id
    session.commit()
    link = delivered_link(env["CRM_DATA_DIR"], "welcome", "set-password")

    page.goto(crm_server.url(link))
    expect(page.locator("h1")).to_have_text("Choose your password")
    page.get_by_label("New password", exact=True).fill(CHOSEN)
    page.get_by_label("New password again").fill(CHOSEN + "!")
    page.get_by_role("button", name="Save password and sign in").click()
    expect(page.locator("#password_again-error")).to_have_text("The two passwords are not the same.")
    expect(page.get_by_label("New password again")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("New password", exact=True).fill(CHOSEN)
    page.get_by_label("New password again").fill(CHOSEN)
    page.get_by_role("button", name="Save password and sign in").click()
    expect(page.locator(".flash--success")).to_have_text("Your password is set. Welcome to Leadline!")
    expect(page.locator("h1")).to_have_text("Hello, 林美玲")

    sign_out(page, "Sign out")
    expect(page.locator("h1")).to_have_text("Sign in to Leadline")
    expect(page.locator(".flash--success")).to_have_text("You are signed out.")
    page.get_by_label("Email").fill("mei@leadline.test")
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".alert")).to_have_text("The email address or password is not right.")
    shoot(page, "staff_sign_in_en")

    page.wait_for_timeout(1100)  # the growing delay after one failure: a second
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Hello, 林美玲")
    expect(page.locator("nav.mainnav a[aria-current=page]")).to_have_text("My day")
    assert page.get_attribute("html", "lang") == "en"
    shoot(page, "staff_my_day_en")

    page.locator("details.usermenu > summary").click()
    expect(page.get_by_role("link", name="Profile")).to_be_visible()
    page.keyboard.press("Escape")  # the menu closes (staff.js)
    expect(page.get_by_role("link", name="Profile")).to_be_hidden()

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("林美玲，您好")
    assert page.get_attribute("html", "lang") == "zh-Hant-TW"
    expect(page.locator("nav.mainnav")).to_contain_text("潛在客戶")
    shoot(page, "staff_my_day_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("nav.mainnav")).to_be_visible()
    shoot(page, "staff_my_day_phone_zh_Hant")
    page.set_viewport_size({"width": 1280, "height": 800})

    sign_out(page, "登出")
    expect(page.locator("h1")).to_have_text("登入 Leadline")  # the language the user chose, after sign-out too
    expect(page.locator(".flash--success")).to_have_text("您已登出。")
    shoot(page, "staff_sign_in_zh_Hant")

    session.expire_all()
    row = session.scalar(select(User).where(User.id == rep_id))
    assert row is not None and row.language == "zh_Hant" and passwords.verify_password(CHOSEN, row.password_hash)
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    assert send_all_due(load_config())["sent"] == 0  # nothing else was queued along the way


def test_an_admin_adds_a_user_and_a_rep_keeps_a_profile(page: Page, crm_server: LiveServer, session: Session) -> None:
    admin = users.add_user(session, "boss@leadline.test", "張經理 Chang", role="admin", welcome=False)
    passwords.set_password(session, admin, CHOSEN)
    session.commit()
    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("boss@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()

    more = page.locator("nav.mainnav .morenav")  # the admin pages are under "More"
    more.locator("summary").click()
    more.get_by_role("link", name="Users").click()
    expect(page.locator("h1")).to_have_text("Users")
    page.get_by_role("link", name="Add user").click()
    page.get_by_label("Name").fill("陳志明")
    page.get_by_label("Email").fill("rep1@leadline.test")  # taken
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("#email-error")).to_contain_text("already exists")
    shoot(page, "staff_user_add_errors_en")
    page.get_by_label("Email").fill("chen@leadline.test")
    page.get_by_label("Role").select_option("manager")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash--success")).to_contain_text("陳志明 is added.")
    expect(page.locator("tbody")).to_contain_text("chen@leadline.test")
    shoot(page, "staff_users_en")

    page.get_by_role("button", name="繁體中文").click()
    page.locator("details.usermenu > summary").click()
    page.get_by_role("link", name="個人資料").click()
    expect(page.locator("h1")).to_have_text("個人資料")
    page.get_by_label("時區").select_option("Asia/Taipei")
    page.get_by_label("開始日期").fill("2026-12-28")
    page.get_by_label("結束日期").fill("2026-12-24")
    page.get_by_role("button", name="儲存個人資料").click()
    expect(page.locator("#out_of_office_to-error")).to_have_text("最後一天不可早於第一天。")
    shoot(page, "staff_profile_errors_zh_Hant")
    page.get_by_label("結束日期").fill("2026-12-31")
    page.get_by_role("button", name="儲存個人資料").click()
    expect(page.locator(".flash--success")).to_have_text("已儲存您的個人資料。")
    expect(page.get_by_label("結束日期")).to_have_value("2026-12-31")


def test_the_automation_page_and_my_day_s_aging_leads_in_both_languages(page: Page, crm_server: LiveServer,
                                                                        session: Session) -> None:
    import datetime as dt

    from sqlalchemy import update

    from crm_store.actor import Actor
    from crm_store.models import Lead, Opportunity, SalesStage, utcnow
    from crm_store.records import lifecycle as records

    from .test_staff_automation import flow_run, message

    now = utcnow()
    admin = users.add_user(session, "boss@leadline.test", "張經理 Chang", role="admin", language="en", welcome=False)
    rep = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="en", welcome=False)
    for user in (admin, rep):
        passwords.set_password(session, user, CHOSEN)
    idle = [("王", "大明", "大明貿易", "stale", 41), ("Chen", "Grace", "Formosa Tea", "stale", 33),
            ("Lin", "Kevin", None, "aging", 12), ("黃", "美華", "台北設計", "aging", 8)]
    for last, first, company_name, state, days in idle:
        lead = records.create_lead(session, {"last_name": last, "first_name": first, "company": company_name,
                                             "owner_id": rep.id, "status": "Attempted to Contact"},
                                   Actor.system("t"), at=now - dt.timedelta(days=days + 5))
        session.execute(update(Lead).where(Lead.id == lead.id).values(
            aging_state=state, idle_days=days, last_touch_at=now - dt.timedelta(days=days)))
    deal = records.create(session, "opportunities", {"name": "年度茶葉採購 Annual tea order", "owner_id": rep.id,
                                                     "amount": "480000", "expected_close_date": "2026-12-31"},
                          Actor.system("t"))
    session.execute(update(Opportunity).where(Opportunity.id == deal.id).values(
        idle_days=23, rotting_since=now - dt.timedelta(days=9)))
    session.execute(update(SalesStage).where(SalesStage.id == deal.stage_id).values(rotting_days=14))
    session.commit()
    for i in range(6):
        flow_run(session, "assign-leads", "completed", now - dt.timedelta(minutes=10 * (6 - i)),
                 counts={"assigned": i * 3, "pooled": 1, "to_manager": 0, "unassigned": 0, "emails": i,
                         "cadences_started": i * 3})
    flow_run(session, "sla-escalation", "completed", now - dt.timedelta(minutes=7),
             counts={"reminded": 2, "escalated": 1, "reassigned": 0})
    flow_run(session, "lead-aging", "completed", now - dt.timedelta(days=1),
             counts={"aging": 4, "stale": 2, "cold": 0, "notices": 2, "rotting": 1})
    flow_run(session, "lead-aging", "failed", now - dt.timedelta(hours=2), counts={"aging": 0},
             errors="OperationalError: (sqlite3.OperationalError) database is locked\n[SQL: UPDATE leads SET ...]")
    message(session, "bounced", "failed", now - dt.timedelta(hours=3), attempts=8,
            last_error="550 5.1.1 <old@example.com>: Recipient address rejected: User unknown")
    message(session, "later", "retrying", now + dt.timedelta(minutes=40), attempts=3,
            last_error="421 4.7.0 Try again later")
    message(session, "done", "sent", now - dt.timedelta(hours=1))

    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("boss@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()
    banner = page.locator("section.banner")
    expect(banner).to_contain_text("The last run of lead-aging failed.")
    expect(banner).to_contain_text("1 email could not be delivered in the last 24 hours.")
    banner.get_by_role("link", name="Open Automation").click()
    expect(page.locator("h1")).to_have_text("Automation")
    expect(page.locator("nav.mainnav .morenav a[aria-current=page]")).to_have_text("Automation")
    expect(page.locator("nav.mainnav .morenav summary")).to_have_attribute("aria-current", "page")
    page.locator("#flow-assign-leads details > summary").click()
    expect(page.locator("#flow-assign-leads details tbody tr")).to_have_count(6)
    shoot(page, "staff_automation_en")
    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("自動化")
    expect(banner).to_contain_text("lead-aging 最近一次執行失敗。")
    shoot(page, "staff_automation_zh_Hant")
    sign_out(page, "登出")

    page.get_by_label("電子郵件").fill("mei@leadline.test")
    page.get_by_label("密碼").fill(CHOSEN)
    page.get_by_role("button", name="登入").click()
    expect(page.locator("h1")).to_have_text("Hello, 林美玲")  # in her own language
    expect(page.locator("section.banner")).to_have_count(0)  # for admins only
    aging = page.locator("section[aria-labelledby=aging-title]")
    expect(aging.locator(".item__title a")).to_have_text(["王大明", "Grace Chen", "Kevin Lin", "黃美華"])
    expect(page.locator("section[aria-labelledby=rotting-title]")).to_contain_text("its stage allows 14 days")
    aging.locator(".item").first.get_by_text("Log a call or follow up").click()
    shoot(page, "staff_my_day_aging_en")
    aging.locator(".item__title a").first.click()
    expect(page.locator("#fact-aging")).to_contain_text("Idle 41 days")
    shoot(page, "staff_lead_follow_up_en")
    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("#fact-aging")).to_contain_text("閒置 41 天")
    page.get_by_role("link", name="我的一天").click()
    expect(page.locator("#aging-title")).to_have_text("老化與停滯的潛在客戶")
    shoot(page, "staff_my_day_aging_zh_Hant")
