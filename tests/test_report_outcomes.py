"""The outcome reports — follow-ups, lost-reasons, campaigns — on one small dataset, expected values worked out by hand.

As of 30 June 2026, the period the runner's default twelve months (1 July 2025 to 30 June 2026), on the company's
clock (Asia/Taipei, UTC+8). The company currency is TWD (no decimals); USD deals keep the rate they were saved
with (32.5), though the USD rate is 40 by the time of the report. Stage playbooks are on: the tasks they make
are open, and open tasks are no follow-ups.

The campaigns (owner, actual cost): CAM1 Spring Expo (Ann, 10000), CAM2 Webinar (Bob, none), CAM3 Mailer (Cho,
4000), CAM4 Old fair (Ann, deleted), CAM5 Referrals (Cho, 0).

The leads (owner, created, campaign): LA Ann 2026-01-05 CAM1 (converted 02-01 into W1), LB Bob 2026-02-01 CAM1,
LC Cho 2026-03-01 CAM1, LD Ann 2025-06-01 CAM1 (before the period), LE Bob 2026-04-01 CAM2, LF Cho 2026-04-02 CAM4,
LG Ann 2026-04-03 CAM1 (deleted).

The deals won (owner, created, won, amount, campaign) and their completed activities before the win:

    W1  Ann  2026-02-01 (from LA)  2026-03-01 10:00  50000 TWD   CAM1  LA's call 01-10 and email 01-12 (carried over
        to W1 at conversion: they point at both), W1's call 02-10 = 3; not LA's open task, LA's deleted
        meeting, W1's task done 03-05
    W2  Bob  2026-03-01  2026-04-01  100.01 USD (3250.325 -> 3250)  CAM2  none = 0
    W3  Bob  2025-08-01  2026-05-01  1000 TWD    -     13 calls in April = 12+
    W4  Cho  2026-05-01  2026-06-01 10:00  1000 TWD  CAM3  a task 05-20 = 1; not the email done at 06-01 10:00 itself
    W5  Ann  2025-06-01  2025-07-01 00:30  700 TWD   -     an email 2025-06-30 20:00 = 1
    Y1  Cho  2025-05-01  2026-02-01  2000 TWD    CAM3  none = 0
    W6  Ann  2026-06-01  2026-07-01 00:30 (after the period)     W7  Bob  won 2026-02-01, deleted

The deals lost (owner, reason, amount, stages before Closed Lost, lost):

    X1  Ann  Price       1000 USD (32500)   Prospecting, Qualification 01-20            2026-02-01  CAM1 (created 01-10)
    X2  Bob  Price       2000 TWD           Prospecting                                 2026-03-01
    X3  Cho  Competitor  100.01 USD (3250)  Prospecting, Qualification, Negotiation or Review   2026-03-10
    X4  Bob  (none)      500 TWD            Prospecting, Qualification                  2026-04-01
    X6  Cho  Timing      1500.5 TWD (1501)  none: created Closed Lost                   2026-05-01
    X7  Ann  Competitor  100.01 USD (3250)  Prospecting                                 2026-06-30 23:00
    X5  Ann  Price       900 TWD            lost 2026-07-01 00:30 (after)    X8  Bob  lost 2026-03-01, deleted
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm_store.models import Activity, Campaign, Currency, Lead, Opportunity, User
from crm_store.pipeline import activities, conversion, stages
from crm_store.records import lifecycle
from tests.analytics_support import ACTOR, Staff, add_deal, by, delete, make_staff, money, run, taipei, warehouse

AS_OF = dt.date(2026, 6, 30)
FOLLOW_UPS = [str(n) for n in range(12)] + ["12+"]


def add_campaign(session: Session, number: str, name: str, owner: User, cost: str | None) -> Campaign:
    """A campaign with its actual cost (in the company currency)."""
    values = {"campaign_no": number, "name": name, "owner_id": owner.id, "actual_cost": cost}
    return lifecycle.create_campaign(session, {k: v for k, v in values.items() if v is not None}, ACTOR,
                                     at=taipei(2025, 12, 1))


def add_lead(session: Session, name: str, owner: User, created: dt.datetime, campaign: Campaign) -> Lead:
    """A lead of a campaign."""
    return lifecycle.create_lead(session, {"last_name": name, "owner_id": owner.id, "campaign_id": campaign.id},
                                 ACTOR, at=created)


def done(session: Session, owner: User, kind: str, at: dt.datetime, *, completed: bool = True,
         **parent: int) -> Activity:
    """A call, meeting, email or task of `owner` at `at` on a record (`lead_id=` …), completed then unless told."""
    values: dict[str, object] = {"type": kind, "subject": f"{kind} {at:%m-%d %H:%M}", "owner_id": owner.id,
                                 "created_at": at, **parent}
    values |= {"due_date": at.date()} if kind == "task" else {"start_at": at}
    if completed:
        values |= {"completed_at": at, "status": activities.DONE_STATUS[kind]}
    return activities.create_activity(session, values, ACTOR)


def deal(session: Session, name: str, owner: User, created: dt.datetime, moves: list[tuple[str, dt.datetime]],
         amount: str, currency: str = "TWD", *, campaign: Campaign | None = None, reason: str | None = None,
         first: str | None = None) -> Opportunity:
    """An opportunity moved through `moves`, of a campaign, with a lost reason."""
    opp = add_deal(session, name, owner, created, moves, amount=amount, currency=currency, first=first)
    opp.campaign_id = campaign.id if campaign else None
    opp.lost_reason = reason
    session.flush()
    return opp


def build(session: Session) -> Staff:
    """The dataset of the module docstring, committed."""
    staff = make_staff(session)
    ann, bob, cho = staff.ann, staff.bob, staff.cho
    cam1 = add_campaign(session, "CAM1", "Spring Expo", ann, "10000")
    cam2 = add_campaign(session, "CAM2", "Webinar", bob, None)
    cam3 = add_campaign(session, "CAM3", "Mailer", cho, "4000")
    cam4 = add_campaign(session, "CAM4", "Old fair", ann, "500")
    add_campaign(session, "CAM5", "Referrals", cho, "0")

    la = add_lead(session, "Lin", ann, taipei(2026, 1, 5, 10), cam1)
    add_lead(session, "Wang", bob, taipei(2026, 2, 1, 10), cam1)
    add_lead(session, "Chen", cho, taipei(2026, 3, 1, 10), cam1)
    add_lead(session, "Huang", ann, taipei(2025, 6, 1, 10), cam1)
    add_lead(session, "Liu", bob, taipei(2026, 4, 1, 10), cam2)
    add_lead(session, "Yang", cho, taipei(2026, 4, 2, 10), cam4)
    delete(session, cam4)
    delete(session, add_lead(session, "Chao", ann, taipei(2026, 4, 3, 10), cam1))

    # W1: LA's activities, then its conversion carries them over to the deal
    done(session, ann, "call", taipei(2026, 1, 10, 10), lead_id=la.id)
    done(session, ann, "email", taipei(2026, 1, 12, 10), lead_id=la.id)
    done(session, ann, "task", taipei(2026, 1, 20, 10), completed=False, lead_id=la.id)
    binned = done(session, ann, "meeting", taipei(2026, 1, 15, 10), lead_id=la.id)
    binned.deleted_at = taipei(2026, 1, 16, 10)
    w1 = conversion.convert_lead(session, la, ACTOR, at=taipei(2026, 2, 1, 10), opportunity={
        "name": "W1", "amount": "50000", "currency": "TWD", "expected_close_date": dt.date(2026, 9, 30),
    }).opportunity
    assert w1 is not None and w1.campaign_id == cam1.id  # the lead's campaign goes with it
    done(session, ann, "call", taipei(2026, 2, 10, 10), opportunity_id=w1.id)
    stages.change_stage(session, w1, "Closed Won", ACTOR, at=taipei(2026, 3, 1, 10))
    done(session, ann, "task", taipei(2026, 3, 5, 10), opportunity_id=w1.id)

    won = "Closed Won"
    deal(session, "W2", bob, taipei(2026, 3, 1, 10), [(won, taipei(2026, 4, 1, 10))], "100.01", "USD", campaign=cam2)
    w3 = deal(session, "W3", bob, taipei(2025, 8, 1, 10), [(won, taipei(2026, 5, 1, 10))], "1000")
    for day in range(1, 14):
        done(session, bob, "call", taipei(2026, 4, day, 10), opportunity_id=w3.id)
    w4 = deal(session, "W4", cho, taipei(2026, 5, 1, 10), [(won, taipei(2026, 6, 1, 10))], "1000", campaign=cam3)
    done(session, cho, "task", taipei(2026, 5, 20, 10), opportunity_id=w4.id)
    done(session, cho, "email", taipei(2026, 6, 1, 10), opportunity_id=w4.id)
    w5 = deal(session, "W5", ann, taipei(2025, 6, 1, 10), [(won, taipei(2025, 7, 1, 0, 30))], "700")
    done(session, ann, "email", taipei(2025, 6, 30, 20), opportunity_id=w5.id)
    deal(session, "Y1", cho, taipei(2025, 5, 1, 10), [(won, taipei(2026, 2, 1, 10))], "2000", campaign=cam3)
    w6 = deal(session, "W6", ann, taipei(2026, 6, 1, 10), [(won, taipei(2026, 7, 1, 0, 30))], "800")
    done(session, ann, "call", taipei(2026, 6, 10, 10), opportunity_id=w6.id)
    delete(session, deal(session, "W7", bob, taipei(2026, 1, 1, 10), [(won, taipei(2026, 2, 1, 10))], "900"))

    lost, qual, nego = "Closed Lost", "Qualification", "Negotiation or Review"
    deal(session, "X1", ann, taipei(2026, 1, 10, 10), [(qual, taipei(2026, 1, 20, 10)), (lost, taipei(2026, 2, 1, 10))],
         "1000", "USD", campaign=cam1, reason="Price")
    deal(session, "X2", bob, taipei(2026, 2, 1, 10), [(lost, taipei(2026, 3, 1, 10))], "2000", reason="Price")
    deal(session, "X3", cho, taipei(2026, 2, 1, 10), [(qual, taipei(2026, 2, 10, 10)), (nego, taipei(2026, 2, 20, 10)),
                                                        (lost, taipei(2026, 3, 10, 10))],
         "100.01", "USD", reason="Competitor")
    deal(session, "X4", bob, taipei(2026, 3, 1, 10), [(qual, taipei(2026, 3, 5, 10)), (lost, taipei(2026, 4, 1, 10))],
         "500")
    deal(session, "X5", ann, taipei(2026, 6, 1, 10), [(lost, taipei(2026, 7, 1, 0, 30))], "900", reason="Price")
    deal(session, "X6", cho, taipei(2026, 5, 1, 10), [], "1500.5", first=lost, reason="Timing")
    deal(session, "X7", ann, taipei(2026, 6, 1, 10), [(lost, taipei(2026, 6, 30, 23))], "100.01", "USD",
         reason="Competitor")
    delete(session, deal(session, "X8", bob, taipei(2026, 2, 1, 10), [(lost, taipei(2026, 3, 1, 10))], "400",
                         reason="Price"))
    session.execute(update(Currency).where(Currency.code == "USD").values(exchange_rate=D("40")))
    session.commit()
    return staff


@pytest.fixture
def staff(session: Session) -> Staff:
    """The dataset, in the store."""
    return build(session)


# -- follow-ups -----------------------------------------------------------------------------------------------


def test_follow_ups(staff: Staff, database_url: str, tmp_path: Path) -> None:
    """The six deals won in the period by follow-ups before the win: W2 Y1 0, W4 W5 1, W1 3, W3 12+."""
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "follow-ups", AS_OF)
    assert [r["follow_ups"] for r in rows] == FOLLOW_UPS  # all 13, in order
    by(rows, "follow_ups")
    won = {"0": 2, "1": 2, "3": 1, "12+": 1}
    assert [r["won"] for r in rows] == [won.get(n, 0) for n in FOLLOW_UPS]
    # shares of 6: 2/6 2/6 0 1/6 0 ... 0 1/6; running: 2/6 4/6 4/6 5/6 ... 5/6 6/6
    assert [r["share"] for r in rows] == pytest.approx([won.get(n, 0) / 6 for n in FOLLOW_UPS])
    assert [r["cumulative_share"] for r in rows] == pytest.approx([2 / 6, 4 / 6, 4 / 6] + [5 / 6] * 9 + [1])
    assert sum(r["share"] for r in rows) == pytest.approx(1)


def test_follow_ups_by_owner(staff: Staff, database_url: str, tmp_path: Path) -> None:
    """Ann's wins alone: W5 with 1, W1 with 3; and a team with no win in the period has every row at 0."""
    with warehouse(database_url, tmp_path) as con:
        ann = run(con, "follow-ups", AS_OF, owner="ann@leadline.test")
        south = run(con, "follow-ups", AS_OF, team="South", date_from=dt.date(2026, 6, 1))
    assert [(r["follow_ups"], r["won"]) for r in ann if r["won"]] == [("1", 1), ("3", 1)]
    assert [r["share"] for r in ann][:4] == pytest.approx([0, 0.5, 0, 0.5])
    assert [r["cumulative_share"] for r in ann] == pytest.approx([0, 0.5, 0.5] + [1] * 10)
    # Bob's wins (W2 04-01, W3 05-01) are before June: 13 rows of nothing, no shares
    assert [(r["follow_ups"], r["won"], r["share"], r["cumulative_share"]) for r in south] == [
        (n, 0, None, None) for n in FOLLOW_UPS]


# -- lost-reasons ---------------------------------------------------------------------------------------------


def test_lost_reasons(staff: Staff, database_url: str, tmp_path: Path) -> None:
    """Six deals lost in the period, by reason (stage null) then by the last open stage before the loss (ALL).

    Each deal's amount is rounded to TWD before the sums: the two Competitor deals of 100.01 USD at 32.5 are
    3250.325 -> 3250 each, 6500 together (not 6500.65 -> 6501).
    """
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "lost-reasons", AS_OF)
    assert [(r["lost_reason"], r["stage"], r["lost"], money(r["lost_amount"])) for r in rows] == [
        ("Competitor", None, 2, D("6500")),  # X3 X7
        ("Price", None, 2, D("34500")),  # X1 32500 + X2 2000 (X5 after the period, X8 deleted)
        ("(none)", None, 1, D("500")),  # X4
        ("Timing", None, 1, D("1501")),  # X6 1500.5, half up
        ("ALL", "Prospecting", 2, D("5250")),  # X2 2000 + X7 3250
        ("ALL", "Qualification", 2, D("33000")),  # X1 32500 + X4 500
        ("ALL", "Negotiation or Review", 1, D("3250")),  # X3
        ("ALL", "(none)", 1, D("1501")),  # X6, created lost
    ]
    assert [r["share"] for r in rows] == pytest.approx([2 / 6, 2 / 6, 1 / 6, 1 / 6, 2 / 6, 2 / 6, 1 / 6, 1 / 6])
    reasons, stages_lost = rows[:4], rows[4:]
    for part in (reasons, stages_lost):
        assert sum(r["share"] for r in part) == pytest.approx(1)
        assert sum(r["lost"] for r in part) == 6
    assert len({(r["lost_reason"], r["stage"]) for r in rows}) == len(rows)


def test_lost_reasons_by_team(staff: Staff, database_url: str, tmp_path: Path) -> None:
    """Team North (Ann and Cho): X1 X3 X6 X7."""
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "lost-reasons", AS_OF, team="North")
    assert [(r["lost_reason"], r["stage"], r["lost"], money(r["lost_amount"]), r["share"]) for r in rows] == [
        ("Competitor", None, 2, D("6500"), 0.5),  # X3 X7
        ("Price", None, 1, D("32500"), 0.25),  # X1
        ("Timing", None, 1, D("1501"), 0.25),  # X6
        ("ALL", "Prospecting", 1, D("3250"), 0.25),  # X7
        ("ALL", "Qualification", 1, D("32500"), 0.25),  # X1
        ("ALL", "Negotiation or Review", 1, D("3250"), 0.25),  # X3
        ("ALL", "(none)", 1, D("1501"), 0.25),  # X6
    ]


# -- campaigns ------------------------------------------------------------------------------------------------

# leads created in the period: CAM1 LA LB LC (LD before, LG deleted), CAM2 LE; deals created in the period:
# CAM1 W1 X1, CAM2 W2, CAM3 W4 (Y1 before); won in the period: CAM1 W1 50000, CAM2 W2 100.01 x 32.5 = 3250.325
# -> 3250, CAM3 W4 1000 + Y1 2000 = 3000. roi: CAM1 (50000 - 10000) / 10000 = 4; CAM3 (3000 - 4000) / 4000 =
# -0.25; CAM2 no cost and CAM5 a cost of 0: none. CAM4 is deleted.
CAMPAIGNS = [
    ("CAM1", "Spring Expo", 3, 2, 1, D("50000"), D("10000"), 4.0),
    ("CAM2", "Webinar", 1, 1, 1, D("3250"), None, None),
    ("CAM3", "Mailer", 0, 1, 2, D("3000"), D("4000"), -0.25),
    ("CAM5", "Referrals", 0, 0, 0, D("0"), D("0"), None),
]
CAMPAIGN_COLUMNS = ("campaign_no", "name", "leads", "opportunities", "won", "won_amount", "actual_cost", "roi")


def test_campaigns(staff: Staff, database_url: str, tmp_path: Path) -> None:
    """Each campaign's leads, deals and wins in the period against its cost."""
    with warehouse(database_url, tmp_path) as con:
        rows = run(con, "campaigns", AS_OF)
    assert [tuple(r[c] for c in CAMPAIGN_COLUMNS) for r in rows] == CAMPAIGNS
    by(rows, "campaign_no")
    assert all(isinstance(r["won_amount"], D) for r in rows)


def test_campaigns_by_owner_and_team(staff: Staff, database_url: str, tmp_path: Path) -> None:
    """The campaign's owner decides: Bob has CAM2; team North (Ann, Cho) CAM1, CAM3 and CAM5."""
    with warehouse(database_url, tmp_path) as con:
        bob = run(con, "campaigns", AS_OF, owner="bob@leadline.test")
        north = run(con, "campaigns", AS_OF, team="North")
    assert [tuple(r[c] for c in CAMPAIGN_COLUMNS) for r in bob] == [CAMPAIGNS[1]]
    assert [tuple(r[c] for c in CAMPAIGN_COLUMNS) for r in north] == [CAMPAIGNS[0], CAMPAIGNS[2], CAMPAIGNS[3]]
