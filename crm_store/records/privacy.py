"""Personal data (Taiwan's PDPA, the GDPR): export everything about a person, or erase it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.capture import quarantine
from crm_store.db.engine import affected
from crm_store.models import Activity, Document, DocumentLink, Note, OutboxMessage, utcnow
from crm_store.records import audit, registry
from crm_store.records.validation import EMAIL_FIELDS
from crm_store.search import index as search_index

ERASED = "[erased]"
ERASED_ADDRESS = "erased@erased.invalid"
# Every field of a lead or contact that says who the person is or how to reach them.
PERSONAL_FIELDS = (
    "salutation", "first_name", "email", "secondary_email", "phone", "phone_e164", "mobile", "mobile_e164", "fax",
    "home_phone", "other_phone", "assistant", "assistant_phone", "birthday", "designation", "title", "description",
    "street", "city", "state", "postal_code", "po_box", "mailing_street", "mailing_city", "mailing_state",
    "mailing_postal_code", "mailing_po_box", "website", "email_key", "referrer", "landing_page", "gclid", "fbclid",
)


def _matching(session: Session, email: str) -> dict[str, list[Any]]:
    """The records of every module of people (registry: `person`) that carry this address."""
    key = email.strip().lower()
    found = {}
    for spec in registry.modules():
        if not spec.person:
            continue
        columns = [c for c in EMAIL_FIELDS if c in spec.model.__table__.columns]
        found[spec.name] = list(session.scalars(select(spec.model).where(
            or_(*(func.lower(spec.model.__table__.c[c]) == key for c in columns))
        )))
    return found


def _row(record: Any) -> dict[str, Any]:
    return {c.name: audit.plain(getattr(record, c.name)) for c in record.__table__.columns}


def export_person(session: Session, email: str) -> dict[str, Any]:
    """Return everything stored about the person with this email, as JSON-ready data."""
    found = _matching(session, email)
    out: dict[str, Any] = {"email": email.strip().lower(), "exported_at": utcnow().isoformat()}
    for module, rows in found.items():
        column = registry.get(module).link_column
        out[module] = []
        for record in rows:
            item = _row(record)
            if column is None:  # nothing can be attached to records of this module
                out[module].append(item)
                continue
            activities = select(Activity).where(getattr(Activity, column) == record.id)
            item["activities"] = [_row(a) for a in session.scalars(activities)]
            item["notes"] = [_row(n) for n in session.scalars(select(Note).where(getattr(Note, column) == record.id))]
            docs = select(Document).join(DocumentLink).where(getattr(DocumentLink, column) == record.id)
            item["documents"] = [_row(d) for d in session.scalars(docs)]
            out[module].append(item)
    mail = select(OutboxMessage).where(func.lower(OutboxMessage.recipient) == out["email"])
    out["emails"] = [
        {"template": m.template, "status": m.status, "created_at": audit.plain(m.created_at),
         "sent_at": audit.plain(m.sent_at), "context": m.context}
        for m in session.scalars(mail)
    ]
    out["web_submissions"] = quarantine.export_for_email(session, email)
    return out


def erase_person(session: Session, email: str, actor: Actor) -> dict[str, int]:
    """Anonymise the person's records, notes and mail; records and counts stay for the reports."""
    found = _matching(session, email)
    counts: dict[str, int] = {}
    for module, rows in found.items():
        spec = registry.get(module)
        for record in rows:
            cleared = [f for f in PERSONAL_FIELDS if hasattr(record, f) and getattr(record, f) is not None]
            for name in cleared:
                setattr(record, name, None)
            setattr(record, spec.title, ERASED)
            if hasattr(record, "company"):
                record.company = None
            if hasattr(record, "email_opt_out"):
                record.email_opt_out = True
            if spec.link_column is not None:
                _erase_attached(session, spec.link_column, record.id)
            _scrub_history(session, module, record.id, spec.title)
            audit.log(session, "erase", module, record.id, actor, record_no=getattr(record, spec.number_field),
                      changes={"fields": [spec.title, *cleared]})
        counts[module] = len(rows)
    to_person = func.lower(OutboxMessage.recipient) == email.strip().lower()
    session.execute(
        update(OutboxMessage).where(to_person, OutboxMessage.status.in_(("queued", "retrying", "failed")))
        .values(status="suppressed", last_error="erased on request").execution_options(synchronize_session=False)
    )
    result = session.execute(
        update(OutboxMessage).where(to_person)
        .values(recipient=ERASED_ADDRESS, recipient_name=None, context={})
        .execution_options(synchronize_session=False)
    )
    counts["emails"] = affected(result)
    counts["web_submissions"] = quarantine.erase_for_email(
        session, email, [r.id for r in found.get("leads", [])], [r.id for r in found.get("contacts", [])]
    )
    session.flush()
    for module, rows in found.items():
        if registry.get(module).searchable is not None:
            search_index.index_records(session, module, [r.id for r in rows])
    return counts


def _erase_attached(session: Session, column: str, record_id: int) -> None:
    """Blank the notes, activities and documents attached to an erased record."""
    ids = [record_id]
    session.execute(update(Note).where(getattr(Note, column).in_(ids)).values(body=ERASED))
    session.execute(update(Activity).where(getattr(Activity, column).in_(ids)).values(outcome=None, description=None))
    linked = select(DocumentLink.document_id).where(getattr(DocumentLink, column).in_(ids))
    session.execute(update(Document).where(Document.id.in_(linked)).values(deleted_at=utcnow(), title=ERASED))


def _scrub_history(session: Session, module: str, record_id: int, title: str) -> None:
    """Blank the personal values the audit trail kept; which fields changed, and when, stays."""
    personal = {*PERSONAL_FIELDS, title, "company"}
    for entry in session.scalars(audit.history(module, record_id)):
        if any(k in personal for k in entry.changes):
            entry.changes = {k: ([ERASED, ERASED] if k in personal else v) for k, v in entry.changes.items()}
