"""`crm serve` as visitors and attackers meet it: real gunicorn, 2 worker processes, real HTTP, SQLite and PostgreSQL.

In one process SQLite's `BEGIN IMMEDIATE` serialises everything, so the concurrency tests that run there
pass even without the store's locks; here the submissions arrive through separate worker processes, as
in production.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from crm_store.models import Lead, WebSubmission

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`crm serve --workers 2` on a free loopback port, stopped (SIGTERM) at the end."""

    def __init__(self, env: dict[str, str], log: Path, per_ip: str = "100000/minute", workers: int = 2) -> None:
        self.port = _free_port()
        self.env = {**os.environ, **env, "CRM_RATELIMIT_PER_IP": per_ip, "CRM_RATELIMIT_PER_FORM": "100000/minute"}
        self.log = log
        argv = [sys.executable, "-m", "crm_store", "serve", "--port", str(self.port), "--workers", str(workers)]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("crm serve did not answer /healthz within 60 s:\n" + self.log.read_text())

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def children(self) -> list[int]:
        """Every process gunicorn's master started: the workers and the intake."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(c) for c in children]

    def workers(self) -> list[int]:
        return [pid for pid in self.children() if pid != self.intake()]

    def intake(self) -> int | None:
        """The intake's own process (`python -m webform.intake`), if it runs."""
        for pid in self.children():
            try:
                if b"webform.intake" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            except FileNotFoundError:
                continue
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def served(env: dict[str, str], web_form: Any, tmp_path: Path) -> Iterator[Served]:
    server = Served(env, tmp_path / "serve.log")
    try:
        yield server
    finally:
        server.stop()


class Visitor:
    """One keep-alive connection posting to the JSON API with the form's integration key (no render token)."""

    def __init__(self, served: Served, form: Any) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        self.path = f"/api/forms/{form.public_id}/submissions"
        self.headers = {"Content-Type": "application/json", "X-Form-Key": form.integration_key}

    def submit(self, email: str, **extra: Any) -> tuple[int, dict[str, Any]]:
        body = {"last_name": "Chen", "first_name": "Mei", "email": email, "_submission": uuid.uuid4().hex, **extra}
        self.conn.request("POST", self.path, json.dumps(body), self.headers)
        answer = self.conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")

    def close(self) -> None:
        self.conn.close()


def together(n: int, task: Callable[[int], Any]) -> list[Any]:
    """Run task(0..n-1) in n threads released at once by a barrier; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = task(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a request hung"
    if errors:
        raise errors[0]
    return results


def stored(
    database_url: str, wait: float = 10.0, expect: int | None = None
) -> tuple[list[Lead], list[WebSubmission]]:
    """The leads and submissions in the database (waiting up to `wait` s for `expect` processed submissions)."""
    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + wait
        while True:
            with Session(engine) as session:
                subs = list(session.scalars(select(WebSubmission).order_by(WebSubmission.id)))
                leads = list(session.scalars(select(Lead).order_by(Lead.id)))
                done = [s for s in subs if s.outcome != "received"]
            if expect is None or len(done) >= expect or time.monotonic() > deadline:
                return leads, subs
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_slow_clients_do_not_freeze_the_server(served: Served, web_form: Any) -> None:
    """200 connections that send half a request and wait: /healthz and a submission still answer within 1 s."""
    path = f"/api/forms/{web_form.public_id}/submissions".encode()
    idle = []
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", served.port))
        if i % 2:
            s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 400\r\n\r\n{\"last_name\": \"Slo")
        else:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        idle.append(s)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        assert served.get("/healthz", timeout=1)[0] == 200
        visitor = Visitor(served, web_form)
        status, body = visitor.submit("fast@example.com")
        visitor.close()
        assert status == 201 and body["status"] == "received"
        assert time.monotonic() - started < 1.0
    finally:
        for s in idle:
            s.close()


@contextmanager
def database_stalled(database_url: str) -> Iterator[None]:
    """Another process holds the write lock (SQLite) or a lock on the submissions table (PostgreSQL)."""
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE web_submissions IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def test_a_stalled_database_answers_503_with_retry_after_never_hangs(served: Served, web_form: Any,
                                                                    database_url: str) -> None:
    with database_stalled(database_url):
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        body = json.dumps({"last_name": "Wu", "email": "wu@example.com", "_submission": uuid.uuid4().hex})
        conn.request("POST", f"/api/forms/{web_form.public_id}/submissions", body,
                     {"Content-Type": "application/json", "X-Form-Key": web_form.integration_key})
        answer = conn.getresponse()
        waited = time.monotonic() - started
        payload = json.loads(answer.read())
        conn.close()
        assert answer.status == 503 and payload["error"] == "busy"
        assert int(answer.getheader("Retry-After") or 0) >= 1
        assert waited < 12  # a bounded wait, not the half minute of a command
        assert served.get("/healthz", timeout=2)[0] == 200  # reads still answer
    visitor = Visitor(served, web_form)
    assert visitor.submit("after@example.com")[0] == 201  # and writes again once the lock is gone
    visitor.close()


def test_a_client_over_its_limit_is_refused_at_once_while_every_app_thread_waits(
        env: dict[str, str], web_form: Any, database_url: str, tmp_path: Path) -> None:
    """The server counts limits before a request waits for an app thread: a 429 never queues behind writes."""
    # one worker: its counts are exact (each process counts on its own) and 40 waiting visitors fill its threads
    server = Served({**env, "CRM_TRUSTED_PROXIES": "127.0.0.1"}, tmp_path / "serve.log", per_ip="1/minute", workers=1)
    path = f"/api/forms/{web_form.public_id}/submissions"

    def post(address: str) -> tuple[int, float, str | None]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        body = json.dumps({"last_name": "Wu", "email": f"wu@{address}.example.com", "_submission": uuid.uuid4().hex})
        started = time.monotonic()
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json", "X-Forwarded-For": address,
                                              "X-Form-Key": web_form.integration_key})
            answer = conn.getresponse()
            answer.read()
            return answer.status, time.monotonic() - started, answer.getheader("Retry-After")
        finally:
            conn.close()

    try:
        assert [post("198.51.100.250")[0] for _ in range(3)] == [201, 429, 429]
        with database_stalled(database_url):
            # 40 visitors from 40 addresses, each admitted: every app thread waits for the write
            stalled: list[tuple[int, float, str | None]] = []
            threads = [threading.Thread(target=lambda i=i: stalled.append(post(f"198.51.100.{i}"))) for i in range(40)]
            for thread in threads:
                thread.start()
            time.sleep(1.5)
            assert not stalled  # still waiting for the database
            refused = [post("198.51.100.250") for _ in range(4)]  # that address used its submission a minute
            assert not stalled or all(status == 503 for status, _, _ in stalled)
            for thread in threads:
                thread.join(30)
        assert [status for status, _, _ in refused] == [429] * 4
        assert max(waited for _, waited, _ in refused) < 1.0, refused  # not the 5 s the admitted ones wait
        assert all(int(after or 0) >= 1 for _, _, after in refused)
        assert sorted({status for status, _, _ in stalled}) == [503] and len(stalled) == 40, server.log.read_text()
    finally:
        server.stop()


def test_32_simultaneous_submissions_of_one_email_make_one_lead(served: Served, web_form: Any,
                                                                database_url: str) -> None:
    visitors = [Visitor(served, web_form) for _ in range(32)]
    answers = together(32, lambda i: visitors[i].submit("same@example.com", message=f"try {i}"))
    for v in visitors:
        v.close()
    assert [status for status, _ in answers] == [201] * 32
    leads, subs = stored(database_url, expect=32)
    assert len(leads) == 1 and len(subs) == 32
    assert Counter(s.outcome for s in subs) == Counter({"new_lead": 1, "added_to_lead": 31})
    assert {s.lead_id for s in subs} == {leads[0].id}


def test_300_submissions_from_16_connections_take_exact_turns(served: Served, web_form: Any, reps: list[Any],
                                                              database_url: str) -> None:
    visitors = [Visitor(served, web_form) for _ in range(16)]

    def burst(i: int) -> list[int]:
        return [visitors[i].submit(f"v{i}-{n}@example.com")[0] for n in range(i * 300 // 16, (i + 1) * 300 // 16)]

    statuses = [s for batch in together(16, burst) for s in batch]
    for v in visitors:
        v.close()
    assert statuses == [201] * 300
    leads, subs = stored(database_url, expect=300)
    assert len(subs) == 300 and len(leads) == 300
    assert len({lead.lead_no for lead in leads}) == 300  # distinct numbers
    owners = [lead.owner_id for lead in sorted(leads, key=lambda lead: lead.id)]
    rotation = [r.id for r in reps]
    assert Counter(owners) == {r: 100 for r in rotation}  # exact round robin
    start = rotation.index(owners[0])
    assert owners == [rotation[(start + k) % 3] for k in range(300)]  # in turn, none skipped or taken twice


def test_kill_9_of_a_worker_mid_burst_loses_no_accepted_submission(served: Served, web_form: Any,
                                                                   database_url: str) -> None:
    accepted: list[str] = []
    lock = threading.Lock()

    def burst(i: int) -> None:
        visitor = Visitor(served, web_form)
        for n in range(40):
            try:
                status, body = visitor.submit(f"k{i}-{n}@example.com")
            except (OSError, http.client.HTTPException):  # the connection died with its worker
                visitor.close()
                visitor = Visitor(served, web_form)
                continue
            if status == 201:
                with lock:
                    accepted.append(body["submission"])
        visitor.close()

    killer = threading.Timer(0.5, lambda: os.kill(served.workers()[0], signal.SIGKILL))
    killer.start()
    together(8, burst)
    killer.join()
    _leads, subs = stored(database_url, expect=len(accepted))
    stored_ids = {s.public_id for s in subs}
    assert len(accepted) > 100
    assert set(accepted) <= stored_ids  # every 201 is in the database
    engine = create_engine(database_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(WebSubmission)) == len(stored_ids)
    engine.dispose()


def _connections_of(pid: int, port: int) -> int:
    """How many established TCP connections on the server's `port` the process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            held += local_port == port and state == "01" and inode in inodes  # 01: ESTABLISHED
    return held


def test_keep_alive_connections_are_shared_out_over_the_workers(served: Served) -> None:
    """Browsers keep their connection: 32 opened one after another while the server idles must not all land
    on the worker that happens to wake first (the other core would idle under their load)."""
    conns = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=10) for _ in range(32)]
    try:
        for conn in conns:
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() is not None
        held = {pid: _connections_of(pid, served.port) for pid in served.workers()}
        assert sum(held.values()) == 32, held
        assert min(held.values()) >= 4, held
    finally:
        for conn in conns:
            conn.close()
