"""What a web submission tells people: the owner's notice of a new lead or inquiry, and the visitor's auto-reply.

Each function builds a `Notice` — what `outbox.enqueue` takes — from values the caller already holds, and does
no session work, so a batch of submissions can build its notices the same way; `queue()` puts one in the
outbox in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from typing import Any, Protocol

import phonenumbers
from sqlalchemy.orm import Session

from crm_store.capture.forms import MESSAGE
from crm_store.mail import outbox
from crm_store.models import Contact, Lead
from crm_store.records.names import display_name
from crm_store.settings.company import show_time


class Staff(Protocol):
    """A user as a notice needs them: a `User`, or a row of its columns (as the assignment hands it out)."""

    email: str
    name: str
    language: str
    active: bool


@dataclass(frozen=True)
class Notice:
    """One message to queue: the arguments of `outbox.enqueue`."""

    template: str
    recipient: str
    key: str
    context: dict[str, Any]
    language: str
    recipient_name: str | None = None
    reply_to: str | None = None
    to_staff: bool = False
    record: tuple[str, int] | None = None  # (module, id) of the record it is about, for that record's timeline


def queue(session: Session, notice: Notice) -> bool:
    """Queue a notice in the caller's transaction; return False when its key was queued before."""
    return outbox.enqueue(
        session, notice.template, notice.recipient, key=notice.key, context=notice.context,
        language=notice.language, recipient_name=notice.recipient_name, reply_to=notice.reply_to,
        to_staff=notice.to_staff, **_about(notice),
    )


def outbox_row(notice: Notice) -> dict[str, Any]:
    """The outbox row of a notice, for queuing many at once (`outbox.enqueue_many`)."""
    return outbox.message_values(
        notice.template, notice.recipient, key=notice.key, context=notice.context, language=notice.language,
        recipient_name=notice.recipient_name, reply_to=notice.reply_to, to_staff=notice.to_staff, **_about(notice),
    )


def _about(notice: Notice) -> dict[str, Any]:
    module, record_id = notice.record if notice.record is not None else (None, None)
    return {"record_module": module, "record_id": record_id}


def new_web_lead(
    lead: Mapping[str, Any], clean: Mapping[str, Any], form_name: str, owner: Staff, *, submission: str,
    at: dt.datetime, zone: zoneinfo.ZoneInfo, region: str,
) -> Notice:
    """The owner's notice of a lead a web form just made: who it is, how to reach them and what they wrote."""
    reach = _reach(clean, region)
    return _to_owner(owner, "new_web_lead", f"webform:assigned:{submission}", {
        "lead": {
            "number": lead["lead_no"], "name": display_name(lead.get("first_name"), lead.get("last_name")),
            "company": lead.get("company"),
        },
        "email": reach["email"],
        "phone": reach["phone"],
        "message": reach["message"],
        "form_name": form_name,
        "received_at": show_time(at, zone),
    }, record=("leads", lead["id"]) if lead.get("id") is not None else None)


def new_inquiry(
    record: Lead | Contact, clean: Mapping[str, Any], owner: Staff, *, submission: str, at: dt.datetime,
    zone: zoneinfo.ZoneInfo, region: str,
) -> Notice:
    """The owner's notice of a web inquiry from a lead or contact they own."""
    reach = _reach(clean, region)
    if isinstance(record, Lead):
        ref = {"module": "leads", "number": record.lead_no, "company": record.company}
    else:
        ref = {"module": "contacts", "number": record.contact_no, "company": None}
    return _to_owner(owner, "new_inquiry", f"webform:inquiry:{submission}", {
        "record": {**ref, "name": display_name(record.first_name, record.last_name)},
        "contact_email": reach["email"],
        "contact_phone": reach["phone"],
        "received_at": show_time(at, zone),
        "message": reach["message"],
    }, record=(str(ref["module"]), record.id))


def auto_reply(
    clean: Mapping[str, Any], *, language: str, submission: str, settings: Mapping[str, Any], owner: Staff | None,
    record: tuple[str, int] | None = None,
) -> Notice:
    """The visitor's acknowledgement, signed by the company; their answer goes to the owner, else the company.

    `record` is the (module, id) of the lead or contact the submission made or reached.
    """
    name = display_name(clean.get("first_name"), clean.get("last_name"))
    return Notice(
        "visitor_auto_reply", clean["email"], f"webform:reply:{submission}",
        {
            "visitor_name": name,
            "reply_within_hours": settings["sla_hours"],
            "company_phone": settings.get("company_phone") or None,
            "company_email": settings.get("company_email") or None,
            "company_address": settings.get("company_address") or None,
        },
        language, recipient_name=name or None, reply_to=_answers_to(owner, settings.get("company_email")),
        record=record,
    )


def shown_phone(typed: str, region: str) -> str:
    """Return a number to read and dial: national in the company's region (0912 345 678), else international
    (+81 3-1234-5678); as typed when it is not a phone number."""
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        return typed
    if not phonenumbers.is_possible_number(number):
        return typed
    local = phonenumbers.region_code_for_number(number) == region
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if local else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    extension, number.extension = number.extension, None
    shown = phonenumbers.format_number(number, fmt)
    return f"{shown} ext. {extension}" if extension else shown  # one way to write it, which the tel: link dials


def _reach(clean: Mapping[str, Any], region: str) -> dict[str, Any]:
    """How to answer the visitor: the email and phone they typed, and what they wrote."""
    typed = clean.get("phone") or clean.get("mobile")
    return {
        "email": clean.get("email") or None,
        "phone": shown_phone(typed, region) if typed else None,
        "message": clean.get(MESSAGE) or "",
    }


def _to_owner(
    owner: Staff, template: str, key: str, context: dict[str, Any], *, record: tuple[str, int] | None
) -> Notice:
    return Notice(template, owner.email, key, {"recipient_name": owner.name, **context}, owner.language,
                  recipient_name=owner.name, to_staff=True, record=record)


def _answers_to(owner: Staff | None, company_email: str | None) -> str | None:
    """Where the visitor's answer to the auto-reply goes: the owner (with their name), else the company."""
    if owner is not None and owner.active:
        return str(Address(display_name=owner.name or "", addr_spec=owner.email))
    return company_email or None
