"""The viewer scope of the reports: whoever looks sees only the numbers of the records their users own.

`ReportParams.viewers` holds the users whose records the viewer may see (a rep: themselves; a manager: the members
of their teams). Every report, on the datasets of the report tests, keeps to it whatever owner and team are asked
for: a rep's scope gives what the owner filter gives for them, asking for another rep or another team gives
nothing of theirs, and an empty scope gives nothing at all. Campaigns count only the viewers' leads and deals (the
campaigns and their costs are the company's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm_store.models import Lead, Opportunity, User
from tests import test_report_customer_value, test_report_funnel, test_report_pipeline
from tests.analytics_support import add_deal, make_staff, run, taipei, warehouse
from tests.test_report_leads import add_lead
from tests.test_report_leads import build as build_people
from tests.test_report_outcomes import build as build_outcomes

AS_OF = dt.date(2026, 6, 30)

# The report tests' datasets, under names of their own here.
pipeline_deals = test_report_pipeline.deals
funnel_deals = test_report_funnel.funnel_deals
closed_deals = test_report_funnel.closed_deals
shop = test_report_customer_value.shop

# Figures a viewer scope leaves as they are: a campaign's cost is the company's, and its roi is worked from it.
NOT_SCOPED = {"campaigns": {"actual_cost", "roi"}}


@dataclass(frozen=True)
class Who:
    """A user as the reports know them: their id (for a scope) and email (for the owner filter)."""

    id: int
    email: str


def who(*people: User) -> list[Who]:
    return [Who(p.id, p.email) for p in people]


def ids(*people: Who) -> frozenset[int]:
    return frozenset(p.id for p in people)


def holds_nothing(report: str, rows: list[dict[str, Any]]) -> bool:
    """No record counted: every count and amount of every row (if any) is 0 or empty."""
    kept = NOT_SCOPED.get(report, set())
    return all(
        value is None or value == 0
        for row in rows
        for column, value in row.items()
        if column not in kept and isinstance(value, int | float | D) and not isinstance(value, bool)
    )


def check_scope(con: duckdb.DuckDBPyConnection, report: str, rep: Who, other: Who, other_team: str,
                north: frozenset[int], **params: Any) -> None:
    """`rep`'s scope on `report`: their own records, the same as the owner filter gives; nothing of others."""
    everyone = run(con, report, AS_OF, **params)
    mine = run(con, report, AS_OF, viewers=ids(rep), **params)
    assert not holds_nothing(report, mine), f"{report}: {rep.email} has records here"
    assert mine == run(con, report, AS_OF, owner=rep.email, **params), report
    assert mine != everyone, f"{report}: the others' records are left out"
    # asking for their own records within the scope changes nothing
    assert run(con, report, AS_OF, viewers=ids(rep), owner=rep.email, **params) == mine, report
    # another rep, another team: nothing of theirs, through either filter
    for trick in ({"owner": other.email}, {"team": other_team}):
        tricked = run(con, report, AS_OF, viewers=ids(rep), **trick, **params)
        assert holds_nothing(report, tricked), f"{report} {trick}: {tricked}"
        assert not holds_nothing(report, run(con, report, AS_OF, **trick, **params)), f"{report} {trick} has some"
    # a manager of North (Ann and Cho) sees the team's records
    assert run(con, report, AS_OF, viewers=north, **params) == run(con, report, AS_OF, team="North", **params)
    # nobody's records
    assert holds_nothing(report, run(con, report, AS_OF, viewers=frozenset(), **params)), report
    # the scope of all three reps: everything (every record here is owned by one of them)
    if report != "rep-activity":  # which lists the users in scope, and the manager is not in it
        assert run(con, report, AS_OF, viewers=ids(rep, other) | north, **params) == everyone, report


def staff_of(con: duckdb.DuckDBPyConnection) -> dict[str, Who]:
    """The users of make_staff by first name, as the warehouse has them."""
    users = con.execute("SELECT id, email FROM users").fetchall()
    return {email.split("@")[0]: Who(uid, email) for uid, email in users}


def test_pipeline_and_forecast_keep_to_the_viewers_deals(pipeline_deals: Any) -> None:
    users = staff_of(pipeline_deals)
    ann, bob, cho = users["ann"], users["bob"], users["cho"]
    for report in ("pipeline", "forecast"):
        check_scope(pipeline_deals, report, ann, bob, "South", ids(ann, cho))
        check_scope(pipeline_deals, report, bob, ann, "North", ids(ann, cho))
    assert run(pipeline_deals, "forecast", AS_OF, viewers=frozenset()) == []


def test_funnel_keeps_to_the_viewers_deals(funnel_deals: Any) -> None:
    users = staff_of(funnel_deals)
    ann, bob, cho = users["ann"], users["bob"], users["cho"]
    check_scope(funnel_deals, "funnel", ann, bob, "South", ids(ann, cho))
    check_scope(funnel_deals, "funnel", bob, cho, "North", ids(ann, cho))


def test_win_rate_keeps_to_the_viewers_deals_and_totals_them(closed_deals: Any) -> None:
    users = staff_of(closed_deals)
    ann, bob, cho = users["ann"], users["bob"], users["cho"]
    check_scope(closed_deals, "win-rate", ann, bob, "South", ids(ann, cho))
    check_scope(closed_deals, "win-rate", bob, ann, "North", ids(ann, cho))
    mine = run(closed_deals, "win-rate", AS_OF, viewers=ids(ann))
    assert [r["owner"] for r in mine] == [ann.email, "ALL"]
    assert {k: v for k, v in mine[1].items() if k != "owner"} == {k: v for k, v in mine[0].items() if k != "owner"}
    nothing = run(closed_deals, "win-rate", AS_OF, viewers=frozenset())
    assert [(r["owner"], r["won"], r["lost"], r["open_opportunities"]) for r in nothing] == [("ALL", 0, 0, 0)]


def test_customer_value_keeps_to_the_viewers_accounts(shop: Any) -> None:
    users = staff_of(shop)
    ann, bob, cho = users["ann"], users["bob"], users["cho"]
    for period in ({}, {"date_from": dt.date(2025, 7, 1)}):
        check_scope(shop, "customer-value", ann, bob, "South", ids(ann, cho), **period)
        check_scope(shop, "customer-value", bob, ann, "North", ids(ann, cho), **period)
    assert run(shop, "customer-value", AS_OF, viewers=frozenset()) == []


def test_lead_reports_keep_to_the_viewers_leads_and_users(session: Session, database_url: str, tmp_path: Path) -> None:
    people = build_people(session)
    ann, bob, cho = who(people.staff.ann, people.staff.bob, people.staff.cho)
    with warehouse(database_url, tmp_path) as con:
        for report in ("lead-sources", "lead-aging", "rep-activity"):
            check_scope(con, report, ann, bob, "South", ids(ann, cho))
            check_scope(con, report, bob, cho, "North", ids(ann, cho))
        # rep-activity lists the users in scope only
        assert [r["owner"] for r in run(con, "rep-activity", AS_OF, viewers=ids(ann, bob))] == [ann.email, bob.email]
        assert run(con, "rep-activity", AS_OF, viewers=ids(ann), team="South") == []
        for report in ("lead-sources", "lead-aging", "rep-activity"):
            assert run(con, report, AS_OF, viewers=frozenset()) == [], report


def test_outcome_reports_keep_to_the_viewers_deals(session: Session, database_url: str, tmp_path: Path) -> None:
    staff = build_outcomes(session)
    ann, bob, cho = who(staff.ann, staff.bob, staff.cho)
    with warehouse(database_url, tmp_path) as con:
        for report in ("follow-ups", "lost-reasons"):
            check_scope(con, report, ann, bob, "South", ids(ann, cho))
            check_scope(con, report, bob, cho, "North", ids(ann, cho))
        assert run(con, "lost-reasons", AS_OF, viewers=frozenset()) == []


CAMPAIGN_COLUMNS = ("campaign_no", "leads", "opportunities", "won", "won_amount", "actual_cost", "roi")


def campaigns(con: duckdb.DuckDBPyConnection, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in CAMPAIGN_COLUMNS) for r in run(con, "campaigns", AS_OF, **params)]


def test_campaigns_count_only_the_viewers_leads_and_deals(session: Session, database_url: str, tmp_path: Path) -> None:
    """Every campaign and its cost, with the leads and deals of the viewers' own (see test_report_outcomes)."""
    staff = build_outcomes(session)
    ann, bob, cho = who(staff.ann, staff.bob, staff.cho)
    with warehouse(database_url, tmp_path) as con:
        # Ann's in the period: CAM1 lead LA, deals W1 (from LA, won 50000) and X1; nothing in the others
        assert campaigns(con, viewers=ids(ann)) == [
            ("CAM1", 1, 2, 1, D("50000"), D("10000"), 4.0),
            ("CAM2", 0, 0, 0, D("0"), None, None),
            ("CAM3", 0, 0, 0, D("0"), D("4000"), -1.0),
            ("CAM5", 0, 0, 0, D("0"), D("0"), None),
        ]
        # Bob's: CAM1 lead LB; CAM2 lead LE and W2 won 3250
        assert campaigns(con, viewers=ids(bob)) == [
            ("CAM1", 1, 0, 0, D("0"), D("10000"), -1.0),
            ("CAM2", 1, 1, 1, D("3250"), None, None),
            ("CAM3", 0, 0, 0, D("0"), D("4000"), -1.0),
            ("CAM5", 0, 0, 0, D("0"), D("0"), None),
        ]
        # each campaign's figures are the sum of the three reps' (everything here is owned by one of them)
        everyone = campaigns(con)
        parts = [campaigns(con, viewers=ids(p)) for p in (ann, bob, cho)]
        for i, row in enumerate(everyone):
            assert row[1:5] == tuple(sum(p[i][k] for p in parts) for k in range(1, 5)), row[0]
        assert campaigns(con, viewers=ids(ann, bob, cho)) == everyone
        # the campaigns the owner and team filters pick, with only the viewer's records counted
        assert campaigns(con, viewers=ids(ann), owner=bob.email) == [("CAM2", 0, 0, 0, D("0"), None, None)]
        assert [r[:5] for r in campaigns(con, viewers=ids(bob), team="North")] == [
            ("CAM1", 1, 0, 0, D("0")), ("CAM3", 0, 0, 0, D("0")), ("CAM5", 0, 0, 0, D("0"))]
        assert holds_nothing("campaigns", run(con, "campaigns", AS_OF, viewers=frozenset()))
        assert [r[5] for r in campaigns(con, viewers=frozenset())] == [r[5] for r in everyone]  # costs kept


def test_records_of_no_owner_are_no_viewers(session: Session, database_url: str, tmp_path: Path) -> None:
    """A deal or a lead without an owner counts for everyone, and in nobody's scope — not even everybody's."""
    staff = make_staff(session)
    ann = staff.ann
    mine = add_deal(session, "Mine", ann, taipei(2026, 3, 1, 9), [("Closed Won", taipei(2026, 4, 1, 9))],
                    amount="1000")
    add_deal(session, "Nobody's", ann, taipei(2026, 3, 1, 9), [("Closed Won", taipei(2026, 4, 2, 9))],
                       amount="5000")
    add_deal(session, "Open, nobody's", ann, taipei(2026, 5, 1, 9), amount="7000")
    add_lead(session, "Lin", ann, taipei(2026, 2, 1, 9), "Web Site")
    stray = add_lead(session, "Wang", ann, taipei(2026, 2, 2, 9), "Web Site")
    session.flush()
    session.execute(update(Opportunity).where(Opportunity.id != mine.id).values(owner_id=None)
                    .execution_options(synchronize_session=False))
    session.execute(update(Lead).where(Lead.id == stray.id).values(owner_id=None)
                    .execution_options(synchronize_session=False))
    session.commit()
    everybody = ids(*who(staff.ann, staff.bob, staff.cho, staff.mia))
    with warehouse(database_url, tmp_path) as con:
        everyone = {r["owner"]: (r["won"], r["won_amount"], r["open_opportunities"])
                    for r in run(con, "win-rate", AS_OF)}
        assert everyone == {ann.email: (1, D("1000"), 0), "(no owner)": (1, D("5000"), 1), "ALL": (2, D("6000"), 1)}
        scoped = {r["owner"]: (r["won"], r["won_amount"], r["open_opportunities"])
                  for r in run(con, "win-rate", AS_OF, viewers=everybody)}
        assert scoped == {ann.email: (1, D("1000"), 0), "ALL": (1, D("1000"), 0)}
        assert sum(r["opportunities"] for r in run(con, "pipeline", AS_OF)) == 1
        assert sum(r["opportunities"] for r in run(con, "pipeline", AS_OF, viewers=everybody)) == 0
        assert [(r["lead_source"], r["leads"]) for r in run(con, "lead-sources", AS_OF)] == [("Web Site", 2)]
        assert [(r["lead_source"], r["leads"]) for r in run(con, "lead-sources", AS_OF, viewers=everybody)] == [
            ("Web Site", 1)]
        assert sum(r["leads"] for r in run(con, "lead-aging", AS_OF)) == 2
        assert sum(r["leads"] for r in run(con, "lead-aging", AS_OF, viewers=everybody)) == 1
