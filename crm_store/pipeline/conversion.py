"""Lead conversion: a lead becomes an account (matched or new), a contact and optionally an opportunity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import Account, Activity, CampaignMember, Contact, DocumentLink, Lead, Note, Opportunity, utcnow
from crm_store.records import audit
from crm_store.records import lifecycle as records
from crm_store.records.duplicates import company_key

# Vtiger's default mapping, without its bugs: the postal code reaches the contact, and nothing
# mandatory is filled with "????".
TO_ACCOUNT = {
    "industry": "industry", "phone": "phone", "fax": "fax", "email": "email", "website": "website",
    "employees": "employees", "annual_revenue": "annual_revenue", "description": "description",
    "street": "bill_street", "city": "bill_city", "state": "bill_state", "postal_code": "bill_postal_code",
    "country": "bill_country", "po_box": "bill_po_box",
}
TO_CONTACT = {
    "salutation": "salutation", "first_name": "first_name", "last_name": "last_name", "email": "email",
    "secondary_email": "secondary_email", "phone": "phone", "mobile": "mobile", "fax": "fax",
    "designation": "title", "lead_source": "lead_source", "description": "description",
    "email_opt_out": "email_opt_out", "campaign_id": "campaign_id",
    "street": "mailing_street", "city": "mailing_city", "state": "mailing_state",
    "postal_code": "mailing_postal_code", "country": "mailing_country", "po_box": "mailing_po_box",
}
PARENT_COLUMNS = (Activity, Note, DocumentLink)


@dataclass(frozen=True)
class Conversion:
    """What a lead became."""

    account: Account
    account_created: bool
    contact: Contact
    opportunity: Opportunity | None


def is_account_number(text: str) -> bool:
    """Whether a typed account is a record number (ACC12) rather than a name."""
    return text.upper().startswith("ACC") and text[3:].isdigit()


def account_name(lead: Lead) -> str:
    """The name of the account a lead converts into, unless another is chosen: its company, else its person."""
    return lead.company or f"{lead.last_name}{lead.first_name or ''}"


def account_matches(session: Session, name: str, limit: int = 5) -> list[Account]:
    """The live accounts whose normalised name matches `name`, oldest first (the first is the one used)."""
    key = company_key(name)
    if key is None:
        return []
    live = select(Account).where(Account.deleted_at.is_(None), Account.name_key == key).order_by(Account.id)
    return list(session.scalars(live.limit(limit)))


def find_account(session: Session, name_or_number: str) -> Account | None:
    """Return the live account with this number, or whose normalised name matches."""
    if is_account_number(name_or_number):
        found = session.scalar(select(Account).where(Account.account_no == name_or_number.upper()))
        if found is None or found.deleted_at is not None:
            raise ValidationError("account", f"no account {name_or_number.upper()}")
        return found
    matches = account_matches(session, name_or_number, limit=1)
    return matches[0] if matches else None


def convert_lead(
    session: Session,
    lead: Lead,
    actor: Actor,
    *,
    account: str | None = None,
    new_account: bool = False,
    opportunity: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> Conversion:
    """Convert a lead in the caller's transaction; converting twice is an error.

    The contact joins the account numbered or named `account` (created when no live account has that name),
    by default the one named after the lead's company; `new_account` creates one even when the name matches.
    The opportunity is made only when its values are given.
    """
    if lead.converted_at is not None:
        raise ValidationError("lead", f"{lead.lead_no} was already converted")
    if lead.deleted_at is not None:
        raise ValidationError("lead", f"{lead.lead_no} is in the recycle bin")
    at = at or utcnow()
    owner = {"owner_id": lead.owner_id} if lead.owner_id else {}
    name = account or account_name(lead)
    if new_account and is_account_number(name):
        raise ValidationError("account", "a new account needs a name, not an account number")
    target = None if new_account else find_account(session, name)
    created = target is None
    if target is None:
        values = {dst: getattr(lead, src) for src, dst in TO_ACCOUNT.items() if getattr(lead, src) is not None}
        target = records.create_account(session, {"name": name, **values, **owner}, actor, at=at)
    contact_values = {dst: getattr(lead, src) for src, dst in TO_CONTACT.items() if getattr(lead, src) is not None}
    contact = records.create_contact(session, {**contact_values, "account_id": target.id, **owner}, actor, at=at)
    opp = None
    if opportunity is not None:
        opp = records.create_opportunity(
            session,
            {"lead_source": lead.lead_source, "campaign_id": lead.campaign_id, **owner, **opportunity,
             "account_id": target.id, "contact_id": contact.id},
            actor, at=at,
        )
    session.flush()
    _carry_related(session, lead, target, contact, opp)
    lead.converted_at = at
    lead.converted_account_id, lead.converted_contact_id = target.id, contact.id
    lead.converted_opportunity_id = opp.id if opp else None
    if actor.is_staff:
        lead.last_touch_at = at
    session.flush()
    records.reindex(session, lead)  # a converted lead is no longer open: it ranks after open ones
    audit.log(session, "convert", "leads", lead.id, actor, record_no=lead.lead_no, at=at, changes={
        "account": [None, target.account_no], "contact": [None, contact.contact_no],
        "opportunity": [None, opp.opportunity_no if opp else None], "account_created": created,
    })
    session.flush()
    return Conversion(target, created, contact, opp)


def _carry_related(session: Session, lead: Lead, account: Account, contact: Contact, opp: Opportunity | None) -> None:
    """Activities, notes and documents now also belong to the contact, account (and opportunity)."""
    for model in PARENT_COLUMNS:
        values = {"contact_id": contact.id, "account_id": account.id}
        if opp is not None and model is not DocumentLink:
            values["opportunity_id"] = opp.id
        session.execute(update(model.__table__).where(model.lead_id == lead.id).values(values))
    for member in session.scalars(select(CampaignMember).where(CampaignMember.lead_id == lead.id)):
        session.add(CampaignMember(campaign_id=member.campaign_id, contact_id=contact.id, status=member.status))
    session.expire_all()  # the set-based updates above bypassed the objects already loaded
