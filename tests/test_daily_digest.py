"""daily-digest: each rep's morning digest — its content for a rep with every kind of line, in both languages, read
from the delivered message's HTML part; sent only after the digest time on working days, in the user's own zone;
not when switched off or empty; once (a rerun, two runs at the same time); a manager's team counts; the flow once
under Prefect; `crm flows run daily-digest --as-of 2026-09-07T08:30` on a small demo."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import threading
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.automation import daily_digest as digest
from crm_store.automation.calendar import WorkingCalendar
from crm_store.automation.runs import Outcome
from crm_store.config import load_config
from crm_store.db.engine import session_factory
from crm_store.models import (
    Activity,
    Batch,
    Lead,
    Opportunity,
    OutboxMessage,
    SalesStage,
    StagePlaybook,
    User,
)
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff.users import add_user
from emails.worker import send_all_due

UTC = dt.UTC
TAIPEI = dt.timezone(dt.timedelta(hours=8))
BASE_URL = "https://crm.example.com"


def taipei(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Taipei wall-clock time in September 2026 as a UTC moment (7 September is a Monday)."""
    return dt.datetime(2026, 9, day, hour, minute, tzinfo=TAIPEI).astimezone(UTC)


MONDAY = dt.date(2026, 9, 7)
AS_OF = taipei(7, 8, 30)


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    """A Taipei company (its playbooks off: opportunities made here get no tasks); a manager (English) and a rep
    (Chinese) who reports to them."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.execute(update(StagePlaybook).values(active=False))
    boss = add_user(session, "boss@example.com", "Boss", role="manager", welcome=False)
    rep = add_user(session, "rep@example.com", "林怡君", manager_email=boss.email, language="zh_Hant", welcome=False)
    session.commit()
    return {"boss": boss, "rep": rep}


def task(session: Session, owner: User, subject: str, due: dt.date, **values: Any) -> Activity:
    return activities.create_activity(session, {"type": "task", "subject": subject, "due_date": due,
                                                "owner_id": owner.id, **values}, Actor.user(owner.id))


def event(session: Session, owner: User, subject: str, start: dt.datetime, minutes: int = 60, kind: str = "meeting",
          **values: Any) -> Activity:
    return activities.create_activity(session, {
        "type": kind, "subject": subject, "start_at": start, "end_at": start + dt.timedelta(minutes=minutes),
        "owner_id": owner.id, **values}, Actor.user(owner.id))


def lead(session: Session, owner: User, last_name: str, assigned: dt.datetime, batch_id: int | None = None,
         **values: Any) -> Lead:
    return records.create_lead(session, {"last_name": last_name, "owner_id": owner.id, **values}, at=assigned,
                               batch_id=batch_id)


def deal(session: Session, owner: User, name: str, close: dt.date, **values: Any) -> Opportunity:
    return records.create(session, "opportunities", {"name": name, "owner_id": owner.id,
                                                     "expected_close_date": close.isoformat(), **values},
                          Actor.system("test"), at=taipei(1, 10))


def run(session: Session, engine: Engine, as_of: dt.datetime = AS_OF) -> dict[str, int]:
    session.commit()
    outcome = Outcome()
    digest.daily_digest(session_factory(engine), as_of, outcome)
    session.expire_all()
    assert not outcome.errors
    return outcome.counts


def digests(session: Session) -> list[OutboxMessage]:
    found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "daily_digest")
                                 .order_by(OutboxMessage.id)))
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    return found


def recipients(session: Session) -> list[str]:
    return [m.recipient for m in digests(session)]


class Mail(HTMLParser):
    """A digest's HTML part as a reader sees it: its section headings, each section's table rows (the cells' text)
    and its links (href, text)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, list[list[str]]] = {}
        self.links: list[tuple[str, str]] = []
        self._open: dict[str, list[str]] = {}  # the text of each element being read: h2, td, a
        self._href = ""
        self._row: list[str] = []
        self._grids: list[bool] = []  # the tables being read, inside one another: whether each has headings

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "td", "a"):
            self._open[tag] = []
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
        if tag == "tr":
            self._row = []
        if tag == "table":
            self._grids.append(False)
        if tag == "th":
            self._grids[-1] = True
        if tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        text = " ".join("".join(self._open.pop(tag, [])).split())
        if tag == "h2":
            self.sections[text] = []
        elif tag == "td":
            self._row.append(text)
        elif tag == "a":
            self.links.append((self._href, text))
        elif tag == "tr" and self._row and self._grids[-1]:  # a section's table (the layout's have no headings)
            list(self.sections.values())[-1].append(self._row)
        elif tag == "table":
            self._grids.pop()

    def handle_data(self, data: str) -> None:
        for texts in self._open.values():
            texts.append(data)

    @property
    def hrefs(self) -> set[str]:
        return {href for href, _text in self.links}


def delivered(env: dict[str, str]) -> dict[str, EmailMessage]:
    """Deliver what is due through the mail worker (to .eml files); the digests by recipient address."""
    assert send_all_due(load_config())["failed"] == 0
    found = {}
    for path in Path(env["CRM_DATA_DIR"], "outbox").glob("*-daily_digest.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found


def parts(msg: EmailMessage) -> tuple[str, Mail]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    mail = Mail(html.get_content())
    mail.feed(html.get_content())
    mail.close()
    return text.get_content(), mail


# -- the content ------------------------------------------------------------------------------------------

WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "subject": "Your Leadline digest for Sep 7, 2026: 1 new, 1 due, 13 overdue",
        "sections": ["Overdue (13)", "Due today (1)", "Today's calls and meetings (1)", "New leads (1)",
                     "Going cold (2)", "Rotting opportunities (1)", "Closing this week (1)"],
        "first_overdue": ["Sep 3, 2026", "Call back about the samples", "{lead} 王大明"],
        "more": "and 3 more on My day", "due_today": ["Send the quotation", "High", "{account} 宏達精密"],
        "event": ["2:00 PM – 3:00 PM", "Meeting: Site visit", "{deal} 年度茶葉採購"],
        "cold": [["{stale}", "吳建宏", "大同五金行", "Stale · 41 days"],
                 ["{aging}", "Grace Lin", "", "Aging · 9 days"]],
        "rotting": ["{rotting} Tea machines", "{stage}", "19 days"],
        "closing": ["{deal} 年度茶葉採購 {stage}", "Sep 10, 2026", "NT$480,000"],
        "text": ["OVERDUE (13)", "and 3 more on My day: https://crm.example.com/"],
    },
    "zh_Hant": {
        "subject": "2026年9月7日 每日摘要：新名單 1 筆、今日到期 1 項、逾期 13 項",
        "sections": ["已逾期（13 項）", "今日到期（1 項）", "今天的通話與會議（1 項）", "新的潛在客戶（1 筆）",
                     "快冷掉的潛在客戶（2 筆）", "擱置過久的商機（1 筆）", "本週預計成交（1 筆）"],
        "first_overdue": ["2026年9月3日", "Call back about the samples", "{lead} 王大明"],
        "more": "還有 3 項，請到「我的一天」查看", "due_today": ["Send the quotation", "高", "{account} 宏達精密"],
        "event": ["下午2:00 – 下午3:00", "會議：Site visit", "{deal} 年度茶葉採購"],
        "cold": [["{stale}", "吳建宏", "大同五金行", "停滯 · 41 天"], ["{aging}", "Grace Lin", "", "老化中 · 9 天"]],
        "rotting": ["{rotting} Tea machines", "{stage}", "19 天"],
        "closing": ["{deal} 年度茶葉採購 {stage}", "2026年9月10日", "$480,000"],  # NT$ is zh_Hant's own $
        "text": ["【已逾期】13 項", "還有 3 項，請到「我的一天」查看：https://crm.example.com/"],
    },
}


@pytest.fixture
def base_url(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRM_BASE_URL", BASE_URL)
    return BASE_URL


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_a_rep_s_digest_has_every_kind_of_line_in_both_languages(
    session: Session, engine: Engine, env: dict[str, str], base_url: str, people: dict[str, User], language: str,
) -> None:
    rep = people["rep"]
    rep.language = language
    old = taipei(1, 10)
    wang = lead(session, rep, "王", old, first_name="大明")
    task(session, rep, "Call back about the samples", dt.date(2026, 9, 3), lead_id=wang.id)
    for n in range(12):
        task(session, rep, f"Overdue {n:02}", dt.date(2026, 9, 4))
    done = task(session, rep, "Done already", dt.date(2026, 9, 2))
    activities.complete_activity(session, done, Actor.user(rep.id))
    account = records.create(session, "accounts", {"name": "宏達精密", "owner_id": rep.id}, Actor.system("test"))
    task(session, rep, "Send the quotation", MONDAY, priority="High", account_id=account.id)
    task(session, rep, "Tomorrow's", dt.date(2026, 9, 8))
    tea = deal(session, rep, "年度茶葉採購", dt.date(2026, 9, 10), amount="480000")
    event(session, rep, "Site visit", taipei(7, 14), opportunity_id=tea.id)
    held = event(session, rep, "Early call", taipei(7, 7), 15, "call")
    activities.complete_activity(session, held, Actor.user(rep.id))
    event(session, rep, "Late last night", taipei(6, 23, 30))
    event(session, rep, "Tomorrow's meeting", taipei(8, 10))
    emily = lead(session, rep, "Chen", taipei(6, 20), first_name="Emily", company="Formosa Tea",
                 lead_source="Web Site")
    lead(session, rep, "Too old to be new", taipei(6, 8))  # more than 24 hours before: no previous digest
    stale = lead(session, rep, "吳", old, first_name="建宏", company="大同五金行")
    aging = lead(session, rep, "Lin", old, first_name="Grace")
    for row, state, days in ((stale, "stale", 41), (aging, "aging", 9)):
        session.execute(update(Lead).where(Lead.id == row.id).values(aging_state=state, idle_days=days))
    rotting = deal(session, rep, "Tea machines", dt.date(2026, 12, 1))
    session.execute(update(Opportunity).where(Opportunity.id == rotting.id).values(
        rotting_since=taipei(2, 1), idle_days=19))
    deal(session, rep, "Next week's", dt.date(2026, 9, 14))
    session.commit()

    assert run(session, engine) == {"emails": 2}  # the rep's, and the boss's with the team's counts
    mail = delivered(env)
    msg = mail[rep.email]
    text, html = parts(msg)
    words = WORDS[language]
    stage = languages.translate_value(language, session.get_one(SalesStage, tea.stage_id).name)
    numbers = {"lead": wang.lead_no, "account": account.account_no, "deal": tea.opportunity_no,
               "stale": stale.lead_no, "aging": aging.lead_no, "rotting": rotting.opportunity_no, "stage": stage}

    def filled(cells: list[str]) -> list[str]:
        return [cell.format(**numbers) for cell in cells]

    assert msg["Subject"] == words["subject"]
    assert list(html.sections) == words["sections"]  # one heading per section, with its count; no team
    overdue, due_today, events, new, cold, rotting_rows, closing = html.sections.values()
    assert len(overdue) == 10 and overdue[0] == filled(words["first_overdue"])
    assert (BASE_URL + "/", words["more"]) in html.links
    assert due_today == [filled(words["due_today"])]
    assert events == [filled(words["event"])]
    assert new == [[emily.lead_no, "Emily Chen", "Formosa Tea", languages.translate_value(language, "Web Site")]]
    assert cold == [filled(row) for row in words["cold"]]
    assert rotting_rows == [filled(words["rotting"])]
    assert closing == [filled(words["closing"])]
    for path in (f"/leads/{wang.lead_no}", f"/accounts/{account.account_no}", f"/opportunities/{tea.opportunity_no}",
                 f"/leads/{emily.lead_no}", f"/leads/{stale.lead_no}", f"/leads/{aging.lead_no}",
                 f"/opportunities/{rotting.opportunity_no}"):
        assert BASE_URL + path in html.hrefs, path  # each line one click from its record
        assert BASE_URL + path in text, path
    for line in words["text"]:
        assert line in text.splitlines()
    assert "Tomorrow's" not in text and "Done already" not in text and "Early call" not in text
    assert "Late last night" not in text and "Too old to be new" not in text and "Next week's" not in text


def test_a_manager_gets_each_rep_s_overdue_and_sla_missed_counts(
    session: Session, engine: Engine, env: dict[str, str], base_url: str, people: dict[str, User],
) -> None:
    company.set_value(session, "sla_hours", 4)
    boss, rep = people["boss"], people["rep"]
    quiet = add_user(session, "quiet@example.com", "Quiet Rep", manager_email=boss.email, welcome=False)
    other = add_user(session, "other@example.com", "Ann Other", manager_email=boss.email, welcome=False)
    add_user(session, "elsewhere@example.com", "Not Boss's", welcome=False)
    for due in (dt.date(2026, 9, 1), dt.date(2026, 9, 4), dt.date(2026, 9, 6)):
        task(session, rep, "Rep's overdue", due)
    task(session, rep, "Rep's today", MONDAY)
    task(session, other, "Ann's overdue", dt.date(2026, 9, 4))
    task(session, quiet, "Quiet's next week", dt.date(2026, 9, 14))
    escalated = lead(session, rep, "Escalated", taipei(1, 10))
    session.execute(update(Lead).where(Lead.id == escalated.id).values(sla_step=2))
    lead(session, rep, "Past its deadline", taipei(4, 15))  # Friday 15:00 + 4 working hours: Monday 10:00
    lead(session, rep, "Deadline not yet", taipei(4, 17, 30))  # due at 12:30 on Monday
    lead(session, rep, "Just in", taipei(7, 8))
    answered = lead(session, rep, "Answered", taipei(4, 9))
    call = activities.create_activity(session, {"type": "call", "subject": "Called", "owner_id": rep.id,
                                                "start_at": taipei(4, 10), "lead_id": answered.id},
                                      Actor.user(rep.id))
    activities.complete_activity(session, call, Actor.user(rep.id), at=taipei(4, 10, 5))
    batch = Batch(kind="import", name="old list", created_at=taipei(7, 1))
    session.add(batch)
    session.flush()
    lead(session, rep, "Imported", taipei(3, 9), batch_id=batch.id)  # history: assigned before the load
    session.commit()

    assert run(session, engine, taipei(7, 12)) == {"emails": 3}  # the boss, the rep and Ann
    html = parts(delivered(env)[boss.email])[1]
    assert list(html.sections) == ["Your team"]  # the boss has no work of their own
    assert html.sections["Your team"] == [["Ann Other", "1", "0"], ["林怡君", "3", "2"]]
    assert set(recipients(session)) == {boss.email, rep.email, other.email}  # not the quiet rep


def test_the_sla_deadline_boundary_is_found_to_the_second() -> None:
    calendar = WorkingCalendar.from_settings({"time_zone": "Asia/Taipei"})
    as_of = taipei(7, 10, 0)
    passed = digest.deadline_passed(calendar, 240, as_of)
    assert passed == taipei(4, 15)  # Friday 15:00 + 4 working hours = Monday 10:00, to the microsecond
    assert calendar.add_working_minutes(passed, 240) <= as_of
    assert calendar.add_working_minutes(passed + dt.timedelta(microseconds=1), 240) > as_of


# -- when -------------------------------------------------------------------------------------------------

@pytest.fixture
def busy(session: Session, people: dict[str, User]) -> dict[str, User]:
    """Both people have an overdue task."""
    for person in people.values():
        task(session, person, "Overdue", dt.date(2026, 9, 1))
    session.commit()
    return people


def test_not_before_the_digest_time(session: Session, engine: Engine, busy: dict[str, User]) -> None:
    busy["boss"].digest_time = "09:15"
    assert run(session, engine, taipei(7, 7, 59)) == {"emails": 0}
    assert run(session, engine, taipei(7, 8, 0)) == {"emails": 1}  # the rep, at 08:00
    assert recipients(session) == [busy["rep"].email]
    assert run(session, engine, taipei(7, 9, 0)) == {"emails": 0}
    assert run(session, engine, taipei(7, 9, 15)) == {"emails": 1}  # the boss, at 09:15
    assert recipients(session) == [busy["rep"].email, busy["boss"].email]


def test_not_on_a_weekend_nor_a_holiday_but_on_a_make_up_working_day(
    session: Session, engine: Engine, busy: dict[str, User]
) -> None:
    company.set_value(session, "holidays", ["2026-09-07"])
    company.set_value(session, "extra_working_days", ["2026-09-12"])
    assert run(session, engine, taipei(6, 9)) == {"emails": 0}  # Sunday
    assert run(session, engine, taipei(7, 9)) == {"emails": 0}  # a holiday Monday
    assert run(session, engine, taipei(8, 9)) == {"emails": 2}  # Tuesday
    assert run(session, engine, taipei(12, 9)) == {"emails": 2}  # a make-up working Saturday
    keys = [m.idempotency_key for m in digests(session)]
    assert sorted(key.rsplit(":", 1)[1] for key in keys) == ["2026-09-08"] * 2 + ["2026-09-12"] * 2


def test_the_user_s_own_zone_sets_their_time_and_day(session: Session, engine: Engine, busy: dict[str, User]) -> None:
    rep = busy["rep"]
    rep.time_zone = "America/Los_Angeles"
    task(session, rep, "Due on Monday in Los Angeles", MONDAY)
    session.commit()
    assert run(session, engine, taipei(7, 9)) == {"emails": 1}  # the boss; 18:00 on Sunday in Los Angeles
    monday_in_la = dt.datetime(2026, 9, 7, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    assert run(session, engine, monday_in_la - dt.timedelta(minutes=1)) == {"emails": 0}
    assert run(session, engine, monday_in_la) == {"emails": 1}  # Tuesday 23:00 in Taipei
    mail = digests(session)[-1]
    assert (mail.recipient, mail.idempotency_key) == (rep.email, f"digest:{rep.id}:2026-09-07")
    assert mail.context["due_today"]["lines"][0]["subject"] == "Due on Monday in Los Angeles"
    assert mail.context["overdue"]["total"] == 1
    assert session.get_one(User, rep.id).last_digest_on == MONDAY


def test_switched_off_no_digest(session: Session, engine: Engine, busy: dict[str, User]) -> None:
    busy["rep"].digest_enabled = False
    assert run(session, engine) == {"emails": 1}
    assert recipients(session) == [busy["boss"].email]
    assert session.get_one(User, busy["rep"].id).last_digest_on is None


def test_an_empty_digest_is_not_sent_and_its_day_is_claimed(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    rep = people["rep"]
    task(session, rep, "Next week", dt.date(2026, 9, 14))
    assert run(session, engine) == {"emails": 0}
    assert session.get_one(User, rep.id).last_digest_on == MONDAY
    task(session, rep, "Came in later", MONDAY)
    assert run(session, engine, taipei(7, 10)) == {"emails": 0}  # the day was claimed: no second look
    assert run(session, engine, taipei(8, 8, 15)) == {"emails": 2}  # Tuesday: it is overdue (the boss is told)
    assert set(recipients(session)) == {rep.email, people["boss"].email}


def test_a_second_run_queues_nothing(session: Session, engine: Engine, busy: dict[str, User]) -> None:
    assert run(session, engine) == {"emails": 2}
    assert run(session, engine) == {"emails": 0}
    assert run(session, engine, taipei(7, 17)) == {"emails": 0}
    session.execute(update(User).values(last_digest_on=None))  # the claim lost: the outbox still refuses a copy
    run(session, engine)
    assert len(digests(session)) == 2


def test_new_leads_since_the_previous_digest(session: Session, engine: Engine, people: dict[str, User]) -> None:
    rep = people["rep"]
    lead(session, rep, "Friday morning", taipei(4, 7))
    lead(session, rep, "Friday after the digest", taipei(4, 9))
    lead(session, rep, "Saturday", taipei(5, 11))
    rep.last_digest_on = dt.date(2026, 9, 4)  # Friday's, at 08:00
    session.commit()
    run(session, engine)
    (mail,) = [m for m in digests(session) if m.recipient == rep.email]  # the boss hears of their SLA too
    names = [line["name"] for line in mail.context["new_leads"]["lines"]]
    assert names == ["Saturday", "Friday after the digest"]  # newest first, since Friday 08:00


def test_two_runs_at_the_same_time_queue_one_digest_each(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    reps = [add_user(session, f"r{i}@example.com", f"Rep {i}", welcome=False) for i in range(6)]
    for person in reps:
        task(session, person, "Overdue", dt.date(2026, 9, 1))
    session.commit()
    factory, start = session_factory(engine), threading.Barrier(2)
    outcomes, failures = [Outcome(), Outcome()], []

    def one(outcome: Outcome) -> None:
        try:
            start.wait()
            digest.daily_digest(factory, AS_OF, outcome)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(o,)) for o in outcomes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert outcomes[0].counts["emails"] + outcomes[1].counts["emails"] == 6
    assert sorted(recipients(session)) == sorted(r.email for r in reps)


# -- as the scheduler and the CLI run it --------------------------------------------------------------------

def test_the_flow_runs_once_for_real_under_prefect(
    prefect_api: str, env: dict[str, str], session: Session, busy: dict[str, User]
) -> None:
    from flows import catalog

    state = catalog.flow("daily-digest")(as_of=AS_OF.isoformat(), return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["counts"] == {"emails": 2}
    assert sorted(recipients(session)) == sorted(p.email for p in busy.values())
    again = catalog.flow("daily-digest")(as_of=AS_OF.isoformat(), return_state=True)
    assert again.result()["counts"] == {"emails": 0}


def with_work(session: Session, as_of: dt.datetime) -> set[str]:
    """Who has something for a digest as of `as_of`, one user and one question at a time (the rules read plainly)."""
    zone = company.zone(session)
    today = as_of.astimezone(zone).date()
    start = dt.datetime.combine(today, dt.time(), zone)
    found = set()
    for user in session.scalars(select(User).where(User.active, User.digest_enabled)):
        mine = Activity.owner_id == user.id
        open_activity = (mine, Activity.completed_at.is_(None), Activity.deleted_at.is_(None))
        questions = [
            select(Activity.id).where(*open_activity, Activity.type == "task", Activity.due_date <= today),
            select(Activity.id).where(*open_activity, Activity.type.in_(("call", "meeting")),
                                      Activity.start_at >= start, Activity.start_at < start + dt.timedelta(days=1)),
            select(Lead.id).where(Lead.owner_id == user.id, Lead.deleted_at.is_(None), Lead.converted_at.is_(None),
                                  or_(Lead.aging_state.in_(("aging", "stale")),
                                      Lead.assigned_at.between(as_of - dt.timedelta(hours=24), as_of))),
            select(Opportunity.id).where(
                Opportunity.owner_id == user.id, Opportunity.closed_at.is_(None), Opportunity.deleted_at.is_(None),
                or_(Opportunity.rotting_since.is_not(None), Opportunity.expected_close_date.between(
                    today, today + dt.timedelta(days=6 - today.weekday())))),
            select(Activity.id).join(User, User.id == Activity.owner_id).where(
                User.manager_id == user.id, User.active, Activity.completed_at.is_(None),
                Activity.deleted_at.is_(None), Activity.type == "task", Activity.due_date < today),
        ]
        if any(session.scalar(q.limit(1)) is not None for q in questions):
            found.add(user.email)
    return found


def test_crm_flows_run_daily_digest_on_a_small_demo(crm: Any, session: Session) -> None:
    crm("demo")
    as_of = "2026-09-07T08:30"
    moment = dt.datetime.fromisoformat(as_of).replace(tzinfo=company.zone(session)).astimezone(UTC)
    expected = with_work(session, moment)
    users = set(session.scalars(select(User.email)))
    session.commit()
    assert expected and users - expected  # some have work that day, some have none

    out = crm("flows", "run", "daily-digest", "--as-of", as_of).output
    assert re.search(rf"^daily-digest completed in [\d.]+ s \(run \d+\): emails {len(expected)}\.$", out, re.M), out
    assert sorted(recipients(session)) == sorted(expected)  # one each for those with work, none for the others
    out = crm("flows", "run", "daily-digest", "--as-of", as_of).output
    assert re.search(r"^daily-digest completed in [\d.]+ s \(run \d+\): emails 0\.$", out, re.M), out
    assert session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.template == "daily_digest")) == len(expected)
