"""A submission's life through real `crm serve` (gunicorn, 2 workers, real HTTP), on SQLite and PostgreSQL.

A 201 means stored; the intake thread of one worker (the holder of the intake lock) turns it into a lead. Here:
(a) the lead is found by `crm search` and its owner's notice is queued within a second of the 201; (b) a SIGTERM
while submissions wait still leaves every 201 a lead once the server has exited (the drain); (c) what a stopped or
killed server left pending is processed when `crm serve` starts again. To make work wait on purpose, the test
process takes the intake lock itself before the server starts, as a stuck worker would hold it.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from crm_store.capture import submissions as capture
from crm_store.models import Lead, OutboxMessage, User, WebSubmission
from tests.test_serve import Served, Visitor, stored, together
from webform.intake import LOCK_KEY

pytestmark = pytest.mark.slow


@pytest.fixture
def served(env: dict[str, str], web_form: Any, tmp_path: Path) -> Iterator[Served]:
    """`crm serve --workers 2` on a free port for the test database; stopped (SIGTERM) at the end."""
    server = Served(env, tmp_path / "serve.log")
    try:
        yield server
    finally:
        server.stop()


def _gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            return False
    return True


def _lead_and_notice(engine: Engine, email: str) -> tuple[Lead, OutboxMessage, User] | None:
    """The lead with this email, its owner's notice in the outbox and the owner, once all exist."""
    with Session(engine) as session:
        lead = session.scalar(select(Lead).where(Lead.email_key == email))
        if lead is None:
            return None
        notice = session.scalar(select(OutboxMessage).where(
            OutboxMessage.template == "new_web_lead",
            OutboxMessage.context["lead"]["number"].as_string() == lead.lead_no,
        ))
        if notice is None or lead.owner_id is None:
            return None
        return lead, notice, session.get_one(User, lead.owner_id)


@contextmanager
def intake_held_elsewhere(database_url: str) -> Iterator[None]:
    """Another process holds the intake lock (as a stuck worker would), so no `crm serve` worker processes."""
    if database_url.startswith("sqlite"):
        fd = os.open(database_url.removeprefix("sqlite:///") + ".intake", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield
        finally:
            os.close(fd)
        return
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            yield
            conn.execute(text("select pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
    finally:
        engine.dispose()


def _both_workers_up(served: Served) -> list[int]:
    deadline = time.monotonic() + 60
    while served.log.read_text().count("Application startup complete") < 2:
        assert time.monotonic() < deadline, served.log.read_text()
        time.sleep(0.05)
    return served.workers()


# -- (a) a 201 is a lead, found by `crm search`, its owner told within a second ---------------------------------


def test_a_201_is_a_lead_crm_search_finds_and_its_owner_is_told_within_a_second(
    served: Served, web_form: Any, reps: list[Any], database_url: str, crm: Any,
) -> None:
    email = "ann.sun@buyer.example"
    visitor = Visitor(served, web_form)
    status, body = visitor.submit(email, company="Sun Optics")
    answered = time.monotonic()
    visitor.close()
    assert status == 201 and body["status"] == "received"

    engine = create_engine(database_url)
    try:
        while True:
            found = _lead_and_notice(engine, email)
            elapsed = time.monotonic() - answered
            if found is not None or elapsed > 5:
                break
            time.sleep(0.01)
        assert found is not None, "no lead and owner's notice within 5 s of the 201:\n" + served.log.read_text()
        assert elapsed < 1.0, f"the lead and its owner's notice took {elapsed:.2f} s after the 201"
        lead, notice, owner = found
        assert owner.id == reps[0].id  # the round robin's first turn
        assert (notice.recipient, notice.status, notice.to_staff) == (owner.email, "queued", True)
        with Session(engine) as session:
            sub = session.scalars(select(WebSubmission).where(WebSubmission.public_id == body["submission"])).one()
        assert (sub.outcome, sub.lead_id) == ("new_lead", lead.id)
    finally:
        engine.dispose()

    out = crm("search", email).output  # the CLI, on the same database
    rows = [line for line in out.splitlines() if line.startswith(lead.lead_no + " ")]
    assert len(rows) == 1 and "Sun Optics" in rows[0], out
    assert "1 found." in out


# -- (b) SIGTERM while submissions wait: every 201 ends up a lead ------------------------------------------------


def test_sigterm_while_submissions_wait_still_makes_every_201_a_lead(
    env: dict[str, str], web_form: Any, database_url: str, tmp_path: Path,
) -> None:
    """A burst is answered 201 while the intake is held elsewhere, so it all waits; once a worker has the intake
    and its first batch is done, SIGTERM comes: the worker drains the rest before the server exits."""
    n, connections = 800, 16
    with intake_held_elsewhere(database_url):
        served = Served(env, tmp_path / "serve.log")
        try:
            visitors = [Visitor(served, web_form) for _ in range(connections)]

            def burst(i: int) -> list[tuple[int, dict[str, Any]]]:
                share = range(i * n // connections, (i + 1) * n // connections)
                return [visitors[i].submit(f"wait{k}@buyer.example") for k in share]

            answers = [answer for batch in together(connections, burst) for answer in batch]
            for v in visitors:
                v.close()
            assert [status for status, _ in answers] == [201] * n
            _leads, subs = stored(database_url)
            assert [s.outcome for s in subs] == ["received"] * n  # all of them wait
        except BaseException:
            served.stop()
            raise
    # Released: a worker takes the intake within a second and works through the backlog, a batch at a time.
    try:
        engine = create_engine(database_url)
        try:
            done, deadline = 0, time.monotonic() + 10
            while done == 0 and time.monotonic() < deadline:
                with Session(engine) as session:
                    done = session.scalar(select(func.count()).where(WebSubmission.outcome != "received")) or 0
                if done == 0:
                    time.sleep(0.002)
            served.proc.send_signal(signal.SIGTERM)
        finally:
            engine.dispose()
        assert 0 < done < n, f"{done} of {n} processed before the SIGTERM"  # there was work left to drain
        code = served.proc.wait(40)
    finally:
        served.stop()
    assert code == 0, served.log.read_text()
    leads, subs = stored(database_url)  # the server has exited: no waiting
    outcomes = {s.public_id: s.outcome for s in subs}
    left = [body["submission"] for _, body in answers if outcomes.get(body["submission"]) != "new_lead"]
    assert left == [], f"{len(left)} of {n} answered 201 are not leads after the exit (SIGTERM at {done} done)"
    assert len(leads) == n


# A worker drains too: `crm up` stops `crm serve` by signalling its whole process group, so the intake's process
# may stop (draining) while a worker still finishes a request. That 201 is processed before the worker exits
# (its own intake thread waits for the lock while anything is pending).


@pytest.mark.parametrize("template", ["sqlite"], indirect=True)  # the intake's code is one for both; time is short
def test_a_201_given_after_the_intake_process_left_is_still_a_lead(
    served: Served, web_form: Any, database_url: str,
) -> None:
    """A visitor's request is half-sent when SIGTERM reaches the intake's process and the master; the intake
    drains and exits; then the rest arrives and is answered 201. It must be a lead once the server has exited."""
    _both_workers_up(served)
    intake = served.intake()
    assert intake is not None  # `crm serve` runs the intake in a process of its own
    body = json.dumps({"last_name": "Late", "email": "late@buyer.example", "_submission": uuid.uuid4().hex}).encode()
    head = (f"POST /api/forms/{web_form.public_id}/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nX-Form-Key: {web_form.integration_key}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    slow = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    try:
        slow.sendall(head + body[:10])
        time.sleep(0.3)
        os.kill(intake, signal.SIGTERM)  # as the process group's signal reaches every process of it
        served.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while not _gone([intake]) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _gone([intake]) and served.workers()  # the intake left; a worker waits for its visitor
        slow.sendall(body[10:])
        answer = http.client.HTTPResponse(slow)
        answer.begin()
        payload = json.loads(answer.read())
    finally:
        slow.close()
    assert answer.status == 201, payload
    assert served.proc.wait(40) == 0
    submission = payload["submission"]
    _leads, subs = stored(database_url)
    assert {s.public_id: s.outcome for s in subs}[submission] == "new_lead", served.log.read_text()


# -- (c) what a stopped or killed server left pending is processed at the next start -------------------------


def test_what_a_stopped_or_killed_server_left_pending_is_processed_at_the_next_start(
    env: dict[str, str], web_form: Any, reps: list[Any], session: Session, database_url: str, tmp_path: Path,
) -> None:
    # Stored while no server runs: accepted by the store, not processed.
    for i in range(2):
        capture.accept(session, capture.Inbound(form=web_form, client_key=f"offline-{i}", raw={},
                                                values={"last_name": "Offline", "email": f"offline{i}@buyer.example"}))
    session.commit()

    # A server whose workers never get to process (the intake is held elsewhere) answers 201s, then dies by kill -9.
    with intake_held_elsewhere(database_url):
        first = Served(env, tmp_path / "first.log")
        try:
            visitor = Visitor(first, web_form)
            answers = [visitor.submit(f"killed{i}@buyer.example") for i in range(4)]
            visitor.close()
            assert [status for status, _ in answers] == [201] * 4
            time.sleep(0.3)
            _leads, subs = stored(database_url)
            assert [s.outcome for s in subs] == ["received"] * 6  # all six wait
            doomed = [first.proc.pid, *first.children()]
            for pid in doomed:
                os.kill(pid, signal.SIGKILL)
            first.proc.wait(10)
            deadline = time.monotonic() + 10
            while not _gone(doomed) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _gone(doomed)
        finally:
            first.stop()
    leads, subs = stored(database_url)
    assert leads == [] and [s.outcome for s in subs] == ["received"] * 6  # still waiting, none lost

    # The next `crm serve` processes them at start, oldest first.
    second = Served(env, tmp_path / "second.log")
    try:
        started = time.monotonic()
        leads, subs = stored(database_url, wait=10, expect=6)
        took = time.monotonic() - started
    finally:
        second.stop()
    assert [s.outcome for s in subs] == ["new_lead"] * 6, second.log.read_text()
    assert took < 5, f"leftovers took {took:.1f} s after the restart answered /healthz"
    by_id: dict[int | None, Lead] = {lead.id: lead for lead in leads}
    emails = [by_id[s.lead_id].email for s in subs]
    assert emails == [f"offline{i}@buyer.example" for i in range(2)] + [f"killed{i}@buyer.example" for i in range(4)]
    rotation = [r.id for r in reps]
    assert [by_id[s.lead_id].owner_id for s in subs] == [rotation[k % 3] for k in range(6)]
    engine = create_engine(database_url)
    try:
        with Session(engine) as check:
            told = check.scalars(select(OutboxMessage.recipient).where(OutboxMessage.template == "new_web_lead")
                                 .order_by(OutboxMessage.id)).all()
    finally:
        engine.dispose()
    assert sorted(told) == sorted(reps[k % 3].email for k in range(6))  # each owner told, once per lead
