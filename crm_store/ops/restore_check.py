"""The rows a backup counts, and the check of a restored database against them before a restore is called done."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy import Connection, func, inspect, select, table

from crm_store.db.engine import make_engine
from crm_store.errors import CrmError
from crm_store.languages import N_


def sqlite_counts(db: sqlite3.Connection, names: Iterable[str]) -> dict[str, int]:
    """Rows in each of these tables of a SQLite database (tables it lacks are left out)."""
    present = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
    return {name: db.execute(f'select count(*) from "{name}"').fetchone()[0] for name in names if name in present}


def sqlite_tables(db: sqlite3.Connection) -> list[str]:
    """The tables of a SQLite database, without SQLite's own."""
    rows = db.execute("select name from sqlite_master where type = 'table' and name not like 'sqlite%' order by name")
    return [row[0] for row in rows]


def table_counts(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Rows in each of these tables (tables the database lacks are left out)."""
    existing = set(inspect(conn).get_table_names())
    return {n: conn.scalar(select(func.count()).select_from(table(n))) or 0 for n in names if n in existing}


def check_sqlite(path: Path, expected: Mapping[str, int]) -> int:
    """Run SQLite's integrity check on a restored database, then compare its row counts; return tables compared."""
    db = sqlite3.connect(path)
    try:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
        found = sqlite_counts(db, expected) if problems == ["ok"] else {}
    except sqlite3.DatabaseError as exc:
        problems, found = [str(exc)], {}
    finally:
        db.close()
    if problems != ["ok"]:
        raise CrmError(N_("the restored database fails its integrity check (%(problem)s); nothing restored")
                       % {"problem": problems[0]})
    return _compare(found, expected)


def check_postgresql(url: str, expected: Mapping[str, int]) -> int:
    """Compare a restored PostgreSQL database's row counts with the backup's; return tables compared."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = table_counts(conn, expected)
    finally:
        engine.dispose()
    return _compare(found, expected)


def _compare(found: Mapping[str, int], expected: Mapping[str, int]) -> int:
    for name, rows in sorted(expected.items()):
        if found.get(name) != rows:
            raise CrmError(N_("the restored database does not match the backup: %(table)s has %(found)s rows, the "
                              "manifest says %(expected)s; nothing restored")
                           % {"table": name, "found": found.get(name, "no"), "expected": rows})
    return len(expected)
