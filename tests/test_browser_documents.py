"""Documents, campaigns and activities in a real browser (Debian's Chromium via Playwright): a rep uploads a file
on a lead's page and downloads it again (the same bytes), finds it in the documents list, opens a campaign's
page and their activities. Screenshots in both languages are kept in tests/artifacts/. Pages must run without a
script error or a CSP violation (the `page` fixture of tests/test_browser_staff.py).

Only SQLite: the browser side does not depend on the database (tests/test_staff_documents.py and
tests/test_staff_lists.py cover both).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import CampaignMember, StagePlaybook, utcnow
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import passwords, users

from .browser_support import LiveServer
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n" + b"%" * 4000 + b"\n"


def sign_in(tab: Page, server: LiveServer, email: str, then: str) -> None:
    tab.goto(server.url(f"/auth/sign-in?next={then}"))
    tab.get_by_label("Email").fill(email)
    tab.get_by_label("Password").fill(CHOSEN)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(server.url(then))


def test_a_rep_uploads_and_downloads_a_document_and_opens_a_campaign_and_their_activities(
    page: Page, crm_server: LiveServer, session: Session, tmp_path: Path  # noqa: F811 - the fixtures
) -> None:
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.execute(update(StagePlaybook).values(active=False))  # the lists show only the activities made below
    rep = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="en", welcome=False)
    other = users.add_user(session, "kevin@leadline.test", "Kevin Lin", role="rep", welcome=False)
    passwords.set_password(session, rep, CHOSEN)
    actor = Actor.user(rep.id)
    spring = records.create(session, "campaigns", {
        "name": "春季線上研討會 Spring webinar", "status": "Active", "campaign_type": "Webinar",
        "start_date": "2026-03-02", "expected_close_date": "2026-05-29", "budget_cost": "120000",
        "expected_revenue": "2400000", "target_audience": "製造業採購主管", "owner_id": rep.id,
        "description": "Two sessions in Mandarin and one in English.",
    }, actor)
    records.create(session, "campaigns", {"name": "台北國際食品展 Food Taipei", "status": "Planning",
                                          "campaign_type": "Trade Show", "start_date": "2026-06-24",
                                          "owner_id": other.id}, actor)
    lead = records.create_lead(session, {"last_name": "王", "first_name": "大明", "company": "大明貿易",
                                         "owner_id": rep.id, "status": "Contacted", "campaign_id": spring.id}, actor)
    members = (("陳", "淑芬", "台灣精密", rep.id), ("Chen", "Grace", "Formosa Tea", rep.id),
               ("Wu", "Hidden", "Not mine", other.id))
    for last, first, company_name, owner in members:
        row = records.create_lead(session, {"last_name": last, "first_name": first, "company": company_name,
                                            "owner_id": owner}, actor)
        session.add(CampaignMember(campaign_id=spring.id, lead_id=row.id))
    account = records.create(session, "accounts", {"name": "大明貿易股份有限公司", "owner_id": rep.id}, actor)
    records.create(session, "contacts", {"last_name": "王", "first_name": "小華", "account_id": account.id,
                                         "email": "hua@daming.example", "owner_id": rep.id,
                                         "campaign_id": spring.id}, actor)
    records.create(session, "opportunities", {"name": "年度茶葉採購 Annual tea order", "owner_id": rep.id,
                                              "amount": "480000", "expected_close_date": "2026-12-31",
                                              "account_id": account.id, "campaign_id": spring.id}, actor)
    today = utcnow().astimezone(company.zone_for(session)).date()
    zone = company.zone_for(session)
    for values in (
        {"type": "task", "subject": "寄送報價單 Send the quote", "due_date": today - dt.timedelta(days=1),
         "lead_id": lead.id, "priority": "High"},
        {"type": "call", "subject": "Call back about samples", "lead_id": lead.id,
         "start_at": dt.datetime.combine(today, dt.time(15), zone)},
        {"type": "meeting", "subject": "Factory visit", "location": "桃園",
         "start_at": dt.datetime.combine(today + dt.timedelta(days=2), dt.time(10), zone), "account_id": account.id},
        {"type": "task", "subject": "Prepare the demo", "due_date": today + dt.timedelta(days=4)},
    ):
        activities.create_activity(session, {"owner_id": rep.id, **values}, actor)
    session.commit()
    lead_no, campaign_no = lead.lead_no, spring.campaign_no

    sign_in(page, crm_server, "mei@leadline.test", f"/leads/{lead_no}")
    documents = page.locator("#documents")
    expect(documents).to_contain_text("No documents yet.")
    page.set_input_files("#document_file", files=[FilePayload(name="報價單 2026.pdf", mimeType="application/pdf",
                                                              buffer=PDF)])
    page.get_by_label("Title (optional)").fill("2026 報價單 Quote")
    documents.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash--success")).to_have_text("報價單 2026.pdf is attached.")
    expect(documents.locator("tbody tr")).to_have_count(1)
    expect(documents.locator("tbody tr td").nth(1)).to_have_text("PDF")
    page.set_input_files("#document_file", files=[FilePayload(name="logo.pdf", mimeType="application/pdf",
                                                              buffer=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)])
    documents.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash--info")).to_have_text("Kept as logo.png to match its contents (PNG image).")
    expect(documents.locator("tbody tr")).to_have_count(2)
    documents.scroll_into_view_if_needed()
    shoot(page, "staff_record_documents_en")

    with page.expect_download() as caught:
        documents.get_by_role("link", name="Download 2026 報價單 Quote").click()
    download = caught.value
    assert download.suggested_filename == "報價單 2026.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == PDF

    page.locator("details.morenav > summary").click()
    page.get_by_role("link", name="Documents").click()
    expect(page.locator("h1")).to_have_text("Documents")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody tr").first).to_contain_text("王大明")
    shoot(page, "staff_documents_en")

    page.locator("details.morenav > summary").click()
    page.get_by_role("link", name="Activities").click()
    expect(page.locator("h1")).to_have_text("Activities")
    page.get_by_label("When").select_option("week")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_label("When").select_option("")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(4)
    expect(page.locator("tbody tr").filter(has_text="Send the quote").locator(".badge--danger")).to_have_text("Overdue")
    expect(page.locator(".badge--danger")).to_have_count(1)
    shoot(page, "staff_activities_en")

    page.locator("details.morenav > summary").click()
    page.get_by_role("link", name="Campaigns").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_role("link", name="春季線上研討會 Spring webinar").click()
    expect(page.locator("h1")).to_have_text("春季線上研討會 Spring webinar")
    leads = page.locator("#campaign-leads")
    expect(leads.locator("tbody tr")).to_have_count(3)  # not the other rep's lead
    expect(leads.locator(".badge").first).to_have_text("3")
    expect(page.locator("#campaign-contacts tbody tr")).to_have_count(1)
    expect(page.locator("#campaign-opportunities tbody tr")).to_have_count(1)
    shoot(page, "staff_campaign_en")
    assert page.url.endswith(f"/campaigns/{campaign_no}")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("#campaign-leads h2")).to_contain_text("潛在客戶")
    shoot(page, "staff_campaign_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_campaign_phone_zh_Hant")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(crm_server.url("/documents"))
    expect(page.locator("h1")).to_have_text("文件")
    expect(page.locator("tbody tr").first.locator("td").nth(1)).to_have_text("PNG 圖片")
    shoot(page, "staff_documents_zh_Hant")
    page.goto(crm_server.url(f"/leads/{lead_no}"))
    expect(page.locator("#documents h2")).to_have_text("文件 2")
    shoot(page, "staff_record_documents_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_record_documents_phone_zh_Hant")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(crm_server.url("/activities"))
    shoot(page, "staff_activities_zh_Hant")
