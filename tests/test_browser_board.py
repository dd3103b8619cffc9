"""The pipeline board in a real browser (Debian's Chromium via Playwright): a manager drags a card to the next
stage, moves another with the keyboard only (Tab to its Move to… menu, Enter, the stage), and drops one on Closed
Lost, which asks for the lost reason; each move is read back from the database. Screenshots of the board in both
languages and on a phone are kept in tests/artifacts/.

Only SQLite: the browser side does not depend on the database (tests/test_staff_board.py covers both).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Opportunity, SalesProcess, SalesStage, StageHistory, utcnow
from crm_store.records import lifecycle as records
from crm_store.staff import passwords, teams, users

from .browser_support import ARTIFACTS, TIMEOUT_MS, LiveServer
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
    expect(page.locator(".board__touch")).to_be_hidden()
    shoot(page, "staff_board_en")

    # Drag "Annual tea order" from Prospecting to Qualification.
    tea = numbers["年度茶葉採購 Annual tea order"]
    page.locator(f"li.deal[data-number={tea}]").drag_to(page.locator(f"section.board-col[data-stage='{qualification}']"))
    expect(page.locator(".flash--success")).to_have_text(f"{tea} is now at Qualification.")
    expect(page.locator(f"section.board-col[data-stage='{qualification}'] li.deal[data-number={tea}]")).to_be_visible()
    expect(prospecting.locator(".board-col__count")).to_have_text("2 deals")
    assert stage_of(session, tea) == qualification

    # The keyboard only: Tab to the card's menu, Enter (the choices filled in from the board's one template, the
    # focus on the first), Escape (closed, the focus back), Enter again, Tab to the stage, Enter.
    pilot = numbers["Pilot order"]
    menu = page.locator(f"li.deal[data-number={pilot}] details.menu")
    expect(menu.locator("button")).to_have_count(0)  # nothing but the link to the move page until opened
    tab_to(page, f"li.deal[data-number={pilot}] summary")
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    expect(menu.locator("button").first).to_be_focused()
    expect(menu.locator("button").first).to_have_text("Prospecting")
    expect(menu.locator(f"button[value='{qualification}']")).to_have_count(0)  # its own stage is not offered
    expect(menu.locator("form")).to_have_attribute("action", f"/board/cards/{pilot}/stage")
    shoot(page, "staff_board_menu_en")
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(menu.locator("summary")).to_be_focused()
    page.keyboard.press("Enter")
    expect(menu.locator("button").first).to_be_focused()
    tab_to(page, f"li.deal[data-number={pilot}] button[value='{needs}']", most=12)
    page.keyboard.press("Enter")
    expect(page.locator(".flash--success")).to_have_text(f"{pilot} is now at Needs Analysis.")
    assert stage_of(session, pilot) == needs

    # Closed Lost from the keyboard: the dialog asks for the reason; Escape closes it and the focus returns.
    spare = numbers["Spare parts 2027"]
    tab_to(page, f"li.deal[data-number={spare}] summary")
    page.keyboard.press("Enter")
    tab_to(page, f"li.deal[data-number={spare}] button[value='{lost}']", most=12)
    page.keyboard.press("Enter")
    expect(page.locator("#lost-dialog")).to_be_visible()
    expect(page.get_by_label("Lost reason", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#lost-dialog")).not_to_be_visible()
    expect(page.locator(f"li.deal[data-number={spare}] summary")).to_be_focused()
    assert stage_of(session, spare) != lost

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


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:  # noqa: F811 - the fixture
    """A tab in a phone-sized touch context (390 × 844, touch events); fails the test on a script error."""
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, has_touch=True,
                                  is_mobile=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    yield tab
    context.close()
    assert not problems, f"errors in the page: {problems}"


class Finger:
    """One finger on the touch screen, through Chromium's input pipeline (touch and pointer events, scrolling)."""

    def __init__(self, tab: Page) -> None:
        self.cdp = tab.context.new_cdp_session(tab)
        self.at = (0.0, 0.0)

    def down(self, x: float, y: float) -> None:
        self.at = (x, y)
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})

    def move(self, x: float, y: float, steps: int = 8) -> None:
        (x0, y0) = self.at
        for i in range(1, steps + 1):
            point = {"x": x0 + (x - x0) * i / steps, "y": y0 + (y - y0) * i / steps}
            self.cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        self.at = (x, y)

    def up(self) -> None:
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def shoot_screen(tab: Page, name: str) -> None:
    """Keep a screenshot of what the screen shows in tests/artifacts/ (a full-page one of a phone context is
    taken without its touch emulation: the touch-only help would be missing)."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(shot))
    assert shot.stat().st_size > 5 * 1024, shot


def scrolled(tab: Page) -> int:
    """Where the board's columns are scrolled to, once they stand still (a swipe may fling them on)."""
    return int(tab.evaluate("""async () => {
        const strip = document.querySelector('.board__columns');
        let last = -1, still = 0;
        while (still < 10) {
            await new Promise((done) => requestAnimationFrame(done));
            still = strip.scrollLeft === last ? still + 1 : 0;
            last = strip.scrollLeft;
        }
        return last;
    }"""))


def column_holds(tab: Page, stage: int, x: float) -> bool:
    """Whether the column of `stage` is under the point `x` (across) now."""
    return bool(tab.evaluate("([s, x]) => { const r = document.querySelector(`section.board-col[data-stage='${s}']`)"
                             ".getBoundingClientRect(); return r.left < x && x < r.right; }", [stage, x]))


def test_a_finger_drags_a_card_to_the_next_stage_on_a_phone_and_a_swipe_still_scrolls(
    phone: Page, crm_server: LiveServer, session: Session  # noqa: F811 - the fixtures
) -> None:
    numbers = make_pipeline(session)
    prospecting, qualification = stage_id(session, "Prospecting"), stage_id(session, "Qualification")
    session.commit()
    sign_in(phone, crm_server)
    phone.goto(crm_server.url("/board"))
    strip = phone.locator(".board__columns")
    finger = Finger(phone)
    expect(phone.locator(".board__touch")).to_be_visible()  # how to drag with a finger (hidden for a mouse)

    # A quick swipe across a card scrolls the columns: it does not lift the card.
    tea = numbers["年度茶葉採購 Annual tea order"]
    card = phone.locator(f"li.deal[data-number={tea}]")
    card.scroll_into_view_if_needed()
    box = card.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    finger.down(x, y)
    finger.move(x - 250, y)
    finger.up()
    assert scrolled(phone) > 0  # (past half a column: it snaps on to the next)
    expect(phone.locator(".board__ghost")).to_have_count(0)
    expect(card).to_have_class("deal")
    strip.evaluate("(s) => { s.scrollLeft = 0; }")
    assert scrolled(phone) == 0
    assert stage_of(session, tea) == prospecting

    # Touch and hold: the card lifts and follows the finger; at the screen's edge the columns scroll, the next
    # stage's column comes under the finger, and letting go there moves the deal.
    card.scroll_into_view_if_needed()
    box = card.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    finger.down(x, y)
    expect(phone.locator(".board__ghost")).to_be_visible()  # lifted after the hold
    expect(card).to_have_class("deal deal--dragging")
    finger.move(375, y)
    phone.wait_for_function("([s, x]) => { const r = document.querySelector(`section.board-col[data-stage='${s}']`)"
                            ".getBoundingClientRect(); return r.left < x && x < r.right; }", arg=[qualification, 195])
    finger.move(195, y, steps=2)
    assert column_holds(phone, qualification, 195)
    expect(phone.locator(f"section.board-col[data-stage='{qualification}']")).to_have_class(
        "board-col board-col--over")
    shoot(phone, "staff_board_phone_drag_en")
    finger.up()
    expect(phone.locator(".flash--success")).to_have_text(f"{tea} is now at Qualification.")
    expect(phone.locator(".board__ghost")).to_have_count(0)
    assert stage_of(session, tea) == qualification
    phone.locator(".board__help").evaluate("(help) => help.scrollIntoView()")
    shoot_screen(phone, "staff_board_phone_en")


def test_without_script_a_card_s_menu_leads_to_its_move_page(
    browser: Browser, crm_server: LiveServer, session: Session  # noqa: F811 - the fixtures
) -> None:
    numbers = make_pipeline(session)
    needs = stage_id(session, "Needs Analysis")
    session.commit()
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800}, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        sign_in(tab, crm_server)
        pilot = numbers["Pilot order"]
        tab.goto(crm_server.url("/board"))
        card = tab.locator(f"li.deal[data-number={pilot}]")
        card.locator("summary").click()
        card.get_by_role("link", name="Choose the stage").click()
        expect(tab.locator("h1")).to_have_text("Move Pilot order")
        expect(tab.get_by_text("Now at Qualification.")).to_be_visible()
        shoot(tab, "staff_board_move_en")
        tab.get_by_role("button", name="Needs Analysis").click()
        expect(tab.locator(".flash--success")).to_have_text(f"{pilot} is now at Needs Analysis.")
        expect(tab.locator("h1")).to_have_text("Standard Sales")
        assert stage_of(session, pilot) == needs

        racks = numbers["Warehouse racks"]
        tab.goto(crm_server.url(f"/board/cards/{racks}/stage"))
        tab.get_by_label("Lost reason", exact=True).select_option("Competitor")
        tab.get_by_role("button", name="Close as lost").click()
        expect(tab.locator(".flash--success")).to_have_text(f"{racks} is now at Closed Lost.")
        reason = session.scalar(select(Opportunity.lost_reason).where(Opportunity.opportunity_no == racks))
        session.commit()
        assert reason == "Competitor"

        tab.get_by_role("button", name="繁體中文").click()
        tab.goto(crm_server.url(f"/board/cards/{numbers['專案標案 Tender']}/stage"))
        expect(tab.locator("h1")).to_have_text("移動「專案標案 Tender」")
        shoot(tab, "staff_board_move_zh_Hant")
        tab.set_viewport_size({"width": 390, "height": 844})
        shoot(tab, "staff_board_move_phone_zh_Hant")
        assert tab.evaluate("() => document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
