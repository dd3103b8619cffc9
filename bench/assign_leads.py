"""Assign-leads benchmark (issue 13): the `assign_leads` job giving 100,000 new leads owners over 50 reps, against
a per-row ORM loop doing the same, measured in the same run.

Data (untimed), loaded straight into a fresh, migrated and seeded database (the company in Asia/Taipei): `--reps`
active reps (50) split into two teams, each with a manager who is not a member — "Team A" (`round_robin`) and
"Team B" (`least_loaded`) — and three things decided by the rules, in this order:

1. rule "Web inquiries": `lead_source equals Web Site` → Team A (round robin);
2. rule "Taiwan": `country in Taiwan, 台灣` → Team B (least loaded);
3. no rule matches → `unassigned_pool` = Team A: the lead stays unowned, in Team A's pool.

Then `--leads` unowned, open ("Not Contacted") leads, created in the day before `as_of`, with the store's own
executemany (`fast_insert.insert_rows`); the demo generator's people and lead sources (`DemoGenerator.lead`: six in
ten Taiwanese, about a third from the web site), so about 35 % go to Team A by rule 1, 40 % to Team B and 25 % to
the pool.

Baseline (timed, first, on the same data; then undone): one ORM object at a time over the first `--orm-sample`
leads by id — `session.get`, the rules evaluated in Python against the object (first match wins), the team's next
available member by simple rotation with its pointer kept on the `Team` object (with every load starting at zero,
least_loaded serves members in the same order, so both teams rotate), `owner_id` / `assigned_at` /
`assignment_reason` / the cadence columns set on the lead, one `AuditEntry` and the first follow-up `Activity`
(due when `sla_hours` working hours have passed, as the job makes it) added as objects, a commit every
`--orm-commit-every` leads (100); at the end one `leads_assigned` message per new owner per 250 leads through
`outbox.enqueue`. Its time per lead is extrapolated linearly to `--leads` and labelled so. Afterwards the rows it
wrote are deleted and the leads and team pointers put back (set-based, untimed), and the table counts are checked
against those before it.

Timed: `assign_leads(factory, as_of, outcome)` once, through `automation.runs.run` (which writes its flow_runs
row like `crm flows run`), over all the leads. Checked afterwards: every lead has an owner or is in Team A's pool,
one audit row per decided lead and one follow-up task per assigned one, and the owners the job gave the sample's
leads are the baseline's. Fairness: leads per rep within each team (min/max; round robin must be within one).

"CPU s" is this process's CPU time (SQLite runs in it; PostgreSQL's work is the server's and not counted):
steadier than seconds on a busy machine; the load average at the start and end is in the results.
Goal (issue): < 30 s for 100,000 leads over 50 reps. `python -m bench.assign_leads --leads 10000` is a quick check.
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
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, delete, func, select, text, update
from sqlalchemy.orm import Session

from bench.bulk_insert import finish, prepare, run_header, vacuum
from crm_store import languages
from crm_store.assignment import conditions as cond
from crm_store.assignment import rules as assignment_rules
from crm_store.assignment.handover import MESSAGE_LEADS, NO_SOURCE, TEMPLATE
from crm_store.assignment.round_robin import is_available
from crm_store.automation import cadence, runs
from crm_store.automation.assign_leads import FLOW, assign_leads
from crm_store.db.engine import session_factory
from crm_store.db.fast_insert import insert_rows
from crm_store.mail import outbox
from crm_store.models import (
    Activity,
    AssignmentRule,
    AuditEntry,
    Base,
    Lead,
    OutboxMessage,
    Team,
    TeamMember,
    User,
    utcnow,
)
from crm_store.ops.demo_rows import SIZES, DemoGenerator
from crm_store.pipeline.leads import is_open_lead
from crm_store.records.names import display_name
from crm_store.settings import company
from crm_store.staff import teams
from crm_store.staff.users import add_user

GOAL_SECONDS = 30.0
GOAL_LEADS = 100_000
RESULTS = Path(__file__).resolve().parent / "results" / "assign_leads.json"
LOAD_CHUNK = 50_000
TEAMS = (("Team A", "round_robin"), ("Team B", "least_loaded"))
RULES = (
    ("Web inquiries", [("lead_source", "equals", "Web Site")], "Team A"),
    ("Taiwan", [("country", "in", "Taiwan, 台灣")], "Team B"),
)
POOL = "Team A"
# What the baseline writes besides the leads: deleted again (rows above the ids before it) when it is done.
WRITTEN_BY_BASELINE = (AuditEntry, Activity, OutboxMessage)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the data ---------------------------------------------------------------------------------------------

def load(engine: Engine, leads: int, reps: int, seed: int, now: dt.datetime) -> dict[str, int]:
    """The company, the teams and their reps, the rules and the new leads, committed; return the counts."""
    rng = random.Random(seed)
    with session_factory(engine).begin() as session:
        company.set_value(session, "time_zone", "Asia/Taipei")
        company.set_value(session, "unassigned_pool", POOL)
        rep_ids = []
        for t, (name, strategy) in enumerate(TEAMS):
            manager = add_user(session, f"manager{t + 1}@example.com", f"{name} Manager", role="manager",
                               welcome=False)
            team = teams.add_team(session, name, manager.email, strategy=strategy)
            for i in range(t + 1, reps + 1, len(TEAMS)):  # reps 1, 3, 5… in Team A; 2, 4, 6… in Team B
                rep = add_user(session, f"rep{i}@example.com", f"Rep {i}", manager_email=manager.email, welcome=False)
                teams.add_member(session, team, rep.email)
                rep_ids.append(rep.id)
        for name, conditions, target in RULES:
            assignment_rules.add_rule(session, name, conditions, team=target)
    gen = DemoGenerator(SIZES["large"], seed=seed, now=now)  # the demo's people and lead sources
    done = 0
    for start in range(0, leads, LOAD_CHUNK):
        rows = []
        for i in range(start + 1, min(start + LOAD_CHUNK, leads) + 1):
            row = gen.lead(None, rep_ids, [])
            created = now - dt.timedelta(seconds=rng.randint(60, 86_400))  # captured in the day before as_of
            rows.append({
                **row, "id": i, "lead_no": f"LEA{i}", "email_key": row["email"].lower(), "status": "Not Contacted",
                "owner_id": None, "assigned_at": None, "converted_at": None, "campaign_id": None,
                "created_at": created, "updated_at": created,
            })
        with session_factory(engine).begin() as session:
            insert_rows(session, Lead.__table__, rows)
        done += len(rows)
        log(f"  leads: {done:,}")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("select setval(pg_get_serial_sequence('leads', 'id'), "
                              "(select coalesce(max(id), 1) from leads))"))
            conn.execute(text("vacuum analyze"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("analyze")
    return {"leads": done, "reps": len(rep_ids), "teams": len(TEAMS), "rules": len(RULES)}


# -- the ORM baseline -------------------------------------------------------------------------------------

@dataclass
class Baseline:
    """What the ORM loop did: its time, and lead id -> (owner id, reason) for comparing with the job."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    commits: int = 0
    emails: int = 0
    decided: dict[int, tuple[int | None, str]] = field(default_factory=dict)


def orm_baseline(engine: Engine, lead_ids: Sequence[int], as_of: dt.datetime, commit_every: int) -> Baseline:
    """The job's work one ORM object at a time, committing every `commit_every` leads (see the module's docstring)."""
    done = Baseline()
    started, cpu = time.perf_counter(), time.process_time()
    with session_factory(engine)() as session:
        rules = [(rule.name, cond.check_all(rule.conditions), rule.team_id) for rule in session.scalars(
            select(AssignmentRule).where(AssignmentRule.active).order_by(AssignmentRule.position))]
        members: dict[int, list[tuple[int, Any]]] = {}  # team id -> (membership id, user row) in rotation order
        for member, user in session.execute(teams.members()):
            members.setdefault(member.team_id, []).append((member.id, user))
        pool = str(company.get(session, "unassigned_pool"))
        plan = cadence.Plan.load(session)
        actor = FLOW
        told: dict[int, tuple[User, list[dict[str, Any]]]] = {}
        for n, lead_id in enumerate(lead_ids, start=1):
            lead = session.get(Lead, lead_id)
            if (lead is not None and lead.owner_id is None and lead.assignment_reason is None
                    and lead.created_at <= as_of and is_open_lead(partial(getattr, lead))):
                _orm_assign(session, lead, rules, members, pool, plan, as_of, actor, told, done)
            if n % commit_every == 0:
                session.commit()
                done.commits += 1
        for owner, listed in told.values():
            language = owner.language or languages.DEFAULT
            for start in range(0, len(listed), MESSAGE_LEADS):
                part = listed[start : start + MESSAGE_LEADS]
                done.emails += outbox.enqueue(
                    session, TEMPLATE, owner.email, key=f"bench-orm:{owner.id}:{part[0]['number']}",
                    context={"recipient_name": owner.name, "assigned_by": None, "leads": part}, language=language,
                    recipient_name=owner.name, to_staff=True,
                )
        session.commit()
        done.commits += 1
    done.seconds, done.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return done


def _orm_assign(session: Session, lead: Lead, rules: list[tuple[str, list[cond.Condition], int | None]],
                members: dict[int, list[tuple[int, Any]]], pool: str, plan: cadence.Plan, as_of: dt.datetime,
                actor: str, told: dict[int, tuple[User, list[dict[str, Any]]]], done: Baseline) -> None:
    """Decide one lead by the rules and write it, its audit entry and its first follow-up as ORM objects."""
    matched = next((rule for rule in rules
                    if all(c.holds(_texts(getattr(lead, c.field))) for c in rule[1])), None)
    owner: User | None = None
    if matched is not None and matched[2] is not None:
        team = session.get(Team, matched[2])
        assert team is not None
        seats = members.get(team.id, [])
        after = [s for s in seats if s[0] > team.round_robin_pointer] + [s for s in seats
                                                                         if s[0] <= team.round_robin_pointer]
        seat = next((s for s in after if is_available(s[1], as_of)), None)
        if seat is not None:
            team.round_robin_pointer = seat[0]
            owner = seat[1]
            reason = f"rule '{matched[0]}' → team {team.name} ({team.assignment_strategy})"
    if owner is None:
        reason = f"pool: {pool} (no rule matched)"
    changes: dict[str, Any] = {"assignment_reason": [None, reason]}
    lead.assignment_reason = reason
    if owner is not None:
        changes = {"owner_id": [None, owner.id], **changes}
        lead.owner_id, lead.assigned_at = owner.id, as_of
        lead.cadence_id, lead.cadence_step = plan.cadence_id, 1
        session.add(Activity(**plan.first_task(lead.id, display_name(lead.first_name, lead.last_name), owner.id,
                                               owner.language, as_of)))
        listed = told.setdefault(owner.id, (owner, []))[1]
        language = owner.language or languages.DEFAULT
        listed.append({"number": lead.lead_no, "name": display_name(lead.first_name, lead.last_name),
                       "company": lead.company or None,
                       "source": languages.translate_value(language, lead.lead_source) or NO_SOURCE})
    session.add(AuditEntry(at=as_of, automation=actor, action="assign", module="leads", record_id=lead.id,
                           record_no=lead.lead_no, changes=changes))
    done.decided[lead.id] = (owner.id if owner is not None else None, reason)


def _texts(value: Any) -> tuple[str, ...]:
    folded = cond.fold(value)
    return (folded,) if folded else ()


def snapshot(engine: Engine) -> dict[str, Any]:
    """What undoing the baseline must restore: every table's row count, the ids written after, the pointers."""
    with engine.connect() as conn:
        return {
            "counts": {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                       for t in Base.metadata.sorted_tables},
            "max_ids": {m.__tablename__: conn.execute(select(func.coalesce(func.max(m.id), 0))).scalar_one()
                        for m in WRITTEN_BY_BASELINE},
            "pointers": {row.id: row.round_robin_pointer
                         for row in conn.execute(select(Team.id, Team.round_robin_pointer))},
            "unowned": conn.execute(select(func.count()).select_from(Lead).where(
                Lead.owner_id.is_(None), Lead.assignment_reason.is_(None))).scalar_one(),
        }


def undo_baseline(engine: Engine, before: dict[str, Any], last_lead: int) -> None:
    """Put the data back as it was before the baseline (untimed); fail if anything differs."""
    leads = Lead.__table__
    with session_factory(engine).begin() as session:
        for model in WRITTEN_BY_BASELINE:
            table: Table = model.__table__
            session.execute(delete(table).where(table.c.id > before["max_ids"][table.name]))
        session.execute(update(leads).where(leads.c.id <= last_lead).values(
            owner_id=None, assigned_at=None, assignment_reason=None, cadence_id=None, cadence_step=None,
            updated_at=leads.c.created_at))
        for team_id, pointer in before["pointers"].items():
            session.execute(update(Team.__table__).where(Team.__table__.c.id == team_id)
                            .values(round_robin_pointer=pointer))
    vacuum(engine)
    after = snapshot(engine)
    if after != before:
        raise SystemExit(f"undoing the ORM baseline left the data changed:\n{before}\n{after}")


# -- the job and the checks -------------------------------------------------------------------------------

def timed_run(engine: Engine, as_of: dt.datetime) -> dict[str, Any]:
    log(f"assign-leads ({as_of.isoformat(timespec='seconds')})...")
    started, cpu = time.perf_counter(), time.process_time()
    report = runs.run(session_factory(engine), FLOW, assign_leads, as_of, trigger="bench")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report.status != "completed":
        raise SystemExit(f"assign-leads {report.status}: {report.errors}")
    log(f"  {seconds:.2f} s ({cpu:.2f} s of CPU): {report.counts}")
    return {"as_of": as_of.isoformat(), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "counts": report.counts}


def check(engine: Engine, leads: int, counts: dict[str, int], baseline: Baseline) -> dict[str, Any]:
    """After the job: nobody forgotten, the rows it wrote, the spread per rep, the sample as the baseline decided."""
    with session_factory(engine)() as s:
        forgotten = s.scalar(select(func.count()).select_from(Lead).where(
            Lead.owner_id.is_(None),
            Lead.assignment_reason.is_(None) | ~Lead.assignment_reason.startswith(f"pool: {POOL} ("))) or 0
        pooled = s.scalar(select(func.count()).select_from(Lead).where(Lead.owner_id.is_(None))) or 0
        tasks = s.scalar(select(func.count()).select_from(Activity)
                         .where(Activity.created_by_automation == cadence.AUTOMATION, Activity.cadence_step == 1)) or 0
        audited = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "assign")) or 0
        per_owner = {row.owner_id: row.n for row in s.execute(
            select(Lead.owner_id, func.count().label("n")).where(Lead.owner_id.is_not(None)).group_by(Lead.owner_id))}
        spread: dict[str, dict[str, Any]] = {}
        for team in s.scalars(select(Team).order_by(Team.name)):
            got = [per_owner.get(user_id, 0) for user_id in
                   s.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id))]
            spread[team.name] = {"strategy": team.assignment_strategy, "members": len(got), "leads": sum(got),
                                 "min": min(got), "max": max(got)}
        last = max(baseline.decided, default=0)
        sample = {row.id: (row.owner_id, row.assignment_reason) for row in s.execute(
            select(Lead.id, Lead.owner_id, Lead.assignment_reason).where(Lead.id <= last))}
    same = sum(sample.get(lead_id) == decided for lead_id, decided in baseline.decided.items())
    problems = []
    if forgotten:
        problems.append(f"{forgotten:,} leads have neither an owner nor a place in the pool")
    if tasks != counts.get("assigned", 0) or counts.get("cadences_started") != tasks:
        problems.append(f"{tasks:,} first follow-ups for {counts.get('assigned', 0):,} assigned leads")
    if audited != leads or counts.get("assigned", 0) + counts.get("pooled", 0) != leads:
        problems.append(f"{audited:,} audit rows, counts {counts}, for {leads:,} leads")
    problems += [f"{name}: {s['min']}..{s['max']} leads per rep is not fair" for name, s in spread.items()
                 if s["strategy"] == "round_robin" and s["max"] - s["min"] > 1]
    if same != len(baseline.decided):
        problems.append(f"the job decided {len(baseline.decided) - same:,} of the baseline's sample otherwise")
    return {"forgotten": forgotten, "pooled": pooled, "first_follow_ups": tasks, "audit_rows": audited,
            "per_rep": spread, "sample_as_baseline": f"{same}/{len(baseline.decided)}", "problems": problems}


# -- the command ------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.assign_leads", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--leads", type=int, default=GOAL_LEADS, help="new unowned leads to assign")
    p.add_argument("--reps", type=int, default=SIZES["large"].reps, help="active reps, split over the two teams")
    p.add_argument("--orm-sample", type=int, default=2_000, help="leads the ORM baseline assigns (extrapolated)")
    p.add_argument("--orm-commit-every", type=int, default=100, help="the ORM baseline commits every this many leads")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the data")
    p.add_argument("--database-url", help="an EMPTY database, e.g. postgresql+psycopg://u@host/db "
                                          "(default: a SQLite file in a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    args = p.parse_args(argv)
    if args.leads < 1 or args.reps < len(TEAMS) or args.orm_sample < 1 or args.orm_commit_every < 1:
        p.error(f"--leads, --orm-sample and --orm-commit-every must be 1 or more, --reps {len(TEAMS)} or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="leadline-bench-")
    os.environ["CRM_DATA_DIR"] = tmp  # nothing is mailed, but keep any secret key out of ./var
    url = args.database_url or f"sqlite:///{tmp}/assign.db"
    engine = prepare(url)
    as_of = utcnow().replace(microsecond=0)
    started = time.perf_counter()
    log(f"loading {args.leads:,} leads, {args.reps} reps...")
    sizes = load(engine, args.leads, args.reps, args.seed, as_of)
    load_s = time.perf_counter() - started
    log(f"loaded in {load_s:.1f} s (not timed)")
    result: dict[str, Any] = {
        **run_header("assign_leads", argv, url, engine),
        "sizes": sizes, "seed": args.seed, "load_seconds": round(load_s, 1),
        "rules": [{"name": n, "conditions": c, "team": t} for n, c, t in RULES], "unassigned_pool": POOL,
        "goal": {"seconds": GOAL_SECONDS, "leads": GOAL_LEADS},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    sample = list(range(1, min(args.orm_sample, args.leads) + 1))
    before = snapshot(engine)
    log(f"ORM baseline: {len(sample):,} leads, a commit every {args.orm_commit_every}...")
    baseline = orm_baseline(engine, sample, as_of, args.orm_commit_every)
    per_lead = baseline.seconds / len(sample)
    extrapolated = per_lead * args.leads
    log(f"  {baseline.seconds:.2f} s for the sample; extrapolated to {args.leads:,} leads: {extrapolated:,.0f} s")
    undo_baseline(engine, before, sample[-1])
    result["orm_baseline"] = {
        "sample_leads": len(sample), "commit_every": args.orm_commit_every, "commits": baseline.commits,
        "emails": baseline.emails, "assigned": sum(o is not None for o, _ in baseline.decided.values()),
        "seconds": round(baseline.seconds, 3), "cpu_seconds": round(baseline.cpu_seconds, 3),
        "ms_per_lead": round(per_lead * 1000, 3), "leads_per_s": round(len(sample) / baseline.seconds),
        "extrapolated_seconds": round(extrapolated, 1),
        "note": "the first leads by id, committed, then undone; extrapolated linearly to all the leads",
    }

    job = timed_run(engine, as_of)
    job["leads_per_s"] = round(args.leads / job["seconds"])
    result["job"] = job
    result["checks"] = checks = check(engine, args.leads, job["counts"], baseline)
    result["ratio_orm_to_job"] = round(extrapolated / job["seconds"], 1)
    full = args.leads == GOAL_LEADS and args.reps == SIZES["large"].reps
    result["goal_met"] = job["seconds"] < GOAL_SECONDS if full else None
    finish(result, engine, Path(tmp), args.keep, args.json, ascii_only=False)
    print(markdown(result))
    for problem in checks["problems"]:
        log(f"PROBLEM: {problem}")
    return 1 if checks["problems"] else 0


def markdown(result: dict[str, Any]) -> str:
    """The figures as a small Markdown table, with the ratio, the checks and the goal."""
    m, sizes, job, orm, checks = (result[k] for k in ("machine", "sizes", "job", "orm_baseline", "checks"))
    c = job["counts"]
    leads = sizes["leads"]
    lines = [
        f"## Assign leads: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"{result['database']['server']}, SQLAlchemy {m['sqlalchemy']}",
        "",
        f"{leads:,} new leads, {sizes['reps']} reps in {sizes['teams']} teams, {sizes['rules']} rules + the pool; "
        f"load average {' '.join(map(str, result['load_average_at_start']))} at the start, "
        f"{' '.join(map(str, result['load_average_at_end']))} at the end",
        "",
        "| path | leads | seconds | CPU s | leads/s |",
        "|---|--:|--:|--:|--:|",
        f"| assign-leads job (set-based, chunks of {runs.CHUNK:,}) | {leads:,} | {job['seconds']:.2f} "
        f"| {job['cpu_seconds']:.2f} | {job['leads_per_s']:,} |",
        f"| ORM loop, a commit every {orm['commit_every']} (measured) | {orm['sample_leads']:,} | {orm['seconds']:.2f} "
        f"| {orm['cpu_seconds']:.2f} | {orm['leads_per_s']:,} |",
        f"| ORM loop (extrapolated from {orm['sample_leads']:,}) | {leads:,} | {orm['extrapolated_seconds']:,.1f} "
        f"| | {orm['leads_per_s']:,} |",
        "",
        f"Job counts: assigned {c.get('assigned', 0):,}, pooled {c.get('pooled', 0):,}, emails {c.get('emails', 0):,}, "
        f"cadences started {c.get('cadences_started', 0):,}.",
        "Per rep: " + "; ".join(f"{name} ({s['strategy']}, {s['members']} reps) {s['min']:,}–{s['max']:,}"
                                for name, s in checks["per_rep"].items())
        + f". Nobody forgotten: {'yes' if not checks['forgotten'] else 'NO'}; "
        f"sample decided as the baseline did: {checks['sample_as_baseline']}.",
        "",
        f"Ratio ORM (extrapolated) / job: {result['ratio_orm_to_job']}×. Goal < {GOAL_SECONDS:.0f} s for "
        f"{GOAL_LEADS:,} leads over 50 reps: "
        + ("not judged at this size" if result["goal_met"] is None else "met" if result["goal_met"] else "NOT met")
        + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
