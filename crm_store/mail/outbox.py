"""Queue mail in the caller's transaction and move it through its delivery states.

queued -> sending -> sent | retrying | failed; `suppressed` for recipients who opted out.
Rendering and SMTP live in `emails/`; this module only keeps the rows honest.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import getaddresses
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, String, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.db.engine import affected
from crm_store.errors import NotFound, ValidationError
from crm_store.models import OUTBOX_STATUSES, Account, Contact, Lead, OutboxMessage, utcnow
from crm_store.records.contact_points import clean_email

MAX_ATTEMPTS = 8
# Waits after attempts 1..7: about 22 hours in all before the 8th and last try.
BACKOFF = (
    dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=15), dt.timedelta(hours=1),
    dt.timedelta(hours=3), dt.timedelta(hours=6), dt.timedelta(hours=12),
)
STUCK_AFTER = dt.timedelta(minutes=10)
DEFAULT_DOMAIN = "leadline.invalid"  # Message-IDs of a deployment whose address has no host name

_JITTER = random.Random()  # its own generator: a worker thread leaves the global one alone


@dataclass(frozen=True)
class AttachmentRef:
    """A stored document to attach at delivery (never the bytes themselves): a path in the data dir's
    documents store, `documents/…`; the mail worker checks again that it resolves there to a regular file."""

    path: str
    filename: str
    content_type: str
    inline_cid: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form stored on the outbox row."""
        return {"path": self.path, "filename": self.filename, "content_type": self.content_type,
                "inline_cid": self.inline_cid}


ATTACHMENT_STORE = "documents"  # the data dir's folder of document contents (records.documents.documents_dir)
NAME_LIMIT = cast(String, OutboxMessage.__table__.c.recipient_name.type).length or 100
MAILBOX_LIMIT = cast(String, OutboxMessage.__table__.c.reply_to.type).length or 254
RECORD_MODULE_LIMIT = cast(String, OutboxMessage.__table__.c.record_module.type).length or 20


def new_message_id(domain: str) -> str:
    """A fresh, globally unique Message-ID on the deployment's domain: <hex@crm.example.com>."""
    return f"<{uuid.uuid4().hex}@{domain or DEFAULT_DOMAIN}>"


def enqueue(
    session: Session,
    template: str,
    recipient: str,
    *,
    key: str,
    context: dict[str, Any] | None = None,
    language: str = "en",
    recipient_name: str | None = None,
    reply_to: str | None = None,
    attachments: Sequence[AttachmentRef] = (),
    to_staff: bool = False,
    send_after: dt.datetime | None = None,
    record_module: str | None = None,
    record_id: int | None = None,
) -> bool:
    """Queue a message in the caller's transaction; return False when the key was queued before.

    `reply_to` is where answers go instead of the sender: an address, or a mailbox such as `林怡君 <yijun@example.com>`.
    `record_module` and `record_id` name the record the message is about (its timeline lists it).
    """
    values = message_values(
        template, recipient, key=key, context=context, language=language, recipient_name=recipient_name,
        reply_to=reply_to, attachments=attachments, to_staff=to_staff, send_after=send_after,
        record_module=record_module, record_id=record_id,
    )
    return session.execute(_insert_statement(session.get_bind().dialect.name), values).scalar() is not None


def enqueue_many(session: Session, messages: Sequence[dict[str, Any]]) -> None:
    """Queue many messages (each made by `message_values`) with one statement; a key queued before is skipped."""
    if messages:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        insert = dialect.insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
        session.execute(insert, list(messages))


def message_values(
    template: str,
    recipient: str,
    *,
    key: str,
    context: dict[str, Any] | None = None,
    language: str = "en",
    recipient_name: str | None = None,
    reply_to: str | None = None,
    attachments: Sequence[AttachmentRef] = (),
    to_staff: bool = False,
    send_after: dt.datetime | None = None,
    record_module: str | None = None,
    record_id: int | None = None,
) -> dict[str, Any]:
    """Check a message to queue and return its outbox row; fail naming the field.

    `record_module` and `record_id` (both or neither) name the record the message is about: a lead's notice.
    """
    recipient = clean_email("recipient", recipient)
    reply_to = mailbox("reply_to", reply_to) if reply_to else None
    if recipient_name is not None and ("\r" in recipient_name or "\n" in recipient_name):
        raise ValidationError("recipient_name", "must not contain line breaks")
    if recipient_name is not None and len(recipient_name) > NAME_LIMIT:
        recipient_name = recipient_name[: NAME_LIMIT - 1] + "…"  # a display name in a header, not stored data
    if language not in languages.CODES:
        raise ValidationError("language", f"{language!r} is not one of {', '.join(languages.CODES)}")
    if not key or len(key) > 200:
        raise ValidationError("key", "an idempotency key of 1 to 200 characters is required")
    if not template or len(template) > 60:
        raise ValidationError("template", "a template name of 1 to 60 characters is required")
    for ref in attachments:
        parts = ref.path.split("/")
        if parts[0] != ATTACHMENT_STORE or len(parts) < 2 or ".." in parts or "" in parts:
            raise ValidationError("attachments", f"{ref.path!r} must be a file in the documents store "
                                                 f"({ATTACHMENT_STORE}/…)")
    if (record_module is None) != (record_id is None):
        raise ValidationError("record_id", "a message is about a record named by both its module and its id")
    if record_module is not None and len(record_module) > RECORD_MODULE_LIMIT:
        raise ValidationError("record_module", f"must be at most {RECORD_MODULE_LIMIT} characters")
    now = utcnow()
    return {
        "idempotency_key": key, "message_id": None, "template": template, "recipient": recipient,
        "recipient_name": recipient_name, "reply_to": reply_to, "language": language, "context": context or {},
        "attachments": [a.as_json() for a in attachments], "to_staff": to_staff, "status": "queued",
        "attempts": 0, "next_attempt_at": send_after or now, "created_at": now, "sending_since": None,
        "last_error": None, "sent_at": None, "record_module": record_module, "record_id": record_id,
    }


def mailbox(field: str, raw: str) -> str:
    """Return one checked mailbox, `Name <address>` or a bare address, that fits a 254-character column."""
    if "\r" in raw or "\n" in raw:
        raise ValidationError(field, "must not contain line breaks")
    found = getaddresses([raw])
    if len(found) != 1 or not found[0][1]:
        raise ValidationError(field, f"{raw!r} is not one email address")
    name, address = found[0][0].strip(), clean_email(field, found[0][1])
    shown = str(Address(display_name=name, addr_spec=address)) if name else address
    if len(shown) > MAILBOX_LIMIT:  # a display name in a header, not stored data: shorten it to fit
        name = name[: max(len(name) - (len(shown) - MAILBOX_LIMIT) - 1, 0)] + "…"
        shown = str(Address(display_name=name, addr_spec=address))  # quoted no longer than before
    return shown if len(shown) <= MAILBOX_LIMIT else address


@lru_cache(maxsize=4)
def _insert_statement(dialect_name: str) -> Any:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, built once per dialect."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(OutboxMessage.__table__)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.__table__.c.id)
    )


def release_stuck(session: Session, now: dt.datetime | None = None) -> int:
    """Send back to `retrying` the rows a crashed worker left in `sending` for over 10 minutes."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.sending_since < now - STUCK_AFTER)
        .values(status="retrying", next_attempt_at=now, sending_since=None,
                last_error="the worker stopped while sending; delivery may have happened (at-least-once)")
    )
    return affected(result)


def due(now: dt.datetime, limit: int) -> Select[OutboxMessage]:
    """Select messages whose (next) attempt is due, oldest first."""
    return (
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(("queued", "retrying")), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )


def claim_due(
    session: Session, limit: int = 500, now: dt.datetime | None = None, *, domain: str = DEFAULT_DOMAIN
) -> tuple[list[OutboxMessage], int]:
    """Mark due messages `sending` and return them with how many were `suppressed` (opted out).

    A message claimed for the first time gets its Message-ID on `domain` (the host of the deployment's
    address), kept for every later attempt. On PostgreSQL rows another worker holds are skipped
    (SKIP LOCKED); SQLite has one writer.
    """
    now = now or utcnow()
    release_stuck(session, now)
    stmt = due(now, limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(session.scalars(stmt))
    opted_out = _opted_out(session, [r.recipient for r in rows if not r.to_staff])
    claimed = []
    suppressed = 0
    for row in rows:
        if not row.to_staff and row.recipient.lower() in opted_out:
            row.status = "suppressed"
            row.last_error = "the recipient opted out of email"
            suppressed += 1
            continue
        row.status = "sending"
        row.sending_since = now
        row.attempts += 1
        row.message_id = row.message_id or new_message_id(domain)
        claimed.append(row)
    session.flush()
    return claimed, suppressed


def _opted_out(session: Session, recipients: list[str]) -> set[str]:
    if not recipients:
        return set()
    lowered = {r.lower() for r in recipients}
    found: set[str] = set()
    for model in (Lead, Contact, Account):
        stmt = select(func.lower(model.email)).where(
            func.lower(model.email).in_(lowered), model.email_opt_out, model.deleted_at.is_(None)
        )
        found.update(session.scalars(stmt))
    return found


def mark_sent(session: Session, message_ids: Sequence[int], now: dt.datetime | None = None) -> None:
    """Record delivered messages, with one statement."""
    if message_ids:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(message_ids))
            .values(status="sent", sent_at=now or utcnow(), sending_since=None, last_error=None)
            .execution_options(synchronize_session=False)
        )


def mark_failed(session: Session, message_id: int, reason: str) -> None:
    """Record a permanent failure with the server's reply."""
    _set(session, message_id, status="failed", sending_since=None, last_error=reason[:2000])


def mark_transient(session: Session, message_id: int, reason: str, now: dt.datetime | None = None) -> str:
    """Schedule another attempt with exponential backoff, or fail after the last; return the new status."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"no outbox message {message_id}")
    now = now or utcnow()
    row.sending_since = None
    row.last_error = reason[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
    else:
        wait = BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
        row.status = "retrying"
        row.next_attempt_at = now + wait * _JITTER.uniform(0.9, 1.1)
    session.flush()
    return row.status


def retry(session: Session, message_id: int) -> OutboxMessage:
    """Queue a failed (or suppressed) message again, now, with a fresh set of attempts."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"no outbox message {message_id}")
    if row.status not in ("failed", "suppressed", "retrying"):
        raise ValidationError(
            "status", f"message {message_id} is {row.status}; only failed or retrying ones are retried"
        )
    row.status, row.attempts, row.next_attempt_at, row.last_error = "queued", 0, utcnow(), None
    session.flush()
    return row


def counts(session: Session) -> dict[str, int]:
    """Return how many messages are in each status."""
    stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    found: dict[str, int] = {status: n for status, n in session.execute(stmt)}
    return {status: found.get(status, 0) for status in OUTBOX_STATUSES}


def listing(failed_only: bool = False, limit: int = 50) -> Select[OutboxMessage]:
    """Select the newest messages (or the failed and retrying ones)."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if failed_only:
        stmt = stmt.where(or_(OutboxMessage.status == "failed", OutboxMessage.status == "retrying"))
    return stmt


def _set(session: Session, message_id: int, **values: Any) -> None:
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))
