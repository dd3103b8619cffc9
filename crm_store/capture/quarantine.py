"""The quarantine and retention of web submissions: release false positives, discard spam, forget IPs,
export or erase what a person sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from crm_store.capture.storable import unstorable_keys
from crm_store.capture.submissions import Receipt, process, stored_values
from crm_store.db.engine import affected
from crm_store.errors import NotFound, ValidationError
from crm_store.models import WebForm, WebSubmission, utcnow
from crm_store.records import audit
from crm_store.settings import company


def quarantined(form_id: int | None = None) -> Select[WebSubmission]:
    """Submissions held as suspected spam, newest first."""
    held = WebSubmission.outcome == "quarantined"
    stmt = select(WebSubmission).where(held).order_by(WebSubmission.received_at.desc())
    return stmt if form_id is None else stmt.where(WebSubmission.form_id == form_id)


def find_submission(session: Session, ref: str) -> WebSubmission:
    """A submission by its public id (or its row number)."""
    cond = WebSubmission.public_id == ref
    if ref.isdigit():
        cond = cond | (WebSubmission.id == int(ref))
    row = session.scalar(select(WebSubmission).where(cond))
    if row is None:
        raise NotFound(f"no web submission {ref!r}; `crm forms quarantine list` shows them")
    return row


def release(session: Session, ref: str, at: dt.datetime | None = None) -> Receipt:
    """Let a quarantined submission through: it creates (or extends) the lead as if it had not been held."""
    sub = find_submission(session, ref)
    if sub.outcome != "quarantined":
        raise ValidationError("submission", f"{sub.public_id} is not in quarantine (it is {sub.outcome})")
    form = session.get(WebForm, sub.form_id)
    if form is None:  # forms are disabled, never deleted; a database edited by hand may still lack it
        raise NotFound(f"the form of submission {sub.public_id} no longer exists")
    row = stored_values(sub)
    _refuse_unstorable(sub.public_id, row)
    outcome, lead_id, contact_id = process(session, form, sub.id, row, at or utcnow())
    session.execute(update(WebSubmission).where(WebSubmission.id == sub.id).values(spam_reason=None))
    session.expire(sub)
    return Receipt(sub.public_id, outcome, False, lead_id, contact_id)


def _refuse_unstorable(public_id: str, row: dict[str, Any]) -> None:
    """Refuse, naming the field, a row an older version stored with text no lead can hold (a lone surrogate)."""
    for column in ("clean", "first_touch", "last_touch"):
        names = unstorable_keys(row[column] or {})
        if names:
            field = names[0].encode("utf-8", "backslashreplace").decode("utf-8")
            raise ValidationError(f"{column}.{field}", (
                "holds text that cannot be stored (a lone surrogate); "
                f"discard it with `crm forms quarantine discard {public_id}`"
            ))


def discard(session: Session, ref: str) -> WebSubmission:
    """Mark a quarantined submission as spam for good (it stays stored until pruned)."""
    sub = find_submission(session, ref)
    if sub.outcome != "quarantined":
        raise ValidationError("submission", f"{sub.public_id} is not in quarantine (it is {sub.outcome})")
    sub.outcome = "discarded"
    session.flush()
    return sub


def prune_ips(session: Session, now: dt.datetime | None = None) -> int:
    """Forget the (truncated) IP addresses older than the `ip_retention_days` company setting."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=int(company.get(session, "ip_retention_days")))
    result = session.execute(
        update(WebSubmission).where(WebSubmission.received_at < cutoff, WebSubmission.ip.is_not(None)).values(ip=None)
    )
    return affected(result)


def erase_for_email(
    session: Session, email: str, lead_ids: Sequence[int] = (), contact_ids: Sequence[int] = ()
) -> int:
    """Delete the web submissions sent from an address or filed on the person's records (GDPR erase)."""
    cond = func.lower(WebSubmission.email) == email.strip().lower()
    if lead_ids:
        cond = cond | WebSubmission.lead_id.in_(list(lead_ids))
    if contact_ids:
        cond = cond | WebSubmission.contact_id.in_(list(contact_ids))
    result = session.execute(delete(WebSubmission).where(cond).execution_options(synchronize_session=False))
    return affected(result)


def export_for_email(session: Session, email: str) -> list[dict[str, Any]]:
    """The web submissions sent from an address, as plain dicts (GDPR export)."""
    rows = session.scalars(select(WebSubmission).where(func.lower(WebSubmission.email) == email.strip().lower()))
    return [{c.name: audit.plain(getattr(r, c.name)) for c in WebSubmission.__table__.columns} for r in rows]
