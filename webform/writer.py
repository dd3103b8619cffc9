"""Write transactions for the web app: retried when busy and, on SQLite, committed in groups.

SQLite has one writer at a time, so a submission's throughput is bounded by how long its write
transaction holds the lock. Two things shorten that:

- Writers of this app queue on a thread lock and an OS file lock (`flock`), so the next writer is
  woken the moment the previous one commits; SQLite's own busy handler polls with growing sleeps
  (1, 2, 5, 10 … 100 ms) and stretches the tail latency.
- Group commit: submissions that arrive while a transaction is running are run together in the
  next one, each in its own SAVEPOINT (one failing rolls back only itself), and committed once.
  Every caller still returns only after the commit that holds its work.

PostgreSQL takes row locks itself: each unit of work there is its own transaction.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("leadline.web")
# PostgreSQL serialization failure, deadlock, a lock not granted within lock_timeout
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
MAX_GROUP = 32
T = TypeVar("T")


def retryable(exc: DBAPIError) -> bool:
    """Whether a database error means "try again": busy/locked SQLite, a PostgreSQL deadlock."""
    if getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


class DatabaseBusy(Exception):
    """The database took longer than the bounded wait to take a write; the caller answers 503 and Retry-After."""

    retry_after = 5  # seconds a client should wait before trying again


@dataclass(eq=False)
class _Job(Generic[T]):
    work: Callable[[Session], T]
    deadline: float
    atomic: bool = False  # all or nothing by itself: written without a savepoint of its own
    done: bool = False
    value: Any = None
    error: BaseException | None = None

    def result(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class Writer:
    """Runs units of work in committed transactions for one process, each waiting at most `wait` seconds."""

    sessions: sessionmaker[Session]
    lock_path: str | None = None  # set for SQLite: writers queue on this file and commit in groups
    wait: float = 5.0  # the most a caller waits for the database to take its write before DatabaseBusy
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _pending: list[_Job[Any]] = field(default_factory=list)
    _leading: bool = False
    _fd: int | None = None

    def run(self, work: Callable[[Session], T], *, atomic: bool = False) -> T:
        """Run `work(session)` and commit; return its result once it is durable, or raise DatabaseBusy.

        `atomic` work either writes all it writes or nothing (single statements that change nothing when
        they fail, as SQLite's are), so in a group it needs no savepoint of its own.
        """
        deadline = time.monotonic() + self.wait
        if self.lock_path is None:
            return self._transaction(work, deadline)
        job: _Job[T] = _Job(work, deadline, atomic)
        with self._cond:
            self._pending.append(job)
            while True:
                while self._leading and not job.done:
                    if job not in self._pending:  # in the group being written: its leader tells when done
                        self._cond.wait()
                    elif not self._cond.wait(max(job.deadline - time.monotonic(), 0)) and job in self._pending:
                        self._pending.remove(job)  # still queued behind a stuck writer: give up waiting
                        raise DatabaseBusy("the database is busy")
                    # (timed out just as a leader took it into its group: that group's answer is its answer)
                if job.done:
                    return job.result()
                self._leading = True
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                try:
                    self._cond.release()
                    try:
                        self._locked(partial(self._run_group, group), min(j.deadline for j in group))
                    except BaseException as exc:  # the lock itself failed: nobody may wait forever
                        for other in group:
                            other.error, other.done = other.error or exc, True
                        raise
                    finally:
                        self._cond.acquire()
                finally:
                    self._leading = False
                    self._cond.notify_all()

    def _locked(self, fn: Callable[[], None], deadline: float) -> None:
        """Run `fn` holding this database's writer lock, waited for until `deadline` at the most."""
        if self._fd is None:  # opened after the fork, so each worker process has its own lock
            assert self.lock_path is not None  # only called when lock_path is set
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DatabaseBusy("another writer holds the database") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.005)
        try:
            fn()
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _run_group(self, group: list[_Job[Any]]) -> None:
        """One transaction for the group, a savepoint per job; jobs are marked done after the commit."""
        deadline, attempt = min(j.deadline for j in group), 0
        while True:
            session = self.sessions()
            try:
                for job in group:
                    job.value, job.error = None, None
                    savepoint = None if job.atomic else session.begin_nested()
                    try:
                        job.value = job.work(session)
                        if savepoint is not None:
                            savepoint.commit()
                    except (OperationalError, DBAPIError) as exc:
                        if retryable(exc):
                            raise
                        if savepoint is not None:
                            savepoint.rollback()
                        job.error = exc
                    except Exception as exc:  # noqa: BLE001 - this job's own failure, kept for its caller
                        if savepoint is not None:
                            savepoint.rollback()
                        job.error = exc
                session.commit()
                break
            except (OperationalError, DBAPIError) as exc:
                session.rollback()
                failure = _failure(exc, deadline, attempt)
                if failure is not None:
                    for job in group:
                        job.error = failure
                    break
                log.warning("database busy, retrying a group of %d (%s)", len(group), exc.orig)
                time.sleep(0.02 * 2**attempt)
                attempt += 1
            except BaseException as exc:
                session.rollback()
                for job in group:
                    job.error = exc
                break
            finally:
                session.close()
        for job in group:
            job.done = True

    def _transaction(self, work: Callable[[Session], T], deadline: float) -> T:
        attempt = 0
        while True:
            session = self.sessions()
            try:
                result = work(session)
                session.commit()
                return result
            except (OperationalError, DBAPIError) as exc:
                session.rollback()
                failure = _failure(exc, deadline, attempt)
                if failure is not None:
                    raise failure from exc
                log.warning("database busy, retrying (%s)", exc.orig)
                time.sleep(0.02 * 2**attempt)
                attempt += 1
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()


def _failure(exc: DBAPIError, deadline: float, attempt: int) -> BaseException | None:
    """What a failed write ends with: None to try again, DatabaseBusy past the deadline, else the error."""
    if not retryable(exc):
        return exc
    if time.monotonic() + 0.02 * 2**attempt >= deadline:
        return DatabaseBusy("the database is busy")
    return None
