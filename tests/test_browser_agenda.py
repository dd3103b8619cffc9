"""The agenda in a real browser (Debian's Chromium via Playwright): a rep in Taipei makes a meeting with an invitation,
drags it to another day and time, moves another with the keyboard through its form, and looks at the week and the
day in both languages and on a phone. Screenshots are kept in tests/artifacts/ (staff_agenda_*.png).

Only SQLite: the browser side does not depend on the database (tests/test_staff_agenda.py covers both).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Activity, OutboxMessage, utcnow
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.staff import passwords, users

from .browser_support import LiveServer
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
TAIPEI = ZoneInfo("Asia/Taipei")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TAIPEI)


def a_busy_week(session: Session, rep_id: int, monday: dt.date) -> str:
    """A week of a rep's calls, meetings and tasks; returns a lead's number."""
    actor = Actor.user(rep_id)
    lead = records.create_lead(session, {"last_name": "王", "first_name": "大明", "company": "大明貿易",
                                         "owner_id": rep_id}, actor)
    plan = [
        (0, 9, 30, 60, "meeting", "週會 Weekly sales meeting", "3F 會議室"),
        (0, 14, 0, 30, "call", "Call Grace Chen about the tea order", None),
        (1, 11, 0, 90, "meeting", "Formosa Tea site visit", "新北市板橋區"),
        (1, 11, 30, 30, "call", "回電 黃小姐", None),
        (2, 16, 0, 60, "meeting", "季度檢討 Q1 review", "線上 Google Meet"),
        (3, 8, 0, 45, "call", "Follow up with 大明貿易", None),
        (4, 13, 30, 120, "meeting", "Trade show prep", "Taipei Nangang Exhibition Center"),
    ]
    for offset, hour, minute, length, kind, subject, place in plan:
        start = at(monday + dt.timedelta(days=offset), hour, minute)
        activities.create_activity(session, {"type": kind, "subject": subject, "start_at": start,
                                             "end_at": start + dt.timedelta(minutes=length), "location": place,
                                             "owner_id": rep_id, "lead_id": lead.id}, actor)
    for offset, subject in ((1, "Send the quote to 大明貿易"), (3, "準備樣品"), (3, "Renew the price book")):
        activities.create_activity(session, {"type": "task", "subject": subject, "owner_id": rep_id,
                                             "due_date": monday + dt.timedelta(days=offset)}, actor)
    session.commit()
    return str(lead.lead_no)


def drag_to(tab: Page, item: Any, day: dt.date, minute: int) -> None:
    """Drag an event by its middle so that its top lands on `minute` of `day`."""
    agenda = tab.locator("#agenda")
    first, last = int(agenda.get_attribute("data-first") or 0), int(agenda.get_attribute("data-last") or 0)
    body = tab.locator(f".day__body[data-date='{day.isoformat()}']").bounding_box()
    box = item.bounding_box()
    assert body is not None and box is not None
    grab_x, grab_y = box["x"] + box["width"] / 2, box["y"] + min(8, box["height"] / 2)
    target_x = body["x"] + body["width"] / 2
    target_y = body["y"] + (minute - first) / (last - first) * body["height"] + (grab_y - box["y"]) + 2
    tab.mouse.move(grab_x, grab_y)
    tab.mouse.down()
    tab.mouse.move(grab_x + 10, grab_y + 10, steps=3)
    tab.mouse.move(target_x, target_y, steps=12)
    tab.mouse.up()


def test_a_rep_plans_a_meeting_drags_it_and_reads_the_week_in_both_languages(
    page: Page, crm_server: LiveServer, session: Session  # noqa: F811 - fixtures
) -> None:
    rep = users.add_user(session, "mei@leadline.test", "林美玲", role="rep", language="en", welcome=False)
    rep.time_zone = "Asia/Taipei"
    passwords.set_password(session, rep, CHOSEN)
    session.commit()
    rep_id = rep.id
    today = utcnow().astimezone(TAIPEI).date()
    monday = today - dt.timedelta(days=today.weekday())
    number = a_busy_week(session, rep_id, monday)
    tuesday, thursday = monday + dt.timedelta(days=1), monday + dt.timedelta(days=3)

    page.goto(crm_server.url("/auth/sign-in?next=/agenda"))
    page.get_by_label("Email").fill("mei@leadline.test")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Agenda")
    expect(page.locator("nav.mainnav a[aria-current=page]")).to_have_text("Agenda")
    expect(page.locator(".agenda--timed .event")).to_have_count(7)

    page.get_by_role("link", name="+ New event").click()
    expect(page.locator("h1")).to_have_text("New event")
    page.get_by_label("Invite by email").fill("grace@formosatea")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#subject-error")).to_have_text("This field is required.")
    page.get_by_label("Subject").fill("Demo for 大明貿易")
    page.get_by_label("Starts at").fill("15:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#attendees-error")).to_contain_text("grace@formosatea")
    shoot(page, "staff_agenda_event_errors_en")
    page.get_by_label("Date").fill(tuesday.isoformat())
    page.get_by_label("Starts at").fill("15:00")
    page.get_by_label("Duration").select_option("60")
    page.get_by_label("Where").fill("大明貿易 office, 台北市中山區")
    page.get_by_label("Related record").fill(number)
    page.get_by_label("Invite by email").fill("grace@formosatea.example, 王大明 <daming@example.com>")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash--success")).to_have_text("Saved: Demo for 大明貿易")
    expect(page.locator(".flash--info")).to_have_text("The invitation is on its way to 2 people.")
    demo = page.locator(".event", has_text="Demo for 大明貿易")
    expect(demo).to_have_attribute("data-minute", "900")
    page.set_viewport_size({"width": 1280, "height": 1300})  # the whole working day in view, to drag across

    drag_to(page, demo, thursday, 14 * 60)
    expect(page.locator("#agenda-flash")).to_contain_text("Moved to")
    expect(page.locator(f".day__body[data-date='{thursday.isoformat()}'] .event", has_text="Demo")).to_have_count(1)
    expect(demo.locator(".event__time")).to_have_text("2:00 PM – 3:00 PM")
    session.expire_all()
    row = session.scalars(select(Activity).where(Activity.subject == "Demo for 大明貿易")).one()
    assert row.start_at == at(thursday, 14).astimezone(dt.UTC)
    assert row.end_at is not None and row.end_at - row.start_at == dt.timedelta(hours=1)
    sequences = sorted(m.context["event_sequence"] for m in session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "event_invitation")))
    assert sequences == [0, 0, 1, 1]  # the invitation, then the revision after the move
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    shoot(page, "staff_agenda_week_en")

    # the keyboard's way: open an event, change its date and time, save
    page.locator(".event a", has_text="Trade show prep").focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Trade show prep")
    page.get_by_label("Date").fill((monday + dt.timedelta(days=4)).isoformat())
    page.get_by_label("Starts at").fill("10:15")
    page.get_by_label("Starts at").press("Enter")
    expect(page.locator(".flash--success")).to_have_text("Saved: Trade show prep")
    session.expire_all()
    moved = session.scalars(select(Activity).where(Activity.subject == "Trade show prep")).one()
    assert moved.start_at == at(monday + dt.timedelta(days=4), 10, 15).astimezone(dt.UTC)
    assert moved.end_at is not None and moved.end_at - moved.start_at == dt.timedelta(hours=2)
    session.commit()

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("行事曆")
    expect(page.locator(".agenda__allday")).to_have_text("全天")
    shoot(page, "staff_agenda_week_zh_Hant")
    page.locator(f"#day-{tuesday.isoformat()} a").click()  # a day's heading opens that day
    expect(page.locator("section.day")).to_have_count(1)
    expect(page.locator(".segmented__day")).to_have_attribute("aria-current", "page")
    shoot(page, "staff_agenda_day_zh_Hant")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(crm_server.url(f"/agenda?date={thursday.isoformat()}"))
    expect(page.locator("section.day:visible")).to_have_count(1)
    shoot(page, "staff_agenda_phone_zh_Hant")
    page.goto(crm_server.url(f"/agenda?view=week&date={thursday.isoformat()}"))
    expect(page.locator("section.day:visible")).to_have_count(7)
    shoot(page, "staff_agenda_week_phone_zh_Hant")
    page.set_viewport_size({"width": 1280, "height": 800})
