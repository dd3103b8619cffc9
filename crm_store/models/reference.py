"""Reference data: picklists, currencies, company settings, record counters, batches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Rate, intpk, str100, utcnow


class PicklistValue(Base):
    """One allowed value of a picklist (lead status, industry, ...), editable by admins."""

    __tablename__ = "picklist_values"
    __table_args__ = (UniqueConstraint("picklist", "value"),)

    id: Mapped[intpk]
    picklist: Mapped[str] = mapped_column(String(40), index=True)
    value: Mapped[str100]
    position: Mapped[int] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Currency(Base):
    """A currency and its exchange rate to the company currency."""

    __tablename__ = "currencies"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(3), unique=True)
    name: Mapped[str100]
    symbol: Mapped[str] = mapped_column(String(8))
    minor_unit: Mapped[int] = mapped_column(Integer, default=2)
    exchange_rate: Mapped[Decimal] = mapped_column(Rate, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CompanySetting(Base):
    """One company setting (time zone, thresholds, ...) as a JSON value."""

    __tablename__ = "company_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecordCounter(Base):
    """The next record number of a module (LEA, ACC, ...); numbers are never reused."""

    __tablename__ = "record_counters"

    module: Mapped[str] = mapped_column(String(20), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(10), unique=True)
    next_value: Mapped[int] = mapped_column(Integer, default=1)


class Batch(Base):
    """An import or demo load; every record it wrote points at it."""

    __tablename__ = "batches"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
