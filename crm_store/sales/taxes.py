"""Taxes: a name and a rate in percent. Products carry their tax classes; documents copy the rates when saved.

A new installation starts with Taiwan's business tax, 營業稅 5 %, on goods and on shipping and handling
(`crm init` seeds it while there is no tax at all, so a company that removed or renamed it keeps its own).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM, Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Tax
from crm_store.records import audit
from crm_store.records.lines import one_line
from crm_store.records.validation import coerce
from crm_store.sales.line_items import decimal_value

# (name, rate %, on shipping): read the same in English and in Chinese, as stored names are shown as typed.
DEFAULTS = (("營業稅 VAT", Decimal(5), True),)
FIELDS = frozenset({"name", "rate", "active", "applies_to_shipping", "position"})


def seed(session: Session) -> int:
    """Add the default taxes when there is no tax at all; return how many were added."""
    if session.scalar(select(Tax.id).limit(1)) is not None:
        return 0
    session.add_all(Tax(name=name, rate=rate, position=i, applies_to_shipping=shipping, active=True)
                    for i, (name, rate, shipping) in enumerate(DEFAULTS, 1))
    session.flush()
    return len(DEFAULTS)


def create(session: Session, values: dict[str, Any], actor: Actor = SYSTEM) -> Tax:
    """Check and add a tax (name, rate from 0 to 100, active, applies_to_shipping, position)."""
    unknown = sorted(set(values) - FIELDS)
    if unknown:
        raise ValidationError(unknown[0], N_("is not a field of %(module)s"), module="taxes")
    name = _name(session, values.get("name"))
    rate = check_rate(values.get("rate"))
    column = Tax.__table__.c
    active = coerce("active", column["active"].type, values.get("active"))
    shipping = coerce("applies_to_shipping", column["applies_to_shipping"].type, values.get("applies_to_shipping"))
    position = coerce("position", column["position"].type, values.get("position"))
    if position is None:
        position = (session.scalar(select(func.max(Tax.position))) or 0) + 1
    tax = Tax(name=name, rate=rate, active=True if active is None else active,
              applies_to_shipping=bool(shipping), position=position)
    session.add(tax)
    session.flush()
    audit.log(session, "create", "taxes", tax.id, actor, record_no=tax.name,
              changes=audit.created_values(tax, [c.name for c in Tax.__table__.columns]))
    return tax


def check_rate(raw: Any) -> Decimal:
    """A tax rate in percent: from 0 to 100, at most three decimals (what the column keeps)."""
    rate = decimal_value("rate", raw, 3)
    if rate is None:
        raise ValidationError("rate", N_("is required"))
    if not 0 <= rate <= 100:
        raise ValidationError("rate", N_("must be a percent from 0 to 100"))
    return rate


def listed(*, active: bool | None = None) -> Select[Tax]:
    """Select the taxes in their order (only the active or inactive ones when asked)."""
    stmt = select(Tax).order_by(Tax.position, Tax.id)
    return stmt if active is None else stmt.where(Tax.active.is_(active))


def _name(session: Session, raw: Any) -> str:
    name = coerce("name", Tax.__table__.c["name"].type, raw)
    if not name:
        raise ValidationError("name", N_("is required"))
    one_line("name", name)
    taken = session.scalar(select(Tax.name).where(func.lower(Tax.name) == name.lower()))
    if taken is not None:
        raise ValidationError("name", N_("there is already a tax named %(name)s"), name=taken)
    return str(name)
