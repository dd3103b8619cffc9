"""Duplicates, merge and the recycle bin in a real browser (Debian's Chromium via Playwright).

A rep finds two leads of the same person among their duplicates, merges them choosing field by field, sees the
merge on the kept lead's timeline and undoes it from there; then looks at the recycle bin and restores a lead
that duplicates a live one (the warning links to both). Screenshots of the duplicates, the merge page and the bin
in both languages (and the merge page on a phone) are kept in tests/artifacts/. Pages must run without a script
error or a CSP violation (the `page` fixture of tests/test_browser_staff.py).

Only SQLite: the browser side does not depend on the database (tests/test_staff_cleanup.py covers both).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Activity, Lead, utcnow
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.records import merge as merging
from crm_store.records import registry
from crm_store.staff import passwords, users

from .browser_support import LiveServer
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)


def a_messy_book(session: Session) -> dict[str, str]:
    """A rep's leads and accounts with duplicates among them, and a few records in the bin; their numbers by name."""
    rep = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="en", welcome=False)
    other = users.add_user(session, "kai@leadline.test", "Kai Wang", role="rep", language="en", welcome=False)
    passwords.set_password(session, rep, CHOSEN)
    me, them = Actor.user(rep.id), Actor.user(other.id)
    week_ago = utcnow() - dt.timedelta(days=7)
    made: dict[str, Any] = {
        "keep": records.create_lead(session, {
            "first_name": "Wei", "last_name": "Chen", "company": "Formosa Tea", "email": "wei.chen@example.com",
            "lead_source": "Web Site", "status": "Contacted", "owner_id": rep.id}, me, at=week_ago),
        "twin": records.create_lead(session, {
            "last_name": "Chen", "company": "Formosa Tea Co., Ltd.", "email": "WEI.CHEN@example.com",
            "phone": "+886 2 2711 0001", "designation": "Purchasing manager", "lead_source": "Trade Show",
            "status": "Hot", "owner_id": rep.id}, me),
        "hua": records.create_lead(session, {"first_name": "美華", "last_name": "黃", "company": "台北設計",
                                             "mobile": "0933 222 111", "owner_id": rep.id}, me, at=week_ago),
        "hua2": records.create_lead(session, {"first_name": "美華", "last_name": "黃", "mobile": "+886 933 222 111",
                                              "email": "meihua@example.com", "owner_id": rep.id}, me),
        "not_mine": records.create_lead(session, {"last_name": "Chen", "email": "wei.chen@example.com",
                                                  "owner_id": other.id}, them),
        "acc": records.create_account(session, {"name": "台北貿易股份有限公司", "phone": "02 2345 6789",
                                                "owner_id": rep.id}, me),
        "acc2": records.create_account(session, {"name": "台北貿易有限公司", "owner_id": rep.id}, me),
        "gone": records.create_lead(session, {"first_name": "Grace", "last_name": "Lin", "email": "grace@example.com",
                                              "owner_id": rep.id}, me, at=week_ago),
        "gone_account": records.create_account(session, {"name": "Harbor Lines", "owner_id": rep.id}, me),
        "grace": records.create_lead(session, {"first_name": "Grace", "last_name": "Lin",
                                               "email": "grace@example.com", "owner_id": rep.id}, me),
        "lee": records.create_contact(session, {"first_name": "Anna", "last_name": "Lee", "email": "anna@example.com",
                                                "owner_id": rep.id}, me, at=week_ago),
        "lee2": records.create_contact(session, {"last_name": "Lee", "email": "anna@example.com",
                                                 "mobile": "0912 345 678", "owner_id": rep.id}, me),
    }
    activities.create_activity(session, {"type": "task", "subject": "Send the tea catalogue",
                                         "lead_id": made["twin"].id, "due_date": utcnow().date(),
                                         "owner_id": rep.id}, me)
    merging.merge(session, made["lee"], [made["lee2"]], me, {"mobile": made["lee2"]})
    records.delete(session, made["gone"], me)
    records.delete(session, made["gone_account"], me)
    numbers = {key: getattr(row, f"{registry.of_record(row).singular}_no") for key, row in made.items()}
    session.commit()
    return numbers


def test_merge_two_duplicates_choosing_fields_then_undo_and_restore(page: Page, crm_server: LiveServer,  # noqa: F811
                                                                    session: Session) -> None:
    n = a_messy_book(session)
    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("mei@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()

    page.locator("details.morenav > summary").click()
    page.get_by_role("link", name="Duplicates").click()
    expect(page.locator("h1")).to_have_text("Duplicates")
    cards = page.locator("form.dupgroup")
    expect(cards).to_have_count(2)  # the leads of Wei Chen and of 黃美華; not the other rep's Chen
    wei = cards.filter(has_text="Same email: wei.chen@example.com")
    expect(wei.locator("tbody tr")).to_have_count(2)
    expect(cards.filter(has_text="Same phone: +886933222111")).to_have_count(1)
    shoot(page, "staff_duplicates_en")

    wei.get_by_role("button", name="Merge…").click()
    expect(page.locator("h1")).to_have_text("Merge 2 records")
    expect(page.get_by_role("radio", name=f"Keep {n['keep']}")).to_be_checked()
    expect(page.get_by_role("radio", name=f"Formosa Tea ({n['keep']})")).to_be_checked()
    expect(page.get_by_role("radio", name=f"+886 2 2711 0001 ({n['twin']})")).to_be_checked()  # the only one
    page.get_by_role("radio", name=f"Formosa Tea Co., Ltd. ({n['twin']})").check()
    page.get_by_role("radio", name=f"Hot ({n['twin']})").check()
    shoot(page, "staff_merge_en")
    page.get_by_role("button", name="Merge", exact=True).click()

    expect(page.locator(".flash--success")).to_have_text(
        f"{n['twin']} merged into {n['keep']}. You can undo it from the timeline.")
    expect(page.locator("h1")).to_have_text("Wei Chen")
    expect(page.locator(".record-meta")).to_contain_text("Hot")
    merged = page.locator(".timeline__item--merged")
    expect(merged).to_contain_text(f"Merged in: {n['twin']}")
    expect(merged).to_contain_text("Company: Formosa Tea → Formosa Tea Co., Ltd.")
    expect(page.locator("#activities-title")).to_be_visible()  # the twin's task came along
    shoot(page, "staff_merged_record_en")
    row = session.scalar(select(Lead).where(Lead.lead_no == n["keep"]))
    assert row is not None and (row.company, row.phone, row.designation, row.status) == (
        "Formosa Tea Co., Ltd.", "+886 2 2711 0001", "Purchasing manager", "Hot")
    session.rollback()

    merged.get_by_role("button", name="Undo merge").click()
    expect(page.locator(".flash--success")).to_have_text(
        f"The merge is undone; {n['twin']} came back from the recycle bin.")
    expect(page.locator(".timeline__item--merged").get_by_role("button", name="Undo merge")).to_have_count(0)
    expect(page.locator(".timeline__item--undone")).to_have_count(1)
    kept = session.scalar(select(Lead).where(Lead.lead_no == n["keep"]))
    twin = session.scalar(select(Lead).where(Lead.lead_no == n["twin"]))
    assert kept is not None and twin is not None
    assert (kept.company, kept.phone, kept.status, twin.deleted_at) == ("Formosa Tea", None, "Contacted", None)
    assert session.scalar(select(Activity.lead_id).where(Activity.subject == "Send the tea catalogue")) == twin.id
    session.rollback()

    page.locator("details.morenav > summary").click()
    page.get_by_role("link", name="Recycle bin").click()
    expect(page.locator("h1")).to_have_text("Recycle bin")
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.locator(f"#bin-{n['gone']}")).to_contain_text("By 林美玲")
    expect(page.locator(f"#bin-{n['lee2']}")).to_contain_text(f"Merged into {n['lee']} by 林美玲")
    shoot(page, "staff_bin_en")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("資源回收筒")
    shoot(page, "staff_bin_zh_Hant")
    page.locator(f"#bin-{n['gone']}").get_by_role("button", name="還原").click()
    expect(page.locator(".flash--success")).to_have_text(f"已還原 {n['gone']}。")
    warning = page.locator(".flash").nth(1)
    expect(warning).to_contain_text(f"{n['gone']} 可能與 {n['grace']} Grace Lin 重複。")
    shoot(page, "staff_bin_restored_zh_Hant")
    warning.get_by_role("link", name="比較並合併").click()
    expect(page.locator("h1")).to_have_text("合併 2 筆記錄")
    expect(page.locator("tbody th[scope=row]")).to_have_text(["保留的記錄"])  # the two are alike in every field
    shoot(page, "staff_merge_same_zh_Hant")

    page.goto(crm_server.url("/duplicates"))
    expect(page.locator("h1")).to_have_text("重複資料")
    expect(page.locator("form.dupgroup").first).to_contain_text("相同電子郵件：wei.chen@example.com")
    shoot(page, "staff_duplicates_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_duplicates_phone_zh_Hant")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the tables scroll inside their cards
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("navigation", name="模組").get_by_role("link", name="客戶", exact=True).click()
    expect(page.locator("form.dupgroup")).to_contain_text("相同公司名稱：台北貿易股份有限公司")
    page.locator("form.dupgroup").get_by_role("button", name="合併…").click()
    expect(page.locator("h1")).to_have_text("合併 2 筆記錄")
    shoot(page, "staff_merge_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_merge_phone_zh_Hant")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the values stack under their field
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("radio", name=re.compile(rf"保留 {n['acc2']}")).check()
    page.get_by_role("button", name="合併", exact=True).click()
    expect(page.locator(".flash--success")).to_contain_text(f"已將 {n['acc']} 合併至 {n['acc2']}")
