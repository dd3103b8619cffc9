"""Stage-playbooks benchmark (issue 15): the playbooks of 10,000 stage changes fired by the stage-playbooks job's
bulk path, against a per-row ORM loop doing the same work, measured in the same run.

Data (untimed), loaded straight into a fresh, migrated and seeded database with the store's own executemany
(`fast_insert.insert_rows`): 50 reps (every other one writes Chinese), an account for every ten deals, and
`--changes` opportunities of the Standard Sales process, each entered Prospecting weeks ago and moved to one of
the nine later stages within the last day — a live stage entry whose playbook has not fired (what the job catches
up on) — with three activities that took place (a call, a meeting, a completed task), so the email's "last
three activities" has rows to read. The company is in Asia/Taipei.

Timed:

1. baseline: one entry at a time through the stage change's own firing (`playbooks.fire`: the playbook, the
   owner, the previous stage and the last activities read for that entry, the claim, each task through
   `activities.create_activity` with its flush, the email through the outbox), over the first `--orm-sample`
   entries, in a transaction rolled back afterwards; its time per entry extrapolated to all of them.
2. the job (`automation.runs.run`, as `crm flows run stage-playbooks` runs it): every entry fired, in chunks of
   5,000 — the claim, the tasks in one executemany, the emails in one statement.
3. the job again for the same `as_of`: nothing to do (idempotency).

"CPU s" is this process's CPU time (SQLite runs in it). Goal (issue): < 10 s for 10,000 stage changes.
`python -m bench.playbooks --changes 2000` is a quick check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text

from bench.bulk_insert import finish, prepare, run_header, vacuum
from crm_store.actor import Actor
from crm_store.automation import runs
from crm_store.automation import stage_playbooks as job
from crm_store.db.engine import session_factory
from crm_store.db.fast_insert import insert_rows
from crm_store.models import (
    Account,
    Activity,
    Currency,
    Opportunity,
    OutboxMessage,
    SalesProcess,
    SalesStage,
    StageHistory,
    utcnow,
)
from crm_store.pipeline import playbooks
from crm_store.settings import company
from crm_store.staff.users import add_user

GOAL_SECONDS = 10.0
RESULTS = Path(__file__).resolve().parent / "results" / "playbooks.json"
REPS = 50


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the data ---------------------------------------------------------------------------------------------

def load(engine: Engine, changes: int, seed: int, now: dt.datetime) -> dict[str, int]:
    """Reps, accounts, opportunities with their two stage entries and three past activities, committed."""
    rng = random.Random(seed)
    with session_factory(engine).begin() as session:
        company.set_value(session, "time_zone", "Asia/Taipei")
        reps = [add_user(session, f"rep{i}@example.com", f"Rep {i}", language="zh_Hant" if i % 2 else "en",
                         welcome=False).id for i in range(1, REPS + 1)]
        currency = session.scalar(select(Currency.id).where(Currency.code == "TWD"))
        process = session.scalar(select(SalesProcess.id).where(SalesProcess.is_default))
        stages = list(session.scalars(select(SalesStage).where(SalesStage.sales_process_id == process)
                                      .order_by(SalesStage.position)))
    first, later = stages[0], stages[1:]
    accounts = [{"id": i, "account_no": f"ACC{i}", "name": f"Account {i} 股份有限公司", "owner_id": rng.choice(reps),
                 "created_at": now - dt.timedelta(days=90), "updated_at": now - dt.timedelta(days=90)}
                for i in range(1, changes // 10 + 2)]
    opportunities, history, acts = [], [], []
    for i in range(1, changes + 1):
        owner, stage = rng.choice(reps), rng.choice(later)
        created = now - dt.timedelta(days=rng.uniform(20, 60))
        entered = now - dt.timedelta(seconds=rng.uniform(60, 86_400))
        opportunities.append({
            "id": i, "opportunity_no": f"POT{i}", "name": f"Deal {i}", "account_id": 1 + i % len(accounts),
            "amount": rng.randint(10, 5000) * 1000, "currency_id": currency, "conversion_rate": 1,
            "expected_close_date": (now + dt.timedelta(days=rng.randint(10, 90))).date(),
            "sales_process_id": process, "stage_id": stage.id, "stage_entered_at": entered,
            "probability": stage.probability, "owner_id": owner, "created_at": created, "updated_at": entered,
            "closed_at": entered if stage.is_closed else None,
        })
        history += [
            {"opportunity_id": i, "stage_id": first.id, "probability": first.probability, "entered_at": created,
             "left_at": entered, "changed_by_id": owner, "playbook_fired_at": created},
            {"opportunity_id": i, "stage_id": stage.id, "probability": stage.probability, "entered_at": entered,
             "left_at": None, "changed_by_id": owner, "playbook_fired_at": None},
        ]
        for kind, days in (("call", 9), ("meeting", 5), ("task", 2)):
            at = entered - dt.timedelta(days=days, hours=rng.uniform(0, 8))
            acts.append({
                "type": kind, "subject": f"{kind.title()} about deal {i}", "owner_id": owner, "opportunity_id": i,
                "start_at": at if kind != "task" else None, "due_date": at.date() if kind == "task" else None,
                "completed_at": at, "status": "Completed" if kind == "task" else "Held",
                "outcome": "Asked for a revised quotation" if kind == "call" else None,
                "created_at": at, "updated_at": at,
            })
    with session_factory(engine).begin() as session:
        insert_rows(session, Account.__table__, accounts)
        insert_rows(session, Opportunity.__table__, opportunities)
        insert_rows(session, StageHistory.__table__, history)
        insert_rows(session, Activity.__table__, acts)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("accounts", "opportunities"):
                conn.execute(text(f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(select coalesce(max(id), 1) from {table}))"))
            conn.execute(text("vacuum analyze"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("analyze")
    return {"reps": len(reps), "accounts": len(accounts), "opportunities": len(opportunities),
            "stage_entries": len(history), "activities": len(acts)}


# -- the runs ---------------------------------------------------------------------------------------------

def orm_baseline(engine: Engine, sample: int, as_of: dt.datetime) -> dict[str, Any]:
    """`playbooks.fire` one entry at a time over the first `sample` live entries, a flush each; rolled back."""
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(StageHistory.id).where(StageHistory.left_at.is_(None))
                                   .order_by(StageHistory.id).limit(sample)))
        started, cpu, tasks, emails = time.perf_counter(), time.process_time(), 0, 0
        for history_id in ids:
            row = session.get_one(StageHistory, history_id)
            opp = session.get_one(Opportunity, row.opportunity_id)
            fired = playbooks.fire(session, opp, row, Actor.user(opp.owner_id or 0), as_of)
            if fired is not None:
                tasks, emails = tasks + fired.tasks, emails + fired.emails
            session.flush()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        session.rollback()
    return {"entries": len(ids), "tasks": tasks, "emails": emails, "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3), "ms_per_entry": round(seconds / max(len(ids), 1) * 1000, 3)}


def timed_run(engine: Engine, as_of: dt.datetime, label: str) -> dict[str, Any]:
    log(f"{label}...")
    started, cpu = time.perf_counter(), time.process_time()
    report = runs.run(session_factory(engine), "stage-playbooks", job.stage_playbooks, as_of, trigger="bench")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report.status != "completed":
        raise SystemExit(f"stage-playbooks {report.status}: {report.errors}")
    log(f"  {seconds:.2f} s ({cpu:.2f} s of CPU): {report.counts}")
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "counts": report.counts}


def written(engine: Engine) -> dict[str, int]:
    """What the runs left: playbook tasks, queued emails, entries still unfired."""
    with session_factory(engine)() as s:
        return {
            "tasks": s.scalar(select(func.count()).select_from(Activity)
                              .where(Activity.created_by_automation == playbooks.AUTOMATION)) or 0,
            "emails": s.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.template == playbooks.TEMPLATE)) or 0,
            "unfired_live_entries": s.scalar(select(func.count()).select_from(StageHistory).where(
                StageHistory.left_at.is_(None), StageHistory.playbook_fired_at.is_(None))) or 0,
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.playbooks", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--changes", type=int, default=10_000, help="stage changes (opportunities with a live entry)")
    p.add_argument("--orm-sample", type=int, default=2_000, help="entries the ORM baseline fires one at a time")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the data")
    p.add_argument("--database-url", help="an EMPTY database, e.g. postgresql+psycopg://u@host/db "
                                          "(default: a SQLite file in a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="leadline-bench-")
    os.environ["CRM_DATA_DIR"] = tmp  # nothing is mailed, but keep any secret key out of ./var
    url = args.database_url or f"sqlite:///{tmp}/playbooks.db"
    engine = prepare(url)
    now = utcnow().replace(microsecond=0)
    started = time.perf_counter()
    log(f"loading {args.changes:,} opportunities with a live stage entry each...")
    sizes = load(engine, args.changes, args.seed, now)
    load_s = time.perf_counter() - started
    log(f"loaded in {load_s:.1f} s (not timed)")
    result: dict[str, Any] = {
        **run_header("playbooks", argv, url, engine), "sizes": sizes, "seed": args.seed,
        "load_seconds": round(load_s, 1), "goal_seconds": GOAL_SECONDS,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    log(f"ORM baseline: {min(args.orm_sample, args.changes):,} entries, one at a time (rolled back)...")
    baseline = orm_baseline(engine, args.orm_sample, now)
    vacuum(engine)
    extrapolated = baseline["ms_per_entry"] / 1000 * args.changes
    result["orm_baseline"] = {**baseline, "extrapolated_seconds": round(extrapolated, 1),
                              "note": "the first entries by id, extrapolated to all of them; rolled back"}
    log(f"  {baseline['seconds']:.1f} s ({baseline['ms_per_entry']:.2f} ms an entry); "
        f"extrapolated to {args.changes:,}: {extrapolated:,.1f} s")

    first = timed_run(engine, now, "the job")
    again = timed_run(engine, now, "the job again for the same as_of")
    if first["counts"]["fired"] != args.changes:
        raise SystemExit(f"the job fired {first['counts']['fired']:,} of {args.changes:,} entries")
    if any(again["counts"].values()):
        raise SystemExit(f"the second run for the same as_of did something: {again['counts']}")
    result["runs"] = {"job": first, "same_as_of_again": again}
    result["after"] = written(engine)
    result["ratio_orm_to_job"] = round(extrapolated / first["seconds"], 1)
    result["goal_met"] = first["seconds"] < GOAL_SECONDS if args.changes >= 10_000 else None
    finish(result, engine, Path(tmp), args.keep, args.json)

    m, c = result["machine"], first["counts"]
    print(f"## Stage playbooks: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
          f"{result['database']['server']}, SQLAlchemy {m['sqlalchemy']}\n")
    print(f"{args.changes:,} live stage entries to fire, {sizes['activities']:,} past activities\n")
    print("| path | entries | seconds | CPU s | tasks | emails | ms an entry |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    print(f"| **stage-playbooks job** (bulk, chunks of {job.CHUNK:,}) | {c['fired']:,} | **{first['seconds']:.2f}** "
          f"| {first['cpu_seconds']:.2f} | {c['tasks']:,} | {c['emails']:,} "
          f"| {first['seconds'] / max(c['fired'], 1) * 1000:.3f} |")
    print(f"| the job again, same `as_of` | 0 | {again['seconds']:.2f} | {again['cpu_seconds']:.2f} | 0 | 0 | |")
    print(f"| ORM loop: `playbooks.fire` per entry (measured) | {baseline['entries']:,} | {baseline['seconds']:.2f} "
          f"| {baseline['cpu_seconds']:.2f} | {baseline['tasks']:,} | {baseline['emails']:,} "
          f"| {baseline['ms_per_entry']:.3f} |")
    print(f"| ORM loop (extrapolated) | {args.changes:,} | {extrapolated:,.1f} | | | | |")
    print(f"\nRatio ORM ÷ job: {result['ratio_orm_to_job']}×. Goal < {GOAL_SECONDS:.0f} s for 10,000 stage changes"
          + ("" if args.changes >= 10_000 else f" (not judged at --changes {args.changes:,})") + ".")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
