"""The funnel and win-rate reports on a handful of deals whose figures are worked out by hand.

As of 2026-06-30 in the company's zone (Asia/Taipei), default period 2025-07-01 … 2026-06-30, company currency
TWD (no minor unit; US$1 = NT$32.5 when the deals were saved), the default process Standard Sales.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.analytics_support import add_deal, by, delete, make_staff, run, taipei, warehouse

AS_OF = dt.date(2026, 6, 30)
QUAL, NEEDS, PROPOSAL, NEGOTIATION = "Qualification", "Needs Analysis", "Proposal or Price Quote", \
    "Negotiation or Review"
WON, LOST = "Closed Won", "Closed Lost"
FUNNEL_STAGES = ["Prospecting", QUAL, NEEDS, "Value Proposition", "Id. Decision Makers", "Perception Analysis",
                 PROPOSAL, NEGOTIATION, WON]


@pytest.fixture
def funnel_deals(session: Session, database_url: str, tmp_path: Path) -> Any:
    """Deals moved through Standard Sales (stays in whole days but one), and a warehouse refreshed from them."""
    staff = make_staff(session)
    ann, bob, cho = staff.ann, staff.bob, staff.cho  # Ann and Cho: team North; Bob: South
    t = taipei
    # furthest row reached → reached counts it for every row up to it
    add_deal(session, "F1", ann, t(2026, 1, 10), [(QUAL, t(2026, 1, 14)), (NEEDS, t(2026, 1, 24)),
                                                  (WON, t(2026, 2, 3))])  # Won (9): stages 4–8 skipped
    add_deal(session, "F2", bob, t(2026, 2, 1), [(QUAL, t(2026, 2, 3)), (LOST, t(2026, 2, 9))])  # 2
    add_deal(session, "F3", ann, t(2026, 3, 1), [(PROPOSAL, t(2026, 3, 8)), (LOST, t(2026, 3, 20, 12))])  # 7
    add_deal(session, "F4", bob, t(2026, 4, 1))  # 1, still in Prospecting
    add_deal(session, "F5", ann, t(2026, 4, 10), [(NEGOTIATION, t(2026, 4, 18))], first=QUAL)  # 8
    add_deal(session, "F6", bob, t(2026, 5, 1), [(QUAL, t(2026, 5, 4)), ("Prospecting", t(2026, 5, 6))])  # 2
    add_deal(session, "F7", cho, t(2026, 5, 10), first=LOST)  # reached none of the rows
    add_deal(session, "F11", cho, t(2025, 7, 1, 0, 30))  # 2025-06-30 16:30 UTC: in the period here; 1
    # left out: created before / after the period (by the company's day), in the bin, of another process
    add_deal(session, "F8", ann, t(2025, 6, 15), [(WON, t(2025, 8, 1))])
    add_deal(session, "F12", cho, t(2026, 7, 1, 0, 30), [(WON, t(2026, 7, 2))])  # 2026-06-30 16:30 UTC
    delete(session, add_deal(session, "F10", ann, t(2026, 2, 1), [(WON, t(2026, 2, 10))]))
    add_deal(session, "F9", ann, t(2026, 2, 1), [("Closed Won", t(2026, 2, 10))], process="Project Sales")
    session.commit()
    con = warehouse(database_url, tmp_path)
    yield con
    con.close()


def check_funnel(rows: list[dict[str, Any]]) -> None:
    """A unique stage per row, in the process's order; never more deals at a later row."""
    by(rows, "stage")
    assert [r["stage"] for r in rows] == FUNNEL_STAGES
    reached = [r["reached"] for r in rows]
    assert reached == sorted(reached, reverse=True)
    assert rows[0]["conversion"] is None


def test_funnel_counts_deals_reaching_each_stage_from_their_history(funnel_deals: Any) -> None:
    rows = run(funnel_deals, "funnel", AS_OF)
    check_funnel(rows)
    assert list(rows[0]) == ["stage", "reached", "conversion", "avg_days_in_stage", "median_days_in_stage"]
    # furthest rows: F1 9, F2 2, F3 7, F4 1, F5 8, F6 2, F11 1 (F7 none)
    assert [r["reached"] for r in rows] == [7, 5, 3, 3, 3, 3, 3, 2, 1]
    expected_conversion = [None, 5 / 7, 3 / 5, 1.0, 1.0, 1.0, 1.0, 2 / 3, 1 / 2]
    assert [r["conversion"] for r in rows] == [pytest.approx(c) if c else None for c in expected_conversion]
    # completed stays only: Prospecting F1 4, F2 2, F3 7, F6 3 (its second stay goes on) → 4.0, median 3.5;
    # Qualification F1 10, F2 6, F5 8, F6 2 → 6.5, median 7.0; Needs Analysis F1 10; Proposal F3 12.5;
    # no completed stay in the stages skipped, in Negotiation (F5 is still there) or Closed Won
    days = {r["stage"]: (r["avg_days_in_stage"], r["median_days_in_stage"]) for r in rows}
    assert days == {
        "Prospecting": (4.0, 3.5), QUAL: (6.5, 7.0), NEEDS: (10.0, 10.0), "Value Proposition": (None, None),
        "Id. Decision Makers": (None, None), "Perception Analysis": (None, None), PROPOSAL: (12.5, 12.5),
        NEGOTIATION: (None, None), WON: (None, None),
    }


def test_funnel_for_an_owner_and_for_a_team(funnel_deals: Any) -> None:
    ann = run(funnel_deals, "funnel", AS_OF, owner="ann@leadline.test")  # F1 9, F3 7, F5 8
    check_funnel(ann)
    assert [r["reached"] for r in ann] == [3, 3, 3, 3, 3, 3, 3, 2, 1]
    assert [(r["avg_days_in_stage"], r["median_days_in_stage"]) for r in ann[:2]] == [(5.5, 5.5), (9.0, 9.0)]
    south = run(funnel_deals, "funnel", AS_OF, team="South")  # Bob's F2 2, F4 1, F6 2
    check_funnel(south)
    assert [r["reached"] for r in south] == [3, 2, 0, 0, 0, 0, 0, 0, 0]
    # 2 of 3, then 0 of 2, then nothing to divide by
    assert [r["conversion"] for r in south] == [None, pytest.approx(2 / 3), 0.0, None, None, None, None, None, None]


@pytest.fixture
def closed_deals(session: Session, database_url: str, tmp_path: Path) -> Any:
    """Deals won, lost and open for three reps, and a warehouse refreshed from them."""
    staff = make_staff(session)
    ann, bob, cho = staff.ann, staff.bob, staff.cho
    t = taipei
    # Ann: won 100000 in 30 days and US$1000 = 32500 in 50 days; lost one; two open
    add_deal(session, "W1", ann, t(2026, 1, 1, 9), [(WON, t(2026, 1, 31, 9))], amount="100000")
    add_deal(session, "W2", ann, t(2026, 2, 1, 9), [(WON, t(2026, 3, 23, 9))], amount="1000", currency="USD")
    add_deal(session, "L1", ann, t(2026, 3, 1, 9), [(LOST, t(2026, 4, 1, 9))], amount="90000")
    add_deal(session, "A open 1", ann, t(2026, 5, 1, 9), amount="10000")
    add_deal(session, "A open 2", ann, t(2026, 6, 1, 9), [(PROPOSAL, t(2026, 6, 2, 9))], amount="20000")
    # Bob: won 50000 in 10 days (created 21 June 2025 and won 1 July 2025 on the company's clock — 20 and 30
    # June in UTC, which would leave it out of the period), 70000 in 20 days, 30000 in 60 days; lost two; one open
    add_deal(session, "W3", bob, t(2025, 6, 21, 1), [(WON, t(2025, 7, 1, 1))], amount="50000")
    add_deal(session, "W4", bob, t(2026, 2, 10, 9), [(WON, t(2026, 3, 2, 9))], amount="70000")
    add_deal(session, "W5", bob, t(2026, 3, 1, 9), [(WON, t(2026, 4, 30, 9))], amount="30000")
    add_deal(session, "L2", bob, t(2026, 1, 1, 9), [(LOST, t(2026, 2, 1, 9))], amount="40000")
    add_deal(session, "L3", bob, t(2026, 4, 1, 9), [(LOST, t(2026, 5, 15, 9))], amount="40000")
    add_deal(session, "B open", bob, t(2026, 6, 1, 9), amount="5000")
    # Cho: one open deal, nothing closed
    add_deal(session, "C open", cho, t(2026, 6, 10, 9), amount="5000")
    # left out: won before the period; won on 1 July local (30 June 18:00 UTC); in the bin; created after as_of
    # (also on 1 July local, 30 June in UTC)
    add_deal(session, "W old", ann, t(2025, 5, 1, 9), [(WON, t(2025, 6, 20, 9))], amount="999")
    add_deal(session, "W late", ann, t(2026, 6, 1, 9), [(WON, t(2026, 7, 1, 2))], amount="999")
    delete(session, add_deal(session, "W binned", bob, t(2026, 4, 1, 9), [(WON, t(2026, 5, 1, 9))], amount="999"))
    add_deal(session, "A too new", ann, t(2026, 7, 2, 9), amount="999")
    add_deal(session, "A created 1 July", ann, t(2026, 7, 1, 1), amount="999")  # 30 June 17:00 UTC
    session.commit()
    con = warehouse(database_url, tmp_path)
    yield con
    con.close()


def rate(won: int, lost: int, win_rate: float | None, won_amount: int, avg_deal: int | None,
         avg_cycle: float | None, median_cycle: float | None, open_: int, velocity: int | None) -> tuple[Any, ...]:
    return (won, lost, pytest.approx(win_rate) if win_rate is not None else None, D(won_amount),
            D(avg_deal) if avg_deal is not None else None, avg_cycle, median_cycle, open_,
            D(velocity) if velocity is not None else None)


COLUMNS = ["owner", "won", "lost", "win_rate", "won_amount", "avg_deal_size", "avg_cycle_days", "median_cycle_days",
           "open_opportunities", "sales_velocity"]


def figures(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {owner: tuple(r[c] for c in COLUMNS[1:]) for owner, r in by(rows, "owner").items()}


def test_win_rate_per_owner_then_all(closed_deals: Any) -> None:
    rows = run(closed_deals, "win-rate", AS_OF)
    assert list(rows[0]) == COLUMNS
    assert [r["owner"] for r in rows] == ["ann@leadline.test", "bob@leadline.test", "cho@leadline.test", "ALL"]
    assert figures(rows) == {
        # 2 of 3; 100000 + 32500 = 132500, 66250 a deal; cycles 30 and 50; velocity 2 × 66250 × 2/3 ÷ 40 = 2208.3
        "ann@leadline.test": rate(2, 1, 2 / 3, 132500, 66250, 40.0, 40.0, 2, 2208),
        # 3 of 5; 150000, 50000 a deal; cycles 10, 20, 60; velocity 1 × 50000 × 0.6 ÷ 30 = 1000
        "bob@leadline.test": rate(3, 2, 0.6, 150000, 50000, 30.0, 20.0, 1, 1000),
        "cho@leadline.test": rate(0, 0, None, 0, None, None, None, 1, None),
        # 5 of 8; 282500, 56500 a deal; cycles 10, 20, 30, 50, 60 → 34.0, median 30.0;
        # velocity 4 × 56500 × 0.625 ÷ 34 = 4154.4
        "ALL": rate(5, 3, 0.625, 282500, 56500, 34.0, 30.0, 4, 4154),
    }


def test_win_rate_for_a_team(closed_deals: Any) -> None:
    rows = run(closed_deals, "win-rate", AS_OF, team="North")  # Ann and Cho
    assert figures(rows) == {
        "ann@leadline.test": rate(2, 1, 2 / 3, 132500, 66250, 40.0, 40.0, 2, 2208),
        "cho@leadline.test": rate(0, 0, None, 0, None, None, None, 1, None),
        # velocity 3 × 66250 × 2/3 ÷ 40 = 3312.5 → 3313 (half up)
        "ALL": rate(2, 1, 2 / 3, 132500, 66250, 40.0, 40.0, 3, 3313),
    }
    assert [r["owner"] for r in run(closed_deals, "win-rate", AS_OF, owner="bob@leadline.test")] == \
        ["bob@leadline.test", "ALL"]
