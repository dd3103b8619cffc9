"""Writing decided owners: the leads, their open follow-ups, the audit trail, the new owners' email, the cadence.

All set-based, in the caller's transaction: one UPDATE … FROM (VALUES …) RETURNING per 2,000 leads,
conditional on each lead still having the owner and reason it was read with (so a lead changed meanwhile —
by a concurrent run, a person, a web capture — is left alone, and nothing below counts it); one executemany
for the open activities a reassigned lead's former owner had on it; multi-row INSERTs of the audit rows;
one message per new owner; the first follow-up task of each newly owned lead
(`crm_store.automation.cadence.start`).

Each new owner gets one `leads_assigned` message per moment `at` (a run's `as_of`) listing their new
leads: a later batch of the same run, or a concurrent run for the same moment, adds its leads to that
message while it is still queued, and queues another only once it has gone out (or lists MESSAGE_LEADS
leads: a bulk load's thousands come in a few messages). A manager given leads for want of anyone else
gets them in a message of their own whose "assigned by" line says why.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.assignment.decisions import Decision
from crm_store.languages import N_
from crm_store.mail import outbox
from crm_store.models import Activity, AuditEntry, Lead, OutboxMessage, utcnow
from crm_store.records.names import display_name

TEMPLATE = "leads_assigned"
# The "assigned by" of a manager's message: who could not take the leads (teams; else users, or both).
NOBODY_IN = N_("The assignment rules (nobody in %(names)s could take them)")
COULD_NOT = N_("The assignment rules (%(names)s could not take them)")
NO_SOURCE = "—"

# Leads one message lists before a later batch of the same run starts another: a run's usual handful goes
# in one message; a bulk load of thousands comes in several instead of one rewritten over and over.
MESSAGE_LEADS = 250
WRITE_ROWS = 2000  # leads per UPDATE statement: 5 values each, well inside SQLite's 32,766 bound values
_LEADS = Lead.__table__.c
_AUDIT = AuditEntry.__table__.c
_ADD_LEADS = (
    update(OutboxMessage.__table__).where(OutboxMessage.__table__.c.id == bindparam("b_id"))
    .values(context=bindparam("b_context"), record_module=None, record_id=None)
)
_ACTIVITIES = Activity.__table__.c
_MOVE_FOLLOW_UPS = (
    update(Activity.__table__)
    .where(_ACTIVITIES.lead_id == bindparam("b_lead"), _ACTIVITIES.owner_id == bindparam("b_old"),
           _ACTIVITIES.completed_at.is_(None), _ACTIVITIES.deleted_at.is_(None))
    .values(owner_id=bindparam("b_new"))
)


@dataclass(frozen=True)
class Handed:
    """What writing a batch of decisions did."""

    written: list[Decision]  # the leads actually changed
    emails: int  # new messages queued (leads added to a queued one are not counted again)
    cadences: int  # first follow-up tasks created


def hand_over(
    session: Session, decisions: Sequence[Decision], at: dt.datetime, actor: Actor, keys: dict[Any, str] | None = None
) -> Handed:
    """Write decided owners and everything that goes with them; see the module's docstring.

    `keys` carries the new owners' messages from one batch of a run to the next.
    """
    written = _write(session, [d for d in decisions if d.reason is not None], at)
    if not written:
        return Handed([], 0, 0)
    _move_follow_ups(session, written)
    _write_audit(session, written, actor, at)
    emails = _tell_owners(session, written, at, {} if keys is None else keys)
    cadences = _start_cadences(session, [d for d in written if d.owner is not None], at)
    return Handed(written, emails, cadences)


def _write(session: Session, decisions: list[Decision], at: dt.datetime) -> list[Decision]:
    """Update the leads, each only if it is still as it was read; return the decisions whose lead changed."""
    changed: set[int] = set()
    for start in range(0, len(decisions), WRITE_ROWS):
        changed.update(_assign(session, decisions[start : start + WRITE_ROWS], at))
    return [d for d in decisions if d.lead_id in changed]


def _assign(session: Session, decisions: list[Decision], at: dt.datetime) -> list[int]:
    """One UPDATE … FROM (VALUES …) RETURNING for a slice of decisions: the ids it changed.

    One statement rather than an executemany: SQLite with foreign keys on pays a statement journal per
    statement (a row-by-row UPDATE of owners costs about three times as much), and RETURNING tells exactly
    which leads were still as read. The SQL holds only placeholders; the values are bound.
    """
    if not decisions:
        return []
    connection = session.connection()
    dialect = connection.dialect
    stamp = _LEADS.assigned_at.type._cached_bind_processor(dialect)
    bound: list[Any] = [stamp(at) if stamp else at, stamp(utcnow()) if stamp else utcnow()]
    for d in decisions:
        bound += [d.lead_id, d.owner.id if d.owner is not None else None, d.reason, d.lead["owner_id"],
                  d.lead["assignment_reason"]]
    if dialect.name == "postgresql":
        rows = ", ".join(["(%s::bigint, %s::bigint, %s::varchar, %s::bigint, %s::varchar)"] * len(decisions))
        sql = (
            "UPDATE leads SET owner_id = v.owner, assignment_reason = v.reason, "
            "assigned_at = CASE WHEN v.owner IS NULL THEN NULL ELSE %s::timestamptz END, updated_at = %s::timestamptz "
            f"FROM (VALUES {rows}) AS v (id, owner, reason, old_owner, old_reason) "
            "WHERE leads.id = v.id AND leads.owner_id IS NOT DISTINCT FROM v.old_owner "
            "AND leads.assignment_reason IS NOT DISTINCT FROM v.old_reason RETURNING leads.id"
        )
    else:
        rows = ", ".join(["(?, ?, ?, ?, ?)"] * len(decisions))
        sql = (
            f"WITH v (id, owner, reason, old_owner, old_reason) AS (VALUES {rows}) "
            "UPDATE leads SET owner_id = v.owner, assignment_reason = v.reason, "
            "assigned_at = CASE WHEN v.owner IS NULL THEN NULL ELSE ? END, updated_at = ? FROM v "
            "WHERE leads.id = v.id AND leads.owner_id IS v.old_owner AND leads.assignment_reason IS v.old_reason "
            "RETURNING id"
        )
        bound = bound[2:] + bound[:2]  # the VALUES come first in SQLite's statement
    return [row[0] for row in connection.exec_driver_sql(sql, tuple(bound))]


def _move_follow_ups(session: Session, written: list[Decision]) -> None:
    """A reassigned lead's open activities of its former owner go to its new owner."""
    moves = [{"b_lead": d.lead_id, "b_old": d.lead["owner_id"], "b_new": d.owner.id} for d in written
             if d.owner is not None and d.lead["owner_id"] is not None and d.lead["owner_id"] != d.owner.id]
    if moves:
        session.execute(_MOVE_FOLLOW_UPS, moves)


def _write_audit(session: Session, written: list[Decision], actor: Actor, at: dt.datetime) -> None:
    """Audit each lead's new owner and reason (only what changed), as `audit.entry` rows, in a few INSERTs.

    Multi-row INSERT statements rather than `audit.write_many`'s executemany: the rows are all alike, and
    building them here costs a fraction of binding each value through its column type.
    """
    connection = session.connection()
    dialect = connection.dialect
    stamp = _AUDIT.at.type._cached_bind_processor(dialect)
    when = stamp(at) if stamp else at
    rows = []
    for d in written:
        owner = d.owner.id if d.owner is not None else None
        changes = {"owner_id": [d.lead["owner_id"], owner],
                   "assignment_reason": [d.lead["assignment_reason"], d.reason]}
        changed = {k: v for k, v in changes.items() if v[0] != v[1]}
        rows.append((when, actor.user_id, actor.automation, "assign", "leads", d.lead_id, d.lead["lead_no"],
                     json.dumps(changed)))
    one = "(%s, %s, %s, %s, %s, %s, %s, %s::json)" if dialect.name == "postgresql" else "(?, ?, ?, ?, ?, ?, ?, ?)"
    for start in range(0, len(rows), WRITE_ROWS):
        part = rows[start : start + WRITE_ROWS]
        connection.exec_driver_sql(
            "INSERT INTO audit_log (at, user_id, automation, action, module, record_id, record_no, changes) "
            f"VALUES {', '.join([one] * len(part))}", tuple(value for row in part for value in row),
        )


@dataclass
class _Message:
    """One new owner's leads of this batch, and the message they go in."""

    owner: Any
    fallback: bool  # a manager's leads for want of anyone else
    leads: list[dict[str, Any]]
    first_lead: int
    assigned_by: str | None
    base: str  # the key of the owner's first message of moment `at`
    key: str | None  # the message this run last added the owner's leads to


def _tell_owners(session: Session, written: list[Decision], at: dt.datetime, keys: dict[Any, str]) -> int:
    """Add each new owner's leads to their waiting message of moment `at`, or queue one; return how many queued.

    `keys` remembers, for this run, the message each owner's leads were last added to: one SELECT … FOR UPDATE
    finds those still queued (locked, so the mail worker waits), one executemany adds the leads to them.
    """
    groups: dict[tuple[int, bool], list[Decision]] = {}
    for d in written:
        if d.owner is not None:
            groups.setdefault((d.owner.id, d.kind == "manager"), []).append(d)
    stamp = f"{at.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}"
    messages = [_message(group, fallback, stamp, keys) for (_, fallback), group in sorted(groups.items())]
    known = [m.key for m in messages if m.key is not None]
    waiting = {row.idempotency_key: row for row in session.execute(
        select(OutboxMessage.id, OutboxMessage.idempotency_key, OutboxMessage.status, OutboxMessage.context)
        .where(OutboxMessage.idempotency_key.in_(known)).order_by(OutboxMessage.id).with_for_update()
    )} if known else {}
    additions, queued = [], 0
    for m in messages:
        row = waiting.get(m.key or "")
        if row is not None and _has_room(row):
            additions.append({"b_id": row.id, "b_context": _with_leads(row.context, m.leads)})
        else:
            queued += _queue(session, m, keys)
    if additions:
        session.execute(_ADD_LEADS, additions)
    return queued


def _message(group: list[Decision], fallback: bool, stamp: str, keys: dict[Any, str]) -> _Message:
    owner = group[0].owner
    language = owner.language or languages.DEFAULT
    sources: dict[str | None, str] = {}
    ordered = sorted(group, key=lambda d: d.lead_id)
    assigned_by = None
    if fallback:
        told = {d.told for d in group if d.told is not None}
        names = ", ".join(sorted(name for _, name in told))
        only_teams = all(kind == "team" for kind, _ in told)
        assigned_by = languages.translate(language, NOBODY_IN if only_teams else COULD_NOT, names=names)
    return _Message(owner, fallback, [_lead_row(d.lead, language, sources) for d in ordered], ordered[0].lead_id,
                    assigned_by, f"{TEMPLATE}:{stamp}:{owner.id}:{'manager' if fallback else 'rules'}",
                    keys.get((owner.id, fallback)))


def _queue(session: Session, m: _Message, keys: dict[Any, str]) -> bool:
    """Queue the owner's message (the first of moment `at`, else a further one); True if one was queued."""
    owner, key = m.owner, m.key or m.base
    values = {"recipient_name": owner.name, "assigned_by": m.assigned_by, "leads": m.leads}
    module, record = ("leads", m.first_lead) if len(m.leads) == 1 else (None, None)

    def enqueue(message_key: str) -> bool:
        keys[(owner.id, m.fallback)] = message_key
        return outbox.enqueue(session, TEMPLATE, owner.email, key=message_key, context=values,
                              language=owner.language or languages.DEFAULT, recipient_name=owner.name,
                              to_staff=True, record_module=module, record_id=record)

    if enqueue(key):
        return True
    if _add_to_waiting(session, key, m.leads):  # queued by a concurrent run, or by this one in an earlier batch
        return False
    return enqueue(f"{m.base}:{m.first_lead}")  # that one is sent or full: these leads start another


def _has_room(row: Any) -> bool:
    return bool(row.status == "queued" and len((row.context or {}).get("leads", [])) < MESSAGE_LEADS)


def _with_leads(context: dict[str, Any] | None, leads: list[dict[str, Any]]) -> dict[str, Any]:
    """A message's context with more leads listed (none twice)."""
    context = dict(context or {})
    listed = {lead["number"] for lead in context.get("leads", [])}
    context["leads"] = [*context.get("leads", []), *(lead for lead in leads if lead["number"] not in listed)]
    return context


def _add_to_waiting(session: Session, key: str, leads: list[dict[str, Any]]) -> bool:
    """Add leads to the message under `key` if it is still queued and not full (locked: the mail worker waits)."""
    row = session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.context)
        .where(OutboxMessage.idempotency_key == key).with_for_update()
    ).first()
    if row is None or not _has_room(row):
        return False
    session.execute(_ADD_LEADS, [{"b_id": row.id, "b_context": _with_leads(row.context, leads)}])
    return True


def _lead_row(lead: Any, language: str, sources: dict[str | None, str]) -> dict[str, Any]:
    """A lead as the message lists it: {number, name, company, source}; `sources` keeps translated sources."""
    source = sources.get(lead["lead_source"])
    if source is None:
        source = sources[lead["lead_source"]] = languages.translate_value(language, lead["lead_source"]) or NO_SOURCE
    return {"number": lead["lead_no"], "name": display_name(lead["first_name"], lead["last_name"]),
            "company": lead["company"] or None, "source": source}


def _start_cadences(session: Session, owned: list[Decision], at: dt.datetime) -> int:
    """Create the first follow-up task of each newly owned lead; return how many."""
    if not owned:
        return 0
    from crm_store.automation import cadence  # the automation builds on the store, not the other way round

    return cadence.start(session, [(d.lead_id, d.owner.id, at) for d in owned], cadence.calendar_for(session))
