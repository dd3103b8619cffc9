"""The intake: a submission is answered 201 once it is stored, then turned into a lead here, in batches.

`crm serve` runs the intake in a process of its own (`python -m webform.intake`, started by gunicorn's
master), and every worker process runs one `Intake` thread standing by. One of them at a time holds the
intake lock (a file lock beside the SQLite file; an advisory lock on PostgreSQL): that one processes what
is pending, oldest first, so round-robin turns and duplicate checks have a single consumer and come out
exact. The holder looks every `poll` seconds (a worker's own thread, when it holds the lock, is also
woken by each submission it stores), so a lead is visible and its owner's notice queued well within a
second of the 201. If the holder dies, another takes the lock within a second. On shutdown the holder drains what is
pending; at start, whatever a stopped server left pending is processed first. The holder also queues the
admins' daily quarantine summary (`crm_store.capture.quarantine_summary`), looking once an hour whether it is due.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from crm_store.capture import intake, quarantine_summary

from .writer import DatabaseBusy

if TYPE_CHECKING:
    from webform.state import WebState

log = logging.getLogger("leadline.intake")
BATCH = 200  # submissions per transaction at most: a batch holds SQLite's write lock while it runs
POLL = 0.05  # seconds between looks at the intake when nothing woke the thread
# Seconds a woken thread lets more submissions arrive before it processes them: a batch has a fixed cost
# (~5 ms: the pending rows, the forms, the rotations, the known emails), which a batch of one would pay
# per submission. A lead still appears well within the second.
GATHER = 0.05
RETRY = 1.0  # seconds between attempts to take the lock, or after a failed batch
LOCK_KEY = 0x1EAD_1A7E  # PostgreSQL advisory-lock key of the intake (any constant, the same everywhere)
DRAIN_WAIT = 10.0  # seconds a stopping worker waits for the lock to process what the holder left pending
SUMMARY_EVERY = 3600.0  # seconds between looks at whether the admins' daily quarantine summary is due
# Set (to "1") by `crm serve` when the intake runs in a process of its own: the workers' threads stand by,
# first trying the lock after STANDBY seconds, so that process takes it as it starts.
PROCESS_ENV = "LEADLINE_INTAKE_PROCESS"
STANDBY = 5.0
READY_WAIT = 60.0  # seconds the intake process takes at most to say it is ready


class IntakeLock:
    """The right to process the intake: one holder among all the worker processes of a database."""

    def __init__(self, state: WebState) -> None:
        self.state = state
        self.held = False
        self._fd: int | None = None
        self._conn: Any = None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; return whether this process holds it now."""
        if self.held:
            return True
        if self.state.writer.lock_path is not None:
            self._fd = self._fd if self._fd is not None else os.open(
                f"{self.state.writer.lock_path.removesuffix('.writers')}.intake", os.O_RDWR | os.O_CREAT, 0o600
            )
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            self.held = True
            return True
        self._conn = self._conn or self.state.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.held = bool(self._conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar())
        return self.held

    def release(self) -> None:
        """Let another process take over (the OS releases it too if this process dies)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            if self.held:  # the connection goes back to the pool: the session (and a lock) would outlive it
                self._conn.execute(text("select pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            self._conn.close()
            self._conn = None
        self.held = False


class Intake:
    """The thread that processes pending submissions while this process holds the intake lock."""

    def __init__(self, state: WebState, *, batch: int = BATCH, poll: float = POLL, gather: float = GATHER,
                 standby: float = 0.0) -> None:
        self.state, self.batch, self.poll, self.gather = state, batch, poll, gather
        self.standby = standby  # seconds before the first try for the lock
        self.lock = IntakeLock(state)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.ready = threading.Event()  # set once it first tried the lock (and processed a batch if it got it)
        self._thread = threading.Thread(target=self._run, name="intake", daemon=True)
        self._summarised_at: float | None = None

    def start(self) -> None:
        """Start processing (in the background)."""
        self._thread.start()

    def wake(self) -> None:
        """Tell the thread a submission was just stored."""
        self._wake.set()

    def stop(self) -> None:
        """Drain what is pending if this process holds the lock, then stop."""
        self._stopping.set()
        self._wake.set()
        self._thread.join()

    def process_once(self) -> int:
        """Process one batch of pending submissions; return how many there were."""
        state = self.state
        return state.write(lambda session: intake.process_pending(
            session, self.batch, validator=state.validator(session), settings=state.company_settings(session)
        ))

    def _run(self) -> None:
        self._stopping.wait(self.standby)
        while not self._stopping.is_set():
            if not self.lock.acquire():
                self.ready.set()
                self._stopping.wait(RETRY)
                continue
            try:
                done = self.process_once()
            except DatabaseBusy as exc:  # another writer holds the database: the rows wait their turn
                log.warning("web submissions wait: %s", exc)
                self._stopping.wait(RETRY)
                continue
            except Exception:  # noqa: BLE001 - the thread must outlive a bad batch; the rows stay pending
                log.exception("processing web submissions failed; trying again shortly")
                self._stopping.wait(RETRY)
                continue
            self.ready.set()
            self._summarise()
            if done < self.batch:
                if self._wake.wait(self.poll):  # woken by a submission: let the ones behind it in too
                    self._stopping.wait(self.gather)
                self._wake.clear()
        self._drain()

    def _pending(self) -> int:
        try:
            with self.state.readers() as session:
                return intake.backlog(session)[0]
        except Exception:  # noqa: BLE001 - stopping: what is left is processed at the next start
            log.exception("could not read the intake's backlog while stopping")
            return 0

    def _summarise(self) -> None:
        """Queue the admins' quarantine summary of the day if it is due, looking at most once an hour."""
        now = time.monotonic()
        if self._summarised_at is not None and now - self._summarised_at < SUMMARY_EVERY:
            return
        self._summarised_at = now
        try:
            admins = self.state.write(quarantine_summary.queue_summary)
        except Exception:  # noqa: BLE001 - the summary waits for the next look; the intake goes on
            log.exception("queuing the quarantine summary failed; trying again in an hour")
            return
        if admins:
            log.info("queued the quarantine summary for %d admin(s)", len(admins))

    def _drain(self) -> None:
        """Process what is pending before the process exits.

        A worker that does not hold the lock may have answered 201 after the holder drained and left (its
        last request was still arriving): it waits for the lock, a bounded time, while anything is pending.
        """
        deadline = time.monotonic() + DRAIN_WAIT
        while not self.lock.held:
            if not self._pending() or time.monotonic() >= deadline:
                return
            if not self.lock.acquire():
                time.sleep(0.1)
        try:
            while self.process_once():
                pass
        except Exception:  # noqa: BLE001 - what is left stays pending for the next start
            log.exception("draining web submissions failed; the rest is processed at the next start")
        finally:
            self.lock.release()


def main() -> None:
    """`python -m webform.intake`: the intake in a process of its own, as `crm serve` runs it beside its workers.

    In a process of its own the intake does not share a worker's interpreter lock with that worker's
    request threads: under load it gets its share of the machine and keeps up with what is accepted. It
    takes the intake lock (the workers' own intake threads stand by and take over within a second if it
    dies), looks every `POLL` seconds, drains what is pending when told to stop (SIGTERM, SIGINT) and
    stops by itself when the server that started it is gone.
    """
    import signal

    from crm_store.config import load_config
    from webform.app import create_app

    logging.basicConfig(level=load_config().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = create_app().extensions["leadline"]
    state.intake = process = Intake(state)
    stopping, parent = threading.Event(), os.getppid()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    process.start()
    process.ready.wait(READY_WAIT)
    print("ready", flush=True)  # to the server waiting for it (stdout); the log goes to stderr
    while not stopping.wait(1.0) and os.getppid() == parent:
        pass
    process.stop()


if __name__ == "__main__":
    main()
