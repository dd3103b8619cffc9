"""Check and clean the values of a record before it is written: one place for every path."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, Text, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Base, User
from crm_store.models.base import FixedDecimal, UTCDateTime
from crm_store.records import registry
from crm_store.records.contact_points import clean_email, to_e164
from crm_store.records.duplicates import company_key
from crm_store.settings import company, picklists

# Fields a caller sets; the store fills the rest (ids, numbers, timestamps, derived values).
SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "deleted_at", "batch_id", "created_by_id"})
EMAIL_FIELDS = frozenset({"email", "secondary_email"})
# A phone field and the column its E.164 form goes to.
E164_OF = {"phone": "phone_e164", "mobile": "mobile_e164"}
PHONE_FIELDS = frozenset({"phone", "mobile", "fax", "other_phone", "home_phone", "assistant_phone"})
DERIVED = frozenset({*E164_OF.values(), "name_key", "email_key"})
TOO_LONG = N_("is %(length)s characters long; the limit is %(limit)s")
NUL = N_("must not contain NUL characters")


@dataclass
class Validator:
    """Validation context for many rows: picklists and the phone region are read once."""

    allowed: dict[str, frozenset[str]]
    phone_region: str
    known_ids: dict[type[Base], set[int]] = field(default_factory=dict)

    @classmethod
    def for_session(cls, session: Session) -> Validator:
        """Load what validation needs from the database."""
        return cls(picklists.all_values(session), company.get(session, "phone_region"))

    def clean(self, module: str, values: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Return checked, normalised values; raise ValidationError naming the first bad field."""
        spec = field_specs(module)
        out: dict[str, Any] = {}
        for name, raw in values.items():
            field = spec.get(name)
            if field is None:
                raise ValidationError(name, N_("is not a field of %(module)s"), module=module)
            value = field.coerce(raw)
            out[name] = value
            if value is None:
                if field.e164 is not None:
                    out[field.e164] = None
            elif field.check is not None:
                self._check_value(field, value, out)
        keys = derived_columns(module)
        if "name_key" in keys and "name" in out:
            out["name_key"] = company_key(out["name"])
        if "email_key" in keys and "email" in out:
            out["email_key"] = out["email"].lower() if out["email"] else None
        required = registry.get(module).required
        if not partial:
            for name in required:
                if out.get(name) is None:
                    raise ValidationError(name, N_("is required"))
        else:
            for name in required:
                if name in out and out[name] is None:
                    raise ValidationError(name, N_("is required"))
        return out

    def _check_value(self, field: FieldSpec, value: Any, out: dict[str, Any]) -> None:
        name, check = field.name, field.check
        if check == "picklist" and field.picklist is not None:
            if value not in self.allowed.get(field.picklist, ()):
                picklists.check(self.allowed, field.picklist, name, value)
        elif check == "email":
            out[name] = clean_email(name, value)
        elif check == "phone":
            e164 = to_e164(name, value, self.phone_region)
            if field.e164 is not None:
                out[field.e164] = e164
        elif check == "probability":
            if not 0 <= value <= 100:
                raise ValidationError(name, N_("must be between 0 and 100"))
        elif check == "non_negative" and value < 0:
            raise ValidationError(name, N_("must not be negative"))

    def check_references(
        self,
        session: Session,
        module: str,
        rows: list[dict[str, Any]],
        references: dict[str, Any] | None = None,
    ) -> None:
        """Fail naming the field when a row points at a record or user that does not exist."""
        owners = {r["owner_id"] for r in rows if r.get("owner_id") is not None}
        if owners - self.known_ids.setdefault(User, set()):
            active = set(session.scalars(select(User.id).where(User.id.in_(owners), User.active)))
            self.known_ids[User].update(active)
            if owners - active:
                bad = min(owners - active)
                raise ValidationError(
                    "owner_id", N_("user %(id)s does not exist or is inactive"),
                    row=_row_of(rows, "owner_id", bad), id=bad,
                )
        for name, target in (registry.get(module).reference_models() if references is None else references).items():
            wanted = {r[name] for r in rows if r.get(name) is not None}
            if not wanted:
                continue
            known = self.known_ids.setdefault(target, set())
            missing = wanted - known
            if missing:
                stmt = select(target.id)
                if hasattr(target, "deleted_at"):
                    stmt = stmt.where(target.deleted_at.is_(None))
                found: set[int] = set()
                for chunk in _chunks(sorted(missing), 5000):
                    found.update(session.scalars(stmt.where(target.id.in_(chunk))))
                known.update(found)
                if missing - found:
                    bad = min(missing - found)
                    table = target.__tablename__
                    raise ValidationError(
                        name, N_("%(table)s record %(id)s does not exist"),
                        row=_row_of(rows, name, bad), table=table, id=bad,
                    )


@dataclass(frozen=True)
class FieldSpec:
    """How one field of a module is coerced and checked, worked out once per module."""

    name: str
    type_: Any
    check: str | None = None  # picklist | email | phone | probability | non_negative
    picklist: str | None = None
    e164: str | None = None  # the column that receives the E.164 form of a phone field
    text_limit: int | None = None
    is_text: bool = False

    def coerce(self, raw: Any) -> Any:
        """Turn a raw value into the column's type (text has a fast path: most values are text)."""
        if raw is None:
            return None
        if self.is_text and type(raw) is str:
            value = raw.strip()
            if not value:
                return None
            if self.text_limit is not None and len(value) > self.text_limit:
                raise ValidationError(self.name, TOO_LONG, length=len(value), limit=self.text_limit)
            if "\x00" in value:
                raise ValidationError(self.name, NUL)
            return value
        return coerce(self.name, self.type_, raw)


@cache
def field_specs(module: str) -> dict[str, FieldSpec]:
    """Return the spec of every field a caller may set on a module's records."""
    spec = registry.get(module)
    columns = spec.model.__table__.columns
    specs = {}
    for column in columns:
        name, type_ = column.name, column.type
        if name in SYSTEM_FIELDS or name in DERIVED:
            continue
        check, picklist, e164 = None, None, None
        if name in spec.picklists:
            check, picklist = "picklist", spec.picklists[name]
        elif name in EMAIL_FIELDS:
            check = "email"
        elif name in PHONE_FIELDS:
            check = "phone"
            e164 = E164_OF[name] if name in E164_OF and E164_OF[name] in columns else None
        elif name == "probability":
            check = "probability"
        elif isinstance(type_, (Integer, FixedDecimal)):
            check = "non_negative"
        is_text = isinstance(type_, (String, Text))
        specs[name] = FieldSpec(name, type_, check, picklist, e164, getattr(type_, "length", None), is_text)
    return specs


@cache
def derived_columns(module: str) -> frozenset[str]:
    """The columns of a module's records that the store derives from others (E.164 forms, match keys)."""
    return DERIVED & frozenset(registry.get(module).model.__table__.columns.keys())


def _row_of(rows: list[dict[str, Any]], name: str, value: Any) -> int | None:
    """Return the 1-based row holding the value, when there are several rows to tell apart."""
    if len(rows) == 1:
        return None
    return next(i for i, r in enumerate(rows, 1) if r.get(name) == value)


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def coerce(name: str, type_: Any, raw: Any) -> Any:
    """Turn a raw value (text from a form or CSV, or a Python value) into the column's type."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(type_, FixedDecimal):
        return _decimal(name, raw)
    if isinstance(type_, Boolean):
        return _boolean(name, raw)
    if isinstance(type_, Integer):
        return _integer(name, raw)
    if isinstance(type_, Date):
        return _date(name, raw)
    if isinstance(type_, UTCDateTime):
        return _datetime(name, raw)
    if isinstance(type_, (String, Text)):
        if not isinstance(raw, str):
            raise ValidationError(name, N_("must be text"))
        value = raw.strip()
        if "\x00" in value:
            raise ValidationError(name, NUL)
        limit = getattr(type_, "length", None)
        if limit is not None and len(value) > limit:
            raise ValidationError(name, TOO_LONG, length=len(value), limit=limit)
        return value
    return raw


def _decimal(name: str, raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw).replace(",", "").strip()) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        raise ValidationError(name, N_("%(value)s is not a number"), value=repr(raw)) from None
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        raise ValidationError(name, N_("%(value)s is not a usable amount"), value=repr(raw))
    return value


def _integer(name: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValidationError(name, N_("must be a whole number"))
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).replace(",", "").strip())
    except ValueError:
        raise ValidationError(name, N_("%(value)s is not a whole number"), value=repr(raw)) from None


def _boolean(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise ValidationError(name, N_("%(value)s is not yes/no"), value=repr(raw))


def _date(name: str, raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise ValidationError(name, N_("must be a date, not a date and time"))
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValidationError(name, N_("%(value)s is not a date like 2026-12-31"), value=repr(raw)) from None


def _datetime(name: str, raw: Any) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        value = raw
    else:
        try:
            value = dt.datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValidationError(
                name, N_("%(value)s is not a date and time like 2026-12-31T09:30+08:00"), value=repr(raw)
            ) from None
    if value.tzinfo is None:
        raise ValidationError(name, N_("needs a time zone (the store keeps UTC)"))
    return value.astimezone(dt.UTC)
