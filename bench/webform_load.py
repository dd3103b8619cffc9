"""Web-form load benchmark: the capture API under gunicorn on SQLite and on PostgreSQL, against a bare-Flask baseline.

`--database` picks the databases (default `both`: SQLite first, then PostgreSQL). For each, one after
another, each run on a fresh throw-away data dir under /tmp and its own gunicorn
(`webform.cli.gunicorn_argv`: 2 uvicorn worker processes handing the app whole requests, unless told otherwise):

0. **serial** (`--serial-seconds`, default 5) — the product with one connection: a request's service
   time without contention, the ceiling of anything that serialises whole requests.
1. **throughput** — the product (`webform.asgi:app`), rate limits set far above the offered load
   (CRM_RATELIMIT_PER_IP / _PER_FORM = 1000000/minute). A closed loop of N keep-alive connections
   (default 16) posts to `POST /api/forms/<id>/submissions` as the embed script does (JSON, an
   allowed Origin, a render token, a fresh `_submission` key): ~80 % valid new visitors (201, new
   lead), ~10 % invalid (a bad email, 422) and ~10 % a new submission from an email already
   accepted (201, added to that lead). `form_min_fill_seconds` is 0 so no submission is quarantined.
2. **baseline** — `bench.webform_baseline`: one Flask route that inserts the body as text into one
   table of the same database (SQLite: WAL, same pragmas; PostgreSQL: one psycopg connection per
   thread, autocommit), no validation; the same gunicorn settings, requests and mix.
3. **overload** — the product again, with the per-IP limit set so the server admits about 2/3 of
   the capacity C measured in run 1 (`ceil(2/3 × C / workers)/second`: the in-process store counts
   per worker; one-second windows keep admission steady within a 60 s run, where a per-minute
   window would admit a burst and then refuse everything), and an open loop offering 3 × C
   requests/s from up to 64 connections. It shows how fast the 429s are and that every 2xx is
   still stored. `--overload-admit 1` admits all of C.

SQLite is a file in each run's data dir. PostgreSQL is a throw-away server started the way the tests
start it (`tests.pg_server.PostgresServer`: initdb into /tmp, trust auth on a loopback port, fsync=off),
with a fresh database per run named by CRM_DATABASE_URL (the baseline's by BENCH_BASELINE_URL); it is
stopped and deleted at the end. Without a PostgreSQL installation `--database both` says so and runs
SQLite only; `--database postgresql` fails.

The load comes from a separate process (one asyncio loop, aiohttp, keep-alive connections) on
loopback. The machine's cores are shared: the generator's CPU is reported beside the server's, and
so is the CPU other processes took during the window (PostgreSQL's own processes count there). A
latency runs from the moment the generator starts a request to the last byte of the answer (in the
open loop that includes waiting for a free connection; how late the generator itself started requests
is reported as its lag).
After each run the server is stopped and the rows are counted in its database: web_submissions must
equal the 201 answers (and split new_lead / added_to_lead as the valid / duplicate 201s), leads
the new-lead 201s; the baseline's rows must equal its 201s.

`--py-spy [PATH]` records the throughput runs' workers with py-spy (wall clock, idle threads too; not a
project dependency: `pip install --target /tmp/tools py-spy`) and reports which parts of a request
the samples fall in.

Goal (issue): ≥ 650 accepted/s (10× Vtiger; stretch 1,000), p99 < 100 ms, nothing lost, on each
database. Vtiger 8.2 did 65 leads/s with a p99 of 171 ms at 8 connections. Run
`python -m bench.webform_load --help`; `--quick` makes each run 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.machine import describe
from webform.asgi import THREADS

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tests.pg_server import PostgresServer

GOAL_ACCEPTED_PER_S = 650  # 10× Vtiger 8.2's 65/s
STRETCH_ACCEPTED_PER_S = 1000
GOAL_P99_MS = 100
VTIGER = {"leads_per_s": 65, "p99_ms": 171, "connections": 8, "version": "8.2"}
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "webform_load.json"
ORIGIN = "http://bench.test"
UNLIMITED = "1000000/minute"
KINDS = ("valid", "invalid", "duplicate")
VALID, INVALID, DUPLICATE = 0, 1, 2


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the load generator (runs in its own process) ------------------------------------------------

@dataclass(frozen=True)
class LoadSpec:
    url: str
    secret: str  # the app's secret key: each submission carries a render token of its own (each is good once)
    form: str  # the form's public id, which tokens are for
    tag: str  # makes submission keys and emails unique per run
    connections: int
    seconds: float
    warmup: float
    rate: float | None = None  # open loop at this many requests/s; None: closed loop
    invalid_share: float = 0.1
    duplicate_share: float = 0.1
    seed: int = 1


FIRST = ("Mei", "Wei", "Anna", "Chen", "Lucas", "Yu-Ting", "Sofia", "Hao", "Emma", "Jun")
SOURCES = ("google", "newsletter", "linkedin", "facebook", "partner")
MESSAGE = ("Hello, we are looking for a quote for {n} units delivered to our Taichung office before the end "
           "of the quarter. Could someone call me back this week? Thanks.")


def _generator_main(spec: LoadSpec, conn: Any, started: Any, measuring: Any, measured: Any) -> None:
    import asyncio

    try:
        result = asyncio.run(_load(spec, started, measuring, measured))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        measuring.set()
        measured.set()
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    else:
        conn.send(result)
    finally:
        conn.close()


async def _load(spec: LoadSpec, started: Any, measuring: Any, measured: Any) -> dict[str, Any]:
    import asyncio
    import random

    import aiohttp

    from webform.public.spam import render_token  # what the visitor's page got when it showed the form

    rnd = random.Random(spec.seed)
    accepted: list[str] = []  # emails whose first submission got a 201: duplicates pick from these
    starts, latencies, lags = array("d"), array("d"), array("d")
    statuses, kinds = array("H"), array("B")
    retry_after = Counter()
    errors: Counter[str] = Counter()
    tag = spec.tag
    n = 0

    def body() -> tuple[int, str, bytes]:
        nonlocal n
        i = n
        n += 1
        r = rnd.random()
        if r < spec.invalid_share:
            kind, email = INVALID, f"visitor{i}.{tag} at example.com"
        elif r < spec.invalid_share + spec.duplicate_share and accepted:
            kind, email = DUPLICATE, rnd.choice(accepted)
        else:
            kind, email = VALID, f"visitor{i}.{tag}@example{i % 97}.com"
        data = {
            "first_name": FIRST[i % len(FIRST)], "last_name": f"Bench{i}", "email": email,
            "phone": f"02 2{i % 1000:03d} {i % 10000:04d}", "company": f"Company {i % 500}",
            "message": MESSAGE.format(n=10 + i % 90), "_token": render_token(spec.secret, spec.form),
            "_submission": f"{tag}-{i:09d}",
            "utm_source": SOURCES[i % len(SOURCES)], "utm_medium": "cpc", "utm_campaign": "spring",
        }
        return kind, email, json.dumps(data).encode()

    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    limit = spec.connections
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=30)
    cpu0 = time.process_time()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
        t0 = time.perf_counter()
        t_measure = t0 + spec.warmup
        t_end = t_measure + spec.seconds

        async def one(scheduled: float | None) -> None:
            kind, email, data = body()
            start = time.perf_counter()
            try:
                async with session.post(spec.url, data=data) as resp:
                    await resp.read()
                    status = resp.status
                    if status == 429:
                        retry_after[resp.headers.get("Retry-After", "missing")] += 1
            except Exception as exc:  # noqa: BLE001 - counted as status 0
                status = 0
                errors[type(exc).__name__] += 1
            end = time.perf_counter()
            starts.append(start - t0)
            latencies.append(end - start)
            lags.append(0.0 if scheduled is None else start - scheduled)
            statuses.append(status)
            kinds.append(kind)
            if kind == VALID and status == 201:
                accepted.append(email)

        async def closed_loop() -> None:
            while time.perf_counter() < t_end:
                await one(None)

        async def open_loop(rate: float) -> None:
            interval, k, tasks = 1.0 / rate, 0, set()
            while True:
                due = t0 + k * interval
                if due >= t_end:
                    break
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                while due <= now and due < t_end:  # fire everything that is due (we may be behind)
                    task = asyncio.create_task(one(due))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    k += 1
                    due = t0 + k * interval
            if tasks:
                await asyncio.gather(*tasks)

        async def marks() -> None:
            await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
            measuring.set()
            await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
            measured.set()

        started.set()
        marker = asyncio.create_task(marks())
        if spec.rate is None:
            await asyncio.gather(*(closed_loop() for _ in range(spec.connections)))
        else:
            await open_loop(spec.rate)
        wall = time.perf_counter() - t0
        await marker
    return {
        "starts": starts.tobytes(), "latencies": latencies.tobytes(), "lags": lags.tobytes(),
        "statuses": statuses.tobytes(), "kinds": kinds.tobytes(), "retry_after": dict(retry_after),
        "errors": dict(errors), "wall_seconds": wall, "cpu_seconds": time.process_time() - cpu0,
        "window": [spec.warmup, spec.warmup + spec.seconds],
    }


class Requests:
    """What the generator recorded, one entry per request, in arrays."""

    def __init__(self, raw: dict[str, Any]) -> None:
        def arr(code: str, key: str) -> array:
            a = array(code)
            a.frombytes(raw[key])
            return a

        self.starts, self.latencies, self.lags = arr("d", "starts"), arr("d", "latencies"), arr("d", "lags")
        self.statuses, self.kinds = arr("H", "statuses"), arr("B", "kinds")
        self.window = raw["window"]
        self.raw = raw

    def indices(self, measured_only: bool) -> range | list[int]:
        if not measured_only:
            return range(len(self.statuses))
        lo, hi = self.window
        return [i for i, s in enumerate(self.starts) if lo <= s < hi]


def run_load(spec: LoadSpec, server: Server, profiler: PySpy | None = None) -> tuple[Requests, dict[str, Any]]:
    """Run the generator in a spawned process; sample server, generator and machine CPU over the measured window."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    started, measuring, measured = ctx.Event(), ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_generator_main, args=(spec, child, started, measuring, measured),
                       name="load-generator", daemon=True)
    proc.start()
    child.close()
    limit = spec.warmup + spec.seconds + 120
    if not started.wait(60):
        proc.kill()
        raise SystemExit("the load generator did not start")
    try:
        measuring.wait(limit)
        if profiler is not None:
            profiler.start(server.pids()[1:], spec.seconds)
        cpu0, gen0, machine0 = server.cpu_seconds(), _proc_cpu(proc.pid), machine_ticks()
        measured.wait(limit)
        cpu1, gen1, machine1 = server.cpu_seconds(), _proc_cpu(proc.pid), machine_ticks()
        if not parent.poll(limit):
            raise SystemExit("the load generator did not finish")
        raw = parent.recv()
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        if profiler is not None:
            profiler.finish()
    if "error" in raw:
        raise SystemExit(f"the load generator failed: {raw['error']}")
    ticks, idle = machine1[0] - machine0[0], machine1[1] - machine0[1]
    busy_s = (ticks - idle) / CLK_TCK
    server_s, gen_s = cpu1 - cpu0, gen1 - gen0
    return Requests(raw), {
        "server_cpu_seconds": round(server_s, 2), "generator_cpu_seconds_window": round(gen_s, 2),
        "machine_busy_share": round(1 - idle / max(1, ticks), 3),
        # CPU that neither the server nor the generator used: other work on the machine during the window
        "other_processes_cpu_seconds": round(max(0.0, busy_s - server_s - gen_s), 2),
        "machine_cpu_seconds_available": round(ticks / CLK_TCK, 2),
    }


# -- sampling profile of the server (py-spy, optional) --------------------------------------------------

# (label, a py-spy frame "function (file:line)" the stack must hold, one it must not): share of the samples
# taken inside a request. py-spy runs with --idle, so a thread waiting for the GIL, for SQLite's write lock
# or in the busy handler's sleep counts where it waits.
PROFILE_PARTS: tuple[tuple[str, str, str | None], ...] = (
    ("request (Flask.wsgi_app)", "Flask.wsgi_app (", None),
    ("  rate limits (webform.ratelimit)", "hit (webform/ratelimit.py", None),
    ("  _submit: the view's work", "_submit (webform/public/routes.py", None),
    ("    _form: form lookup (version check)", "_form (webform/public/routes.py", None),
    ("    VisitorForm.check (WTForms)", "check (webform/public/forms.py", None),
    ("    spam.check_token", "check_token (webform/public/spam.py", None),
    ("    WebState.write: the one write transaction", "WebState.write (", None),
    ("      waiting for the writer lock (thread lock + flock, before the transaction)", "WebState.write (",
     "Writer._run_group ("),
    ("      BEGIN IMMEDIATE: waiting for the SQLite write lock", "_sqlite_begin_immediate (", None),
    ("      submissions.accept (the insert)", "accept (crm_store/capture/submissions.py", None),
    ("      COMMIT", "do_commit (", "process_pending ("),
    ("intake: process_pending (outside requests)", "process_pending (crm_store/capture/intake.py", None),
    ("SQLAlchemy statement compile / cache key (anywhere)", "_compile_w_cache (", None),
    ("sqlite3 cursor execute (anywhere, incl. lock waits)", "do_execute (", None),
)


INTAKE = PROFILE_PARTS[-3][0]

# The frame of the app's serialised write (inside its thread lock and flock, see webform.writer.Writer).
HOLDING_WRITER_LOCK = "Writer._run_group ("


class PySpy:
    """py-spy (not a project dependency) recording each worker, idle threads included, over the measured window."""

    def __init__(self, exe: str, out_dir: Path, rate: int = 100) -> None:
        self.exe, self.out_dir, self.rate = exe, out_dir, rate
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, pids: list[int], seconds: float) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            out = self.out_dir / f"worker-{pid}.txt"
            cmd = [self.exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate",
                   str(self.rate), "--idle", "--nonblocking", "--format", "raw", "--output", str(out)]
            self.procs.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))

    def finish(self) -> None:
        for proc, _ in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def summary(self) -> dict[str, Any]:
        samples = in_request = holding = 0
        hits: Counter[str] = Counter()
        held: Counter[str] = Counter()  # the same, counting only samples taken while holding the writer lock
        leaves: Counter[str] = Counter()
        for _, path in self.procs:
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if not count.isdigit():
                    continue
                n = int(count)
                samples += n
                if "Flask.wsgi_app (" not in stack:
                    if "process_pending (" in stack:  # the intake thread's work, beside the requests
                        hits[INTAKE] += n
                    continue
                in_request += n
                leaves[re.sub(r":\d+\)$", ")", stack.rsplit(";", 1)[-1])] += n  # the innermost frame, no line
                inside = HOLDING_WRITER_LOCK in stack
                holding += n if inside else 0
                for label, pattern, unless in PROFILE_PARTS:
                    if pattern in stack and (unless is None or unless not in stack):
                        hits[label] += n
                        held[label] += n if inside else 0
        return {
            "tool": "py-spy record --idle --nonblocking (wall clock: threads waiting for the GIL or a lock count too)",
            "rate_hz": self.rate, "files": [str(p) for _, p in self.procs], "samples": samples,
            "samples_in_request": in_request,
            "samples_holding_writer_lock": holding,
            "parts": [{"part": label, "samples": hits[label],
                       "share": round(hits[label] / in_request, 3) if in_request else None,
                       "share_of_writer_lock_held": round(held[label] / holding, 3) if holding else None}
                      for label, _, _ in PROFILE_PARTS],
            "top_leaf_frames": [{"frame": f, "samples": c, "share": round(c / in_request, 3)}
                                for f, c in leaves.most_common(12)],
        }


# -- servers ---------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def machine_ticks() -> tuple[int, int]:
    """(all ticks, idle + iowait ticks) of the whole machine so far."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(parts[:8]), parts[3] + parts[4]


class Server:
    """gunicorn with the product's command line (`webform.cli.gunicorn_argv`) on a free loopback port."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path, workers: int) -> None:
        from webform.cli import gunicorn_argv

        self.port = _free_port()
        self.argv = gunicorn_argv("127.0.0.1", self.port, workers, app=module)
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn did not answer /healthz within 60 s:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.proc.pid, *map(int, children)]

    def cpu_seconds(self) -> float:
        return sum(_proc_cpu(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # gunicorn: graceful stop, workers finish their requests
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_summary(self) -> dict[str, int]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return {}
        return {
            "database_busy_retries": text.count("database busy, retrying"),
            "tracebacks": text.count("Traceback (most recent call last)"),
            "error_lines": sum(1 for ln in text.splitlines() if " ERROR " in ln or "[ERROR]" in ln),
            "worker_timeouts": text.count("WORKER TIMEOUT"),
        }


# -- the databases ---------------------------------------------------------------------------------

DATABASES = ("sqlite", "postgresql")
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
PG_LOG_LINE = re.compile(r"\b(ERROR|FATAL|PANIC):\s+(.*)")


class Postgres:
    """A throw-away PostgreSQL server started the way the tests start it, and a fresh database per run on it."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.databases = 0

    @classmethod
    def start(cls) -> Postgres:
        """Start `tests.pg_server.PostgresServer`; RuntimeError saying why when PostgreSQL is missing or fails."""
        try:  # the tests' helper: importable because `python -m bench.…` runs from the repository root
            from tests.pg_server import PostgresServer
        except ImportError as exc:
            raise RuntimeError(f"tests/pg_server.py cannot be imported ({exc}): run from the repository root") from exc
        server = PostgresServer()  # RuntimeError with the install hint when PostgreSQL is not installed
        try:
            server.start()
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                server.stop()
            why = f"{exc} {detail.decode(errors='replace')}".strip()
            raise RuntimeError(f"the PostgreSQL server did not start: {why}") from exc
        return cls(server)

    def _admin(self) -> Engine:
        from sqlalchemy import create_engine

        return create_engine(self.server.url("postgres"), isolation_level="AUTOCOMMIT")

    def create_database(self, run: str) -> str:
        """CREATE DATABASE for one run (as tests/conftest.py does); its SQLAlchemy URL."""
        from sqlalchemy import text

        self.databases += 1
        name = f"bench_{self.databases}_{re.sub(r'[^a-z0-9]+', '_', run.lower())}"
        admin = self._admin()
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.server.url(name)

    def version(self) -> str:
        from sqlalchemy import text

        admin = self._admin()
        try:
            with admin.connect() as conn:
                return str(conn.execute(text("SHOW server_version")).scalar_one())
        finally:
            admin.dispose()

    def log_summary(self) -> dict[str, Any]:
        """ERROR, FATAL and PANIC lines of the server's log so far: how many, and the first few messages."""
        try:
            text = (self.server.root / "log").read_text(errors="replace")
        except OSError:
            return {}
        found = [m.group(1, 2) for m in map(PG_LOG_LINE.search, text.splitlines()) if m]
        return {"error_lines": sum(1 for level, _ in found if level == "ERROR"),
                "fatal_or_panic_lines": sum(1 for level, _ in found if level != "ERROR"),
                "first": [f"{level}: {msg}" for level, msg in found[:5]]}

    def stop(self, keep_log: Path | None = None) -> None:
        """Stop the server and delete its files (copying its log to `keep_log` first when asked)."""
        if keep_log is not None:
            with contextlib.suppress(OSError):
                shutil.copyfile(self.server.root / "log", keep_log)
        self.server.stop()


@dataclass(frozen=True)
class Backend:
    """The database one set of runs stores into: each data dir's SQLite file, or databases on a PostgreSQL server."""

    name: str  # "sqlite" or "postgresql"
    pg: Postgres | None = None

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def database_url(self, run: str) -> str | None:
        """CRM_DATABASE_URL for a run: None for the data dir's SQLite file, else a fresh PostgreSQL database."""
        return None if self.pg is None else self.pg.create_database(run)


SQLITE = Backend("sqlite")


# -- the product's data dir ----------------------------------------------------------------------

@dataclass
class AppDir:
    path: Path
    database_url: str
    public_id: str
    secret: str
    env: dict[str, str]


def make_app_dir(tmp: Path, per_ip: str, per_form: str, database_url: str | None = None) -> AppDir:
    """A fresh data dir: `crm init`, two reps, the bench form (round robin, an allowed origin), no min fill time.

    The database is the data dir's SQLite file, or `database_url` (an empty PostgreSQL database) when given.
    """
    from crm_store.capture import forms as webforms
    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.db.schema import upgrade
    from crm_store.settings import company
    from crm_store.settings.seed import seed_all
    from crm_store.staff import users
    tmp.mkdir(parents=True)
    env = {"CRM_DATA_DIR": str(tmp), "CRM_RATELIMIT_PER_IP": per_ip, "CRM_RATELIMIT_PER_FORM": per_form,
           "CRM_LOG_LEVEL": "WARNING", "CRM_RATELIMIT_STORAGE_URL": "memory://"}
    for name in ("CRM_DATABASE_URL", "CRM_SECRET_KEY", "CRM_SMTP_URL", "CRM_TRUSTED_PROXIES", "CRM_WEB_WORKERS"):
        env[name] = ""  # the benchmark's own settings, whatever the caller's environment says
    if database_url:
        env["CRM_DATABASE_URL"] = database_url
    config = load_config(env)
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as s:
            seed_all(s)
            users.add_user(s, "a@x.test", "Rep A", welcome=False)
            users.add_user(s, "b@x.test", "Rep B", welcome=False)
        with session_factory(engine).begin() as s:
            company.set_value(s, "form_min_fill_seconds", "0")
            form = webforms.add_form(s, {"name": "Bench form", "round_robin": ["a@x.test", "b@x.test"],
                                         "allowed_origins": [ORIGIN]})
            public_id = form.public_id
    finally:
        engine.dispose()
    secret = config.secret_key  # generated into the data dir here, where the server reads it
    return AppDir(tmp, config.database_url, public_id, secret, env)


def app_counts(database_url: str) -> dict[str, Any]:
    """What the product stored (read after its server stopped): rows per table, submissions by outcome, size."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            def one(q: str) -> int:
                return int(conn.execute(text(q)).scalar_one())

            return {
                "web_submissions": one("SELECT count(*) FROM web_submissions"),
                "by_outcome": {outcome: n for outcome, n in conn.execute(
                    text("SELECT outcome, count(*) FROM web_submissions GROUP BY outcome"))},
                "leads": one("SELECT count(*) FROM leads"),
                "notes": one("SELECT count(*) FROM notes"),
                "activities": one("SELECT count(*) FROM activities"),
                "outbox": one("SELECT count(*) FROM outbox"),
                "database_bytes": _database_bytes(database_url, one),
            }
    finally:
        engine.dispose()


def _database_bytes(database_url: str, one: Callable[[str], int]) -> int:
    """The SQLite file with its WAL and shared memory, or PostgreSQL's size of the database."""
    if database_url.startswith("sqlite:///"):
        db = Path(database_url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    return one("SELECT pg_database_size(current_database())")


# -- statistics and checks -----------------------------------------------------------------------

def pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def latency_ms(values: list[float]) -> dict[str, Any]:
    v = sorted(values)
    out: dict[str, Any] = {"n": len(v)}
    for q in (50, 95, 99):
        p = pct(v, q)
        out[f"p{q}"] = None if p is None else round(p * 1000, 2)
    out["max"] = round(v[-1] * 1000, 2) if v else None
    return out


def summarise(req: Requests, seconds: float) -> dict[str, Any]:
    """Counts and latencies of the measured window; totals of every request (for the stored-row checks)."""
    window = req.indices(True)
    status_w = Counter(req.statuses[i] for i in window)
    accepted = [i for i in window if 200 <= req.statuses[i] < 300]
    by_kind: dict[str, Any] = {}
    for k, name in enumerate(KINDS):
        idx = [i for i in window if req.kinds[i] == k]
        by_kind[name] = {"requests": len(idx),
                         "status": {str(s): c for s, c in sorted(Counter(req.statuses[i] for i in idx).items())},
                         "latency_ms": latency_ms([req.latencies[i] for i in idx])}
    by_status = {str(s): latency_ms([req.latencies[i] for i in window if req.statuses[i] == s])
                 for s in sorted(status_w)}
    total = Counter(req.statuses)
    total_by = Counter((req.kinds[i], req.statuses[i]) for i in range(len(req.statuses)))
    out = {
        "seconds": seconds,
        "requests": len(window),
        "requests_per_s": round(len(window) / seconds, 1),
        "accepted": len(accepted),
        "accepted_per_s": round(len(accepted) / seconds, 1),
        "status": {str(s): c for s, c in sorted(status_w.items())},
        "latency_ms": latency_ms([req.latencies[i] for i in window]),
        "accepted_latency_ms": latency_ms([req.latencies[i] for i in accepted]),
        "latency_by_status_ms": by_status,
        "by_kind": by_kind,
        "all_requests": {  # the warm-up and the tail too: what the database must hold
            "requests": len(req.statuses),
            "status": {str(s): c for s, c in sorted(total.items())},
            "accepted": sum(c for s, c in total.items() if 200 <= s < 300),
            "created_201": total[201],
            "valid_201": total_by[(VALID, 201)],
            "duplicate_201": total_by[(DUPLICATE, 201)],
        },
        "generator": {"cpu_seconds": round(req.raw["cpu_seconds"], 2),
                      "wall_seconds": round(req.raw["wall_seconds"], 2),
                      "errors": req.raw["errors"]},
    }
    if req.raw["retry_after"]:
        out["retry_after_values"] = req.raw["retry_after"]
    return out


def check_app(summary: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    every = summary["all_requests"]
    outcome = counts["by_outcome"]
    checks = {
        "web_submissions == 201 answers": (counts["web_submissions"], every["created_201"]),
        "outcome new_lead == valid 201s": (outcome.get("new_lead", 0), every["valid_201"]),
        "outcome added_to_lead == duplicate 201s": (outcome.get("added_to_lead", 0), every["duplicate_201"]),
        "leads == valid 201s": (counts["leads"], every["valid_201"]),
        "quarantined == 0": (outcome.get("quarantined", 0), 0),
        "2xx answers == 201 answers": (every["accepted"], every["created_201"]),
        "no 5xx or failed requests": (sum(c for s, c in every["status"].items() if int(s) >= 500 or int(s) == 0), 0),
    }
    return {name: {"got": got, "expected": want, "ok": got == want} for name, (got, want) in checks.items()}


def check_baseline(summary: dict[str, Any], rows: int) -> dict[str, Any]:
    every = summary["all_requests"]
    checks = {
        "rows == 201 answers": (rows, every["created_201"]),
        "2xx answers == 201 answers": (every["accepted"], every["created_201"]),
        "no 5xx or failed requests": (sum(c for s, c in every["status"].items() if int(s) >= 500 or int(s) == 0), 0),
    }
    return {name: {"got": got, "expected": want, "ok": got == want} for name, (got, want) in checks.items()}


# -- the runs ----------------------------------------------------------------------------------------

RUNS = ("serial", "throughput", "baseline", "overload")


def cpu_share(result: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    n = max(1, result["requests"])
    return {**usage, "server_cpu_ms_per_request": round(usage["server_cpu_seconds"] / n * 1000, 3),
            "generator_cpu_ms_per_request": round(usage["generator_cpu_seconds_window"] / n * 1000, 3)}


def run_app(base: Path, name: str, args: argparse.Namespace, per_ip: str, rate: float | None,
            connections: int, seed: int, seconds: float | None = None, profiler: PySpy | None = None,
            backend: Backend = SQLITE) -> dict[str, Any]:
    seconds = seconds or args.seconds
    app = make_app_dir(base / name, per_ip, UNLIMITED, backend.database_url(name))
    server = Server("webform.asgi:app", app.env, base / f"{name}.log", args.workers)
    spec = LoadSpec(f"{server.base}/api/forms/{app.public_id}/submissions", app.secret, app.public_id,
                    f"{name[0]}{seed}",
                    connections, seconds, args.warmup, rate, seed=seed)
    how = (f"closed loop, {connections} connection{'s' if connections > 1 else ''}" if rate is None
           else f"open loop at {rate:,.0f}/s, ≤ {connections} connections")
    log(f"{name}: product on {backend.label} on {server.base} (per-IP limit {per_ip}, {args.workers} workers), "
        f"{how}, {args.warmup:g} s warm-up + {seconds:g} s{' (py-spy recording the workers)' if profiler else ''}")
    with server:
        req, usage = run_load(spec, server, profiler)
    result = summarise(req, seconds)
    result["cpu"] = cpu_share(result, usage)
    result["server_log"] = server.log_summary()
    result["per_ip_limit"] = per_ip
    result["connections"] = connections
    if rate is not None:
        result["offered_rate_target"] = round(rate, 1)
        window = req.indices(True)
        result["generator_lag_ms"] = latency_ms([req.lags[i] for i in window])
    counts = app_counts(app.database_url)
    result["stored"] = counts
    result["checks"] = check_app(result, counts)
    return result


def baseline_store(path: Path, backend: Backend) -> tuple[dict[str, str], Callable[[], int]]:
    """The baseline's one-table database, created: the server's environment naming it, and its row count."""
    from bench import webform_baseline as wb

    if backend.pg is None:
        db = path / "baseline.db"
        wb.create_schema(db)
        return {wb.ENV: str(db), wb.URL_ENV: ""}, lambda: wb.count_rows(db)
    url = wb.pg_conninfo(backend.pg.create_database("baseline"))
    wb.pg_create_schema(url)
    return {wb.URL_ENV: url, wb.ENV: ""}, lambda: wb.pg_count_rows(url)


def run_baseline(base: Path, args: argparse.Namespace, seed: int, backend: Backend = SQLITE) -> dict[str, Any]:
    path = base / "baseline"
    path.mkdir()
    env, count_rows = baseline_store(path, backend)
    server = Server("bench.webform_baseline:asgi", env, base / "baseline.log", args.workers)
    spec = LoadSpec(f"{server.base}/api/forms/baseline/submissions", "none", "none", f"b{seed}", args.connections,
                    args.seconds, args.warmup, None, seed=seed)
    log(f"baseline: bare Flask insert into {backend.label} on {server.base}, closed loop, {args.connections} "
        f"connections, {args.warmup:g} s warm-up + {args.seconds:g} s")
    with server:
        req, usage = run_load(spec, server)
    result = summarise(req, args.seconds)
    result["cpu"] = cpu_share(result, usage)
    result["server_log"] = server.log_summary()
    result["connections"] = args.connections
    rows = count_rows()
    result["stored"] = {"rows": rows}
    result["checks"] = check_baseline(result, rows)
    return result


def run_overload(base: Path, args: argparse.Namespace, backend: Backend, section: dict[str, Any]) -> None:
    """The overload run against the capacity the throughput run measured, into `section`."""
    capacity = section["throughput"]["accepted_per_s"]
    section["capacity_per_s"] = capacity
    section["overload_factor"] = args.overload_factor
    section["overload_admit_share"] = args.overload_admit
    limit = args.overload_limit or f"{max(1, math.ceil(args.overload_admit * capacity / args.workers))}/second"
    section["overload"] = run_app(base, "overload", args, limit, args.overload_factor * capacity,
                                  args.overload_connections, args.seed + 2, backend=backend)
    o = section["overload"]
    section["overload_429_share"] = round(o["status"].get("429", 0) / max(1, o["requests"]), 4)
    log(f"  overload: {o['requests_per_s']:,.0f} requests/s, statuses {o['status']}, "
        f"429 p99 {_ms(o['latency_by_status_ms'].get('429', {}).get('p99'))} ms")


def goals(section: dict[str, Any]) -> dict[str, bool]:
    """The issue's goals on one database's runs."""
    t = section["throughput"]
    return {
        "accepted_per_s": t["accepted_per_s"] >= GOAL_ACCEPTED_PER_S,
        "stretch": t["accepted_per_s"] >= STRETCH_ACCEPTED_PER_S,
        "p99": (t["latency_ms"]["p99"] or 0) < GOAL_P99_MS,
        "nothing_lost": all(c["ok"] for k in RUNS if k in section for c in section[k]["checks"].values()),
    }


def run_backend(base: Path, args: argparse.Namespace, backend: Backend, profiler: PySpy | None) -> dict[str, Any]:
    """Every run on one database (serial, throughput, baseline, overload; the skipped ones left out)."""
    base.mkdir(parents=True, exist_ok=True)
    section: dict[str, Any] = {"database": backend.name}
    log(f"== {backend.label} ==")
    if args.serial_seconds:
        section["serial"] = run_app(base, "serial", args, UNLIMITED, None, 1, args.seed + 3, args.serial_seconds,
                                    backend=backend)
        sr = section["serial"]
        log(f"  one connection: {sr['accepted_per_s']:,.0f} accepted/s, p50 {_ms(sr['latency_ms']['p50'])} ms, "
            f"p99 {_ms(sr['latency_ms']['p99'])} ms")
    section["throughput"] = run_app(base, "throughput", args, UNLIMITED, None, args.connections, args.seed,
                                    profiler=profiler, backend=backend)
    t = section["throughput"]
    if profiler is not None:
        section["profile"] = profiler.summary()
    log(f"  product: {t['accepted_per_s']:,.0f} accepted/s, p50 {_ms(t['latency_ms']['p50'])} ms, "
        f"p99 {_ms(t['latency_ms']['p99'])} ms, statuses {t['status']}")
    if not args.skip_baseline:
        section["baseline"] = run_baseline(base, args, args.seed + 1, backend)
        b = section["baseline"]
        log(f"  baseline: {b['accepted_per_s']:,.0f} accepted/s, p50 {_ms(b['latency_ms']['p50'])} ms, "
            f"p99 {_ms(b['latency_ms']['p99'])} ms")
        section["ratio_accepted"] = round(t["accepted_per_s"] / b["accepted_per_s"], 3)
        section["ratio_requests"] = round(t["requests_per_s"] / b["requests_per_s"], 3)
    if not args.skip_overload:
        run_overload(base, args, backend, section)
    section["goals"] = goals(section)
    return section


def run_postgresql(base: Path, args: argparse.Namespace, profiler: PySpy | None) -> dict[str, Any]:
    """Start a throw-away PostgreSQL server, run everything on it, stop it; {"skipped": why} if it cannot start."""
    try:
        pg = Postgres.start()
    except RuntimeError as exc:
        return {"database": "postgresql", "skipped": str(exc)}
    try:
        version = pg.version()
        section = run_backend(base, args, Backend("postgresql", pg), profiler)
        section["server_version"] = version
        section["postgresql_log"] = pg.log_summary()
        return section
    finally:
        pg.stop(keep_log=base / "postgresql.log" if args.keep else None)


def run_database(name: str, base: Path, args: argparse.Namespace, profiler: PySpy | None) -> dict[str, Any]:
    """One database's runs; a failure is recorded (and logged) so the other database's results are still reported."""
    try:
        if name == "sqlite":
            return run_backend(base, args, SQLITE, profiler)
        return run_postgresql(base, args, profiler)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported, and the exit status says so
        if not isinstance(exc, SystemExit):
            log(traceback.format_exc())
        log(f"{LABELS[name]}: FAILED: {exc}")
        return {"database": name, "error": f"{type(exc).__name__}: {exc}"}


def run_databases(base: Path, args: argparse.Namespace, py_spy: str | None) -> dict[str, dict[str, Any]]:
    """Every run on each database asked for, SQLite first; a database that failed or was skipped says why."""
    wanted = DATABASES if args.database == "both" else (args.database,)
    sections: dict[str, dict[str, Any]] = {}
    for name in wanted:
        profiler = None
        if py_spy is not None:
            folder = "webform_load_py-spy" + ("" if name == "sqlite" else f"-{name}")
            profiler = PySpy(py_spy, args.json.parent / folder)
        sections[name] = run_database(name, base / name, args, profiler)
        if "skipped" in sections[name]:
            log(f"{LABELS[name]} not run: {sections[name]['skipped']}"
                + ("; SQLite results only" if args.database == "both" else ""))
    return sections


def source_state() -> dict[str, Any]:
    """The commit measured and the files changed on top of it (the figures belong to this tree)."""
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [ln[3:] for ln in git("status", "--porcelain", "--untracked-files=no").splitlines() if len(ln) > 3]
    return {"commit": git("rev-parse", "HEAD").strip() or None, "changed_files": changed}


def machine() -> dict[str, Any]:
    return describe(('gunicorn', 'uvicorn', 'flask', 'limits', 'sqlalchemy', 'aiohttp'))


# -- report ----------------------------------------------------------------------------------------

def _ms(x: Any) -> str:
    return "–" if x is None else f"{x:,.1f}"


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{s}: {c:,}" for s, c in counts.items())


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    sections = r["databases"]
    ran = {name: x for name, x in sections.items() if "throughput" in x}
    pg_version = (sections.get("postgresql", {}).get("server_version") or "").split(" ")[0]  # "15.18 (Debian …)"
    lines = [
        f"## Web-form load: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, SQLite {m['sqlite_library']}"
        + (f", PostgreSQL {pg_version}" if pg_version else "") + ", "
        f"gunicorn {m['gunicorn']} with {r['workers']} uvicorn workers (whole requests, {THREADS} app threads each)",
        "",
        f"Source: {(r['source']['commit'] or 'unknown')[:12]}"
        + (f" with local changes to {', '.join(r['source']['changed_files'])}" if r["source"]["changed_files"] else "")
        + ".",
        "",
        f"{r['seconds']:g} s measured per run after {r['warmup']:g} s of warm-up. The load generator (one process, "
        "asyncio + aiohttp, keep-alive connections, loopback) shares the machine's cores with the server; "
        "\"other CPU\" is what neither used during the window (other work on the machine"
        + (", PostgreSQL's processes included" if "postgresql" in ran else "") + ").",
    ]
    if "postgresql" in ran:
        lines += ["", "PostgreSQL: a throw-away server on loopback started as the tests start it "
                  "(`tests/pg_server.py`: trust auth, fsync=off, full_page_writes=off), a fresh database per run."]
    lines += [
        "",
        "| run | conns | requests/s | accepted (2xx)/s | p50 ms | p95 ms | p99 ms | 2xx p99 ms | statuses | "
        "server CPU ms/req | generator CPU ms/req | other CPU s | machine busy |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|",
    ]
    for name, x in _all_runs(ran):
        lat, acc, cpu = x["latency_ms"], x["accepted_latency_ms"], x["cpu"]
        lines.append(
            f"| {name} | {x['connections']} | {x['requests_per_s']:,.0f} | {x['accepted_per_s']:,.0f} | "
            f"{_ms(lat['p50'])} | {_ms(lat['p95'])} | {_ms(lat['p99'])} | {_ms(acc['p99'])} | "
            f"{_statuses(x['status'])} | "
            f"{cpu['server_cpu_ms_per_request']:.2f} | {cpu['generator_cpu_ms_per_request']:.2f} | "
            f"{cpu['other_processes_cpu_seconds']:,.1f} of {cpu['machine_cpu_seconds_available']:,.0f} | "
            f"{cpu['machine_busy_share']:.0%} |")
    lines.append("")
    for name, x in sections.items():
        if "skipped" in x:
            lines.append(f"**{LABELS[name]} not run**: {x['skipped']}")
        elif "error" in x:
            lines.append(f"**{LABELS[name]} FAILED**: {x['error']}")
    ratios = [f"{LABELS[n]} {y['ratio_accepted']:.3f} ({y['throughput']['accepted_per_s']:,.0f} ÷ "
              f"{y['baseline']['accepted_per_s']:,.0f})" for n, y in ran.items() if "ratio_accepted" in y]
    if ratios:
        lines.append(f"Ratio product ÷ baseline on accepted/s, same database, same run: {'; '.join(ratios)}.")
    lines.append(f"Vtiger {VTIGER['version']} for reference: {VTIGER['leads_per_s']} leads/s, "
                 f"p99 {VTIGER['p99_ms']} ms at {VTIGER['connections']} connections.")
    for name, x in ran.items():
        lines += ["", f"### {LABELS[name]}", "", *_section_markdown(r, name, x)]
    return "\n".join(lines)


def _runs(db: str, x: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(row label, run) of one database's runs, in the order they ran."""
    label = LABELS[db]
    names = {
        "serial": f"product on {label}, one connection (service time)",
        "throughput": f"**product** on {label} (`webform.asgi:app`)",
        "baseline": f"**baseline** on {label} (bare Flask insert)",
        "overload": f"overload on {label} ({x.get('overload_factor', 0):g}× C offered, open loop)",
    }
    return [(names[k], x[k]) for k in RUNS if k in x]


def _all_runs(ran: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [row for db, x in ran.items() for row in _runs(db, x)]


def _section_markdown(r: dict[str, Any], db: str, x: dict[str, Any]) -> list[str]:
    """One database's details: latency by kind, the ratio, the stored-row checks, overload, profile, goals."""
    label = LABELS[db]
    t, b, o = x["throughput"], x.get("baseline"), x.get("overload")
    lines = [f"Product latency by kind of submission on {label} (ms):", "",
             "| kind | requests | statuses | p50 | p95 | p99 |", "|---|--:|---|--:|--:|--:|"]
    for kind, k in t["by_kind"].items():
        lines.append(f"| {kind} | {k['requests']:,} | {_statuses(k['status'])} | {_ms(k['latency_ms']['p50'])} | "
                     f"{_ms(k['latency_ms']['p95'])} | {_ms(k['latency_ms']['p99'])} |")
    lines.append("")
    if b:
        lines.append(f"Ratio product ÷ baseline on {label}: {x['ratio_accepted']:.3f} on accepted/s "
                     f"({t['accepted_per_s']:,.0f} ÷ {b['accepted_per_s']:,.0f}), "
                     f"{x['ratio_requests']:.3f} on all answers/s.")
    lines += ["", f"Stored in {label}, counted after the server stopped (the counts include the warm-up and the "
              "requests in flight at the end):", ""]
    for name, run in _runs(db, x):
        checks = run["checks"]
        bad = [k for k, v in checks.items() if not v["ok"]]
        detail = "; ".join(f"{k}: {v['got']:,} vs {v['expected']:,}" for k, v in checks.items())
        lines.append(f"- {name}: {'all checks pass' if not bad else 'FAILED ' + ', '.join(bad)} — {detail}")
    logs = _log_problems(x)
    if logs:
        lines += ["", f"Server logs on {label}: {logs}."]
    if o:
        lines += ["", _overload_markdown(r, x)]
    if x.get("profile"):
        lines += ["", *_profile_markdown(x["profile"])]
    g = x["goals"]
    lines += ["", (
        f"Goals on {label}: ≥ {GOAL_ACCEPTED_PER_S} accepted/s {'met' if g['accepted_per_s'] else 'NOT met'} "
        f"({t['accepted_per_s']:,.0f}/s; "
        f"stretch {STRETCH_ACCEPTED_PER_S:,} {'met' if g['stretch'] else 'not met'}); "
        f"p99 < {GOAL_P99_MS} ms {'met' if g['p99'] else 'NOT met'} ({_ms(t['latency_ms']['p99'])} ms); "
        f"nothing lost {'met' if g['nothing_lost'] else 'NOT met'}.")]
    return lines


def _log_problems(x: dict[str, Any]) -> str:
    """Tracebacks, error lines and timeouts in the gunicorn logs (and PostgreSQL's), or "" when there are none."""
    found = [f"{run}: " + ", ".join(f"{k} {v:,}" for k, v in x[run]["server_log"].items() if v)
             for run in RUNS if run in x and any(x[run].get("server_log", {}).values())]
    pg = x.get("postgresql_log") or {}
    if pg.get("error_lines") or pg.get("fatal_or_panic_lines"):
        found.append(f"PostgreSQL log: {pg['error_lines']:,} ERROR, {pg['fatal_or_panic_lines']:,} FATAL/PANIC lines "
                     f"(first: {' | '.join(pg['first'])})")
    return "; ".join(found)


def _overload_markdown(r: dict[str, Any], x: dict[str, Any]) -> str:
    o = x["overload"]
    l429 = o["latency_by_status_ms"].get("429", {})
    return (
        f"Overload: CRM_RATELIMIT_PER_IP={o['per_ip_limit']}, counted per worker: "
        f"{r['workers']} workers admit about {x['overload_admit_share']:.2f} × C "
        f"(C = {x['capacity_per_s']:,.0f}/s measured above); "
        f"{o['offered_rate_target']:,.0f} requests/s offered, {o['requests_per_s']:,.0f}/s "
        f"sent (generator lag p99 {_ms(o['generator_lag_ms']['p99'])} ms). "
        f"429 share {x['overload_429_share']:.1%}; "
        f"429 latency p50 {_ms(l429.get('p50'))} ms, p95 {_ms(l429.get('p95'))} ms, "
        f"p99 {_ms(l429.get('p99'))} ms; "
        f"2xx {o['accepted_per_s']:,.0f}/s with p50 {_ms(o['accepted_latency_ms']['p50'])} ms, "
        f"p99 {_ms(o['accepted_latency_ms']['p99'])} ms; "
        f"Retry-After on the 429s: {o.get('retry_after_values', {})}.")


def _profile_markdown(pr: dict[str, Any]) -> list[str]:
    lines = ["Where a product request's time goes "
             f"(throughput run, py-spy at {pr['rate_hz']} Hz on every worker, "
             f"wall clock, {pr['samples_in_request']:,} samples inside a request, "
             f"{pr['samples_holding_writer_lock']:,} of them holding the app's writer lock):", "",
             "| part | samples | share of request time | share of the time holding the writer lock |",
             "|---|--:|--:|--:|"]

    def lock_share(p: dict[str, Any]) -> str:
        held = p["share_of_writer_lock_held"]
        return "–" if held is None else format(held, ".1%")

    lines += [f"| {p['part']} | {p['samples']:,} | {(p['share'] or 0):.1%} | {lock_share(p)} |"
              for p in pr["parts"]]
    lines += ["", "Innermost frames of those samples (where the threads actually were):", "",
              "| frame | samples | share |", "|---|--:|--:|"]
    lines += [f"| `{f['frame']}` | {f['samples']:,} | {f['share']:.1%} |" for f in pr["top_leaf_frames"]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webform_load",
        description="Accepted submissions/s and latency of the web-form capture API under gunicorn on SQLite and "
                    "on PostgreSQL, each against a bare Flask endpoint that inserts one row into the same database, "
                    "plus an overload run against the rate limit.",
    )
    parser.add_argument("--database", choices=(*DATABASES, "both"), default="both",
                        help="which database to run on (default both: SQLite, then a throw-away PostgreSQL server; "
                             "without PostgreSQL installed, both runs SQLite only)")
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds per run (default 60)")
    parser.add_argument("--quick", action="store_true", help="10 s runs (for development)")
    parser.add_argument("--warmup", type=float, default=2,
                        help="seconds of load before the measured window (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (default 16)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn worker processes (default 2, CRM_WEB_WORKERS' default)")
    parser.add_argument("--overload-factor", type=float, default=3.0,
                        help="offered load of the overload run as a multiple of the measured capacity (default 3)")
    parser.add_argument("--overload-connections", type=int, default=64,
                        help="most connections the open-loop overload generator opens (default 64)")
    parser.add_argument("--overload-admit", type=float, default=2 / 3, metavar="SHARE",
                        help="share of the measured capacity C the overload run's limit admits (default 2/3, as "
                             "C×20/minute per worker would on 2 workers, but in one-second windows)")
    parser.add_argument("--overload-limit", metavar="RATE",
                        help="CRM_RATELIMIT_PER_IP for the overload run (default ceil(SHARE × C / workers)/second)")
    parser.add_argument("--serial-seconds", type=float, default=5,
                        help="seconds of a one-connection run first: the service time of a request without "
                             "contention (default 5; 0 skips)")
    parser.add_argument("--py-spy", nargs="?", const="", metavar="PATH",
                        help="record the throughput runs' workers with py-spy (PATH, or py-spy on PATH; not a project "
                             "dependency) and report where the request time goes")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-overload", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dirs and server logs")
    parser.add_argument("--json", type=Path, default=RESULTS,
                        help="where to write the results (default bench/results/webform_load.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 10
    if args.seconds <= 0 or args.connections < 1 or args.warmup < 0 or args.overload_factor <= 0:
        parser.error("--seconds, --connections and --overload-factor must be positive, --warmup at least 0")
    exe = None
    if args.py_spy is not None:
        exe = args.py_spy or shutil.which("py-spy")
        if not exe:
            parser.error("--py-spy: no py-spy on PATH; install it apart (pip install --target /tmp/tools py-spy) "
                         "and pass its path")

    result: dict[str, Any] = {
        "benchmark": "webform_load",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.webform_load " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "source": source_state(),
        "seconds": args.seconds, "warmup": args.warmup, "connections": args.connections,
        "workers": args.workers,
        "mix": {"valid": 0.8, "invalid": 0.1, "duplicate": 0.1},
        "goal": {"accepted_per_s": GOAL_ACCEPTED_PER_S, "stretch_accepted_per_s": STRETCH_ACCEPTED_PER_S,
                 "p99_ms": GOAL_P99_MS},
        "vtiger": VTIGER,
        "load_average_at_start": list(os.getloadavg()),
        "note": "load generator and server share the machine's cores",
    }
    base = Path(tempfile.mkdtemp(prefix="leadline-webload-"))
    try:
        result["databases"] = run_databases(base, args, exe)
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    sections = result["databases"]
    pg_skipped = sections.get("postgresql", {}).get("skipped")
    if pg_skipped and args.database == "postgresql":
        raise SystemExit(f"--database postgresql: {pg_skipped}")
    ran = [x for x in sections.values() if "goals" in x]
    result["load_average_at_end"] = list(os.getloadavg())
    result["nothing_lost"] = bool(ran) and all(x["goals"]["nothing_lost"] for x in ran)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))
    log(f"results written to {args.json}")
    if pg_skipped:
        log(f"NOTE: PostgreSQL was not benchmarked: {pg_skipped}")
    failed = any("error" in x for x in sections.values())
    return 0 if result["nothing_lost"] and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
