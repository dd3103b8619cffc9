"""A list's tools in a real browser (Debian's Chromium via Playwright): a manager filters the leads, saves the
filter, opens it again from the picker, exports it (the CSV downloaded through the browser) and gives two rows to
themselves at once; a rep sorts their calls by day on the activities list, saves that filter, opens it again,
exports it and marks a call held. Screenshots of the lists with their tools in both languages, and on a phone, are
kept in tests/artifacts/. Pages must run without a script error or a CSP violation (the `page` fixture of
tests/test_browser_staff.py).

Only SQLite: the browser side does not depend on the database (tests/test_staff_list_tools.py covers both).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import AuditEntry, Lead, SavedFilter
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import passwords, users

from .browser_support import LiveServer
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
LEADS = [  # last name, first name, company, status
    ("陳", "大文", "台北貿易股份有限公司", "Hot"), ("Chen", "Grace", "Formosa Tea", "Hot"),
    ("林", "志明", "=HYPERLINK(\"http://x\")", "Hot"), ("Wang", "Kevin", "Acme Trading", "Cold"),
    ("黃", "美華", "台中精機", "Warm"), ("Lee", "Amy", None, "Hot"),
]


def saved_id(session: Session) -> int:
    found = session.scalar(select(SavedFilter.id))
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    assert found is not None
    return found


def a_team(session: Session) -> tuple[int, int]:
    """A manager and their rep, the rep's leads; (manager id, rep id)."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    boss = users.add_user(session, "boss@leadline.test", "張經理 Chang", role="manager", language="en", welcome=False)
    rep = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="en", manager_email=boss.email,
                         welcome=False)
    for person in (boss, rep):
        passwords.set_password(session, person, CHOSEN)
    for last, first, company_name, status in LEADS:
        records.create_lead(session, {"last_name": last, "first_name": first, "company": company_name,
                                      "status": status, "owner_id": rep.id, "phone": "+886 2 2345 6789"},
                            Actor.user(rep.id))
    session.commit()
    return boss.id, rep.id


def test_save_a_filter_reload_it_export_it_and_reassign_two_rows(page: Page, crm_server: LiveServer,  # noqa: F811
                                                                   session: Session) -> None:
    boss_id, rep_id = a_team(session)
    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("boss@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()
    page.locator("nav.mainnav").get_by_role("link", name="Leads").click()
    expect(page.locator("h1")).to_have_text("Leads")
    expect(page.locator("tbody tr")).to_have_count(len(LEADS))

    page.get_by_label("Lead status").select_option("Hot")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(4)
    page.locator(".listtools__save > summary").click()
    page.get_by_label("Name of the filter").fill("Hot leads")
    page.get_by_role("button", name="Save filter").click()
    expect(page.locator(".flash--success")).to_have_text("Saved the filter “Hot leads”.")
    expect(page.get_by_label("My saved filters")).to_have_value(str(saved_id(session)))

    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("tbody tr")).to_have_count(len(LEADS))
    page.get_by_label("My saved filters").select_option(label="Hot leads")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(4)
    expect(page.get_by_label("Lead status")).to_have_value("Hot")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Export CSV").click()
    download = downloading.value
    assert download.suggested_filename.startswith("leads-") and download.suggested_filename.endswith(".csv")
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
    assert table[0] == ["Number", "Name", "Company", "Status", "Phone", "Assigned to", "Created"]
    by_name = {row[1]: row for row in table[1:]}
    assert sorted(by_name) == sorted(["陳大文", "Grace Chen", "林志明", "Amy Lee"])
    assert by_name["陳大文"][2:4] == ["台北貿易股份有限公司", "Hot"] and by_name["陳大文"][5] == "林美玲"
    assert by_name["林志明"][2] == "'=HYPERLINK(\"http://x\")"

    bar = page.locator("#bulk-form")
    expect(bar.locator("[data-bulk-count]")).to_have_text("Tick rows to change several at once.")
    expect(bar.get_by_role("button", name="Reassign")).to_have_attribute("aria-disabled", "true")
    page.get_by_label("Select 陳大文").check()
    page.get_by_label("Select Grace Chen").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("2 selected")
    expect(page.get_by_label("Select all on this page")).to_have_js_property("indeterminate", True)
    page.get_by_label("Assign the selected rows to").select_option(label="張經理 Chang")
    shoot(page, "staff_list_tools_en")
    bar.get_by_role("button", name="Reassign").click()
    expect(page.locator(".flash--success")).to_have_text("2 leads are now assigned to 張經理 Chang.")
    expect(page.locator("tbody tr", has_text="陳大文")).to_contain_text("張經理 Chang")
    expect(page.locator("tbody tr", has_text="Amy Lee")).to_contain_text("林美玲")

    picked = select(Lead.last_name, Lead.owner_id).where(Lead.last_name.in_(["陳", "Chen", "Lee"]))
    moved = {row.last_name: row.owner_id for row in session.execute(picked)}
    assert moved == {"陳": boss_id, "Chen": boss_id, "Lee": rep_id}
    exports = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [(e.user_id, e.changes["rows"]) for e in exports] == [(boss_id, 4)]
    session.commit()  # end the read: SQLite's writers queue behind an open transaction

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("潛在客戶")
    page.get_by_label("選取本頁全部").check()
    expect(page.get_by_label("選取 Amy Lee")).to_be_checked()
    expect(page.locator("#bulk-form [data-bulk-count]")).to_have_text("已選取 4 筆")
    page.locator(".listtools__rename > summary").click()
    expect(page.get_by_label("新名稱")).to_be_focused()
    shoot(page, "staff_list_tools_zh_Hant")
    page.keyboard.press("Escape")
    expect(page.get_by_label("新名稱")).to_be_hidden()
    page.get_by_label("負責人", exact=True).select_option(label="我")
    page.get_by_role("button", name="篩選", exact=True).click()
    page.locator(".listtools__save > summary").click()  # another filter than the one saved: save it too
    expect(page.get_by_label("篩選條件名稱")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_list_tools_phone_zh_Hant")


ACTIVITIES = [  # subject, type, hours from now (a task: days), done, the lead's last name
    ("Call 陳大文 about the quote", "call", 2, False, "陳"), ("Demo for Formosa Tea", "meeting", 26, False, "Chen"),
    ("Follow-up call with Grace Chen", "call", -20, True, "Chen"), ("Send the price list", "task", 1, False, "Wang"),
    ("=Call back 台中精機", "call", 50, False, "黃"), ("Quote emailed", "email", 0, True, "陳"),
]


def activities_of(session: Session) -> tuple[int, int]:
    """A rep's calls, meetings, tasks and an email (on their leads), and their manager; (manager id, rep id)."""
    boss_id, rep_id = a_team(session)
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    mine = select(Lead.last_name, Lead.id).where(Lead.owner_id == rep_id)
    leads = {row.last_name: row.id for row in session.execute(mine)}
    for subject, kind, offset, done, last_name in ACTIVITIES:
        when = {"due_date": (now + dt.timedelta(days=offset)).date()} if kind == "task" else {
            "start_at": now + dt.timedelta(hours=offset)}
        made = activities.create_activity(session, {"type": kind, "subject": subject, "owner_id": rep_id,
                                                    "lead_id": leads[last_name], **when}, Actor.user(rep_id))
        if done:
            activities.complete_activity(session, made, Actor.user(rep_id))
    session.commit()
    return boss_id, rep_id


def test_save_a_filter_of_the_activities_list_and_export_it(page: Page, crm_server: LiveServer,  # noqa: F811
                                                            session: Session) -> None:
    _, rep_id = activities_of(session)
    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("mei@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()
    page.goto(crm_server.url("/activities"))
    expect(page.locator("h1")).to_have_text("Activities")
    expect(page.locator("tbody tr")).to_have_count(len(ACTIVITIES))

    page.get_by_label("Type").select_option("call")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.get_by_role("link", name="When").click()  # by their day, the earliest first
    calls = ["Follow-up call with Grace Chen", "Call 陳大文 about the quote", "=Call back 台中精機"]
    expect(page.locator("tbody tr td:first-child")).to_have_text(calls)
    page.locator(".listtools__save > summary").click()
    expect(page.get_by_label("Name of the filter")).to_be_focused()
    page.get_by_label("Name of the filter").fill("My calls by day")
    page.get_by_role("button", name="Save filter").click()
    expect(page.locator(".flash--success")).to_have_text("Saved the filter “My calls by day”.")

    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("tbody tr")).to_have_count(len(ACTIVITIES))
    page.get_by_label("My saved filters").select_option(label="My calls by day")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("tbody tr td:first-child")).to_have_text(calls)
    expect(page.get_by_label("Type")).to_have_value("call")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Export CSV").click()
    download = downloading.value
    assert download.suggested_filename.startswith("activities-") and download.suggested_filename.endswith(".csv")
    raw = Path(download.path()).read_bytes()
    table = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
    assert raw.startswith(b"\xef\xbb\xbf")
    assert table[0] == ["Subject", "Type", "Due", "Starts at", "Status", "Completed", "Assigned to", "Created"]
    assert [row[0] for row in table[1:]] == ["Follow-up call with Grace Chen", "Call 陳大文 about the quote",
                                             "'=Call back 台中精機"]  # in the list's order, formula-escaped
    assert {row[1] for row in table[1:]} == {"call"} and {row[6] for row in table[1:]} == {"林美玲"}
    exports = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [(e.user_id, e.module, e.changes) for e in exports] == [
        (rep_id, "activities", {"filter": {"type": "call", "sort": "when", "order": "asc"}, "rows": 3})]
    session.commit()  # end the read: SQLite's writers queue behind an open transaction

    bar = page.locator("#bulk-form")
    page.get_by_label("Select Call 陳大文 about the quote").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("1 selected")
    bar.get_by_label("New status of the selected rows").select_option("Held")
    shoot(page, "staff_activities_tools_en")
    bar.get_by_role("button", name="Change status").click()
    expect(page.locator(".flash--success")).to_have_text("1 activity now has the status Held.")
    expect(page.locator("tbody tr", has_text="Call 陳大文")).to_contain_text("Done")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("活動")
    page.get_by_label("選取本頁全部").check()
    expect(page.locator("#bulk-form [data-bulk-count]")).to_have_text("已選取 3 筆")
    shoot(page, "staff_activities_tools_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_activities_tools_phone_zh_Hant")
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Activities")
    shoot(page, "staff_activities_tools_phone_en")
