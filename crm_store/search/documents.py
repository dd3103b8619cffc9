"""What a record's search document holds: the modules searched, their rows, titles and bodies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Select, func, null, select, true
from sqlalchemy.orm import aliased

from crm_store.errors import ValidationError
from crm_store.records import registry
from crm_store.search.terms import SEP, national_digits, normalise, person_name


def modules() -> list[str]:
    """The modules whose records are searched."""
    return registry.names(searchable=True)


def model_of(module: str) -> Any:
    """The model of a searched module."""
    return registry.get(module).model


def live_records() -> Select[int]:
    """Select how many live records the searched modules hold: what a rebuild indexes."""
    counts = [
        select(func.count()).select_from(model).where(model.deleted_at.is_(None)).scalar_subquery()
        for model in map(model_of, modules())
    ]
    return select(sum(counts[1:], counts[0]))


@cache
def document_rows(module: str) -> Select[Any]:
    """Select the live records of a module with what their documents and result lines are made of.

    Built once per module (a statement is immutable; `.where()` makes a new one): building it anew cost a
    search more than its SQL, the alias of the joined account being adapted again each time.

    Every row has the same columns, whatever the module: id, number, is_open, first_name, name, company,
    email, email2, phone, mobile (NULL where the module has no such thing), owner_id.
    """
    spec = registry.get(module)
    found = spec.searchable
    if found is None:
        raise ValidationError("module", f"{module!r} is not one of {', '.join(modules())}")
    model = spec.model

    def column(name: str | None, label: str) -> ColumnElement[Any]:
        return (getattr(model, name) if name else null()).label(label)

    emails, phones = (*found.emails, None, None), (*found.phones, None, None)
    company: ColumnElement[Any] = column(found.company, "company")
    joined, joined_on = None, None
    if found.company_from is not None:
        joined = aliased(spec.reference_models()[found.company_from])
        company = joined.name.label("company")
        joined_on = joined.id == getattr(model, found.company_from)
    stmt = select(
        model.id, getattr(model, spec.number_field).label("number"),
        (spec.open_when() if spec.open_when else true()).label("is_open"),
        column(found.first_name, "first_name"), column(found.name, "name"), company,
        column(emails[0], "email"), column(emails[1], "email2"),
        column(phones[0], "phone"), column(phones[1], "mobile"), model.owner_id,
    )
    if joined is not None:
        stmt = stmt.outerjoin(joined, joined_on)
    return stmt.where(model.deleted_at.is_(None))


def _names(module: str, row: Any) -> tuple[str, list[str]]:
    searchable = registry.get(module).searchable
    if searchable is not None and searchable.first_name is not None:
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
        "owner_id": row.owner_id,
    }


def _pieces(values: Iterable[str]) -> str:
    unique = [v for v in dict.fromkeys(values) if v]
    return SEP + SEP.join(unique) + SEP if unique else ""


def check_modules(wanted: Iterable[str]) -> None:
    """Fail naming the field when a module is not searched."""
    searched = modules()
    unknown = [m for m in wanted if m not in searched]
    if unknown:
        raise ValidationError("module", f"{unknown[0]!r} is not one of {', '.join(searched)}")


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Yield lists of at most `size` items."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
