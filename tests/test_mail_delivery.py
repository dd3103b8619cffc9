"""Delivery against a real SMTP server (aiosmtpd on loopback): each message once, none lost."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ssl
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_store.config import Config, load_config
from crm_store.mail import outbox
from crm_store.models import OutboxMessage
from emails import delivery
from emails.catalog import SAMPLES
from emails.relay import parse_relay
from emails.worker import _render, send_due
from tests.smtp_server import RecordingHandler, SmtpServer, tls_pair

LATER = dt.timedelta(minutes=2)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def config_for(env: dict[str, str], smtp_url: str | None) -> Config:
    values = dict(env)
    if smtp_url:
        values["CRM_SMTP_URL"] = smtp_url
    values["CRM_MAIL_FROM"] = "Leadline 業務部 <sales@example.com>"
    return load_config(values)


def queue(session: Session, n: int, template: str = "test_message", **kw) -> None:  # noqa: ANN003
    for i in range(n):
        outbox.enqueue(session, template, f"rep{i}@example.com", key=f"{template}:{i}", context=SAMPLES[template],
                       recipient_name=f"業務 {i}", to_staff=True, **kw)
    session.commit()


def statuses(session: Session) -> dict[str, int]:
    session.expire_all()
    found = {k: v for k, v in outbox.counts(session).items() if v}
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return found


def test_batch_is_delivered_once_over_reused_connections(env, engine: Engine, session: Session) -> None:  # noqa: ANN001
    handler = RecordingHandler()
    queue(session, 30)
    with SmtpServer(handler) as server:
        config = config_for(env, f"smtp://127.0.0.1:{server.port}?concurrency=3")
        tally = send_due(config, engine=engine)
    assert tally["sent"] == 30
    assert statuses(session) == {"sent": 30}
    assert len(handler.received) == 30
    assert 1 <= handler.connections <= 3  # 30 messages over at most 3 connections: each one reused
    assert handler.most_open <= 3
    assert handler.mails == 30
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(f"rep{i}@example.com" for i in range(30))
    ids = handler.message_ids()
    stored = set(session.scalars(select(OutboxMessage.message_id)))
    assert len(set(ids)) == 30 and set(ids) == stored
    first = handler.received[0].message
    assert first["From"].addresses[0].addr_spec == "sales@example.com"
    assert "業務" in str(first["To"])
    assert first.get_body(("plain",)) is not None and first.get_body(("html",)) is not None


def test_connections_stay_within_the_default_bound_and_are_used_side_by_side(
    env, engine: Engine, session: Session  # noqa: ANN001
) -> None:
    handler = RecordingHandler(data_delay=0.02)  # a slow server: an unbounded sender would open one per message
    queue(session, 40)
    with SmtpServer(handler) as server:
        tally = send_due(config_for(env, f"smtp://127.0.0.1:{server.port}"), engine=engine)
    assert tally["sent"] == 40 and len(set(handler.message_ids())) == 40
    assert handler.connections <= 4  # CRM_SMTP_URL's concurrency defaults to 4
    assert 2 <= handler.most_open <= 4  # more than one at a time, never more than the bound
    assert handler.open_now == set()  # every connection was closed at the end


def test_421_is_retried_with_backoff_then_delivered_once(env, engine: Engine, session: Session) -> None:  # noqa: ANN001
    handler = RecordingHandler(refuse_first_mails=3)
    queue(session, 5)
    with SmtpServer(handler) as server:
        config = config_for(env, f"smtp://127.0.0.1:{server.port}?concurrency=1")
        first = send_due(config, engine=engine)
        assert first["retrying"] >= 1
        assert send_due(config, engine=engine)["sent"] == 0  # nothing due before the backoff ends
        second = send_due(config, engine=engine, now=now() + LATER)
    assert first["sent"] + second["sent"] == 5
    assert statuses(session) == {"sent": 5}
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(f"rep{i}@example.com" for i in range(5))
    assert len(set(handler.message_ids())) == 5


def test_550_fails_only_that_message_and_keeps_the_reply(env, engine: Engine, session: Session) -> None:  # noqa: ANN001
    handler = RecordingHandler(reject_recipients=frozenset({"rep2@example.com"}))
    queue(session, 6)
    with SmtpServer(handler) as server:
        tally = send_due(config_for(env, f"smtp://127.0.0.1:{server.port}?concurrency=1"), engine=engine)
    assert (tally["sent"], tally["failed"]) == (5, 1)
    failed = session.scalar(select(OutboxMessage).where(OutboxMessage.status == "failed"))
    assert failed.recipient == "rep2@example.com"
    assert failed.last_error.startswith("550") and "User unknown" in failed.last_error
    assert "rep2@example.com" not in {r.rcpt_tos[0] for r in handler.received}
    assert len(handler.received) == 5


def test_dropped_connection_mid_batch_loses_and_duplicates_nothing(env, engine: Engine, session: Session) -> None:  # noqa: ANN001
    handler = RecordingHandler(drop_at_mail=4)
    queue(session, 10)
    with SmtpServer(handler) as server:
        config = config_for(env, f"smtp://127.0.0.1:{server.port}?concurrency=1")
        first = send_due(config, engine=engine)
        assert handler.connections == 2  # the dropped one and one more for the rest, not one per message
        second = send_due(config, engine=engine, now=now() + LATER)
    assert handler.connections_dropped == 1
    assert first["sent"] == 9 and first["retrying"] == 1  # the connection was re-opened for the rest
    assert second["sent"] == 1
    assert len(handler.received) == 10
    assert len(set(handler.message_ids())) == 10
    assert statuses(session) == {"sent": 10}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return tls_pair(tmp_path_factory.mktemp("ca"))


def test_auth_after_starttls(env, engine: Engine, session: Session, tls) -> None:  # noqa: ANN001
    server_context, cafile = tls
    handler = RecordingHandler()
    queue(session, 3, template="event_reminder")
    with SmtpServer(handler, tls=server_context, credentials=("crm", "s3cr3t p@ss")) as server:
        wrong = config_for(env, f"smtp://crm:nope@127.0.0.1:{server.port}?starttls=1&cafile={cafile}")
        assert send_due(wrong, engine=engine)["retrying"] == 3
        assert handler.received == []
        good = config_for(env, f"smtp://crm:s3cr3t%20p%40ss@127.0.0.1:{server.port}?starttls=1&cafile={cafile}")
        assert send_due(good, engine=engine, now=now() + LATER)["sent"] == 3
    assert len(handler.received) == 3 and all(r.encrypted for r in handler.received)
    message = handler.received[0].message
    ics = next(part for part in message.iter_attachments() if part.get_content_type() == "text/calendar")
    text = ics.get_content() if isinstance(ics.get_content(), str) else ics.get_content().decode()
    assert "BEGIN:VEVENT" in text and "DTSTART:" in text and text.rstrip().endswith("END:VCALENDAR")
    rows = session.scalars(select(OutboxMessage)).all()
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [("sent", 2, None)] * 3  # the login error cleared


def test_password_is_never_shown(env) -> None:  # noqa: ANN001
    config = config_for(env, "smtp://crm:topsecret@mail.example.com:587?starttls=1")
    relay = parse_relay(config.smtp_url)
    assert "topsecret" not in relay.describe() and "topsecret" not in repr(relay) and "topsecret" not in repr(config)


def test_crash_between_send_and_mark_is_at_least_once_with_a_stable_message_id(
    env, engine: Engine, session: Session  # noqa: ANN001
) -> None:
    handler = RecordingHandler()
    queue(session, 1)
    with SmtpServer(handler) as server:
        config = config_for(env, f"smtp://127.0.0.1:{server.port}")
        # the worker claims and sends, then dies before it records the result
        claimed = outbox.claim_due(session)[0]
        session.commit()
        messages = [(row.id, _render(config, row, "Acme")) for row in claimed]
        assert [o.kind for o in delivery.deliver_sync(parse_relay(config.smtp_url), messages)] == ["sent"]
        assert statuses(session) == {"sending": 1}
        # ten minutes later the row is released and sent again: the same Message-ID both times
        send_due(config, engine=engine, now=now() + dt.timedelta(minutes=11))
    assert statuses(session) == {"sent": 1}
    ids = handler.message_ids()
    assert len(ids) == 2 and ids[0] == ids[1]


def test_without_smtp_url_mail_goes_to_eml_files(env, engine: Engine, session: Session) -> None:  # noqa: ANN001
    queue(session, 4)
    config = config_for(env, None)
    assert send_due(config, engine=engine)["sent"] == 4
    files = sorted(config.outbox_dir.glob("*.eml"))
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [f.name for f in files] == [f"{r.id:08d}-test_message.eml" for r in rows]
    for path, row in zip(files, rows, strict=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["Message-ID"] == row.message_id
        assert message["To"].addresses[0].addr_spec == row.recipient
        assert message["From"].addresses[0].addr_spec == "sales@example.com"
        assert message.get_body(("plain",)).get_content().strip()
    assert not list(config.outbox_dir.glob("*.tmp"))
