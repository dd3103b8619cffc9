"""Invitations to an agenda event: one `event_invitation` email per attendee, queued in the outbox in the caller's
transaction, carrying the event's .ics as a request to answer (METHOD:REQUEST, every attendee listed; rendered at
delivery by `emails.render`, `emails.ics`).

The .ics keeps one UID per event (`activity-<id>@<the deployment's host>`); each revision sent after a change
(a move on the agenda too) raises its SEQUENCE, so calendars replace the event instead of adding a second one.
Who was invited, and the last sequence sent, are kept in the event's audit rows (module "activities": `attendees`
on its creation, `invitation_sequence` on each change sent again), so no table holds them twice.

Each attendee reads the times in their own zone and language when they are a user, else in the organizer's
zone and the company's language; only a user sees the record the event is about (a link into the CRM).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from email.headerregistry import Address
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.mail import outbox
from crm_store.models import Activity, User
from crm_store.records import audit, registry
from crm_store.records.contact_points import clean_email
from crm_store.records.record_page import title_of
from crm_store.settings import company

TEMPLATE = "event_invitation"  # the details, the guests and invite.ics (METHOD:REQUEST)
DEFAULT_DOMAIN = outbox.DEFAULT_DOMAIN
ATTENDEES = "attendees"  # audit field: who was invited (on the event's "create" row)
SEQUENCE = "invitation_sequence"  # audit field: the revision sent again after a change
SHOWN_FIELDS = frozenset({"subject", "start_at", "end_at", "location", "description"})  # what the .ics shows
MOST = 20  # attendees of one event
LINKS = ("lead_id", "opportunity_id", "contact_id", "account_id")
DEFAULT_MINUTES = 30


def parse_attendees(raw: str | list[str] | None) -> list[str]:
    """Checked mailboxes from text such as `mei@example.com, 陳志明 <chen@example.com>` (commas, semicolons or
    lines between them), each address once; fail naming the field `attendees`."""
    found: dict[str, str] = {}
    for text in raw if isinstance(raw, list) else [raw or ""]:
        for item in _items(text):
            name, address = parseaddr(item)
            if "@" not in address:
                raise ValidationError(ATTENDEES, N_("%(value)s is not an email address."), value=item)
            checked = clean_email(ATTENDEES, address)
            shown = str(Address(display_name=name.strip(), addr_spec=checked)) if name.strip() else checked
            found.setdefault(checked.lower(), outbox.mailbox(ATTENDEES, shown))
    if len(found) > MOST:
        raise ValidationError(ATTENDEES, N_("Invite at most %(most)s people."), most=MOST)
    return list(found.values())


def _items(text: str) -> list[str]:
    """Split a list of addresses at commas, semicolons and line breaks outside quotes and angle brackets."""
    items, current, quoted, angled = [], "", False, False
    for char in text:
        if char == '"' and not angled:
            quoted = not quoted
        elif char == "<" and not quoted:
            angled = True
        elif char == ">" and not quoted:
            angled = False
        if char in ",;\n\r" and not quoted and not angled:
            items.append(current)
            current = ""
        else:
            current += char
    return [item.strip() for item in [*items, current] if item.strip()]


def attendees_of(session: Session, activity_id: int) -> tuple[list[str], int]:
    """Who an event's invitation went to, and the sequence last sent (0 for the first), from its audit rows."""
    guests: list[str] = []
    sequence = 0
    for entry in session.scalars(audit.history("activities", activity_id)):
        changes = entry.changes or {}
        if ATTENDEES in changes:
            guests = list(changes[ATTENDEES][1] or [])
        if SEQUENCE in changes:
            sequence = int(changes[SEQUENCE][1])
    return guests, sequence


def invite(session: Session, event: Activity, guests: list[str], *, sequence: int, domain: str) -> int:
    """Queue the invitation (revision `sequence`) to each attendee; return how many were queued."""
    owner = session.get(User, event.owner_id)
    if owner is None or event.start_at is None:
        return 0
    organizer = outbox.mailbox("organizer", formataddr((owner.name, owner.email)))
    end = event.end_at if event.end_at and event.end_at > event.start_at else \
        event.start_at + dt.timedelta(minutes=DEFAULT_MINUTES)
    mailboxes = [parseaddr(guest) for guest in guests]
    users = _users_by_address(session, [address for _, address in mailboxes])
    shared = {
        "kind": event.type, "subject": event.subject, "location": event.location, "description": event.description,
        "organizer": organizer, "invitees": [{"name": name or _name_of(users.get(address.lower())), "email": address}
                                             for name, address in mailboxes],
        "event_uid": event_uid(event.id, domain), "event_sequence": sequence,
        "event_start_utc": event.start_at.astimezone(dt.UTC).isoformat(),
        "event_end_utc": end.astimezone(dt.UTC).isoformat(),
    }
    related = _related(session, event)
    organizer_zone = company.zone_for(session, owner)
    default_language = str(company.get(session, "default_language"))
    queued = 0
    for name, address in mailboxes:
        user = users.get(address.lower())
        language = user.language if user is not None else default_language
        zone = company.zone_for(session, user) if user is not None else organizer_zone
        context = {**shared, "recipient_name": name or _name_of(user) or address,
                   "related": related if user is not None else None,  # a link into the CRM is for its users
                   "time_zone": zone_label(zone, event.start_at),
                   "start": languages.format_datetime(event.start_at, language, zone, "full"),
                   "end": languages.format_datetime(end, language, zone, "full")}
        digest = hashlib.sha256(address.lower().encode()).hexdigest()[:24]
        queued += outbox.enqueue(
            session, TEMPLATE, address, key=f"invite:{event.id}:{sequence}:{digest}", context=context,
            language=language, recipient_name=name or _name_of(user), reply_to=organizer, to_staff=user is not None,
        )
    return queued


def event_uid(activity_id: int, domain: str) -> str:
    """The UID of an event in every .ics sent about it (invitations, revisions, reminders)."""
    return f"activity-{activity_id}@{domain or DEFAULT_DOMAIN}"


def _name_of(user: User | None) -> str | None:
    return user.name if user is not None and user.name else None


def _users_by_address(session: Session, addresses: list[str]) -> dict[str, User]:
    """The active users among the addresses, by lowercase address (one query)."""
    lowered = {address.lower() for address in addresses}
    found = session.scalars(select(User).where(func.lower(User.email).in_(lowered), User.active))
    return {user.email.lower(): user for user in found}


def zone_label(zone: zoneinfo.ZoneInfo, moment: dt.datetime) -> str:
    """A zone as people read it: Asia/Taipei (UTC+8), Asia/Kolkata (UTC+5:30)."""
    offset = moment.astimezone(zone).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"{zone.key} (UTC{sign}{hours}{f':{rest:02}' if rest else ''})"


def _related(session: Session, event: Activity) -> dict[str, Any] | None:
    """The record the event is about, as the email links to it: {module (its url path), number, name}."""
    by_column = {m.link_column: m for m in registry.modules() if m.link_column}
    for column in LINKS:
        record_id = getattr(event, column)
        spec = by_column.get(column)
        if record_id is None or spec is None:
            continue
        record = session.get(spec.model, record_id)
        if record is not None:
            return {"module": spec.path, "number": getattr(record, spec.number_field),
                    "name": title_of(spec.name, record)}
    return None
