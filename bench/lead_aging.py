"""Lead-aging benchmark (issue 13): the nightly `lead_aging` job over the large demo's leads and opportunities,
against a per-row ORM loop doing the same work, measured in the same run.

Data (untimed), loaded straight into a fresh, migrated and seeded database with the store's own executemany
(`fast_insert.insert_rows`; no validation, search index or audit rows — the job reads none of them):
`--scale` × the large demo (1,000,000 leads, 500,000 opportunities), 50 reps and their manager, in a demo
batch loaded "now" like `crm demo --size large`. Leads are the demo generator's (`DemoGenerator.lead`: its
people, so rows as wide as the demo's; its mix of statuses, Cold, Junk and Lost ones included; its dates
over 18 months, more of them recent), 6 % converted, 60 % of the worked ones touched after creation. 3 % of
the leads and 5 % of the open opportunities have an open task due after today (the planned-activity rule),
3 % of the leads an overdue one. A tenth of the leads are outside the batch (captured since the load), so
stale notices are sent too. The company is in Asia/Taipei.

Timed (each through `automation.runs.run`, which writes its flow_runs row like `crm flows run`):

1. first night (`as_of` = now): every open lead's and opportunity's idle days and state are written; leads
   idle 90 days or more go Cold with a note and an audit row each; stale ones not in the batch are notified.
2. next night (`as_of` + 1 day): idle days move on for nearly every open record; few states change.
3. the same night again: nothing to write (idempotency) — what a re-run costs.

Baseline: one ORM object at a time — `session.get`, the idle days by the calendar for that lead, one query
for its planned activities, the state, the note/audit row/notices through `activities.add_note`, `audit.log`
and `outbox.enqueue`, a flush per record — over the first `--orm-sample` leads and half as many
opportunities (by id: the data is shuffled), before run 1 on the same data, in a transaction rolled back
afterwards. Its time per record is extrapolated to the full counts and labelled so. Ratios: the extrapolated
baseline over runs 1 and 2.

"CPU s" is this process's CPU time (SQLite runs in it; PostgreSQL's work is the server's and not counted):
steadier than seconds on a busy machine. Goal (issue): < 10 s for 1,000,000 leads.
`python -m bench.lead_aging --scale 0.05` is a quick check (about 2 minutes).
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
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bench.bulk_insert import finish, prepare, run_header, vacuum
from crm_store.actor import Actor
from crm_store.automation import lead_aging as aging
from crm_store.automation import runs
from crm_store.automation.sla_escalation import Staff, lead_reference, shown_time
from crm_store.db.engine import session_factory
from crm_store.db.fast_insert import insert_rows
from crm_store.mail import outbox
from crm_store.models import (
    Activity,
    Batch,
    Currency,
    Lead,
    Note,
    Opportunity,
    OutboxMessage,
    SalesProcess,
    SalesStage,
    utcnow,
)
from crm_store.ops.demo_rows import HISTORY_DAYS, SIZES, DemoGenerator
from crm_store.pipeline import activities
from crm_store.pipeline.leads import is_open_lead
from crm_store.records import audit
from crm_store.settings import company
from crm_store.staff.users import add_user

GOAL_SECONDS = 10.0
RESULTS = Path(__file__).resolve().parent / "results" / "lead_aging.json"
LOAD_CHUNK = 50_000
REPS = SIZES["large"].reps


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the data ---------------------------------------------------------------------------------------------

def load(engine: Engine, leads: int, opportunities: int, seed: int, now: dt.datetime, mode: str) -> dict[str, int]:
    """Users, a demo batch, leads, opportunities and their open activities, committed; return the counts."""
    rng = random.Random(seed)
    with session_factory(engine).begin() as session:
        company.set_value(session, "time_zone", "Asia/Taipei")
        company.set_value(session, "idle_days_mode", mode)
        manager = add_user(session, "manager@example.com", "Sales Manager", role="manager", welcome=False)
        reps = [add_user(session, f"rep{i}@example.com", f"Rep {i}", manager_email=manager.email, welcome=False).id
                for i in range(1, REPS + 1)]
        batch = Batch(kind="demo", name="bench lead aging", created_at=now)
        session.add(batch)
        session.flush()
        batch_id = batch.id
        currency = session.scalar(select(Currency.id).where(Currency.code == "TWD"))
        process = session.scalar(select(SalesProcess.id).where(SalesProcess.is_default))
        stages = list(session.scalars(select(SalesStage).where(SalesStage.sales_process_id == process)))
    counts = {"leads": 0, "opportunities": 0, "activities": 0}
    today = now.date()
    gen = DemoGenerator(SIZES["large"], seed=seed, now=now)  # the demo's people, statuses and dates
    for start in range(0, leads, LOAD_CHUNK):
        rows, acts = [], []
        for i in range(start + 1, min(start + LOAD_CHUNK, leads) + 1):
            row = gen.lead(None, reps, [])
            created, owner = row["created_at"], row["owner_id"]
            converted = created + dt.timedelta(days=rng.uniform(1, 60)) if rng.random() < 0.06 else None
            touched = None
            if row["status"] != "Not Contacted" and rng.random() < 0.6:
                touched = created + (now - created) * rng.random()
            rows.append({
                **row, "id": i, "lead_no": f"LEA{i}", "email_key": row["email"].lower(),
                "status": row["status"] if converted is None else "Qualified", "updated_at": touched or created,
                "last_touch_at": touched, "converted_at": min(converted, now) if converted else None,
                "batch_id": batch_id if i % 10 else None,
            })
            kind = rng.random()
            if kind < 0.06 and owner is not None:  # half planned after today, half overdue
                due = today + dt.timedelta(days=rng.randint(1, 10) * (1 if kind < 0.03 else -1))
                acts.append(_task(owner, due, now, lead_id=i))
        _insert(engine, Lead, rows, Activity, acts)
        counts["leads"] += len(rows)
        counts["activities"] += len(acts)
        log(f"  leads: {counts['leads']:,}")
    open_stages = [s for s in stages if not s.is_closed]
    closed_stages = [s for s in stages if s.is_closed]
    for start in range(0, opportunities, LOAD_CHUNK):
        rows, acts = [], []
        for i in range(start + 1, min(start + LOAD_CHUNK, opportunities) + 1):
            created = _moment(rng, now)
            closed = rng.random() < 0.3
            stage = rng.choice(closed_stages if closed else open_stages)
            entered = created + (now - created) * rng.random() * 0.5
            touched = entered + (now - entered) * rng.random() if rng.random() < 0.7 else None
            owner = rng.choice(reps)
            rows.append({
                "id": i, "opportunity_no": f"POT{i}", "name": f"Deal {i}", "currency_id": currency,
                "conversion_rate": 1, "expected_close_date": (created + dt.timedelta(days=90)).date(),
                "sales_process_id": process, "stage_id": stage.id, "stage_entered_at": entered,
                "probability": stage.probability, "owner_id": owner, "created_at": created,
                "updated_at": touched or entered, "last_touch_at": touched, "closed_at": entered if closed else None,
                "batch_id": batch_id,
            })
            if not closed and rng.random() < 0.05:
                acts.append(_task(owner, today + dt.timedelta(days=rng.randint(1, 10)), now, opportunity_id=i))
        _insert(engine, Opportunity, rows, Activity, acts)
        counts["opportunities"] += len(rows)
        counts["activities"] += len(acts)
        log(f"  opportunities: {counts['opportunities']:,}")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("leads", "opportunities", "activities"):
                conn.execute(text(f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(select coalesce(max(id), 1) from {table}))"))
            conn.execute(text("vacuum analyze"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("analyze")
    return counts


def _moment(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """A time in the past 18 months, more of them recent (as the demo generator makes them)."""
    span = dt.timedelta(days=HISTORY_DAYS)
    return now - span + span * rng.random() ** 0.8


def _task(owner: int, due: dt.date, now: dt.datetime, **link: int) -> dict[str, Any]:
    return {"type": "task", "subject": "Follow up", "owner_id": owner, "due_date": due, "status": "Not Started",
            "created_at": now, "updated_at": now, **link}


def _insert(engine: Engine, model: Any, rows: list[dict[str, Any]], activity: Any, acts: list[dict[str, Any]]) -> None:
    with session_factory(engine).begin() as session:
        insert_rows(session, model.__table__, rows)
        insert_rows(session, activity.__table__, acts)


# -- the ORM baseline -------------------------------------------------------------------------------------

def orm_baseline(session: Session, plan: aging.Plan, lead_ids: Sequence[int], opportunity_ids: Sequence[int]
                 ) -> dict[str, float]:
    """The job's rules one ORM object at a time, a flush per record; return the seconds per part."""
    as_of = plan.as_of
    rotting = {stage_id: days for days, stage_ids in plan.rotting.items() for stage_id in stage_ids}
    loaded = dict(session.execute(select(Batch.id, Batch.created_at)).all())
    started = time.perf_counter()
    for lead_id in lead_ids:
        lead = session.get(Lead, lead_id)
        if lead is not None and is_open_lead(partial(getattr, lead)):
            _orm_lead(session, plan, lead, loaded)
        elif lead is not None and lead.aging_state in ("aging", "stale"):
            lead.aging_state = None
        session.flush()
    leads_s = time.perf_counter() - started
    started = time.perf_counter()
    for opportunity_id in opportunity_ids:
        opp = session.get(Opportunity, opportunity_id)
        if opp is not None and opp.closed_at is None and opp.deleted_at is None:
            touch = max(t for t in (opp.last_touch_at, opp.stage_entered_at) if t is not None) \
                if (opp.last_touch_at or opp.stage_entered_at) else opp.created_at
            opp.idle_days = plan.idle.of(touch)  # the calendar, one record at a time
            days = rotting.get(opp.stage_id)
            rots = days is not None and opp.idle_days > days and not _planned(session, plan, opportunity_id=opp.id)
            opp.rotting_since = (opp.rotting_since or as_of) if rots else None
        session.flush()
    return {"leads": leads_s, "opportunities": time.perf_counter() - started}


def _planned(session: Session, plan: aging.Plan, **link: int) -> bool:
    (column, value), = link.items()
    found = session.scalars(
        select(Activity.id).where(
            getattr(Activity, column) == value, Activity.completed_at.is_(None), Activity.deleted_at.is_(None),
            (Activity.due_date > plan.idle.today) | (Activity.start_at > plan.as_of),
        ).limit(1)
    ).first()
    return found is not None


def _orm_lead(session: Session, plan: aging.Plan, lead: Lead, loaded: dict[int, dt.datetime]) -> None:
    touch = lead.last_touch_at or lead.created_at
    idle = plan.idle.of(touch)  # the calendar, one record at a time
    state = None
    if not _planned(session, plan, lead_id=lead.id):
        for name, days in (("cold", plan.cold_days), ("stale", plan.stale_days), ("aging", plan.aging_days)):
            if idle >= days:
                state = name
                break
    lead.idle_days = idle
    if state == "cold":
        audit.log(session, "update", "leads", lead.id, aging.ACTOR, record_no=lead.lead_no,
                  changes={"status": [lead.status, aging.COLD_STATUS]}, at=plan.as_of)
        lead.status = aging.COLD_STATUS
        activities.add_note(session, aging.cold_note(plan.language, idle, plan.working), Actor.system(aging.AUTOMATION),
                            at=plan.as_of, lead_id=lead.id)
    history = lead.batch_id is not None and touch < loaded[lead.batch_id]
    told = lead.stale_notified_at is not None and lead.stale_notified_at >= touch
    if state == "stale" and not told and not history:
        _orm_notices(session, plan, lead, touch, idle)
        lead.stale_notified_at = plan.as_of
    lead.aging_state = state


def _orm_notices(session: Session, plan: aging.Plan, lead: Lead, touch: dt.datetime, idle: int) -> None:
    staff: Staff = plan.staff
    owner = staff.active(lead.owner_id)
    people = [p for p in (staff.active(lead.owner_id), *staff.managers_of(lead.owner_id or 0)) if p is not None]
    for user in {p.id: p for p in people}.values():
        last = shown_time(lead.last_touch_at, user, plan.idle.calendar.zone) if lead.last_touch_at else None
        context = {"recipient_name": user.name, "lead": lead_reference(lead),
                   "owner_name": owner.name if owner else "", "days_idle": idle, "last_touch_at": last}
        outbox.enqueue(
            session, "stale_lead", user.email, key=f"stale:{lead.id}:{touch.isoformat()}:{user.id}", context=context,
            language=user.language, recipient_name=user.name, to_staff=True, record_module="leads", record_id=lead.id,
        )


# -- the runs ---------------------------------------------------------------------------------------------

def timed_run(engine: Engine, as_of: dt.datetime, label: str) -> dict[str, Any]:
    log(f"{label} ({as_of.isoformat(timespec='seconds')})...")
    started, cpu = time.perf_counter(), time.process_time()
    report = runs.run(session_factory(engine), "lead-aging", aging.lead_aging, as_of, trigger="bench")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report.status != "completed":
        raise SystemExit(f"lead-aging {report.status}: {report.errors}")
    log(f"  {seconds:.2f} s ({cpu:.2f} s of CPU): {report.counts}")
    return {"as_of": as_of.isoformat(), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "counts": report.counts}


def written(engine: Engine) -> dict[str, int]:
    """What the runs left: leads by state, Cold notes, notices, rotting opportunities."""
    with session_factory(engine)() as s:
        states = dict(s.execute(select(Lead.aging_state, func.count()).group_by(Lead.aging_state)).all())
        return {
            **{f"leads_{state or 'fresh'}": n for state, n in states.items()},
            "notes": s.scalar(select(func.count()).select_from(Note)) or 0,
            "stale_notices": s.scalar(select(func.count()).select_from(OutboxMessage)
                                      .where(OutboxMessage.template == "stale_lead")) or 0,
            "rotting_opportunities": s.scalar(select(func.count()).select_from(Opportunity)
                                              .where(Opportunity.rotting_since.is_not(None))) or 0,
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    large = SIZES["large"]
    p = argparse.ArgumentParser(prog="python -m bench.lead_aging", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0,
                   help=f"fraction of the large demo ({large.leads:,} leads, {large.opportunities:,} opportunities)")
    p.add_argument("--mode", choices=("calendar", "working"), default="calendar", help="idle_days_mode")
    p.add_argument("--orm-sample", type=int, default=5_000, help="leads the ORM baseline visits (opportunities: half)")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the data")
    p.add_argument("--database-url", help="an EMPTY database, e.g. postgresql+psycopg://u@host/db "
                                          "(default: a SQLite file in a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    large = SIZES["large"]
    n_leads, n_opps = round(large.leads * args.scale), round(large.opportunities * args.scale)
    tmp = tempfile.mkdtemp(prefix="leadline-bench-")
    os.environ["CRM_DATA_DIR"] = tmp  # nothing is mailed, but keep any secret key out of ./var
    url = args.database_url or f"sqlite:///{tmp}/aging.db"
    engine = prepare(url)
    now = utcnow().replace(microsecond=0)
    started = time.perf_counter()
    log(f"loading {n_leads:,} leads and {n_opps:,} opportunities...")
    counts = load(engine, n_leads, n_opps, args.seed, now, args.mode)
    load_s = time.perf_counter() - started
    log(f"loaded in {load_s:.1f} s (not timed)")

    result: dict[str, Any] = {
        **run_header("lead_aging", argv, url, engine),
        "sizes": counts, "idle_days_mode": args.mode, "seed": args.seed, "load_seconds": round(load_s, 1),
        "goal_seconds": GOAL_SECONDS, "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    lead_sample = list(range(1, min(args.orm_sample, n_leads) + 1))
    opp_sample = list(range(1, min(args.orm_sample // 2, n_opps) + 1))
    log(f"ORM baseline: {len(lead_sample):,} leads, {len(opp_sample):,} opportunities (rolled back)...")
    cpu = time.process_time()
    with session_factory(engine)() as session:
        plan = aging.Plan.load(session, now)
        parts = orm_baseline(session, plan, lead_sample, opp_sample)
        session.rollback()
    cpu = time.process_time() - cpu
    vacuum(engine)
    per_lead = parts["leads"] / max(len(lead_sample), 1)
    per_opp = parts["opportunities"] / max(len(opp_sample), 1)
    extrapolated = per_lead * n_leads + per_opp * n_opps
    result["orm_baseline"] = {
        "sample_leads": len(lead_sample), "sample_opportunities": len(opp_sample),
        "seconds": {k: round(v, 2) for k, v in parts.items()},
        "ms_per_lead": round(per_lead * 1000, 3), "ms_per_opportunity": round(per_opp * 1000, 3),
        "extrapolated_seconds": round(extrapolated, 1), "sample_cpu_seconds": round(cpu, 2),
        "note": "extrapolated from a sample (the first records by id) to the full counts; rolled back",
    }
    log(f"  {sum(parts.values()):.1f} s for the sample; extrapolated to everything: {extrapolated:,.0f} s")

    first = timed_run(engine, now, "first night")
    next_night = timed_run(engine, now + dt.timedelta(days=1), "next night")
    again = timed_run(engine, now + dt.timedelta(days=1), "the same night again")
    result["runs"] = {"first_night": first, "next_night": next_night, "same_night_again": again}
    if again["counts"] != {k: 0 for k in again["counts"]}:
        raise SystemExit(f"the second run for the same as_of did something: {again['counts']}")
    result["after"] = written(engine)
    result["ratio_orm_to_first_night"] = round(extrapolated / first["seconds"], 1)
    result["ratio_orm_to_next_night"] = round(extrapolated / next_night["seconds"], 1)
    result["goal_met"] = max(first["seconds"], next_night["seconds"]) < GOAL_SECONDS if args.scale == 1 else None
    finish(result, engine, Path(tmp), args.keep, args.json)
    m = result["machine"]
    print(f"## Lead aging: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
          f"{result['database']['server']}, SQLAlchemy {m['sqlalchemy']}\n")
    print(f"{counts['leads']:,} leads, {counts['opportunities']:,} opportunities, idle days in {args.mode} days\n")
    print("| run | seconds | CPU s | aging | stale | cold | notices | rotting |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, r in result["runs"].items():
        c = r["counts"]
        print(f"| {name.replace('_', ' ')} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {c['aging']:,} "
              f"| {c['stale']:,} | {c['cold']:,} | {c['notices']:,} | {c['rotting']:,} |")
    print(f"| ORM loop (extrapolated from {len(lead_sample):,} leads + {len(opp_sample):,} opportunities) "
          f"| {extrapolated:,.0f} | | | | | | |")
    print(f"\nRatio ORM/set-based: {result['ratio_orm_to_first_night']}× (first night), "
          f"{result['ratio_orm_to_next_night']}× (next night). Goal < {GOAL_SECONDS:.0f} s for 1,000,000 leads"
          + ("" if args.scale == 1 else f" (not judged at --scale {args.scale:g})") + ".")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
