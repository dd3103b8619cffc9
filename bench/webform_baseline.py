"""The baseline of the web-form load benchmark: a bare Flask endpoint that inserts one row, no validation.

`bench.webform_load` serves this module with the same gunicorn command line as the product
(`webform.cli.gunicorn_argv`, only the app module differs) and sends it the same requests:

    POST /api/forms/<anything>/submissions   → INSERT the body (as text) into one table, 201

The table lives in one of two databases, chosen by the environment:

- BENCH_BASELINE_DB names a SQLite file in a throw-away data dir, opened the way the product opens
  SQLite (WAL, synchronous=NORMAL, a 30 s busy timeout);
- BENCH_BASELINE_URL, a postgresql:// URL (a SQLAlchemy `postgresql+psycopg://` one is accepted too),
  names a PostgreSQL database instead; it wins when both are set.

Either way: one connection per gunicorn thread, autocommit, one INSERT per request. No JSON parsing,
no rate limits, no ORM: the floor any capture endpoint on this stack stands on.

`python -m bench.webform_baseline [--port 8001] [--url postgresql://…]` serves it alone until Ctrl-C,
on a temporary SQLite database or on the given PostgreSQL database, to poke at by hand.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from webform.asgi import WholeRequests

ENV = "BENCH_BASELINE_DB"
URL_ENV = "BENCH_BASELINE_URL"
BUSY_TIMEOUT_S = 30.0  # crm_store.db.SQLITE_BUSY_TIMEOUT_MS
MAX_BODY = 64 * 1024  # webform.app.MAX_BODY
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS submissions "
    "(id INTEGER PRIMARY KEY, received_at REAL NOT NULL, body TEXT NOT NULL)"
)
PG_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS submissions "
    "(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_at double precision NOT NULL, body text NOT NULL)"
)


# -- SQLite ---------------------------------------------------------------------------------------

def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the product's SQLite settings, in autocommit mode."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def create_schema(path: str | Path) -> None:
    """Create the one table (and switch the file to WAL) before the server starts."""
    conn = connect(path)
    try:
        conn.execute(SCHEMA)
    finally:
        conn.close()


def count_rows(path: str | Path) -> int:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    try:
        return conn.execute("SELECT count(*) FROM submissions").fetchone()[0]
    finally:
        conn.close()


def _sqlite_insert(conn: sqlite3.Connection, received_at: float, body: str) -> int | None:
    cur = conn.execute("INSERT INTO submissions (received_at, body) VALUES (?, ?)", (received_at, body))
    return cur.lastrowid


# -- PostgreSQL -----------------------------------------------------------------------------------

def pg_conninfo(url: str) -> str:
    """The libpq URL psycopg takes: a SQLAlchemy `postgresql+psycopg://` URL loses its driver part."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError(f"{url!r} is not a postgresql:// URL")
    return f"postgresql://{rest}"


def pg_connect(url: str) -> Any:
    """A psycopg connection in autocommit mode: each INSERT commits on its own."""
    import psycopg

    return psycopg.connect(pg_conninfo(url), autocommit=True)


def pg_create_schema(url: str) -> None:
    """Create the one table before the server starts."""
    with pg_connect(url) as conn:
        conn.execute(PG_SCHEMA)


def pg_count_rows(url: str) -> int:
    with pg_connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM submissions").fetchone()[0])


def _pg_insert(conn: Any, received_at: float, body: str) -> int:
    row = conn.execute("INSERT INTO submissions (received_at, body) VALUES (%s, %s) RETURNING id",
                       (received_at, body)).fetchone()
    return int(row[0])


# -- the app ----------------------------------------------------------------------------------------

def _flask_app(connect_db: Callable[[], Any], insert: Callable[[Any, float, str], int | None]) -> Flask:
    """The endpoint and /healthz on one lazily opened connection per thread."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    local = threading.local()

    def db() -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect_db()
        return conn

    @app.post("/api/forms/<public_id>/submissions")
    def submit(public_id: str) -> tuple[Response, int]:
        new_id = insert(db(), time.time(), request.get_data(as_text=True))
        return jsonify(submission=new_id, status="received"), 201

    @app.get("/healthz")
    def healthz() -> Response:
        db().execute("SELECT 1").fetchone()
        return jsonify(status="ok", database="up")

    return app


def create_app(path: str | Path) -> Flask:
    """The baseline on a SQLite file."""
    return _flask_app(lambda: connect(path), _sqlite_insert)


def create_pg_app(url: str) -> Flask:
    """The baseline on a PostgreSQL database."""
    pg_conninfo(url)  # a bad URL fails when the app loads, not on the first request
    return _flask_app(lambda: pg_connect(url), _pg_insert)


def _app_from_env() -> Flask | None:
    url = os.environ.get(URL_ENV)
    if url:
        return create_pg_app(url)
    path = os.environ.get(ENV)
    return create_app(path) if path else None


app = _app_from_env()
# What gunicorn loads (bench.webform_baseline:asgi): the same server side as the product's.
asgi = WholeRequests(app, max_body=64 * 1024) if app is not None else None


def main(argv: list[str] | None = None) -> int:
    import argparse
    import shutil
    import subprocess
    import tempfile

    from webform.cli import gunicorn_argv

    parser = argparse.ArgumentParser(prog="python -m bench.webform_baseline",
                                     description="Serve the baseline endpoint alone on a temporary SQLite "
                                                 "database or on a PostgreSQL database.")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", help="a postgresql:// URL of an existing database to insert into (the table is "
                                      "created if missing) instead of a temporary SQLite file")
    args = parser.parse_args(argv)
    cmd = gunicorn_argv("127.0.0.1", args.port, args.workers, app="bench.webform_baseline:asgi")
    tmp: Path | None = None
    if args.url:
        pg_create_schema(args.url)
        env, where, count = {URL_ENV: args.url, ENV: ""}, args.url, lambda: pg_count_rows(args.url)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="leadline-baseline-"))
        path = tmp / "baseline.db"
        create_schema(path)
        env, where, count = {ENV: str(path), URL_ENV: ""}, str(path), lambda: count_rows(path)
    print(f"POST http://127.0.0.1:{args.port}/api/forms/x/submissions → {where}; Ctrl-C stops", file=sys.stderr)
    try:
        subprocess.run(cmd, env={**os.environ, **env}, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        print(f"{count()} rows stored", file=sys.stderr)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
