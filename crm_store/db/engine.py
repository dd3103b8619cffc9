"""Engines and sessions: SQLite in WAL mode with foreign keys on, or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from crm_store.config import Config, load_config

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, lock_wait_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """Create an engine; SQLite connections get WAL, a busy timeout and foreign keys.

    `lock_wait_ms` bounds how long a statement waits for a lock another connection holds (SQLite's busy
    timeout; PostgreSQL's lock_timeout when it is shorter than the default): the web app waits seconds,
    not the half minute a command may wait.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": lock_wait_ms / 1000}, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms=lock_wait_ms))
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if lock_wait_ms < SQLITE_BUSY_TIMEOUT_MS:
        kwargs.setdefault("connect_args", {})["options"] = f"-c lock_timeout={lock_wait_ms}"
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    # Let SQLAlchemy issue BEGIN itself, so a transaction starts where the session starts.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: concurrent writers then queue on the busy
    # timeout instead of failing with "database is locked" when a read upgrades to a write.
    # Sessions that only read (see `read_only`) begin DEFERRED and never block writers.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("leadline_read_only") else "BEGIN IMMEDIATE")


def affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through a session changed."""
    return cast(CursorResult[Any], result).rowcount or 0


def read_only(engine: Engine) -> Engine:
    """The same engine and pool for read-only work: on SQLite its transactions take no write lock.

    Writing through it on SQLite may fail with "database is locked" instead of queueing; use it
    only for reads.
    """
    return engine.execution_options(leadline_read_only=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to the engine."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(config: Config | None = None) -> Iterator[Session]:
    """Open a session for one unit of work at an edge: commit on success, roll back on error."""
    engine = make_engine((config or load_config()).database_url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()
