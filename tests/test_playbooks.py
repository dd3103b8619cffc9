"""Stage playbooks: every seeded stage has one in both languages; entering a stage gives the owner its tasks (due on
working days, in their language) and the stage_playbook email (the text, the tasks, the key facts, the last three
activities, the link) — once, even when two writers move the same deal at once; history fires nothing; the
stage-playbooks job catches up on entries left unfired, in bulk, idempotently; the opportunity page shows the
stage's "what to do now" in the viewer's language. SQLite and PostgreSQL (the browser part on SQLite).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine, delete, event, func, select, update
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.automation import stage_playbooks as job
from crm_store.automation.runs import Outcome
from crm_store.db.engine import session_factory
from crm_store.errors import ValidationError
from crm_store.models import (
    Activity,
    Contact,
    Opportunity,
    OutboxMessage,
    SalesProcess,
    SalesStage,
    StageHistory,
    StagePlaybook,
    User,
)
from crm_store.pipeline import activities, playbooks, stages
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.settings.seed import seed_all
from crm_store.staff import passwords
from crm_store.staff.my_day import my_day
from crm_store.staff.users import add_user
from emails.render import render

from .browser_support import LiveServer
from .staff_support import PASSWORD, Staff
from .staff_support import Page as Html
from .test_browser_staff import browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

UTC = dt.UTC
TAIPEI = dt.timezone(dt.timedelta(hours=8))
BASE_URL = "https://crm.goodfortune.example"
QUOTE = ("Standard Sales", "Proposal or Price Quote")


def taipei(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Taipei wall-clock time in June 2026 as a UTC moment (12 June is a Friday)."""
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=TAIPEI).astimezone(UTC)


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    """A Taipei company (16 June a holiday); a rep writing Chinese, a rep writing English (both may sign in)."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    company.set_value(session, "holidays", ["2026-06-16"])
    mei = add_user(session, "mei@example.com", "林美玲", language="zh_Hant", welcome=False)
    kevin = add_user(session, "kevin@example.com", "Kevin Wu", language="en", welcome=False)
    for user in (mei, kevin):
        passwords.set_password(session, user, PASSWORD)
    session.commit()
    return {"mei": mei, "kevin": kevin}


JUNE_1 = taipei(1, 9)


def deal(session: Session, owner: User | None, at: dt.datetime | None = JUNE_1, **values: Any) -> Opportunity:
    """A deal with 陳志明 at 宏達精密 for NT$1,250,000 closing 31 July, owned by `owner` (made by them)."""
    actor = Actor.user(owner.id) if owner is not None else Actor.system("system")
    account = records.create_account(session, {"name": "宏達精密工業股份有限公司"}, actor, at=at)
    contact = records.create_contact(session, {"last_name": "陳", "first_name": "志明", "account_id": account.id},
                                     actor, at=at)
    return records.create_opportunity(session, {
        "name": "宏達精密 2026 年度耗材合約", "expected_close_date": "2026-07-31", "amount": 1250000,
        "owner_id": owner.id if owner is not None else None, "account_id": account.id, "contact_id": contact.id,
        **values,
    }, actor, at=at)


def tasks_of(session: Session, opportunity_id: int, stage: str | None = None) -> list[Activity]:
    """The playbook tasks of a deal (of one stage's playbook: by the stage named in their description)."""
    found = session.scalars(
        select(Activity).where(Activity.opportunity_id == opportunity_id,
                               Activity.created_by_automation == playbooks.AUTOMATION)
        .order_by(Activity.due_date, Activity.id)
    ).all()
    return [a for a in found if stage is None or stage in (a.description or "")]


def mails(session: Session, opportunity_id: int | None = None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.template == "stage_playbook").order_by(OutboxMessage.id)
    if opportunity_id is not None:
        stmt = stmt.where(OutboxMessage.record_id == opportunity_id)
    return list(session.scalars(stmt))


def entries(session: Session, opportunity_id: int) -> list[StageHistory]:
    session.expire_all()
    return list(session.scalars(select(StageHistory).where(StageHistory.opportunity_id == opportunity_id)
                                .order_by(StageHistory.entered_at, StageHistory.id)))


def stage_id(session: Session, process: str, stage: str) -> int:
    found = session.scalar(select(SalesStage.id).join(SalesProcess).where(SalesProcess.name == process,
                                                                          SalesStage.name == stage))
    assert found is not None
    return found


def default(key: tuple[str, str], language: str) -> tuple[str, list[str]]:
    """A default playbook's text and task subjects in a language."""
    book = playbooks.DEFAULTS[key]
    return book["guidance"][language], [t["subject"][language] for t in book["tasks"]]


def run_job(session: Session, engine: Engine, as_of: dt.datetime) -> dict[str, int]:
    session.commit()
    outcome = Outcome()
    job.stage_playbooks(session_factory(engine), as_of, outcome)
    session.expire_all()
    assert not outcome.errors
    return outcome.counts


# -- the defaults -----------------------------------------------------------------------------------------

def test_every_stage_of_both_seeded_processes_has_a_playbook_in_both_languages(session: Session) -> None:
    rows = session.execute(
        select(SalesProcess.name, SalesStage.name, StagePlaybook)
        .join(SalesStage, SalesStage.sales_process_id == SalesProcess.id)
        .outerjoin(StagePlaybook, StagePlaybook.stage_id == SalesStage.id)
    ).all()
    assert len(rows) == 18 and {(p, s) for p, s, _ in rows} == set(playbooks.DEFAULTS)
    for process, stage, book in rows:
        assert book is not None and book.active, (process, stage)
        assert set(book.guidance) == {"en", "zh_Hant"} and all(len(t) > 25 for t in book.guidance.values())
        assert any("\u4e00" <= ch <= "\u9fff" for ch in book.guidance["zh_Hant"])
        assert 1 <= len(book.tasks) <= 3, (process, stage)
        for task in book.tasks:
            assert set(task["subject"]) == {"en", "zh_Hant"} and all(task["subject"].values())
            assert isinstance(task["offset_days"], int) and task["offset_days"] >= 0
            assert task.get("priority") in (None, "High", "Medium", "Low")


def test_seeding_keeps_what_is_stored_and_reaches_a_store_without_playbooks(session: Session, crm: Any) -> None:
    quote = session.scalar(select(StagePlaybook).where(StagePlaybook.stage_id == stage_id(session, *QUOTE)))
    assert quote is not None
    quote.guidance = {"en": "Our own words.", "zh_Hant": "我們自己的話。"}
    session.flush()
    assert seed_all(session).playbooks == 0
    assert playbooks.guidance(session, quote.stage_id, "en") == "Our own words."
    # A store upgraded to 0017 before the defaults existed: its next `crm init` seeds them.
    session.execute(delete(StagePlaybook))
    session.commit()
    assert "18 stage playbooks" in crm("init").output
    assert session.scalar(select(func.count()).select_from(StagePlaybook)) == 18
    session.commit()
    assert "18 stage playbooks" not in crm("init").output
    assert playbooks.guidance(session, quote.stage_id, "zh_Hant") == default(QUOTE, "zh_Hant")[0]


# -- a stage change fires its playbook --------------------------------------------------------------------

def test_entering_a_stage_gives_the_owner_its_tasks_and_email(session: Session, people: dict[str, User]) -> None:
    mei = people["mei"]
    opp = deal(session, mei)
    actor = Actor.user(mei.id)

    def logged(kind: str, subject: str, at: dt.datetime, **values: Any) -> None:
        activities.create_activity(session, {"type": kind, "subject": subject, "start_at": at, "owner_id": mei.id,
                                             "opportunity_id": opp.id, **values}, actor)

    case_study = activities.create_activity(session, {"type": "task", "subject": "Send the case study",
                                                      "due_date": dt.date(2026, 6, 3), "opportunity_id": opp.id}, actor)
    activities.complete_activity(session, case_study, actor, at=taipei(3, 16, 5))
    logged("call", "First call", taipei(2, 10))  # the fourth newest: not shown
    logged("call", "Call with purchasing (陳經理)", taipei(4, 10, 30), status="Held",
           outcome="Wants the quotation by Friday")
    logged("meeting", "現場展示與報價討論", taipei(8, 14))
    logged("meeting", "Contract review", taipei(22, 14))  # later than the change: not yet happened
    activities.create_activity(session, {"type": "task", "subject": "Open task", "due_date": dt.date(2026, 6, 5),
                                         "opportunity_id": opp.id}, actor)  # not done: not shown

    row = stages.change_stage(session, opp, "Proposal or Price Quote", actor, at=taipei(12, 10))
    session.commit()
    assert row is not None and row.playbook_fired_at == taipei(12, 10)

    text, subjects = default(QUOTE, "zh_Hant")
    stage_zh = languages.translate_value("zh_Hant", "Proposal or Price Quote")
    made = tasks_of(session, opp.id, stage_zh)
    # Friday + 0, + 2 and + 5 working days; Tuesday 16 June is a holiday.
    assert [(t.subject, t.due_date, t.priority) for t in made] == [
        (subjects[0], dt.date(2026, 6, 12), "High"), (subjects[1], dt.date(2026, 6, 17), None),
        (subjects[2], dt.date(2026, 6, 22), None)]
    for task in made:
        assert (task.type, task.owner_id, task.status, task.created_by_id, task.completed_at) == (
            "task", mei.id, "Not Started", None, None)
        assert task.description == f"來自「{stage_zh}」階段的作業指引。"

    (mail,) = [m for m in mails(session, opp.id) if m.idempotency_key == f"playbook:{row.id}"]
    assert (mail.recipient, mail.language, mail.record_module, mail.to_staff) == (
        "mei@example.com", "zh_Hant", "opportunities", True)
    context = mail.context
    assert context["guidance"] == text and context["stage"] == stage_zh
    assert context["previous_stage"] == languages.translate_value("zh_Hant", "Prospecting")
    assert context["tasks"] == [{"subject": subjects[0], "due": "2026年6月12日"},
                                {"subject": subjects[1], "due": "2026年6月17日"},
                                {"subject": subjects[2], "due": "2026年6月22日"}]
    contact_no = session.scalar(select(Contact.contact_no).where(Contact.id == opp.contact_id))
    assert context["opportunity"] == {
        "number": opp.opportunity_no, "name": "宏達精密 2026 年度耗材合約", "account_name": "宏達精密工業股份有限公司",
        "contact": {"number": contact_no, "name": "陳志明"},
        "amount": "$1,250,000", "close_date": "2026年7月31日", "probability": 65,  # TWD as Taiwan writes it
    }
    assert [(a["kind"], a["subject"], a["outcome"]) for a in context["activities"]] == [
        ("meeting", "現場展示與報價討論", None),
        ("call", "Call with purchasing (陳經理)", "Wants the quotation by Friday"),
        ("task", "Send the case study", None)]
    assert [a["when"] for a in context["activities"]] == ["2026年6月8日", "2026年6月4日", "2026年6月3日"]

    message = render("stage_playbook", language=mail.language, context=mail.context, sender="crm@example.com",
                     recipient=mail.recipient, message_id="<1@example.com>", base_url=BASE_URL,
                     company_name="好運貿易", sent_at=taipei(12, 10))
    body = message.get_body(("html",))
    assert body is not None
    html = Html(body.get_content())
    assert text.split("。")[0] in html.text and all(s in html.text for s in subjects)
    assert "$1,250,000" in html.text and "Wants the quotation by Friday" in html.text
    assert f"{BASE_URL}/opportunities/{opp.opportunity_no}" in [a.attrs.get("href") for a in html.all("a")]


def test_a_new_deal_gets_its_first_stages_playbook_in_english(session: Session, people: dict[str, User]) -> None:
    opp = deal(session, people["kevin"], at=taipei(13, 11))  # a Saturday: the first task is due on Monday
    session.commit()
    (row,) = entries(session, opp.id)
    text, subjects = default(("Standard Sales", "Prospecting"), "en")
    assert [(t.subject, t.due_date) for t in tasks_of(session, opp.id)] == [
        (subjects[0], dt.date(2026, 6, 15)), (subjects[1], dt.date(2026, 6, 17)), (subjects[2], dt.date(2026, 6, 22))]
    (mail,) = mails(session, opp.id)
    assert (mail.idempotency_key, mail.language, row.playbook_fired_at) == (f"playbook:{row.id}", "en", taipei(13, 11))
    assert mail.context["guidance"] == text and mail.context["previous_stage"] is None
    assert mail.context["stage"] == "Prospecting" and mail.context["activities"] == []
    assert mail.context["opportunity"]["close_date"] == "Jul 31, 2026"


def test_the_playbook_tasks_are_on_my_day(session: Session, people: dict[str, User]) -> None:
    kevin = people["kevin"]
    opp = deal(session, kevin, at=taipei(8, 9))
    stages.change_stage(session, opp, "Qualification", Actor.user(kevin.id), at=taipei(12, 9))
    session.commit()
    today = my_day(session, kevin, as_of=taipei(12, 11))
    first = default(("Standard Sales", "Qualification"), "en")[1][0]
    (item,) = [t for t in today.due_today if t.subject == first]
    assert item.record is not None and (item.record.module, item.record.number) == ("opportunities", opp.opportunity_no)
    assert default(("Standard Sales", "Prospecting"), "en")[1][0] in [t.subject for t in today.overdue]


def _no_playbook(session: Session, opp: Opportunity) -> Actor:
    session.execute(update(StagePlaybook).where(StagePlaybook.stage_id == stage_id(session, "Standard Sales",
                                                                                   "Qualification"))
                    .values(active=False))
    return Actor.user(opp.owner_id or 0)


def _empty_playbook(session: Session, opp: Opportunity) -> Actor:
    session.execute(update(StagePlaybook).where(StagePlaybook.stage_id == stage_id(session, "Standard Sales",
                                                                                   "Qualification"))
                    .values(guidance={}, tasks=[]))
    return Actor.user(opp.owner_id or 0)


def _inactive_owner(session: Session, opp: Opportunity) -> Actor:
    session.get_one(User, opp.owner_id).active = False
    return Actor.system("system")


NOTHING_FIRES = {
    "no active playbook": _no_playbook,
    "a playbook with nothing in it": _empty_playbook,
    "an inactive owner": _inactive_owner,
    "an import": lambda session, opp: Actor.system("import", "B12"),
    "the demo": lambda session, opp: Actor.system("demo", "7"),
}


@pytest.mark.parametrize("case", NOTHING_FIRES)
def test_an_entry_that_fires_nothing_is_marked(session: Session, people: dict[str, User], case: str) -> None:
    opp = deal(session, people["kevin"])
    before = (len(tasks_of(session, opp.id)), len(mails(session)))
    actor = NOTHING_FIRES[case](session, opp)
    row = stages.change_stage(session, opp, "Qualification", actor, at=taipei(12, 9))
    session.commit()
    assert row is not None and row.playbook_fired_at == taipei(12, 9)
    assert (len(tasks_of(session, opp.id)), len(mails(session))) == before


def test_a_deal_without_an_owner_fires_nothing(session: Session, people: dict[str, User]) -> None:
    opp = deal(session, None)
    stages.change_stage(session, opp, "Qualification", Actor.system("system"), at=taipei(12, 9))
    session.commit()
    assert all(e.playbook_fired_at == e.entered_at for e in entries(session, opp.id))
    assert tasks_of(session, opp.id) == [] and mails(session) == []


def test_imports_and_the_demo_load_history_that_never_fires(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    kevin = people["kevin"]
    for kind in ("import", "demo"):
        batch = bulk.new_batch(session, kind, f"old deals ({kind})")
        bulk.insert_records(session, "opportunities", [{
            "name": f"Deal {kind}", "expected_close_date": "2026-07-31", "owner_id": kevin.id,
            "history": [("Prospecting", taipei(11, 9), kevin.id), ("Qualification", taipei(12, 9), kevin.id)],
        }], bulk.BulkContext.load(session), batch=batch)
    session.commit()
    rows = session.scalars(select(StageHistory)).all()
    assert len(rows) == 4 and all(r.playbook_fired_at == r.entered_at for r in rows)
    assert run_job(session, engine, taipei(12, 10)) == {"fired": 0, "tasks": 0, "emails": 0}
    assert session.scalar(select(func.count()).select_from(Activity)) == 0 and mails(session) == []


def test_moving_to_the_stage_it_is_in_does_nothing(session: Session, people: dict[str, User]) -> None:
    opp = deal(session, people["kevin"])
    assert stages.change_stage(session, opp, "Prospecting", Actor.user(people["kevin"].id)) is None
    session.commit()
    assert len(entries(session, opp.id)) == 1 and len(mails(session)) == 1


# -- two writers at once ----------------------------------------------------------------------------------

def test_a_deal_read_before_someone_else_moved_it(session: Session, engine: Engine, people: dict[str, User]) -> None:
    kevin = Actor.user(people["kevin"].id)
    opp_id = deal(session, people["kevin"], at=None).id
    prospecting, needs = (stage_id(session, "Standard Sales", s) for s in ("Prospecting", "Needs Analysis"))
    session.commit()
    factory = session_factory(engine)
    with factory() as elsewhere, factory() as same:
        stale = []
        for reader in (elsewhere, same):
            stale.append(reader.get_one(Opportunity, opp_id))
            reader.commit()  # the read is over; the object keeps the stage it read (Prospecting)
        stages.change_stage(session, session.get_one(Opportunity, opp_id), "Needs Analysis", kevin)
        session.commit()
        with pytest.raises(ValidationError) as refused:
            stages.change_stage(elsewhere, stale[0], "Value Proposition", kevin)
        assert refused.value.field == "stage" and "reload" in refused.value.message
        elsewhere.rollback()
        assert stages.change_stage(same, stale[1], "Needs Analysis", kevin) is None  # already there: a no-op
        assert stale[1].stage_id == needs
        same.commit()
    assert [e.stage_id for e in entries(session, opp_id)] == [prospecting, needs]
    assert len(mails(session, opp_id)) == 2


@pytest.mark.parametrize("targets", [("Needs Analysis", "Needs Analysis"), ("Needs Analysis", "Value Proposition")],
                         ids=["same stage", "different stages"])
def test_two_writers_moving_the_same_deal_at_once_fire_one_playbook(
    session: Session, engine: Engine, people: dict[str, User], targets: tuple[str, str]
) -> None:
    kevin_id = people["kevin"].id
    opp_id = deal(session, people["kevin"], at=None).id
    session.commit()
    factory, start = session_factory(engine), threading.Barrier(2)
    moved: list[str] = []
    refused: list[ValidationError] = []
    failures: list[BaseException] = []

    def move(target: str) -> None:
        try:
            with factory() as mine:
                opp = mine.get_one(Opportunity, opp_id)
                mine.commit()  # both have read the deal in Prospecting before either moves it
                start.wait()
                try:
                    if stages.change_stage(mine, opp, target, Actor.user(kevin_id)) is not None:
                        moved.append(target)
                    mine.commit()
                except ValidationError as exc:
                    refused.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    threads = [threading.Thread(target=move, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(moved) == 1
    assert [e.field for e in refused] == ([] if targets[0] == targets[1] else ["stage"])
    rows = entries(session, opp_id)
    assert len(rows) == 2 and rows[1].stage_id == stage_id(session, "Standard Sales", moved[0])
    winner = languages.translate_value("en", moved[0])
    assert len(tasks_of(session, opp_id, winner)) == len(default(("Standard Sales", moved[0]), "en")[1])
    assert len(tasks_of(session, opp_id)) == 3 + len(tasks_of(session, opp_id, winner))  # Prospecting's + one set
    assert [m.idempotency_key for m in mails(session, opp_id)][1:] == [f"playbook:{rows[1].id}"]


# -- the catch-up job -------------------------------------------------------------------------------------

def unfired(session: Session, owner: User | None, history: list[tuple[str, dt.datetime]], name: str = "Deal") -> int:
    """A deal whose stage entries were recorded without firing (as a writer that failed half way would leave them)."""
    (opp_id,) = bulk.insert_records(session, "opportunities", [{
        "name": name, "expected_close_date": "2026-07-31", "amount": 5000, "currency": "USD",
        "owner_id": owner.id if owner else None, "history": [(stage, at, None) for stage, at in history],
    }], bulk.BulkContext.load(session))
    session.execute(update(StageHistory).where(StageHistory.opportunity_id == opp_id).values(playbook_fired_at=None))
    return opp_id


def test_the_job_fires_live_entries_left_unfired_once(session: Session, engine: Engine,
                                                      people: dict[str, User]) -> None:
    kevin, as_of = people["kevin"], taipei(12, 10)
    fires = unfired(session, kevin, [("Prospecting", taipei(5, 9)), ("Qualification", as_of - dt.timedelta(hours=1))])
    later = unfired(session, kevin, [("Prospecting", as_of - dt.timedelta(days=1)),
                                     ("Needs Analysis", as_of - dt.timedelta(hours=2))])
    too_old = unfired(session, kevin, [("Prospecting", as_of - dt.timedelta(days=3))])
    deleted = unfired(session, kevin, [("Prospecting", as_of - dt.timedelta(hours=3))])
    session.execute(update(Opportunity).where(Opportunity.id == deleted).values(deleted_at=as_of))
    future = unfired(session, kevin, [("Prospecting", as_of + dt.timedelta(hours=1))])
    nobody = unfired(session, None, [("Prospecting", as_of - dt.timedelta(hours=4))])
    counts = run_job(session, engine, as_of)
    assert counts == {"fired": 2, "tasks": 4, "emails": 2}
    fired = {opp: [e.playbook_fired_at for e in entries(session, opp)]
             for opp in (fires, later, too_old, deleted, future, nobody)}
    assert fired == {fires: [None, as_of], later: [None, as_of], too_old: [None], deleted: [None], future: [None],
                     nobody: [as_of]}
    qualification = default(("Standard Sales", "Qualification"), "en")[1]
    assert [(t.subject, t.due_date, t.created_by_automation, t.created_at) for t in tasks_of(session, fires)] == [
        (qualification[0], dt.date(2026, 6, 12), "stage-playbooks", as_of),
        (qualification[1], dt.date(2026, 6, 17), "stage-playbooks", as_of)]
    (mail,) = mails(session, fires)
    assert mail.context["opportunity"]["amount"] == "$5,000.00"  # in its currency, with its cents
    assert mail.context["previous_stage"] == "Prospecting"

    found: list[str] = []

    def spy(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE") and cursor.rowcount > 0:
            found.append(statement)

    event.listen(engine, "after_cursor_execute", spy)
    try:
        assert run_job(session, engine, as_of) == {"fired": 0, "tasks": 0, "emails": 0}
    finally:
        event.remove(engine, "after_cursor_execute", spy)
    assert found == []


def test_the_job_makes_what_the_stage_change_makes(session: Session, engine: Engine,
                                                   people: dict[str, User]) -> None:
    mei, at = people["mei"], taipei(12, 10)
    changed = deal(session, mei, at=taipei(5, 9))
    stages.change_stage(session, changed, "Proposal or Price Quote", Actor.user(mei.id), at=at)
    caught_up = unfired(session, mei, [("Prospecting", taipei(5, 9)), ("Proposal or Price Quote", at)])
    assert run_job(session, engine, at)["fired"] == 1
    columns = ("type", "subject", "owner_id", "due_date", "status", "priority", "description", "created_by_id",
               "created_by_automation", "created_at", "updated_at")
    stage = languages.translate_value("zh_Hant", "Proposal or Price Quote")

    def made(opp_id: int) -> list[tuple[Any, ...]]:
        return [tuple(getattr(t, c) for c in columns) for t in tasks_of(session, opp_id, stage)]

    assert made(changed.id) == made(caught_up) and len(made(caught_up)) == 3
    one, other = (mails(session, opp)[-1].context for opp in (changed.id, caught_up))
    for key in ("recipient_name", "stage", "previous_stage", "guidance", "tasks"):
        assert one[key] == other[key], key


def test_the_job_works_in_chunks_each_its_own_transaction(
    session: Session, engine: Engine, people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job, "CHUNK", 2)
    as_of = taipei(12, 10)
    deals = [unfired(session, people["kevin"], [("Qualification", as_of - dt.timedelta(minutes=i))], f"Deal {i}")
             for i in range(5)]
    assert run_job(session, engine, as_of) == {"fired": 5, "tasks": 10, "emails": 5}
    assert all(entries(session, d)[0].playbook_fired_at == as_of for d in deals)


def test_the_job_leaves_what_a_stage_change_fired(session: Session, engine: Engine, people: dict[str, User]) -> None:
    opp = deal(session, people["kevin"], at=taipei(12, 9))
    stages.change_stage(session, opp, "Qualification", Actor.user(people["kevin"].id), at=taipei(12, 9, 30))
    assert run_job(session, engine, taipei(12, 10)) == {"fired": 0, "tasks": 0, "emails": 0}
    assert len(mails(session, opp.id)) == 2


# -- the opportunity page ---------------------------------------------------------------------------------

def test_the_opportunity_page_says_what_to_do_now_in_the_viewers_language(
    client: Any, session: Session, people: dict[str, User]
) -> None:
    kevin = people["kevin"]
    number = deal(session, kevin).opportunity_no
    session.commit()
    staff = Staff(client)
    staff.sign_in("kevin@example.com")
    panel = staff.get(f"/opportunities/{number}").by_id("playbook")
    assert panel.find("h2").text == "What to do now"
    assert default(("Standard Sales", "Prospecting"), "en")[0] in panel.text and "Prospecting" in panel.text

    staff.post(f"/opportunities/{number}/stage", {"stage": "Proposal or Price Quote"})
    assert staff.status == 303
    shown = staff.get(f"/opportunities/{number}")
    assert default(QUOTE, "en")[0] in shown.by_id("playbook").text
    opp_id = session.scalar(select(Opportunity.id).where(Opportunity.opportunity_no == number))
    assert opp_id is not None and len(tasks_of(session, opp_id, "Proposal or Price Quote")) == 3
    assert len(mails(session, opp_id)) == 2

    session.execute(update(User).where(User.id == kevin.id).values(language="zh_Hant"))
    session.commit()
    staff.sign_out()
    staff.sign_in("kevin@example.com")
    panel = staff.get(f"/opportunities/{number}").by_id("playbook")
    assert panel.find("h2").text == "現在該做的事" and default(QUOTE, "zh_Hant")[0] in panel.text

    session.execute(update(StagePlaybook).where(StagePlaybook.stage_id == stage_id(session, *QUOTE))
                    .values(active=False))
    session.commit()
    assert staff.get(f"/opportunities/{number}").all(id="playbook") == []


@pytest.mark.parametrize("template", ["sqlite"], indirect=True)
def test_the_playbook_in_a_browser_and_its_email(page: Page, browser: Browser,  # noqa: F811 - the fixtures
                                                 crm_server: LiveServer, session: Session,  # noqa: F811
                                                 people: dict[str, User]) -> None:
    kevin = people["kevin"]
    opp = deal(session, kevin, at=None)
    activities.create_activity(session, {"type": "call", "subject": "Call with purchasing (陳經理)",
                                         "start_at": dt.datetime.now(UTC) - dt.timedelta(hours=2), "status": "Held",
                                         "outcome": "Wants the quotation by Friday", "opportunity_id": opp.id},
                               Actor.user(kevin.id))
    stages.change_stage(session, opp, "Proposal or Price Quote", Actor.user(kevin.id))
    number = opp.opportunity_no
    session.commit()

    page.goto(crm_server.url("/auth/sign-in"))
    page.get_by_label("Email").fill("kevin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(crm_server.url(f"/opportunities/{number}"))
    expect(page.locator("#playbook h2")).to_have_text("What to do now")
    expect(page.locator("#playbook p")).to_have_text(default(QUOTE, "en")[0])
    shoot(page, "staff_opportunity_playbook_en")
    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("#playbook h2")).to_have_text("現在該做的事")
    expect(page.locator("#playbook p")).to_have_text(default(QUOTE, "zh_Hant")[0])
    shoot(page, "staff_opportunity_playbook_zh_Hant")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "staff_opportunity_playbook_phone_zh_Hant")

    mail = mails(session, opp.id)[-1]
    for language in ("en", "zh_Hant"):  # the email as a mail client shows it: a page of its own, no CRM around it
        message = render("stage_playbook", language=language, context=mail.context, sender="crm@example.com",
                         recipient=mail.recipient, message_id="<1@example.com>", base_url=crm_server.url("/"),
                         company_name="好運貿易 Good Fortune", sent_at=dt.datetime.now(UTC))
        reader = browser.new_page(viewport={"width": 800 if language == "en" else 390, "height": 900})
        body = message.get_body(("html",))
        assert body is not None
        reader.set_content(body.get_content())
        button = reader.get_by_role("link", name=f"Open {number}" if language == "en" else f"開啟 {number}")
        expect(button).to_have_attribute("href", crm_server.url(f"/opportunities/{number}"))
        shoot(reader, f"email_stage_playbook_{language}")
        reader.close()


def test_the_job_runs_from_the_command_line(session: Session, people: dict[str, User], crm: Any) -> None:
    unfired(session, people["mei"], [("Negotiation or Review", taipei(12, 9))])
    session.commit()
    first = crm("flows", "run", "stage-playbooks", "--as-of", "2026-06-12T10:00")  # company time: Taipei
    assert "stage-playbooks completed" in first.output and "fired 1, tasks 2, emails 1" in first.output
    again = crm("flows", "run", "stage-playbooks", "--as-of", "2026-06-12T10:00")
    assert "fired 0, tasks 0, emails 0" in again.output
    (mail,) = mails(session)
    assert mail.language == "zh_Hant" and mail.context["guidance"] == default(
        ("Standard Sales", "Negotiation or Review"), "zh_Hant")[0]


def test_amounts_read_as_the_rest_of_the_crm_writes_them() -> None:
    from decimal import Decimal
    from random import Random

    from crm_store.pipeline.playbooks import _money
    from crm_store.settings.currencies import CURRENCIES

    rng = Random(15)
    for code, _name, _symbol, minor_unit, _rate in CURRENCIES:
        for language in languages.CODES:
            for _ in range(200):
                amount = Decimal(rng.randint(0, 10**11)) / Decimal(10 ** rng.randint(0, 4))
                assert _money(amount, code, minor_unit, language) == languages.format_money(
                    amount, code, minor_unit, language), (amount, code, language)
