"""Duplicate detection for leads, contacts and accounts: normalised email, E.164 phone, company name."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.models import Account, Contact, Lead

# Legal forms that say nothing about which company it is (longest first).
LEGAL_SUFFIXES = (
    "股份有限公司", "有限公司", "企業社", "工作室", "公司", "商行", "incorporated", "corporation", "limited", "company",
    "gmbh", "corp", "inc", "ltd", "llc", "plc", "co", "sa", "ag",
)
DUPLICATE_MODULES = {"leads": Lead, "contacts": Contact, "accounts": Account}


def company_key(name: str | None) -> str | None:
    """Normalise a company name: width, case, punctuation, spaces and legal forms do not count."""
    if not name:
        return None
    text = unicodedata.normalize("NFKC", name).lower()
    text = re.sub(r"[\W_]+", " ", text).strip()
    changed = True
    while changed and text:
        changed = False
        for suffix in LEGAL_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix) and (
                not suffix.isascii() or text[-len(suffix) - 1] == " "
            ):
                text = text[: -len(suffix)].rstrip()
                changed = True
    key = text.replace(" ", "")
    return key or None


@dataclass(frozen=True)
class Candidate:
    """A record as duplicate detection sees it."""

    id: int
    number: str
    label: str
    keys: frozenset[str]


def _keys(email: str | None, phones: Iterable[str | None], company: str | None) -> frozenset[str]:
    keys = set()
    if email:
        keys.add("email:" + email.strip().lower())
    keys.update("phone:" + p for p in phones if p)
    if company:  # already a normalised key (accounts.name_key)
        keys.add("company:" + company)
    return frozenset(keys)


def _live(model: Any) -> Any:
    condition = model.deleted_at.is_(None)
    return condition & model.converted_at.is_(None) if model is Lead else condition


def candidates(session: Session, module: str) -> list[Candidate]:
    """Read the keys of every live record of a module (converted leads are not candidates)."""
    if module not in DUPLICATE_MODULES:
        raise ValidationError("module", f"duplicates are found for {', '.join(DUPLICATE_MODULES)}")
    if module == "accounts":
        stmt = select(Account.id, Account.account_no, Account.name, Account.email, Account.phone_e164, Account.name_key)
    elif module == "leads":
        stmt = select(Lead.id, Lead.lead_no, Lead.last_name, Lead.email, Lead.phone_e164, Lead.company,
                      Lead.mobile_e164, Lead.first_name)
    else:
        stmt = select(Contact.id, Contact.contact_no, Contact.last_name, Contact.email, Contact.phone_e164, None,
                      Contact.mobile_e164, Contact.first_name)
    model = DUPLICATE_MODULES[module]
    found = []
    for row in session.execute(stmt.where(_live(model))):
        mobile = row[6] if len(row) > 6 else None
        label = f"{row[2]} {row[7] or ''}".strip() if len(row) > 7 else row[2]
        # People are not duplicates just for sharing an employer: company counts for accounts only.
        found.append(Candidate(row[0], row[1], label, _keys(row[3], (row[4], mobile), row[5] if module == "accounts" else None)))
    return found


def groups(session: Session, module: str) -> list[list[Candidate]]:
    """Return groups of records that share an email, a phone or (accounts) a company name."""
    items = candidates(session, module)
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for i, c in enumerate(items):
        for key in c.keys:
            if key in first_with:
                parent[find(i)] = find(first_with[key])
            else:
                first_with[key] = i
    grouped: dict[int, list[Candidate]] = {}
    for i, c in enumerate(items):
        grouped.setdefault(find(i), []).append(c)
    return sorted((g for g in grouped.values() if len(g) > 1), key=lambda g: min(c.id for c in g))


def duplicates_of(session: Session, record: Any) -> list[Any]:
    """Return live records of the same module that share the record's email, phone or company key."""
    model = type(record)
    conditions = []
    if record.email:
        conditions.append(func.lower(model.email) == record.email.lower())
    for column in ("phone_e164", "mobile_e164"):
        value = getattr(record, column, None)
        if value:
            conditions += [getattr(model, c) == value for c in ("phone_e164", "mobile_e164") if hasattr(model, c)]
    if model is Account and record.name_key:
        conditions.append(Account.name_key == record.name_key)
    if not conditions:
        return []
    stmt = select(model).where(or_(*conditions), _live(model), model.id != record.id).limit(6)
    return list(session.scalars(stmt))
