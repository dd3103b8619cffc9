"""The assign-leads flow: unassigned open leads get an owner by the rules; cadences that never started start.

Leads considered: no owner, open, created at or before `as_of`, and not decided by an earlier run
(`assignment_reason` empty — a lead left in a team's pool says "pool: <team>" and stays there for the
team's members to take). Leads of an import or demo batch are assigned like any other.

Set-based and chunked: each transaction reads up to CHUNK candidate leads (the ids and the fields the
rules look at), decides their owners in memory, and writes them with executemany statements
(`crm_store.assignment.rules.apply_rules`). On PostgreSQL the candidates are locked FOR NO KEY UPDATE
SKIP LOCKED, so two runs at once share the leads out instead of deciding one twice; SQLite serialises
writers (transactions begin IMMEDIATE). Every UPDATE also requires the lead to be as it was read, so a
lead a person or a web capture changed meanwhile is left alone and not counted.

The cadence catch-up: an open lead with an owner, assigned in the CATCH_UP_DAYS before `as_of` but whose
first follow-up task was never created (assigned by hand, or a run that failed half way) gets it now —
unless its assignment is history (an import or demo batch assigned it before the batch was loaded). The
window keeps the catch-up a range of `ix_leads_assigned_at`, not a scan of every lead, each ten minutes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from crm_store.actor import Actor
from crm_store.assignment import rules as assignment_rules
from crm_store.automation.runs import CHUNK, Outcome
from crm_store.models import Batch, Lead
from crm_store.pipeline.leads import open_lead_condition

FLOW = "assign-leads"
CATCH_UP_DAYS = 14
COUNTS = ("assigned", "pooled", "to_manager", "unassigned", "undecided", "emails", "cadences_started")


def assign_leads(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """Assign the unassigned open leads created by `as_of`, then start the cadences that never started."""
    found = assignment_rules.Assignment()
    actor = Actor.system(FLOW)
    after = 0
    while True:
        with factory.begin() as session:
            rules = assignment_rules.active_rules(session)
            stmt = (
                assignment_rules.lead_rows(rules)
                .where(Lead.owner_id.is_(None), Lead.assignment_reason.is_(None), Lead.created_at <= as_of,
                       Lead.id > after, open_lead_condition())
                .order_by(Lead.id).limit(CHUNK).with_for_update(key_share=True, skip_locked=True)
            )
            read = assignment_rules.apply_rules(session, rules, stmt, as_of, found, actor=actor)
        if len(read) < CHUNK:
            break
        after = read[-1]
    for name in COUNTS[:-1]:
        outcome.add(name, found.counts.get(name, 0))
    outcome.add("cadences_started", found.counts.get("cadences_started", 0) + _catch_up_cadences(factory, as_of))
    outcome.errors.extend(found.problems)


def _catch_up_cadences(factory: sessionmaker[Session], as_of: dt.datetime) -> int:
    """Start the cadence of owned open leads assigned in the window before `as_of` that have none (history
    excepted)."""
    from crm_store.automation import cadence

    started, after = 0, 0
    while True:
        with factory.begin() as session:
            rows = session.execute(
                select(Lead.id, Lead.owner_id, Lead.assigned_at).outerjoin(Batch, Batch.id == Lead.batch_id)
                .where(Lead.cadence_step.is_(None), Lead.owner_id.is_not(None), Lead.assigned_at <= as_of,
                       Lead.assigned_at > as_of - dt.timedelta(days=CATCH_UP_DAYS),
                       Lead.id > after, open_lead_condition(),
                       or_(Lead.batch_id.is_(None), Lead.assigned_at >= Batch.created_at))
                .order_by(Lead.id).limit(CHUNK)
            ).all()
            if rows:
                leads = [(row.id, row.owner_id, row.assigned_at) for row in rows]
                started += cadence.start(session, leads, cadence.calendar_for(session))
        if len(rows) < CHUNK:
            return started
        after = rows[-1].id
