"""The pipeline and forecast reports on a handful of deals whose figures are worked out by hand.

As of 2026-06-30 in the company's zone (Asia/Taipei), default period 2025-07-01 … 2026-06-30, company currency
TWD (no minor unit; US$1 = NT$32.5 when the deals were saved).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm_store.models import Currency
from crm_store.settings import company
from tests.analytics_support import add_deal, blank_probability, by, delete, make_staff, run, taipei, warehouse

AS_OF = dt.date(2026, 6, 30)
d = dt.date
PROSPECTING, QUALIFICATION, PROPOSAL = "Prospecting", "Qualification", "Proposal or Price Quote"
STANDARD_OPEN = [PROSPECTING, QUALIFICATION, "Needs Analysis", "Value Proposition", "Id. Decision Makers",
                 "Perception Analysis", PROPOSAL, "Negotiation or Review"]


@pytest.fixture
def deals(session: Session, database_url: str, tmp_path: Path) -> Any:
    """The deals in the store, and a warehouse refreshed from it (open, read-only)."""
    staff = make_staff(session)
    ann, bob = staff.ann, staff.bob  # Ann is in team North, Bob in South
    # open, Standard Sales
    add_deal(session, "O1 tea garden", ann, taipei(2026, 6, 1, 10), amount="100000", expected=d(2026, 8, 15))
    o2 = add_deal(session, "O2 export", bob, taipei(2026, 5, 1, 9), amount="1001", currency="USD",
                  expected=d(2026, 7, 31))
    blank_probability(session, o2)  # falls back to Prospecting's 10
    # created 2026-03-31 17:00 UTC: 1 April on the company's clock
    add_deal(session, "O3 hotel", ann, taipei(2026, 4, 1, 1), [(QUALIFICATION, taipei(2026, 6, 10, 9))],
             amount="50000", probability=35, expected=d(2026, 7, 15))
    add_deal(session, "O4 chain", bob, taipei(2026, 3, 1, 9),
             [(QUALIFICATION, taipei(2026, 4, 1, 9)), (PROPOSAL, taipei(2026, 5, 31, 14))],
             amount="200000", expected=d(2026, 9, 10))
    add_deal(session, "O5 gift boxes", ann, taipei(2026, 6, 20, 9), amount=None, first="Negotiation or Review",
             expected=d(2026, 7, 20))
    # closed
    add_deal(session, "O6 won", ann, taipei(2026, 2, 1, 9), [("Closed Won", taipei(2026, 6, 15, 9))],
             amount="80000", expected=d(2026, 6, 30))
    add_deal(session, "O7 lost", bob, taipei(2026, 2, 1, 9), [("Closed Lost", taipei(2026, 5, 1, 9))],
             amount="60000", expected=d(2026, 7, 10))
    # won at 2026-05-31 16:30 UTC: 1 June on the company's clock; US$100 = 3250
    add_deal(session, "O11 won in June", bob, taipei(2026, 4, 1, 9), [("Closed Won", taipei(2026, 6, 1, 0, 30))],
             amount="100", currency="USD", expected=d(2026, 6, 30))
    add_deal(session, "O12 won before the period", ann, taipei(2025, 5, 1, 9),
             [("Closed Won", taipei(2025, 6, 20, 9))], amount="5000", expected=d(2025, 6, 30))
    # left out of both reports: in the recycle bin; created after as_of
    delete(session, add_deal(session, "O8 binned", ann, taipei(2026, 6, 1, 9), amount="70000",
                             expected=d(2026, 7, 10)))
    add_deal(session, "O10 too new", ann, taipei(2026, 7, 2, 9), amount="90000", expected=d(2026, 7, 25))
    # 30 June in UTC, 1 July on the company's clock: created after as_of, won after the period
    add_deal(session, "O13 created 1 July", ann, taipei(2026, 7, 1, 1), amount="8000", expected=d(2026, 7, 20))
    add_deal(session, "O14 won 1 July", bob, taipei(2026, 6, 1, 9), [("Closed Won", taipei(2026, 7, 1, 2))],
             amount="7000", expected=d(2026, 6, 30))
    # open, Project Sales
    add_deal(session, "O9 project", ann, taipei(2026, 6, 5, 9), amount="40000", process="Project Sales",
             expected=d(2026, 8, 1))
    session.commit()
    con = warehouse(database_url, tmp_path)
    yield con
    con.close()


def row(opportunities: int, amount: int, weighted: int, age: float | None, in_stage: float | None) -> dict[str, Any]:
    return {"opportunities": opportunities, "amount": D(amount), "weighted_amount": D(weighted),
            "avg_age_days": age, "avg_days_in_stage": in_stage}


EMPTY = row(0, 0, 0, None, None)


def figures(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Each row's figures by its key, the key checked unique and non-null."""
    return {k: {c: v for c, v in r.items() if c != key} for k, r in by(rows, key).items()}


def test_pipeline_counts_open_deals_by_stage_with_weighted_amounts_and_ages(deals: Any) -> None:
    rows = run(deals, "pipeline", AS_OF)
    assert [r["stage"] for r in rows] == STANDARD_OPEN  # every open stage, in order, also the empty ones
    assert list(rows[0]) == ["stage", "opportunities", "amount", "weighted_amount", "avg_age_days",
                             "avg_days_in_stage"]
    assert figures(rows, "stage") == {
        # O1 100000 at 10 % + O2 US$1001 × 32.5 = 32532.5 → 32533 at its stage's 10 % (its own is empty) + O14
        # 7000 at 10 % (won on 1 July, after as_of: open in Prospecting when 30 June ended): weighted
        # 10000 + 3253.3 + 700 = 13953.3 → 13953; created 1 June (29 days), 1 May (60), 1 June (29): 39.3 both ways
        PROSPECTING: row(3, 139533, 13953, 39.3, 39.3),
        # O3 50000 at its own 35 % = 17500; created 1 April local (90 days; 31 March in UTC would be 91),
        # in the stage since 10 June (20 days)
        QUALIFICATION: row(1, 50000, 17500, 90.0, 20.0),
        "Needs Analysis": EMPTY, "Value Proposition": EMPTY, "Id. Decision Makers": EMPTY,
        "Perception Analysis": EMPTY,
        # O4 200000 at 65 % = 130000; created 1 March (121 days), in the stage since 31 May (30)
        PROPOSAL: row(1, 200000, 130000, 121.0, 30.0),
        # O5 has no amount: it counts as a deal worth 0; created in the stage on 20 June (10 days)
        "Negotiation or Review": row(1, 0, 0, 10.0, 10.0),
    }
    # deals closed by as_of (O6, O7, O11, O12), the binned O8, O10 and O13 created after as_of and O9 of another
    # process: none
    assert sum(r["opportunities"] for r in rows) == 6


def test_pipeline_for_one_owner_and_for_another_process(deals: Any) -> None:
    bob = figures(run(deals, "pipeline", AS_OF, owner="bob@leadline.test"), "stage")
    # O2 3253.3 + O14 700 = 3953.3 → 3953; created 60 and 29 days before as_of
    assert bob[PROSPECTING] == row(2, 39533, 3953, 44.5, 44.5)
    assert bob[PROPOSAL] == row(1, 200000, 130000, 121.0, 30.0)  # O4
    assert bob[QUALIFICATION] == bob["Negotiation or Review"] == EMPTY
    north = figures(run(deals, "pipeline", AS_OF, team="North"), "stage")  # Ann's O1, O3, O5
    assert [north[s]["opportunities"] for s in STANDARD_OPEN] == [1, 1, 0, 0, 0, 0, 0, 1]
    project = run(deals, "pipeline", AS_OF, process="Project Sales")
    assert [r["stage"] for r in project] == ["Initial Contact", "Project Evaluation", "Needs Analysis", "Proposal",
                                            "Bidding / Competition", "Negotiation"]
    # O9 40000 at Initial Contact's 10 %, created 5 June (25 days)
    assert figures(project, "stage")["Initial Contact"] == row(1, 40000, 4000, 25.0, 25.0)
    assert sum(r["opportunities"] for r in project) == 1


def test_forecast_by_month_of_expected_close_beside_what_was_won(deals: Any) -> None:
    rows = run(deals, "forecast", AS_OF)
    assert list(rows[0]) == ["month", "opportunities", "amount", "weighted_amount", "won_amount"]

    def month(opportunities: int, amount: int, weighted: int, won: int) -> dict[str, Any]:
        return {"opportunities": opportunities, "amount": D(amount), "weighted_amount": D(weighted),
                "won_amount": D(won)}

    assert figures(rows, "month") == {
        # won: O6 80000 (15 June) + O11 3250 (1 June local, 31 May in UTC), not O14 (won 1 July local, 30 June
        # in UTC); nothing open is expected in June
        "2026-06": month(0, 0, 0, 83250),
        # O2 32533 (3253.3), O3 50000 (17500), O5 0: weighted 20753.3 → 20753; the lost O7, the binned O8, O10
        # and O13 (created after as_of: O13 on 1 July local, 30 June in UTC) are not counted
        "2026-07": month(3, 82533, 20753, 0),
        # O1 100000 (10000) and O9 of Project Sales 40000 (4000): every process counts
        "2026-08": month(2, 140000, 14000, 0),
        "2026-09": month(1, 200000, 130000, 0),  # O4 at 65 %
    }
    assert [r["month"] for r in rows] == ["2026-06", "2026-07", "2026-08", "2026-09"]  # O12 won before the period


def test_forecast_for_a_team(deals: Any) -> None:
    rows = run(deals, "forecast", AS_OF, team="North")  # Ann's deals: O6 won; O3, O5; O1, O9
    assert [(r["month"], r["opportunities"], r["amount"], r["weighted_amount"], r["won_amount"]) for r in rows] == [
        ("2026-06", 0, D(0), D(0), D(80000)),
        ("2026-07", 2, D(50000), D(17500), D(0)),
        ("2026-08", 2, D(140000), D(14000), D(0)),
    ]


def test_money_is_rounded_to_the_company_currencys_cents(session: Session, database_url: str, tmp_path: Path) -> None:
    staff = make_staff(session)
    company.set_value(session, "default_currency", "USD")
    session.execute(update(Currency).where(Currency.code == "USD").values(exchange_rate=D(1)))
    session.execute(update(Currency).where(Currency.code == "EUR").values(exchange_rate=D("1.125")))
    add_deal(session, "Euro deal", staff.ann, taipei(2026, 6, 1, 9), amount="10.12", currency="EUR")
    add_deal(session, "Dollar deal", staff.ann, taipei(2026, 6, 1, 9), amount="1000.10", currency="USD")
    session.commit()
    con = warehouse(database_url, tmp_path)
    try:
        prospecting = run(con, "pipeline", AS_OF)[0]
    finally:
        con.close()
    # €10.12 × 1.125 = 11.385 → 11.39 (half up, to the cent); + 1000.10 = 1011.49; at 10 %: 101.149 → 101.15
    assert (prospecting["stage"], prospecting["amount"], prospecting["weighted_amount"]) == \
        (PROSPECTING, D("1011.49"), D("101.15"))
    assert str(prospecting["amount"]) == "1011.49"  # two places, as the currency has


def test_pipeline_as_of_a_past_day_shows_each_deal_in_the_stage_it_was_in(session: Session, database_url: str,
                                                                          tmp_path: Path) -> None:
    staff = make_staff(session)
    # created 1 June in Prospecting, Qualification on 10 June, Proposal on 5 July, won on 20 July
    add_deal(session, "Moving", staff.ann, taipei(2026, 6, 1, 9),
             [(QUALIFICATION, taipei(2026, 6, 10, 9)), (PROPOSAL, taipei(2026, 7, 5, 9)),
              ("Closed Won", taipei(2026, 7, 20, 9))], amount="1000")
    session.commit()
    con = warehouse(database_url, tmp_path)
    try:
        def where(as_of: dt.date) -> dict[str, tuple[int, float | None]]:
            rows = run(con, "pipeline", as_of)
            return {r["stage"]: (r["opportunities"], r["avg_days_in_stage"]) for r in rows if r["opportunities"]}

        assert where(dt.date(2026, 6, 5)) == {PROSPECTING: (1, 4.0)}
        assert where(dt.date(2026, 6, 30)) == {QUALIFICATION: (1, 20.0)}  # since 10 June, never negative
        assert where(dt.date(2026, 7, 10)) == {PROPOSAL: (1, 5.0)}
        assert where(dt.date(2026, 7, 20)) == {}  # won that day: no longer open when it ended
    finally:
        con.close()
