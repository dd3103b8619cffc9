"""The lead reports — lead-sources, lead-aging, rep-activity — on one small dataset, expected values worked out by hand.

Everything is as of 30 June 2026, the period the runner's default twelve months (1 July 2025 to 30 June 2026),
on the company's clock (Asia/Taipei, UTC+8: a time at 00:30 local is the previous day in UTC). The store has no
stage playbooks here, so the only activities are the ones made below (checked).

The leads (owner, created, source, status, last touch, first-response working minutes, what became of them):

    L1  Ann  2026-01-10  Web Site    -              -           30   converted 02-01: O1 1000 USD at 32.5, won 03-01
    L2  Bob  2026-02-10  Web Site    -              -           90   converted 02-20: O2 100.01 USD at 32.5, won 03-15
    L3  Ann  2026-03-10  Web Site    -              -           54   converted 03-20: O3 500 TWD, open
    L4  Cho  2026-04-10  Web Site    Not Contacted  -           -
    L5  Ann  2026-07-01 01:00  Web Site  Not Contacted  -       -    (created after as_of)
    L6  Bob  2025-09-01  Trade Show  -              -          120   converted 09-15: O4 20000 TWD, won 2026-01-15
    L7  Cho  2025-10-01  Trade Show  Junk Lead      -           60
    L8  Cho  2025-11-01  Trade Show  Not Contacted  -           -    deleted
    L9  Cho  2026-05-05  (none)      Hot            06-23       18
    L10 Bob  2025-06-30 23:00  Web Site  Cold       -           -    (created the day before the period)
    L11 Bob  2025-07-01 00:30  Web Site  Not Contacted  2026-06-23 00:30   210
    L12 Bob  2025-05-01  Partner     Not Contacted  2026-06-22  -    assigned again 2025-08-01
    L13 Bob  2025-05-01  Partner     Contacted      2026-05-31
    L14 Ann  2025-05-01  Partner     Contacted      2026-05-30
    L15 Ann  2025-05-01  Partner     Cold           2026-04-01
    L16 Ann  2025-05-01  Partner     Lost Lead      -
    L17 Ann  2025-05-01  Partner     Not Contacted  2026-06-28       converted 2026-07-02 (after as_of), no deal
    L18 Cho  2025-05-01  Partner     (none)         2026-06-30 18:00
    L19 Cho  2025-05-01  Partner     Hot            -                deleted
    L20 Ann  2025-05-01  Partner     Not Contacted  -                converted 2026-06-01, no deal
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Activity, Lead, Opportunity, StagePlaybook, User
from crm_store.pipeline import activities, conversion, stages
from crm_store.records import lifecycle
from crm_store.settings import company
from crm_store.staff import users
from tests.analytics_support import ACTOR, Staff, add_deal, by, delete, make_staff, money, run, taipei, warehouse

AS_OF = dt.date(2026, 6, 30)


@dataclass
class People:
    """The reps of `make_staff` and two inactive users."""

    staff: Staff
    dan: User  # inactive, nothing of his own: no rep-activity row
    eve: User  # inactive, one call completed in the period: a row


def add_lead(session: Session, name: str, owner: User, created: dt.datetime, source: str | None = None, *,
             status: str | None = "Not Contacted", touched: dt.datetime | None = None,
             first_response: int | None = None) -> Lead:
    """A lead created at `created`, its last staff action and its first-response minutes as the flows store them."""
    values = {"last_name": name, "owner_id": owner.id, "lead_source": source, "status": status}
    lead = lifecycle.create_lead(session, {k: v for k, v in values.items() if v is not None}, ACTOR, at=created)
    lead.last_touch_at = touched
    lead.first_response_minutes = first_response
    session.flush()
    return lead


def convert(session: Session, lead: Lead, at: dt.datetime, amount: str | None = None, currency: str = "TWD",
            won: dt.datetime | None = None) -> Opportunity | None:
    """Convert a lead (with a deal when `amount` is given), the deal won at `won`."""
    deal = None if amount is None else {"name": f"{lead.last_name} deal", "amount": amount, "currency": currency,
                                         "expected_close_date": dt.date(2026, 9, 30)}
    opp = conversion.convert_lead(session, lead, ACTOR, opportunity=deal, at=at).opportunity
    if opp is not None and won is not None:
        stages.change_stage(session, opp, "Closed Won", ACTOR, at=won)
    return opp


def add_activity(session: Session, owner: User, kind: str, created: dt.datetime, *, due: dt.date | None = None,
                 completed: dt.datetime | None = None) -> Activity:
    """A task due on `due`, or a call/meeting/email at `created`; completed at `completed` when given."""
    values: dict[str, object] = {"type": kind, "subject": f"{kind} {created:%m-%d}", "owner_id": owner.id,
                                 "created_at": created}
    if kind == "task":
        values["due_date"] = due
    else:
        values["start_at"] = created
    if completed is not None:
        values |= {"completed_at": completed, "status": activities.DONE_STATUS[kind]}
    return activities.create_activity(session, values, ACTOR)


def build(session: Session) -> People:
    """The dataset of the module docstring, the deals and the activities, committed."""
    session.execute(sql_delete(StagePlaybook))  # no stage tasks: the activities are the ones made here
    staff = make_staff(session)
    ann, bob, cho = staff.ann, staff.bob, staff.cho
    dan = users.add_user(session, "dan@leadline.test", "Dan", welcome=False)
    eve = users.add_user(session, "eve@leadline.test", "Eve", welcome=False)
    dan.active = eve.active = False

    l1 = add_lead(session, "Lin", ann, taipei(2026, 1, 10, 10), "Web Site", first_response=30)
    l2 = add_lead(session, "Wang", bob, taipei(2026, 2, 10, 10), "Web Site", first_response=90)
    l3 = add_lead(session, "Chen", ann, taipei(2026, 3, 10, 10), "Web Site", first_response=54)
    add_lead(session, "Huang", cho, taipei(2026, 4, 10, 10), "Web Site")
    add_lead(session, "Chang", ann, taipei(2026, 7, 1, 1), "Web Site")
    l6 = add_lead(session, "Liu", bob, taipei(2025, 9, 1, 10), "Trade Show", first_response=120)
    add_lead(session, "Yang", cho, taipei(2025, 10, 1, 10), "Trade Show", status="Junk Lead", first_response=60)
    delete(session, add_lead(session, "Chao", cho, taipei(2025, 11, 1, 10), "Trade Show"))
    add_lead(session, "Wu", cho, taipei(2026, 5, 5, 10), status="Hot", touched=taipei(2026, 6, 23, 10),
             first_response=18)
    add_lead(session, "Chou", bob, taipei(2025, 6, 30, 23), "Web Site", status="Cold")
    add_lead(session, "Hsu", bob, taipei(2025, 7, 1, 0, 30), "Web Site", touched=taipei(2026, 6, 23, 0, 30),
             first_response=210)
    old = taipei(2025, 5, 1, 10)
    l12 = add_lead(session, "Sun", bob, old, "Partner", touched=taipei(2026, 6, 22, 10))
    l12.assigned_at = taipei(2025, 8, 1, 10)
    add_lead(session, "Ma", bob, old, "Partner", status="Contacted", touched=taipei(2026, 5, 31, 10))
    add_lead(session, "Chu", ann, old, "Partner", status="Contacted", touched=taipei(2026, 5, 30, 10))
    add_lead(session, "Hu", ann, old, "Partner", status="Cold", touched=taipei(2026, 4, 1, 10))
    add_lead(session, "Kuo", ann, old, "Partner", status="Lost Lead")
    l17 = add_lead(session, "Ho", ann, old, "Partner", touched=taipei(2026, 6, 28, 10))
    add_lead(session, "Kao", cho, old, "Partner", status=None, touched=taipei(2026, 6, 30, 18))
    delete(session, add_lead(session, "Lo", cho, old, "Partner", status="Hot"))
    l20 = add_lead(session, "Tsai", ann, old, "Partner")

    convert(session, l1, taipei(2026, 2, 1, 10), "1000", "USD", won=taipei(2026, 3, 1, 10))  # O1
    convert(session, l2, taipei(2026, 2, 20, 10), "100.01", "USD", won=taipei(2026, 3, 15, 10))  # O2
    convert(session, l3, taipei(2026, 3, 20, 10), "500")  # O3
    convert(session, l6, taipei(2025, 9, 15, 10), "20000", won=taipei(2026, 1, 15, 10))  # O4
    convert(session, l17, taipei(2026, 7, 2, 10))
    convert(session, l20, taipei(2026, 6, 1, 10))
    # deals of no lead: O5 created before and won after the period, O6 won on its last evening, O7 deleted
    add_deal(session, "O5", cho, taipei(2025, 6, 1, 10), [("Closed Won", taipei(2026, 7, 1, 1))], amount="999")
    add_deal(session, "O6", cho, taipei(2026, 4, 1, 10), [("Closed Won", taipei(2026, 6, 30, 23))], amount="1234.5")
    delete(session, add_deal(session, "O7", bob, taipei(2026, 1, 1, 10), [("Closed Won", taipei(2026, 2, 1, 10))],
                             amount="5000"))

    add_activity(session, ann, "call", taipei(2026, 3, 1, 10), completed=taipei(2026, 3, 1, 11))
    add_activity(session, ann, "task", taipei(2026, 6, 1, 10), due=dt.date(2026, 6, 29))
    add_activity(session, ann, "task", taipei(2026, 6, 1, 10), due=AS_OF)
    add_activity(session, ann, "task", taipei(2026, 5, 1, 10), due=dt.date(2026, 6, 1),
                 completed=taipei(2026, 7, 1, 4))
    add_activity(session, ann, "email", taipei(2025, 7, 1, 1), completed=taipei(2025, 7, 1, 1))
    add_activity(session, bob, "meeting", taipei(2026, 2, 1, 10), completed=taipei(2026, 2, 1, 11))
    add_activity(session, bob, "task", taipei(2026, 4, 1, 10), due=dt.date(2026, 4, 30),
                 completed=taipei(2026, 5, 1, 10))
    delete_activity(session, add_activity(session, bob, "task", taipei(2026, 5, 1, 10), due=dt.date(2026, 6, 1)))
    add_activity(session, bob, "task", taipei(2026, 7, 5, 10), due=dt.date(2026, 6, 10))
    add_activity(session, cho, "call", taipei(2025, 6, 30, 22), completed=taipei(2025, 6, 30, 23))
    add_activity(session, cho, "task", taipei(2026, 6, 1, 10), due=dt.date(2026, 6, 15))
    add_activity(session, eve, "call", taipei(2026, 1, 5, 10), completed=taipei(2026, 1, 5, 11))
    session.commit()
    assert session.scalar(select(func.count()).select_from(Activity)) == 12  # no playbook or cadence tasks
    return People(staff, dan, eve)


def delete_activity(session: Session, activity: Activity) -> None:
    """An activity in the recycle bin."""
    activity.deleted_at = taipei(2026, 5, 2, 10)
    session.flush()


@pytest.fixture
def people(session: Session) -> People:
    """The dataset, in the store."""
    return build(session)


# -- lead-sources ---------------------------------------------------------------------------------------------


def test_lead_sources(people: People, database_url: str, tmp_path: Path) -> None:
    """Leads created in the period by source, and what became of them; money in TWD at each deal's own rate."""
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "lead-sources", AS_OF)
    assert [r["lead_source"] for r in rows] == ["Web Site", "Trade Show", "(none)"]  # most leads first
    sources = by(rows, "lead_source")
    # Web Site: L1 L2 L3 L4 L11 (L5 after the period, L10 the evening before it); converted L1 L2 L3.
    # won O1 + O2 = 1000 x 32.5 + 100.01 x 32.5 = 32500 + 3250.325 = 35750.325 -> 35750 (TWD: no decimals);
    # per lead 35750.325 / 5 = 7150.065 -> 7150; first responses 30 54 90 210 (L4 none): (54 + 90) / 2 = 72 min
    web = sources["Web Site"]
    assert (web["leads"], web["converted"], web["opportunities"], web["won"]) == (5, 3, 3, 2)
    assert web["conversion_rate"] == pytest.approx(0.6)  # 3 / 5
    assert money(web["won_amount"]) == D("35750")
    assert money(web["revenue_per_lead"]) == D("7150")
    assert web["median_first_response_hours"] == pytest.approx(1.2)  # 72 / 60
    # Trade Show: L6 L7 (L8 deleted); converted L6 into O4, won 20000; per lead 20000 / 2; (60 + 120) / 2 = 90 min
    trade = sources["Trade Show"]
    assert (trade["leads"], trade["converted"], trade["opportunities"], trade["won"]) == (2, 1, 1, 1)
    assert trade["conversion_rate"] == pytest.approx(0.5)
    assert (money(trade["won_amount"]), money(trade["revenue_per_lead"])) == (D("20000"), D("10000"))
    assert trade["median_first_response_hours"] == pytest.approx(1.5)
    # (none): L9 alone, not converted, 18 min
    none = sources["(none)"]
    assert (none["leads"], none["converted"], none["opportunities"], none["won"]) == (1, 0, 0, 0)
    assert none["conversion_rate"] == 0
    assert (money(none["won_amount"]), money(none["revenue_per_lead"])) == (D("0"), D("0"))
    assert none["median_first_response_hours"] == pytest.approx(0.3)  # 18 / 60
    for row in rows:
        assert row["won"] <= row["opportunities"] <= row["converted"] <= row["leads"]


def test_lead_sources_by_owner_and_team(people: People, database_url: str, tmp_path: Path) -> None:
    """The lead's owner decides: Ann's leads alone, then team South (Bob)."""
    with warehouse(database_url, tmp_path) as con:
        ann = run(con, "lead-sources", AS_OF, owner="ann@leadline.test")
        south = run(con, "lead-sources", AS_OF, team="South")
    # Ann: L1 L3, both converted (O1 won 32500, O3 open); per lead 32500 / 2; first responses (30 + 54) / 2 = 42 min
    assert [(r["lead_source"], r["leads"], r["converted"], r["opportunities"], r["won"]) for r in ann] == [
        ("Web Site", 2, 2, 2, 1)]
    assert (money(ann[0]["won_amount"]), money(ann[0]["revenue_per_lead"])) == (D("32500"), D("16250"))
    assert ann[0]["median_first_response_hours"] == pytest.approx(0.7)
    # Bob: Web Site L2 L11 (O2 won 3250.325 -> 3250; per lead 1625.1625 -> 1625; (90 + 210) / 2 = 150 min),
    # Trade Show L6 (O4 won 20000; 120 min); L10 and L12 L13 are older
    assert [(r["lead_source"], r["leads"], r["converted"], r["won"], r["won_amount"], r["revenue_per_lead"],
             r["median_first_response_hours"]) for r in south] == [
        ("Web Site", 2, 1, 1, D("3250"), D("1625"), 2.5),
        ("Trade Show", 1, 1, 1, D("20000"), D("20000"), 2.0),
    ]


# -- lead-aging -----------------------------------------------------------------------------------------------


def test_lead_aging(people: People, database_url: str, tmp_path: Path) -> None:
    """Open leads (Cold ones too) by idle days since their last touch, in the default buckets.

    Idle days to 30 June: L18 0, L17 2, L9 7, L11 7 (touched at 00:30 local: 8 days in UTC), L12 8, L13 30,
    L14 31, L4 81 (never touched: since its creation), L15 90, L10 365. Left out: converted by then (L1 L2 L3 L6
    L20; L17 only after), created after (L5), Junk or Lost (L7 L16), deleted (L8 L19).
    """
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "lead-aging", AS_OF)
    assert [(r["bucket"], r["status"], r["leads"]) for r in rows] == [
        ("0-7", "(none)", 1),  # L18
        ("0-7", "Hot", 1),  # L9
        ("0-7", "Not Contacted", 2),  # L11 L17
        ("8-30", "Contacted", 1),  # L13
        ("8-30", "Not Contacted", 1),  # L12
        ("31-90", "Cold", 1),  # L15
        ("31-90", "Contacted", 1),  # L14
        ("31-90", "Not Contacted", 1),  # L4
        ("91+", "Cold", 1),  # L10
    ]
    assert len({(r["bucket"], r["status"]) for r in rows}) == len(rows)
    assert sum(r["leads"] for r in rows) == 10


def test_lead_aging_thresholds_and_owner(people: People, session: Session, database_url: str, tmp_path: Path) -> None:
    """The buckets follow the threshold settings, taken in ascending order (3, 14, 60); the owner filter keeps Ann's."""
    for key, days in (("lead_aging_days", 14), ("lead_stale_days", 3), ("lead_cold_days", 60)):  # out of order
        company.set_value(session, key, days)
    session.commit()
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "lead-aging", AS_OF)
        ann = run(con, "lead-aging", AS_OF, owner="ann@leadline.test")
    assert [(r["bucket"], r["status"], r["leads"]) for r in rows] == [
        ("0-3", "(none)", 1),  # L18 (0 days)
        ("0-3", "Not Contacted", 1),  # L17 (2)
        ("4-14", "Hot", 1),  # L9 (7)
        ("4-14", "Not Contacted", 2),  # L11 (7), L12 (8)
        ("15-60", "Contacted", 2),  # L13 (30), L14 (31)
        ("61+", "Cold", 2),  # L15 (90), L10 (365)
        ("61+", "Not Contacted", 1),  # L4 (81)
    ]
    # Ann's open leads: L17 (2 days), L14 (31, Contacted), L15 (90, Cold)
    assert [(r["bucket"], r["status"], r["leads"]) for r in ann] == [
        ("0-3", "Not Contacted", 1), ("15-60", "Contacted", 1), ("61+", "Cold", 1)]


# -- rep-activity ---------------------------------------------------------------------------------------------

# One row per user, by email: every active one (Mia the manager too, with nothing) and inactive Eve, who
# completed a call; inactive Dan did nothing and has no row.
# leads_assigned (assigned, else created, in the period): Ann L1 L3 (L5 after; L14-L17 L20 before);
# Bob L2 L6 L11 and L12 (created before, assigned again 2025-08-01; L10 the evening before, L13 before);
# Cho L4 L7 L9 (L8 deleted; L18 L19 before). Median first response: Ann (30 + 54) / 2 = 42 min = 0.7 h;
# Bob 90 120 210 (L12 none): 120 min = 2 h; Cho 18 60 (L4 none): 39 min = 0.65 h.
# activities_completed in the period: Ann the call of 03-01 and the email of 2025-07-01 01:00 (the task done
# 07-01 04:00 is after); Bob the meeting and the task of 05-01; Cho none (her call ended 2025-06-30 23:00); Eve 1.
# overdue_tasks at 30 June: Ann the task due 06-29 and the one due 06-01 done only on 07-01 (not the one due
# 06-30 itself); Bob none (one done, one deleted, one created only on 07-05); Cho the task due 06-15.
# opportunities_created in the period: Ann O1 O3; Bob O2 O4 (O7 deleted); Cho O6 (O5 before).
# won_amount (closed in the period): Ann O1 1000 x 32.5 = 32500; Bob O2 + O4 = 3250.325 + 20000 = 23250.325
# -> 23250; Cho O6 1234.5 -> 1235 (half up; O5 was won after the period).
REP_ACTIVITY = [
    ("ann@leadline.test", 2, 0.7, 2, 2, 2, D("32500")),
    ("bob@leadline.test", 4, 2.0, 2, 0, 2, D("23250")),
    ("cho@leadline.test", 3, 0.65, 0, 1, 1, D("1235")),
    ("eve@leadline.test", 0, None, 1, 0, 0, D("0")),
    ("mia@leadline.test", 0, None, 0, 0, 0, D("0")),
]
COLUMNS = ("owner", "leads_assigned", "median_first_response_hours", "activities_completed", "overdue_tasks",
           "opportunities_created", "won_amount")


def test_rep_activity(people: People, database_url: str, tmp_path: Path) -> None:
    """Each user's leads, responses, activities, overdue tasks, deals and wins."""
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "rep-activity", AS_OF)
    assert [tuple(r[c] for c in COLUMNS) for r in rows] == REP_ACTIVITY
    by(rows, "owner")
    for row in rows:
        money(row["won_amount"])


def test_rep_activity_by_team_and_owner(people: People, database_url: str, tmp_path: Path) -> None:
    """Team North is Ann and Cho; the owner filter keeps one rep."""
    with warehouse(database_url, tmp_path) as con:
        north = run(con, "rep-activity", AS_OF, team="North")
        bob = run(con, "rep-activity", AS_OF, owner="bob@leadline.test")
    assert [tuple(r[c] for c in COLUMNS) for r in north] == [REP_ACTIVITY[0], REP_ACTIVITY[2]]
    assert [tuple(r[c] for c in COLUMNS) for r in bob] == [REP_ACTIVITY[1]]
