"""What a record's search document holds: the modules searched, their rows, titles and bodies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import (
    Select,
    null,
    select,
    true,
)
from sqlalchemy.orm import aliased

from crm_store.errors import ValidationError
from crm_store.models import (
    Account,
    Contact,
    Lead,
    Opportunity,
)
from crm_store.pipeline.leads import open_lead_condition
from crm_store.search.terms import SEP, national_digits, normalise, person_name

MODULES = ("leads", "accounts", "contacts", "opportunities")
MODELS: dict[str, Any] = {"leads": Lead, "accounts": Account, "contacts": Contact, "opportunities": Opportunity}


# -- documents --------------------------------------------------------------------------------------------

def document_rows(module: str) -> Select[Any]:
    """Select the live records of a module with what their documents and result lines are made of."""
    if module == "leads":
        return select(
            Lead.id, Lead.lead_no.label("number"), open_lead_condition().label("is_open"), Lead.first_name,
            Lead.last_name.label("name"), Lead.company, Lead.email, Lead.secondary_email.label("email2"),
            Lead.phone_e164.label("phone"), Lead.mobile_e164.label("mobile"),
        ).where(Lead.deleted_at.is_(None))
    if module == "accounts":
        return select(
            Account.id, Account.account_no.label("number"), true().label("is_open"), null().label("first_name"),
            Account.name, null().label("company"), Account.email, Account.secondary_email.label("email2"),
            Account.phone_e164.label("phone"), null().label("mobile"),
        ).where(Account.deleted_at.is_(None))
    company = aliased(Account)
    if module == "contacts":
        return select(
            Contact.id, Contact.contact_no.label("number"), true().label("is_open"), Contact.first_name,
            Contact.last_name.label("name"), company.name.label("company"), Contact.email,
            Contact.secondary_email.label("email2"), Contact.phone_e164.label("phone"),
            Contact.mobile_e164.label("mobile"),
        ).outerjoin(company, company.id == Contact.account_id).where(Contact.deleted_at.is_(None))
    if module == "opportunities":
        return select(
            Opportunity.id, Opportunity.opportunity_no.label("number"),
            Opportunity.closed_at.is_(None).label("is_open"), null().label("first_name"), Opportunity.name,
            company.name.label("company"), null().label("email"), null().label("email2"), null().label("phone"),
            null().label("mobile"),
        ).outerjoin(company, company.id == Opportunity.account_id).where(Opportunity.deleted_at.is_(None))
    raise ValidationError("module", f"{module!r} is not one of {', '.join(MODULES)}")


def _names(module: str, row: Any) -> tuple[str, list[str]]:
    if module in ("leads", "contacts"):
        return person_name(row.first_name, row.name)
    return row.name, [row.name]


def describe(module: str, row: Any) -> tuple[str, str]:
    """Return the title and subtitle of a result line for one row of `document_rows`."""
    subtitle = " · ".join(v for v in (row.company, row.email or row.phone) if v)
    return _names(module, row)[0], subtitle


def build_document(module: str, row: Any) -> dict[str, Any]:
    """Return the search document's values for one row of `document_rows`."""
    names = _names(module, row)[1]
    return {
        "module": module, "record_id": row.id, "number": row.number, "is_open": bool(row.is_open),
        "body": _pieces(normalise(p) for p in (*names, row.company, row.email, row.email2) if p),
        "phones": _pieces(national_digits(p) for p in (row.phone, row.mobile) if p),
    }


def _pieces(values: Iterable[str]) -> str:
    unique = [v for v in dict.fromkeys(values) if v]
    return SEP + SEP.join(unique) + SEP if unique else ""


def check_modules(modules: Iterable[str]) -> None:
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ValidationError("module", f"{unknown[0]!r} is not one of {', '.join(MODULES)}")


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
