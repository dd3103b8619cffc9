"""Report pages benchmark (issue 19): each of the eleven report pages (`/reports/<name>`) on the large demo, as a
manager (their team) and as an admin (everyone), against `/healthz` in the same run, and customer-value's CSV and
XLSX downloads.

The data is a COPY of the large demo's data dir (`bench.sales_pages`' copy: `--source DIR`'s SQLite file copied
with `cp --reflink=auto` into the work dir, never written; `--keep DIR` keeps the copy and reuses it, a copy that
`bench.sales_pages --keep DIR` made too), brought to this version's schema (`crm init`'s upgrade). The pages read
the work dir's `analytics.duckdb`: kept when it is there, else copied from `--warehouse PATH` (a warehouse refreshed
from the same copy: its `_snapshot` must name the work dir's database) or built from the copy
(`analytics.warehouse.refresh`, about a minute on the large demo; timed).

First, untimed by the server, in this process (`--skip-breakdown` leaves it out): where a page's work goes — each
report run on the warehouse with the page's parameters for each role (`run_report`: the SQL and the rows as
Python), its charts drawn (`charts_for` + `render_svg`, English) and 25 rows formatted as the table shows them
(`presentation.format_cell`): the page's own parts, without Flask, the template or the network.

Then the app under `crm serve`'s own command line (`bench.webform_load.Server`: gunicorn, uvicorn workers):

- cold: one client signed in as the manager asks for each report page once, right after the server started (the
  first request of each report: the SQL, the charts and the page; a worker keeps a report's result and charts per
  warehouse snapshot, parameters and scope), then one signed in as the admin the same (their scope is another
  key: computed again); latency and the charts on the page;
- warm: `--clients` (8) clients (`bench.staff_pages.Client`: aiohttp, keep-alive, each signed in through the
  sign-in form) ask for `/healthz` (the baseline: same server, loop and clients) and then for each report page in
  turn, `--warmup` + `--seconds` (2 + 15) s each in a closed loop, as the manager and then as the admin; a request
  started in the warm-up is not counted (so another worker's first, cold computation is not either);
- customer-value's CSV and XLSX (`/reports/customer-value.csv`, `.xlsx`) downloaded once each as the admin (its
  rows kept from the page: the time is the file's making and sending), their size and the CSV's row count.

Every answer must be a 200. p50 / p95 / p99 per page and the ratio to `/healthz`'s. Goal (issue): p95 < 1 s on each
page. SQLite only (the demo's data dir). Run `python -m bench.report_pages --help`; `--seconds 5` is a quick check.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.sales_pages import DATABASE, copy_demo, password_of, upgrade_copy
from bench.sales_pages import STATE_FILE as SALES_STATE_FILE
from bench.staff_pages import (
    HEALTHZ,
    BenchError,
    Client,
    Page,
    Recorded,
    _ms,
    _ratio,
    log,
    phase,
    server_env,
    sign_in_all,
    source_commit,
    summarise_page,
)
from bench.webform_load import Server
from crm_store import links

GOAL_P95_MS = 1000
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "report_pages.json"
STATE_FILE = "bench_report_pages.json"  # in a kept work dir: where the copy came from
WAREHOUSE = "analytics.duckdb"
MANAGER, ADMIN = "manager@example.com", "admin@example.com"
ROLES = (("manager", "manager"), ("admin", "admin"))  # (role key, the user's role in the store)
DOWNLOAD_REPORT = "customer-value"
TABLE_ROWS = 25  # the rows a report page shows (webform.staff.reports.routes.ROWS_PER_PAGE)
DOWNLOAD_TIMEOUT_S = 600  # the clients' own timeout (60 s) is too short for the admin's customer-value workbook


# -- the copy and its warehouse ------------------------------------------------------------------------

def prepare(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The work dir with a copy of the demo: reused when this benchmark or bench.sales_pages made it before."""
    for name in (STATE_FILE, SALES_STATE_FILE):
        if (work / name).exists():
            kept = json.loads((work / name).read_text())
            log(f"reusing the copy in {work} (of {kept['copy']['source']}, made by {name})")
            return {**kept, "reused": True}
    if args.source is None:
        raise BenchError("pass --source DIR (the demo's data dir to copy), or a --keep DIR that holds a copy")
    if args.source.resolve() == work:
        raise BenchError("the work dir must not be the source: the copy is written to")
    kept = {"copy": copy_demo(args.source.resolve(), work)}
    (work / STATE_FILE).write_text(json.dumps(kept, indent=2) + "\n")
    return {**kept, "reused": False}


def snapshot_of(path: Path) -> tuple[dt.datetime | None, str]:
    """When the warehouse at `path` was taken, and from which database."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        found = con.execute("SELECT taken_at, database FROM _snapshot ORDER BY taken_at DESC LIMIT 1").fetchone()
    finally:
        con.close()
    return (found[0], str(found[1])) if found else (None, "")


def warehouse(work: Path, given: Path | None) -> dict[str, Any]:
    """The work dir's warehouse: kept, copied from `given` (refreshed from this copy), or refreshed now (timed)."""
    target = work / WAREHOUSE
    database = str(work / DATABASE)
    how = "kept"
    refreshed: dict[str, Any] = {}
    if not target.exists() and given is not None:
        _taken, source = snapshot_of(given)
        if not source.endswith(database):
            raise BenchError(f"{given} was refreshed from {source}, not from {database}: leave --warehouse out to "
                             "build one from the copy")
        subprocess.run(["cp", "--reflink=auto", str(given), str(target)], check=True)
        how = f"copied from {given}"
    elif not target.exists():
        from analytics.warehouse import refresh

        log(f"refreshing the warehouse from {database} (about a minute on the large demo)...")
        done = refresh(f"sqlite:///{database}", target)
        refreshed = {"seconds": round(done.seconds, 1), "rows": done.rows, "tables": done.tables}
        how = "refreshed by this run"
        log(f"refreshed: {done.rows:,} rows of {done.tables} tables in {done.seconds:.0f} s")
    taken, source = snapshot_of(target)
    if not source.endswith(database):
        log(f"note: {target} was refreshed from {source}, not from {database}")
    return {"path": str(target), "how": how, "taken_at": taken.isoformat() if taken else None, "database": source,
            "bytes": target.stat().st_size, **({"refresh": refreshed} if refreshed else {})}


# -- the page's parts, in this process -----------------------------------------------------------------

def scopes(env: dict[str, str], emails: dict[str, str]) -> dict[str, frozenset[int] | None]:
    """Each role's `viewers` as the pages work them out (`viewing.viewers(scope_of(...))`); check the users."""
    from sqlalchemy import select

    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.models import User
    from crm_store.staff.scope import scope_of
    from webform.staff.reports.viewing import viewers

    engine = make_engine(load_config(env).database_url)
    try:
        with session_factory(engine)() as session:
            out: dict[str, frozenset[int] | None] = {}
            for role, store_role in ROLES:
                user = session.scalar(select(User).where(User.email == emails[role]))
                if user is None or user.role != store_role or not user.active:
                    raise BenchError(f"{emails[role]} is not an active {store_role} of the demo in this database")
                out[role] = viewers(scope_of(session, user))
            return out
    finally:
        engine.dispose()


def breakdown(path: Path, viewers: dict[str, frozenset[int] | None], files: bool) -> dict[str, dict[str, Any]]:
    """Per role and report: the SQL (with the rows as Python), the charts drawn as SVG, 25 rows formatted; with
    `files`, the admin's customer-value as CSV and as XLSX (`analytics.formats`)."""
    from analytics import charts as charting
    from analytics import presentation
    from analytics.reports import REPORTS, ReportParams, run_report
    from analytics.warehouse import open_warehouse

    con = open_warehouse(path)
    try:
        found = con.execute("SELECT value FROM _settings WHERE key = 'default_currency'").fetchone()
        currency = str(found[0]) if found else "TWD"
        t = time.perf_counter()
        charting.warm_up()
        log(f"  matplotlib and the CJK font loaded in {time.perf_counter() - t:.1f} s (once a process)")
        out: dict[str, dict[str, Any]] = {}
        for role, scope in viewers.items():
            out[role] = {}
            for name in REPORTS:
                cursor = con.cursor()
                try:
                    t0 = time.perf_counter()
                    result = run_report(cursor, name, ReportParams(viewers=scope))
                    t1 = time.perf_counter()
                finally:
                    cursor.close()
                drawn = [charting.render_svg(c, language="en", currency=currency)
                         for c in charting.charts_for(name, result)]
                t2 = time.perf_counter()
                for row in result.rows[:TABLE_ROWS]:
                    for column, value in zip(result.columns, row, strict=True):
                        presentation.format_cell(name, column, value, language="en", currency=currency)
                t3 = time.perf_counter()
                out[role][name] = {"rows": len(result.rows), "sql_ms": round((t1 - t0) * 1000, 1),
                                   "charts": len(drawn), "charts_ms": round((t2 - t1) * 1000, 1),
                                   "svg_kb": round(sum(len(s.encode()) for s in drawn) / 1024, 1),
                                   "table_ms": round((t3 - t2) * 1000, 2)}
                row = out[role][name]
                if role == "admin" and name == DOWNLOAD_REPORT and files:
                    from analytics.formats import as_csv, as_xlsx

                    t4 = time.perf_counter()
                    as_csv(result, name)
                    t5 = time.perf_counter()
                    as_xlsx(result, name)
                    row["csv_ms"] = round((t5 - t4) * 1000, 1)
                    row["xlsx_ms"] = round((time.perf_counter() - t5) * 1000, 1)
                    log(f"  {role} {name}: as_csv {row['csv_ms']:,.0f} ms, as_xlsx {row['xlsx_ms']:,.0f} ms")
                log(f"  {role} {name}: {row['rows']:,} rows, SQL {row['sql_ms']:,.0f} ms, {row['charts']} charts "
                    f"{row['charts_ms']:,.0f} ms ({row['svg_kb']:,.0f} KB), table {row['table_ms']:.1f} ms")
        return out
    finally:
        con.close()


# -- the run -------------------------------------------------------------------------------------------

def report_pages() -> list[Page]:
    from analytics.reports import REPORTS

    return [Page(name, name, links.path("report", name=name), (links.path("report", name=name),),
                 roles=("manager", "admin"), goal_ms=GOAL_P95_MS) for name in REPORTS]


async def cold(client: Client, role: str) -> dict[str, dict[str, Any]]:
    """Each report page once, one after another: the first time this worker is asked for it in this scope."""
    out: dict[str, dict[str, Any]] = {}
    for page in report_pages():
        start = time.perf_counter()
        async with client.http.get(client.base + page.paths[0], allow_redirects=False) as resp:
            body = await resp.read()
            status = resp.status
        ms = (time.perf_counter() - start) * 1000
        if status != 200:
            raise BenchError(f"{role}: {page.paths[0]} answered {status}")
        text = body.decode("utf-8", "replace")
        out[page.key] = {"ms": round(ms, 1), "kb": round(len(body) / 1024, 1), "svg": text.count("<svg"),
                         "table": "<table" in text}
        log(f"  cold {role} {page.key}: {ms:,.0f} ms, {len(body) / 1024:,.0f} KB, {text.count('<svg')} <svg>")
    return out


async def prime(clients: list[Client], page: Page) -> list[float]:
    """Each client asks for the page once, all at once (untimed by the window): every worker computes what it keeps
    before the warm-up starts; how long each took (ms)."""

    async def one(client: Client) -> float:
        start = time.perf_counter()
        async with client.http.get(client.base + page.paths[0], allow_redirects=False) as resp:
            await resp.read()
            if resp.status != 200:
                raise BenchError(f"{page.paths[0]} answered {resp.status}")
        return round((time.perf_counter() - start) * 1000, 1)

    return list(await asyncio.gather(*(one(c) for c in clients)))


async def downloads(client: Client) -> dict[str, dict[str, Any]]:
    """customer-value's CSV and XLSX, once each; the CSV's rows counted."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S)
    out: dict[str, dict[str, Any]] = {}
    for fmt in ("csv", "xlsx"):
        path = links.path(f"report_{fmt}", name=DOWNLOAD_REPORT)
        start = time.perf_counter()
        async with client.http.get(client.base + path, allow_redirects=False, timeout=timeout) as resp:
            body = await resp.read()
            status = resp.status
        ms = (time.perf_counter() - start) * 1000
        if status != 200:
            raise BenchError(f"{path} answered {status}: {body[:200]!r}")
        row: dict[str, Any] = {"path": path, "ms": round(ms, 1), "kb": round(len(body) / 1024, 1)}
        if fmt == "csv":
            row["rows"] = sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig")))) - 1
        out[fmt] = row
        counted = f", {row['rows']:,} rows" if "rows" in row else ""
        log(f"  {path}: {ms:,.0f} ms, {len(body) / 1024:,.0f} KB{counted}")
    return out


async def signed_in_once_up(base: str, email: str, password: str, seed: int) -> list[Client]:
    """One client signed in; a connection refused right after the start (seen once: a worker still binding its
    socket) is tried again a few times."""
    import aiohttp

    for attempt in range(5):
        try:
            return await sign_in_all(base, 1, email, password, seed)
        except aiohttp.ClientConnectorError:
            if attempt == 4:
                raise
            log("  connection refused right after the start: trying again in 2 s")
            await asyncio.sleep(2)
    raise AssertionError("unreachable")


async def drive(base: str, password: str, emails: dict[str, str], args: argparse.Namespace,
                server: Server) -> dict[str, Any]:
    out: dict[str, Any] = {"cold": {}, "warm": {}, "primed": {}}
    for role, _ in ROLES:  # cold: one client, the first request of each report after the server started
        (client,) = await signed_in_once_up(base, emails[role], password, args.seed)
        try:
            out["cold"][role] = await cold(client, role)
        finally:
            await client.close()
    for role, _ in ROLES:
        clients = await sign_in_all(base, args.clients, emails[role], password, args.seed)
        log(f"{args.clients} clients signed in as {emails[role]} ({role})")
        try:
            out["warm"][role], out["primed"][role] = {}, {}
            for page in ([HEALTHZ] if role == "manager" else []) + report_pages():
                if page.key != HEALTHZ.key:
                    out["primed"][role][page.key] = await prime(clients, page)
                out["warm"][role][page.key] = rec = await phase(clients, page, args, server)
                window = summarise_page(page, rec, args)
                log(f"  {role} {page.key}: {window['requests']:,} requests, p50 {_ms(window['latency_ms']['p50'])} "
                    f"ms, p95 {_ms(window['latency_ms']['p95'])} ms, non-200 {window['non_200']:,}")
            if role == "admin":
                out["downloads"] = await downloads(clients[0])
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    return out


def summarise(warm: dict[str, dict[str, Recorded]], args: argparse.Namespace) -> dict[str, Any]:
    every = {HEALTHZ.key: HEALTHZ, **{p.key: p for p in report_pages()}}
    roles = {role: {key: summarise_page(every[key], rec, args) for key, rec in recs.items()}
             for role, recs in warm.items()}
    health = roles["manager"][HEALTHZ.key]["latency_ms"]
    for rows in roles.values():
        for key, row in rows.items():
            lat = row["latency_ms"]
            row["ratio_to_healthz"] = {q: round(lat[q] / health[q], 1) if lat[q] and health[q] else None
                                       for q in ("p50", "p95", "p99")}
            if key != HEALTHZ.key:
                row["goal_ms"] = GOAL_P95_MS
                row["goal_met"] = lat["p95"] is not None and lat["p95"] < GOAL_P95_MS
    return roles


def markdown(r: dict[str, Any]) -> str:
    m, wh = r["machine"], r["warehouse"]
    load = ", ".join(f"{x:.1f}" for x in r["load_average_at_start"])
    load_end = ", ".join(f"{x:.1f}" for x in r["load_average_at_end"])
    lines = [
        f"## Report pages: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, gunicorn {m['gunicorn']} with "
        f"{r['workers']} uvicorn workers",
        "",
        f"Source: {(r['source_commit'] or 'unknown')[:12]} (with the working tree's local changes, if any). Data: a "
        f"copy of {r['copy']['source']} ({r['copy']['bytes'] / 2**30:.1f} GiB); warehouse {wh['bytes'] / 2**20:,.0f} "
        f"MB taken {wh['taken_at']} ({wh['how']}). Load average (1, 5, 15 min) {load} at the start, {load_end} at "
        f"the end. {r['clients']} clients (one process, asyncio + aiohttp, one keep-alive connection and session "
        f"each, loopback), closed loop, {r['seconds']:g} s measured per page after {r['warmup']:g} s of warm-up; "
        "cold: one client, the first request of each report after the server started.",
    ]
    health = r["roles"]["manager"][HEALTHZ.key]
    lines += ["", f"`/healthz` (as the manager's clients): p50 {_ms(health['latency_ms']['p50'])} ms, p95 "
              f"{_ms(health['latency_ms']['p95'])} ms, {health['requests_per_s']:,.0f} requests/s."]
    for role, _ in ROLES:
        rows, colds = r["roles"][role], r["cold"][role]
        parts = r.get("breakdown", {}).get(role, {})
        lines += ["", f"### As {'a manager' if role == 'manager' else 'an admin'} ({r['emails'][role]})", "",
                  "| report | rows | cold ms | first round of 8, max ms | warm p50 ms | p95 ms | p99 ms | "
                  "÷ /healthz p95 | requests/s | KB | server CPU ms/req | other CPU s | goal (p95 < 1 s) |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
        for key, row in rows.items():
            if key == HEALTHZ.key:
                continue
            lat, cpu = row["latency_ms"], row["cpu"]
            cells = [f"`{row['shown']}`", f"{parts[key]['rows']:,}" if key in parts else "",
                     _ms(colds[key]["ms"]), _ms(max(r["primed"][role][key])), _ms(lat["p50"]), _ms(lat["p95"]),
                     _ms(lat["p99"]),
                     _ratio(row["ratio_to_healthz"]["p95"]), f"{row['requests_per_s']:,.0f}", f"{row['mean_kb']:,.1f}",
                     f"{cpu.get('server_cpu_ms_per_request', 0):.1f}",
                     f"{cpu.get('other_processes_cpu_seconds', 0):,.1f} of "
                     f"{cpu.get('machine_cpu_seconds_available', 0):,.0f}",
                     "met" if row["goal_met"] else "**NOT met**"]
            lines.append("| " + " | ".join(cells) + " |")
    if r.get("breakdown"):
        lines += ["", "Where a cold page's work goes (in the bench's process, no Flask: the report run on the "
                  "warehouse with the page's parameters, its charts drawn as SVG, 25 rows formatted):", "",
                  "| report | manager: SQL ms · charts ms | admin: SQL ms · charts ms · SVG KB | "
                  "25 rows formatted ms |", "|---|--:|--:|--:|"]
        for name, man in r["breakdown"]["manager"].items():
            adm = r["breakdown"]["admin"][name]
            lines.append(f"| {name} | {man['sql_ms']:,.0f} · {man['charts_ms']:,.0f} | {adm['sql_ms']:,.0f} · "
                         f"{adm['charts_ms']:,.0f} · {adm['svg_kb']:,.0f} | {adm['table_ms']:.1f} |")
    d = r.get("downloads", {})
    if d:
        lines += ["", f"Downloads as the admin, once each: `{d['csv']['path']}` {_ms(d['csv']['ms'])} ms "
                  f"({d['csv']['kb']:,.0f} KB, {d['csv']['rows']:,} rows); `{d['xlsx']['path']}` "
                  f"{_ms(d['xlsx']['ms'])} ms ({d['xlsx']['kb']:,.0f} KB)."]
        made = r.get("breakdown", {}).get("admin", {}).get(DOWNLOAD_REPORT, {})
        if "xlsx_ms" in made:
            lines.append(f"The same files made in the bench's process from the rows (`analytics.formats`): as_csv "
                         f"{_ms(made['csv_ms'])} ms, as_xlsx {_ms(made['xlsx_ms'])} ms.")
    failed = [(role, key, row) for role, rows in r["roles"].items() for key, row in rows.items() if row["non_200"]]
    lines.append("")
    if failed:
        lines.append("**Failures** (every request counted, the warm-up too):")
        for role, key, row in failed:
            examples = "; ".join(f"{f['status']} {f['path']}" for f in row["failure_examples"][:3])
            lines.append(f"- {role} {key}: {row['non_200']:,} non-200 answers {row['status']} — e.g. {examples}")
    else:
        lines.append("Every answer was a 200.")
    logs = {k: v for k, v in r["server_log"].items() if v}
    if logs:
        lines.append(f"Server log: {', '.join(f'{k} {v:,}' for k, v in logs.items())}.")
    cold_over = [f"{role} {key}" for role, rows in r["cold"].items() for key, row in rows.items()
                 if row["ms"] >= GOAL_P95_MS]
    lines.append(f"Goal warm p95 < {GOAL_P95_MS:,} ms on each page: {'met' if r['goal_met'] else 'NOT met'}. "
                 f"Cold first requests over 1 s: {', '.join(cold_over) or 'none'}.")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.report_pages",
        description="Cold first request and warm p50/p95/p99 of each report page (/reports/<name>) on a copy of the "
                    "large demo under `crm serve`, as a manager and as an admin, 8 signed-in clients, against "
                    "/healthz (goal p95 < 1 s); customer-value's CSV and XLSX downloads.",
    )
    p.add_argument("--source", type=Path, help="the data dir `crm demo --size large` filled: its database is copied "
                   "(never written); not needed when --keep DIR holds a copy already")
    p.add_argument("--keep", metavar="DIR", type=Path,
                   help="the work dir to copy into and keep, or to reuse when a run (this one's or bench.sales_pages') "
                        "copied into it before; default: a temporary one, deleted at the end")
    p.add_argument("--warehouse", type=Path, help="a warehouse refreshed from this copy to copy into the work dir "
                   "(default: refresh one from the copy when the work dir has none)")
    p.add_argument("--password", help="the demo users' password (default: read from the source's demo.log)")
    p.add_argument("--manager", default=MANAGER, help=f"the manager to sign in as (default {MANAGER})")
    p.add_argument("--admin", default=ADMIN, help=f"the admin to sign in as (default {ADMIN})")
    p.add_argument("--seconds", type=float, default=15, help="measured seconds per page (default 15)")
    p.add_argument("--warmup", type=float, default=2, help="seconds of load before each page's window (default 2)")
    p.add_argument("--clients", type=int, default=8, help="concurrent signed-in clients (default 8)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--skip-breakdown", action="store_true", help="leave out the in-process breakdown")
    p.add_argument("--skip-file-breakdown", action="store_true",
                   help="leave the in-process CSV and XLSX of customer-value out of the breakdown (the XLSX takes "
                        "most of a minute)")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the clients")
    p.add_argument("--json", metavar="PATH", type=Path, default=RESULTS,
                   help="where to write the JSON result (default bench/results/report_pages.json)")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.clients < 1 or args.workers < 1:
        p.error("--seconds, --clients and --workers must be positive, --warmup at least 0")
    args.depth = 2  # `phase` asks it of deep pages; these are not
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="leadline-reports-"))
    work.mkdir(parents=True, exist_ok=True)
    emails = {"manager": args.manager, "admin": args.admin}
    result: dict[str, Any] = {
        "benchmark": "report_pages",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.report_pages " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": describe(("gunicorn", "uvicorn", "flask", "duckdb", "matplotlib", "aiohttp")),
        "source_commit": source_commit(),
        "seconds": args.seconds, "warmup": args.warmup, "clients": args.clients, "workers": args.workers,
        "emails": emails, "goal_p95_ms": GOAL_P95_MS, "load_average_at_start": list(os.getloadavg()),
    }
    try:
        kept = prepare(work, args)
        result["copy"] = kept["copy"]
        password = password_of(args.source or Path(kept["copy"]["source"]), args.password)
        env = server_env(work, None)
        result["schema"] = upgrade_copy(env)
        result["warehouse"] = warehouse(work, args.warehouse)
        viewers = scopes(env, emails)
        result["viewers"] = {role: None if v is None else len(v) for role, v in viewers.items()}
        if not args.skip_breakdown:
            log("breakdown (in this process, before the server starts):")
            result["breakdown"] = breakdown(work / WAREHOUSE, viewers, not args.skip_file_breakdown)
        server = Server("webform.asgi:app", env, work / "server.log", args.workers)
        server.env["CRM_BASE_URL"] = server.base
        log(f"serving {work} on {server.base} ({args.workers} workers)")
        with server:
            driven = asyncio.run(drive(server.base, password, emails, args, server))
        result["server_log"] = server.log_summary()
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        if args.keep:
            log(f"work dir kept in {work} (reuse it with --keep {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["cold"], result["primed"] = driven["cold"], driven["primed"]
    result["downloads"] = driven.get("downloads", {})
    result["roles"] = summarise(driven["warm"], args)
    result["load_average_at_end"] = list(os.getloadavg())
    result["goal_met"] = all(row.get("goal_met", True) for rows in result["roles"].values() for row in rows.values())
    result["failures"] = sum(row["non_200"] for rows in result["roles"].values() for row in rows.values())
    admin_rows = result.get("breakdown", {}).get("admin", {}).get(DOWNLOAD_REPORT, {}).get("rows")
    if admin_rows is not None and result["downloads"]["csv"]["rows"] != admin_rows:
        log(f"MISMATCH: the CSV has {result['downloads']['csv']['rows']:,} rows, the report {admin_rows:,}")
        result["failures"] += 1
    result["cold_median_ms"] = {role: statistics.median(row["ms"] for row in rows.values())
                                for role, rows in result["cold"].items()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(markdown(result))
    log(f"results written to {args.json}")
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
