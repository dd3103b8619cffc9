"""The conditions of an assignment rule: which lead field, which operator, which value.

A condition is stored as `{"field": ..., "op": ..., "value": ...}` (`AssignmentRule.conditions`). The field is
any column of `leads` (`lead_source`, `country`, `industry`, `web_form_id`…) or one of two names that read
better than an id: `form` (the web form's name or public id) and `campaign` (the campaign's name or
number). Text is compared without case and without surrounding spaces; a number or date as it is written
(`employees equals 50`, `created_at starts_with 2026-09`).

    equals       the value is exactly this one
    in           the value is one of a list (typed comma-separated: TW, HK, MO)
    contains     the value contains this text
    starts_with  the value starts with this text
    is_empty     the field is empty (value true), or not empty (value false)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import RULE_OPERATORS, Campaign, Lead, WebForm

FIELD = "conditions"  # what a ValidationError about a condition names
ALIASES = {"form": "web_form_id", "campaign": "campaign_id"}  # names people use -> the column they read
COLUMNS: tuple[str, ...] = tuple(c.name for c in Lead.__table__.columns)
FIELDS: tuple[str, ...] = (*ALIASES, *COLUMNS)
COMMON = ("lead_source", "form", "campaign", "country", "state", "city", "industry")
MAX_VALUE = 200
_YES = frozenset({"", "yes", "true", "y", "1", "empty"})
_NO = frozenset({"no", "false", "n", "0", "not_empty", "filled"})

UNKNOWN_FIELD = N_("%(field)s is not a lead field; try one of %(common)s, or any lead column")
UNKNOWN_OP = N_("%(op)s is not an operator; use one of %(ops)s")
NEEDS_VALUE = N_("%(field)s %(op)s needs a value of 1 to %(max)s characters")
EMPTY_FLAG = N_("%(field)s is_empty takes yes or no (got %(value)s)")
NOT_A_LIST = N_("conditions must be a list of {field, op, value}")


@dataclass(frozen=True)
class Condition:
    """One checked condition: `value` as typed (a tuple of them for `in`, a bool for `is_empty`)."""

    field: str
    op: str
    value: Any
    key: Any = dataclass_field(init=False, repr=False, compare=False)  # the value as compared: casefolded

    def __post_init__(self) -> None:
        key = frozenset(fold(v) for v in self.value) if isinstance(self.value, tuple) else self.value
        object.__setattr__(self, "key", key if self.op in ("in", "is_empty") else fold(self.value))

    def stored(self) -> dict[str, Any]:
        """The JSON form kept in `AssignmentRule.conditions`."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": value}

    def holds(self, texts: Sequence[str]) -> bool:
        """Whether the condition holds for a lead whose field reads as `texts` (none: empty)."""
        key = self.key
        if self.op == "is_empty":
            return (not texts) is key
        if self.op == "equals":
            return key in texts
        if self.op == "in":
            return any(text in key for text in texts)
        if self.op == "contains":
            return any(key in text for text in texts)
        return any(text.startswith(key) for text in texts)  # starts_with

    def describe(self) -> str:
        """The condition as `crm rules list` shows it: country in TW, HK."""
        if self.op == "is_empty":
            return f"{self.field} is_empty" if self.value else f"{self.field} is_empty no"
        value = ", ".join(self.value) if isinstance(self.value, tuple) else self.value
        return f"{self.field} {self.op} {value}"


def fold(value: Any) -> str:
    """A field value as the text conditions compare: trimmed, without case ('' for none)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        value = format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    elif isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    return " ".join(str(value).split()).casefold()


def check(raw: Any) -> Condition:
    """Check one condition (a mapping, or a (field, op, value) triple as typed); fail naming the lead field."""
    if isinstance(raw, Mapping):
        field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    elif isinstance(raw, list | tuple) and len(raw) == 3:
        field, op, value = raw
    else:
        raise ValidationError(FIELD, NOT_A_LIST)
    field = str(field or "").strip().lower()
    op = str(op or "").strip().lower().replace(" ", "_").replace("-", "_")
    if field not in FIELDS:
        raise ValidationError(FIELD, UNKNOWN_FIELD, field=repr(field), common=", ".join(COMMON))
    if op not in RULE_OPERATORS:
        raise ValidationError(FIELD, UNKNOWN_OP, op=repr(op), ops=", ".join(RULE_OPERATORS))
    if op == "is_empty":
        return Condition(field, op, _flag(field, value))
    if op == "in":
        items = value if isinstance(value, list | tuple) else str(value or "").split(",")
        typed = tuple(dict.fromkeys(_typed(item) for item in items if fold(item)))
        if not typed or any(len(item) > MAX_VALUE for item in typed):
            raise ValidationError(FIELD, NEEDS_VALUE, field=field, op=op, max=MAX_VALUE)
        return Condition(field, op, typed)
    text = _typed(value)
    if not text or len(text) > MAX_VALUE or isinstance(value, list | dict):
        raise ValidationError(FIELD, NEEDS_VALUE, field=field, op=op, max=MAX_VALUE)
    return Condition(field, op, text)


def _typed(value: Any) -> str:
    """A typed value kept as typed, its spaces tidied."""
    return " ".join(str(value if value is not None else "").split())


def check_all(raw: Any) -> list[Condition]:
    """Check a rule's conditions (all of which must hold; none matches every lead)."""
    if raw is None:
        return []
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        raise ValidationError(FIELD, NOT_A_LIST)
    return [check(item) for item in raw]


def _flag(field: str, value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    text = str(value).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationError(FIELD, EMPTY_FLAG, field=field, value=repr(value))


def columns_read(conditions: Iterable[Condition]) -> set[str]:
    """The lead columns some condition reads."""
    return {ALIASES.get(c.field, c.field) for c in conditions}


Reader = Callable[[Mapping[str, Any]], tuple[str, ...]]


class FieldReader:
    """Reads a lead row's fields as conditions compare them; `form` and `campaign` through their names."""

    def __init__(self, session: Session, fields: Iterable[str]) -> None:
        wanted = set(fields)
        self._names: dict[str, dict[Any, tuple[str, ...]]] = {}
        if "form" in wanted:
            rows = session.execute(select(WebForm.id, WebForm.name, WebForm.public_id))
            self._names["form"] = {r.id: _texts(r.name, r.public_id) for r in rows}
        if "campaign" in wanted:
            rows = session.execute(select(Campaign.id, Campaign.name, Campaign.campaign_no))
            self._names["campaign"] = {r.id: _texts(r.name, r.campaign_no) for r in rows}

    def texts(self, row: Mapping[str, Any], field: str) -> tuple[str, ...]:
        """What a condition on `field` compares for this lead: its casefolded texts, none when empty."""
        if field in self._names:
            return self._names[field].get(row[ALIASES[field]], ())
        text = fold(row[field])
        return (text,) if text else ()


def _texts(*values: Any) -> tuple[str, ...]:
    return tuple(t for t in (fold(v) for v in values) if t)
