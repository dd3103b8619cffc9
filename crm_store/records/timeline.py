"""A record's timeline: everything that happened to it, newest first — the history a rep reads before a call.

Calls, meetings and logged emails (once they took place), completed tasks, notes, web inquiries, mail sent
about the record, stage changes (from the stage history), and the audit trail's owner, status and field
changes. Each source is read newest first and cut at the limit, then the sources are merged: a handful of
indexed queries whatever the record's age. A contact's timeline also holds the web inquiries and mail of
the lead it was converted from (its activities and notes moved with it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from crm_store.capture.forms import MESSAGE
from crm_store.languages import N_, translate, translate_value
from crm_store.models import (
    Activity,
    AuditEntry,
    Lead,
    Note,
    OutboxMessage,
    SalesStage,
    StageHistory,
    User,
    WebForm,
    WebSubmission,
    utcnow,
)
from crm_store.records import registry
from crm_store.records.names import display_name
from crm_store.records.timeline_items import Names, TimelineItem, audit_items
from crm_store.staff import scope as scoping

LIMIT = 100
# Of things at the same moment, which came first: a web lead's inquiry made it, and then it was created.
FIRST_THINGS = {"web_inquiry": 0, "created": 1}
INQUIRY_OUTCOMES = ("new_lead", "added_to_lead", "added_to_contact", "released")
MAIL_NAMES = {
    "new_web_lead": N_("New web lead notice"),
    "new_inquiry": N_("New web inquiry notice"),
    "visitor_auto_reply": N_("Auto-reply to the visitor"),
    "stage_playbook": N_("Stage playbook email"),
}
MAIL_STATUSES = {
    "queued": N_("queued"), "sending": N_("sending"), "retrying": N_("retrying"), "sent": N_("sent"),
    "failed": N_("failed"), "suppressed": N_("suppressed (opted out)"),
}


def record_timeline(
    session: Session, user: User, module: str, record_id: int, *, language: str = "en", limit: int = LIMIT,
    now: dt.datetime | None = None,
) -> list[TimelineItem] | None:
    """The timeline of a record `user` may see, newest first; None when they may not (the page answers 404)."""
    if scoping.fetch(session, user, module, record_id) is None:
        return None
    return timeline(session, module, record_id, language=language, limit=limit, now=now)


def timeline(
    session: Session, module: str, record_id: int, *, language: str = "en", limit: int = LIMIT,
    now: dt.datetime | None = None,
) -> list[TimelineItem]:
    """Everything that happened to a record, newest first, at most `limit` items (no scope check: see above)."""
    now = now or utcnow()
    spec = registry.get(module)
    names = Names(session, language)
    leads = _source_leads(session, module, record_id)
    items: list[TimelineItem] = []
    if spec.link_column:
        items += _activities(session, getattr(Activity, spec.link_column) == record_id, names, now, limit)
        items += _notes(session, getattr(Note, spec.link_column) == record_id, names, limit)
    items += _inquiries(session, module, record_id, leads, names, limit)
    items += _mail(session, [(module, record_id)] + [("leads", i) for i in leads], language, limit)
    if module == "opportunities":
        items += _stage_changes(session, record_id, names, limit)
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.module == module, AuditEntry.record_id == record_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    ).all()
    items += audit_items(session, module, list(entries), names)
    items = _without_inquiry_notes(items)
    items.sort(key=lambda item: (item.at, FIRST_THINGS.get(item.kind, len(FIRST_THINGS))), reverse=True)
    return items[:limit]


def _source_leads(session: Session, module: str, record_id: int) -> list[int]:
    """The leads a contact was converted from (their inquiries and mail belong to its history)."""
    if module != "contacts":
        return []
    return list(session.scalars(select(Lead.id).where(Lead.converted_contact_id == record_id)))


def _activities(session: Session, about: Any, names: Names, now: dt.datetime, limit: int) -> list[TimelineItem]:
    """Completed activities, and calls, meetings and emails that have taken place."""
    happened = case((Activity.type == "task", Activity.completed_at),
                    else_=func.coalesce(Activity.start_at, Activity.completed_at, Activity.created_at))
    rows = session.scalars(
        select(Activity)
        .where(about, Activity.deleted_at.is_(None),
               or_(Activity.completed_at.is_not(None),
                   and_(Activity.type != "task", func.coalesce(Activity.start_at, Activity.created_at) <= now)))
        .order_by(happened.desc(), Activity.id.desc()).limit(limit)
    ).all()
    items = []
    for row in rows:
        at = row.completed_at if row.type == "task" else row.start_at or row.completed_at or row.created_at
        details = tuple(line for line in (row.status, row.outcome, row.description) if line)
        who = names.user(row.completed_by_id or row.owner_id)
        items.append(TimelineItem(row.type, at or row.created_at, who, row.subject, details, ("activities", row.id)))
    return items


def _notes(session: Session, about: Any, names: Names, limit: int) -> list[TimelineItem]:
    rows = session.scalars(
        select(Note).where(about, Note.deleted_at.is_(None)).order_by(Note.created_at.desc(), Note.id.desc())
        .limit(limit)
    ).all()
    items = []
    for row in rows:
        first, *rest = row.body.splitlines() or [""]
        items.append(TimelineItem("note", row.created_at, names.user(row.author_id), first,
                                  tuple(line for line in rest if line.strip()), ("notes", row.id)))
    return items


def _inquiries(
    session: Session, module: str, record_id: int, leads: list[int], names: Names, limit: int
) -> list[TimelineItem]:
    """What the visitor sent through a web form, each time."""
    sub = WebSubmission
    if module == "leads":
        about = sub.lead_id == record_id
    elif module == "contacts":
        about = or_(sub.contact_id == record_id, sub.lead_id.in_(leads)) if leads else sub.contact_id == record_id
    else:
        return []
    rows = session.execute(
        select(sub, WebForm.name).join(WebForm, WebForm.id == sub.form_id)
        .where(about, sub.outcome.in_(INQUIRY_OUTCOMES)).order_by(sub.received_at.desc(), sub.id.desc()).limit(limit)
    ).all()
    items = []
    for row, form_name in rows:
        clean = row.clean or {}
        who = display_name(clean.get("first_name"), clean.get("last_name")) or clean.get("email") or row.email
        summary = translate(names.language, N_("Web form “%(form)s”"), form=form_name)
        message = [line for line in str(clean.get(MESSAGE) or "").splitlines() if line.strip()]
        typed = [f"{k}: {v}" for k, v in clean.items() if k != MESSAGE and v not in (None, "")]
        items.append(TimelineItem("web_inquiry", row.received_at, who, summary, (*message, *typed),
                                  ("web_submissions", row.id)))
    return items


def _mail(session: Session, keys: list[tuple[str, int]], language: str, limit: int) -> list[TimelineItem]:
    """Messages the CRM queued about the record: to whom, and how far they got."""
    box = OutboxMessage
    rows = session.scalars(
        select(box).where(tuple_(box.record_module, box.record_id).in_(keys))
        .order_by(box.created_at.desc(), box.id.desc()).limit(limit)
    ).all()
    items = []
    for row in rows:
        name = MAIL_NAMES.get(row.template)
        summary = translate(language, name) if name else row.template
        to = f"{row.recipient_name} <{row.recipient}>" if row.recipient_name else row.recipient
        status = translate(language, MAIL_STATUSES.get(row.status, row.status))
        details = (translate(language, N_("To: %(recipient)s"), recipient=to),
                   translate(language, N_("Status: %(status)s"), status=status))
        items.append(TimelineItem("mail", row.sent_at or row.created_at, None, summary, details, ("outbox", row.id)))
    return items


def _stage_changes(session: Session, opportunity_id: int, names: Names, limit: int) -> list[TimelineItem]:
    """Each stage an opportunity moved to (not the one it started in), with where it came from."""
    rows = session.execute(
        select(StageHistory, SalesStage.name).join(SalesStage, SalesStage.id == StageHistory.stage_id)
        .where(StageHistory.opportunity_id == opportunity_id)
        .order_by(StageHistory.entered_at.desc(), StageHistory.id.desc()).limit(limit + 1)
    ).all()
    return list(_moves(list(rows), names))


def _moves(rows: list[Any], names: Names) -> Iterator[TimelineItem]:
    for (row, stage), (_before, previous) in zip(rows, rows[1:], strict=False):
        detail = translate(names.language, N_("Probability: %(percent)s%%"), percent=row.probability)
        yield TimelineItem("stage_change", row.entered_at, names.author(row.changed_by_id, row.changed_by_automation),
                           f"{translate_value(names.language, previous)} → {translate_value(names.language, stage)}",
                           (detail,) if row.probability is not None else (),
                           ("stage_history", row.id))


def _without_inquiry_notes(items: list[TimelineItem]) -> list[TimelineItem]:
    """Leave out the note the intake writes for an inquiry on a known record: the inquiry item says it all."""
    received = {item.at for item in items if item.kind == "web_inquiry"}
    return [item for item in items if not (item.kind == "note" and item.who is None and item.at in received)]
