"""The baseline of the web-form load benchmark: a bare Flask endpoint that inserts one row, no validation.

`bench.webform_load` serves this module with the same gunicorn command line as the product
(`webform.cli.gunicorn_argv`, only the app module differs) and sends it the same requests:

    POST /api/forms/<anything>/submissions   → INSERT the body (as text) into one SQLite table, 201

The database is a file in a throw-away data dir, opened the way the product opens SQLite
(WAL, synchronous=NORMAL, a 30 s busy timeout), one connection per gunicorn thread, autocommit.
No JSON parsing, no rate limits, no ORM: the floor any capture endpoint on this stack stands on.

The file is named by the BENCH_BASELINE_DB environment variable. `python -m bench.webform_baseline
[--port 8001]` serves it alone on a temporary database until Ctrl-C, to poke at by hand.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request

from webform.asgi import WholeRequests

ENV = "BENCH_BASELINE_DB"
BUSY_TIMEOUT_S = 30.0  # crm_store.db.SQLITE_BUSY_TIMEOUT_MS
MAX_BODY = 64 * 1024  # webform.app.MAX_BODY
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS submissions "
    "(id INTEGER PRIMARY KEY, received_at REAL NOT NULL, body TEXT NOT NULL)"
)


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


def create_app(path: str | Path) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    local = threading.local()

    def db() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect(path)
        return conn

    @app.post("/api/forms/<public_id>/submissions")
    def submit(public_id: str) -> tuple[Response, int]:
        cur = db().execute("INSERT INTO submissions (received_at, body) VALUES (?, ?)",
                           (time.time(), request.get_data(as_text=True)))
        return jsonify(submission=cur.lastrowid, status="received"), 201

    @app.get("/healthz")
    def healthz() -> Response:
        db().execute("SELECT 1").fetchone()
        return jsonify(status="ok", database="up")

    return app


def _app_from_env() -> Flask | None:
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
                                     description="Serve the baseline endpoint alone on a temporary database.")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="leadline-baseline-"))
    path = tmp / "baseline.db"
    create_schema(path)
    cmd = gunicorn_argv("127.0.0.1", args.port, args.workers, app="bench.webform_baseline:asgi")
    print(f"POST http://127.0.0.1:{args.port}/api/forms/x/submissions → {path}; Ctrl-C stops", file=sys.stderr)
    try:
        subprocess.run(cmd, env={**os.environ, ENV: str(path)}, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        print(f"{count_rows(path)} rows stored", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
