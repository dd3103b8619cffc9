"""The admins' daily quarantine summary: what it counts, whom it goes to, once a day, the command, the intake.

The company's day is Asia/Taipei (UTC+8): the summary sent on 2025-03-14 covers what was held from
2025-03-12 16:00 to 2025-03-13 16:00 UTC the first time. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import time
import uuid
import zoneinfo
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.capture import quarantine, quarantine_summary
from crm_store.capture import submissions as capture
from crm_store.config import load_config
from crm_store.models import OutboxMessage, User, WebForm
from crm_store.settings import company
from crm_store.staff import users
from emails.worker import send_all_due
from webform import intake as intake_thread
from webform.intake import Intake

ZONE = zoneinfo.ZoneInfo("Asia/Taipei")
NOW = dt.datetime(2025, 3, 14, 1, 0, tzinfo=dt.UTC)  # 09:00 on 2025-03-14 in Taipei
RELEASE = "crm forms quarantine release SUBMISSION"
LIST = "crm forms quarantine list"


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=dt.UTC)


# -- helpers -----------------------------------------------------------------------------------------------


def done(session: Session) -> None:
    """End the test's transaction without expiring what it holds (SQLite: the CLI and app would wait on it)."""
    session.expunge_all()
    session.rollback()


def hold(session: Session, form: WebForm, at: dt.datetime, reason: str | None, email: str = "x@example.com") -> str:
    """Store one submission received at `at`: quarantined with `reason`, or (None) made a lead. Its public id."""
    receipt = capture.receive(session, capture.Inbound(
        form=session.get_one(WebForm, form.id), client_key=uuid.uuid4().hex, raw={"email": email},
        values={"last_name": "Chen", "email": email}, spam_reason=reason,
    ), at=at)
    session.commit()
    return receipt.public_id


def admin(session: Session, name: str, **options: Any) -> User:
    user = users.add_user(session, f"{name.lower()}@leadline.test", name, role="admin", welcome=False, **options)
    session.commit()
    return user


def summaries(session: Session) -> list[OutboxMessage]:
    """The queued summaries, by recipient (detached)."""
    found = list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "quarantine_summary").order_by(OutboxMessage.recipient)
    ))
    done(session)
    return found


@pytest.fixture
def taipei(session: Session, web_form: WebForm) -> None:
    """The company's days begin in Taipei."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.commit()


@pytest.fixture
def trade_show(session: Session, taipei: None) -> WebForm:
    """A second form."""
    form = webforms.add_form(session, {"name": "Trade show"})
    session.commit()
    return form


@pytest.fixture
def held(session: Session, web_form: WebForm, trade_show: WebForm) -> dict[str, str]:
    """Submissions of both forms around 2025-03-13 in Taipei; the public ids by a name."""
    ids = {
        "day_before": hold(session, web_form, utc(12, 15, 30), "honeypot filled in"),  # 23:30 on the 12th
        "first": hold(session, web_form, utc(12, 16, 30), "honeypot filled in"),  # 00:30 on the 13th
        "ts_honeypot_1": hold(session, trade_show, utc(13, 5), "honeypot filled in"),
        "ts_honeypot_2": hold(session, trade_show, utc(13, 6), "honeypot filled in", email="spam@bots.example"),
        "ts_link": hold(session, trade_show, utc(13, 7), "link or HTML in last_name"),
        "expired": hold(session, web_form, utc(13, 10), "render token expired"),
        "wi_honeypot": hold(session, web_form, utc(13, 2), "honeypot filled in"),
        "last": hold(session, web_form, utc(13, 15, 30), "honeypot filled in"),  # 23:30 on the 13th
        "today": hold(session, web_form, utc(13, 16, 30), "render token forged"),  # 00:30 on the 14th
        "lead": hold(session, web_form, utc(13, 9), None, email="real@customer.example"),
        "discarded": hold(session, trade_show, utc(13, 11), "render token expired"),
    }
    quarantine.discard(session, ids["discarded"])
    session.commit()
    done(session)
    return ids


YESTERDAY = {
    "Website inquiry": {"honeypot filled in": 3, "render token expired": 1},
    "Trade show": {"honeypot filled in": 2, "link or HTML in last_name": 1},
}


# -- what it covers ----------------------------------------------------------------------------------------


def test_the_summary_counts_what_is_held_per_form_and_reason_on_the_company_s_yesterday(session, held) -> None:
    summary = quarantine_summary.summarise(session, NOW)
    assert summary.counts == YESTERDAY
    assert list(summary.counts) == ["Website inquiry", "Trade show"]  # most held first
    assert list(summary.counts["Trade show"]) == ["honeypot filled in", "link or HTML in last_name"]
    assert summary.total == 7
    assert summary.period == "2025-03-13"


def test_the_newest_five_are_listed_newest_first(session, held) -> None:
    newest = quarantine_summary.summarise(session, NOW).newest
    assert [h.public_id for h in newest] == [
        held["last"], held["expired"], held["ts_link"], held["ts_honeypot_2"], held["ts_honeypot_1"],
    ]
    second_last = newest[3]
    assert (second_last.form_name, second_last.email, second_last.reason, second_last.received_at) == (
        "Trade show", "spam@bots.example", "honeypot filled in", utc(13, 6))


def test_one_message_goes_to_every_active_admin_and_to_nobody_else(session, held, reps) -> None:
    lin = admin(session, "Lin", language="zh_Hant")
    kevin = admin(session, "Kevin", time_zone="Europe/London")
    gone = admin(session, "Gone")
    users.add_user(session, "boss@leadline.test", "Boss", role="manager", welcome=False)
    users.deactivate_user(session, gone.email)
    session.commit()

    queued = quarantine_summary.queue_summary(session, NOW)
    session.commit()

    assert sorted(queued) == sorted([lin.email, kevin.email])
    to_kevin, to_lin = summaries(session)
    assert (to_kevin.recipient, to_kevin.language, to_lin.recipient, to_lin.language) == (
        kevin.email, "en", lin.email, "zh_Hant")
    assert to_kevin.to_staff and to_lin.recipient_name == "Lin"
    assert to_kevin.context["total"] == 7 and to_kevin.context["period"] == "2025-03-13"
    assert {f["name"]: {r["reason"]: r["count"] for r in f["reasons"]} for f in to_kevin.context["forms"]} == YESTERDAY
    assert [f["count"] for f in to_kevin.context["forms"]] == [4, 3]
    newest = to_lin.context["newest"][0]
    assert newest == {"received_at": "2025-03-13 23:30 CST", "form_name": "Website inquiry", "email": "x@example.com",
                      "reason": "honeypot filled in", "submission": held["last"]}
    assert to_kevin.context["newest"][0]["received_at"] == "2025-03-13 15:30 GMT"  # in the admin's own zone


def test_it_is_queued_once_a_day_and_the_next_day_covers_only_what_is_new(session, held) -> None:
    lin = admin(session, "Lin")
    assert quarantine_summary.queue_summary(session, NOW) == [lin.email]
    session.commit()
    assert quarantine_summary.queue_summary(session, NOW + dt.timedelta(hours=14)) == []  # 23:00 the same day
    kevin = admin(session, "Kevin")
    assert quarantine_summary.queue_summary(session, NOW + dt.timedelta(hours=1)) == [kevin.email]  # only the new one
    session.commit()
    assert len(summaries(session)) == 2

    tomorrow = quarantine_summary.summarise(session, NOW + dt.timedelta(days=1))
    assert tomorrow.counts == {"Website inquiry": {"render token forged": 1}}  # only what came on the 14th
    assert [h.public_id for h in tomorrow.newest] == [held["today"]] and tomorrow.period == "2025-03-14"
    assert sorted(quarantine_summary.queue_summary(session, NOW + dt.timedelta(days=1))) == [kevin.email, lin.email]
    session.commit()
    assert len(summaries(session)) == 4


def test_days_without_a_summary_are_covered_by_the_next_one(session, held, web_form) -> None:
    admin(session, "Lin")
    quarantine_summary.queue_summary(session, NOW)  # 2025-03-14, covering the 13th
    session.commit()
    later = hold(session, web_form, utc(15, 3), "honeypot filled in")  # the 15th: no summary sent on the 15th, 16th
    summary = quarantine_summary.summarise(session, utc(16, 20))  # 04:00 on the 17th
    assert summary.period == "2025-03-14 – 2025-03-16"
    assert summary.counts == {"Website inquiry": {"honeypot filled in": 1, "render token forged": 1}}
    assert [h.public_id for h in summary.newest] == [later, held["today"]]


def test_nothing_is_queued_when_nothing_was_held(session, taipei, web_form) -> None:
    admin(session, "Lin")
    hold(session, web_form, utc(13, 9), None)  # a lead, not held
    hold(session, web_form, utc(13, 17), "honeypot filled in")  # held today: tomorrow's summary
    released = hold(session, web_form, utc(13, 10), "honeypot filled in", email="real@customer.example")
    quarantine.release(session, released)
    session.commit()

    assert quarantine_summary.summarise(session, NOW).total == 0
    assert quarantine_summary.queue_summary(session, NOW) == []
    session.commit()
    assert summaries(session) == []


# -- the email ---------------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The visible text of an HTML body, one chunk per text node."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.feed(source)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.chunks.append(data.strip())


def delivered(env: dict[str, str]) -> dict[str, EmailMessage]:
    """Deliver what is due to .eml files (no relay is set); the summaries by recipient address."""
    assert send_all_due(load_config())["failed"] == 0
    found = {}
    for path in Path(env["CRM_DATA_DIR"], "outbox").glob("*-quarantine_summary.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found  # type: ignore[return-value]  # the default policy makes EmailMessage


def test_the_email_says_what_was_held_and_how_to_release_it_in_both_languages(session, env, held) -> None:
    lin, kevin = admin(session, "Lin", language="zh_Hant"), admin(session, "Kevin")
    quarantine_summary.queue_summary(session, NOW)
    session.commit()
    done(session)

    mail = delivered(env)
    assert set(mail) == {lin.email, kevin.email}
    expected = {
        kevin.email: ("Quarantine, 2025-03-13: 7 web submissions held", "How to release", "HOW TO RELEASE"),
        lin.email: ("隔離區摘要（2025-03-13）：7 筆網站表單資料被隔離", "如何放行", "【如何放行】"),
    }
    for address, (subject, html_heading, text_heading) in expected.items():
        msg = mail[address]
        text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text_part is not None and html_part is not None
        text, page = text_part.get_content(), Page(html_part.get_content()).chunks
        assert msg["Subject"] == subject
        assert text_heading in text.splitlines() and html_heading in page
        for command in (LIST, RELEASE):
            assert f"    {command}" in text.splitlines()
            assert command in page
        for public_id in (held["last"], held["ts_honeypot_1"]):  # the ids the release command takes
            assert public_id in text and public_id in page
        assert held["wi_honeypot"] not in text  # the sixth newest is only counted
        assert "link or HTML in last_name" in page and "Trade show" in page


# -- the command -------------------------------------------------------------------------------------------


@pytest.fixture
def yesterday(session: Session, taipei: None, web_form: WebForm) -> str:
    """One submission held yesterday noon, company time (the command works on the real today)."""
    noon = dt.datetime.combine(dt.datetime.now(ZONE).date() - dt.timedelta(days=1), dt.time(12), tzinfo=ZONE)
    public_id = hold(session, web_form, noon, "honeypot filled in", email="bot@spam.example")
    done(session)
    return public_id


def test_the_command_queues_today_s_summary_once(crm, session, yesterday) -> None:
    admin(session, "Lin")
    admin(session, "Kevin")
    done(session)
    out = crm("forms", "quarantine", "summary").output
    assert "(1 held) for 2 admin(s); 0 had it already." in out
    assert len(summaries(session)) == 2
    again = crm("forms", "quarantine", "summary").output
    assert "for 0 admin(s); 2 had it already." in again
    assert len(summaries(session)) == 2


def test_a_dry_run_prints_the_summary_and_queues_nothing(crm, session, yesterday) -> None:
    lin = admin(session, "Lin")
    done(session)
    out = crm("forms", "quarantine", "summary", "--dry-run").output
    assert "1 submission(s)" in out and "honeypot filled in" in out and yesterday in out and "bot@spam.example" in out
    assert f"it would be queued for 1 admin(s): {lin.email}." in out
    assert RELEASE in out
    assert summaries(session) == []


def test_the_command_says_when_there_is_nothing_to_send(crm, session, taipei) -> None:
    admin(session, "Lin")
    done(session)
    assert "no summary to send" in crm("forms", "quarantine", "summary").output
    assert summaries(session) == []


def test_the_command_explains_itself(crm) -> None:
    out = " ".join(crm("forms", "quarantine", "summary", "--help").output.split())
    assert "--dry-run" in out and "every active admin" in out and "once a day" in out and "queue nothing" in out
    assert "summary" in crm("forms", "quarantine", "--help").output


# -- the intake queues it by itself ------------------------------------------------------------------------


def run_intake(app: Any, monkeypatch: pytest.MonkeyPatch, seconds: float, *, every: float | None = None) -> list[int]:
    """Run the intake thread for a while, counting its calls of `queue_summary`; stop it."""
    calls: list[int] = []
    real = quarantine_summary.queue_summary

    def counted(session: Session) -> list[str]:
        calls.append(1)
        return real(session)

    monkeypatch.setattr(quarantine_summary, "queue_summary", counted)
    if every is not None:
        monkeypatch.setattr(intake_thread, "SUMMARY_EVERY", every)
    running = Intake(app.extensions["leadline"], poll=0.01)
    running.start()
    try:
        time.sleep(seconds)  # many turns of the loop
    finally:
        running.stop()
    return calls


def test_the_intake_queues_the_summary_when_it_starts_and_looks_again_only_an_hour_later(
    app, session, yesterday, monkeypatch
) -> None:
    lin = admin(session, "Lin")
    done(session)
    assert len(run_intake(app, monkeypatch, 0.3)) == 1
    assert [m.recipient for m in summaries(session)] == [lin.email]


def test_each_look_of_the_intake_queues_nothing_new_the_same_day(app, session, yesterday, monkeypatch) -> None:
    admin(session, "Lin")
    done(session)
    assert len(run_intake(app, monkeypatch, 0.3, every=0.02)) >= 3
    assert len(summaries(session)) == 1


def test_a_failing_summary_only_logs_and_the_intake_goes_on(app, session, web_form, monkeypatch, caplog) -> None:
    def broken(session: Session) -> list[str]:
        raise RuntimeError("summary broke")

    monkeypatch.setattr(quarantine_summary, "queue_summary", broken)
    form_id = web_form.id
    done(session)
    state = app.extensions["leadline"]
    receipt = state.write(lambda s: capture.accept(s, capture.Inbound(
        form=s.get_one(WebForm, form_id), client_key=uuid.uuid4().hex, raw={},
        values={"last_name": "Chen", "email": "real@customer.example"},
    )))
    running = Intake(state, poll=0.01)
    with caplog.at_level(logging.ERROR, logger="leadline.intake"):
        running.start()
        try:
            deadline = time.monotonic() + 5
            while quarantine.find_submission(session, receipt.public_id).outcome != "new_lead":
                done(session)
                assert time.monotonic() < deadline, "the intake stopped processing"
                time.sleep(0.02)
            done(session)
        finally:
            running.stop()
    assert any("quarantine summary failed" in r.getMessage() for r in caplog.records)
