"""Processing the intake: submissions stored and answered, not yet turned into leads, oldest first.

The web app stores a submission with `submissions.accept` and answers 201; a single consumer (the
`crm serve` worker holding the intake lock, see `webform.intake`) then calls `process_pending` in a loop.
One consumer, taking submissions in the order they arrived, makes duplicate checks and round-robin turns
exact. Functions take the caller's session and never commit.

A batch is processed set-based where it can be: submissions from new people become leads together —
their turns taken with one read and one write of each rotation, numbered, inserted, audited, indexed,
given the first task of their follow-up cadence and their notices queued with one statement each. A
submission from someone already known (an open lead or a contact with that email, or an earlier
submission of the same batch) adds an inquiry to that record, one at a time, after the new leads exist.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.assignment import round_robin as assignment
from crm_store.automation import cadence
from crm_store.capture import notices, submissions
from crm_store.errors import ValidationError
from crm_store.mail import outbox
from crm_store.models import Contact, Lead, WebForm, WebSubmission, utcnow
from crm_store.pipeline.leads import open_lead_condition
from crm_store.records import lifecycle
from crm_store.records.names import display_name
from crm_store.records.validation import Validator
from crm_store.settings import company

log = logging.getLogger("leadline.intake")
PENDING = submissions.PENDING


def pending(limit: int) -> Select[WebSubmission]:
    """Select the oldest submissions waiting to be processed."""
    return (
        select(WebSubmission).where(WebSubmission.outcome == PENDING).order_by(WebSubmission.id).limit(limit)
    )


@dataclass
class _Batch:
    """What a batch reads once: validation, company settings, forms, the owners' time zones."""

    session: Session
    validator: Validator
    settings: dict[str, Any]
    forms: dict[int, WebForm] = field(default_factory=dict)
    zones: dict[int, zoneinfo.ZoneInfo] = field(default_factory=dict)

    def form(self, form_id: int) -> WebForm:
        if form_id not in self.forms:
            self.forms[form_id] = self.session.get_one(WebForm, form_id)
        return self.forms[form_id]

    def zone(self, owner: Any) -> zoneinfo.ZoneInfo:
        if owner.id not in self.zones:
            self.zones[owner.id] = company.zone_for(self.session, owner)
        return self.zones[owner.id]


@dataclass
class _NewLead:
    """A submission on its way to becoming a lead."""

    row: WebSubmission
    form: WebForm
    clean: dict[str, Any]
    owner: Any = None


def process_pending(
    session: Session, limit: int = 200, *, validator: Validator | None = None, settings: dict[str, Any] | None = None
) -> int:
    """Turn up to `limit` pending submissions into leads (or inquiries on known records); return how many.

    A caller that keeps the validation context and the company settings (the web app does, for a few
    seconds) passes them, and a batch then costs no reads of them.
    """
    rows = list(session.scalars(pending(limit)))
    if not rows:
        return 0
    validator = validator or Validator.for_session(session)
    batch = _Batch(session, validator, settings if settings is not None else company.all_settings(session))
    known = _known_emails(session, {row.email.lower() for row in rows if row.email})
    fresh, later = [], []
    for row in rows:
        key = row.email.lower() if row.email else None
        if key is not None and key in known:
            later.append(row)  # an inquiry on a record that exists, or will once its first submission is a lead
            continue
        fresh.append(row)
        if key is not None:
            known.add(key)
    _new_leads(batch, fresh)
    for row in later:
        _one(batch, row)
    return len(rows)


def hold(session: Session, submission_id: int, reason: str) -> None:
    """Put a submission that cannot be processed in the quarantine, with why, for an admin to look at."""
    session.execute(
        update(WebSubmission).where(WebSubmission.id == submission_id)
        .values(outcome="quarantined", spam_reason=reason[:200])
    )


def _known_emails(session: Session, keys: set[str]) -> set[str]:
    """Which of these addresses (lower-cased) already have an open lead or a contact."""
    if not keys:
        return set()
    leads = select(Lead.email_key).where(Lead.email_key.in_(keys), open_lead_condition())
    contacts = select(Contact.email_key).where(Contact.email_key.in_(keys), Contact.deleted_at.is_(None))
    return {key for key in session.scalars(leads.union(contacts)) if key}


def _one(batch: _Batch, row: WebSubmission) -> None:
    """Process one submission on its own (an inquiry on a known record), held in the quarantine if it fails."""
    try:
        with batch.session.begin_nested():
            submissions.process(batch.session, batch.form(row.form_id), row.id, submissions.stored_values(row),
                                row.received_at, validator=batch.validator, settings=batch.settings)
    except ValidationError as exc:  # e.g. a picklist value removed since the visitor sent it: held, not lost
        hold(batch.session, row.id, f"could not be processed: {exc}")
    except SQLAlchemyError:
        raise  # the database's trouble, not this submission's: the batch is tried again
    except Exception:  # a bug met by this one submission must not stop the others behind it
        log.exception("web submission %s could not be processed; it is held in the quarantine", row.public_id)
        hold(batch.session, row.id, "could not be processed (the error is in the log)")


def _new_leads(batch: _Batch, rows: list[WebSubmission]) -> None:
    """Make a lead of each submission from someone new, set-based; a submission that fails is held."""
    session, validator = batch.session, batch.validator
    todo = []
    for row in rows:
        form = batch.form(row.form_id)
        values = submissions.lead_values(form, dict(row.clean), submissions.stored_values(row))
        try:
            todo.append(_NewLead(row, form, validator.clean("leads", values)))
        except ValidationError as exc:
            hold(session, row.id, f"could not be processed: {exc}")
    _take_turns(batch, todo)
    plan = cadence.Plan.load(session, batch.settings) if any(lead.owner is not None for lead in todo) else None
    if plan is not None:  # the cadence is set in the leads' own INSERT
        for lead in todo:
            if plan.applies(lead.clean):
                lead.clean.update(plan.lead_columns())
    while True:  # the references (campaign, form, owner) of every lead, with one look-up per kind
        try:
            validator.check_references(session, "leads", [lead.clean for lead in todo])
            break
        except ValidationError as exc:
            bad = todo.pop((exc.row or 1) - 1)
            hold(session, bad.row.id, f"could not be processed: {exc.field}: {exc.message}")
    actors = [Actor.system("webform", lead.form.public_id[:12]) for lead in todo]
    stored = lifecycle.insert_leads(session, [lead.clean for lead in todo], actors, [t.row.received_at for t in todo])
    if plan is not None:
        cadence.insert_tasks(session, [
            plan.first_task(values["id"], display_name(values.get("first_name"), values["last_name"]), lead.owner.id,
                            lead.owner.language, values["assigned_at"])
            for lead, values in zip(todo, stored, strict=True) if values.get("cadence_step") == 1
        ])
    outbox.enqueue_many(session, list(_notices(batch, todo, stored)))
    now = utcnow()
    submissions.record_outcomes(session, [
        {"row_id": lead.row.id, "o_outcome": "new_lead", "o_lead": values["id"], "o_contact": None, "o_at": now}
        for lead, values in zip(todo, stored, strict=True)
    ])


def _take_turns(batch: _Batch, todo: list[_NewLead]) -> None:
    """Give each new lead its owner by its form's rule, turns taken in the order the submissions arrived."""
    by_form: dict[int, list[_NewLead]] = {}
    for lead in todo:
        by_form.setdefault(lead.form.id, []).append(lead)
    for leads in by_form.values():
        owners = assignment.owners_for_form(batch.session, leads[0].form, [lead.row.received_at for lead in leads])
        for lead, owner in zip(leads, owners, strict=True):
            lead.owner = owner
            lead.clean["owner_id"] = owner.id if owner is not None else None


def _notices(batch: _Batch, todo: list[_NewLead], stored: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The owners' notices and the visitors' auto-replies of new leads, as outbox rows."""
    region = batch.validator.phone_region
    for lead, values in zip(todo, stored, strict=True):
        clean, form, owner, at = dict(lead.row.clean), lead.form, lead.owner, lead.row.received_at
        try:
            if owner is not None and form.notify_owner:
                yield notices.outbox_row(notices.new_web_lead(
                    values, clean, form.name, owner, submission=lead.row.public_id, at=at, zone=batch.zone(owner),
                    region=region,
                ))
            if clean.get("email") and form.auto_reply:
                yield notices.outbox_row(notices.auto_reply(
                    clean, language=form.language, submission=lead.row.public_id, settings=batch.settings,
                    owner=owner, record=("leads", values["id"]),
                ))
        except ValidationError as exc:  # a message that cannot be sent must not cost the lead
            log.warning("no notice for web submission %s: %s", lead.row.public_id, exc)


def backlog(session: Session) -> tuple[int, dt.datetime | None]:
    """How many submissions wait, and since when the oldest has."""
    count, oldest = session.execute(
        select(func.count(), func.min(WebSubmission.received_at)).where(WebSubmission.outcome == PENDING)
    ).one()
    return int(count), oldest
