"""The staff pages in a real browser (Debian's Chromium via Playwright): a rep's morning.

A rep signs in, creates a lead, logs a call and plans the next follow-up from My day, converts the lead into
the account it matches with an opportunity, searches as they type, and switches to 繁體中文. Screenshots of
My day, a lead's page and the leads list in both languages are kept in tests/artifacts/. Pages must run
without a script error or a CSP violation (the `page` fixture of tests/test_browser_staff.py).

Only SQLite: the browser side does not depend on the database (tests/test_staff_*.py cover both).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Activity, Lead, utcnow
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import passwords, users

from .browser_support import LiveServer
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)


def a_morning(session: Session) -> int:
    """A rep with an account, a few leads (one a day old), an overdue task and one due today; their id."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    rep = users.add_user(session, "mei@leadline.test", "Mei Lin", role="rep", language="en", welcome=False)
    passwords.set_password(session, rep, CHOSEN)
    actor = Actor.user(rep.id)
    records.create_account(session, {"name": "Acme Trading", "phone": "+886 2 2345 6789", "owner_id": rep.id}, actor)
    yesterday = utcnow() - dt.timedelta(hours=20)
    for first, last, firm, status, phone in (
        ("Wei", "Chen", "Formosa Tea", "Hot", "+886 2 2711 0001"), ("Li", "Huang", "Harbor Lines", "Cold", None),
        ("Yu", "Tsai", None, "Not Contacted", "+886 933 222 111"),
    ):
        records.create_lead(session, {"first_name": first, "last_name": last, "company": firm, "status": status,
                                      "lead_source": "Web Site", "email": f"{last.lower()}@example.com",
                                      "phone": phone, "owner_id": rep.id}, actor, at=yesterday)
    today = utcnow().astimezone(company.zone(session)).date()
    for subject, due in (("Send the price list to Formosa Tea", today - dt.timedelta(days=2)),
                         ("Prepare the Harbor Lines demo", today)):
        activities.create_activity(session, {"type": "task", "subject": subject, "due_date": due,
                                             "owner_id": rep.id}, actor)
    session.commit()
    return rep.id


def test_a_reps_morning_in_both_languages(page: Page, crm_server: LiveServer,  # noqa: F811 - the fixtures
                                          session: Session) -> None:
    rep_id = a_morning(session)
    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("mei@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Hello, Mei Lin")

    page.get_by_role("link", name="New lead").first.click()
    expect(page.locator("h1")).to_have_text("New lead")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#last_name-error")).to_have_text("This field is required.")
    shoot(page, "staff_pages_new_lead_errors_en")
    page.get_by_label("First name").fill("Daming")
    page.get_by_label("Last name").fill("Wang")
    page.get_by_label("Company").fill("Acme Trading")
    page.get_by_label("Phone").fill("+886 912 345 678")
    page.get_by_label("Lead source").select_option("Trade Show")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Daming Wang")
    expect(page.locator(".flash--success")).to_have_text(re.compile(r"LEA\d+ is saved\."))
    number = page.locator(".eyebrow").inner_text().split("·")[-1].strip()

    page.get_by_role("link", name="My day").click()
    row = page.locator(".item", has_text="Daming Wang")
    row.locator("summary", has_text="Log a call or follow up").click()
    row.get_by_label("How did it go?").select_option("Not Held")
    row.get_by_label("What came of it").fill("Left a voicemail")
    row.get_by_role("button", name="Log call").click()
    expect(page.locator(".flash--success")).to_have_text(f"Call logged on {number}.")
    row = page.locator(".item", has_text="Daming Wang")
    row.locator("summary").click()
    shoot(page, "staff_pages_my_day_quick_actions_en")
    row.get_by_role("button", name="Tomorrow").click()
    expect(page.locator(".flash--success")).to_contain_text("Follow-up planned for")
    page.locator(".item", has_text="Prepare the Harbor Lines demo").get_by_role("button", name="Done").click()
    expect(page.locator(".flash--success")).to_have_text("Task done: Prepare the Harbor Lines demo")
    shoot(page, "staff_pages_my_day_en")

    page.get_by_role("link", name="Daming Wang").first.click()
    expect(page.locator(".timeline__summary").first).to_contain_text("Call")
    expect(page.get_by_role("link", name="+886 912 345 678")).to_have_attribute("href", "tel:+886912345678")
    shoot(page, "staff_pages_lead_en")

    page.get_by_role("link", name="Convert").click()
    expect(page.get_by_role("radio", name=re.compile("Acme Trading"))).to_be_checked()
    shoot(page, "staff_pages_convert_en")
    page.get_by_label("Create an opportunity too").check()
    page.get_by_label("Opportunity name").fill("Acme Trading: tea sets")
    page.get_by_label("Amount").fill("120000")
    page.get_by_label("Expected close date").fill("2026-12-31")
    page.get_by_role("button", name="Convert").click()
    expect(page.locator("h1")).to_have_text("Acme Trading: tea sets")
    expect(page.get_by_role("link", name="Acme Trading", exact=True)).to_be_visible()
    shoot(page, "staff_pages_opportunity_en")

    page.get_by_role("link", name="Opportunities", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(1)
    shoot(page, "staff_pages_opportunities_en")

    search = page.get_by_role("searchbox", name="Search")
    search.fill("Acme")
    expect(page.locator(".suggest")).to_be_visible()
    expect(page.locator(".suggest__title").first).to_contain_text("Acme")
    shoot(page, "staff_pages_search_as_you_type_en")
    search.press("Enter")
    expect(page.locator("h1")).to_have_text("Results for “Acme”")
    expect(page.locator("tbody")).to_contain_text("Acme Trading")

    page.get_by_role("link", name="Leads", exact=True).click()
    expect(page.locator("h1")).to_have_text("Leads")
    expect(page.locator("tbody tr")).to_have_count(3)  # the converted lead is no longer listed
    shoot(page, "staff_pages_leads_en")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("潛在客戶")
    shoot(page, "staff_pages_leads_zh_Hant")
    page.get_by_role("link", name="我的一天").click()
    expect(page.locator("h1")).to_have_text("Mei Lin，您好")
    shoot(page, "staff_pages_my_day_zh_Hant")
    page.get_by_role("link", name="Wei Chen").click()
    expect(page.get_by_role("link", name="編輯")).to_be_visible()
    shoot(page, "staff_pages_lead_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_pages_lead_phone_zh_Hant")

    calls = session.scalars(select(Activity.outcome).where(Activity.owner_id == rep_id, Activity.type == "call")).all()
    assert calls == ["Left a voicemail"]
    assert session.scalar(select(Lead.converted_at).where(Lead.lead_no == number)) is not None
    session.commit()
