"""sla-escalation: the owner reminded at 75 % of the SLA's working minutes, the manager told at twice, the lead
reassigned by the rules at three times (when `sla_reassign` is on), each step once — across a Taipei weekend,
when a run comes late and several thresholds have passed, and with two runs at the same time."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.assignment import rules
from crm_store.automation import sla_escalation as sla
from crm_store.automation.runs import Outcome
from crm_store.db.engine import session_factory
from crm_store.models import Lead, OutboxMessage, User
from crm_store.pipeline import activities
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff.users import add_user

UTC = dt.UTC
TAIPEI = dt.timezone(dt.timedelta(hours=8))
NBSP = "\u202f"  # CLDR's narrow space before AM/PM


def taipei(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Taipei wall-clock time in June 2026 as a UTC moment (12 June is a Friday)."""
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=TAIPEI).astimezone(UTC)


FRIDAY_4PM = taipei(12, 16)
# A 4-hour SLA assigned on Friday at 16:00 (09:00-18:00, Monday to Friday): 2 h on Friday, then Monday.
REMIND_AT, DEADLINE, ESCALATE_AT, REASSIGN_AT = taipei(15, 10), taipei(15, 11), taipei(15, 15), taipei(16, 10)


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    """A Taipei company with a 4-hour SLA; a rep (Chinese) with a manager (English), another rep; a rule that
    gives every lead to the other rep."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    company.set_value(session, "sla_hours", 4)
    boss = add_user(session, "boss@example.com", "Boss", role="manager", welcome=False)
    rep = add_user(session, "rep@example.com", "林怡君", manager_email=boss.email, language="zh_Hant", welcome=False)
    other = add_user(session, "other@example.com", "Other Rep", manager_email=boss.email, welcome=False)
    rules.add_rule(session, "everything to the other rep", [], user=other.email)
    session.commit()
    return {"boss": boss, "rep": rep, "other": other}


def assigned(session: Session, name: str, owner: User, at: dt.datetime = FRIDAY_4PM, **values: Any) -> Lead:
    batch_id = values.pop("batch_id", None)
    return records.create_lead(session, {"last_name": name, "first_name": "Mei", "owner_id": owner.id, **values},
                               at=at, batch_id=batch_id)


def run(session: Session, engine: Engine, as_of: dt.datetime) -> dict[str, int]:
    session.commit()
    outcome = Outcome()
    sla.sla_escalation(session_factory(engine), as_of, outcome)
    session.expire_all()
    assert not outcome.errors
    return outcome.counts


def mails(session: Session, template: str | None = None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if template is not None:
        stmt = stmt.where(OutboxMessage.template == template)
    return list(session.scalars(stmt))


def sent(session: Session) -> list[tuple[str, str]]:
    return [(m.template, m.recipient) for m in mails(session) if m.template.startswith("sla_")]


def step_of(session: Session, lead: Lead) -> int:
    return session.scalar(select(Lead.sla_step).where(Lead.id == lead.id)) or 0


# -- the steps, over a weekend -----------------------------------------------------------------------------

def test_each_step_once_across_a_taipei_weekend(session: Session, engine: Engine, people: dict[str, User]) -> None:
    company.set_value(session, "sla_reassign", True)
    lead = assigned(session, "Chen", people["rep"], company="Formosa Tea")
    for quiet in (taipei(13, 11), taipei(14, 23), REMIND_AT - dt.timedelta(minutes=1)):  # the weekend, 179 min
        assert run(session, engine, quiet) == {"reminded": 0, "escalated": 0, "reassigned": 0}
    assert sent(session) == [] and step_of(session, lead) == 0

    assert run(session, engine, REMIND_AT)["reminded"] == 1
    reminder = mails(session, "sla_reminder")[0]
    assert (reminder.recipient, reminder.language, reminder.record_module, reminder.record_id) == (
        "rep@example.com", "zh_Hant", "leads", lead.id)
    assert reminder.context == {
        "recipient_name": "林怡君", "lead": {"number": lead.lead_no, "name": "Mei Chen", "company": "Formosa Tea"},
        "minutes_left": 60, "deadline": "2026年6月15日 上午11:00 CST",
    }
    assert run(session, engine, REMIND_AT + dt.timedelta(minutes=30))["reminded"] == 0  # once

    assert run(session, engine, ESCALATE_AT)["escalated"] == 1
    escalation = mails(session, "sla_escalation")[0]
    assert (escalation.recipient, escalation.language) == ("boss@example.com", "en")
    assert escalation.context == {
        "recipient_name": "Boss", "lead": {"number": lead.lead_no, "name": "Mei Chen", "company": "Formosa Tea"},
        "owner_name": "林怡君", "minutes_late": 240, "deadline": f"Jun 15, 2026, 11:00{NBSP}AM CST",
    }
    assert step_of(session, lead) == sla.ESCALATED

    assert run(session, engine, REASSIGN_AT - dt.timedelta(minutes=1))["reassigned"] == 0
    assert run(session, engine, REASSIGN_AT)["reassigned"] == 1
    session.refresh(lead)
    assert (lead.owner_id, lead.assigned_at, lead.sla_step) == (people["other"].id, REASSIGN_AT, 0)
    assert lead.assignment_reason is not None and "SLA missed" in lead.assignment_reason
    assert [m.recipient for m in mails(session, "leads_assigned")] == ["other@example.com"]
    assert sent(session) == [("sla_reminder", "rep@example.com"), ("sla_escalation", "boss@example.com")]

    # The new owner has a fresh SLA of their own: reminded 3 working hours after the reassignment.
    assert run(session, engine, taipei(16, 12, 59))["reminded"] == 0
    assert run(session, engine, taipei(16, 13))["reminded"] == 1
    assert sent(session)[-1] == ("sla_reminder", "other@example.com")


def test_without_sla_reassign_the_lead_stays_after_the_manager_is_told(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    lead = assigned(session, "Chen", people["rep"])
    run(session, engine, ESCALATE_AT)
    for later in (REASSIGN_AT, taipei(30, 17)):
        assert run(session, engine, later) == {"reminded": 0, "escalated": 0, "reassigned": 0}
    session.refresh(lead)
    assert (lead.owner_id, lead.sla_step) == (people["rep"].id, sla.ESCALATED)
    assert mails(session, "leads_assigned") == []


# -- a late run -------------------------------------------------------------------------------------------

MONDAY_9AM = taipei(15, 9)


@pytest.mark.parametrize(("as_of", "reassign", "step", "expected"), [
    (taipei(15, 14), False, sla.REMINDED, []),  # past the deadline, before twice: no "time left" mail
    (taipei(15, 17, 30), False, sla.ESCALATED, [("sla_escalation", "boss@example.com")]),  # no reminder first
    (taipei(16, 12), False, sla.ESCALATED, [("sla_escalation", "boss@example.com")]),
    (taipei(16, 12), True, 0, [("sla_escalation", "boss@example.com")]),  # told, and reassigned (step 3, reset)
])
def test_a_late_run_takes_only_the_steps_that_still_make_sense(
    session: Session, engine: Engine, people: dict[str, User], as_of: dt.datetime, reassign: bool, step: int,
    expected: list[tuple[str, str]],
) -> None:
    company.set_value(session, "sla_reassign", reassign)
    lead = assigned(session, "Late", people["rep"], at=MONDAY_9AM)
    counts = run(session, engine, as_of)
    assert sent(session) == expected
    assert step_of(session, lead) == step
    assert counts["reminded"] == 0 and counts["reassigned"] == (1 if reassign else 0)
    assert counts["escalated"] == (1 if expected else 0)
    assert run(session, engine, as_of) == {"reminded": 0, "escalated": 0, "reassigned": 0}


# -- who is chased ----------------------------------------------------------------------------------------

def test_leads_with_a_response_closed_unowned_or_history_are_left_alone(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    rep = people["rep"]
    responded = assigned(session, "Responded", rep)
    responded.first_response_at = FRIDAY_4PM + dt.timedelta(minutes=5)
    called = assigned(session, "Called", rep)  # a completed call since the assignment, however recorded
    call = activities.create_activity(session, {"type": "call", "subject": "Hello", "lead_id": called.id,
                                                "start_at": FRIDAY_4PM}, Actor.user(rep.id))
    activities.complete_activity(session, call, Actor.user(rep.id), at=FRIDAY_4PM + dt.timedelta(minutes=30))
    assigned(session, "Junk", rep, status="Junk Lead")
    batch = bulk.new_batch(session, "import", "old CRM")
    batch.created_at = FRIDAY_4PM + dt.timedelta(days=1)
    assigned(session, "History", rep, batch_id=batch.id)  # assigned before the batch was loaded
    loaded = assigned(session, "Loaded", rep, batch_id=batch.id, at=batch.created_at)  # after: chased
    unowned = records.create_lead(session, {"last_name": "Unowned"}, at=FRIDAY_4PM)
    unowned.assigned_at = FRIDAY_4PM
    # Its last step fell due more than two weeks ago: past chasing (left to lead aging).
    assigned(session, "Ancient", rep, at=FRIDAY_4PM - dt.timedelta(days=17))
    recent = assigned(session, "Caught up", rep, at=FRIDAY_4PM - dt.timedelta(days=10))
    run(session, engine, ESCALATE_AT + dt.timedelta(days=1))
    assert {m.record_id for m in mails(session, "sla_escalation")} == {recent.id, loaded.id}
    assert len(mails(session, "sla_escalation")) == 2


def test_an_owner_without_a_manager_escalates_to_the_admins(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    loner = add_user(session, "loner@example.com", "Loner", welcome=False)
    add_user(session, "admin@example.com", "Admin", role="admin", welcome=False)
    add_user(session, "gone@example.com", "Gone", role="admin", welcome=False).active = False
    assigned(session, "Chen", loner)
    run(session, engine, ESCALATE_AT)
    assert sent(session) == [("sla_escalation", "admin@example.com")]


# -- once, also when runs meet ----------------------------------------------------------------------------

def test_a_run_that_read_before_another_acted_does_nothing_again(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    company.set_value(session, "sla_reassign", True)
    reminded = assigned(session, "Reminded", people["rep"], at=taipei(16, 9))
    reassigned = assigned(session, "Reassigned", people["rep"])
    session.commit()
    factory = session_factory(engine)
    as_of = taipei(16, 12)  # Tuesday 12:00: 3 h for the first, more than 3x the SLA for the second
    with factory() as reader:
        policy = sla.Policy.load(reader)
        stale = reader.execute(sla.candidates(0, as_of)).all()
    assert {row.id for row in stale} == {reminded.id, reassigned.id}
    run(session, engine, as_of)  # another run acts first
    before = [(m.template, m.recipient) for m in mails(session)]
    assert ("sla_reminder", "rep@example.com") in before and ("sla_escalation", "boss@example.com") in before
    session.rollback()  # its read transaction holds SQLite's write lock (BEGIN IMMEDIATE)
    outcome = Outcome()
    with factory.begin() as late:
        sla._act(late, policy, stale, as_of, outcome)  # what it read is out of date now
    session.expire_all()
    assert outcome.counts == {} and [(m.template, m.recipient) for m in mails(session)] == before
    assert session.get(Lead, reassigned.id).owner_id == people["other"].id  # type: ignore[union-attr]
    assert step_of(session, reminded) == sla.REMINDED


def test_two_runs_at_the_same_time_send_one_mail_per_step(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    company.set_value(session, "sla_reassign", True)
    for n in range(6):
        assigned(session, f"Remind {n}", people["rep"], at=taipei(15, 9))
        assigned(session, f"Escalate {n}", people["rep"], at=taipei(12, 13))  # 5 h on Friday + 3.5 h
        assigned(session, f"Reassign {n}", people["rep"], at=taipei(8, 9))
    session.commit()
    as_of, factory, start = taipei(15, 12, 30), session_factory(engine), threading.Barrier(2)
    outcomes, failures = [Outcome(), Outcome()], []

    def one(outcome: Outcome) -> None:
        try:
            start.wait()
            sla.sla_escalation(factory, as_of, outcome)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(o,)) for o in outcomes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    totals = {k: outcomes[0].counts[k] + outcomes[1].counts[k] for k in ("reminded", "escalated", "reassigned")}
    assert totals == {"reminded": 6, "escalated": 12, "reassigned": 6}
    reminders = [m.record_id for m in mails(session, "sla_reminder")]
    escalations = [m.record_id for m in mails(session, "sla_escalation")]
    assert len(reminders) == len(set(reminders)) == 6 and len(escalations) == len(set(escalations)) == 12
    assert [m.recipient for m in mails(session, "leads_assigned")] == ["other@example.com"]


def test_a_second_run_for_the_same_as_of_writes_nothing(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    company.set_value(session, "sla_reassign", True)
    assigned(session, "Remind", people["rep"], at=taipei(15, 9))
    assigned(session, "Reassign", people["rep"], at=taipei(8, 9))
    first = run(session, engine, taipei(15, 12, 30))
    assert first == {"reminded": 1, "escalated": 1, "reassigned": 1}
    found: list[str] = []

    def spy(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE") and cursor.rowcount > 0:
            found.append(statement)

    event.listen(engine, "after_cursor_execute", spy)
    try:
        assert run(session, engine, taipei(15, 12, 30)) == {"reminded": 0, "escalated": 0, "reassigned": 0}
    finally:
        event.remove(engine, "after_cursor_execute", spy)
    assert found == []
