"""The pipeline board through the real app (SQLite and PostgreSQL): columns count and total what SQL says, each
user sees the cards of their scope (a filter narrows it, never widens it), a move goes through the store's stage
change (history written, a lost stage needs its reason), 50 cards per column and "more".

Pages are parsed (`tests/staff_support.py`); what a move did is read back from the database.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Currency, Opportunity, SalesProcess, SalesStage, StageHistory, Team, User, utcnow
from crm_store.records import lifecycle as records
from crm_store.staff import board as boards

from .staff_support import Element, Page
from .test_staff_records import Crew, make_crew, signed_in

NOW = utcnow()
UNSET = object()


@pytest.fixture
def crew(session: Session) -> Crew:
    """The users of tests/test_staff_records.py: admin, manager, rep (a report; rep_b a teammate), rep_c."""
    return make_crew(session)


def stage_id(session: Session, name: str, process: str = "Standard Sales") -> int:
    found = session.scalar(select(SalesStage.id).join(SalesProcess).where(
        SalesStage.name == name, SalesProcess.name == process))
    assert found is not None
    return found


def deal(session: Session, crew: Crew, who: str, name: str, *, stage: str | None = None, amount: str | None = None,
         currency: str | None = None, probability: Any = UNSET, close: str = "2026-12-31",
         at: dt.datetime | None = None, commit: bool = True) -> str:
    """Make a deal owned by `who` in a stage (entered at `at`); `probability` set after (None: the stage's)."""
    values: dict[str, Any] = {"name": name, "owner_id": crew.ids[who], "expected_close_date": close}
    values |= {key: value for key, value in (("stage", stage), ("amount", amount), ("currency", currency)) if value}
    row = records.create(session, "opportunities", values, Actor.user(crew.ids[who]), at=at or NOW)
    if probability is not UNSET:
        session.execute(update(Opportunity).where(Opportunity.id == row.id).values(probability=probability))
    number = str(row.opportunity_no)
    if commit:
        session.commit()
    return number


def column_of(page: Page, name: str) -> Element:
    """The board's column of a stage, by its title."""
    return next(c for c in page.all("section", class_="board-col") if c.find("h2").text == name)


def moves_back_to(page: Page) -> set[str]:
    """Where the page's move forms return (their `next`)."""
    return {i.attrs["value"] for f in page.all("form") if f.attrs.get("action", "").startswith("/board/cards/")
            for i in f.all("input", name="next")}


def cards(column: Element | Page) -> list[str]:
    return [c.find(class_="deal__title").text for c in column.all("li", class_="deal")]


def expected_columns(session: Session, now: dt.datetime) -> dict[int, tuple[int, dict[str, tuple[Decimal, Decimal]]]]:
    """What each column should hold, summed in Python over the plain rows SQL returns."""
    rows = session.execute(
        select(Opportunity.stage_id, Currency.code, Opportunity.amount, Opportunity.probability,
               SalesStage.probability, SalesStage.is_won, SalesStage.is_lost, Opportunity.closed_at)
        .join(Currency, Currency.id == Opportunity.currency_id).join(SalesStage, SalesStage.id == Opportunity.stage_id)
        .join(SalesProcess).where(SalesProcess.is_default, Opportunity.deleted_at.is_(None)))
    counts: dict[int, int] = defaultdict(int)
    sums: dict[int, dict[str, tuple[Decimal, Decimal]]] = defaultdict(dict)
    since = now - dt.timedelta(days=boards.CLOSED_DAYS)
    for stage, code, amount, own, default, won, lost, closed_at in rows:
        if (won or lost) and (closed_at is None or closed_at < since) or not (won or lost) and closed_at is not None:
            continue
        counts[stage] += 1
        amount = Decimal(amount or 0)
        before = sums[stage].get(code, (Decimal(0), Decimal(0)))
        sums[stage][code] = (before[0] + amount, before[1] + amount * (default if own is None else own) / 100)
    return {stage: (counts[stage], sums[stage]) for stage in counts}


# -- what the columns hold ---------------------------------------------------------------------------------

def test_each_column_counts_and_totals_what_sql_says_per_currency(client: Any, session: Session,
                                                                  crew: Crew) -> None:
    deal(session, crew, "rep", "Tea", amount="1000", probability=None, commit=False)  # Prospecting: 10 %
    deal(session, crew, "rep", "Oolong", amount="200.50", currency="USD", probability=35, commit=False)
    deal(session, crew, "rep_c", "Jasmine", amount="300", commit=False)
    deal(session, crew, "rep", "Pu-erh", stage="Qualification", amount="5000", probability=None, commit=False)
    deal(session, crew, "rep", "Nothing yet", stage="Qualification", commit=False)
    deal(session, crew, "rep_b", "Won lately", stage="Closed Won", amount="7000", at=NOW - dt.timedelta(days=3),
         commit=False)
    deal(session, crew, "rep_b", "Won long ago", stage="Closed Won", amount="9000", at=NOW - dt.timedelta(days=45),
         commit=False)
    deal(session, crew, "rep_c", "Lost lately", stage="Closed Lost", amount="800", at=NOW - dt.timedelta(days=1),
         commit=False)
    gone = records.create(session, "opportunities", {"name": "Deleted", "owner_id": crew.ids["rep"],
                                                     "expected_close_date": "2026-12-31", "amount": "999"})
    records.delete(session, gone)
    project = session.scalar(select(SalesProcess.id).where(SalesProcess.name == "Project Sales"))
    records.create(session, "opportunities", {"name": "Other process", "owner_id": crew.ids["rep"],
                                              "expected_close_date": "2026-12-31", "sales_process_id": project})
    session.commit()

    shown = boards.board(session, session.get_one(User, crew.ids["admin"]), now=NOW)
    wanted = expected_columns(session, NOW)
    for column in shown.columns:
        count, per_currency = wanted.get(column.stage.id, (0, {}))
        assert column.count == count, column.stage.name
        assert {t.currency: (t.amount, t.weighted) for t in column.totals} == per_currency, column.stage.name
    by_name = {c.stage.name: c for c in shown.columns}
    assert [c.stage.name for c in shown.columns][:2] == ["Prospecting", "Qualification"]
    prospecting = by_name["Prospecting"]
    assert (prospecting.count, [t.currency for t in prospecting.totals]) == (3, ["TWD", "USD"])  # the company's first
    assert prospecting.totals[0].amount == Decimal("1300") and prospecting.totals[0].weighted == Decimal("130")
    assert prospecting.totals[1].weighted == Decimal("70.175")  # the deal's own 35 %
    assert by_name["Qualification"].totals[0].weighted == Decimal("1000")  # no probability: the stage's 20 %
    assert [c.name for c in by_name["Closed Won"].cards] == ["Won lately"]  # the last 30 days only
    assert by_name["Closed Lost"].count == 1
    session.rollback()

    page = signed_in(client, crew, "admin").get("/board")
    header = column_of(page, "Prospecting").find(class_="board-col__header")
    assert header.find(class_="board-col__count").text == "3 deals"
    assert header.find(class_="board-col__sum").text == "Amount: NT$1,300 + $200.50"
    assert header.find(class_="board-col__weighted").text == "Weighted NT$130 · $70.18"
    assert cards(column_of(page, "Prospecting")) == ["Tea", "Oolong", "Jasmine"]  # by close date, then number
    assert "board-col__weighted" not in str(column_of(page, "Closed Won").find(class_="board-col__header").walk())
    assert "Other process" not in page.text and "Deleted" not in page.text
    assert page.find("nav", class_="mainnav").find("a", aria_current="page").text == "Board"


def test_a_card_shows_its_account_amount_close_date_owner_days_in_stage_and_rotting(client: Any, session: Session,
                                                                                   crew: Crew) -> None:
    number = deal(session, crew, "rep", "Annual tea order", amount="480000", close="2020-01-31",
                  at=NOW - dt.timedelta(days=12, hours=1), commit=False)
    session.execute(update(Opportunity).where(Opportunity.opportunity_no == number).values(
        rotting_since=NOW - dt.timedelta(days=2)))
    session.commit()
    card = signed_in(client, crew, "rep").get("/board").find("li", data_number=number)
    assert card.find(class_="deal__title").find("a").attrs["href"] == f"/opportunities/{number}"
    assert card.find(class_="deal__amount").text == "NT$480,000"
    assert card.find(class_="deal__close").text == "Overdue: Jan 31, 2020"
    assert "deal__close--late" in card.find(class_="deal__close").attrs["class"]
    assert card.find(class_="deal__owner").text == "Rep A"
    assert card.find(class_="deal__days").text == "12 days in stage"
    assert card.find(class_="deal__rotting").text == "Rotting"
    assert "deal--rotting" in card.attrs["class"] and card.find(class_="deal__number").text == number


# -- who sees what -----------------------------------------------------------------------------------------

def test_a_rep_sees_their_cards_a_manager_their_reports_and_a_filter_never_widens(client: Any, session: Session,
                                                                                  crew: Crew) -> None:
    for who in ("rep", "rep_b", "rep_c", "manager"):
        deal(session, crew, who, f"Deal of {who}", commit=False)
    session.commit()
    north = session.scalar(select(Team.id).where(Team.name == "North"))
    session.rollback()

    def shown(who: str, query: str = "") -> set[str]:
        page = signed_in(client.application.test_client(), crew, who).get("/board" + query)
        return {name for column in page.all("section", class_="board-col") for name in cards(column)}

    assert shown("rep") == {"Deal of rep"}
    assert shown("rep", f"?owner={crew.ids['rep_c']}") == set()  # another rep's id: nothing, not their cards
    assert shown("rep", f"?team={north}") == {"Deal of rep"}  # the team's members within the scope
    assert shown("manager") == {"Deal of rep", "Deal of manager"}  # their report and their own
    assert shown("manager", "?owner=me") == {"Deal of manager"}
    assert shown("manager", f"?owner={crew.ids['rep_b']}") == set()  # not their report
    assert shown("admin") == {"Deal of rep", "Deal of rep_b", "Deal of rep_c", "Deal of manager"}
    assert shown("admin", f"?team={north}") == {"Deal of rep", "Deal of rep_b"}
    assert shown("admin", f"?team={north}&owner={crew.ids['rep_b']}") == {"Deal of rep_b"}

    rep = signed_in(client.application.test_client(), crew, "rep").get("/board")
    assert [o.text for o in rep.find("select", name="owner").all("option")] == ["Me"]
    assert not rep.all("select", name="team")
    admin = signed_in(client.application.test_client(), crew, "admin").get("/board")
    assert [o.text for o in admin.find("select", name="team").all("option")] == ["Any team", "North"]
    assert [o.text for o in admin.find("select", name="process").all("option")] == ["Standard Sales", "Project Sales"]
    prospecting = column_of(rep, "Prospecting")
    assert prospecting.find(class_="board-col__count").text == "1 deal"


# -- moving a card -----------------------------------------------------------------------------------------

def test_a_move_writes_the_stage_history_and_an_out_of_scope_move_is_not_found(client: Any, session: Session,
                                                                                crew: Crew) -> None:
    mine = deal(session, crew, "rep", "Mine")
    theirs = deal(session, crew, "rep_c", "Theirs")
    qualification = stage_id(session, "Qualification")
    elsewhere = stage_id(session, "Proposal", "Project Sales")
    session.rollback()
    staff = signed_in(client, crew, "rep")
    page = staff.get("/board")
    menu = page.find("li", data_number=mine).find("details", class_="menu")
    assert menu.find("summary").text == "Move to… Mine"  # the deal's name for a screen reader
    assert menu.find("a").attrs["href"] == f"/board/cards/{mine}/stage"  # without script: the move page
    moves = page.find("template", id="board-moves").find("form")  # board.js fills the menu from it
    offered = [b.text for b in moves.all("button")]
    assert offered[:2] == ["Prospecting", "Qualification"] and "Closed Lost" in offered  # less the card's own
    assert moves.attrs["action"] == "/board/cards/NUMBER/stage"

    staff.post(f"/board/cards/{mine}/stage", {"stage": str(qualification), "next": "/board?owner=me"})
    assert staff.status == 303 and staff.location == "/board?owner=me"
    assert staff.get("/board?owner=me").flashes() == [f"{mine} is now at Qualification."]
    moved = session.scalar(select(Opportunity).where(Opportunity.opportunity_no == mine))
    assert moved is not None and moved.stage_id == qualification
    history = session.scalars(select(StageHistory).where(StageHistory.opportunity_id == moved.id)
                              .order_by(StageHistory.entered_at, StageHistory.id)).all()
    assert [h.stage_id for h in history][-1] == qualification and len(history) == 2
    assert history[0].left_at is not None and history[1].left_at is None
    assert history[1].changed_by_id == crew.ids["rep"]
    session.rollback()
    assert cards(column_of(staff.get("/board"), "Qualification")) == ["Mine"]

    staff.post(f"/board/cards/{theirs}/stage", {"stage": str(qualification)})
    assert staff.status == 404  # another rep's deal: as if it were not there
    staff.post("/board/cards/POT999999/stage", {"stage": str(qualification)})
    assert staff.status == 404
    staff.get("/board")
    staff.post(f"/board/cards/{mine}/stage", {"stage": str(elsewhere)})
    assert staff.status == 400  # a stage of another process
    staff.get("/board")
    staff.post(f"/board/cards/{mine}/stage", {"stage": "Qualification"})
    assert staff.status == 400
    staff.get("/board")
    staff.post(f"/board/cards/{mine}/stage", {"stage": str(stage_id(session, "Needs Analysis"))}, csrf=False)
    assert staff.status == 400
    session.rollback()
    assert session.scalar(select(Opportunity.stage_id).where(Opportunity.opportunity_no == theirs)) != qualification
    session.rollback()

    staff.get("/board")
    needs = stage_id(session, "Needs Analysis")
    session.rollback()
    staff.post(f"/board/cards/{mine}/stage", {"stage": str(needs)}, headers={"X-Requested-With": "fetch"})
    assert staff.status == 204  # board.js's move: the page then reloads
    assert session.scalar(select(Opportunity.stage_id).where(Opportunity.opportunity_no == mine)) == needs
    session.rollback()


def test_a_lost_stage_needs_its_reason(client: Any, session: Session, crew: Crew) -> None:
    number = deal(session, crew, "rep", "Maybe")
    lost = stage_id(session, "Closed Lost")
    session.rollback()
    staff = signed_in(client, crew, "rep")
    staff.get("/board")
    page = staff.post(f"/board/cards/{number}/stage", {"stage": str(lost), "next": "/board"})
    assert staff.status == 422  # without script: the lost reason's own page
    assert page.find("h1").text == "Close Maybe as lost"
    assert page.field_error("lost_reason") == "Choose a lost reason to close the deal as lost."
    assert page.find("input", name="stage").attrs["value"] == str(lost)
    staff.post(f"/board/cards/{number}/stage", {"stage": str(lost)}, headers={"X-Requested-With": "fetch"})
    assert staff.status == 422 and json.loads(staff.response.get_data()) == {
        "message": "Choose a lost reason to close the deal as lost.", "lost": True}
    assert session.scalar(select(Opportunity.closed_at).where(Opportunity.opportunity_no == number)) is None
    session.rollback()

    staff.get("/board")
    staff.post(f"/board/cards/{number}/stage", {"stage": str(lost), "lost_reason": "Price",
                                                 "lost_reason_detail": "Cheaper elsewhere", "next": "/board"})
    assert staff.status == 303
    closed = session.scalar(select(Opportunity).where(Opportunity.opportunity_no == number))
    assert closed is not None and (closed.stage_id, closed.lost_reason) == (lost, "Price")
    assert closed.lost_reason_detail == "Cheaper elsewhere" and closed.closed_at is not None
    session.rollback()
    board = staff.get("/board")
    assert cards(column_of(board, "Closed Lost")) == ["Maybe"] and cards(column_of(board, "Prospecting")) == []
    dialog = board.find("dialog", id="lost-dialog")
    assert dialog.find("select", name="lost_reason").attrs.get("required") is not None
    assert "Price" in [o.attrs.get("value") for o in dialog.find("select", name="lost_reason").all("option")]


# -- 50 cards a column, then more ----------------------------------------------------------------------------

def test_a_column_shows_fifty_cards_then_more(client: Any, session: Session, crew: Crew) -> None:
    start = dt.date(2027, 1, 1)
    for i in range(53):
        deal(session, crew, "rep", f"Deal {i:02}", close=(start + dt.timedelta(days=i)).isoformat(), commit=False)
    deal(session, crew, "rep_c", "Not mine", close="2026-12-31", commit=False)
    session.commit()
    staff = signed_in(client, crew, "rep")
    page = staff.get("/board")
    column = column_of(page, "Prospecting")
    assert cards(column) == [f"Deal {i:02}" for i in range(50)]
    assert column.find(class_="board-col__count").text == "53 deals"
    more = column.find("a", data_more="").attrs["href"]
    assert more.startswith(f"/board/stages/{stage_id(session, 'Prospecting')}?after=")
    session.rollback()

    rest = staff.get(more)  # without script: a page of that column
    assert staff.status == 200 and cards(rest) == ["Deal 50", "Deal 51", "Deal 52"]
    assert not rest.all("a", data_more="")
    assert next(a for a in rest.all("a") if a.text == "Back to the board").attrs["href"] == "/board"
    fragment = staff.get(more, headers={"X-Requested-With": "fetch"})  # board.js: the cards alone
    assert [e.find(class_="deal__title").text for e in fragment.all("li", class_="deal")] == [
        "Deal 50", "Deal 51", "Deal 52"]
    assert not fragment.all("html") and not fragment.all("a", data_more="")
    first = fragment.find("li", class_="deal")
    assert first.find("details").find("a").attrs["href"] == f"/board/cards/{first.attrs['data-number']}/stage"
    assert not fragment.all("form") and not fragment.all("template")  # the board's template fills their menus
    assert rest.find("li", class_="deal").find("details").find("a").attrs["href"].endswith(
        "/stage?next=" + quote(more, safe="/"))  # the column's own page: a move returns to it

    filtered = staff.get(f"/board?owner={crew.ids['rep']}")
    link = column_of(filtered, "Prospecting").find("a", data_more="").attrs["href"]
    assert link.endswith(f"&owner={crew.ids['rep']}")
    staff.get(more.split("?")[0] + "?after=garbage")
    assert staff.status == 303 and staff.location == "/board"
    staff.get("/board/stages/999999")
    assert staff.status == 404
    staff.get("/board/stages/abc")
    assert staff.status == 404


# -- one Move to… template a board, the move page without script ---------------------------------------------

def test_the_board_sends_one_move_template_not_a_menu_per_card(client: Any, session: Session, crew: Crew) -> None:
    stages = ("Prospecting", "Qualification", "Needs Analysis", "Proposal or Price Quote")
    numbers = [deal(session, crew, "rep", f"Deal {i}", stage=stages[i % 4], commit=False) for i in range(12)]
    session.commit()
    default = session.scalars(select(SalesProcess.id).where(SalesProcess.is_default)).one()
    count = len(boards.stages_of(session, default))
    session.rollback()
    page = signed_in(client, crew, "rep").get("/board")

    shown = page.all("li", class_="deal")
    assert sorted(c.attrs["data-number"] for c in shown) == sorted(numbers)
    assert len(page.all("template")) == 1
    moves = page.find("template", id="board-moves")
    moving = [f.attrs["action"] for f in page.all("form") if f.attrs.get("action", "").startswith("/board/")]
    assert moving == ["/board/cards/NUMBER/stage"]  # 12 cards, one form (and the lost dialog's, posted where set)
    assert len(moves.all("button", name="stage")) == count == len(page.all("button", name="stage"))
    assert moves.find("input", name="csrf_token").attrs["value"] and moves.find("input", name="next").attrs[
        "value"] == "/board"
    assert [b.attrs.get("data-lost") for b in moves.all("button")].count("") == 1  # Closed Lost: its dialog
    for card in shown:  # each card: a menu of one link, no form, no token
        menu = card.find("details", class_="deal__menu")
        assert [a.attrs["href"] for a in menu.all("a")] == [f"/board/cards/{card.attrs['data-number']}/stage"]
        assert not card.all("form") and not card.all("input")

    filtered = signed_in(client.application.test_client(), crew, "rep").get("/board?owner=me")
    link = filtered.find("li", data_number=numbers[0]).find("details").find("a").attrs["href"]
    assert link == f"/board/cards/{numbers[0]}/stage?next=/board%3Fowner%3Dme"  # back to the filtered board


def test_the_move_page_offers_the_other_stages_and_the_lost_reason_without_script(client: Any, session: Session,
                                                                                   crew: Crew) -> None:
    mine = deal(session, crew, "rep", "Mine", stage="Qualification")
    other = deal(session, crew, "rep", "Other")
    teammate = deal(session, crew, "rep_b", "Teammate's")
    theirs = deal(session, crew, "rep_c", "Theirs")
    needs, lost = stage_id(session, "Needs Analysis"), stage_id(session, "Closed Lost")
    session.rollback()
    staff = signed_in(client, crew, "rep")

    page = staff.get(f"/board/cards/{mine}/stage?next=%2Fboard%3Fowner%3Dme")
    assert staff.status == 200 and page.find("h1").text == "Move Mine"
    assert "Now at Qualification." in page.text
    buttons = page.find("form", class_="board-move").all("button", name="stage")
    offered = [b.text for b in buttons]
    assert offered[:2] == ["Prospecting", "Needs Analysis"] and "Closed Won" in offered
    assert "Qualification" not in offered and "Closed Lost" not in offered  # its own; lost: the form below
    lost_form = next(f for f in page.all("form") if f.all("select", name="lost_reason"))
    assert lost_form.find("input", name="stage").attrs["value"] == str(lost)
    assert lost_form.find("select", name="lost_reason").attrs.get("required") is not None
    assert moves_back_to(page) == {"/board?owner=me"}

    staff.post(f"/board/cards/{mine}/stage", {"stage": str(needs), "next": "/board?owner=me"})
    assert staff.status == 303 and staff.location == "/board?owner=me"
    assert session.scalar(select(Opportunity.stage_id).where(Opportunity.opportunity_no == mine)) == needs
    session.rollback()

    staff.get(f"/board/cards/{other}/stage")
    staff.post(f"/board/cards/{other}/stage", {"stage": str(lost), "lost_reason": "Price", "next": "/board"})
    assert staff.status == 303 and staff.location == "/board"
    closed = session.scalar(select(Opportunity).where(Opportunity.opportunity_no == other))
    assert closed is not None and (closed.stage_id, closed.lost_reason) == (lost, "Price")
    session.rollback()
    page = staff.get(f"/board/cards/{other}/stage?next=//elsewhere.example")
    assert "Now at Closed Lost." in page.text and not [f for f in page.all("form") if f.all("select")]
    assert "Closed Lost" not in [b.text for b in page.all("button", name="stage")]
    assert moves_back_to(page) == {"/board"}  # not another site

    for number in (theirs, teammate, "POT999999"):  # another rep's deal: as if it were not there
        staff.get(f"/board/cards/{number}/stage")
        assert staff.status == 404, number
    manager = signed_in(client.application.test_client(), crew, "manager")
    assert manager.get(f"/board/cards/{mine}/stage").find("h1").text == "Move Mine"  # their report's
    visitor = client.application.test_client()
    answer = visitor.get(f"/board/cards/{mine}/stage")
    assert answer.status_code == 302 and "/auth/sign-in" in answer.headers["Location"]


def test_the_move_page_in_traditional_chinese(client: Any, session: Session, crew: Crew) -> None:
    number = deal(session, crew, "rep", "茶葉採購")
    session.execute(update(User).where(User.id == crew.ids["rep"]).values(language="zh_Hant"))
    session.commit()
    page = signed_in(client, crew, "rep").get(f"/board/cards/{number}/stage")
    assert page.find("h1").text == "移動「茶葉採購」"
    assert "目前階段：開發中。" in page.text
    board = signed_in(client.application.test_client(), crew, "rep").get("/board")
    assert board.find("li", data_number=number).find("details").find("a").text == "選擇階段"
