"""The customer-value report (RFM, ABC, lifetime value) on a small shop whose figures are worked out by hand.

Nine customers ACC1…ACC9 (single digits, so account_no sorts as the numbers do), as of 2026-06-30, with the
default period 2025-07-01 … 2026-06-30 and `clv_years` set to 2. The company currency is TWD (no minor
unit). Left out: ACC10, whose only invoice is cancelled; ACC3's cancelled invoice; ACC6's invoice in the
recycle bin; ACC5's invoice dated after as_of; ACC1's and ACC3's invoices before the period.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.analytics_support import (
    add_account,
    add_invoice,
    add_service,
    by,
    delete,
    make_staff,
    run,
    warehouse,
)

AS_OF = dt.date(2026, 6, 30)
d = dt.date


@pytest.fixture
def shop(session: Session, database_url: str, tmp_path: Path) -> Any:
    """The customers' invoices in the store, and a warehouse refreshed from it (open, read-only)."""
    staff = make_staff(session, clv_years=2)
    ann, bob = staff.ann, staff.bob  # Ann owns the odd accounts, Bob the even ones (Bob alone is team South)
    oolong = add_service(session, "OOL", "Oolong 烏龍茶")
    pouchong = add_service(session, "POU", "Pouchong 包種茶")
    black = add_service(session, "BLK", "Black tea 紅茶")
    teapot = add_service(session, "POT", "Teapot 茶壺")
    names = ["Alishan Tea House", "Beitou Hotel", "Chiayi Trading", "Danshui Café", "Eastern Hostel",
             "Fengshan Bakery", "Gukeng Coffee", "Hualien Inn", "Ilan Teahouse", "Jiufen Gifts"]
    acc = [add_account(session, name, ann if i % 2 == 0 else bob) for i, name in enumerate(names)]
    assert [a.account_no for a in acc] == [f"ACC{i}" for i in range(1, 11)]
    a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = acc
    # ACC1: 10000 + 6000 + 4000 + 10000 = 30000 in the period; 6000 in 2022 (before it)
    add_invoice(session, a1, d(2022, 6, 10), [(teapot, "3", "2000")])
    add_invoice(session, a1, d(2025, 9, 15), [(oolong, "10", "1000")])
    add_invoice(session, a1, d(2025, 12, 20), [(pouchong, "8", "500"), (teapot, "1", "2000")])
    add_invoice(session, a1, d(2026, 3, 15), [(black, "10", "400")])
    add_invoice(session, a1, d(2026, 6, 10), [(oolong, "8", "1000"), (black, "5", "400")])
    # ACC2: 20000 + 10000 + US$9 × 32.5 = 292.5 → 293 (half up) + 9707 = 40000
    add_invoice(session, a2, d(2025, 8, 1), [(oolong, "20", "1000")])
    add_invoice(session, a2, d(2025, 10, 1), [(pouchong, "20", "500")])
    add_invoice(session, a2, d(2026, 1, 5), [(teapot, "1", "9")], currency="USD")
    add_invoice(session, a2, d(2026, 3, 2), [(black, "1", "9707")])
    # ACC3: 2000 (on the period's first day) + 2000 + 3000 + 3000 = 10000; the day before the period and a
    # cancelled 20000 the day before as_of do not count
    add_invoice(session, a3, d(2025, 6, 30), [(teapot, "1", "2000")])
    add_invoice(session, a3, d(2025, 7, 1), [(pouchong, "4", "500")])
    add_invoice(session, a3, d(2025, 11, 11), [(pouchong, "4", "500")])
    add_invoice(session, a3, d(2026, 2, 14), [(oolong, "3", "1000")])
    add_invoice(session, a3, d(2026, 5, 1), [(oolong, "3", "1000")])
    add_invoice(session, a3, d(2026, 6, 29), [(teapot, "10", "2000")], status="Cancel")
    # ACC4: 2000 + 2000 + 1000 = 5000
    add_invoice(session, a4, d(2025, 8, 20), [(black, "5", "400")])
    add_invoice(session, a4, d(2025, 10, 20), [(black, "5", "400")])
    add_invoice(session, a4, d(2026, 1, 31), [(teapot, "1", "1000")])
    # ACC5: 3000; the invoice dated after as_of does not count
    add_invoice(session, a5, d(2026, 6, 25), [(oolong, "3", "1000")])
    add_invoice(session, a5, d(2026, 7, 5), [(oolong, "5", "1000")])
    # ACC6: 2000 + 3000 + 3000 = 8000; the one in the recycle bin does not count
    add_invoice(session, a6, d(2025, 12, 1), [(pouchong, "4", "500")])
    add_invoice(session, a6, d(2026, 3, 31), [(oolong, "3", "1000")])
    add_invoice(session, a6, d(2026, 5, 31), [(oolong, "3", "1000")])
    delete(session, add_invoice(session, a6, d(2026, 6, 28), [(teapot, "2", "2000")]))
    # ACC7: 800 + 700 = 1500
    add_invoice(session, a7, d(2025, 9, 1), [(black, "2", "400")])
    add_invoice(session, a7, d(2026, 1, 31), [(black, "2", "350")])
    # ACC8: 1000 + 1000 = 2000
    add_invoice(session, a8, d(2026, 2, 1), [(pouchong, "2", "500")])
    add_invoice(session, a8, d(2026, 4, 1), [(pouchong, "2", "500")])
    # ACC9: 500
    add_invoice(session, a9, d(2026, 6, 25), [(pouchong, "1", "500")])
    # ACC10: only a cancelled invoice
    add_invoice(session, a10, d(2026, 6, 1), [(teapot, "1", "2000")], status="Cancel")
    session.commit()
    con = warehouse(database_url, tmp_path)
    yield con
    con.close()


# The expected report, worked out by hand (as of 2026-06-30; recency = days from the last purchase):
#   account  last purchase  recency  frequency  monetary  avg order
#   ACC1     2026-06-10        20        4        30000     7500
#   ACC2     2026-03-02       120        4        40000    10000
#   ACC3     2026-05-01        60        4        10000     2500
#   ACC4     2026-01-31       150        3         5000     1667   (5000 / 3 = 1666.67)
#   ACC5     2026-06-25         5        1         3000     3000
#   ACC6     2026-05-31        30        3         8000     2667   (8000 / 3 = 2666.67)
#   ACC7     2026-01-31       150        2         1500      750
#   ACC8     2026-04-01        90        2         2000     1000
#   ACC9     2026-06-25         5        1          500      500
# ntile(5) over 9 rows puts rows 1–2 in 1, 3–4 in 2, 5–6 in 3, 7–8 in 4, row 9 in 5:
#   recency desc: ACC4 150, ACC7 150 (tie: ACC4 first), ACC2 120, ACC8 90, ACC3 60, ACC6 30, ACC1 20,
#                 ACC5 5, ACC9 5 (tie: ACC5 first, so ACC9 alone gets 5)
#   frequency asc: ACC5 1, ACC9 1, ACC7 2, ACC8 2, ACC4 3, ACC6 3, ACC1 4, ACC2 4, ACC3 4 (ties by number)
#   monetary asc: ACC9, ACC7, ACC8, ACC5, ACC4, ACC6, ACC3, ACC1, ACC2
# Segments (first match): ACC1 R4 F4 M4 Champions; ACC2 R2 F4 M5 Can't lose; ACC3 R3 F5 Loyal;
#   ACC4 R1 F3 At risk; ACC5 R4 F1 New; ACC6 R3 F3 Potential loyalist; ACC7 R1 F2 Lost;
#   ACC8 R2 F2 Hibernating; ACC9 R5 F1 New.
# ABC over the total 100000, by monetary desc (cumulative share before the row → class):
#   ACC2 0 A, ACC1 .40 A, ACC3 .70 A, ACC6 .80 B (not < 80 %), ACC4 .88 B, ACC5 .93 B, ACC8 .96 C,
#   ACC7 .98 C, ACC9 .995 C
# CLV: every active span is under a year, so clv = monetary × 2 (clv_years).
EXPECTED = {
    # account: (first, last, recency, frequency, monetary, avg order, R, F, M, segment, class, share, cumulative)
    "ACC2": (d(2025, 8, 1), d(2026, 3, 2), 120, 4, 40000, 10000, 2, 4, 5, "Can't lose", "A", 0.40, 0.40),
    "ACC1": (d(2025, 9, 15), d(2026, 6, 10), 20, 4, 30000, 7500, 4, 4, 4, "Champions", "A", 0.30, 0.70),
    "ACC3": (d(2025, 7, 1), d(2026, 5, 1), 60, 4, 10000, 2500, 3, 5, 4, "Loyal", "A", 0.10, 0.80),
    "ACC6": (d(2025, 12, 1), d(2026, 5, 31), 30, 3, 8000, 2667, 3, 3, 3, "Potential loyalist", "B", 0.08, 0.88),
    "ACC4": (d(2025, 8, 20), d(2026, 1, 31), 150, 3, 5000, 1667, 1, 3, 3, "At risk", "B", 0.05, 0.93),
    "ACC5": (d(2026, 6, 25), d(2026, 6, 25), 5, 1, 3000, 3000, 4, 1, 2, "New", "B", 0.03, 0.96),
    "ACC8": (d(2026, 2, 1), d(2026, 4, 1), 90, 2, 2000, 1000, 2, 2, 2, "Hibernating", "C", 0.02, 0.98),
    "ACC7": (d(2025, 9, 1), d(2026, 1, 31), 150, 2, 1500, 750, 1, 2, 1, "Lost", "C", 0.015, 0.995),
    "ACC9": (d(2026, 6, 25), d(2026, 6, 25), 5, 1, 500, 500, 5, 1, 1, "New", "C", 0.005, 1.0),
}
# Top products by revenue, then name: ACC1 Oolong 18000, Black tea 6000, Pouchong 4000 (Teapot 2000 is
# fourth); ACC2 Oolong 20000, Pouchong 10000, Black tea 9707 (Teapot 292.5 is fourth).
TOP = {
    "ACC1": "Oolong 烏龍茶, Black tea 紅茶, Pouchong 包種茶",
    "ACC2": "Oolong 烏龍茶, Pouchong 包種茶, Black tea 紅茶",
    "ACC3": "Oolong 烏龍茶, Pouchong 包種茶",
    "ACC4": "Black tea 紅茶, Teapot 茶壺",
    "ACC9": "Pouchong 包種茶",
}
COLUMNS = ["account_no", "account_name", "first_purchase", "last_purchase", "recency_days", "frequency", "monetary",
           "avg_order_value", "r_score", "f_score", "m_score", "rfm_segment", "abc_class", "revenue_share",
           "cumulative_share", "clv", "top_products"]


def check_invariants(rows: list[dict[str, Any]]) -> None:
    """A unique account per row, shares adding up to 1, every customer in A, B or C, scores from 1 to 5."""
    by(rows, "account_no")
    assert sum(r["revenue_share"] for r in rows) == pytest.approx(1.0)
    assert rows[-1]["cumulative_share"] == pytest.approx(1.0)
    assert sum(1 for r in rows if r["abc_class"] in ("A", "B", "C")) == len(rows)
    assert all(1 <= r[k] <= 5 for r in rows for k in ("r_score", "f_score", "m_score"))
    classes = [r["abc_class"] for r in rows]
    assert classes == sorted(classes)  # in order of monetary descending, A before B before C


def test_customer_value_scores_segments_classes_and_lifetime_value(shop: Any) -> None:
    rows = run(shop, "customer-value", AS_OF, date_from=d(2025, 7, 1))  # the last 12 months up to AS_OF
    assert list(rows[0]) == COLUMNS
    assert [r["account_no"] for r in rows] == list(EXPECTED)  # by monetary descending: ACC10 is not there
    for row in rows:
        first, last, recency, frequency, monetary, aov, r, f, m, segment, abc, share, cumulative = \
            EXPECTED[row["account_no"]]
        assert (row["first_purchase"], row["last_purchase"], row["recency_days"], row["frequency"]) == \
            (first, last, recency, frequency), row["account_no"]
        assert (row["monetary"], row["avg_order_value"], row["clv"]) == (D(monetary), D(aov), D(monetary * 2))
        assert (row["r_score"], row["f_score"], row["m_score"]) == (r, f, m), row["account_no"]
        assert (row["rfm_segment"], row["abc_class"]) == (segment, abc), row["account_no"]
        assert row["revenue_share"] == pytest.approx(share)
        assert row["cumulative_share"] == pytest.approx(cumulative)
        if row["account_no"] in TOP:
            assert row["top_products"] == TOP[row["account_no"]]
    assert by(rows, "account_no")["ACC2"]["account_name"] == "Beitou Hotel"
    check_invariants(rows)


def test_customer_value_over_a_longer_period_spreads_lifetime_value_over_the_active_years(shop: Any) -> None:
    rows = by(run(shop, "customer-value", AS_OF, date_from=d(2020, 1, 1)), "account_no")
    # ACC1 now has 5 invoices, 36000, from 2022-06-10 to 2026-06-10: 1461 days = 4 years of 365.25 days,
    # so 1.25 invoices a year; clv = 7200 × 1.25 × 2 = 18000. Teapot (2000 + 6000) is now its second product.
    one = rows["ACC1"]
    assert (one["frequency"], one["monetary"], one["avg_order_value"]) == (5, D(36000), D(7200))
    assert (one["first_purchase"], one["clv"]) == (d(2022, 6, 10), D(18000))
    assert one["top_products"] == "Oolong 烏龍茶, Teapot 茶壺, Black tea 紅茶"
    # ACC3: 5 invoices, 12000, from 2025-06-30 to 2026-05-01 (305 days, less than a year): clv = 12000 × 2
    assert (rows["ACC3"]["frequency"], rows["ACC3"]["clv"]) == (5, D(24000))
    assert sorted(rows) == [f"ACC{i}" for i in range(1, 10)]
    check_invariants(list(rows.values()))
    # Without --from/--to the period is open ("in the period when given"): every invoice up to AS_OF counts,
    # the same as this longer period, which holds all of the shop's invoices dated before AS_OF.
    assert by(run(shop, "customer-value", AS_OF), "account_no") == rows


def test_customer_value_for_one_owner_scores_their_customers_among_themselves(shop: Any) -> None:
    rows = run(shop, "customer-value", AS_OF, date_from=d(2025, 7, 1), owner="ann@leadline.test")
    # Ann's five: ntile(5) over five rows gives each its own score.
    #   recency desc: ACC7 150, ACC3 60, ACC1 20, ACC5 5, ACC9 5      → R 1, 2, 3, 4, 5
    #   frequency asc: ACC5 1, ACC9 1, ACC7 2, ACC1 4, ACC3 4          → F 1, 2, 3, 4, 5
    #   monetary asc: ACC9 500, ACC7 1500, ACC5 3000, ACC3 10000, ACC1 30000 → M 1 … 5
    # ABC over 45000: ACC1 before 0 A; ACC3 before 30000 (66.7 %) A; ACC5 before 40000 (88.9 %) B;
    #   ACC7 before 43000 (95.6 %) C; ACC9 C.
    expected = {
        "ACC1": (3, 4, 5, "Loyal", "A"),
        "ACC3": (2, 5, 4, "Can't lose", "A"),
        "ACC5": (4, 1, 3, "New", "B"),
        "ACC7": (1, 3, 2, "At risk", "C"),
        "ACC9": (5, 2, 1, "Potential loyalist", "C"),
    }
    assert [r["account_no"] for r in rows] == ["ACC1", "ACC3", "ACC5", "ACC7", "ACC9"]
    for row in rows:
        assert (row["r_score"], row["f_score"], row["m_score"], row["rfm_segment"], row["abc_class"]) == \
            expected[row["account_no"]], row["account_no"]
    assert rows[0]["revenue_share"] == pytest.approx(30000 / 45000)
    check_invariants(rows)


def test_customer_value_for_a_team_keeps_its_members_customers(shop: Any) -> None:
    rows = run(shop, "customer-value", AS_OF, date_from=d(2025, 7, 1), team="South")
    # Bob's four, by monetary: ACC2 40000, ACC6 8000, ACC4 5000, ACC8 2000 (total 55000);
    # recency desc ACC4 150, ACC2 120, ACC8 90, ACC6 30 → R 1, 2, 3, 4 (ntile(5) over four rows)
    assert [r["account_no"] for r in rows] == ["ACC2", "ACC6", "ACC4", "ACC8"]
    assert [r["r_score"] for r in rows] == [2, 4, 1, 3]
    assert [r["abc_class"] for r in rows] == ["A", "A", "B", "C"]  # before: 0, 72.7 %, 87.3 %, 96.4 %
    check_invariants(rows)
