"""The assign-leads flow (without Prefect): which leads it takes, idempotency, one email per owner, the cadence
catch-up, two runs at once and a web capture during a run (SQLite and PostgreSQL), and the `crm users`
commands that feed it: out-of-office and deactivate --reassign-by-rules.

AS_OF is a Monday morning in Taipei, after the tests' import batches are loaded (now).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_store.assignment import handover, rules
from crm_store.automation import assign_leads as flow
from crm_store.automation import runs
from crm_store.automation.runs import Outcome
from crm_store.capture import forms as webforms
from crm_store.capture import submissions as capture
from crm_store.db.engine import make_engine, session_factory
from crm_store.models import Activity, AuditEntry, FlowRun, Lead, OutboxMessage, Team, User, WebForm
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import teams, users

AS_OF = dt.datetime(2030, 3, 4, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Taipei
BEFORE = AS_OF - dt.timedelta(hours=1)
JOIN_TIMEOUT = 180


# -- helpers -----------------------------------------------------------------------------------------------


def add_leads(session: Session, n: int, batch: Any = None, assigned_at: dt.datetime | None = None,
              **values: Any) -> list[int]:
    """Insert n leads created an hour before AS_OF (unassigned unless `owner_id` is given)."""
    rows = [{"last_name": f"Lead {i}", "created_at": BEFORE, **values} for i in range(n)]
    ids = bulk.insert_records(session, "leads", rows, bulk.BulkContext.load(session), batch=batch)
    if assigned_at is not None:
        session.execute(update(Lead).where(Lead.id.in_(ids)).values(assigned_at=assigned_at))
    return ids


def run(factory: sessionmaker[Session], as_of: dt.datetime = AS_OF) -> Outcome:
    outcome = Outcome()
    flow.assign_leads(factory, as_of, outcome)
    return outcome


def assign_audits(session: Session) -> Counter[int]:
    """How many rule assignments each lead has in the audit trail."""
    return Counter(session.scalars(select(AuditEntry.record_id).where(
        AuditEntry.module == "leads", AuditEntry.action == "assign", AuditEntry.automation == "assign-leads")))


def assigned_mail(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "leads_assigned")
                                .order_by(OutboxMessage.id)))


def listed(mail: OutboxMessage) -> list[str]:
    return [lead["number"] for lead in mail.context["leads"]]


def numbers(session: Session, owner_id: int) -> list[str]:
    return list(session.scalars(select(Lead.lead_no).where(Lead.owner_id == owner_id).order_by(Lead.id)))


def together(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run the tasks in threads released at once; return their results (re-raise the first error)."""
    barrier = threading.Barrier(len(tasks))
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = tasks[i]()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(tasks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def sales(session: Session) -> dict[str, Any]:
    """Team Sales (round robin) of rep1..rep3 managed by boss; rule "Sales" gives it every lead. Committed."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    boss = users.add_user(session, "boss@leadline.test", "Boss", role="manager", welcome=False)
    reps = [users.add_user(session, f"rep{i}@leadline.test", f"Rep {i}", welcome=False) for i in (1, 2, 3)]
    team = teams.add_team(session, "Sales", boss.email)
    for rep in reps:
        teams.add_member(session, team, rep.email)
    rules.add_rule(session, "Sales", [], team="Sales")
    session.commit()
    return {"boss": boss, "reps": reps, "team": team}


# -- what a run takes --------------------------------------------------------------------------------------


def test_a_run_assigns_the_unassigned_open_leads_created_by_as_of(session, factory, sales) -> None:
    reps = sales["reps"]
    batch = bulk.new_batch(session, "import", "leads.csv")
    fresh = add_leads(session, 4)
    imported = add_leads(session, 2, batch=batch)
    later = add_leads(session, 1, created_at=AS_OF + dt.timedelta(minutes=1))
    junk = add_leads(session, 1, status="Junk Lead")
    owned = add_leads(session, 1, owner_id=reps[2].id)
    converted, deleted = add_leads(session, 2)
    session.execute(update(Lead).where(Lead.id == converted).values(converted_at=BEFORE))
    session.execute(update(Lead).where(Lead.id == deleted).values(deleted_at=BEFORE))
    session.commit()

    report = runs.run(factory, "assign-leads", flow.assign_leads, AS_OF)
    assert report.status == "completed"
    assert report.counts == {"assigned": 6, "pooled": 0, "to_manager": 0, "unassigned": 0, "undecided": 0,
                             "emails": 3, "cadences_started": 7}  # six new owners' leads, and the owned one's

    taken = fresh + imported
    got = {lead.id: lead for lead in session.scalars(select(Lead))}
    assert [got[i].owner_id for i in taken] == [r.id for r in reps] * 2
    assert all(got[i].assigned_at == AS_OF for i in taken)
    assert all(got[i].assignment_reason == "rule 'Sales' → team Sales (round_robin)" for i in taken)
    assert [got[i].owner_id for i in later + junk + [converted, deleted]] == [None] * 4
    assert got[owned[0]].owner_id == reps[2].id and got[owned[0]].assignment_reason is None
    assert assign_audits(session) == Counter(taken)
    tasks = Counter(session.scalars(select(Activity.lead_id).where(Activity.cadence_step == 1)))
    assert tasks == Counter([*taken, *owned])  # the imported ones too: assigned after the batch was loaded
    mail = assigned_mail(session)
    assert sorted(m.recipient for m in mail) == [r.email for r in reps]
    for message in mail:
        owner = next(r for r in reps if r.email == message.recipient)
        assert listed(message) == [got[i].lead_no for i in taken if got[i].owner_id == owner.id]
        assert message.context["assigned_by"] is None and message.to_staff


def test_a_second_run_for_the_same_as_of_changes_and_sends_nothing(session, factory, sales) -> None:
    add_leads(session, 5)
    session.commit()
    assert run(factory).counts["assigned"] == 5
    before = (assign_audits(session), len(assigned_mail(session)),
              session.scalar(select(func.count()).select_from(Activity)),
              list(session.execute(select(Lead.id, Lead.owner_id, Lead.updated_at).order_by(Lead.id))),
              session.scalar(select(Team.round_robin_pointer).where(Team.id == sales["team"].id)))
    session.rollback()
    again = run(factory)
    assert set(again.counts.values()) == {0} and not again.errors
    after = (assign_audits(session), len(assigned_mail(session)),
             session.scalar(select(func.count()).select_from(Activity)),
             list(session.execute(select(Lead.id, Lead.owner_id, Lead.updated_at).order_by(Lead.id))),
             session.scalar(select(Team.round_robin_pointer).where(Team.id == sales["team"].id)))
    assert after == before


def test_a_lead_left_in_a_team_s_pool_stays_there_and_is_not_announced_again(session, factory, sales) -> None:
    rules.remove_rule(session, "Sales")
    rules.add_rule(session, "Japan", [("country", "equals", "Japan")], team="Sales")
    company.set_value(session, "unassigned_pool", "Sales")
    [pooled] = add_leads(session, 1)
    session.commit()
    first = run(factory)
    assert first.counts["pooled"] == 1 and first.counts["assigned"] == 0 and first.counts["emails"] == 0
    lead = session.get(Lead, pooled)
    assert lead.owner_id is None and lead.assignment_reason == "pool: Sales (no rule matched)"
    session.rollback()
    later = run(factory, AS_OF + dt.timedelta(minutes=10))
    assert later.counts["pooled"] == 0 and assign_audits(session) == Counter([pooled])


def test_a_pool_setting_naming_nobody_fails_the_run_and_leaves_the_leads_for_later(session, factory, sales) -> None:
    rules.remove_rule(session, "Sales")
    company.set_value(session, "unassigned_pool", "Support")
    [lead] = add_leads(session, 1)
    session.commit()
    report = runs.run(factory, "assign-leads", flow.assign_leads, AS_OF)
    assert report.status == "failed" and report.counts["undecided"] == 1
    assert "unassigned_pool 'Support' names no user or team" in report.errors[0]
    assert session.get(FlowRun, report.id).errors.startswith("unassigned_pool 'Support'")
    company.set_value(session, "unassigned_pool", sales["reps"][0].email)
    session.commit()
    assert run(factory, AS_OF + dt.timedelta(minutes=10)).counts["assigned"] == 1
    assert session.get(Lead, lead).owner_id == sales["reps"][0].id


# -- one message per owner ---------------------------------------------------------------------------------


def test_one_message_per_owner_lists_all_their_leads_across_batches(session, factory, sales, monkeypatch) -> None:
    monkeypatch.setattr(flow, "CHUNK", 4)  # 14 leads in four transactions
    add_leads(session, 14)
    session.commit()
    outcome = run(factory)
    assert outcome.counts["assigned"] == 14 and outcome.counts["emails"] == 3
    mail = assigned_mail(session)
    assert len(mail) == 3
    for rep in sales["reps"]:
        [message] = [m for m in mail if m.recipient == rep.email]
        assert listed(message) == numbers(session, rep.id)
        assert message.record_id is None  # about several leads


def test_a_full_or_sent_message_is_followed_by_another(session, factory, sales, monkeypatch) -> None:
    monkeypatch.setattr(flow, "CHUNK", 2)
    monkeypatch.setattr(handover, "MESSAGE_LEADS", 3)
    rep = sales["reps"][0]
    teams.remove_member(session, sales["team"], sales["reps"][1].email)
    teams.remove_member(session, sales["team"], sales["reps"][2].email)
    add_leads(session, 8)
    session.commit()
    run(factory)
    assert [len(listed(m)) for m in assigned_mail(session)] == [4, 4]  # 2 + 2, full; 2 + 2
    assert sum((listed(m) for m in assigned_mail(session)), []) == numbers(session, rep.id)

    session.execute(update(OutboxMessage).values(status="sent"))
    session.commit()
    [lead] = add_leads(session, 1)
    session.commit()
    assert rules.assign_by_rules(session, [lead], AS_OF) == {lead: rep.id}  # the same moment: a new message
    session.commit()
    newest = assigned_mail(session)[-1]
    assert listed(newest) == [session.get(Lead, lead).lead_no] and newest.record_id == lead


# -- the cadence catch-up -----------------------------------------------------------------------------------


def test_cadences_that_never_started_start_except_for_history(session, factory, sales) -> None:
    rep = sales["reps"][0]
    by_hand = add_leads(session, 2, owner_id=rep.id, assigned_at=BEFORE)
    batch = bulk.new_batch(session, "import", "old.csv")
    history = add_leads(session, 1, batch=batch, owner_id=rep.id, assigned_at=batch.created_at - dt.timedelta(days=9))
    closed = add_leads(session, 1, owner_id=rep.id, assigned_at=BEFORE, status="Lost Lead")
    not_yet = add_leads(session, 1, owner_id=rep.id, assigned_at=AS_OF + dt.timedelta(hours=1))
    window = dt.timedelta(days=flow.CATCH_UP_DAYS)
    too_old = add_leads(session, 1, owner_id=rep.id, assigned_at=AS_OF - window - dt.timedelta(seconds=1))
    session.commit()
    outcome = run(factory)
    assert outcome.counts["cadences_started"] == 2 and outcome.counts["assigned"] == 0
    started = set(session.scalars(select(Lead.id).where(Lead.cadence_step == 1)))
    assert started == set(by_hand) and not started & set(history + closed + not_yet + too_old)
    session.rollback()
    assert run(factory).counts["cadences_started"] == 0


# -- concurrency ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_runs_at_once_assign_each_lead_once_and_tell_each_owner_once(
    session, database_url, sales, monkeypatch
) -> None:
    monkeypatch.setattr(flow, "CHUNK", 25)  # many transactions, so the runs interleave
    add_leads(session, 300)
    session.commit()
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        outcomes = together([lambda e=e: run(session_factory(e)) for e in engines])
    finally:
        for e in engines:
            e.dispose()
    assert sum(o.counts["assigned"] for o in outcomes) == 300
    assert not any(o.errors for o in outcomes)
    assert set(assign_audits(session).values()) == {1} and len(assign_audits(session)) == 300
    owners = Counter(session.scalars(select(Lead.owner_id)))
    assert owners == Counter({rep.id: 100 for rep in sales["reps"]})  # the rotation stayed fair
    mail = assigned_mail(session)
    assert sorted(m.recipient for m in mail) == [rep.email for rep in sales["reps"]]
    for message in mail:
        owner = next(r for r in sales["reps"] if r.email == message.recipient)
        assert sorted(listed(message)) == sorted(numbers(session, owner.id))
    assert sum(o.counts["emails"] for o in outcomes) == 3


@pytest.mark.slow
def test_web_captures_during_a_run_are_neither_lost_nor_assigned_twice(
    session, database_url, sales, monkeypatch
) -> None:
    monkeypatch.setattr(flow, "CHUNK", 20)
    team_form = webforms.add_form(session, {"name": "Team inquiry", "team": "Sales"})
    open_form = webforms.add_form(session, {"name": "Open inquiry"})
    add_leads(session, 150)
    session.commit()
    forms = [team_form.id, open_form.id]

    def capture_some(k: int) -> Callable[[], None]:
        def go() -> None:
            engine = make_engine(database_url)
            try:
                with session_factory(engine)() as s:
                    for i in range(8):
                        capture.receive(s, capture.Inbound(
                            form=s.get(WebForm, forms[(k + i) % 2]), client_key=uuid.uuid4().hex, raw={},
                            values={"last_name": f"Visitor {k}-{i}", "email": f"v{k}-{i}@example.com"},
                        ))
                        s.commit()
            finally:
                engine.dispose()
        return go

    engine = make_engine(database_url)
    try:
        together([lambda: run(session_factory(engine)), capture_some(0), capture_some(1)])
        run(session_factory(engine), AS_OF + dt.timedelta(minutes=10))  # the next run takes what came meanwhile
    finally:
        engine.dispose()
    leads = list(session.execute(select(Lead.id, Lead.owner_id, Lead.web_form_id)))
    assert len(leads) == 150 + 16
    assert all(owner is not None for _, owner, _ in leads)
    audits = assign_audits(session)
    assert set(audits.values()) == {1}
    by_team_form = {lead_id for lead_id, _, form in leads if form == team_form.id}
    assert len(by_team_form) == 8 and not by_team_form & set(audits)  # the capture assigned those itself
    counts = Counter(owner for _, owner, _ in leads)
    assert max(counts.values()) - min(counts.values()) <= 1  # one rotation, shared by capture and rules


# -- crm users out-of-office ----------------------------------------------------------------------------------


def away(session: Session, email: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    found = session.execute(select(User.out_of_office_from, User.out_of_office_to).where(User.email == email)).one()
    session.rollback()  # SQLite: end the read's transaction, or the next command waits on it
    return found[0], found[1]


def taipei(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    import zoneinfo

    return dt.datetime(year, month, day, hour, minute, tzinfo=zoneinfo.ZoneInfo("Asia/Taipei")).astimezone(dt.UTC)


def test_out_of_office_days_and_moments_in_the_user_s_zone(crm, session, sales) -> None:
    rep1, rep2 = sales["reps"][0].email, sales["reps"][1].email
    session.rollback()
    out = crm("users", "out-of-office", rep1, "--from", "2030-03-04", "--to", "2030-03-08").output
    assert away(session, rep1) == (taipei(2030, 3, 4), taipei(2030, 3, 9))  # the last day is away all day
    assert out.strip() == f"{rep1} is out of the office from 2030-03-04 00:00 CST until 2030-03-09 00:00 CST."

    crm("users", "out-of-office", rep2, "--from", "2030-03-04T13:30")
    assert away(session, rep2) == (taipei(2030, 3, 4, 13, 30), None)  # until cleared

    users.find_user(session, rep2).time_zone = "America/New_York"
    session.commit()
    crm("users", "out-of-office", rep2, "--from", "2030-03-10", "--to", "2030-03-10T12:00-04:00")
    assert away(session, rep2) == (dt.datetime(2030, 3, 10, 5, tzinfo=dt.UTC), dt.datetime(2030, 3, 10, 16,
                                                                                           tzinfo=dt.UTC))
    assert "is back" in crm("users", "out-of-office", rep1, "--clear").output
    assert away(session, rep1) == (None, None)


@pytest.mark.parametrize(("args", "expected"), [
    (("--from", "next monday"), "error: --from: 'next monday' is not a date like 2026-09-07 or a date-time"),
    (("--from", "2030-03-08", "--to", "2030-03-04"), "error: --to: must be after the start of the absence "
                                                     "(2030-03-08 00:00 CST)"),
    (("--clear", "--to", "2030-03-04"), "error: --clear: goes alone: not with --from or --to"),
    ((), "error: --from: give --from, --to or both (or --clear)"),
])
def test_out_of_office_errors_name_the_option(crm, session, sales, args, expected) -> None:
    session.rollback()
    result = crm("users", "out-of-office", "rep1@leadline.test", *args, ok=False)
    assert result.stderr.strip().startswith(expected), result.stderr
    assert away(session, "rep1@leadline.test") == (None, None)


def test_a_rep_out_of_the_office_gets_no_leads_from_the_run(crm, session, factory, sales) -> None:
    reps = sales["reps"]
    add_leads(session, 4)
    session.commit()
    crm("users", "out-of-office", reps[0].email, "--from", "2030-03-01", "--to", "2030-03-06")
    run(factory)
    assert Counter(session.scalars(select(Lead.owner_id))) == Counter({reps[1].id: 2, reps[2].id: 2})


# -- crm users deactivate --reassign-by-rules ------------------------------------------------------------------


def test_deactivating_hands_the_leads_out_by_the_rules_with_their_follow_ups(crm, session, factory, sales) -> None:
    reps = sales["reps"]
    ids = [r.id for r in reps]
    add_leads(session, 6)
    session.commit()
    run(factory)  # two leads each, with their first follow-up tasks
    theirs = numbers(session, ids[0])
    session.rollback()

    out = crm("users", "deactivate", "rep1@leadline.test", "--reassign-by-rules").output
    assert "Deactivated rep1@leadline.test." in out and "2 open lead(s) reassigned by the assignment rules" in out
    moved = list(session.execute(select(Lead.id, Lead.owner_id, Lead.assignment_reason)
                                 .where(Lead.lead_no.in_(theirs))))
    assert sorted(owner for _, owner, _ in moved) == ids[1:]
    assert all(reason == "rule 'Sales' → team Sales (round_robin); rep1@leadline.test deactivated"
               for _, _, reason in moved)
    tasks = {lead_id: owner for lead_id, owner in session.execute(
        select(Activity.lead_id, Activity.owner_id).where(Activity.lead_id.in_([i for i, _, _ in moved])))}
    assert tasks == {lead_id: owner for lead_id, owner, _ in moved}  # the open follow-ups went along
    assert not session.get(User, ids[0]).active


def test_deactivating_by_rules_still_needs_an_heir_for_the_rest(crm, session, factory, sales) -> None:
    ids = [r.id for r in sales["reps"]]
    add_leads(session, 3)
    records.create_account(session, {"name": "Formosa Tea", "owner_id": ids[0]})
    session.commit()
    run(factory)  # a lead each, with its first follow-up task
    session.rollback()
    result = crm("users", "deactivate", "rep1@leadline.test", "--reassign-by-rules", ok=False)
    assert "error: reassign_to: rep1@leadline.test still owns 1 accounts" in result.stderr
    assert session.get(User, ids[0]).active  # nothing changed
    session.rollback()

    company.set_value(session, "unassigned_pool", "Sales")
    rules.remove_rule(session, "Sales")
    session.commit()
    result = crm("users", "deactivate", "rep2@leadline.test", "--reassign-by-rules", ok=False)
    assert "error: reassign_to: the assignment rules left rep2@leadline.test with 1 activities" in result.stderr
    assert session.get(User, ids[1]).active and numbers(session, ids[1])  # rolled back
    session.rollback()

    out = crm("users", "deactivate", "rep1@leadline.test", "--reassign-by-rules", "--reassign-to",
              "rep3@leadline.test").output
    assert "Reassigned to rep3@leadline.test: 1 accounts, 1 activities." in out
    [lead] = session.scalars(select(Lead).where(Lead.assignment_reason.like("pool: Sales%")))
    assert lead.owner_id is None  # in the team's pool, its task with the heir
    assert lead.assignment_reason == "pool: Sales (no rule matched); rep1@leadline.test deactivated"
    assert session.scalar(select(Activity.owner_id).where(Activity.lead_id == lead.id)) == ids[2]
