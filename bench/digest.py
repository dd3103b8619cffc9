"""Daily-digest benchmark (issue 15): the `daily_digest` job queueing the morning digests of 50 reps (about 20,000
open tasks) and their manager, against a per-row ORM loop building the same digests, measured in the same run.

Data (untimed), loaded straight into a fresh, migrated and seeded SQLite database with the store's own executemany
(`fast_insert.insert_rows`): the company in Asia/Taipei, `--reps` reps (50) whose manager is one "Sales Manager";
`--leads` leads (200,000; the demo generator's people, statuses and 18 months of dates, in a demo batch loaded at
`as_of` but for a tenth captured since: those can miss their SLA), of which 4 % aging and 6 % stale; `--opportunities`
(100,000; 30 % closed, the open ones closing from ten days ago to three months ahead, 5 % rotting); `--tasks` open
tasks (20,000: a quarter overdue by up to a month, a tenth due today, the rest due in the next month), as many done
ones, and 20 calls or meetings a rep today. Every task, call and meeting is about a lead or an opportunity.
`as_of` is the last Monday at 08:30 in Taipei, so every user's digest is due.

Timed, through `automation.runs.run` (which writes its flow_runs row like `crm flows run`):
1. the job: 51 digests queued (the reps' and the manager's, with the team's overdue and SLA-missed counts);
2. the same run again: nothing to do (each user's day is claimed).

Baseline (first, on the same data, rolled back): one ORM object at a time, per user — the user's open activities
loaded as objects and sorted into overdue, due today and today's events in Python, each one's record read with
`session.get`; the user's open leads and open opportunities loaded as objects and checked one by one (new,
aging or stale, rotting, closing this week), each opportunity's stage and currency read with `session.get`; for
the manager, each rep's open tasks and unanswered leads counted one object at a time (the SLA deadline by the
working calendar per lead); then the same context (`Words.context`), `outbox.enqueue` and the user's
`last_digest_on` set, a flush per user. It builds the same digests (the counts are compared).

"CPU s" is this process's CPU time (SQLite runs in it): steadier than seconds on a busy machine.
Goal (issue): < 10 s for 50 reps with about 20,000 open tasks. `python -m bench.digest --leads 20000` is quicker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.bulk_insert import finish, prepare, run_header
from crm_store.automation import daily_digest as digest
from crm_store.automation import runs
from crm_store.automation.calendar import WorkingCalendar
from crm_store.automation.sla_escalation import ESCALATED, Policy
from crm_store.db.engine import session_factory
from crm_store.db.fast_insert import insert_rows
from crm_store.mail import outbox
from crm_store.models import (
    OPEN_LEAD_EXCLUDED_STATUSES,
    Activity,
    Batch,
    Currency,
    Lead,
    Opportunity,
    OutboxMessage,
    SalesProcess,
    SalesStage,
    User,
)
from crm_store.ops.demo_rows import SIZES, DemoGenerator
from crm_store.records import registry
from crm_store.records.names import display_name
from crm_store.settings import company
from crm_store.staff import my_day
from crm_store.staff.users import add_user

GOAL_SECONDS = 10.0
RESULTS = Path(__file__).resolve().parent / "results" / "digest.json"
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
LOAD_CHUNK = 50_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def last_monday() -> dt.datetime:
    """08:30 in Taipei on the latest Monday (today's, if it is one)."""
    today = dt.datetime.now(TAIPEI).date()
    monday = today - dt.timedelta(days=today.weekday())
    return dt.datetime.combine(monday, dt.time(8, 30), TAIPEI).astimezone(dt.UTC)


# -- the data ---------------------------------------------------------------------------------------------

def load(engine: Engine, args: argparse.Namespace, as_of: dt.datetime) -> dict[str, int]:
    """Users, leads, opportunities and activities, committed; return the counts."""
    rng = random.Random(args.seed)
    today = as_of.astimezone(TAIPEI).date()
    with session_factory(engine).begin() as session:
        company.set_value(session, "time_zone", "Asia/Taipei")
        manager = add_user(session, "manager@example.com", "Sales Manager", role="manager", welcome=False)
        reps = [add_user(session, f"rep{i}@example.com", f"Rep {i}", manager_email=manager.email, welcome=False,
                         language="zh_Hant" if i % 3 else "en").id for i in range(1, args.reps + 1)]
        batch = Batch(kind="demo", name="bench digest", created_at=as_of)
        session.add(batch)
        session.flush()
        batch_id = batch.id
        currency = session.scalar(select(Currency.id).where(Currency.code == "TWD"))
        process = session.scalar(select(SalesProcess.id).where(SalesProcess.is_default))
        stages = list(session.scalars(select(SalesStage).where(SalesStage.sales_process_id == process)))
    gen = DemoGenerator(SIZES["large"], seed=args.seed, now=as_of)
    lead_owner: dict[int, int] = {}
    for start in range(0, args.leads, LOAD_CHUNK):
        rows = []
        for i in range(start + 1, min(start + LOAD_CHUNK, args.leads) + 1):
            row = gen.lead(None, reps, [])
            state = rng.random()
            aging = "stale" if state < 0.06 else "aging" if state < 0.10 else None
            idle = rng.randint(30, 89) if aging == "stale" else rng.randint(7, 29) if aging else None
            rows.append({**row, "id": i, "lead_no": f"LEA{i}", "email_key": row["email"].lower(),
                         "batch_id": batch_id if i % 10 else None, "aging_state": aging, "idle_days": idle})
            if row["owner_id"] is not None:
                lead_owner[i] = row["owner_id"]
        _insert(engine, Lead, rows)
        log(f"  leads: {min(start + LOAD_CHUNK, args.leads):,}")
    open_stages, closed = [s for s in stages if not s.is_closed], [s for s in stages if s.is_closed]
    opportunity_owner: dict[int, int] = {}
    rows = []
    for i in range(1, args.opportunities + 1):
        shut = rng.random() < 0.3
        stage, owner = rng.choice(closed if shut else open_stages), rng.choice(reps)
        created = as_of - dt.timedelta(days=rng.uniform(1, 400))
        rotting = not shut and rng.random() < 0.05
        rows.append({
            "id": i, "opportunity_no": f"POT{i}", "name": f"Deal {i}", "currency_id": currency, "conversion_rate": 1,
            "amount": rng.randint(1, 500) * 1000,
            "expected_close_date": today + dt.timedelta(days=rng.randint(-10, 90)),
            "sales_process_id": process, "stage_id": stage.id, "stage_entered_at": created,
            "probability": stage.probability, "owner_id": owner, "created_at": created, "updated_at": created,
            "closed_at": created if shut else None, "batch_id": batch_id,
            "rotting_since": as_of - dt.timedelta(days=rng.randint(1, 30)) if rotting else None,
            "idle_days": rng.randint(15, 60) if rotting else None,
        })
        if not shut:
            opportunity_owner[i] = owner
    _insert(engine, Opportunity, rows)
    leads_of: dict[int, list[int]] = {}
    for lead_id, owner in lead_owner.items():
        leads_of.setdefault(owner, []).append(lead_id)
    deals_of: dict[int, list[int]] = {}
    for deal_id, owner in opportunity_owner.items():
        deals_of.setdefault(owner, []).append(deal_id)
    activities = []
    for n in range(2 * args.tasks):
        owner = reps[n % len(reps)]
        kind = rng.random()
        due = today + dt.timedelta(days=rng.randint(-30, -1) if kind < 0.25 else 0 if kind < 0.35
                                   else rng.randint(1, 30))
        activities.append(_activity(rng, "task", owner, leads_of, deals_of, as_of, done=n >= args.tasks,
                                    due_date=due, status="Not Started"))
    nine = dt.datetime.combine(today, dt.time(9), TAIPEI).astimezone(dt.UTC)
    for owner in reps:
        for _ in range(20):
            at = nine + dt.timedelta(minutes=15 * rng.randint(0, 36))
            activities.append(_activity(rng, rng.choice(("call", "meeting")), owner, leads_of, deals_of, as_of,
                                        start_at=at, end_at=at + dt.timedelta(minutes=30), status="Planned"))
    _insert(engine, Activity, activities)
    with engine.connect() as conn:
        conn.exec_driver_sql("analyze")
    return {"users": len(reps) + 1, "leads": args.leads, "opportunities": args.opportunities,
            "open_tasks": args.tasks, "done_tasks": args.tasks, "events_today": 20 * len(reps)}


def _activity(
    rng: random.Random, kind: str, owner: int, leads_of: dict[int, list[int]], deals_of: dict[int, list[int]],
    as_of: dt.datetime, *, done: bool = False, **values: Any,
) -> dict[str, Any]:
    about = ({"lead_id": rng.choice(leads_of[owner])} if rng.random() < 0.7 or not deals_of.get(owner)
             else {"opportunity_id": rng.choice(deals_of[owner])})
    return {"type": kind, "subject": f"{kind.title()} {rng.randint(1, 999)}", "owner_id": owner,
            "priority": rng.choice(("High", "Medium", "Low", None)), "created_at": as_of - dt.timedelta(days=40),
            "updated_at": as_of, "completed_at": as_of - dt.timedelta(days=1) if done else None, **about, **values}


def _insert(engine: Engine, model: Any, rows: list[dict[str, Any]]) -> None:
    with session_factory(engine).begin() as session:
        for start in range(0, len(rows), LOAD_CHUNK):
            insert_rows(session, model.__table__, rows[start:start + LOAD_CHUNK])


# -- the ORM baseline -------------------------------------------------------------------------------------

def orm_baseline(session: Session, as_of: dt.datetime) -> dict[str, dict[str, Any]]:
    """Every due user's digest built one ORM object at a time, queued with `outbox.enqueue`; the contexts by email."""
    calendar = WorkingCalendar.load(session)
    policy = Policy.load(session)
    words = digest.Words({c.code: c.minor_unit for c in session.scalars(select(Currency))},
                         company.get(session, "idle_days_mode") == "working")
    users = list(session.scalars(select(User).where(User.active, User.digest_enabled).order_by(User.id)))
    managers = {u.manager_id for u in users if u.manager_id is not None}
    found = {}
    for recipient in digest.due(users, managers, calendar, as_of):
        user = session.get_one(User, recipient.id)
        d = _orm_digest(session, recipient, as_of, policy, users)
        if d.empty:
            continue
        context = words.context(recipient, d)
        outbox.enqueue(session, "daily_digest", user.email, key=f"digest:{user.id}:{recipient.today}",
                       context=context, language=user.language, recipient_name=user.name, to_staff=True)
        user.last_digest_on = recipient.today
        session.flush()
        found[user.email] = context
    return found


def _orm_digest(session: Session, r: digest.Recipient, as_of: dt.datetime, policy: Policy,
                users: list[User]) -> digest.Digest:
    start, end = r.day
    overdue: list[my_day.TaskItem] = []
    today: list[my_day.TaskItem] = []
    events: list[my_day.EventItem] = []
    for act in session.scalars(select(Activity).where(Activity.owner_id == r.id, Activity.completed_at.is_(None))):
        if act.deleted_at is not None:
            continue
        if act.type == "task" and act.due_date is not None and act.due_date <= r.today:
            item = my_day.TaskItem(act.id, act.subject, act.due_date, act.priority, act.status, _record(session, act))
            (overdue if act.due_date < r.today else today).append(item)
        elif act.type in ("call", "meeting") and act.start_at is not None and start <= act.start_at < end:
            events.append(my_day.EventItem(act.id, act.type, act.subject, act.start_at, act.end_at, act.location,
                                           act.status, False, _record(session, act)))
    new, aging = [], []
    for lead in session.scalars(select(Lead).where(Lead.owner_id == r.id, Lead.converted_at.is_(None))):
        if lead.deleted_at is not None:
            continue
        name = display_name(lead.first_name, lead.last_name)
        if lead.assigned_at is not None and r.since <= lead.assigned_at <= as_of:
            new.append(my_day.NewLead(lead.id, lead.lead_no, name, lead.company, lead.status, lead.assigned_at,
                                      as_of - lead.assigned_at, False, lead.lead_source))
        if lead.aging_state in ("aging", "stale"):
            aging.append(my_day.AgingLead(lead.id, lead.lead_no, name, lead.company, lead.status, lead.aging_state,
                                          lead.idle_days, lead.last_touch_at or lead.created_at))
    rotting, closing = [], []
    last = r.today + dt.timedelta(days=6 - r.today.weekday())
    for deal in session.scalars(select(Opportunity).where(Opportunity.owner_id == r.id,
                                                          Opportunity.closed_at.is_(None))):
        stage, currency = session.get_one(SalesStage, deal.stage_id), session.get_one(Currency, deal.currency_id)
        if deal.rotting_since is not None:
            rotting.append(my_day.RottingDeal(deal.id, deal.opportunity_no, deal.name, stage.name, stage.rotting_days,
                                              deal.idle_days, deal.rotting_since, deal.amount, currency.code))
        if r.today <= deal.expected_close_date <= last:
            closing.append(my_day.ClosingDeal(deal.id, deal.opportunity_no, deal.name, stage.name,
                                              deal.expected_close_date, deal.amount, currency.code))
    overdue.sort(key=lambda t: (t.due_date, t.id))
    today.sort(key=lambda t: (t.due_date, t.id))
    events.sort(key=lambda e: (e.start_at, e.id))
    new.sort(key=lambda lead: (lead.assigned_at, lead.id), reverse=True)
    aging.sort(key=lambda lead: (-(lead.idle_days or 0), lead.id))
    rotting.sort(key=lambda d: (d.rotting_since, d.id))
    closing.sort(key=lambda d: (d.close_date, d.id))
    team = _orm_team(session, r, as_of, policy, users) if r.manages else []
    cut = digest.LIMIT
    return digest.Digest(
        my_day.DayTasks(my_day.Attention(overdue[:cut], len(overdue)), my_day.Attention(today[:cut], len(today))),
        my_day.Attention(events[:cut], len(events)), my_day.Attention(new[:cut], len(new)),
        my_day.Attention(aging[:cut], len(aging)), my_day.Attention(rotting[:cut], len(rotting)),
        my_day.Attention(closing[:cut], len(closing)), team,
    )


def _record(session: Session, act: Activity) -> my_day.RecordRef | None:
    for module in registry.modules():
        column = module.link_column
        if column and getattr(act, column, None) is not None:
            row = session.get(module.model, getattr(act, column))
            if row is not None:
                title = getattr(row, module.title)
                if module.name == "leads":
                    title = display_name(row.first_name, row.last_name)
                return my_day.RecordRef(module.name, row.id, getattr(row, module.number_field), title)
    return None


def _orm_team(session: Session, r: digest.Recipient, as_of: dt.datetime, policy: Policy,
              users: list[User]) -> list[digest.TeamLine]:
    lines = []
    since = policy.lookback(as_of)
    loaded = {b.id: b.created_at for b in session.scalars(select(Batch))}
    for rep in sorted((u for u in users if u.manager_id == r.id), key=lambda u: (u.name, u.id)):
        overdue = sum(1 for t in session.scalars(select(Activity).where(Activity.owner_id == rep.id,
                                                                        Activity.completed_at.is_(None)))
                      if t.type == "task" and t.deleted_at is None and t.due_date is not None and t.due_date < r.today)
        missed = 0
        for lead in session.scalars(select(Lead).where(Lead.owner_id == rep.id, Lead.first_response_at.is_(None))):
            if (lead.assigned_at is None or lead.converted_at is not None or lead.deleted_at is not None
                    or lead.status in OPEN_LEAD_EXCLUDED_STATUSES or lead.assigned_at > as_of
                    or (lead.batch_id is not None and lead.assigned_at < loaded[lead.batch_id])):
                continue
            late = lead.sla_step >= ESCALATED or (
                lead.assigned_at >= since
                and policy.calendar.working_minutes_between(lead.assigned_at, as_of) >= policy.minutes)
            missed += late and not _responded(session, lead)
        if overdue or missed:
            lines.append(digest.TeamLine(rep.id, rep.name, overdue, missed))
    return lines


def _responded(session: Session, lead: Lead) -> bool:
    """Whether someone completed an activity on the lead since it was assigned (a first response)."""
    assigned = lead.assigned_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    return any(
        a.completed_at is not None and a.completed_at >= assigned and a.deleted_at is None
        and (a.completed_by_id is not None or a.created_by_automation is None)
        for a in session.scalars(select(Activity).where(Activity.lead_id == lead.id))
    )


# -- the runs ---------------------------------------------------------------------------------------------

def timed_run(engine: Engine, as_of: dt.datetime, label: str) -> dict[str, Any]:
    log(f"{label}...")
    started, cpu = time.perf_counter(), time.process_time()
    report = runs.run(session_factory(engine), "daily-digest", digest.daily_digest, as_of, trigger="bench")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report.status != "completed":
        raise SystemExit(f"daily-digest {report.status}: {report.errors}")
    log(f"  {seconds:.2f} s ({cpu:.2f} s of CPU): {report.counts}")
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "counts": report.counts}


def queued(engine: Engine) -> dict[str, dict[str, Any]]:
    """What the job queued: each digest's context, by recipient."""
    with session_factory(engine)() as session:
        return {m.recipient: m.context
                for m in session.scalars(select(OutboxMessage).where(OutboxMessage.template == "daily_digest"))}


def totals(context: dict[str, Any]) -> dict[str, int]:
    """How many lines each list of a digest has in all, and how many reps its team list names."""
    return {**{k: v["total"] for k, v in context.items() if isinstance(v, dict) and "total" in v},
            "team": len(context["team"])}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.digest", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--reps", type=int, default=50, help="reps (one manager over them all)")
    p.add_argument("--tasks", type=int, default=20_000, help="open tasks (as many done ones)")
    p.add_argument("--leads", type=int, default=200_000, help="leads")
    p.add_argument("--opportunities", type=int, default=100_000, help="opportunities")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the data")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="leadline-bench-")
    os.environ["CRM_DATA_DIR"] = tmp  # nothing is mailed, but keep any secret key out of ./var
    url = f"sqlite:///{tmp}/digest.db"
    engine = prepare(url)
    as_of = last_monday()
    started = time.perf_counter()
    log(f"loading {args.leads:,} leads, {args.opportunities:,} opportunities, {2 * args.tasks:,} tasks...")
    sizes = load(engine, args, as_of)
    load_s = time.perf_counter() - started
    log(f"loaded in {load_s:.1f} s (not timed)")
    result: dict[str, Any] = {
        **run_header("digest", argv, url, engine), "sizes": sizes, "as_of": as_of.isoformat(), "seed": args.seed,
        "load_seconds": round(load_s, 1), "goal_seconds": GOAL_SECONDS,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    log("ORM baseline (rolled back)...")
    started, cpu = time.perf_counter(), time.process_time()
    with session_factory(engine)() as session:
        orm = orm_baseline(session, as_of)
        session.rollback()
    orm_s, orm_cpu = time.perf_counter() - started, time.process_time() - cpu
    log(f"  {orm_s:.2f} s ({orm_cpu:.2f} s of CPU): {len(orm)} digests")
    result["orm_baseline"] = {"seconds": round(orm_s, 2), "cpu_seconds": round(orm_cpu, 2), "digests": len(orm)}

    first = timed_run(engine, as_of, "the job")
    again = timed_run(engine, as_of, "the same run again")
    result["runs"] = {"job": first, "again": again}
    if again["counts"] != {"emails": 0}:
        raise SystemExit(f"the second run for the same as_of did something: {again['counts']}")
    by_job = queued(engine)
    if by_job != orm:
        differ = sorted(email for email in set(by_job) | set(orm) if by_job.get(email) != orm.get(email))
        raise SystemExit(f"the job and the ORM loop built different digests for {differ}")
    result["digests"] = {email: totals(context) for email, context in sorted(by_job.items())}
    result["ratio_orm_to_job"] = round(orm_s / first["seconds"], 1)
    result["goal_met"] = first["seconds"] < GOAL_SECONDS
    finish(result, engine, Path(tmp), args.keep, args.json)
    m = result["machine"]
    print(f"## Daily digest: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
          f"{result['database']['server']}, SQLAlchemy {m['sqlalchemy']}\n")
    print(f"{sizes['users']} users, {args.leads:,} leads, {args.opportunities:,} opportunities, "
          f"{args.tasks:,} open tasks, {sizes['events_today']:,} calls and meetings today\n")
    print("| run | seconds | CPU s | digests |")
    print("|---|--:|--:|--:|")
    print(f"| daily-digest job | {first['seconds']:.2f} | {first['cpu_seconds']:.2f} | {first['counts']['emails']} |")
    print(f"| the same run again | {again['seconds']:.2f} | {again['cpu_seconds']:.2f} | 0 |")
    print(f"| ORM loop (per user, per row) | {orm_s:.2f} | {orm_cpu:.2f} | {len(orm)} |")
    print(f"\nRatio ORM/job: {result['ratio_orm_to_job']}×. Goal < {GOAL_SECONDS:.0f} s: "
          f"{'met' if result['goal_met'] else 'not met'}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
