"""The pipeline board in a real browser (Debian's Chromium via Playwright): a manager drags a card to the next
stage, moves another with the keyboard only (Tab to its Move to… menu, Enter, the stage), and drops one on Closed
Lost, which asks for the lost reason; each move is read back from the database. Screenshots of the board in both
languages and on a phone are kept in tests/artifacts/.

Only SQLite: the browser side does not depend on the database (tests/test_staff_board.py covers both).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Opportunity, SalesProcess, SalesStage, StageHistory, utcnow
from crm_store.records import lifecycle as records
from crm_store.staff import passwords, teams, users

from .browser_support import LiveServer
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
NOW = utcnow()
DEALS = (  # name, account, owner, stage, amount, currency, close in days, days in stage
    ("年度茶葉採購 Annual tea order", "大明貿易", "mei", "Prospecting", "480000", "TWD", 40, 3),
    ("Spare parts 2027", "Formosa Machinery", "kevin", "Prospecting", "12500", "USD", 75, 9),
    ("設備更新 Line upgrade", "台北設計", "mei", "Prospecting", "1250000", "TWD", -4, 30),
    ("Pilot order", "Chen Electronics", "kevin", "Qualification", "86000", "TWD", 20, 5),
    ("專案標案 Tender", "高雄造船", "mei", "Needs Analysis", "3600000", "TWD", 60, 16),
    ("Annual supply", "Pacific Foods", "boss", "Value Proposition", "9800", "EUR", 33, 2),
    ("年度採購 Office chairs", "大明貿易", "kevin", "Proposal or Price Quote", "215000", "TWD", 12, 8),
    ("Warehouse racks", "Formosa Machinery", "mei", "Negotiation or Review", "740000", "TWD", 6, 11),
    ("Tea gift boxes", "Pacific Foods", "mei", "Closed Won", "96000", "TWD", -2, 2),
    ("Cold storage", "高雄造船", "kevin", "Closed Lost", "410000", "TWD", -5, 5),
)


def stage_id(session: Session, name: str) -> int:
    found = session.scalar(select(SalesStage.id).join(SalesProcess).where(SalesStage.name == name,
                                                                          SalesProcess.is_default))
    assert found is not None
    return found


def make_pipeline(session: Session) -> dict[str, str]:
    """A manager (張經理 Chang) with two reps in a team, their accounts and deals; returns name -> number."""
    boss = users.add_user(session, "boss@leadline.test", "張經理 Chang", role="manager", language="en", welcome=False)
    people = {
        "boss": boss,
        "mei": users.add_user(session, "mei@leadline.test", "林美玲", manager_email=boss.email, welcome=False),
        "kevin": users.add_user(session, "kevin@leadline.test", "Kevin Lin", manager_email=boss.email,
                                welcome=False),
    }
    passwords.set_password(session, boss, CHOSEN)
    team = teams.add_team(session, "台北業務 Taipei", boss.email)
    for who in ("mei", "kevin"):
        teams.add_member(session, team, people[who].email)
    accounts: dict[str, int] = {}
    numbers = {}
    for name, account, who, stage, amount, currency, close, days in DEALS:
        owner = people[who]
        if account not in accounts:
            accounts[account] = records.create(session, "accounts", {"name": account, "owner_id": owner.id}).id
        row = records.create(session, "opportunities", {
            "name": name, "account_id": accounts[account], "owner_id": owner.id, "stage": stage, "amount": amount,
            "currency": currency, "expected_close_date": (NOW + dt.timedelta(days=close)).date().isoformat(),
        }, Actor.user(owner.id), at=NOW - dt.timedelta(days=days, hours=1))
        numbers[name] = row.opportunity_no
    session.execute(update(Opportunity).where(Opportunity.opportunity_no == numbers["設備更新 Line upgrade"])
                    .values(rotting_since=NOW - dt.timedelta(days=16), idle_days=30))
    session.commit()
    return numbers


def sign_in(tab: Page, server: LiveServer) -> None:
    tab.goto(server.url("/auth/sign-in"))
    tab.get_by_label("Email").fill("boss@leadline.test")
    tab.get_by_label("Password").fill(CHOSEN)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.locator("h1")).to_have_text("Hello, 張經理 Chang")


def stage_of(session: Session, number: str) -> int:
    found = session.scalar(select(Opportunity.stage_id).where(Opportunity.opportunity_no == number))
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    assert found is not None
    return found


def tab_to(tab: Page, selector: str, most: int = 300) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(most):
        tab.keyboard.press("Tab")
        if tab.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_manager_moves_deals_by_dragging_and_by_keyboard_in_both_languages(
    page: Page, crm_server: LiveServer, session: Session  # noqa: F811 - the fixtures
) -> None:
    numbers = make_pipeline(session)
    qualification, needs, lost = (stage_id(session, n) for n in ("Qualification", "Needs Analysis", "Closed Lost"))
    session.commit()
    sign_in(page, crm_server)
    page.get_by_role("link", name="Board").click()
    expect(page.locator("h1")).to_have_text("Standard Sales")
    expect(page.locator("nav.mainnav a[aria-current=page]")).to_have_text("Board")
    prospecting = page.locator("section.board-col", has=page.locator("h2", has_text="Prospecting"))
    expect(prospecting.locator(".board-col__count")).to_have_text("3 deals")
    expect(prospecting.locator(".board-col__sum")).to_contain_text("NT$1,730,000")
    expect(prospecting.locator(".deal--rotting .deal__rotting")).to_have_text("Rotting")
    shoot(page, "staff_board_en")

    # Drag "Annual tea order" from Prospecting to Qualification.
    tea = numbers["年度茶葉採購 Annual tea order"]
    page.locator(f"li.deal[data-number={tea}]").drag_to(page.locator(f"section.board-col[data-stage='{qualification}']"))
    expect(page.locator(".flash--success")).to_have_text(f"{tea} is now at Qualification.")
    expect(page.locator(f"section.board-col[data-stage='{qualification}'] li.deal[data-number={tea}]")).to_be_visible()
    expect(prospecting.locator(".board-col__count")).to_have_text("2 deals")
    assert stage_of(session, tea) == qualification

    # The keyboard only: Tab to the card's menu, Enter, Tab to the stage, Enter.
    pilot = numbers["Pilot order"]
    tab_to(page, f"li.deal[data-number={pilot}] summary")
    page.keyboard.press("Enter")
    expect(page.locator(f"li.deal[data-number={pilot}] details.menu")).to_have_attribute("open", "")
    tab_to(page, f"li.deal[data-number={pilot}] button[value='{needs}']", most=12)
    page.keyboard.press("Enter")
    expect(page.locator(".flash--success")).to_have_text(f"{pilot} is now at Needs Analysis.")
    assert stage_of(session, pilot) == needs

    # Dropped on Closed Lost: the lost reason is asked for first.
    racks = numbers["Warehouse racks"]
    page.locator(f"li.deal[data-number={racks}]").drag_to(page.locator(f"section.board-col[data-stage='{lost}']"))
    dialog = page.locator("#lost-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-lost-deal]")).to_have_text("Warehouse racks")
    page.get_by_label("Lost reason", exact=True).select_option("Competitor")
    shoot(page, "staff_board_lost_en")
    dialog.get_by_role("button", name="Close as lost").click()
    expect(page.locator(".flash--success")).to_have_text(f"{racks} is now at Closed Lost.")
    assert stage_of(session, racks) == lost
    reason = session.scalar(select(Opportunity.lost_reason).where(Opportunity.opportunity_no == racks))
    history = session.scalar(select(StageHistory.stage_id).join(Opportunity).where(
        Opportunity.opportunity_no == racks, StageHistory.left_at.is_(None)))
    session.commit()
    assert (reason, history) == ("Competitor", lost)

    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("h1")).to_have_text("標準銷售")
    expect(page.locator("nav.mainnav a[aria-current=page]")).to_have_text("看板")
    opening = page.locator("section.board-col", has=page.locator("h2", has_text="開發中"))
    expect(opening.locator(".board-col__count")).to_have_text("2 筆商機")
    shoot(page, "staff_board_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator(".board__columns")).to_be_visible()
    shoot(page, "staff_board_phone_zh_Hant")
    scroller: Any = page.evaluate("() => { const c = document.querySelector('.board__columns');"
                                  " return [c.scrollWidth, c.clientWidth]; }")
    assert scroller[0] > scroller[1]  # the columns scroll sideways on a phone, not the page
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
