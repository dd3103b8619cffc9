"""iCalendar (RFC 5545) files for meeting and call reminders (published) and invitations (requests, RFC 5546)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parseaddr

PRODID = "-//Leadline//Leadline CRM//EN"
METHODS = ("PUBLISH", "REQUEST")
# An invitation asks each attendee to answer: their calendar sends Accept, Maybe or Decline to the organizer.
_ASKED = "CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE"
_FOLD_AT = 75  # octets per physical line, CRLF excluded (RFC 5545 section 3.1)


def event_ics(
    *,
    uid: str,
    summary: str,
    start: datetime,
    end: datetime,
    location: str | None,
    description: str | None,
    organizer: str | None,
    sequence: int = 0,
    stamp: datetime | None = None,
    method: str = "PUBLISH",
    attendees: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Return a UTF-8 VCALENDAR with one VEVENT: published (a reminder, no replies), or a REQUEST that invites
    `attendees`, (name, address) pairs (name may be empty), to answer the organizer."""
    for key, value in (("start", start), ("end", end), ("stamp", stamp)):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{key} needs a time zone")
    if end <= start:
        raise ValueError("end must be after start")
    if not uid.strip() or any(c in uid for c in "\r\n"):
        raise ValueError("uid must be one non-empty line")
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    _check_method(method, organizer, attendees)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{escape_text(uid)}",
        f"DTSTAMP:{utc_stamp(stamp or datetime.now(UTC))}",
        f"DTSTART:{utc_stamp(start)}",
        f"DTEND:{utc_stamp(end)}",
        f"SEQUENCE:{sequence}",
        f"SUMMARY:{escape_text(summary)}",
    ]
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    if description:
        lines.append(f"DESCRIPTION:{escape_text(description)}")
    if organizer:
        lines.append(_organizer(organizer))
    lines += [_attendee(name, address) for name, address in attendees]
    lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR"]
    return b"".join(fold(line) + b"\r\n" for line in lines)


def utc_stamp(moment: datetime) -> str:
    """Return an aware datetime as an RFC 5545 UTC date-time such as 20250314T020000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and line breaks."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\n", "\\n")


def fold(line: str) -> bytes:
    """Fold a content line into chunks of at most 75 octets without splitting a UTF-8 character."""
    chunks: list[bytes] = []
    current = b""
    limit = _FOLD_AT
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            chunks.append(current)
            current = b""
            limit = _FOLD_AT - 1  # the leading space of a continuation line counts
        current += encoded
    chunks.append(current)
    return b"\r\n ".join(chunks)


def _check_method(method: str, organizer: str | None, attendees: Sequence[tuple[str, str]]) -> None:
    """A request names its organizer (who gets the answers) and whom it asks; a publication asks nobody."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if method == "REQUEST" and not organizer:
        raise ValueError("a REQUEST needs an organizer: the attendees' answers go to them")
    if method == "REQUEST" and not attendees:
        raise ValueError("a REQUEST needs at least one attendee")
    if method == "PUBLISH" and attendees:
        raise ValueError("a PUBLISH names no attendees (RFC 5546 section 3.2.1)")


def _organizer(organizer: str) -> str:
    name, addr = parseaddr(organizer)
    if "@" not in addr:
        raise ValueError(f"organizer {organizer!r} is not an email address")
    return f"ORGANIZER{_common_name(name)}:mailto:{addr}"


def _attendee(name: str, address: str) -> str:
    if "@" not in address or any(c.isspace() or not c.isprintable() for c in address):
        raise ValueError(f"attendee {address!r} is not an email address")
    return f"ATTENDEE;{_ASKED}{_common_name(name)}:mailto:{address}"


def _common_name(name: str) -> str:
    """The CN parameter of a name, or nothing for none."""
    # A parameter value may not hold DQUOTE or control characters (RFC 5545 section 3.1).
    name = "".join(c for c in name if c != '"' and c.isprintable()).strip()
    return f';CN="{name}"' if name else ""
