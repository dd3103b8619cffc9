"""Staff pages benchmark (issue 12): the back office's pages on the large demo, as a rep and as an admin.

A data dir holds the large demo (1,000,000 leads), or `--scale` of it (0.1: 100,000 leads), loaded
through the bulk path as `crm demo --size large` does, with one password for every demo user
(`crm_store.ops.demo.demo_password`); `--keep DIR` keeps it (and its password, in
`DIR/bench_staff_pages.json`) and a later run with the same `--keep DIR` reuses it. The database is the
data dir's SQLite file, or `--database-url` (an empty PostgreSQL database, or one this benchmark loaded
before). The app is served by `crm serve`'s own command line (`webform.cli.gunicorn_argv`: gunicorn,
uvicorn workers, the intake's process) on a free loopback port.

Then `--clients` (8) clients in one process (asyncio + aiohttp, one keep-alive connection each) each
sign in on their own (the sign-in page's CSRF token, `POST /auth/sign-in`, the session cookie kept per
client) and, one page at a time, request it in a closed loop for `--warmup` + `--seconds` (2 + 30) s:

- `/healthz` — the baseline: the same server, loop and clients, no session, a `select 1`;
- My day (`/`);
- the lead list: first page (`/leads`), filtered (`?status=Not Contacted`), sorted (`?sort=name&order=asc`),
  and deep: each client starts at the first page and follows the page's own "next" link (its href, as a
  browser would) down to page `--depth` (50), then starts again; the row times pages 2 to 50;
- the search box: the results page (`/search?q=…`) and the results as you type (`/search/suggest?q=…`),
  with 100 terms taken from the names of the rep's own leads (a Chinese name or its first two
  characters, a Latin last name, a first and last name, four letters of one);
- a lead page with its timeline (`/leads/<number>`): up to 200 of the rep's leads, up to half of them
  worked (with activities), so their timelines have something in them.

`--set part2` asks issue 14's pages instead (`--set all`: both): the pipeline board of the default process, the
campaign list, a saved filter's list (a filter the rep saved, made once in the data dir; the list its `?saved=`
link redirects to) and a CSV export of the rep's leads by the status or source nearest 10,000 rows (goal < 2 s;
asked as the rep only).

First as a rep of the demo (`--rep`, rep1@example.com: their own records, about 1 in 50), then the same
pages (the same leads and terms) as the demo's admin (`--admin`: everything). Every answer must be a 200
(a redirect to the sign-in page is not followed: it is a failure); anything else is counted and shown.
A latency runs from the moment a client starts a request to the last byte of the answer; the clients and
the server share the machine's cores, and the CPU each took in each window is reported.

Goal (issue): p95 < 150 ms for each of the rep's pages; the admin's are reported without a goal.
Run `python -m bench.staff_pages --help`; `--scale 0.01 --seconds 5` is a quick check.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

from bench.machine import describe
from bench.webform_load import CLK_TCK, Server, latency_ms, machine_ticks
from crm_store import links

GOAL_P95_MS = 150
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "staff_pages.json"
STATE_FILE = "bench_staff_pages.json"  # in a kept data dir: the demo users' password and how the demo was made
REP, ADMIN = "rep1@example.com", "admin@example.com"
LEAD_STATUS_FILTER = "Not Contacted"
LEADS_PICKED, TERMS_PICKED = 200, 100
EXPORT_ROWS = 10_000  # issue 14: an export of 10,000 rows (goal < 2 s)
EXPORT_GOAL_MS = 2_000
SAVED_FILTER = "Bench: not contacted, by name"
FAILURE_EXAMPLES = 10
SIGN_IN_TRIES = 5


class BenchError(Exception):
    """The benchmark cannot go on (said without a traceback)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the data dir ------------------------------------------------------------------------------------

def server_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The environment of the data dir's app: the benchmark's own settings, whatever the caller's say."""
    env = {"CRM_DATA_DIR": str(data_dir), "CRM_LOG_LEVEL": "WARNING", "CRM_RATELIMIT_STORAGE_URL": "memory://"}
    for name in ("CRM_DATABASE_URL", "CRM_SECRET_KEY", "CRM_SMTP_URL", "CRM_TRUSTED_PROXIES", "CRM_WEB_WORKERS",
                 "CRM_BASE_URL", "CRM_USER", "CRM_RATELIMIT_PER_IP", "CRM_RATELIMIT_PER_FORM"):
        env[name] = ""
    if database_url:
        env["CRM_DATABASE_URL"] = database_url
    return env


def _load_main(env: dict[str, str], scale: float, seed: int, password: str, conn: Any) -> None:
    """In a process of its own: migrate, seed, load the scaled large demo with `password`; send what it took."""
    try:
        conn.send(_load(env, scale, seed, password))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def _load(env: dict[str, str], scale: float, seed: int, password: str) -> dict[str, Any]:
    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.db.schema import upgrade
    from crm_store.ops.demo import SIZES, DemoSize, load_demo
    from crm_store.settings.seed import seed_all

    os.environ.update(env)  # the demo's welcome mail and the secret key go to this data dir
    config = load_config(env)
    large = SIZES["large"]
    name = "large" if scale == 1 else f"large x{scale:g}"
    SIZES[name] = DemoSize(  # load_demo takes a size by name: register the scaled one for this process
        large.reps, round(large.leads * scale), round(large.accounts * scale), round(large.contacts * scale),
        round(large.opportunities * scale), large.campaigns, large.lead_activity_rate, large.note_rate,
    )
    engine = make_engine(config.database_url)
    done: dict[str, int] = {}
    marks: dict[str, float] = {}
    started = time.perf_counter()

    def tick(stage: str, n: int) -> None:
        marks.setdefault(stage, time.perf_counter() - started)
        before = done.get(stage, 0)
        done[stage] = before + n
        if done[stage] // 100_000 != before // 100_000:
            log(f"  {stage}: {done[stage]:,}")

    try:
        upgrade(engine)
        with session_factory(engine).begin() as session:
            seed_all(session)
            counts = load_demo(session, name, seed=seed, progress=tick, password=password)
            marks["commit"] = time.perf_counter() - started
        config.secret_key  # noqa: B018 - generated into the data dir here, where the server reads it
    finally:
        engine.dispose()
    return {"size": name, "seconds": round(time.perf_counter() - started, 1), "counts": counts,
            "stage_started_s": {k: round(v, 1) for k, v in marks.items()}}


def prepare(data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The data dir with the demo in it: reused when this benchmark made it before, else loaded (timed)."""
    state_path = data_dir / STATE_FILE
    env = server_env(data_dir, args.database_url)
    if state_path.exists():
        kept = json.loads(state_path.read_text())
        if kept.get("scale") != args.scale:
            raise SystemExit(f"{data_dir} holds the demo at --scale {kept.get('scale')}: pass that, or another --keep")
        log(f"reusing the demo in {data_dir} (scale {kept['scale']:g}, loaded in {kept['demo']['seconds']} s)")
        return {**kept, "password": args.password or kept["password"], "reused": True}
    if demo_loaded(env):
        if not args.password:
            raise SystemExit(f"the database of {data_dir} already holds a demo this benchmark did not load: "
                             "pass --password (the one `crm demo` printed), or use an empty database")
        log("using the demo already in the database, with the --password given")
        return {"scale": args.scale, "seed": args.seed, "password": args.password, "demo": None, "reused": True}
    from crm_store.ops.demo import demo_password

    password = args.password or demo_password()
    log(f"loading the demo ({args.scale:g} of large) into {data_dir}"
        + (" and the --database-url" if args.database_url else "") + "...")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load_main, args=(env, args.scale, args.seed, password, child), name="demo-load")
    proc.start()
    child.close()
    try:
        demo = parent.recv()
    except EOFError:
        demo = {"error": f"the loading process died (exit code {proc.exitcode})"}
    proc.join()
    if "error" in demo:
        raise SystemExit(f"loading the demo failed: {demo['error']}")
    leads = demo["counts"].get("leads", 0)
    demo["leads_per_s"] = round(leads / demo["seconds"]) if demo["seconds"] else None
    log(f"demo loaded in {demo['seconds']} s ({leads:,} leads, {demo['leads_per_s']:,} leads/s with the rest)")
    kept = {"scale": args.scale, "seed": args.seed, "password": password, "demo": demo,
            "database_url": args.database_url}
    state_path.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")
    return {**kept, "reused": False}


def demo_loaded(env: dict[str, str]) -> bool:
    """Whether the data dir's database holds demo data already (it needs no migrating to say no)."""
    from sqlalchemy import inspect, select

    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.models import Batch

    engine = make_engine(load_config(env).database_url)
    try:
        if not inspect(engine).has_table("batches"):
            return False
        with session_factory(engine)() as session:
            return session.scalar(select(Batch.id).where(Batch.kind == "demo").limit(1)) is not None
    finally:
        engine.dispose()


# -- what the clients ask for --------------------------------------------------------------------------

@dataclass(frozen=True)
class Picks:
    """Lead numbers and search terms drawn from the rep's own leads (both roles use the same ones)."""

    leads: list[str]
    worked_leads: int
    terms: list[str]
    database: str
    saved_list: str = ""  # the list a saved filter of the rep's opens (where ?saved=<id> redirects)
    export: str = ""  # a CSV export of the rep's leads of about EXPORT_ROWS rows
    export_rows: int = 0


def pick(env: dict[str, str], rep_email: str, admin_email: str, seed: int) -> Picks:
    """Draw the leads whose pages are asked for and the search terms; check both users exist."""
    from sqlalchemy import select

    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.models import Activity, Lead, User
    from crm_store.records.names import CJK

    rng = random.Random(seed)
    engine = make_engine(load_config(env).database_url)
    try:
        with session_factory(engine)() as session:
            users = {u.email: u for u in session.scalars(select(User).where(User.email.in_([rep_email, admin_email])))}
            for email, role in ((rep_email, "rep"), (admin_email, "admin")):
                if email not in users or users[email].role != role:
                    raise BenchError(f"{email} is not an active {role} of the demo in this database")
            rep = users[rep_email]
            own = list(session.execute(
                select(Lead.id, Lead.lead_no, Lead.first_name, Lead.last_name)
                .where(Lead.owner_id == rep.id, Lead.deleted_at.is_(None))
            ))
            worked = set(session.scalars(
                select(Activity.lead_id).where(Activity.owner_id == rep.id, Activity.lead_id.is_not(None)).distinct()
            ))
            server = engine.dialect.name + " " + ".".join(map(str, engine.dialect.server_version_info or ()))
            saved_list, export, export_rows = _part2_picks(session, rep)
    finally:
        engine.dispose()
    if not own:
        raise BenchError(f"{rep_email} owns no leads in this database")
    own.sort(key=lambda row: row.id)
    with_work = [row for row in own if row.id in worked]
    chosen = rng.sample(with_work, min(len(with_work), LEADS_PICKED // 2))
    rest = [row for row in own if row.id not in worked]
    chosen += rng.sample(rest, min(len(rest), LEADS_PICKED - len(chosen)))
    terms: list[str] = []
    for row in rng.sample(own, min(len(own), TERMS_PICKED)):
        first, last = (row.first_name or "").strip(), (row.last_name or "").strip()
        if last and all(CJK.match(c) for c in last + first):  # 王小明, or 王小 as typed so far
            terms.append(last + first if rng.random() < 0.5 or not first else last + first[:1])
        elif last:
            way = rng.random()
            terms.append(f"{first} {last}".strip() if way < 0.3 else last[:4] if way < 0.6 and len(last) > 4 else last)
    return Picks([row.lead_no for row in chosen], sum(1 for row in chosen if row.id in worked), terms,
                 server.strip(), saved_list, export, export_rows)


def _part2_picks(session: Any, rep: Any) -> tuple[str, str, int]:
    """The rep's saved filter (made once, kept in the data dir), and the lead filter whose export is nearest
    EXPORT_ROWS rows (by status, or by source)."""
    from sqlalchemy import func, select

    from crm_store.models import Lead
    from crm_store.records import saved_filters

    params = {"status": LEAD_STATUS_FILTER, "sort": "name", "order": "asc"}
    if not any(f.name == SAVED_FILTER for f in saved_filters.for_user(session, rep, "leads")):
        saved_filters.save(session, rep, "leads", SAVED_FILTER, params)
        session.commit()
    leads = links.path("records", module="leads")
    best: tuple[int, str] = (0, "")
    for key, column in (("status", Lead.status), ("source", Lead.lead_source)):
        for value, n in session.execute(select(column, func.count()).where(
                Lead.owner_id == rep.id, Lead.deleted_at.is_(None), column.is_not(None)).group_by(column)):
            if abs(n - EXPORT_ROWS) < abs(best[0] - EXPORT_ROWS):
                best = (n, f"{key}={quote_plus(str(value))}")
    export = links.path("records_export", module="leads") + (f"?owner=me&{best[1]}" if best[1] else "?owner=me")
    return f"{leads}?{urlencode(params)}", export, best[0]


@dataclass(frozen=True)
class Page:
    """One row of the report: the paths its requests take turns on (the deep walk follows next links)."""

    key: str
    label: str
    shown: str  # the paths as the report shows them
    paths: tuple[str, ...]
    deep: bool = False
    roles: tuple[str, ...] = ("rep", "admin")
    goal_ms: float = GOAL_P95_MS
    method: str = "GET"
    forms: tuple[dict[str, str], ...] = ()  # a POST's forms (one at random each time), with the CSRF token


def part1_pages(picks: Picks) -> list[Page]:
    home, leads = links.path("home"), links.path("records", module="leads")
    search, suggest = links.path("search"), links.path("search_suggest")
    filtered, by_name = urlencode({"status": LEAD_STATUS_FILTER}), urlencode({"sort": "name", "order": "asc"})
    return [
        Page("myday", "My day", home, (home,)),
        Page("list_first", "lead list, first page", leads, (leads,)),
        Page("list_filtered", "lead list, filtered", f"{leads}?{filtered}", (f"{leads}?{filtered}",)),
        Page("list_sorted", "lead list, sorted", f"{leads}?{by_name}", (f"{leads}?{by_name}",)),
        Page("list_deep", "lead list, pages 2–50 by next links", f"{leads}?cursor=…", (leads,), deep=True),
        Page("search", "search results page", f"{search}?q=…",
             tuple(f"{search}?{urlencode({'q': t})}" for t in picks.terms)),
        Page("search_suggest", "search as you type", f"{suggest}?q=…",
             tuple(f"{suggest}?{urlencode({'q': t})}" for t in picks.terms)),
        Page("lead", "lead page with its timeline", f"{leads}/<number>",
             tuple(links.path("record", module="leads", number=n) for n in picks.leads)),
    ]


def part2_pages(picks: Picks) -> list[Page]:
    """Issue 14's: the board of the default process, the campaign list, a saved filter's list, a 10,000-row export
    (the rep's; an admin's export would be every rep's leads, so only the board and lists are asked as admin)."""
    board, campaigns = links.path("board"), links.path("campaigns")
    return [
        Page("board", "pipeline board, default process", board, (board,)),
        Page("campaigns", "campaign list", campaigns, (campaigns,)),
        Page("saved_filter", "a saved filter's list (where ?saved=<id> leads)", picks.saved_list,
             (picks.saved_list,)),
        Page("export", f"CSV export of {picks.export_rows:,} leads", picks.export, (picks.export,), roles=("rep",),
             goal_ms=EXPORT_GOAL_MS),
    ]


def pages(picks: Picks, which: str = "part1") -> list[Page]:
    """The pages of a set: part1 (issue 12's), part2 (issue 14's) or all."""
    return ((part1_pages(picks) if which in ("part1", "all") else [])
            + (part2_pages(picks) if which in ("part2", "all") else []))


HEALTHZ = Page("healthz", "baseline", links.path("healthz"), (links.path("healthz"),))
NEXT_LINK = re.compile(r"<a\b[^>]*\brel=\"next\"[^>]*>")
HREF = re.compile(r"\bhref=\"([^\"]*)\"")
CSRF_INPUT = re.compile(r"<input\b[^>]*\bname=\"csrf_token\"[^>]*>")
VALUE = re.compile(r"\bvalue=\"([^\"]*)\"")


def next_href(body: str) -> str | None:
    """The href of the page's `rel="next"` link (unescaped), or None on the last page."""
    tag = NEXT_LINK.search(body)
    href = HREF.search(tag.group(0)) if tag else None
    return html.unescape(href.group(1)) if href else None


def hits_in(key: str, body: str) -> int | None:
    """How many records a search answer lists (None for other pages)."""
    if key == "search":
        return body.count('class="table__sub"')
    if key == "search_suggest":
        return body.count('class="suggest__title"')
    return None


# -- the clients ---------------------------------------------------------------------------------------

@dataclass
class Recorded:
    """One page's requests in one role, in arrays: started (s after the phase began), latency, status."""

    starts: array[float] = field(default_factory=lambda: array("d"))
    latencies: array[float] = field(default_factory=lambda: array("d"))
    statuses: array[int] = field(default_factory=lambda: array("H"))
    depths: array[int] = field(default_factory=lambda: array("H"))
    sizes: array[int] = field(default_factory=lambda: array("L"))
    failures: list[dict[str, Any]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    hits: list[int] = field(default_factory=list)
    walks_done: int = 0
    walk_ends: Counter[int] = field(default_factory=Counter)  # depth at which a walk found no next link
    cpu: dict[str, float] = field(default_factory=dict)


class Client:
    """One signed-in browser: its own session cookie and keep-alive connection."""

    def __init__(self, base: str, number: int, rng: random.Random) -> None:
        import aiohttp

        self.base, self.number, self.rng = base, number, rng
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, keepalive_timeout=60),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies from 127.0.0.1 (an IP address) too
            timeout=aiohttp.ClientTimeout(total=60),
        )
        self.next_path: str | None = None
        self.depth = 0
        self.csrf = ""  # the session's CSRF token, for pages that POST a form (`fetch_csrf`)

    async def sign_in(self, email: str, password: str) -> None:
        """The sign-in page, its form posted with the CSRF token; My day must then answer 200."""
        sign_in = links.path("sign_in")
        for attempt in range(SIGN_IN_TRIES):
            async with self.http.get(self.base + sign_in, allow_redirects=False) as resp:
                body = await resp.text()
                if resp.status != 200:
                    raise BenchError(f"GET {sign_in} answered {resp.status}")
            tag = CSRF_INPUT.search(body)
            token = VALUE.search(tag.group(0)) if tag else None
            if token is None:
                raise BenchError(f"no csrf_token field on {sign_in}")
            form = {"csrf_token": html.unescape(token.group(1)), "email": email, "password": password, "next": ""}
            async with self.http.post(self.base + sign_in, data=form, allow_redirects=False) as resp:
                await resp.read()
                status = resp.status
            if status in (302, 303):
                break
            if status != 429 or attempt == SIGN_IN_TRIES - 1:  # 429: too soon after a failure (the delay grows)
                raise BenchError(f"signing in as {email} answered {status}"
                                 + (": the password is not right (see --password)" if status == 401 else ""))
            await asyncio.sleep(2 ** attempt)
        async with self.http.get(self.base + links.path("home"), allow_redirects=False) as resp:
            await resp.read()
            if resp.status != 200:
                raise BenchError(f"signed in as {email}, but {links.path('home')} answered {resp.status}")

    async def fetch_csrf(self, path: str) -> None:
        """Keep the CSRF token of a signed-in page's form (a POST page's requests carry it, as the page's script)."""
        async with self.http.get(self.base + path, allow_redirects=False) as resp:
            body = await resp.text()
            if resp.status != 200:
                raise BenchError(f"GET {path} answered {resp.status}")
        tag = CSRF_INPUT.search(body)
        token = VALUE.search(tag.group(0)) if tag else None
        if token is None:
            raise BenchError(f"no csrf_token field on {path}")
        self.csrf = html.unescape(token.group(1))

    async def close(self) -> None:
        await self.http.close()

    async def run(self, page: Page, depth: int, t0: float, t_end: float, rec: Recorded) -> None:
        """Ask for the page in a closed loop until `t_end`."""
        self.next_path, self.depth = None, 0
        while time.perf_counter() < t_end:
            if page.deep:
                path = self.next_path or page.paths[0]
                self.depth = self.depth + 1 if self.next_path else 1
            else:
                path = page.paths[0] if len(page.paths) == 1 else self.rng.choice(page.paths)
            form = {**self.rng.choice(page.forms), "csrf_token": self.csrf} if page.forms else None
            start = time.perf_counter()
            body, status = b"", 0
            try:
                async with self.http.request(page.method, self.base + path, data=form, allow_redirects=False) as resp:
                    body = await resp.read()
                    status = resp.status
            except Exception as exc:  # noqa: BLE001 - counted as status 0
                rec.errors[type(exc).__name__] += 1
            end = time.perf_counter()
            rec.starts.append(start - t0)
            rec.latencies.append(end - start)
            rec.statuses.append(status)
            rec.depths.append(self.depth)
            rec.sizes.append(len(body))
            if status != 200:
                if len(rec.failures) < FAILURE_EXAMPLES:
                    rec.failures.append({"path": path, "status": status, "client": self.number})
                self.next_path = None
                continue
            text = body.decode("utf-8", "replace")
            found = hits_in(page.key, text)
            if found is not None:
                rec.hits.append(found)
            if page.deep:
                following = next_href(text) if self.depth < depth else None
                if self.depth >= depth:
                    rec.walks_done += 1
                elif following is None:
                    rec.walk_ends[self.depth] += 1
                self.next_path = following


async def sign_in_all(base: str, clients: int, email: str, password: str, seed: int) -> list[Client]:
    made = [Client(base, i, random.Random(seed * 1000 + i)) for i in range(clients)]
    try:
        for client in made:  # one after another: a sign-in counts as failed until its password is checked,
            await client.sign_in(email, password)  # so parallel ones for one account are told to wait (429)
    except BaseException:
        await asyncio.gather(*(c.close() for c in made))
        raise
    return made


async def phase(clients: list[Client], page: Page, args: argparse.Namespace, server: Server) -> Recorded:
    """All clients on one page for the warm-up and the measured window; CPU sampled at the window's ends."""
    rec = Recorded()
    t0 = time.perf_counter()
    t_measure, t_end = t0 + args.warmup, t0 + args.warmup + args.seconds

    async def marks() -> None:
        await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
        before = (server.cpu_seconds(), time.process_time(), machine_ticks())
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        after = (server.cpu_seconds(), time.process_time(), machine_ticks())
        ticks, idle = after[2][0] - before[2][0], after[2][1] - before[2][1]
        server_s, clients_s = after[0] - before[0], after[1] - before[1]
        rec.cpu = {"server_cpu_seconds": round(server_s, 2), "clients_cpu_seconds": round(clients_s, 2),
                   "machine_busy_share": round(1 - idle / max(1, ticks), 3),
                   "other_processes_cpu_seconds": round(max(0.0, (ticks - idle) / CLK_TCK - server_s - clients_s), 2),
                   "machine_cpu_seconds_available": round(ticks / CLK_TCK, 2)}

    marker = asyncio.create_task(marks())
    await asyncio.gather(*(c.run(page, args.depth, t0, t_end, rec) for c in clients))
    await marker
    return rec


async def drive(base: str, password: str, picks: Picks, args: argparse.Namespace,
                server: Server) -> dict[str, dict[str, Recorded]]:
    """/healthz, then every page as the rep, then as the admin."""
    out: dict[str, dict[str, Recorded]] = {}
    roles = [("rep", args.rep)] + ([] if args.skip_admin else [("admin", args.admin)])
    for role, email in roles:
        clients = await sign_in_all(base, args.clients, email, password, args.seed)
        log(f"{args.clients} clients signed in as {email} ({role})")
        try:
            out[role] = {}
            for page in ([HEALTHZ] if role == "rep" else []) + [p for p in pages(picks, args.set) if role in p.roles]:
                out[role][page.key] = rec = await phase(clients, page, args, server)
                window = summarise_page(page, rec, args)
                log(f"  {role} {page.key}: {window['requests']:,} requests, p50 {_ms(window['latency_ms']['p50'])} "
                    f"ms, p95 {_ms(window['latency_ms']['p95'])} ms, non-200 {window['non_200']:,}")
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    return out


# -- results -----------------------------------------------------------------------------------------

def summarise_page(page: Page, rec: Recorded, args: argparse.Namespace) -> dict[str, Any]:
    """The measured window's latencies (the deep walk's pages 2 on), and every request's statuses."""
    lo, hi = args.warmup, args.warmup + args.seconds
    in_window = [i for i, s in enumerate(rec.starts) if lo <= s < hi]  # what the server's CPU was spent on
    window = [i for i in in_window if not page.deep or rec.depths[i] >= 2]
    statuses = Counter(rec.statuses)
    out: dict[str, Any] = {
        "label": page.label, "shown": page.shown, "paths": len(page.paths), "example_path": page.paths[0],
        "requests": len(window), "requests_per_s": round(len(window) / args.seconds, 1),
        "latency_ms": latency_ms([rec.latencies[i] for i in window]),
        "mean_kb": round(sum(rec.sizes[i] for i in window) / max(1, len(window)) / 1024, 1),
        "all_requests": len(rec.statuses),  # the warm-up, and the deep walks' first pages, too
        "status": {str(s): c for s, c in sorted(statuses.items())},
        "non_200": sum(c for s, c in statuses.items() if s != 200),
        "failure_examples": rec.failures, "errors": dict(rec.errors), "cpu": dict(rec.cpu),
    }
    server_s = rec.cpu.get("server_cpu_seconds", 0)
    out["cpu"]["server_cpu_ms_per_request"] = round(server_s / max(1, len(in_window)) * 1000, 2)
    if page.deep:
        deepest = [rec.latencies[i] for i in window if rec.depths[i] == args.depth]
        out["deep"] = {"depth": args.depth, "walks_to_depth": rec.walks_done, "max_depth": max(rec.depths, default=0),
                       "walks_ended_early_at": {str(d): n for d, n in sorted(rec.walk_ends.items())},
                       "last_page_latency_ms": latency_ms(deepest)}
    if rec.hits:
        out["search"] = {"answers": len(rec.hits), "with_hits_share": round(sum(1 for h in rec.hits if h) /
                                                                               len(rec.hits), 3),
                         "mean_hits": round(sum(rec.hits) / len(rec.hits), 1)}
    return out


def summarise(recorded: dict[str, dict[str, Recorded]], picks: Picks, args: argparse.Namespace) -> dict[str, Any]:
    every = {HEALTHZ.key: HEALTHZ, **{p.key: p for p in pages(picks, args.set)}}
    roles: dict[str, Any] = {}
    for role, recs in recorded.items():
        roles[role] = {key: summarise_page(every[key], rec, args) for key, rec in recs.items()}
    health = roles["rep"][HEALTHZ.key]["latency_ms"]
    for role, rows in roles.items():
        for key, row in rows.items():
            lat = row["latency_ms"]
            row["ratio_to_healthz"] = {q: round(lat[q] / health[q], 1) if lat[q] and health[q] else None
                                       for q in ("p50", "p95")}
            if role == "rep" and key != HEALTHZ.key:
                row["goal_ms"] = every[key].goal_ms
                row["goal_met"] = lat["p95"] is not None and lat["p95"] < every[key].goal_ms
    return roles


def source_commit() -> str | None:
    """The commit checked out (read from .git, not by running git; a worktree's too); local changes are not
    recorded."""
    git = common = ROOT / ".git"
    try:
        if git.is_file():  # a worktree: its HEAD in its own git dir, the branches in the repository's
            git = Path(git.read_text().strip().removeprefix("gitdir: "))
            common = (git / (git / "commondir").read_text().strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head.removeprefix("ref: ")
        if (common / ref).exists():
            return (common / ref).read_text().strip()
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        pass
    return None


def _ms(x: Any) -> str:
    return "–" if x is None else f"{x:,.1f}"


def _ratio(x: Any) -> str:
    return "–" if x is None else f"{x:,.1f}×"


def markdown(r: dict[str, Any]) -> str:
    m, demo = r["machine"], r["demo"]
    counts = (demo.get("demo") or {}).get("counts") or {}
    lines = [
        f"## Staff pages: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, {r['database']}, "
        f"gunicorn {m['gunicorn']} with {r['workers']} uvicorn workers",
        "",
        f"Source: {(r['source_commit'] or 'unknown')[:12]} (with the working tree's local changes, if any). "
        f"Demo: {r['scale']:g} of the large demo"
        + (" (" + ", ".join(f"{counts.get(t, 0):,} {t}" for t in ("leads", "accounts", "contacts", "opportunities"))
           + ")" if counts else "")
        + (", reused" if demo.get("reused") else f", loaded in {demo['demo']['seconds']:,} s") + ".",
        "",
        f"{r['clients']} clients (one process, asyncio + aiohttp, one keep-alive connection and session each, "
        f"loopback), closed loop, {r['seconds']:g} s measured per page after {r['warmup']:g} s of warm-up. "
        f"The clients share the machine's cores with the server. Lead pages: {r['picks']['leads']} of the rep's "
        f"leads ({r['picks']['worked_leads']} with activities); searches: {r['picks']['terms']} terms from their "
        "names" + ("; the admin asks for the same ones." if "admin" in r["roles"] else "."),
    ]
    for role, rows in r["roles"].items():
        goal = role == "rep"
        email = r["rep"] if goal else r["admin"]
        lines += ["", f"### As {'a rep' if goal else 'an admin'} ({email})"
                  + ("" if goal else ", no goal"), "",
                  "| page | requests/s | p50 ms | p95 ms | p99 ms | ÷ /healthz p50 · p95 | non-200 | KB | "
                  "server CPU ms/req | clients CPU s | other CPU s |" + (" goal (p95) |" if goal else ""),
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|" + ("---|" if goal else "")]
        for key, row in rows.items():
            lat, cpu = row["latency_ms"], row["cpu"]
            ratio = row["ratio_to_healthz"]
            cells = [f"{row['label']} `{row['shown']}`", f"{row['requests_per_s']:,.0f}", _ms(lat["p50"]),
                     _ms(lat["p95"]), _ms(lat["p99"]), f"{_ratio(ratio['p50'])} · {_ratio(ratio['p95'])}",
                     f"{row['non_200']:,}", f"{row['mean_kb']:,.1f}",
                     f"{cpu.get('server_cpu_ms_per_request', 0):.2f}", f"{cpu.get('clients_cpu_seconds', 0):,.1f}",
                     f"{cpu.get('other_processes_cpu_seconds', 0):,.1f} of "
                     f"{cpu.get('machine_cpu_seconds_available', 0):,.0f}"]
            if goal:
                cells.append("" if key == HEALTHZ.key else (f"< {row['goal_ms']:,.0f} ms: "
                                                            + ("met" if row["goal_met"] else "**NOT met**")))
            lines.append("| " + " | ".join(cells) + " |")
        deep = rows.get("list_deep", {}).get("deep")
        if deep:
            ends = ", ".join(f"page {d}: {n}" for d, n in deep["walks_ended_early_at"].items())
            lines += ["", f"Deep walk: {deep['walks_to_depth']:,} walks reached page {deep['depth']} "
                      f"(page {deep['depth']} alone: p95 {_ms(deep['last_page_latency_ms']['p95'])} ms); deepest page "
                      f"{deep['max_depth']}" + (f"; walks that found no next link: {ends}" if ends else "") + "."]
        found = [f"{rows[k]['label']} {rows[k]['search']['with_hits_share']:.0%} with hits "
                 f"({rows[k]['search']['mean_hits']:g} on average)" for k in ("search", "search_suggest")
                 if "search" in rows.get(k, {})]
        if found:
            lines.append(f"Searches: {'; '.join(found)}.")
    failed = [(role, key, row) for role, rows in r["roles"].items() for key, row in rows.items() if row["non_200"]]
    lines.append("")
    if failed:
        lines.append("**Failures** (every request counted, the warm-up too):")
        for role, key, row in failed:
            examples = "; ".join(f"{f['status']} {f['path']}" for f in row["failure_examples"][:3])
            lines.append(f"- {role} {key}: {row['non_200']:,} non-200 answers {row['status']}"
                         + (f", errors {row['errors']}" if row["errors"] else "") + f" — e.g. {examples}")
    else:
        lines.append("Every answer was a 200.")
    logs = {k: v for k, v in r["server_log"].items() if v}
    if logs:
        lines.append(f"Server log: {', '.join(f'{k} {v:,}' for k, v in logs.items())} (see --keep DIR's server.log).")
    met = r["goal_met"]
    lines.append(f"Goal p95 < {GOAL_P95_MS} ms on each of the rep's pages (an export < {EXPORT_GOAL_MS:,} ms): "
                 f"{'met' if met else 'NOT met'}.")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.staff_pages",
        description="p50/p95 of the staff pages (My day, the lead list first / filtered / sorted / 50 pages deep, "
                    "search, a lead page) on the large demo under `crm serve`, 8 signed-in clients, against /healthz; "
                    "as a rep (goal p95 < 150 ms) and as an admin.",
    )
    p.add_argument("--scale", type=float, default=1.0,
                   help="share of the large demo (1,000,000 leads) to load: 0.1 is 100,000 leads (default 1)")
    p.add_argument("--seconds", type=float, default=30, help="measured seconds per page (default 30)")
    p.add_argument("--warmup", type=float, default=2,
                   help="seconds of load on each page before its measured window (default 2)")
    p.add_argument("--clients", type=int, default=8,
                   help="concurrent clients, each signed in with its own session (default 8)")
    p.add_argument("--workers", type=int, default=2,
                   help="gunicorn worker processes (default 2, CRM_WEB_WORKERS' default)")
    p.add_argument("--depth", type=int, default=50, help="how many pages deep the next-link walk goes (default 50)")
    p.add_argument("--database-url", help="an empty PostgreSQL database to load the demo into (or the one a run "
                   "with the same --keep DIR loaded); default: the data dir's SQLite file")
    p.add_argument("--keep", metavar="DIR", type=Path,
                   help="the data dir to make and keep, or to reuse when a run made it before; default: a temporary "
                        "one, deleted at the end")
    p.add_argument("--password", help="the demo users' password, for a database with a demo this benchmark did not "
                   "load (`crm demo` prints it)")
    p.add_argument("--rep", default=REP, help=f"the rep to sign in as (default {REP})")
    p.add_argument("--admin", default=ADMIN, help=f"the admin to sign in as (default {ADMIN})")
    p.add_argument("--skip-admin", action="store_true", help="only the rep's pages")
    p.add_argument("--set", choices=("part1", "part2", "all"), default="part1",
                   help="which pages: part1 (issue 12: My day, lists, search, a lead page), part2 (issue 14: the "
                        "board, campaigns, a saved filter's list, a 10,000-row export) or all")
    p.add_argument("--seed", type=int, default=2026,
                   help="random seed of the demo, the leads and the terms (default 2026)")
    p.add_argument("--json", metavar="PATH", type=Path, default=RESULTS,
                   help="where to write the JSON result (default bench/results/staff_pages.json)")
    args = p.parse_args(argv)
    if not 0 < args.scale <= 1:
        p.error("--scale must be in (0, 1]")
    if args.seconds <= 0 or args.warmup < 0 or args.clients < 1 or args.workers < 1 or args.depth < 2:
        p.error("--seconds, --clients and --workers must be positive, --warmup at least 0, --depth at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="leadline-staff-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "benchmark": "staff_pages",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.staff_pages " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": describe(("gunicorn", "uvicorn", "flask", "sqlalchemy", "aiohttp")),
        "source_commit": source_commit(),
        "scale": args.scale, "seconds": args.seconds, "warmup": args.warmup, "clients": args.clients,
        "workers": args.workers, "rep": args.rep, "admin": args.admin, "goal_p95_ms": GOAL_P95_MS,
        "load_average_at_start": list(os.getloadavg()),
    }
    try:
        demo = prepare(data_dir, args)
        result["demo"] = {k: v for k, v in demo.items() if k != "password"}
        env = server_env(data_dir, args.database_url)
        picks = pick(env, args.rep, args.admin, args.seed)
        result["database"] = picks.database
        result["picks"] = {"leads": len(picks.leads), "worked_leads": picks.worked_leads, "terms": len(picks.terms),
                           "example_terms": picks.terms[:10], "example_leads": picks.leads[:5]}
        server = Server("webform.asgi:app", env, data_dir / "server.log", args.workers)
        server.env["CRM_BASE_URL"] = server.base
        log(f"serving {data_dir} on {server.base} ({args.workers} workers)")
        with server:
            recorded = asyncio.run(drive(server.base, demo["password"], picks, args, server))
        result["server_log"] = server.log_summary()
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        if args.keep:
            log(f"data dir kept in {data_dir} (reuse it with --keep {data_dir})")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    result["roles"] = summarise(recorded, picks, args)
    result["load_average_at_end"] = list(os.getloadavg())
    result["goal_met"] = all(row.get("goal_met", True) for row in result["roles"]["rep"].values())
    result["failures"] = sum(row["non_200"] for rows in result["roles"].values() for row in rows.values())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))
    log(f"results written to {args.json}")
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
