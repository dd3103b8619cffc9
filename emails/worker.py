"""The mail worker: claim what is due, render it, deliver it, record what happened."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from email.utils import formataddr
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine

from crm_store.config import Config
from crm_store.db.engine import make_engine, session_factory
from crm_store.mail import outbox
from crm_store.models import OutboxMessage
from crm_store.records.documents import documents_dir
from crm_store.settings import company
from crm_store.staff.tokens import sign_placeholders

from . import delivery, files
from .relay import parse_relay
from .render import Attachment
from .wire import Wire, render_wire

log = logging.getLogger("leadline.mail")
BATCH = 500


def destination(config: Config) -> str:
    """Say plainly where mail goes."""
    if config.smtp_url:
        return parse_relay(config.smtp_url).describe()
    return f"files under {config.outbox_dir} (CRM_SMTP_URL is unset; see README › Email)"


def message_domain(config: Config) -> str:
    """The right-hand side of the deployment's Message-IDs: the host of its public address."""
    return urlsplit(config.base_url).hostname or outbox.DEFAULT_DOMAIN


def attachment_path(data_dir: Path, reference: str) -> Path:
    """Return the file an attachment reference names; refuse one outside the documents store or not a file.

    The data dir also holds the secret key, the database and other people's mail, so a reference must
    resolve (links followed) into the documents store, and be a regular file: reading a FIFO would hang.
    """
    store = documents_dir(data_dir).resolve()
    path = (data_dir / reference).resolve()
    if store not in path.parents:
        raise ValueError(f"attachment {reference!r} is outside the documents store")
    if not path.is_file():
        raise ValueError(f"attachment {reference!r} is not a stored file")
    return path


def _attachments(config: Config, row: OutboxMessage) -> list[Attachment]:
    found = []
    for ref in row.attachments:
        content = attachment_path(config.data_dir, ref["path"]).read_bytes()
        found.append(Attachment(ref["filename"], ref["content_type"], content, ref.get("inline_cid")))
    return found


def _render(config: Config, row: OutboxMessage, company_name: str) -> Wire:
    return render_wire(
        row.template,
        language=row.language,
        context=sign_placeholders(row.context, config.secret_key),
        sender=config.mail_from,
        recipient=formataddr((row.recipient_name, row.recipient)) if row.recipient_name else row.recipient,
        message_id=row.message_id or "",  # claim_due gave it one
        base_url=config.base_url,
        company_name=company_name,
        attachments=_attachments(config, row),
        headers={"Reply-To": row.reply_to} if row.reply_to else None,  # wire.py encodes a CJK display name
    )


def send_due(config: Config, *, engine: Engine | None = None, now: dt.datetime | None = None,
             limit: int = BATCH) -> Counter[str]:
    """Deliver what is due once; return how many were sent, retried, failed and suppressed."""
    own = engine is None
    engine = engine or make_engine(config.database_url)
    factory = session_factory(engine)
    tally: Counter[str] = Counter()
    try:
        with factory.begin() as session:
            claimed, tally["suppressed"] = outbox.claim_due(session, limit, now, domain=message_domain(config))
            company_name = company.get(session, "company_name")
            ready: list[tuple[int, Wire, str]] = []
            for row in claimed:
                try:
                    ready.append((row.id, _render(config, row, company_name), row.template))
                except Exception as exc:  # a template or data problem: retrying will not help
                    outbox.mark_failed(session, row.id, f"could not render {row.template}: {exc}")
                    tally["failed"] += 1
        outcomes = _deliver(config, ready)
        with factory.begin() as session:
            sent = [o.key for o in outcomes if o.kind == "sent"]
            outbox.mark_sent(session, sent, now)
            tally["sent"] += len(sent)
            for outcome in outcomes:
                if outcome.kind == "sent":
                    continue
                if outcome.kind == "permanent":
                    outbox.mark_failed(session, outcome.key, outcome.detail)
                    tally["failed"] += 1
                else:
                    status = outbox.mark_transient(session, outcome.key, outcome.detail, now)
                    tally[status] += 1
    finally:
        if own:
            engine.dispose()
    return tally


def _deliver(config: Config, ready: list[tuple[int, Wire, str]]) -> list[delivery.Outcome]:
    if not ready:
        return []
    if config.smtp_url is None:
        out = []
        for key, message, template in ready:
            files.write_eml(config.outbox_dir, key, template, message.data)
            out.append(delivery.Outcome(key, "sent"))
        return out
    return delivery.deliver_sync(parse_relay(config.smtp_url), [(k, m) for k, m, _ in ready])


def run_worker(config: Config, *, poll_seconds: float = 1.0, stop: threading.Event | None = None) -> None:
    """Deliver within seconds until stopped; a failing pass is logged and retried, never fatal."""
    stop = stop or threading.Event()
    log.info("mail worker started; mail goes to %s", destination(config))
    engine = make_engine(config.database_url)
    try:
        while not stop.is_set():
            try:
                tally = send_due(config, engine=engine)
            except Exception:
                log.exception("mail pass failed; trying again shortly")
                tally = Counter()
            if any(tally.values()):
                log.info("mail: %s", ", ".join(f"{v} {k}" for k, v in sorted(tally.items()) if v))
            if tally.total() < BATCH:
                stop.wait(poll_seconds)
    finally:
        engine.dispose()
        log.info("mail worker stopped")


def send_all_due(config: Config) -> Counter[str]:
    """Deliver everything due now, pass after pass, each message at most once per call."""
    total: Counter[str] = Counter()
    while True:
        tally = send_due(config)
        total.update(tally)
        if tally.total() < BATCH:
            return total
