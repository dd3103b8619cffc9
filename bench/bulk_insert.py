"""Bulk insert benchmark (issue 2): the store's bulk path against one ORM object at a time.

Rows of large-demo proportions are generated first, with the same generator as `crm demo`;
then each path writes them into its own fresh, migrated and seeded database, and only the
writing is timed:

* bulk: `bulk.insert_records` / `insert_activities` / `insert_notes` (validation, numbering,
  audit rows, the opportunities' stage history) and then one `search_index.rebuild_index`, as
  `crm_store.demo.load_demo` does;
* ORM: one `records.create` per record (which audits and indexes it for search), plus
  `stages.change_stage` and a flush for every later stage of an opportunity,
  `activities.create_activity` and `activities.add_note`, each flushing per row, all in one
  transaction; it writes a sample (every 20th row by default): compare rates, not totals.

Rows counted: records, stage history, activities and notes (audit and search-index rows are
bookkeeping: their time counts, they do not). Per table and "total (inserts)" time the insert
calls only; "total end to end" adds the search index rebuild and the commit. Not timed: row
generation, migration and seeding, making the users, and resolving the generated rows'
references to the ids the database gave (done between the timed steps).
Run `python -m bench.bulk_insert --help`."""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.machine import describe
from crm_store.actor import SYSTEM, Actor
from crm_store.db.engine import make_engine, session_factory
from crm_store.db.schema import upgrade
from crm_store.models import (
    Account,
    Activity,
    Batch,
    Campaign,
    Contact,
    Lead,
    Note,
    Opportunity,
    SalesProcess,
    SalesStage,
    StageHistory,
    User,
)
from crm_store.ops.demo import SIZES, DemoGenerator, DemoSize, DemoUsers, make_users
from crm_store.pipeline import activities, stages
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.records.validation import Validator
from crm_store.settings.seed import seed_all

GOAL_ROWS_PER_S = 50_000
RESULTS = Path(__file__).resolve().parent / "results" / "bulk_insert.json"
OPPS = "opportunities + stage_history"
TABLES = ("campaigns", "accounts", "contacts", "leads", "activities", "notes", OPPS)
COUNT_MODELS = {
    "campaigns": Campaign, "accounts": Account, "contacts": Contact, "leads": Lead, "activities": Activity,
    "notes": Note, "opportunities": Opportunity, "stage_history": StageHistory,
}
USER_KEYS = ("owner_id", "completed_by_id", "author_id")
T = TypeVar("T")
Row = dict[str, Any]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the rows ----------------------------------------------------------------------------------

@dataclass
class Dataset:
    """Generated rows. References between them are positions in these lists; users are numbered
    1.. (reps, then the manager: the generator treats a falsy owner as none); a sales process is
    its name. `Ids.resolve` turns them into the ids of one database."""

    campaigns: list[Row]
    accounts: list[Row]
    contacts: list[Row]
    leads: list[Row]
    lead_activities: list[Row]
    notes: list[Row]
    opportunities: list[Row]
    opp_activities: list[Row]

    def counts(self) -> dict[str, int]:
        """Rows per table that inserting this data writes."""
        return {
            "campaigns": len(self.campaigns), "accounts": len(self.accounts), "contacts": len(self.contacts),
            "leads": len(self.leads), "activities": len(self.lead_activities) + len(self.opp_activities),
            "notes": len(self.notes), "opportunities": len(self.opportunities),
            "stage_history": sum(len(o["history"]) for o in self.opportunities),
        }

    def sample(self, every: int) -> Dataset:
        """Every `every`-th account, contact, lead and opportunity with their activities and notes
        (all campaigns); references to rows outside the sample are folded onto sampled rows."""
        if every == 1:
            return self

        def fold(rows: list[Row], *keys: str) -> list[Row]:
            return [{**r, **{k: r[k] // every for k in keys if r.get(k) is not None}} for r in rows]

        return Dataset(
            campaigns=self.campaigns,
            accounts=self.accounts[::every],
            contacts=fold(self.contacts[::every], "account_id"),
            leads=fold(self.leads[::every], "converted_account_id", "converted_contact_id"),
            lead_activities=fold([a for a in self.lead_activities if a["lead_id"] % every == 0], "lead_id"),
            notes=fold([n for n in self.notes if n["lead_id"] % every == 0], "lead_id"),
            opportunities=fold(self.opportunities[::every], "account_id", "contact_id"),
            opp_activities=fold([a for a in self.opp_activities if a["opportunity_id"] % every == 0],
                                "opportunity_id"),
        )


def stage_ladders(engine: Engine) -> dict[str, list[Any]]:
    """The seeded stages per process name, as the generator needs them (process id -> name)."""
    with session_factory(engine)() as s:
        found = sorted(s.scalars(select(SalesStage)), key=lambda st: st.position)
        ladders: dict[str, list[Any]] = {}
        for st in found:
            ladders.setdefault(st.process.name, []).append(SimpleNamespace(
                name=st.name, position=st.position, probability=st.probability, is_won=st.is_won,
                is_lost=st.is_lost, is_closed=st.is_closed, sales_process_id=st.process.name,
            ))
    return ladders


def generate(size: DemoSize, seed: int, ladders: dict[str, list[Any]]) -> Dataset:
    """Make the rows as `load_demo` does (same generator calls in the same order, so the same data)."""
    gen = DemoGenerator(size, seed=seed)
    reps, manager = list(range(1, size.reps + 1)), size.reps + 1
    campaigns = gen.campaigns([manager])
    campaign_refs = list(range(len(campaigns)))
    conversions = gen.conversions()
    accounts = list(gen.accounts(conversions, reps))
    account_times = [r["created_at"] for r in accounts]
    contacts = list(gen.contacts(conversions, list(range(len(accounts))), account_times, reps))
    leads: list[Row] = []
    lead_acts: list[Row] = []
    notes: list[Row] = []
    for i in range(size.leads):
        conversion = conversions[i] if i < len(conversions) else None
        lead = gen.lead(conversion, reps, campaign_refs)
        if conversion is not None:
            lead["converted_account_id"] = lead["converted_contact_id"] = i
        acts, lead_notes = gen.lead_work(lead)
        lead_acts.extend({**a, "lead_id": i} for a in acts)
        notes.extend({**n, "lead_id": i} for n in lead_notes)
        leads.append(lead)
    contact_of: dict[int, int] = {}
    for c, row in enumerate(contacts):
        contact_of.setdefault(row["account_id"], c)
    opps: list[Row] = []
    opp_acts: list[Row] = []
    for o in range(size.opportunities):
        a = gen.rng.randrange(len(accounts))
        opp = gen.opportunity(a, account_times[a], contact_of.get(a), reps, ladders, campaign_refs)
        acts = [gen.activity(opp["owner_id"], at, gen.now) for _, at, _ in opp["history"][1:2]]
        done = [x["completed_at"] for x in acts if x["completed_at"]]
        if done and (opp["last_touch_at"] is None or max(done) > opp["last_touch_at"]):
            opp["last_touch_at"] = opp["updated_at"] = max(done)
        opp_acts.extend({**x, "opportunity_id": o} for x in acts)
        opps.append(opp)
    return Dataset(campaigns, accounts, contacts, leads, lead_acts, notes, opps, opp_acts)


@dataclass
class Ids:
    """What the generated references become in one database."""

    users: dict[int, int]
    processes: dict[str, int]
    campaigns: list[int] = field(default_factory=list)
    accounts: list[int] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)
    leads: list[int] = field(default_factory=list)
    opportunities: list[int] = field(default_factory=list)

    def resolve(self, rows: list[Row], **refs: list[int]) -> list[Row]:
        """Copies of the rows with users, processes and the given references as real ids."""
        users = self.users
        out = []
        for row in rows:
            r = dict(row)
            for key in USER_KEYS:
                if r.get(key) is not None:
                    r[key] = users[r[key]]
            for key, targets in refs.items():
                if r.get(key) is not None:
                    r[key] = targets[r[key]]
            if "history" in r:
                r["history"] = [(st, at, None if u is None else users[u]) for st, at, u in r["history"]]
            if "sales_process_id" in r:
                r["sales_process_id"] = self.processes[r["sales_process_id"]]
            out.append(r)
        return out


# -- timing ------------------------------------------------------------------------------------

@dataclass
class Timing:
    """Rows and seconds per table of one path, plus timed steps that write no rows of their own."""

    profiler: cProfile.Profile | None = None
    tables: dict[str, list[float]] = field(default_factory=lambda: {t: [0, 0.0] for t in TABLES})
    steps: dict[str, float] = field(default_factory=dict)  # e.g. the search index rebuild
    commit_s: float | None = None
    cpu_s: float = 0.0  # CPU time of this process in the timed calls: less sensitive to other load

    def timed(self, table: str | None, rows: int, call: Callable[[], T], *, step: str | None = None) -> T:
        """Run `call`, timing it (and profiling it when asked) as `rows` rows of `table`, or as `step`."""
        if self.profiler is not None:
            self.profiler.enable()
        cpu_started = time.process_time()
        started = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - started
        self.cpu_s += time.process_time() - cpu_started
        if self.profiler is not None:
            self.profiler.disable()
        if table is not None:
            self.tables[table][0] += rows
            self.tables[table][1] += elapsed
        else:
            assert step is not None
            self.steps[step] = self.steps.get(step, 0.0) + elapsed
        return result

    def rows(self) -> int:
        return int(sum(r for r, _ in self.tables.values()))

    def seconds(self) -> float:
        """Seconds of the inserts alone."""
        return sum(s for _, s in self.tables.values())

    def end_to_end(self) -> float:
        """Seconds of the inserts, the other timed steps and the commit."""
        return self.seconds() + sum(self.steps.values()) + (self.commit_s or 0.0)

    def as_json(self, counts: dict[str, int]) -> dict[str, Any]:
        def figures(rows: int, seconds: float) -> dict[str, Any]:
            rows_per_s = round(rows / seconds) if seconds else None
            return {"rows": rows, "seconds": round(seconds, 4), "rows_per_s": rows_per_s}

        tables = {t: figures(int(r), s) for t, (r, s) in self.tables.items()}
        tables[OPPS].update(opportunities=counts["opportunities"], stage_history=counts["stage_history"])
        return {
            "tables": tables,
            "total": figures(self.rows(), self.seconds()),
            "steps_seconds": {k: round(v, 4) for k, v in self.steps.items()},
            "commit_seconds": None if self.commit_s is None else round(self.commit_s, 4),
            "total_end_to_end": figures(self.rows(), self.end_to_end()),
            "cpu_seconds": round(self.cpu_s, 2),
            "rows_per_cpu_s": round(self.rows() / self.cpu_s) if self.cpu_s else None,
        }


# -- the two paths -----------------------------------------------------------------------------

def setup_people(session: Session, size: DemoSize, name: str) -> tuple[Ids, Batch, DemoUsers]:
    """Users, team and a demo batch (untimed); return the id map, the batch and the users."""
    people = make_users(session, size)
    batch = bulk.new_batch(session, "demo", name, people.admin.id)
    processes = {p.name: p.id for p in session.scalars(select(SalesProcess))}
    users = {n: u.id for n, u in enumerate([*people.reps, people.manager], 1)}
    return Ids(users, processes), batch, people


SEARCH_STEP = "search index rebuild"


def run_bulk(session: Session, data: Dataset, size: DemoSize, timing: Timing, search_index: bool = True) -> None:
    """Write `data` through the bulk path, as `load_demo` does: the records, then one rebuild of the
    search index (`records.create` indexes each record as it goes, so the ORM path pays for it too)."""
    ids, batch, _people = setup_people(session, size, "bench bulk")
    ctx = bulk.BulkContext.load(session)

    def records_of(module: str, table: str, rows: list[Row], extra: int = 0) -> list[int]:
        return timing.timed(table, len(rows) + extra,
                            lambda: bulk.insert_records(session, module, rows, ctx, batch=batch))

    ids.campaigns = records_of("campaigns", "campaigns", ids.resolve(data.campaigns))
    ids.accounts = records_of("accounts", "accounts", ids.resolve(data.accounts))
    ids.contacts = records_of("contacts", "contacts", ids.resolve(data.contacts, account_id=ids.accounts))
    rows = ids.resolve(data.leads, campaign_id=ids.campaigns, converted_account_id=ids.accounts,
                       converted_contact_id=ids.contacts)
    ids.leads = records_of("leads", "leads", rows)
    rows = ids.resolve(data.lead_activities, lead_id=ids.leads)
    timing.timed("activities", len(rows), lambda: bulk.insert_activities(session, rows, ctx, batch=batch))
    notes = ids.resolve(data.notes, lead_id=ids.leads)
    timing.timed("notes", len(notes), lambda: bulk.insert_notes(session, notes, ctx, batch=batch))
    rows = ids.resolve(data.opportunities, account_id=ids.accounts, contact_id=ids.contacts, campaign_id=ids.campaigns)
    history = sum(len(r["history"]) for r in rows)
    ids.opportunities = records_of("opportunities", OPPS, rows, extra=history)
    acts = ids.resolve(data.opp_activities, opportunity_id=ids.opportunities)
    timing.timed("activities", len(acts), lambda: bulk.insert_activities(session, acts, ctx, batch=batch))
    if ctx.counts.get("stage_history") != history:
        raise RuntimeError(f"bulk path wrote {ctx.counts.get('stage_history')} stage rows, expected {history}")
    if search_index:
        session.flush()
        timing.timed(None, 0, lambda: search_index.rebuild_index(session), step=SEARCH_STEP)


def _split(rows: list[Row]) -> list[tuple[Row, dt.datetime]]:
    """(values without the back-dating timestamps, created_at): `records.create` takes `at=` instead."""
    out = []
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ("created_at", "updated_at")}
        out.append((values, row["created_at"]))
    return out


def run_orm(session: Session, data: Dataset, size: DemoSize, timing: Timing, shared_validator: bool) -> None:
    """Write `data` one ORM object at a time, flushing per row, in the caller's transaction."""
    ids, batch, _people = setup_people(session, size, "bench orm")
    validator = Validator.for_session(session) if shared_validator else None
    # Like an import loop, keep only the ids: the session holds clean objects weakly, so they do not
    # pile up in its identity map (stages.change_stage scans that map on every call).

    def create_each(module: str, prepared: list[tuple[Row, dt.datetime]]) -> list[int]:
        return [records.create(session, module, values, SYSTEM, at=at, batch_id=batch.id, validator=validator).id
                for values, at in prepared]

    def records_of(module: str, rows: list[Row]) -> list[int]:
        prepared = _split(rows)
        return timing.timed(module, len(prepared), lambda: create_each(module, prepared))

    def activities_each(rows: list[Row]) -> None:
        prepared = [{**r, "batch_id": batch.id} for r in rows]
        timing.timed("activities", len(prepared),
                     lambda: [activities.create_activity(session, r, SYSTEM).id for r in prepared])

    ids.campaigns = records_of("campaigns", ids.resolve(data.campaigns))
    ids.accounts = records_of("accounts", ids.resolve(data.accounts))
    ids.contacts = records_of("contacts", ids.resolve(data.contacts, account_id=ids.accounts))
    ids.leads = records_of("leads", ids.resolve(data.leads, campaign_id=ids.campaigns,
                                                  converted_account_id=ids.accounts, converted_contact_id=ids.contacts))
    activities_each(ids.resolve(data.lead_activities, lead_id=ids.leads))
    notes = [(n["body"], Actor.user(n["author_id"]), n["created_at"], n["lead_id"])
             for n in ids.resolve(data.notes, lead_id=ids.leads)]
    timing.timed("notes", len(notes), lambda: [
        activities.add_note(session, body, actor, at=at, lead_id=lead_id).id for body, actor, at, lead_id in notes])

    opps = []
    for values, at in _split(ids.resolve(data.opportunities, account_id=ids.accounts, contact_id=ids.contacts,
                                         campaign_id=ids.campaigns)):
        history = values.pop("history")
        first, _, first_by = history[0]
        later = [(st, when, Actor.user(by) if by is not None else SYSTEM) for st, when, by in history[1:]]
        opps.append(({**values, "stage": first}, at, Actor.user(first_by) if first_by is not None else SYSTEM, later))

    def create_opps() -> list[int]:
        made = []
        for values, at, actor, later in opps:
            opp = records.create(session, "opportunities", values, actor, at=at, batch_id=batch.id, validator=validator)
            for stage, when, by in later:
                stages.change_stage(session, opp, stage, by, at=when)
                session.flush()
            made.append(opp.id)
        return made

    rows = len(opps) + sum(1 + len(later) for *_, later in opps)
    ids.opportunities = timing.timed(OPPS, rows, create_opps)
    activities_each(ids.resolve(data.opp_activities, opportunity_id=ids.opportunities))


def count_rows(session: Session) -> dict[str, int]:
    """Rows per table in the database (a check that the timed rows were written)."""
    return {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in COUNT_MODELS.items()}


# -- databases ---------------------------------------------------------------------------------

def prepare(url: str) -> Engine:
    """Migrate and seed an empty database (untimed)."""
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine).begin() as s:
        if s.scalar(select(User.id).limit(1)) is not None:
            raise SystemExit(f"{make_url(url).render_as_string()} is not empty (it has users); give an empty database")
        seed_all(s)
    return engine


def server_version(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar_one()
        return f"{engine.dialect.name} " + conn.exec_driver_sql("show server_version").scalar_one()


def vacuum(engine: Engine) -> None:
    """Drop the dead rows a rolled-back run left behind (PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("vacuum analyze"))


# -- report ------------------------------------------------------------------------------------

def git_state() -> dict[str, Any]:
    """The commit the store was measured at, and whether crm_store had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, check=True).stdout  # noqa: E731
        return {"commit": run("rev-parse", "--short", "HEAD").strip(),
                "crm_store_dirty": bool(run("status", "--porcelain", "--", "crm_store").strip())}
    except (OSError, subprocess.CalledProcessError):
        return {}


def machine() -> dict[str, Any]:
    return describe(('sqlalchemy',))


def run_header(benchmark: str, argv: Sequence[str] | None, url: str, engine: Engine) -> dict[str, Any]:
    """What every benchmark's result starts with: its name, when, the command, the machine, commit and database."""
    return {
        "benchmark": benchmark,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": f"python -m bench.{benchmark} " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "git": git_state(),
        "database": {"url": make_url(url).render_as_string(), "server": server_version(engine)},
    }


def finish(result: dict[str, Any], engine: Engine, tmp: Path, keep: bool, json_path: Path, *,
           ascii_only: bool = True) -> None:
    """What every benchmark does when its runs are over: the load average at the end, the engine disposed, the
    temporary directory kept (said on stderr) or removed, and the result written as JSON."""
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    engine.dispose()
    if keep:
        print(f"kept in {tmp}", file=sys.stderr, flush=True)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=ascii_only) + "\n")


def rate(figures: dict[str, Any]) -> str:
    return f"{figures['rows_per_s']:,}" if figures["rows_per_s"] else "–"


def markdown(result: dict[str, Any]) -> str:
    bulk_r, orm_r = result["bulk"], result.get("orm")
    head = "| table | bulk rows | bulk s | bulk rows/s |"
    rule = "|---|--:|--:|--:|"
    if orm_r:
        head += " ORM rows | ORM s | ORM rows/s | bulk/ORM |"
        rule += "--:|--:|--:|--:|"
    lines = [head, rule]

    def line(name: str, b: dict[str, Any], o: dict[str, Any] | None) -> str:
        cells = [name, f"{b['rows']:,}", f"{b['seconds']:.2f}", rate(b)]
        if orm_r:
            if o is None:
                cells += ["", "", "", ""]
            else:
                ratio = f"{b['rows_per_s'] / o['rows_per_s']:.1f}×" if b["rows_per_s"] and o["rows_per_s"] else "–"
                cells += [f"{o['rows']:,}", f"{o['seconds']:.2f}", rate(o), ratio]
        return "| " + " | ".join(cells) + " |"

    for table in TABLES:
        lines.append(line(table, bulk_r["tables"][table], orm_r["tables"][table] if orm_r else None))
    lines.append(line("**total (inserts)**", bulk_r["total"], orm_r["total"] if orm_r else None))

    def seconds_only(name: str, b: float | None, o: float | None) -> str:
        cells = [name, "", "–" if b is None else f"{b:.2f}", ""]
        if orm_r:
            cells += ["", "–" if o is None else f"{o:.2f}", "", ""]
        return "| " + " | ".join(cells) + " |"

    for step, seconds in bulk_r["steps_seconds"].items():
        lines.append(seconds_only(f"+ {step}", seconds, orm_r["steps_seconds"].get(step) if orm_r else None))
    lines.append(seconds_only("+ commit", bulk_r["commit_seconds"], orm_r["commit_seconds"] if orm_r else None))
    lines.append(line("**total end to end**", bulk_r["total_end_to_end"], orm_r["total_end_to_end"] if orm_r else None))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    large = SIZES["large"]
    p = argparse.ArgumentParser(
        prog="python -m bench.bulk_insert",
        description="Time inserting pre-generated large-demo rows through the bulk path (crm_store.bulk) against "
                    "one ORM object at a time (records.create), each into a fresh database, and print rows/s of "
                    "each and their ratio. Row generation, migration and seeding are not timed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--leads", type=int, default=100_000, help=f"leads (large demo: {large.leads})")
    p.add_argument("--accounts", type=int, default=20_000, help=f"accounts (large demo: {large.accounts})")
    p.add_argument("--contacts", type=int, default=40_000, help=f"contacts (large demo: {large.contacts})")
    p.add_argument("--opportunities", type=int, default=50_000,
                   help=f"opportunities, each with its stage history (large demo: {large.opportunities})")
    p.add_argument("--orm-fraction", type=float, default=0.05,
                   help="share of the rows the slow ORM baseline writes (every 1/f-th row)")
    p.add_argument("--skip-orm", action="store_true", help="time the bulk path only")
    p.add_argument("--orm-shared-validator", action="store_true",
                   help="pass one Validator to every records.create (callers today let it load one per row)")
    p.add_argument("--skip-search-index", action="store_true",
                   help="do not time the bulk path's search index rebuild (the ORM path still indexes per record)")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the generator")
    p.add_argument("--database-url", help="an EMPTY database to write to, e.g. postgresql+psycopg://u@host/db; "
                   "default: fresh SQLite files in a temporary directory. On one PostgreSQL database the ORM "
                   "baseline runs first in a transaction that is rolled back.")
    p.add_argument("--orm-database-url", help="an empty database of its own for the ORM baseline")
    p.add_argument("--keep", action="store_true", help="keep the temporary SQLite files")
    p.add_argument("--profile", metavar="FILE", type=Path,
                   help="cProfile the timed bulk inserts into FILE (pstats); the figures then include its overhead")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    args = p.parse_args(argv)
    for name in ("leads", "accounts", "contacts", "opportunities"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not 0 < args.orm_fraction <= 1:
        p.error("--orm-fraction must be in (0, 1]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size = DemoSize(
        reps=SIZES["large"].reps, leads=args.leads, accounts=args.accounts, contacts=args.contacts,
        opportunities=args.opportunities, campaigns=SIZES["large"].campaigns,
        lead_activity_rate=SIZES["large"].lead_activity_rate, note_rate=SIZES["large"].note_rate,
    )
    every = max(1, round(1 / args.orm_fraction))
    tmp = tempfile.mkdtemp(prefix="leadline-bench-")
    # Adding users queues welcome mail signed with the data dir's secret key: keep that out of ./var.
    os.environ["CRM_DATA_DIR"] = tmp
    bulk_url = args.database_url or f"sqlite:///{tmp}/bulk.db"
    orm_url = args.orm_database_url or (f"sqlite:///{tmp}/orm.db" if not args.database_url else None)
    shared_db = not args.skip_orm and orm_url is None  # ORM baseline in the bulk database, rolled back

    started = time.perf_counter()
    bulk_engine = prepare(bulk_url)
    orm_engine = None if args.skip_orm else (bulk_engine if shared_db else prepare(orm_url))
    log(f"databases ready in {time.perf_counter() - started:.1f} s ({server_version(bulk_engine)})")

    started = time.perf_counter()
    data = generate(size, args.seed, stage_ladders(bulk_engine))
    sample = None if args.skip_orm else data.sample(every)
    gen_s = time.perf_counter() - started
    log(f"generated {sum(data.counts().values()):,} rows in {gen_s:.1f} s (not timed)")
    # The pre-generated rows would not all be alive in a streaming load: keep the garbage
    # collector from scanning them again and again during the timed inserts.
    gc.collect()
    gc.freeze()

    result: dict[str, Any] = {
        "benchmark": "bulk_insert",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.bulk_insert " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "git": git_state(),
        "database": {"url": make_url(bulk_url).render_as_string(), "server": server_version(bulk_engine)},
        "sizes": {"leads": size.leads, "accounts": size.accounts, "contacts": size.contacts,
                  "opportunities": size.opportunities, "campaigns": size.campaigns, "reps": size.reps},
        "seed": args.seed,
        "generation_seconds": round(gen_s, 2),
        "goal_rows_per_s": GOAL_ROWS_PER_S,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    if sample is not None and orm_engine is not None:
        log(f"ORM baseline: {sum(sample.counts().values()):,} rows (every {every}th row)...")
        orm_t = Timing()
        session = session_factory(orm_engine)()
        try:
            session.begin()
            run_orm(session, sample, size, orm_t, args.orm_shared_validator)
            written = count_rows(session)
            if shared_db:
                session.rollback()
            else:
                t0 = time.perf_counter()
                session.commit()
                orm_t.commit_s = time.perf_counter() - t0
        finally:
            session.close()
        check(written, sample.counts(), "ORM")
        result["orm"] = {**orm_t.as_json(sample.counts()), "every_nth_row": every,
                         "shared_validator": args.orm_shared_validator, "rolled_back": shared_db}
        log(f"ORM baseline: {orm_t.rows():,} rows in {orm_t.seconds():.1f} s")
        if shared_db:
            vacuum(bulk_engine)

    log(f"bulk path: {sum(data.counts().values()):,} rows...")
    profiler = cProfile.Profile() if args.profile else None
    bulk_t = Timing(profiler=profiler)
    session = session_factory(bulk_engine)()
    try:
        session.begin()
        run_bulk(session, data, size, bulk_t, search_index=not args.skip_search_index)
        written = count_rows(session)
        t0 = time.perf_counter()
        session.commit()
        bulk_t.commit_s = time.perf_counter() - t0
    finally:
        session.close()
    check(written, data.counts(), "bulk")
    log(f"bulk path: {bulk_t.rows():,} rows in {bulk_t.seconds():.1f} s, {bulk_t.end_to_end():.1f} s end to end")
    result["bulk"] = {**bulk_t.as_json(data.counts()), "profiled": profiler is not None}
    if profiler is not None:
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(args.profile)
        log(f"profile written to {args.profile}")

    if "orm" in result:
        b, o = result["bulk"], result["orm"]
        result["ratio_bulk_to_orm"] = round(b["total"]["rows_per_s"] / o["total"]["rows_per_s"], 1)
        result["ratio_bulk_to_orm_end_to_end"] = round(
            b["total_end_to_end"]["rows_per_s"] / o["total_end_to_end"]["rows_per_s"], 1)
    inserts_rate = result["bulk"]["total"]["rows_per_s"]
    end_to_end_rate = result["bulk"]["total_end_to_end"]["rows_per_s"]
    result["goal_met_inserts"] = inserts_rate >= GOAL_ROWS_PER_S
    result["goal_met_end_to_end"] = end_to_end_rate >= GOAL_ROWS_PER_S
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    gc.unfreeze()

    for engine in {bulk_engine, orm_engine} - {None}:
        engine.dispose()
    if args.keep:
        log(f"SQLite files kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    print(f"## Bulk insert: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
          f"{result['database']['server']}, SQLAlchemy {m['sqlalchemy']}\n")
    print(markdown(result))
    print()
    if "orm" in result:
        print(f"Ratio bulk/ORM: {result['ratio_bulk_to_orm']}× on the inserts, "
              f"{result['ratio_bulk_to_orm_end_to_end']}× end to end. The ORM baseline wrote every {every}th row"
              f"{' in a transaction rolled back after timing' if shared_db else ''}.")
    cpu = [f"{name} {result[key]['rows_per_cpu_s']:,} rows per CPU-second ({result[key]['cpu_seconds']:.1f} s)"
           for key, name in (("bulk", "bulk"), ("orm", "ORM")) if key in result]
    print(f"Process CPU time of the timed steps: {', '.join(cpu)}"
          f"{' (the database server is not included)' if bulk_engine.dialect.name != 'sqlite' else ''}.")
    verdict = {True: "met", False: "NOT met"}
    print(f"Goal ≥ {GOAL_ROWS_PER_S:,} rows/s for the bulk path: inserts {inserts_rate:,} rows/s "
          f"({verdict[result['goal_met_inserts']]}); end to end {end_to_end_rate:,} rows/s "
          f"({verdict[result['goal_met_end_to_end']]}).")
    print(f"Not timed: generating the rows ({gen_s:.1f} s), migrating and seeding, users, resolving ids between steps.")
    print(f"Load average (1, 5, 15 min) at start {result['load_average_at_start']}, at end "
          f"{result['load_average_at_end']}: figures are only comparable on an otherwise idle machine.")
    print(f"JSON: {args.json}")
    return 0


def check(written: dict[str, int], expected: dict[str, int], path: str) -> None:
    """Fail if the database does not hold the rows the path was timed for."""
    wrong = {t: (written[t], n) for t, n in expected.items() if written[t] != n}
    if wrong:
        raise RuntimeError(f"{path} path: rows written differ from the rows generated: {wrong}")


if __name__ == "__main__":
    sys.exit(main())
