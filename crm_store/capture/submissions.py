"""Web-to-lead capture: store a submission, then create or extend a lead, in the caller's transaction.

The web layer checks the visitor's values (WTForms) and spam signals; this module owns what
happens to the data. `accept()` writes the raw submission (idempotent on the browser's submission
id; a render token is good for one submission) and quarantines it or leaves it pending; `process()`
then acts on a pending one — at once (`receive()` does both), or later in the intake's batches
(`crm_store.capture.intake`):

- an email matching an open lead adds the inquiry to that lead (a note and a follow-up task due
  now for its owner, who is notified); matching a contact, the same on the contact;
- otherwise a new lead is created with the form's hidden values, first-touch attribution and
  consent, assigned at once by the form's owner rule (`crm_store.assignment`), with the first task
  of its follow-up cadence (`crm_store.automation.cadence`) — an unowned lead assigned on a new
  inquiry takes the inquiry's reply task as that first touch;
- the owner's notice and the visitor's auto-reply are queued in the outbox.

Concurrent submissions of one email are serialised by a lock on the email (an advisory lock on
PostgreSQL; SQLite transactions begin IMMEDIATE), so they never create two leads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import String, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.assignment import round_robin as assignment
from crm_store.automation import cadence
from crm_store.capture import notices
from crm_store.capture.forms import MESSAGE, new_token
from crm_store.models import Contact, Lead, User, WebForm, WebSubmission, utcnow
from crm_store.pipeline import activities
from crm_store.pipeline.leads import open_lead_condition
from crm_store.records import lifecycle as records
from crm_store.records.names import display_name
from crm_store.records.validation import Validator
from crm_store.settings import company

ATTRIBUTION = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "referrer",
    "landing_page",
)
# How long each attribution column is: a longer value is cut to fit (the whole of it stays on the submission).
_ATTRIBUTION_LIMITS = {name: cast(String, Lead.__table__.c[name].type).length for name in ATTRIBUTION}
LEAD_SOURCE_TAG = "Webform"  # Lead.source: the channel, as Vtiger records it
PENDING = "received"  # the outcome of a submission stored, not yet processed (the intake's queue)
NEW_LEAD_STATUS = "Not Contacted"  # a locked lead_status value (settings/picklists.py); a form's hidden status wins


@dataclass
class Inbound:
    """One accepted request to a form, already checked by the web layer."""

    form: WebForm
    client_key: str
    raw: dict[str, Any]
    values: dict[str, Any]
    consent: bool = False
    ip: str | None = None
    user_agent: str | None = None
    first_touch: dict[str, str] = field(default_factory=dict)
    last_touch: dict[str, str] = field(default_factory=dict)
    spam_reason: str | None = None
    token_nonce: str | None = None  # the render token's nonce: a second submission with it is a replay
    validator: Validator | None = None  # a cached validation context (the web app keeps one)
    settings: dict[str, Any] | None = None  # cached company settings


@dataclass(frozen=True)
class Receipt:
    """What the visitor is told (only `public_id`) and what happened (for logs and tests)."""

    public_id: str
    outcome: str
    replay: bool = False
    lead_id: int | None = None
    contact_id: int | None = None


def truncate_ip(address: str | None) -> str | None:
    """Keep the network, not the host: IPv4 /24, IPv6 /48."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def receive(session: Session, inbound: Inbound, at: dt.datetime | None = None) -> Receipt:
    """Store the submission and act on it at once; a repeated submission id returns the first receipt."""
    at = at or utcnow()
    receipt, values = _store(session, inbound, at)
    if receipt.replay or receipt.outcome != PENDING:
        return receipt
    outcome, lead_id, contact_id = process(session, inbound.form, values["id"], values, at,
                                           validator=inbound.validator, settings=inbound.settings)
    return Receipt(receipt.public_id, outcome, False, lead_id, contact_id)


def accept(session: Session, inbound: Inbound, at: dt.datetime | None = None) -> Receipt:
    """Store the submission to be processed by the intake (or quarantined); a repeated id returns the first receipt."""
    return _store(session, inbound, at or utcnow())[0]


def _store(session: Session, inbound: Inbound, at: dt.datetime) -> tuple[Receipt, dict[str, Any]]:
    """Insert the raw submission: pending, or quarantined as spam or as a render token used before."""
    form = inbound.form
    consented = bool(inbound.consent and form.consent_text)  # a tick means nothing on a form that asks none
    values: dict[str, Any] = {
        "public_id": new_token(18), "form_id": form.id, "client_key": inbound.client_key,
        "received_at": at, "raw": inbound.raw, "clean": _jsonable(inbound.values),
        "email": inbound.values.get("email"), "ip": truncate_ip(inbound.ip),
        "user_agent": (inbound.user_agent or "")[:300] or None,
        "first_touch": inbound.first_touch, "last_touch": inbound.last_touch,
        "consent_text": form.consent_text if consented else None,
        "consent_at": at if consented else None,
        "outcome": "quarantined" if inbound.spam_reason else PENDING,
        "spam_reason": inbound.spam_reason, "token_nonce": inbound.token_nonce,
    }
    insert = _insert_submission(session.get_bind().dialect.name)
    values["id"] = session.execute(insert, values).scalar()
    if values["id"] is None:  # the browser's submission id, or the render token, was seen before
        first = session.execute(_FIRST_RECEIPT, {"f": form.id, "k": inbound.client_key}).one_or_none()
        if first is not None:  # a retry or a double click: the first answer again
            return Receipt(first.public_id, first.outcome, True, first.lead_id, first.contact_id), values
        values.update(outcome="quarantined", spam_reason="render token used before", token_nonce=None)
        del values["id"]
        values["id"] = session.execute(insert, values).scalar_one()
    return Receipt(values["public_id"], values["outcome"]), values


def stored_values(row: WebSubmission) -> dict[str, Any]:
    """What `process` needs of a stored submission."""
    return {
        "public_id": row.public_id, "clean": row.clean, "first_touch": row.first_touch, "last_touch": row.last_touch,
        "consent_text": row.consent_text, "consent_at": row.consent_at,
    }


def process(
    session: Session, form: WebForm, row_id: int, row: dict[str, Any], at: dt.datetime, *,
    outcome: str | None = None, validator: Validator | None = None, settings: dict[str, Any] | None = None,
) -> tuple[str, int | None, int | None]:
    """Create or extend the lead for a stored submission and record the outcome on it."""
    clean = dict(row["clean"])
    actor = Actor.system("webform", form.public_id[:12])
    email = clean.get("email")
    known: Lead | Contact | None = None
    if email:
        lock_email(session, email)
        known = _open_lead(session, email) or _contact(session, email)
    lead_id: int | None
    contact_id: int | None = None
    if known is not None:
        _add_inquiry(session, form, known, clean, row, actor, at)
        is_lead = isinstance(known, Lead)
        result = outcome or ("added_to_lead" if is_lead else "added_to_contact")
        lead_id, contact_id = (known.id, None) if is_lead else (None, known.id)
        owner_id = known.owner_id
    else:
        lead = _new_lead(session, form, clean, row, actor, at, validator, settings)
        lead_id, owner_id = lead["id"], lead["owner_id"]
        result = outcome or "new_lead"
    if email and form.auto_reply:
        about = ("leads", lead_id) if lead_id is not None else ("contacts", contact_id) if contact_id else None
        _auto_reply(session, form, clean, row["public_id"], settings, owner_id, about)
    session.execute(_RECORD_OUTCOME, {
        "row_id": row_id, "o_outcome": result, "o_lead": lead_id, "o_contact": contact_id, "o_at": at,
    })
    return result, lead_id, contact_id


def lock_email(session: Session, email: str) -> None:
    """Serialise work on one email address until the transaction ends (PostgreSQL advisory lock)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(email.lower().encode(), digest_size=8).digest(), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))


# Built once: statement construction costs more than running these.
_OPEN_LEAD = (
    select(Lead.id).where(Lead.email_key == bindparam("key"), open_lead_condition())
    .order_by(Lead.created_at.desc()).limit(1)
)
_CONTACT = (
    select(Contact.id).where(Contact.email_key == bindparam("key"), Contact.deleted_at.is_(None))
    .order_by(Contact.created_at.desc()).limit(1)
)
_FIRST_RECEIPT = select(
    WebSubmission.public_id, WebSubmission.outcome, WebSubmission.lead_id, WebSubmission.contact_id
).where(WebSubmission.form_id == bindparam("f"), WebSubmission.client_key == bindparam("k"))
_RECORD_OUTCOME = (
    update(WebSubmission.__table__).where(WebSubmission.__table__.c.id == bindparam("row_id"))
    .values(outcome=bindparam("o_outcome"), lead_id=bindparam("o_lead"), contact_id=bindparam("o_contact"),
            processed_at=bindparam("o_at"))
)


@lru_cache(maxsize=4)
def _insert_submission(dialect_name: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id (form + client key, or the token's nonce, seen before)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = WebSubmission.__table__
    return dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)


def _open_lead(session: Session, email: str) -> Lead | None:
    lead_id = session.execute(_OPEN_LEAD, {"key": email.lower()}).scalar()
    return session.get(Lead, lead_id) if lead_id is not None else None


def _contact(session: Session, email: str) -> Contact | None:
    contact_id = session.execute(_CONTACT, {"key": email.lower()}).scalar()
    return session.get(Contact, contact_id) if contact_id is not None else None


def _new_lead(
    session: Session, form: WebForm, clean: dict[str, Any], row: dict[str, Any], actor: Actor, at: dt.datetime,
    validator: Validator | None = None, settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    values = lead_values(form, clean, row)
    owner = assignment.owner_for_form(session, form, at)
    values["owner_id"] = owner.id if owner is not None else None
    plan = cadence.Plan.load(session, settings) if owner is not None else None
    if plan is not None and plan.applies(values):
        values.update(plan.lead_columns())  # the cadence is set in the lead's own INSERT
    lead = records.insert_lead(session, values, actor, at=at, validator=validator)
    if plan is not None and owner is not None and lead.get("cadence_step") == 1:
        cadence.insert_tasks(session, [plan.first_task(
            lead["id"], display_name(lead.get("first_name"), lead["last_name"]), owner.id, owner.language,
            lead["assigned_at"],
        )])
    if owner is not None and form.notify_owner:
        region = validator.phone_region if validator is not None else company.get(session, "phone_region")
        notices.queue(session, notices.new_web_lead(
            lead, clean, form.name, owner, submission=row["public_id"], at=at,
            zone=company.zone_for(session, owner), region=region,
        ))
    return lead


def lead_values(form: WebForm, clean: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """A new lead's values from a submission: what the visitor typed, the form's fixed values, attribution."""
    values = {k: v for k, v in clean.items() if k != MESSAGE}
    values.update(form.hidden)
    values.setdefault("status", NEW_LEAD_STATUS)
    values["description"] = clean.get(MESSAGE)
    values["source"] = LEAD_SOURCE_TAG
    values["web_form_id"] = form.id
    if row.get("consent_at") is not None:
        values["consent_text"], values["consent_at"] = row["consent_text"], row["consent_at"]
    touch = row.get("first_touch") or row.get("last_touch") or {}
    for name in ATTRIBUTION:
        if touch.get(name):
            values[name] = str(touch[name])[:_ATTRIBUTION_LIMITS[name]]  # the whole value stays on the submission row
    return values


def record_outcomes(session: Session, outcomes: list[dict[str, Any]]) -> None:
    """Record what became of processed submissions: `row_id`, `o_outcome`, `o_lead`, `o_contact`, `o_at` each."""
    if outcomes:
        session.execute(_RECORD_OUTCOME, outcomes)


def _add_inquiry(
    session: Session, form: WebForm, record: Lead | Contact, clean: dict[str, Any], row: dict[str, Any],
    actor: Actor, at: dt.datetime,
) -> None:
    is_lead = isinstance(record, Lead)
    parent: dict[str, Any] = {"lead_id": record.id} if is_lead else {"contact_id": record.id}
    message = clean.get(MESSAGE)
    lines = [f"Web inquiry via the form “{form.name}”."]
    if message:
        lines += ["", message]
    details = [f"{k}: {v}" for k, v in clean.items() if k != MESSAGE and v not in (None, "")]
    if details:
        lines += ["", *details]
    activities.add_note(session, "\n".join(lines), actor, at=at, **parent)
    touch = None
    if record.owner_id is None and is_lead:
        owner = assignment.owner_for_form(session, form, at)
        if owner is not None:
            records.update(session, record, {"owner_id": owner.id}, actor)
            if isinstance(record, Lead):  # the reply task below is its first follow-up
                touch = cadence.first_touch_of(session, record)
    owner = session.get(User, record.owner_id) if record.owner_id is not None else None
    if owner is None:
        return
    activities.create_activity(session, {
        "type": "task", "subject": f"Reply to the web inquiry from {_name(record)}"[:255], "owner_id": owner.id,
        "due_date": at.astimezone(company.zone_for(session, owner)).date(), "start_at": at, "priority": "High",
        "description": message, "cadence_step": touch, **parent,
    }, actor)
    if form.notify_owner:
        notices.queue(session, notices.new_inquiry(
            record, clean, owner, submission=row["public_id"], at=at, zone=company.zone_for(session, owner),
            region=company.get(session, "phone_region"),
        ))


def _auto_reply(
    session: Session, form: WebForm, clean: dict[str, Any], public_id: str, settings: dict[str, Any] | None,
    owner_id: int | None, about: tuple[str, int] | None = None,
) -> None:
    owner = session.get(User, owner_id) if owner_id is not None else None
    notices.queue(session, notices.auto_reply(
        clean, language=form.language, submission=public_id, owner=owner,
        settings=settings if settings is not None else company.all_settings(session), record=about,
    ))


def _name(record: Lead | Contact) -> str:
    return display_name(record.first_name, record.last_name)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if v is None or isinstance(v, (str, int, float, bool)) else str(v)) for k, v in values.items()}
