"""The warehouse: the store's business tables copied into a DuckDB file through ADBC and Arrow.

Each warehouse table has the name and the columns of its store table, typed from the models rather than
from what the driver infers: ADBC's SQLite driver guesses a column's type from its first rows (an empty or
NULL-led column arrives as int64) and keeps timestamps as text and Exact amounts as scaled integers; its
PostgreSQL driver returns NUMERIC as strings. So every column is read with an explicit cast on the store's
side (on SQLite behind a typed first row, dropped again) and cast to its DuckDB type on the way in:
amounts become DECIMAL(20, scale) holding the real value on both backends, timestamps naive UTC TIMESTAMP.

All tables are read in one transaction (one snapshot of the store) and written into a new file beside the
target, renamed into place when complete: a reader never sees a half-built warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import duckdb

from crm_store.errors import CrmError

if TYPE_CHECKING:  # SQLAlchemy and the models are imported by the refresh only: reading reports needs neither
    from sqlalchemy import Column, Table

FILENAME = "analytics.duckdb"

# Not business data: the search index, the audit trail, sign-in security, the outbox and other machinery.
EXCLUDED_TABLES = frozenset({
    "search_documents", "search_grams", "search_gram_stats", "search_phone_grams",
    "audit_log", "erasures", "sign_in_failures", "outbox", "web_submissions", "saved_filters",
    "record_counters", "flow_runs", "company_settings",
})
# Secrets and sign-in state never leave the store.
EXCLUDED_COLUMNS = frozenset({
    ("users", "password_hash"), ("users", "failed_sign_ins"), ("users", "last_failed_sign_in_at"),
    ("users", "locked_until"), ("web_forms", "integration_key"),
})

Progress = Callable[[str, int], None]
SQLITE_BATCH_ROWS = 65536  # rows per Arrow batch read from SQLite


@dataclass(frozen=True)
class Refresh:
    """What a refresh copied: tables, rows, how long it took, and the moment of the store it shows (naive UTC)."""

    tables: int
    rows: int
    seconds: float
    snapshot_at: dt.datetime


@dataclass(frozen=True)
class Field:
    """One copied column: its name, its DuckDB type and the kind of value the store keeps in it."""

    name: str
    duck_type: str
    kind: str  # int, bool, exact (scaled integer on SQLite), real (float on SQLite), text, date, timestamp
    scale: int = 0


def warehouse_path(data_dir: Path) -> Path:
    """Return where the warehouse of a data dir lives."""
    return data_dir / FILENAME


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; fail naming the path when it has not been built."""
    if not path.is_file():
        raise CrmError(f"no analytics warehouse at {path}: run `crm analytics refresh` first")
    return duckdb.connect(str(path), read_only=True)


def copied_tables() -> list[Table]:
    """The store's tables the warehouse copies, in dependency order."""
    import crm_store.models  # noqa: F401 - every model registers its table on Base.metadata
    from crm_store.models.base import Base

    return [t for t in Base.metadata.sorted_tables if t.name not in EXCLUDED_TABLES]


def fields(table: Table) -> list[Field]:
    """The columns of a table the warehouse copies, with their DuckDB types."""
    return [_field(c) for c in table.columns if (table.name, c.name) not in EXCLUDED_COLUMNS]


def _field(column: Column[Any]) -> Field:
    from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, String

    from crm_store.models.base import Exact, FixedDecimal

    kind = column.type
    if isinstance(kind, FixedDecimal):
        return Field(column.name, f"DECIMAL(20, {kind.scale})", "exact" if isinstance(kind, Exact) else "real",
                     kind.scale)
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return Field(column.name, "TIMESTAMP", "timestamp")
    if isinstance(kind, Date):
        return Field(column.name, "DATE", "date")
    if isinstance(kind, Boolean):
        return Field(column.name, "BOOLEAN", "bool")
    if isinstance(kind, Integer):
        return Field(column.name, "BIGINT", "int")
    if isinstance(kind, String | JSON):
        return Field(column.name, "VARCHAR", "text")
    raise TypeError(f"{column.table.name}.{column.name}: no warehouse type for {kind!r}")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- reading the store ------------------------------------------------------------------------------

_SQLITE_READ = {"int": "INTEGER", "bool": "INTEGER", "exact": "INTEGER", "real": "REAL"}
_SQLITE_FIRST = {"int": "0", "bool": "0", "exact": "0", "real": "0.0", "text": "''", "date": "''", "timestamp": "''"}


def sqlite_select(table: Table) -> str:
    """The SELECT reading a table from SQLite with every column's type pinned by a first row `_s = 1`."""
    cols = fields(table)
    first = ", ".join(f"{_SQLITE_FIRST[f.kind]} AS {_q(f.name)}" for f in cols)
    rest = ", ".join(f"CAST({_q(f.name)} AS {_SQLITE_READ.get(f.kind, 'TEXT')})" for f in cols)
    return f"SELECT 1 AS _s, {first} UNION ALL SELECT 0, {rest} FROM {_q(table.name)}"


def postgresql_select(table: Table) -> str:
    """The SELECT reading a table from PostgreSQL: numbers and JSON as text, timestamps as naive UTC."""
    def read(f: Field) -> str:
        if f.kind == "timestamp":
            return f"({_q(f.name)} AT TIME ZONE 'UTC') AS {_q(f.name)}"
        if f.kind in ("exact", "real", "text"):
            return f"CAST({_q(f.name)} AS TEXT) AS {_q(f.name)}"
        if f.kind == "int":
            return f"CAST({_q(f.name)} AS BIGINT) AS {_q(f.name)}"
        return _q(f.name)

    return f"SELECT 0 AS _s, {', '.join(read(f) for f in fields(table))} FROM {_q(table.name)}"


def _duck_value(backend: str, f: Field) -> str:
    """The DuckDB expression turning a column as read into its warehouse type."""
    if f.kind == "exact" and backend == "sqlite":  # units of the last place: 12345000 is 1234.5000
        unit = f"CAST('1e-{f.scale}' AS DECIMAL({f.scale + 1}, {f.scale}))"
        return f"CAST(CAST({_q(f.name)} AS DECIMAL(20, 0)) * {unit} AS {f.duck_type})"
    return f"CAST({_q(f.name)} AS {f.duck_type})"


@contextmanager
def _store_snapshot(database_url: str) -> Iterator[tuple[str, Any]]:
    """One read-only transaction on the store: (backend, ADBC cursor)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite

        if not url.database or not Path(url.database).is_file():
            raise CrmError(f"no SQLite database at {url.database}")
        uri = f"file:{quote(str(Path(url.database).resolve()))}?mode=ro"  # never writes, even by mistake
        with closing(sqlite.connect(uri)) as conn:  # autocommit off: one transaction
            with closing(conn.cursor()) as cur:
                cur.execute("SELECT count(*) FROM sqlite_schema")  # starts the read transaction: the snapshot
                cur.fetchall()
                yield "sqlite", cur
            conn.rollback()
        return
    import adbc_driver_postgresql.dbapi as postgresql

    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with closing(postgresql.connect(libpq)) as conn, closing(conn.cursor()) as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield "postgresql", cur
        conn.rollback()


def _read(backend: str, cur: Any, table: Table) -> Any:
    """A stream of Arrow record batches of one table."""
    if backend == "sqlite":
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(SQLITE_BATCH_ROWS)})
        cur.execute(sqlite_select(table))
    else:
        cur.execute(postgresql_select(table))
    return cur.fetch_record_batch()


# -- building the file ------------------------------------------------------------------------------

def refresh(database_url: str, target: Path, *, progress: Progress | None = None) -> Refresh:
    """Copy the store's business tables into a new DuckDB file and rename it to `target`."""
    from sqlalchemy.engine import make_url

    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    _remove(building)
    rows = 0
    tables = copied_tables()
    try:
        with closing(duckdb.connect(str(building))) as duck, _store_snapshot(database_url) as (backend, cur):
            snapshot_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            for table in tables:
                count = _copy(duck, backend, table, _read(backend, cur, table))
                rows += count
                if progress is not None:
                    progress(table.name, count)
            settings = _settings(backend, cur)
            _write_extras(duck, snapshot_at, make_url(database_url).render_as_string(hide_password=True), settings)
            duck.execute("CHECKPOINT")
        os.replace(building, target)
    finally:
        _remove(building)
    return Refresh(len(tables), rows, time.perf_counter() - started, snapshot_at)


def refresh_job(factory: Any, as_of: dt.datetime, outcome: Any) -> None:
    """The refresh-analytics job (`crm_store.automation.runs.Job`): rebuild $CRM_DATA_DIR/analytics.duckdb from the
    configured store; count the tables and rows. Run nightly by the flow, by `crm flows run refresh-analytics`, and
    by an admin's "Refresh now" on the Reports page. The warehouse shows the store as it is now whatever `as_of`
    says: a copy cannot be taken in the past."""
    from crm_store.config import load_config

    config = load_config()
    done = refresh(config.database_url, warehouse_path(config.data_dir))
    outcome.add("tables", done.tables)
    outcome.add("rows", done.rows)


def _copy(duck: duckdb.DuckDBPyConnection, backend: str, table: Table, batches: Any) -> int:
    columns = ", ".join(f"{_duck_value(backend, f)} AS {_q(f.name)}" for f in fields(table))
    duck.register("_source", batches)
    try:
        duck.execute(f"CREATE TABLE {_q(table.name)} AS SELECT {columns} FROM _source WHERE _s = 0")
    finally:
        duck.unregister("_source")
    [(count,)] = duck.execute(f"SELECT count(*) FROM {_q(table.name)}").fetchall()
    return int(count)


def _settings(backend: str, cur: Any) -> dict[str, str]:
    """Every company setting as text (stored values over defaults), read in the same snapshot."""
    from crm_store.settings.company import DEFINITIONS

    cur.execute("SELECT key, CAST(value AS TEXT) FROM company_settings")
    stored = {key: json.loads(value) for key, value in cur.fetchall() if value is not None}
    return {d.key: _as_text(stored[d.key] if d.key in stored else d.default()) for d in DEFINITIONS}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _write_extras(duck: duckdb.DuckDBPyConnection, snapshot_at: dt.datetime, database: str,
                  settings: dict[str, str]) -> None:
    """The snapshot row, the settings and the company-zone macros."""
    duck.execute("CREATE TABLE _snapshot (taken_at TIMESTAMP, database VARCHAR)")
    duck.execute("INSERT INTO _snapshot VALUES (?, ?)", [snapshot_at, database])
    duck.execute("CREATE TABLE _settings (key VARCHAR, value VARCHAR)")
    duck.executemany("INSERT INTO _settings VALUES (?, ?)", list(settings.items()))
    zone = str(zoneinfo.ZoneInfo(settings["time_zone"]))  # a valid zone name: safe inside the macro's text
    literal = "'" + zone.replace("'", "''") + "'"
    duck.execute(f"CREATE MACRO local_ts(t) AS timezone({literal}, t AT TIME ZONE 'UTC')")
    duck.execute("CREATE MACRO local_date(t) AS CAST(local_ts(t) AS DATE)")


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
