"""report-emails: each manager's weekly pipeline email (Monday 08:00 company time, caught up until Tuesday's end) and
monthly customer-value email (the 1st 08:00 to the 3rd), scoped to their team — the delivered message parsed in
English and Traditional Chinese: a PNG inline per chart, the CSV equal to the report run with the manager's viewers,
nothing of the other team; once (a rerun writes nothing); not before 08:00; not when opted out (the profile page's
box); the flow under Prefect; `crm flows run report-emails --as-of 2026-09-07T08:00` on a small demo."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
import re
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.orm import Session

from analytics import charts, formats
from analytics.reports import ReportParams, run_report
from analytics.warehouse import open_warehouse, refresh, warehouse_path
from crm_store import languages
from crm_store.automation import report_emails as sendings
from crm_store.automation.runs import Outcome
from crm_store.config import load_config
from crm_store.db.engine import session_factory
from crm_store.models import OutboxMessage, User
from crm_store.staff import passwords
from crm_store.staff.users import add_user
from emails.worker import send_all_due
from flows.scheduled_reports import report_emails
from tests.analytics_support import add_account, add_deal, add_invoice, add_service, taipei
from tests.staff_support import PASSWORD, Page, Staff

MONDAY = taipei(2026, 9, 7, 8)  # 7 September 2026 is a Monday; 1 September (a Tuesday) is past its window
OCTOBER_1 = taipei(2026, 10, 1, 8)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def people(session: Session, env: dict[str, str]) -> dict[str, User]:
    """A Taipei company: Mia (a manager, English) with reps Ann and Cho; Max (a manager, Chinese) with reps Bob and
    Dan; an admin. Each rep has one open deal of an amount no other deal has."""
    from crm_store.settings import company

    company.set_value(session, "time_zone", "Asia/Taipei")
    mia = add_user(session, "mia@leadline.test", "Mia", role="manager", welcome=False)
    mx = add_user(session, "max@leadline.test", "馬克斯", role="manager", language="zh_Hant", welcome=False)
    found = {"mia": mia, "max": mx,
             "admin": add_user(session, "ada@leadline.test", "Ada", role="admin", welcome=False)}
    for name, boss in (("ann", mia), ("cho", mia), ("bob", mx), ("dan", mx)):
        found[name] = add_user(session, f"{name}@leadline.test", name.title(), manager_email=boss.email, welcome=False)
    created = taipei(2026, 8, 3, 10)
    add_deal(session, "Ann's tea garden", found["ann"], created, amount="1234000")
    add_deal(session, "Cho's hotel", found["cho"], created, [("Qualification", taipei(2026, 8, 20, 9))],
             amount="2000000")
    add_deal(session, "Bob's export", found["bob"], created, amount="7777000")
    add_deal(session, "Dan's factory", found["dan"], created, [("Needs Analysis", taipei(2026, 8, 21, 9))],
             amount="3333000")
    session.commit()
    return found


OTHER_TEAM = {"mia": ("7,777,000", "3,333,000"), "max": ("1,234,000", "2,000,000")}
OWN_TEAM = {"mia": ("1,234,000", "2,000,000"), "max": ("7,777,000", "3,333,000")}


def run(session: Session, engine: Engine, as_of: dt.datetime) -> dict[str, int]:
    session.commit()
    outcome = Outcome()
    report_emails(session_factory(engine), as_of.astimezone(dt.UTC), outcome)
    session.expire_all()
    assert not outcome.errors
    return outcome.counts


def counts(pipeline: int = 0, customer_value: int = 0, opted_out: int = 0, **more: int) -> dict[str, int]:
    return {"pipeline": pipeline, "customer_value": customer_value, "skipped_opted_out": opted_out, **more}


def queued(session: Session) -> list[OutboxMessage]:
    found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "scheduled_report")
                                 .order_by(OutboxMessage.id)))
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    return found


def delivered(env: dict[str, str]) -> dict[str, EmailMessage]:
    """Deliver what is due through the mail worker (to .eml files); the report emails by recipient address."""
    assert send_all_due(load_config())["failed"] == 0
    found = {}
    for path in Path(env["CRM_DATA_DIR"], "outbox").glob("*-scheduled_report.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found


def viewers(*people: User) -> frozenset[int]:
    return frozenset(p.id for p in people)


def report(env: dict[str, str], name: str, as_of: dt.date, who: frozenset[int] | None) -> Any:
    con = open_warehouse(warehouse_path(Path(env["CRM_DATA_DIR"])))
    try:
        return run_report(con, name, ReportParams(as_of=as_of, viewers=who))
    finally:
        con.close()


def grid(html: str) -> tuple[list[str], list[list[str]]]:
    """The report's table in the HTML part: its headings and its rows' cells (the layout's tables have no headings)."""
    page = Page(html)
    (table,) = [t for t in page.all("table") if t.all("th") and not any(i.all("th") for i in t.all("table"))]
    return [th.text for th in table.all("th")], [[td.text for td in tr.all("td")] for tr in table.all("tr")
                                                  if tr.all("td")]


def attachments(msg: EmailMessage) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The inline images by Content-ID (without <>) and the other attachments by file name."""
    inline: dict[str, bytes] = {}
    attached: dict[str, bytes] = {}
    for part in msg.walk():
        if part.get_content_maintype() == "multipart" or part.get_content_type() in ("text/plain", "text/html"):
            continue
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        if part["Content-ID"]:
            inline[str(part["Content-ID"]).strip("<>")] = content
        else:
            attached[str(part.get_filename())] = content
    return inline, attached


def body(msg: EmailMessage, kind: str) -> str:
    """The text of the message's plain or HTML part."""
    part = msg.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # a UTF-8 BOM: Excel reads the Chinese names
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


# -- when -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("local", "expected"), [
    (dt.datetime(2026, 9, 7, 7, 59), []),
    (dt.datetime(2026, 9, 7, 8, 0), [("pipeline", "2026-09-07", "2026-09-07")]),
    (dt.datetime(2026, 9, 8, 23, 59), [("pipeline", "2026-09-07", "2026-09-08")]),  # Tuesday: caught up
    (dt.datetime(2026, 9, 9, 8, 0), []),
    (dt.datetime(2026, 9, 1, 9, 0), [("pipeline", "2026-08-31", "2026-09-01"),
                                     ("customer-value", "2026-09-01", "2026-08-31")]),
    (dt.datetime(2026, 10, 1, 7, 59), []),
    (dt.datetime(2026, 10, 1, 8, 0), [("customer-value", "2026-10-01", "2026-09-30")]),
    (dt.datetime(2026, 10, 3, 23, 59), [("customer-value", "2026-10-01", "2026-09-30")]),
    (dt.datetime(2026, 10, 4, 8, 0), []),
])
def test_which_sendings_are_due(local: dt.datetime, expected: list[tuple[str, str, str]]) -> None:
    assert [(d.report, d.period.isoformat(), d.as_of.isoformat()) for d in sendings.due(local)] == expected


# -- the weekly pipeline email ------------------------------------------------------------------------------------


def test_monday_0800_one_pipeline_email_per_manager_with_its_chart_and_its_team_s_csv(
    session: Session, engine: Engine, env: dict[str, str], people: dict[str, User]
) -> None:
    assert not warehouse_path(Path(env["CRM_DATA_DIR"])).exists()
    assert run(session, engine, MONDAY) == counts(pipeline=2, warehouse_refreshed=1)  # no warehouse yet: made first
    assert sorted(m.recipient for m in queued(session)) == ["max@leadline.test", "mia@leadline.test"]  # not the admin
    mail = delivered(env)
    assert set(mail) == {"max@leadline.test", "mia@leadline.test"}
    teams = {"mia": viewers(people["mia"], people["ann"], people["cho"]),
             "max": viewers(people["max"], people["bob"], people["dan"])}
    everyone = report(env, "pipeline", MONDAY.date(), None)
    for who, language in (("mia", "en"), ("max", "zh_Hant")):
        msg = mail[f"{who}@leadline.test"]
        mine = report(env, "pipeline", MONDAY.date(), teams[who])
        assert mine.rows != everyone.rows  # the team's numbers, not the company's
        inline, attached = attachments(msg)
        drawn = charts.charts_for("pipeline", mine)
        assert drawn and set(inline) == {f"{c.key}@leadline" for c in drawn}
        assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in inline.values())
        assert list(attached) == ["pipeline-2026-09-07.csv"]
        table = attached["pipeline-2026-09-07.csv"]
        assert csv_rows(table) == list(csv.reader(io.StringIO(str(formats.render(mine, "csv", "pipeline")))))
        html = body(msg, "html")
        text = body(msg, "plain")
        assert set(re.findall(r'src="cid:([^"]+)"', html)) == set(inline)
        headings, rows = grid(html)
        assert len(rows) == len(mine.rows) == 8  # the open stages of the default process
        for amount in OWN_TEAM[who]:
            assert amount in Page(html).text and amount in text
        for amount in OTHER_TEAM[who]:
            for part in (html, text, table.decode("utf-8-sig")):
                assert amount not in part and amount.replace(",", "") not in part
        page = Page(html)
        assert f"{load_config().base_url.rstrip('/')}/reports/pipeline?as_of=2026-09-07" in [
            a.attrs.get("href") for a in page.all("a")]
        title = languages.translate(language, "Pipeline by stage")
        assert title in str(msg["Subject"]) and page.find("h1").text == title
        stage, amount = languages.translate(language, "Stage"), languages.translate(language, "Amount")
        assert headings[0] == stage and amount in headings
        assert rows[0][0] == languages.translate_value(language, "Prospecting")
        if language == "zh_Hant":
            assert CJK.search(title) and CJK.search(stage) and CJK.search(rows[0][0])
            assert "2026年9月7日" in str(msg["Subject"])
        else:
            assert (title, headings[:3]) == ("Pipeline by stage", ["Stage", "Opportunities", "Amount"])
            assert "Sep 7, 2026" in str(msg["Subject"])


def test_a_rerun_writes_nothing_and_the_outbox_refuses_a_second_copy(
    session: Session, engine: Engine, people: dict[str, User]
) -> None:
    assert run(session, engine, MONDAY)["pipeline"] == 2
    writes: list[str] = []

    def spy(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE") and cursor.rowcount > 0:
            writes.append(statement)

    event.listen(engine, "after_cursor_execute", spy)
    try:
        assert run(session, engine, MONDAY) == counts()
        assert run(session, engine, taipei(2026, 9, 8, 23, 45)) == counts()  # Tuesday: had it already
    finally:
        event.remove(engine, "after_cursor_execute", spy)
    assert writes == []
    session.execute(update(User).values(last_pipeline_report_week=None))  # the claims lost: the key still holds
    run(session, engine, MONDAY)
    assert len(queued(session)) == 2


def test_two_runs_at_the_same_time_queue_one_email_each(
    session: Session, engine: Engine, env: dict[str, str], people: dict[str, User]
) -> None:
    refresh(load_config().database_url, warehouse_path(Path(env["CRM_DATA_DIR"])))
    factory, start = session_factory(engine), threading.Barrier(2)
    outcomes, failures = [Outcome(), Outcome()], []

    def one(outcome: Outcome) -> None:
        try:
            start.wait()
            report_emails(factory, MONDAY.astimezone(dt.UTC), outcome)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(o,)) for o in outcomes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and outcomes[0].errors == outcomes[1].errors == []
    assert outcomes[0].counts["pipeline"] + outcomes[1].counts["pipeline"] == 2  # each manager claimed by one run
    assert sorted(m.recipient for m in queued(session)) == ["max@leadline.test", "mia@leadline.test"]


def test_not_before_0800_and_caught_up_on_tuesday(session: Session, engine: Engine, people: dict[str, User]) -> None:
    assert run(session, engine, taipei(2026, 9, 7, 7, 59)) == counts()
    assert run(session, engine, taipei(2026, 9, 4, 9)) == counts()  # a Friday: nothing is due
    assert queued(session) == []
    assert run(session, engine, taipei(2026, 9, 8, 17)) == counts(pipeline=2, warehouse_refreshed=1)
    assert {m.context["csv_filename"] for m in queued(session)} == {"pipeline-2026-09-08.csv"}  # as of Tuesday
    assert session.get_one(User, people["mia"].id).last_pipeline_report_week == dt.date(2026, 9, 7)
    session.commit()


def test_an_opted_out_manager_gets_nothing(session: Session, engine: Engine, people: dict[str, User]) -> None:
    session.get_one(User, people["max"].id).report_emails_enabled = False
    assert run(session, engine, MONDAY) == counts(pipeline=1, opted_out=1, warehouse_refreshed=1)
    assert [m.recipient for m in queued(session)] == ["mia@leadline.test"]
    assert session.get_one(User, people["max"].id).last_pipeline_report_week is None
    session.commit()


# -- the monthly customer-value email ----------------------------------------------------------------------------


def test_the_1st_brings_customer_value_as_of_the_month_s_end_the_first_20_rows_and_the_whole_csv(
    session: Session, engine: Engine, env: dict[str, str], people: dict[str, User]
) -> None:
    tea = add_service(session, "TEA", "Tea 茶葉")
    for i in range(1, 23):  # 22 customers of Ann's (Mia's team)
        account = add_account(session, f"North customer {i:02d} 北方客戶", people["ann"])
        add_invoice(session, account, dt.date(2026, 8, 1) + dt.timedelta(days=i), [(tea, "1", str(1000 * i))])
    for i in (1, 2):  # two of Bob's (Max's team)
        account = add_account(session, f"South customer {i} 南方客戶", people["bob"])
        add_invoice(session, account, dt.date(2026, 9, 10), [(tea, "1", "55555")])
    late = add_account(session, "North customer in October", people["cho"])
    add_invoice(session, late, dt.date(2026, 10, 1), [(tea, "1", "99999")])  # after the report's day
    session.commit()
    assert run(session, engine, OCTOBER_1) == counts(customer_value=2, warehouse_refreshed=1)  # a Thursday
    mail = delivered(env)
    as_of = dt.date(2026, 9, 30)
    for who, team, language in (("mia", ("mia", "ann", "cho"), "en"), ("max", ("max", "bob", "dan"), "zh_Hant")):
        msg = mail[f"{who}@leadline.test"]
        mine = report(env, "customer-value", as_of, viewers(*(people[p] for p in team)))
        inline, attached = attachments(msg)
        assert set(inline) == {f"{c.key}@leadline" for c in charts.charts_for("customer-value", mine)}
        assert len(inline) == 2 and all(i.startswith(b"\x89PNG") for i in inline.values())  # RFM segments, ABC
        table = attached["customer-value-2026-09-30.csv"]
        assert csv_rows(table) == list(csv.reader(io.StringIO(str(formats.render(mine, "csv", "customer-value")))))
        html = body(msg, "html")
        headings, rows = grid(html)
        whole = html + table.decode("utf-8-sig")
        if who == "mia":
            assert len(mine.rows) == 22 and len(rows) == 20
            assert headings == ["Account", "Last purchase", "Revenue", "RFM segment", "ABC class", "Lifetime value"]
            assert [r[0] for r in rows] == [row[1] for row in mine.rows[:20]]  # the biggest first
            assert "The first 20 of 22 rows." in Page(html).text
            assert "South customer" not in whole and "October" not in whole
        else:
            assert len(rows) == len(mine.rows) == 2
            assert "North customer" not in whole
            assert languages.translate(language, "Customer value") in str(msg["Subject"])
            assert "2026年9月" in str(msg["Subject"])
    assert run(session, engine, taipei(2026, 10, 3, 20)) == counts()


# -- the profile page's box ------------------------------------------------------------------------------------


def test_a_manager_switches_the_report_emails_off_on_the_profile_page(
    client: Any, session: Session, people: dict[str, User]
) -> None:
    for who in ("mia", "ann"):
        passwords.set_password(session, session.get_one(User, people[who].id), PASSWORD)
    session.commit()
    staff = Staff(client)
    staff.sign_in("ann@leadline.test")
    assert staff.get("/profile").all("input", name="report_emails_enabled") == []  # a rep has no such emails
    staff.sign_out()
    staff.sign_in("mia@leadline.test")
    page = staff.get("/profile")
    box = page.find("input", name="report_emails_enabled")
    assert "checked" in box.attrs
    assert "Email me the weekly pipeline and monthly customer value reports" in page.text
    staff.post("/profile", {"language": "zh_Hant", "time_zone": "", "digest_enabled": "y", "digest_time": "08:00"})
    assert staff.status == 303
    session.expire_all()
    assert session.get_one(User, people["mia"].id).report_emails_enabled is False
    session.commit()
    page = staff.get("/profile")
    assert "checked" not in page.find("input", name="report_emails_enabled").attrs
    assert "報表郵件" in [legend.text for legend in page.all("legend")]
    staff.post("/profile", {"language": "en", "time_zone": "", "digest_time": "08:00", "report_emails_enabled": "y"})
    session.expire_all()
    assert session.get_one(User, people["mia"].id).report_emails_enabled is True
    session.commit()


# -- as the scheduler and the CLI run it ------------------------------------------------------------------------


def test_the_flow_runs_once_for_real_under_prefect(
    prefect_api: str, env: dict[str, str], session: Session, people: dict[str, User]
) -> None:
    from flows import catalog

    state = catalog.flow("report-emails")(as_of=MONDAY.isoformat(), return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["counts"] == counts(pipeline=2, warehouse_refreshed=1)
    again = catalog.flow("report-emails")(as_of=MONDAY.isoformat(), return_state=True)
    assert again.result()["counts"] == counts()
    assert len(queued(session)) == 2


def test_crm_flows_run_report_emails_on_a_small_demo(crm: Any, session: Session) -> None:
    crm("demo")
    managers = set(session.scalars(select(User.email).where(User.active, User.role == "manager")))
    session.commit()
    assert managers
    out = crm("flows", "run", "report-emails", "--as-of", "2026-09-07T08:00").output
    assert re.search(rf"^report-emails completed in [\d.]+ s \(run \d+\): pipeline {len(managers)}, customer value 0, "
                     r"skipped opted out 0", out, re.M), out
    assert sorted(m.recipient for m in queued(session)) == sorted(managers)
    assert all(len(m.attachments) >= 2 for m in queued(session))  # a chart and the CSV each
    out = crm("flows", "run", "report-emails", "--as-of", "2026-09-07T08:00").output
    assert re.search(r"^report-emails completed in [\d.]+ s \(run \d+\): pipeline 0, customer value 0, "
                     r"skipped opted out 0\.$", out, re.M), out
    assert session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.template == "scheduled_report")) == len(managers)
