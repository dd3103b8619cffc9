"""The erasure log, and erased values made unreadable in the database files.

Every `crm person erase` leaves one row: a hash of the address and the time, never the data. A backup taken
before the erase still holds the person; `crm restore` reads the log of the database it replaces and erases
them again (`privacy.reapply_erasures`).

On SQLite an erase overwrites what it frees with zeros (`secure_delete`), and `wipe_freed` then folds the
write-ahead log into the database and empties it (after a VACUUM where SQLite was built to leave freed
space as it was), so neither `leadline.db` nor `leadline.db-wal` keeps an erased value. On PostgreSQL the
old row versions stay in the table files until VACUUM (README › Personal data and backups).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crm_store.db.engine import make_engine
from crm_store.errors import CrmError
from crm_store.languages import N_
from crm_store.models import Erasure, utcnow

_SALT = b"leadline erasure log\0"  # keeps these hashes apart from any other SHA-256 of an address


@dataclass(frozen=True)
class Entry:
    """One erasure: whose address (hashed) and when."""

    email_hash: str
    erased_at: dt.datetime


def normalise_email(email: str) -> str:
    """Return an address as personal-data requests match it: trimmed, lower case."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """Return the SHA-256 the log keeps for an address."""
    return hashlib.sha256(_SALT + normalise_email(email).encode()).hexdigest()


def log(session: Session, email: str, at: dt.datetime | None = None) -> Erasure:
    """Record an erasure in the caller's transaction."""
    entry = Erasure(email_hash=email_hash(email), erased_at=at or utcnow())
    session.add(entry)
    return entry


def entries(session: Session) -> list[Entry]:
    """Every erasure the database's log holds, oldest first."""
    rows = session.execute(select(Erasure.email_hash, Erasure.erased_at).order_by(Erasure.erased_at, Erasure.id))
    return [Entry(h, at) for h, at in rows]


def read_log(source: str) -> list[Entry]:
    """Read the erasure log of another database: a URL, or the path of a SQLite file (none: an empty log)."""
    url = source if "://" in source else f"sqlite:///{Path(source).expanduser().resolve()}"
    path = make_url(url).database if url.startswith("sqlite") else None
    if path is not None and not Path(path).is_file():
        raise CrmError(N_("--erasures-from: there is no database at %(path)s") % {"path": path})
    engine = make_engine(url)
    try:
        if "erasures" not in inspect(engine).get_table_names():
            return []
        with Session(engine) as session:
            return entries(session)
    except SQLAlchemyError as exc:
        raise CrmError(N_("--erasures-from: the erasure log of %(source)s cannot be read (%(reason)s)") % {
            "source": source, "reason": getattr(exc, "orig", exc)}) from exc
    finally:
        engine.dispose()


def secure_delete(session: Session) -> None:
    """Make SQLite overwrite with zeros what this session's transaction deletes or replaces."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def wipe_freed(engine: Engine) -> bool:
    """After an erase commits: make sure no freed page keeps an erased value, then empty SQLite's write-ahead log.

    A SQLite built without SECURE_DELETE left the bytes of every row changed before the erase in freed
    space: VACUUM rewrites the file without them. Returns False when another connection kept the log
    from being emptied (the next checkpoint does it); always True on PostgreSQL, where VACUUM is the
    administrator's step (README › Personal data and backups).
    """
    if engine.dialect.name != "sqlite":
        return True
    raw = engine.raw_connection()  # outside any transaction: neither VACUUM nor a checkpoint runs inside one
    try:
        cursor = raw.cursor()
        if not zeroes_freed_space(cursor):
            cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cursor.fetchone()  # (busy, log frames, frames checkpointed)
        cursor.close()
    except sqlite3.OperationalError:  # another writer held the database past the busy timeout
        return False
    finally:
        raw.close()
    return row is not None and row[0] == 0


def zeroes_freed_space(cursor: Any) -> bool:
    """Whether this SQLite overwrites what it frees even without `secure_delete` (built with SECURE_DELETE)."""
    cursor.execute("PRAGMA compile_options")
    return "SECURE_DELETE" in {row[0] for row in cursor.fetchall()}
