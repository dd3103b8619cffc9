"""Personal data (Taiwan's PDPA, the GDPR): export everything about a person, or erase it, wherever it went.

Where a person's data goes is declared, not listed here: each module's registry entry says which of its
fields hold a person and how its records are tied to one (`registry.Personal`: a lead and a contact are
the person, found by email; the account created by converting their lead is tied to them through the
lead). Besides records, a person is in what is attached to their records (notes, activities, documents),
in the audit trail and the search index of those records, in the outbox (mail to them, and staff notices
about them, with the .eml files the mail worker wrote) and in the web submissions they sent. Export reads
the same places erase clears. Every erase is logged, hashed (`erasures`), for restores of older backups.

A quote, sales order or invoice naming the person (as its contact, or made out to the account made from their
lead) is kept with its numbers, dates, amounts, lines and payments — an invoice must be, by law — and loses the
person: the contact link, the addresses copied from theirs, their name, email and phones in its texts, its
lines' comments and its payments' references. Export gives those documents with their lines and payments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, event, func, or_, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.db.engine import affected
from crm_store.models import (
    Activity,
    Document,
    DocumentLink,
    Erasure,
    LineItem,
    Note,
    OutboxMessage,
    Payment,
    SearchDocument,
    SearchGram,
    SearchGramStat,
    WebSubmission,
    utcnow,
)
from crm_store.records import audit, erasures, registry
from crm_store.records.documents import blob_path
from crm_store.records.mentions import ERASED, Mentions
from crm_store.records.validation import EMAIL_FIELDS
from crm_store.search import index as search_index
from crm_store.search.documents import chunks
from crm_store.search.terms import text_grams

ERASED_ADDRESS = "erased@erased.invalid"
PERSONAL_FIELDS = registry.PERSON_FIELDS  # a person's own record: every field that says who they are
OUTBOX_FOLDER = "outbox"  # under the data dir: the mail worker's .eml files, named <outbox id>-<template>.eml
__all__ = ["ERASED", "ERASED_ADDRESS", "PERSONAL_FIELDS", "erase_person", "export_person", "reapply_erasures"]
# Rows that are part of a record, found by its link column (a document's lines, an invoice's payments), with their
# free texts that may mention the person.
PARTS: dict[str, tuple[Any, str, tuple[str, ...]]] = {  # name: (model, its order, its free texts)
    "lines": (LineItem, "position", ("description", "comment")), "payments": (Payment, "paid_on", ("reference",)),
}


@dataclass
class Person:
    """Everything of one person's found in the records: their own records, records tied to them, their mentions."""

    email: str
    own: dict[str, list[Any]] = field(default_factory=dict)  # module -> the person's records (leads, contacts)
    tied: dict[str, list[Any]] = field(default_factory=dict)  # module -> records tied to them (their account)
    mentions: Mentions = field(default_factory=Mentions)
    places: set[tuple[str, str]] = field(default_factory=set)  # ("street" | "po_box", normalised): where they live

    def ids(self, module: str) -> list[int]:
        """The ids of the person's own records of a module."""
        return [r.id for r in self.own.get(module, [])]

    def found_ids(self, module: str) -> list[int]:
        """The ids of the records of a module that are the person's or tied to them."""
        return [r.id for r in (*self.own.get(module, []), *self.tied.get(module, []))]

    def numbers(self) -> list[str]:
        """The record numbers of the person's own records (staff notices name them)."""
        return [getattr(r, registry.get(m).number_field) for m, rows in self.own.items() for r in rows]


def find_person(session: Session, email: str) -> Person:
    """Find the person with this address: their records (by email, or tied to those) and the records tied to them."""
    person = Person(erasures.normalise_email(email))
    for spec in registry.modules():
        part = spec.personal_data()
        if part is None:
            continue
        found: dict[int, Any] = {}
        columns = [c for c in EMAIL_FIELDS if c in spec.model.__table__.columns] if spec.person else []
        if columns:
            by_email = or_(*(func.lower(spec.model.__table__.c[c]) == person.email for c in columns))
            found.update((r.id, r) for r in session.scalars(select(spec.model).where(by_email)))
        for tie in part.ties:
            found.update((r.id, r) for r in session.scalars(_tied(spec, tie, person)))
        if spec.person:
            person.own[spec.name] = sorted(found.values(), key=lambda r: r.id)
        elif found:
            person.tied[spec.name] = sorted(found.values(), key=lambda r: r.id)
    for rows in person.own.values():
        for record in rows:
            person.mentions.add_record(record)
    person.mentions.add(person.email)
    for module, rows in (*person.own.items(), *person.tied.items()):
        part = registry.get(module).personal_data()
        prefixes = part.addresses if part is not None else ()
        person.places |= {place for r in rows for prefix in prefixes for place in _places(r, prefix)}
    return person


def _places(record: Any, prefix: str) -> set[tuple[str, str]]:
    """The street and PO box of an address block, normalised (case and spacing do not make another address)."""
    found = set()
    for part in ("street", "po_box"):
        value = getattr(record, prefix + part, None)
        if value and value.strip():
            found.add((part, " ".join(value.split()).casefold()))
    return found


def _tied(spec: registry.Module, tie: registry.Tie, person: Person) -> Any:
    """Select the records of a module tied to the person's records of another module (or to records tied to them)."""
    other = registry.get(tie.module)
    if tie.here:  # this module's column points at the person's record
        link = getattr(spec.model, tie.column) == other.model.id
    else:  # the person's record points at this module's
        link = getattr(other.model, tie.column) == spec.model.id
    stmt = select(spec.model).join(other.model, link).where(other.model.id.in_(person.found_ids(tie.module)))
    return stmt.where(tie.when()) if tie.when is not None else stmt


def _row(record: Any) -> dict[str, Any]:
    return {c.name: audit.plain(getattr(record, c.name)) for c in record.__table__.columns}


def export_person(session: Session, email: str, data_dir: Path | None = None) -> dict[str, Any]:
    """Return everything stored about the person with this email, as JSON-ready data."""
    person = find_person(session, email)
    out: dict[str, Any] = {"email": person.email, "exported_at": utcnow().isoformat()}
    for module, rows in person.own.items():
        column = registry.get(module).link_column
        out[module] = [_row(r) | (_attached(session, column, r.id) | _parts(session, column, r.id) if column else {})
                       for r in rows]
    for module, rows in person.tied.items():
        column = registry.get(module).link_column
        out[module] = [_row(r) | (_parts(session, column, r.id) if column else {}) for r in rows]
    out["emails"] = [
        {"template": m.template, "to_staff": m.to_staff, "status": m.status, "created_at": audit.plain(m.created_at),
         "sent_at": audit.plain(m.sent_at), "context": m.context,
         "files": [p.relative_to(data_dir).as_posix() for p in _eml_files(data_dir, [m.id])] if data_dir else []}
        for m in session.scalars(_mail(person))
    ]
    out["web_submissions"] = [_row(s) for s in session.scalars(select(WebSubmission).where(_submissions(person)))]
    return out


def _attached(session: Session, column: str, record_id: int) -> dict[str, list[dict[str, Any]]]:
    """The activities, notes and documents attached to a record."""
    activities = select(Activity).where(getattr(Activity, column) == record_id)
    docs = select(Document).join(DocumentLink).where(getattr(DocumentLink, column) == record_id)
    return {
        "activities": [_row(a) for a in session.scalars(activities)],
        "notes": [_row(n) for n in session.scalars(select(Note).where(getattr(Note, column) == record_id))],
        "documents": [_row(d) for d in session.scalars(docs)],
    }


def _part_rows(session: Session, column: str, record_id: int) -> dict[str, list[Any]]:
    """The lines and payments of a record (none for a record that has none)."""
    found = {}
    for name, (model, order, _texts) in PARTS.items():
        if column in model.__table__.columns:
            stmt = select(model).where(getattr(model, column) == record_id).order_by(getattr(model, order), model.id)
            found[name] = list(session.scalars(stmt))
    return found


def _parts(session: Session, column: str, record_id: int) -> dict[str, list[dict[str, Any]]]:
    """A record's lines and payments, JSON-ready."""
    return {name: [_row(r) for r in rows] for name, rows in _part_rows(session, column, record_id).items()}


def erase_person(
    session: Session, email: str, actor: Actor, data_dir: Path | None = None, *, log: bool = True
) -> dict[str, int]:
    """Erase the person everywhere; their records stay, counted, without them. Returns what was erased, per place.

    Files (the .eml copies of their mail, documents only they had) go when the transaction commits.
    """
    erasures.secure_delete(session)
    person = find_person(session, email)
    grams = _indexed_grams(session, person)
    counts: dict[str, int] = {}
    files: list[Path] = []
    for module, rows in person.own.items():
        for record in rows:
            files += _erase_own(session, registry.get(module), record, person, actor, data_dir)
        counts[module] = len(rows)
    for module, rows in person.tied.items():
        for record in rows:
            _erase_tied(session, registry.get(module), record, person, actor)
        counts[module] = len(rows)
    counts["emails"], mail_files = _erase_mail(session, person, data_dir)
    counts["web_submissions"] = affected(session.execute(
        delete(WebSubmission).where(_submissions(person)).execution_options(synchronize_session=False)))
    session.flush()
    for module, rows in (*person.own.items(), *person.tied.items()):
        if registry.get(module).searchable is not None:
            search_index.index_records(session, module, [r.id for r in rows])
    _forget_grams(session, grams)
    if log:
        erasures.log(session, person.email)
    _remove_after_commit(session, [*files, *mail_files])
    return counts


def _erase_own(
    session: Session, spec: registry.Module, record: Any, person: Person, actor: Actor, data_dir: Path | None
) -> list[Path]:
    """Blank every personal field of the person's own record and what is attached to it."""
    part = spec.personal_data()
    assert part is not None  # find_person found it through its declaration
    cleared = [f for f in part.fields if hasattr(record, f) and getattr(record, f) is not None]
    for name in cleared:
        setattr(record, name, None)
    setattr(record, spec.title, ERASED)
    if hasattr(record, "email_opt_out"):
        record.email_opt_out = True
    files = _erase_attached(session, spec.link_column, record.id, person, data_dir) if spec.link_column else []
    _scrub_history(session, spec.name, record.id, {*part.fields, spec.title}, person)
    audit.log(session, "erase", spec.name, record.id, actor, record_no=getattr(record, spec.number_field),
              changes={"fields": [spec.title, *cleared]})
    return files


def _erase_tied(session: Session, spec: registry.Module, record: Any, person: Person, actor: Actor) -> None:
    """Blank the personal fields of a record tied to the person; its title loses only their name."""
    part = spec.personal_data()
    assert part is not None
    cleared = [f for f in part.fields if hasattr(record, f) and getattr(record, f) is not None]
    cleared += [t.column for t in part.ties if t.here and registry.get(t.module).person
                and getattr(record, t.column) in person.ids(t.module)]  # the person on it (an invoice's contact)
    cleared += _copied_addresses(record, part.copied_addresses, person)
    for name in cleared:
        setattr(record, name, None)
    personal = {*part.fields, *cleared}  # blanked in the audit trail too; the scrubbed texts lose only the person
    for name in part.scrubbed:
        if (text := person.mentions.scrub(getattr(record, name))) != getattr(record, name):
            setattr(record, name, text)
            cleared.append(name)
    title = person.mentions.scrub(getattr(record, spec.title))
    if title != getattr(record, spec.title):
        setattr(record, spec.title, title)
        cleared.append(spec.title)
        if part.title_key is not None:
            setattr(record, part.title_key, None)
            personal.add(part.title_key)
    if spec.link_column is not None:
        _scrub_attached(session, spec.link_column, record.id, person)
        _scrub_parts(session, spec.link_column, record.id, person)
    _scrub_history(session, spec.name, record.id, personal, person)
    audit.log(session, "erase", spec.name, record.id, actor, record_no=getattr(record, spec.number_field),
              changes={"fields": cleared})


def _copied_addresses(record: Any, prefixes: Sequence[str], person: Person) -> list[str]:
    """The columns of the address blocks that are a copy of one of the person's addresses (by street or PO box)."""
    columns = []
    for prefix in prefixes:
        if _places(record, prefix) & person.places:
            columns += [prefix + p for p in registry.ADDRESS_PARTS if getattr(record, prefix + p, None) is not None]
    return columns


def _scrub_parts(session: Session, column: str, record_id: int, person: Person) -> None:
    """Take the person's mentions out of a record's lines and payments (their amounts stay)."""
    for name, rows in _part_rows(session, column, record_id).items():
        for row in rows:
            for text in PARTS[name][2]:
                if (scrubbed := person.mentions.scrub(getattr(row, text))) != getattr(row, text):
                    setattr(row, text, scrubbed)


def _erase_attached(
    session: Session, column: str, record_id: int, person: Person, data_dir: Path | None
) -> list[Path]:
    """Blank the notes and activities attached to an erased record; erase its documents (and their files)."""
    for note in session.scalars(select(Note).where(getattr(Note, column) == record_id)):
        note.body = ERASED
    for activity in session.scalars(select(Activity).where(getattr(Activity, column) == record_id)):
        activity.outcome = activity.description = None
        activity.subject = person.mentions.scrub(activity.subject) or ERASED
        activity.location = person.mentions.scrub(activity.location)
    linked = select(DocumentLink.document_id).where(getattr(DocumentLink, column) == record_id)
    documents = list(session.scalars(select(Document).where(Document.id.in_(linked))))
    for document in documents:
        document.title = document.filename = ERASED
        document.deleted_at = document.deleted_at or utcnow()
    session.flush()
    if data_dir is None:
        return []
    return [blob_path(data_dir, d.sha256) for d in documents if not _shared(session, d)]


def _shared(session: Session, document: Document) -> bool:
    """Whether a document's content is also another document's that was not erased."""
    others = select(Document.id).where(Document.sha256 == document.sha256, Document.id != document.id,
                                       Document.title != ERASED)
    return session.scalar(others.limit(1)) is not None


def _scrub_attached(session: Session, column: str, record_id: int, person: Person) -> None:
    """Take the person's mentions out of what is attached to a record tied to them (other people's notes stay)."""
    scrub = person.mentions.scrub
    for note in session.scalars(select(Note).where(getattr(Note, column) == record_id)):
        note.body = scrub(note.body) or ERASED
    for activity in session.scalars(select(Activity).where(getattr(Activity, column) == record_id)):
        activity.subject = scrub(activity.subject) or ERASED
        activity.description, activity.outcome = scrub(activity.description), scrub(activity.outcome)
        activity.location = scrub(activity.location)


def _scrub_history(session: Session, module: str, record_id: int, personal: set[str], person: Person) -> None:
    """Blank the personal values the audit trail kept; which fields changed, and when, stays."""
    for entry in session.scalars(audit.history(module, record_id)):
        changes = {k: [ERASED, ERASED] if k in personal else _scrub_value(v, person) for k, v in entry.changes.items()}
        if changes != entry.changes:
            entry.changes = changes


def _scrub_value(value: Any, person: Person) -> Any:
    if isinstance(value, str):
        return person.mentions.scrub(value)
    if isinstance(value, list):
        return [_scrub_value(v, person) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v, person) for k, v in value.items()}
    return value


# -- mail, submissions, search, files ------------------------------------------------------------------


def _json_mentions(column: Any, needles: Iterable[str]) -> list[ColumnElement[bool]]:
    """Conditions: a JSON column holds one of these values (compared in lower case, as JSON writes them)."""
    text = func.lower(cast(column, Text))
    return [text.contains(json.dumps(n.lower()), autoescape=True) for n in needles]


def _mail(person: Person) -> Any:
    """Select the messages to the person or about them (staff notices name their address or record number)."""
    return select(OutboxMessage).where(or_(
        func.lower(OutboxMessage.recipient) == person.email,
        *_json_mentions(OutboxMessage.context, [person.email, *person.numbers()]),
    )).order_by(OutboxMessage.id)


def _erase_mail(session: Session, person: Person, data_dir: Path | None) -> tuple[int, list[Path]]:
    """Empty the context of every message to or about the person; what was not sent yet is never sent."""
    messages = list(session.scalars(_mail(person)))
    for message in messages:
        if message.status in ("queued", "retrying", "failed"):
            message.status, message.last_error = "suppressed", "erased on request"
        else:
            message.last_error = person.mentions.scrub(message.last_error)
        message.context = {}
        if message.recipient.lower() == person.email:
            message.recipient, message.recipient_name = ERASED_ADDRESS, None
    return len(messages), _eml_files(data_dir, [m.id for m in messages])


def _eml_files(data_dir: Path | None, message_ids: Sequence[int]) -> list[Path]:
    """The files the mail worker wrote for these messages (CRM_SMTP_URL unset)."""
    if data_dir is None:
        return []
    folder = data_dir / OUTBOX_FOLDER
    return sorted(p for i in message_ids for p in folder.glob(f"{i:08d}-*"))


def _submissions(person: Person) -> ColumnElement[bool]:
    """The web submissions the person sent, or that were filed on their records."""
    return or_(
        func.lower(WebSubmission.email) == person.email,
        WebSubmission.lead_id.in_(person.ids("leads")), WebSubmission.contact_id.in_(person.ids("contacts")),
        *_json_mentions(WebSubmission.raw, [person.email]), *_json_mentions(WebSubmission.clean, [person.email]),
    )


def _indexed_grams(session: Session, person: Person) -> set[str]:
    """The text grams of the search documents of every record about to be erased."""
    grams: set[str] = set()
    for module, rows in (*person.own.items(), *person.tied.items()):
        ids = [r.id for r in rows]
        docs = select(SearchDocument.body).where(SearchDocument.module == module, SearchDocument.record_id.in_(ids))
        for body in session.scalars(docs):
            grams |= text_grams(body)
    return grams


def _forget_grams(session: Session, grams: set[str]) -> None:
    """Drop the document counts of grams no document holds any more (a three-character name is one)."""
    for chunk in chunks(sorted(grams), 500):
        held = set(session.scalars(select(SearchGram.gram).where(SearchGram.gram.in_(chunk)).distinct()))
        gone = [g for g in chunk if g not in held]
        if gone:
            session.execute(delete(SearchGramStat).where(SearchGramStat.gram.in_(gone)))


def _remove_after_commit(session: Session, paths: list[Path]) -> None:
    """Delete files once the erase commits; a rollback keeps them."""
    if not paths:
        return
    pending: list[Path] = session.info.setdefault("erased_files", [])
    if not session.info.get("erased_files_watched"):
        event.listen(session, "after_commit", _remove_pending)
        event.listen(session, "after_rollback", lambda s: s.info["erased_files"].clear())
        session.info["erased_files_watched"] = True
    pending.extend(paths)


def _remove_pending(session: Session) -> None:
    for path in session.info["erased_files"]:
        path.unlink(missing_ok=True)
    session.info["erased_files"].clear()


# -- restoring an older backup ---------------------------------------------------------------------------


def reapply_erasures(
    session: Session, log: Sequence[erasures.Entry], actor: Actor, data_dir: Path | None = None
) -> int:
    """Erase again the people of every logged erasure this database has not seen; return how many erasures."""
    known = set(erasures.entries(session))
    new = [e for e in log if e not in known]
    wanted = {e.email_hash for e in new}
    if wanted:
        for email in _addresses(session):
            if erasures.email_hash(email) in wanted:
                erase_person(session, email, actor, data_dir, log=False)
    for entry in new:
        session.add(Erasure(email_hash=entry.email_hash, erased_at=entry.erased_at))
    session.flush()
    return len(new)


def _addresses(session: Session) -> set[str]:
    """Every address a person can be found by: their records', their web submissions', their mail's."""
    found: set[str] = set()
    for spec in registry.modules():
        if spec.person:
            for column in (c for c in EMAIL_FIELDS if c in spec.model.__table__.columns):
                found.update(session.scalars(select(func.lower(spec.model.__table__.c[column])).distinct()))
    found.update(session.scalars(select(func.lower(WebSubmission.email)).distinct()))
    found.update(session.scalars(select(func.lower(OutboxMessage.recipient)).where(~OutboxMessage.to_staff).distinct()))
    return {e for e in found if e}
