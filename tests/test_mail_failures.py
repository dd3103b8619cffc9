"""Delivery when the relay misbehaves, over implicit TLS, with attachments, and what it never logs.

A relay that accepts and never answers costs one timeout and the mail is retried later; a refused
connection is retried later each time until the last attempt; `smtps://` is TLS from the first byte to a
certificate the client was told to trust; attachments are read from the documents store only; the relay's
password shows in no log line, even at DEBUG.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_store.config import Config
from crm_store.errors import ValidationError
from crm_store.mail import outbox
from crm_store.mail.outbox import AttachmentRef
from crm_store.models import OutboxMessage
from crm_store.records import documents
from emails.catalog import SAMPLES
from emails.worker import run_worker, send_due
from tests.smtp_server import RecordingHandler, SilentServer, SmtpServer, free_port, tls_pair
from tests.test_mail_delivery import LATER, config_for, now, queue, statuses

TIMEOUT = 0.5  # seconds, the relay URL's `timeout` option


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return tls_pair(tmp_path_factory.mktemp("ca"))


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    found = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    session.commit()
    return found


def wait_for(condition: Callable[[], bool], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


class Worker:
    """`run_worker` on a thread, as `crm mail worker` runs it, until stopped."""

    def __init__(self, config: Config) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=run_worker, args=(config,),
                                       kwargs={"poll_seconds": 0.05, "stop": self.stop}, daemon=True)

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the mail worker did not stop"


# -- a relay that never answers, and one that refuses ------------------------------------------------


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_a_relay_that_never_answers_times_out_and_the_mail_waits_for_a_later_attempt(
    env, engine: Engine, session: Session, tls, scheme: str  # noqa: ANN001
) -> None:
    _, cafile = tls
    queue(session, 3)
    with SilentServer() as silent:
        config = config_for(env, f"{scheme}://127.0.0.1:{silent.port}?timeout={TIMEOUT}&cafile={cafile}")
        started = time.monotonic()
        with Worker(config):
            wait_for(lambda: statuses(session) == {"retrying": 3})
            took = time.monotonic() - started
        assert 1 <= silent.accepted <= 3  # the connections waited side by side, within the bound
    assert took < 6 * TIMEOUT + 3  # about one timeout for the batch, not one per message
    for row in rows(session):
        assert row.attempts == 1
        assert row.last_error.startswith(f"cannot connect to 127.0.0.1:{silent.port}")
        assert "timed out" in row.last_error.lower()
        assert row.next_attempt_at > now() + dt.timedelta(seconds=50)  # the first backoff is about a minute

    handler = RecordingHandler()  # the relay answers again: nothing was lost
    with SmtpServer(handler) as server:
        tally = send_due(config_for(env, f"smtp://127.0.0.1:{server.port}"), engine=engine, now=now() + LATER)
    assert tally["sent"] == 3
    assert sorted(r.rcpt_tos[0] for r in handler.received) == [f"rep{i}@example.com" for i in range(3)]
    assert statuses(session) == {"sent": 3}


def test_a_worker_stopped_while_a_relay_keeps_it_waiting_stops_by_the_timeout_leaving_nothing_sending(
    env, session: Session  # noqa: ANN001
) -> None:
    queue(session, 2)
    with SilentServer() as silent:
        worker = Worker(config_for(env, f"smtp://127.0.0.1:{silent.port}?timeout=2"))
        with worker:
            wait_for(lambda: silent.accepted >= 1)  # it is waiting for the relay's greeting now
            stopped = time.monotonic()
        took = time.monotonic() - stopped  # __exit__ set `stop` and joined the thread
    assert took < 2 + 2  # the pass in progress ends at its timeout at the latest
    assert statuses(session) == {"retrying": 2}  # its outcome recorded: not left `sending` for 10 minutes


def test_a_refused_connection_is_retried_later_each_time_then_failed(
    env, engine: Engine, session: Session  # noqa: ANN001
) -> None:
    queue(session, 1)
    config = config_for(env, f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    at = now()
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        assert send_due(config, engine=engine, now=at)["retrying"] == 1
        (row,) = rows(session)
        assert (row.status, row.attempts) == ("retrying", attempt)
        assert row.last_error.startswith("cannot connect to 127.0.0.1")
        assert "connection refused" in row.last_error.lower()
        early = send_due(config, engine=engine, now=row.next_attempt_at - dt.timedelta(seconds=1))
        assert early.total() == 0  # not tried again before its time
        waits.append(row.next_attempt_at - at)
        at = row.next_attempt_at
    assert all(a < b for a, b in zip(waits, waits[1:], strict=False))  # later each time
    assert waits[0] >= dt.timedelta(seconds=54) and waits[-1] >= dt.timedelta(hours=10)
    assert send_due(config, engine=engine, now=at)["failed"] == 1  # the last attempt
    (row,) = rows(session)
    assert (row.status, row.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert "connection refused" in row.last_error.lower()


# -- implicit TLS ------------------------------------------------------------------------------------


def test_smtps_delivers_over_tls_to_a_certificate_the_client_trusts_and_only_then(
    env, engine: Engine, session: Session, tls  # noqa: ANN001
) -> None:
    server_context, cafile = tls
    handler = RecordingHandler()
    queue(session, 5)
    with SmtpServer(handler, implicit_tls=server_context, credentials=("crm", "s3cr3t")) as server:
        untrusted = config_for(env, f"smtps://crm:s3cr3t@127.0.0.1:{server.port}")  # the system's CAs only
        assert send_due(untrusted, engine=engine)["retrying"] == 5
        assert handler.received == [] and handler.connections == 0  # no greeting went past the handshake
        errors = [row.last_error for row in rows(session)]
        tried = [e for e in errors if e.startswith("cannot connect")]  # one message per connection tried
        assert len(tried) == 4 and all("certificate verify failed" in e.lower() for e in tried), errors
        assert all(e == f"no connection to 127.0.0.1:{server.port}" for e in errors if e not in tried)
        plain = config_for(env, f"smtp://crm:s3cr3t@127.0.0.1:{server.port}?timeout={TIMEOUT}")
        assert send_due(plain, engine=engine, now=now() + LATER)["retrying"] == 5  # never falls back to plain
        assert handler.received == []
        trusted = config_for(env, f"smtps://crm:s3cr3t@127.0.0.1:{server.port}?cafile={cafile}")
        assert send_due(trusted, engine=engine, now=now() + 2 * LATER + dt.timedelta(minutes=10))["sent"] == 5
    assert len(handler.received) == 5 and all(r.encrypted for r in handler.received)
    assert 1 <= handler.connections <= 4
    assert statuses(session) == {"sent": 5}


# -- attachments by reference ------------------------------------------------------------------------


def test_attachments_are_read_from_the_documents_store_and_nowhere_else(
    env, engine: Engine, session: Session, tmp_path: Path  # noqa: ANN001
) -> None:
    config = config_for(env, None)
    data_dir = config.data_dir
    content = b"%PDF-1.4\nquote Q-2026-001\n%%EOF\n"
    stored = documents.blob_path(data_dir, documents.store_content(data_dir, content))
    secret = config.secret_key.encode()  # written into the data dir, next to the documents store
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(b"private notes, not for mail")
    (documents.documents_dir(data_dir) / "zz").mkdir(parents=True)
    (documents.documents_dir(data_dir) / "zz" / "link").symlink_to(outside)
    os.mkfifo(documents.documents_dir(data_dir) / "zz" / "pipe")  # reading it would wait forever
    references = {
        "good": stored.relative_to(data_dir).as_posix(),
        "link": "documents/zz/link",
        "pipe": "documents/zz/pipe",
        "folder": "documents/zz",
    }
    for name, path in references.items():
        outbox.enqueue(session, "test_message", f"{name}@example.com", key=f"attach:{name}",
                       context=SAMPLES["test_message"], to_staff=True,
                       attachments=[AttachmentRef(path, "報價單.pdf", "application/pdf")])
    session.commit()
    for refused in ("../elsewhere.txt", "secret_key", "documents/../secret_key", "/etc/passwd", "documents/"):
        with pytest.raises(ValidationError, match="attachments"):
            outbox.enqueue(session, "test_message", "up@example.com", key="attach:up", context={}, to_staff=True,
                           attachments=[AttachmentRef(refused, "x.txt", "text/plain")])
        session.rollback()

    handler = RecordingHandler()
    with SmtpServer(handler) as server:
        tally: dict[str, int] = {}
        sender = threading.Thread(daemon=True, target=lambda: tally.update(
            send_due(config_for(env, f"smtp://127.0.0.1:{server.port}"), engine=engine)))
        sender.start()
        sender.join(timeout=30)
        assert not sender.is_alive(), "delivery hung on an attachment"
    assert (tally["sent"], tally["failed"]) == (1, 3)
    (received,) = handler.received
    assert received.rcpt_tos == ["good@example.com"]
    (attachment,) = list(received.message.iter_attachments())
    assert attachment.get_filename() == "報價單.pdf" and attachment.get_content() == content
    by_recipient = {row.recipient: row for row in rows(session)}
    assert by_recipient["good@example.com"].status == "sent"
    for name in ("link", "pipe", "folder"):
        row = by_recipient[f"{name}@example.com"]
        assert row.status == "failed" and references[name] in row.last_error, row.last_error
        assert "documents store" in row.last_error or "not a stored file" in row.last_error
    assert secret not in bytes(received.message) and b"private notes" not in bytes(received.message)


# -- the password in logs ----------------------------------------------------------------------------


def _forms(user: str, password: str) -> set[str]:
    """The ways a password could show: as given, URL-quoted, base64 as AUTH PLAIN and AUTH LOGIN send it."""
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {password, quote(password), quote(password, safe=""), b64(password), b64(f"\0{user}\0{password}")}


def test_the_relay_password_is_in_no_log_line_at_debug(
    env, engine: Engine, session: Session, tls, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    server_context, cafile = tls
    password, wrong = "Tr0ub4dor&3 p@ss", "n0t-the-Passw0rd"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="leadline")
    queue(session, 3)
    with SmtpServer(RecordingHandler(), tls=server_context, credentials=("crm", password)) as server:

        def url(secret: str) -> str:
            return f"smtp://crm:{quote(secret, safe='')}@127.0.0.1:{server.port}?starttls=1&cafile={cafile}"

        with Worker(config_for(env, url(wrong))):  # a refused login first: its error is logged and stored
            wait_for(lambda: statuses(session) == {"retrying": 3})
        for row in rows(session):
            assert "535" in row.last_error and wrong not in row.last_error
            outbox.retry(session, row.id)
        session.commit()
        with Worker(config_for(env, url(password))):
            wait_for(lambda: statuses(session) == {"sent": 3})
    # mail.log is the test's own server (aiosmtpd), not Leadline
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    text = "\n".join(logging.Formatter("%(name)s %(message)s").format(r) for r in ours)
    assert f"connected to SMTP 127.0.0.1:{server.port} (STARTTLS) as crm" in text  # DEBUG lines were written
    assert "mail worker started; mail goes to SMTP" in text and "3 sent" in text
    leaked = [form for secret in (password, wrong) for form in _forms("crm", secret) if form in text]
    assert not leaked
