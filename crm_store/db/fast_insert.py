"""Insert many rows through the driver's executemany, with the columns' own bind processors.

SQLAlchemy's Core `insert()` with a list of dicts builds and processes a parameter dict per row;
for the bulk path (demo data, imports) that bookkeeping costs more than SQLite's own work. Here
the statement is compiled once, each value goes through the same processor SQLAlchemy would use
(so what is stored is identical), and the driver gets plain tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session


def _default(column: Any) -> Any:
    default = column.default
    return default.arg if default is not None and not callable(default.arg) else None


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts, any subset of the table's columns) with one executemany."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = [c.name for c in table.columns if any(c.name in r for r in rows[:1]) or _default(c) is not None]
    names += [n for n in {k for r in rows for k in r} if n not in names]
    columns = [table.c[n] for n in names]
    processors: list[Callable[[Any], Any] | None] = [c.type._cached_bind_processor(dialect) for c in columns]
    defaults = [_default(c) for c in columns]
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join([marker] * len(names))})"
    )
    plan = list(zip(names, processors, defaults, strict=True))
    data = [
        tuple(
            (p(r.get(n, d)) if p is not None else r.get(n, d)) for n, p, d in plan
        )
        for r in rows
    ]
    connection.exec_driver_sql(sql, data)


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """Reserve primary keys for rows about to be inserted, so no row needs a RETURNING round trip.

    PostgreSQL hands them out from the table's sequence; on SQLite the transaction already holds
    the database's write lock (BEGIN IMMEDIATE), so the ids above the current maximum are ours.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        stmt = text("select nextval(pg_get_serial_sequence(:t, 'id')) from generate_series(1, :n)")
        return list(session.scalars(stmt, {"t": table.name, "n": count}))
    start = session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
    return list(range(start + 1, start + 1 + count))
