"""Declarative base, shared column types and the columns every CRM record has."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, ClassVar

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, MetaData, Numeric, String, Table, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC; accepts only aware datetimes and returns aware UTC ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the store keeps timestamps in UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class FixedDecimal(TypeDecorator[Decimal]):
    """A decimal with a fixed scale; exact on PostgreSQL, REAL-backed on SQLite without warnings."""

    scale = 4
    impl = Numeric(20, scale)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(20, self.scale, asdecimal=False))
        return dialect.type_descriptor(Numeric(20, self.scale))

    def process_bind_param(self, value: Decimal | int | float | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return float(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(round(float(value), self.scale))) if dialect.name == "sqlite" else Decimal(value)


class _ExactOnSQLite(Numeric):
    """NUMERIC(20, 4) as SQLite declares it, passing values through untouched (no float conversion either way)."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class Exact(FixedDecimal):
    """A decimal with a fixed scale, exact on both backends, also when summed in SQL (money, quantities, rates).

    PostgreSQL stores NUMERIC(20, scale). SQLite has no exact decimal type (a NUMERIC column holds REAL
    values, and SUM over them adds floats), so there the column holds the value in units of the last place
    as an INTEGER — Money's 1234.5 is 12345000 ten-thousandths — which SQLite adds exactly. The column keeps
    its declared NUMERIC(20, scale) (integer values stay integers under NUMERIC affinity). Python always
    sees a `Decimal` with `scale` places, and SQL written with the ORM (comparisons, SUM, MIN, MAX, ORDER BY)
    works unchanged on both; only raw arithmetic on SQLite sees the scaled integers: SUM, MIN, MAX, COALESCE
    and value ± value or × a number keep the type by themselves, but AVG is untyped (`type_coerce(func.avg(
    col), Money())`), and a division is best done in Python on the Decimal. Values are rounded half-up to
    `scale` places when stored.
    """

    scale = 4
    impl = Numeric(20, scale)
    cache_ok = True

    @property
    def places(self) -> Decimal:
        return Decimal(1).scaleb(-self.scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_ExactOnSQLite(20, self.scale))
        return dialect.type_descriptor(Numeric(20, self.scale))

    def process_bind_param(self, value: Decimal | int | float | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        rounded = exact.quantize(self.places, rounding=ROUND_HALF_UP)
        return int(rounded.scaleb(self.scale)) if dialect.name == "sqlite" else rounded

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name != "sqlite":
            return Decimal(value).quantize(self.places, rounding=ROUND_HALF_UP)
        if isinstance(value, float):  # AVG over the integers: round to the scale
            return Decimal(repr(value)).scaleb(-self.scale).quantize(self.places, rounding=ROUND_HALF_UP)
        return Decimal(int(value)).scaleb(-self.scale)


class Money(Exact):
    """An amount with four decimals (more than any currency's minor unit: unit prices may need them)."""

    scale = 4
    impl = Numeric(20, scale)
    cache_ok = True


class Quantity(Exact):
    """A quantity of a product with three decimals (Vtiger's quantity(25,3)): 1.5 kg, 12 boxes."""

    scale = 3
    impl = Numeric(20, scale)
    cache_ok = True


class Percent(Exact):
    """A percentage with three decimals: a tax rate of 5, a discount of 12.5."""

    scale = 3
    impl = Numeric(20, scale)
    cache_ok = True


class Rate(FixedDecimal):
    """An exchange rate with eight decimals."""

    scale = 8
    impl = Numeric(20, scale)
    cache_ok = True


intpk = Annotated[int, mapped_column(Integer().with_variant(BigInteger, "postgresql"), primary_key=True)]
str20 = Annotated[str, mapped_column(String(20))]
str40 = Annotated[str, mapped_column(String(40))]
str100 = Annotated[str, mapped_column(String(100))]
str255 = Annotated[str, mapped_column(String(255))]
text = Annotated[str, mapped_column(Text)]
utc = Annotated[dt.datetime, mapped_column(UTCDateTime)]
money = Annotated[Decimal, mapped_column(Money)]
user_fk = Annotated[int, mapped_column(ForeignKey("users.id"), index=True)]


class Base(DeclarativeBase):
    """Every table of the store."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime, Decimal: Money}
    __table__: ClassVar[Table]  # what declarative makes of every model here (typed a FromClause upstream)


def utcnow() -> dt.datetime:
    """Return the current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class Record:
    """Columns shared by every numbered CRM record (lead, account, contact, opportunity, campaign)."""

    id: Mapped[intpk]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="CRM")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deleted_at: Mapped[dt.datetime | None]

    @declared_attr
    def batch_id(cls) -> Mapped[int | None]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(ForeignKey("batches.id"), index=True)


class Touchable:
    """Records whose last staff action is tracked: NULL means the created time."""

    last_touch_at: Mapped[dt.datetime | None]
