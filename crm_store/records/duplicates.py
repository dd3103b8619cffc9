"""Duplicate detection for leads, contacts and accounts: normalised email, E.164 phone, company name."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.records import registry

# Legal forms that say nothing about which company it is (longest first).
LEGAL_SUFFIXES = (
    "股份有限公司", "有限公司", "企業社", "工作室", "公司", "商行", "incorporated", "corporation", "limited", "company",
    "gmbh", "corp", "inc", "ltd", "llc", "plc", "co", "sa", "ag",
)


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


# What a shared key says matched, by its kind (the part of the key before ":"), in the order it is told.
MATCHED_FIELDS = {"email": "email", "phone": "phone", "company": "company name"}


@dataclass(frozen=True)
class Candidate:
    """A record as duplicate detection sees it."""

    id: int
    number: str
    label: str
    keys: frozenset[str]


def _keys(emails: Iterable[str | None], phones: Iterable[str | None], company: str | None) -> frozenset[str]:
    keys = {"email:" + e.strip().lower() for e in emails if e}
    keys.update("phone:" + p for p in phones if p)
    if company:  # already a normalised key (accounts.name_key)
        keys.add("company:" + company)
    return frozenset(keys)


def _live(spec: registry.Module) -> Any:
    condition = spec.model.deleted_at.is_(None)
    return condition & ~spec.settled_when() if spec.settled_when is not None else condition


def _rule(module: str) -> tuple[registry.Module, registry.DuplicateKeys]:
    spec = registry.get(module)
    if spec.duplicates is None:
        raise ValidationError("module", f"duplicates are found for {', '.join(registry.names(duplicates=True))}")
    return spec, spec.duplicates


def candidates(
    session: Session, module: str, where: ColumnElement[bool] | None = None, *, shared: bool = False
) -> list[Candidate]:
    """Read the keys of every live record of a module (converted leads are not candidates).

    `where` narrows the records (a user's scope: `crm_store.staff.scope.condition`); `shared` reads only those
    holding a key another of them holds too — all a group can be made of, found by the database (of a million
    leads, the few thousand that share a phone), instead of every record.
    """
    spec, rule = _rule(module)
    model = spec.model
    first = getattr(model, spec.searchable.first_name) if spec.searchable and spec.searchable.first_name else None
    columns = [model.id, getattr(model, spec.number_field), getattr(model, spec.title), first,
               *(getattr(model, c) for c in (*rule.emails, *rule.phones)),
               getattr(model, rule.company_key) if rule.company_key else None]
    conditions = [_live(spec)] + ([where] if where is not None else [])
    if shared:
        conditions.append(_sharing(spec, rule, conditions))
    found = []
    n_emails, n_phones = len(rule.emails), len(rule.phones)
    for row in session.execute(select(*(c if c is not None else null() for c in columns)).where(*conditions)):
        label = f"{row[2]} {row[3] or ''}".strip()
        emails, phones = row[4 : 4 + n_emails], row[4 + n_emails : 4 + n_emails + n_phones]
        found.append(Candidate(row[0], row[1], label, _keys(emails, phones, row[-1])))
    return found


def _key_columns(spec: registry.Module, rule: registry.DuplicateKeys) -> list[list[Any]]:
    """The key expressions of a module, by kind: a value in any column of a kind matches it in the others."""
    model = spec.model
    kinds = [[func.lower(func.trim(getattr(model, c))) for c in rule.emails], [getattr(model, c) for c in rule.phones]]
    if rule.company_key:
        kinds.append([getattr(model, rule.company_key)])
    return [kind for kind in kinds if kind]


def _sharing(spec: registry.Module, rule: registry.DuplicateKeys, conditions: list[Any]) -> ColumnElement[bool]:
    """The condition on a record holding a key value that another record (meeting `conditions`) holds too.

    (SQLite's lower() folds ASCII letters only: two emails differing in the case of a non-ASCII letter are
    told apart there, as `duplicates_of` tells them.)
    """
    model = spec.model
    held = []
    for kind in _key_columns(spec, rule):
        values = union_all(*(
            select(model.id.label("record_id"), column.label("value")).where(*conditions, column.is_not(None),
                                                                          column != literal(""))
            for column in kind
        )).subquery()
        shared = (select(values.c.value).group_by(values.c.value)
                  .having(func.count(values.c.record_id.distinct()) > 1))
        held += [column.in_(shared) for column in kind]
    return or_(*held)


def groups(session: Session, module: str, where: ColumnElement[bool] | None = None) -> list[list[Candidate]]:
    """Return groups of records that share an email, a phone or (accounts) a company name.

    `where` narrows the records first (a user's scope): a group is then made only of records it lets through,
    so each group's shared values (`matched`) are among them too.
    """
    items = candidates(session, module, where, shared=where is not None)
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


def matched(group: Sequence[Candidate]) -> list[tuple[str, str]]:
    """What a group's records share, as (field, value): ("email", "amy@example.com"), ("phone", "+886…")."""
    held = Counter(key for c in group for key in c.keys)
    shared = [key.split(":", 1) for key, n in held.items() if n > 1]
    order = list(MATCHED_FIELDS)
    return [(MATCHED_FIELDS[kind], value) for kind, value in sorted(shared, key=lambda kv: (order.index(kv[0]), kv[1]))]


def duplicates_of(session: Session, record: Any) -> list[Any]:
    """Return live records of the same module that share the record's email, phone or company key."""
    spec = registry.of_record(record)
    model, rule = spec.model, spec.duplicates
    if rule is None:
        return []
    conditions = [func.lower(getattr(model, c)) == getattr(record, c).lower()
                  for c in rule.emails if getattr(record, c)]
    for column in rule.phones:  # a number in any phone column matches it in any other
        value = getattr(record, column)
        if value:
            conditions += [getattr(model, c) == value for c in rule.phones]
    if rule.company_key and getattr(record, rule.company_key):
        conditions.append(getattr(model, rule.company_key) == getattr(record, rule.company_key))
    if not conditions:
        return []
    stmt = select(model).where(or_(*conditions), _live(spec), model.id != record.id).limit(6)
    return list(session.scalars(stmt))
