"""The automation in the staff web app: My day's aging and stale leads and rotting deals, a lead's follow-up facts
and an opportunity's rotting badge, the admins' Automation page, and the banner when a flow or mail delivery fails.

The flows' state is set on the rows directly (`Lead.aging_state`, `Opportunity.rotting_since`, `flow_runs`,
`outbox`), as the flows would leave it; pages are parsed (`tests/staff_support.py`). SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation import SCHEDULES
from crm_store.models import (
    Activity,
    Cadence,
    FlowRun,
    Lead,
    Opportunity,
    OutboxMessage,
    SalesStage,
    User,
    utcnow,
)
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.staff.my_day import aging_leads, my_day, rotting_deals

from .staff_support import Element, Page
from .test_staff_records import Crew, make_crew, path, signed_in

NOW = utcnow()


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; a manager; rep (rep_a, reports to the manager) and rep_b in the team North; rep_c on their own."""
    return make_crew(session)


def lead(session: Session, crew: Crew, who: str, name: str, **state: Any) -> Lead:
    """A lead of `who`, then the automation's columns set as a flow would (committed)."""
    row = records.create_lead(session, {"last_name": name, "owner_id": crew.ids[who]}, Actor.system("t"),
                              at=NOW - dt.timedelta(days=60))
    if state:
        session.execute(update(Lead).where(Lead.id == row.id).values(**state))
    session.commit()
    return row


def deal(session: Session, crew: Crew, who: str, name: str, **state: Any) -> Opportunity:
    """An opportunity of `who` at its process's first stage, with the automation's columns set (committed)."""
    row = records.create(session, "opportunities", {"name": name, "owner_id": crew.ids[who], "amount": "125000",
                                                     "expected_close_date": "2026-12-31"}, Actor.system("t"))
    if state:
        session.execute(update(Opportunity).where(Opportunity.id == row.id).values(**state))
    session.commit()
    return row


def flow_run(session: Session, flow: str, status: str, started: dt.datetime, **values: Any) -> None:
    session.add(FlowRun(flow=flow, as_of=started, started_at=started, status=status,
                        finished_at=None if status == "running" else started + dt.timedelta(seconds=3),
                        counts=values.pop("counts", {}), **values))
    session.commit()


def message(session: Session, key: str, status: str, due: dt.datetime, **values: Any) -> None:
    session.add(OutboxMessage(idempotency_key=key, template="leads_assigned", recipient=f"{key}@example.com",
                              status=status, next_attempt_at=due, created_at=due, **values))
    session.commit()


def section(page: Page, title_id: str) -> Element:
    """The card whose heading has this id."""
    return next(s for s in page.all("section") if s.attrs.get("aria-labelledby") == title_id)


def titles(card: Element) -> list[str]:
    return [e.find("a").text for e in card.all(class_="item__title")]


# -- My day ------------------------------------------------------------------------------------------------

def test_my_day_lists_my_aging_and_stale_leads_the_longest_idle_first(client: Any, session: Session,
                                                                       crew: Crew) -> None:
    lead(session, crew, "rep", "Aging", aging_state="aging", idle_days=9, last_touch_at=NOW - dt.timedelta(days=9))
    stale = lead(session, crew, "rep", "Stale", aging_state="stale", idle_days=41,
                 last_touch_at=NOW - dt.timedelta(days=41))
    lead(session, crew, "rep", "Fresh", idle_days=2, last_touch_at=NOW - dt.timedelta(days=2))
    lead(session, crew, "rep", "Frozen", aging_state="cold", idle_days=95, status="Cold")
    lead(session, crew, "rep", "Gone", aging_state="stale", idle_days=50, deleted_at=NOW)
    lead(session, crew, "rep_b", "Teammate's", aging_state="stale", idle_days=60)
    lead(session, crew, "manager", "Boss's", aging_state="aging", idle_days=8)

    staff = signed_in(client, crew, "rep")
    card = section(staff.get("/"), "aging-title")
    assert titles(card) == ["Stale", "Aging"]
    first, second = card.all(class_="item")
    assert "item--stale" in first.attrs["class"] and "item--stale" not in second.attrs["class"]
    assert [b.text for b in first.all(class_="aging")] == ["Stale · Idle 41 days"]
    assert [b.text for b in second.all(class_="aging")] == ["Aging · Idle 9 days"]
    assert first.find("a").attrs["href"] == path("leads", stale.lead_no)
    quick = first.find("details", **{"class": "quick"})  # the same quick actions as the other lead rows
    assert [quick.attrs["data-call"], quick.attrs["data-follow-up"]] == [
        path("leads", stale.lead_no, "calls"), path("leads", stale.lead_no, "follow-ups")]

    boss = section(signed_in(client.application.test_client(), crew, "manager").get("/"), "aging-title")
    assert titles(boss) == ["Boss's"]  # mine only: a manager's reports' leads are theirs


def test_aging_leads_are_limited_and_counted(session: Session, crew: Crew) -> None:
    for days in (10, 30, 20):
        lead(session, crew, "rep", f"Idle {days}", aging_state="aging", idle_days=days,
             last_touch_at=NOW - dt.timedelta(days=days))
    found = aging_leads(session, crew.ids["rep"], limit=2)
    assert ([a.name for a in found.items], found.total) == (["Idle 30", "Idle 20"], 3)
    assert aging_leads(session, crew.ids["rep"]).total == 3
    assert aging_leads(session, crew.ids["rep_b"]).items == []


def test_my_day_lists_my_rotting_opportunities_with_stage_days_and_amount(client: Any, session: Session,
                                                                         crew: Crew) -> None:
    rotting = deal(session, crew, "rep", "Big order", idle_days=21, rotting_since=NOW - dt.timedelta(days=7))
    deal(session, crew, "rep", "Healthy", idle_days=3)
    deal(session, crew, "rep", "Closed", idle_days=40, rotting_since=NOW - dt.timedelta(days=9), closed_at=NOW)
    deal(session, crew, "rep_c", "Someone else's", idle_days=40, rotting_since=NOW - dt.timedelta(days=9))
    stage = session.scalar(select(SalesStage).where(SalesStage.id == rotting.stage_id))
    assert stage is not None
    stage.rotting_days, stage_name = 14, stage.name
    session.commit()

    found = rotting_deals(session, crew.ids["rep"])
    assert [(d.name, d.stage, d.rotting_days, d.amount) for d in found.items] == [
        ("Big order", stage_name, 14, Decimal("125000"))]
    session.rollback()  # end the read: SQLite's writers (the sign-in) queue behind an open transaction
    card = section(signed_in(client, crew, "rep").get("/"), "rotting-title")
    assert titles(card) == ["Big order"]
    item = card.find(class_="item")
    assert item.find("a").attrs["href"] == path("opportunities", rotting.opportunity_no)
    assert "125,000" in item.find(class_="item__title").text
    meta = item.find(class_="item__meta").text
    assert stage_name in meta and "Idle 21 days" in meta and "its stage allows 14 days" in meta
    assert any(b.text.startswith("Rotting since") for b in item.all(class_="badge"))
    quick = item.find("details", **{"class": "quick"})
    assert quick.attrs["data-call"] == path("opportunities", rotting.opportunity_no, "calls")


def test_a_manager_s_team_section_stays_beside_the_new_lists(client: Any, session: Session, crew: Crew) -> None:
    lead(session, crew, "manager", "Boss's", aging_state="stale", idle_days=33)
    late = NOW.date() - dt.timedelta(days=3)
    activities.create_activity(session, {"type": "task", "subject": "Late", "due_date": late,
                                         "owner_id": crew.ids["rep"]}, Actor.user(crew.ids["rep"]))
    session.commit()
    page = signed_in(client, crew, "manager").get("/")
    team = section(page, "team-title")
    assert [[c.text for c in r.all("td")] for r in team.all("tr") if r.all("td")] == [["Rep A", "1"]]
    assert titles(section(page, "aging-title")) == ["Boss's"]
    user = session.get(User, crew.ids["manager"])
    assert user is not None and [r.name for r in my_day(session, user).team_overdue] == ["Rep A"]
    session.rollback()


# -- the lead and opportunity pages -----------------------------------------------------------------------

def test_a_lead_page_shows_aging_the_next_touch_the_reason_and_the_first_response(client: Any, session: Session,
                                                                                 crew: Crew) -> None:
    cadence = Cadence(name="Six touches", offsets=[0, 1, 3, 7, 14, 21])
    session.add(cadence)
    session.flush()
    due = NOW.date() + dt.timedelta(days=2)
    row = lead(session, crew, "rep", "Chen", aging_state="aging", idle_days=12, cadence_id=cadence.id,
               cadence_step=3, assignment_reason='rule "Taiwan" → team North (round robin)',
               assigned_at=NOW - dt.timedelta(days=20), first_response_at=NOW - dt.timedelta(days=19),
               first_response_minutes=95)
    done = activities.create_activity(session, {"type": "task", "subject": "Touch 2", "due_date": due,
                                                "owner_id": crew.ids["rep"], "lead_id": row.id}, Actor.system("t"))
    activities.complete_activity(session, done, Actor.system("t"))
    touch = activities.create_activity(session, {"type": "task", "subject": "Touch 3", "due_date": due,
                                                 "owner_id": crew.ids["rep"], "lead_id": row.id}, Actor.system("t"))
    session.execute(update(Activity).where(Activity.id == done.id).values(cadence_step=2))
    session.execute(update(Activity).where(Activity.id == touch.id).values(cadence_step=3))
    session.commit()

    staff = signed_in(client, crew, "rep")
    page = staff.get(path("leads", row.lead_no))
    assert [b.text for b in page.find(class_="record-meta").all(class_="aging")] == ["Aging · Idle 12 days"]
    assert page.by_id("follow-up-title").text == "Follow-up status"
    aging = page.by_id("fact-aging").find("dd").text
    assert aging == "Aging · Idle 12 days"
    cadence_text = page.by_id("fact-cadence").find("dd").text
    assert cadence_text.startswith("Touch 3 of 6") and "due" in cadence_text
    assert page.by_id("fact-assignment").find("dd").text.startswith('rule "Taiwan" → team North (round robin)')
    assert "After 1 h 35 min of working time" in page.by_id("fact-response").find("dd").text

    session.execute(update(Activity).where(Activity.id == touch.id).values(due_date=NOW.date() - dt.timedelta(days=3)))
    session.commit()
    assert "Overdue since" in staff.get(path("leads", row.lead_no)).by_id("fact-cadence").text

    session.execute(update(Activity).where(Activity.id == touch.id).values(completed_at=NOW))
    session.execute(update(Lead).where(Lead.id == row.id).values(cadence_step=6, aging_state=None))
    session.commit()
    page = staff.get(path("leads", row.lead_no))
    assert page.by_id("fact-cadence").find("dd").text == "Cadence finished all 6 touches made"
    assert page.by_id("fact-aging").find("dd").text.startswith("Up to date")
    assert not page.find(class_="record-meta").all(class_="aging")


def test_a_new_lead_page_says_no_cadence_and_waits_for_a_first_response(client: Any, session: Session,
                                                                       crew: Crew) -> None:
    row = lead(session, crew, "rep", "Lee")
    page = signed_in(client, crew, "rep").get(path("leads", row.lead_no))
    assert page.by_id("fact-cadence").find("dd").text == "No cadence started yet."
    reason = page.by_id("fact-assignment").find("dd")
    assert reason.find(class_="muted").text == "No reason recorded"
    assert reason.find(class_="facts__sub").text.startswith("Assigned ")  # when it got its owner
    assert page.by_id("fact-response").find("dd").text == "Waiting for a first response"

    session.execute(update(Lead).where(Lead.id == row.id).values(last_touch_at=utcnow()))  # worked, none recorded
    session.commit()
    page = signed_in(client.application.test_client(), crew, "rep").get(path("leads", row.lead_no))
    assert page.by_id("fact-response").find("dd").text == "Not recorded"


def test_an_opportunity_page_shows_its_rotting_badge(client: Any, session: Session, crew: Crew) -> None:
    since = NOW - dt.timedelta(days=7)
    rotting = deal(session, crew, "rep", "Big order", idle_days=21, rotting_since=since)
    healthy = deal(session, crew, "rep", "Healthy", idle_days=3)
    session.execute(update(SalesStage).where(SalesStage.id == rotting.stage_id).values(rotting_days=14))
    session.commit()
    staff = signed_in(client, crew, "rep")
    meta = staff.get(path("opportunities", rotting.opportunity_no)).find(class_="record-meta")
    badge = next(b for b in meta.all(class_="badge") if b.text.startswith("Rotting since"))
    assert badge.text.removeprefix("Rotting since ").strip()  # a date, shown the user's way
    assert meta.find(class_="rotting-note").text == "Idle 21 days (its stage allows 14 days)"
    healthy_meta = staff.get(path("opportunities", healthy.opportunity_no)).find(class_="record-meta")
    assert not [b for b in healthy_meta.all(class_="badge") if "Rotting" in b.text]
    assert not healthy_meta.all(class_="rotting-note")


# -- the Automation page -----------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["manager", "rep"])
def test_the_automation_page_is_for_admins_only(client: Any, crew: Crew, who: str) -> None:
    staff = signed_in(client, crew, who)
    page = staff.get("/automation")
    assert staff.status == 403
    assert "Automation" not in [a.text for a in staff.get("/").find("nav", class_="mainnav").all("a")]
    assert page.title != "Automation · Leadline"


def test_a_signed_out_visitor_is_sent_to_sign_in_from_the_automation_page(client: Any, crew: Crew) -> None:
    response = client.get("/automation")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_the_automation_page_shows_each_flow_its_last_run_and_its_recent_runs(client: Any, session: Session,
                                                                             crew: Crew) -> None:
    now = utcnow()  # the clock at the test, not at import: the banner's windows are minutes long
    for i in range(25):
        flow_run(session, "assign-leads", "completed", now - dt.timedelta(minutes=10 * (25 - i)),
                 counts={"assigned": i, "emails": 1})
    flow_run(session, "lead-aging", "completed", now - dt.timedelta(days=1), counts={"aging": 4})
    flow_run(session, "lead-aging", "failed", now - dt.timedelta(hours=1), counts={"aging": 0},
             errors="OperationalError: database is locked")
    staff = signed_in(client, crew, "admin")
    page = staff.get("/automation")
    assert staff.status == 200 and page.title == "Automation · Leadline"
    assert page.find("nav", class_="mainnav").find("a", aria_current="page").text == "Automation"
    cards = {a.attrs["id"]: a for a in page.all("article", class_="flow")}
    assert list(cards) == [f"flow-{s.name}" for s in SCHEDULES]

    assign = cards["flow-assign-leads"]
    assert assign.find(class_="card__header").find(class_="badge").text == "Completed"
    schedule = assign.find(class_="facts__item").find("dd")
    assert schedule.text == "Every 10 minutes */10 * * * *"
    done = assign.find(class_="counts")
    assert [li.text for li in done.all("li")] == ["Assigned 24", "Emails queued 1"]
    history = assign.find("details", class_="flow__history")
    assert history.find("summary").text == "The last 20 runs"
    assert len([r for r in history.all("tr") if r.all("td")]) == 20

    aging = cards["flow-lead-aging"]
    assert "flow--failed" in aging.attrs["class"]
    assert aging.find(class_="card__header").find(class_="badge").text == "Failed"
    assert aging.find("pre").text == "OperationalError: database is locked"
    assert "Every day at 01:30" in aging.text
    rows = [[c.text for c in r.all("td")] for r in aging.all("tr") if r.all("td")]
    assert [r[2] for r in rows] == ["Failed", "Completed"]

    never = cards["flow-sla-escalation"]
    assert never.find(class_="badge").text == "Never run"
    assert not never.all("details")


def test_the_automation_page_shows_mail_delivery(client: Any, session: Session, crew: Crew) -> None:
    now = utcnow()  # the clock at the test, not at import: the banner's windows are minutes long
    message(session, "sent1", "sent", now - dt.timedelta(hours=2))
    message(session, "sent2", "sent", now - dt.timedelta(hours=2))
    message(session, "bounced", "failed", now - dt.timedelta(hours=3), attempts=8,
            last_error="550 5.1.1 mailbox unavailable")
    message(session, "later", "retrying", now + dt.timedelta(minutes=30), attempts=2, last_error="421 try later")
    page = signed_in(client, crew, "admin").get("/automation")
    mail = section(page, "mail-title")
    tiles = {t.attrs["id"]: t.find(class_="tile__value").text for t in mail.all(class_="tile")}
    assert tiles == {"mail-queued": "0", "mail-sending": "0", "mail-retrying": "1", "mail-sent": "2",
                     "mail-failed": "1", "mail-suppressed": "0"}
    assert "tile--danger" in mail.find(id="mail-failed").attrs["class"]
    assert [n.text for n in mail.all(class_="notice")] == [
        "1 email could not be delivered in the last 24 hours."]
    rows = [[c.text for c in r.all("td")] for r in mail.all("tr") if r.all("td")]
    assert [(r[0], r[2], r[3], r[5]) for r in rows] == [
        ("later@example.com", "Retrying", "2", "421 try later"),
        ("bounced@example.com", "Failed", "8", "550 5.1.1 mailbox unavailable"),
    ]


# -- the banner --------------------------------------------------------------------------------------------

def banner(page: Page) -> Element | None:
    found = page.all("section", class_="banner")
    return found[0] if found else None


def test_the_banner_shows_only_to_admins_and_only_while_a_flow_fails(client: Any, session: Session,
                                                                    crew: Crew) -> None:
    now = utcnow()  # the clock at the test, not at import: the banner's windows are minutes long
    flow_run(session, "lead-aging", "completed", now - dt.timedelta(days=1))
    admin = signed_in(client, crew, "admin")
    assert banner(admin.get("/")) is None

    flow_run(session, "lead-aging", "failed", now - dt.timedelta(hours=1), errors="boom")
    flow_run(session, "assign-leads", "completed", now - dt.timedelta(minutes=5))
    for where in ("/", "/leads", "/users"):
        found = banner(admin.get(where))
        assert found is not None, where
        assert found.find("li").text == "The last run of lead-aging failed."
        assert found.find("a").attrs["href"] == "/automation"
    on_its_page = banner(admin.get("/automation"))
    assert on_its_page is not None and not on_its_page.all("a")  # no link to the page one is on
    for who in ("manager", "rep"):
        assert banner(signed_in(client.application.test_client(), crew, who).get("/")) is None, who

    flow_run(session, "lead-aging", "completed", now - dt.timedelta(minutes=1))  # the next run went well
    assert banner(admin.get("/")) is None


def test_the_banner_warns_of_failing_mail_delivery(client: Any, session: Session, crew: Crew) -> None:
    now = utcnow()  # the clock at the test, not at import: the banner's windows are minutes long
    admin = signed_in(client, crew, "admin")
    message(session, "old-failure", "failed", now - dt.timedelta(days=2))
    message(session, "just-queued", "queued", now - dt.timedelta(minutes=5))
    message(session, "sent", "sent", now - dt.timedelta(hours=1))
    assert banner(admin.get("/")) is None

    message(session, "failed", "failed", now - dt.timedelta(hours=3))
    found = banner(admin.get("/"))
    assert found is not None
    assert [li.text for li in found.all("li")] == ["1 email could not be delivered in the last 24 hours."]

    message(session, "stuck1", "queued", now - dt.timedelta(minutes=20))
    message(session, "stuck2", "retrying", now - dt.timedelta(minutes=40))
    found = banner(admin.get("/"))
    assert found is not None and [li.text for li in found.all("li")][1] == (
        "2 emails have waited over 15 minutes to be sent: is the mail worker running?")
    assert banner(signed_in(client.application.test_client(), crew, "manager").get("/")) is None


def test_the_banner_and_the_page_speak_traditional_chinese(client: Any, session: Session, crew: Crew) -> None:
    now = utcnow()  # the clock at the test, not at import: the banner's windows are minutes long
    admin_user = session.get(User, crew.ids["admin"])
    assert admin_user is not None
    admin_user.language = "zh_Hant"
    session.commit()
    flow_run(session, "deliver-email", "failed", now - dt.timedelta(minutes=3), errors="SMTP refused",
             counts={"sent": 0, "failed": 2})
    page = signed_in(client, crew, "admin").get("/automation")
    assert page.lang == "zh-Hant-TW" and page.find("h1").text == "自動化"
    found = banner(page)
    assert found is not None and found.find("li").text == "deliver-email 最近一次執行失敗。"
    card = page.by_id("flow-deliver-email")
    assert card.find(class_="card__header").find(class_="badge").text == "失敗"
    assert [li.text for li in card.find(class_="counts").all("li")] == ["已寄出 0", "失敗 2"]
    assert "每 5 分鐘" in card.text
