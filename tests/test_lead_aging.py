"""lead-aging: idle days counted on Taipei dates (calendar or working days), the thresholds' edges, the
planned-activity rule, stale notices once per episode (not for history), cold leads with their note and audit
row, closed leads, rotting opportunities, and a second run for the same `as_of` that writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation.lead_aging import lead_aging
from crm_store.automation.runs import Outcome
from crm_store.db.engine import session_factory
from crm_store.models import AuditEntry, Lead, Note, Opportunity, OutboxMessage, User
from crm_store.pipeline import activities, stages
from crm_store.pipeline.leads import open_leads
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import teams
from crm_store.staff.users import add_user

UTC = dt.UTC
TAIPEI = dt.timezone(dt.timedelta(hours=8))
AS_OF = dt.datetime(2026, 6, 10, 2, 0, tzinfo=UTC)  # Wednesday 10 June, 10:00 in Taipei
TODAY = dt.date(2026, 6, 10)


def local(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A Taipei wall-clock time as a UTC moment."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TAIPEI).astimezone(UTC)


def days_ago(n: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return local(TODAY - dt.timedelta(days=n), hour, minute)


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    """A Taipei company; a rep (Chinese) whose manager is a boss (English), both active."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    boss = add_user(session, "boss@example.com", "Boss", role="manager", welcome=False)
    rep = add_user(session, "rep@example.com", "林怡君", manager_email=boss.email, language="zh_Hant", welcome=False)
    session.commit()
    return {"boss": boss, "rep": rep}


def lead(
    session: Session, name: str, touched: dt.datetime, owner: User | None = None, batch_id: int | None = None,
    **values: Any,
) -> Lead:
    """A lead created at `touched`, never touched since (its touch is its creation)."""
    return records.create_lead(session, {"last_name": name, "owner_id": owner.id if owner else None, **values},
                               at=touched, batch_id=batch_id)


def run(session: Session, engine: Engine, as_of: dt.datetime = AS_OF) -> dict[str, int]:
    session.commit()
    outcome = Outcome()
    lead_aging(session_factory(engine), as_of, outcome)
    session.expire_all()
    assert not outcome.errors
    return outcome.counts


def states(session: Session) -> dict[str, tuple[int | None, str | None]]:
    return {row.last_name: (row.idle_days, row.aging_state) for row in session.scalars(select(Lead))}


def mails(session: Session, template: str = "stale_lead") -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                                .order_by(OutboxMessage.recipient)))


@contextmanager
def writes(engine: Engine) -> Iterator[list[str]]:
    """The INSERT, UPDATE and DELETE statements that changed rows while inside."""
    found: list[str] = []

    def spy(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE") and cursor.rowcount > 0:
            found.append(statement)

    event.listen(engine, "after_cursor_execute", spy)
    try:
        yield found
    finally:
        event.remove(engine, "after_cursor_execute", spy)


# -- idle days and states ---------------------------------------------------------------------------------

def test_idle_days_are_taipei_dates_and_each_threshold_starts_on_its_day(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    rep = people["rep"]
    lead(session, "today", local(TODAY, 0, 1), rep)
    lead(session, "six", days_ago(6, 0, 0), rep)  # 16:00 UTC on the 3rd ...
    lead(session, "seven", days_ago(7, 23, 59), rep)  # ... and 15:59 UTC on the 3rd: a day older in Taipei
    lead(session, "twenty-nine", days_ago(29), rep)
    lead(session, "thirty", days_ago(30), rep)
    lead(session, "eighty-nine", days_ago(89, 23, 59), rep)
    lead(session, "ninety", days_ago(90, 0, 0), rep)
    touched = lead(session, "touched", days_ago(200), rep)
    touched.last_touch_at = days_ago(8)  # the last touch counts, not the creation
    counts = run(session, engine)
    assert states(session) == {
        "today": (0, None), "six": (6, None), "seven": (7, "aging"), "twenty-nine": (29, "aging"),
        "thirty": (30, "stale"), "eighty-nine": (89, "stale"), "ninety": (90, "cold"), "touched": (8, "aging"),
    }
    assert counts == {"aging": 3, "stale": 2, "cold": 1, "notices": 4, "rotting": 0}


# Holiday Friday 5 June, make-up working Saturday 6 June; thresholds 2 / 4 / 6.
WORKING = {
    9: (1, None), 8: (2, "aging"), 6: (3, "aging"), 4: (4, "stale"), 3: (5, "stale"), 2: (6, "cold"),
}
CALENDAR = {
    9: (1, None), 8: (2, "aging"), 6: (4, "stale"), 4: (6, "cold"), 3: (7, "cold"), 2: (8, "cold"),
}


@pytest.mark.parametrize(("mode", "expected"), [("working", WORKING), ("calendar", CALENDAR)])
def test_idle_days_mode_counts_working_days_after_the_touch_day(
    session: Session, engine: Engine, people: dict[str, User], mode: str, expected: dict[int, tuple[int, str | None]]
) -> None:
    for key, value in {"idle_days_mode": mode, "holidays": "2026-06-05", "extra_working_days": "2026-06-06",
                       "lead_aging_days": 2, "lead_stale_days": 4, "lead_cold_days": 6}.items():
        company.set_value(session, key, value)
    for day in expected:
        lead(session, f"june {day}", local(dt.date(2026, 6, day), 17), people["rep"])
    run(session, engine)
    assert states(session) == {f"june {day}": state for day, state in expected.items()}


def test_the_highest_threshold_reached_wins_whatever_the_order_of_the_settings(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    company.set_value(session, "lead_aging_days", 40)  # after stale (30)
    lead(session, "thirty-five", days_ago(35), people["rep"])
    lead(session, "twenty", days_ago(20), people["rep"])
    run(session, engine)
    assert states(session) == {"thirty-five": (35, "stale"), "twenty": (20, None)}


def test_an_open_activity_planned_after_as_of_keeps_a_lead_from_aging(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    rep = people["rep"]
    staff = Actor.user(rep.id)
    planned = {
        "task tomorrow": {"type": "task", "due_date": TODAY + dt.timedelta(days=1)},
        "call later today": {"type": "call", "start_at": AS_OF + dt.timedelta(hours=1)},
    }
    not_planned = {
        "task today": {"type": "task", "due_date": TODAY},
        "call this morning": {"type": "call", "start_at": AS_OF - dt.timedelta(hours=1)},
        "task done": {"type": "task", "due_date": TODAY + dt.timedelta(days=3), "done": True},
        "task deleted": {"type": "task", "due_date": TODAY + dt.timedelta(days=3), "deleted": True},
    }
    for name, values in {**planned, **not_planned}.items():
        row = lead(session, name, days_ago(40), rep)
        done, deleted = values.pop("done", False), values.pop("deleted", False)
        activity = activities.create_activity(session, {**values, "subject": name, "lead_id": row.id}, staff)
        if done:
            activities.complete_activity(session, activity, Actor.system("test"), at=days_ago(40))
        if deleted:
            activity.deleted_at = days_ago(1)
    run(session, engine)
    found = states(session)
    assert {name: found[name] for name in planned} == {name: (40, None) for name in planned}
    assert {name: found[name] for name in not_planned} == {name: (40, "stale") for name in not_planned}


# -- stale notices --------------------------------------------------------------------------------------

def test_stale_tells_owner_and_manager_once_per_episode(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    rep = people["rep"]
    stale = lead(session, "Wang", days_ago(30), rep, first_name="Da-ming", company="Formosa Tea")
    stale.last_touch_at = days_ago(30, 9, 5)
    assert run(session, engine)["notices"] == 2
    told = mails(session)
    assert [(m.recipient, m.language, m.record_module, m.record_id) for m in told] == [
        ("boss@example.com", "en", "leads", stale.id), ("rep@example.com", "zh_Hant", "leads", stale.id),
    ]
    assert told[0].context == {
        "recipient_name": "Boss", "lead": {"number": stale.lead_no, "name": "Da-ming Wang", "company": "Formosa Tea"},
        "owner_name": "林怡君", "days_idle": 30, "last_touch_at": "May 11, 2026, 9:05\u202fAM CST",
    }
    assert told[1].context["last_touch_at"] == "2026年5月11日 上午9:05 CST"
    session.refresh(stale)
    assert stale.stale_notified_at == AS_OF

    # The next day: still stale, nobody is told again.
    assert run(session, engine, AS_OF + dt.timedelta(days=1))["notices"] == 0
    assert len(mails(session)) == 2
    # Touched, then idle for another 30 days: a new episode, told again.
    stale.last_touch_at = AS_OF + dt.timedelta(days=1)
    run(session, engine, AS_OF + dt.timedelta(days=2))
    assert states(session)["Wang"] == (1, None)
    assert run(session, engine, AS_OF + dt.timedelta(days=32))["notices"] == 2
    assert len(mails(session)) == 4


def test_without_a_manager_of_their_own_the_teams_manager_is_told(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    lead_of_team = add_user(session, "lead@example.com", "Team Lead", role="manager", welcome=False)
    loner = add_user(session, "loner@example.com", "Loner", welcome=False)
    team = teams.add_team(session, "North", lead_of_team.email)
    teams.add_member(session, team, loner.email)
    lead(session, "Stale", days_ago(31), loner)
    lead(session, "Nobody's", days_ago(31))
    run(session, engine)
    assert [m.recipient for m in mails(session)] == ["lead@example.com", "loner@example.com"]
    assert session.scalar(select(Lead.stale_notified_at).where(Lead.last_name == "Nobody's")) == AS_OF


def test_history_leads_take_their_state_but_no_notice(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    batch = bulk.new_batch(session, "import", "old CRM")
    batch.created_at = days_ago(5)
    lead(session, "Imported stale", days_ago(40), people["rep"], batch_id=batch.id)
    touched_since = lead(session, "Worked since", days_ago(60), people["rep"], batch_id=batch.id)
    touched_since.last_touch_at = days_ago(35)  # before the load too: history
    after = lead(session, "Untouched since", days_ago(60), people["rep"], batch_id=batch.id)
    after.last_touch_at = days_ago(4)  # touched after the load: not history, but fresh
    counts = run(session, engine)
    assert states(session) == {
        "Imported stale": (40, "stale"), "Worked since": (35, "stale"), "Untouched since": (4, None),
    }
    assert counts["notices"] == 0 and mails(session) == []
    # After the load, a lead of the batch touched and then left to go stale is told about.
    after.last_touch_at = days_ago(1)
    run(session, engine, AS_OF + dt.timedelta(days=29))
    assert [m.recipient for m in mails(session)] == ["boss@example.com", "rep@example.com"]


# -- cold -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "mode", "body"), [
    ("zh_Hant", "calendar", "已 95 天沒有任何活動：潛在客戶老化已將狀態設為「冷」。"),
    ("en", "working", "No activity for 68 working days: lead aging set the status to Cold."),
])
def test_cold_leads_get_status_cold_a_note_and_an_audit_row(
    session: Session, engine: Engine, people: dict[str, User], language: str, mode: str, body: str
) -> None:
    company.set_value(session, "default_language", language)
    company.set_value(session, "idle_days_mode", mode)
    company.set_value(session, "lead_cold_days", 60)
    cold = lead(session, "Cold one", days_ago(95), people["rep"], status="Contacted")
    assert run(session, engine)["cold"] == 1
    session.refresh(cold)
    assert (cold.status, cold.aging_state) == ("Cold", "cold")
    assert cold not in session.scalars(open_leads()).all()
    note = session.scalars(select(Note).where(Note.lead_id == cold.id)).one()
    assert (note.body, note.author_id, note.created_at) == (body, None, AS_OF)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.record_id == cold.id, AuditEntry.action == "update",
                                                     AuditEntry.module == "leads")).one()
    assert (entry.automation, entry.user_id, entry.changes) == ("lead-aging", None, {"status": ["Contacted", "Cold"]})
    assert mails(session) == []  # cold is not stale: no notice

    # A Cold lead is left alone: no second note, no change, however old it gets.
    with writes(engine) as changed:
        counts = run(session, engine, AS_OF + dt.timedelta(days=30))
    assert changed == [] and counts["cold"] == 0


def test_closed_leads_lose_their_aging_state(session: Session, engine: Engine, people: dict[str, User]) -> None:
    junk = lead(session, "Junk later", days_ago(10), people["rep"])
    kept = lead(session, "Still aging", days_ago(10), people["rep"])
    run(session, engine)
    assert states(session)["Junk later"] == (10, "aging")
    records.update(session, junk, {"status": "Junk Lead"}, Actor.system("test"))
    run(session, engine)
    session.refresh(kept)
    assert states(session) == {"Junk later": (10, None), "Still aging": (10, "aging")}


# -- idempotency ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["calendar", "working"])
def test_a_second_run_for_the_same_as_of_writes_and_sends_nothing(
    session: Session, engine: Engine, people: dict[str, User], mode: str
) -> None:
    company.set_value(session, "idle_days_mode", mode)
    for n in (3, 8, 45, 140, 200):
        lead(session, f"{n} days", days_ago(n), people["rep"])
    opp = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-09-30"},
                                     at=days_ago(40))
    first = run(session, engine)
    assert first["cold"] == 2 and first["notices"] == 2 and first["rotting"] == 1
    before = (states(session), len(mails(session)), session.scalar(select(Opportunity.rotting_since)))
    with writes(engine) as changed:
        again = run(session, engine)
    assert changed == []
    assert again == {"aging": 0, "stale": 0, "cold": 0, "notices": 0, "rotting": 0}
    assert (states(session), len(mails(session)), session.scalar(select(Opportunity.rotting_since))) == before
    assert before[2] == AS_OF and opp.id


def test_leads_are_taken_in_chunks_of_id_ranges(
    session: Session, engine: Engine, people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_store.automation import lead_aging as module

    monkeypatch.setattr(module, "CHUNK", 3)
    assert module.id_ranges(5, 11, 3) == [(5, 7), (8, 10), (11, 11)] and module.id_ranges(None, None, 3) == []
    for n in range(8):
        lead(session, f"lead {n}", days_ago(7 + n * 5), people["rep"])
    counts = run(session, engine)
    assert counts["aging"] + counts["stale"] == 8
    assert all(state is not None for _, state in states(session).values())


# -- opportunities --------------------------------------------------------------------------------------

def opportunity(session: Session, name: str, entered: dt.datetime) -> Opportunity:
    return records.create_opportunity(session, {"name": name, "expected_close_date": "2026-09-30"}, at=entered)


def test_opportunities_rot_beyond_their_stages_rotting_days(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    rep = Actor.user(people["rep"].id)
    at_limit = opportunity(session, "14 days in Prospecting", days_ago(14))  # Prospecting rots after 14 days
    beyond = opportunity(session, "15 days in Prospecting", days_ago(15))
    touched = opportunity(session, "touched since", days_ago(30))
    touched.last_touch_at = days_ago(3)
    moved = opportunity(session, "moved on", days_ago(30))
    moved.last_touch_at = days_ago(28)
    stages.change_stage(session, moved, "Qualification", Actor.system("test"), at=days_ago(2))  # entered 2 days ago
    planned = opportunity(session, "planned", days_ago(30))
    activities.create_activity(session, {"type": "meeting", "subject": "Demo", "opportunity_id": planned.id,
                                         "start_at": AS_OF + dt.timedelta(days=2)}, rep)
    won = opportunity(session, "won", days_ago(30))
    stages.change_stage(session, won, "Closed Won", Actor.system("test"), at=days_ago(29))
    assert run(session, engine)["rotting"] == 1
    found = {o.name: (o.idle_days, o.rotting_since) for o in session.scalars(select(Opportunity))}
    assert found == {
        "14 days in Prospecting": (14, None), "15 days in Prospecting": (15, AS_OF), "touched since": (3, None),
        "moved on": (2, None), "planned": (30, None), "won": (None, None),
    }

    # Later: the rotting one keeps the day it started; touched, it stops rotting; closed, it is cleared.
    assert run(session, engine, AS_OF + dt.timedelta(days=1))["rotting"] == 1  # the 14-day one now too
    session.refresh(beyond)
    assert beyond.rotting_since == AS_OF
    beyond.last_touch_at = AS_OF + dt.timedelta(days=1)
    stages.change_stage(session, at_limit, "Closed Lost", Actor.system("test"), at=AS_OF + dt.timedelta(days=1))
    run(session, engine, AS_OF + dt.timedelta(days=2))
    found = {o.name: (o.idle_days, o.rotting_since) for o in session.scalars(select(Opportunity))}
    assert found["15 days in Prospecting"] == (1, None) and found["14 days in Prospecting"][1] is None


def test_a_stage_without_rotting_days_never_rots(session: Session, engine: Engine, people: dict[str, User]) -> None:
    from crm_store.models import SalesStage

    stage = session.scalars(select(SalesStage).where(SalesStage.name == "Prospecting")).first()
    assert stage is not None
    stage.rotting_days = None
    opportunity(session, "ancient", days_ago(400))
    assert run(session, engine)["rotting"] == 0
    assert session.scalar(select(Opportunity.idle_days)) == 400


# -- idle days in SQL against the working calendar ------------------------------------------------------

@pytest.mark.parametrize("mode", ["calendar", "working"])
def test_idle_days_in_sql_match_the_calendar_across_new_york_dst_holidays_and_make_up_days(
    session: Session, engine: Engine, mode: str
) -> None:
    from crm_store.automation.calendar import WorkingCalendar
    from crm_store.automation.lead_aging import IdleDays

    settings = {"time_zone": "America/New_York", "idle_days_mode": mode, "working_days": "mon,tue,wed,thu,sat",
                "holidays": "2025-11-27,2026-01-01,2026-03-05,2026-03-09", "extra_working_days": "2026-03-08"}
    for key, value in settings.items():
        company.set_value(session, key, value)
    as_of = dt.datetime(2026, 3, 12, 3, 30, tzinfo=UTC)  # 23:30 on 11 March in New York (EDT since the 8th)
    zone = company.zone(session)
    moments = [as_of + dt.timedelta(hours=1)]  # a touch after as_of: 0
    for day in (dt.date(2025, 10, 30) + dt.timedelta(days=n) for n in range(133)):  # over both DST changes
        dst_days = (dt.date(2025, 11, 2), dt.date(2026, 3, 8))
        times = ((0, 0), (1, 30), (2, 30), (23, 59)) if abs(min((day - d).days for d in dst_days)) <= 1 \
            else ((0, 0), (23, 59))
        moments += [dt.datetime.combine(day, dt.time(h, m), tzinfo=zone).astimezone(UTC) for h, m in times]
    moments += [dt.datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC), dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
                dt.datetime(2025, 11, 2, 5, 59, 59, tzinfo=UTC), dt.datetime(2025, 11, 2, 6, 0, tzinfo=UTC)]
    for i, moment in enumerate(moments):
        records.create_lead(session, {"last_name": f"t{i}"}, at=moment)
    run(session, engine, as_of)
    calendar, today = WorkingCalendar.load(session), dt.date(2026, 3, 11)
    expected = {}
    for i, moment in enumerate(moments):
        local = moment.astimezone(zone).date()
        expected[f"t{i}"] = (calendar.working_days_between(local, today) if mode == "working"
                             else max((today - local).days, 0))
    assert {name: idle for name, (idle, _) in states(session).items()} == expected
    idle = IdleDays.load(calendar, mode == "working", as_of, moments[1], "sqlite")
    assert [idle.of(m) for m in moments] == list(expected.values())
    assert idle.offsets[1:3] == (  # the changes, to the second (and then those of the year after as_of)
        (dt.datetime(2025, 11, 2, 6, 0, tzinfo=UTC), -5 * 3600), (dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC), -4 * 3600))
