"""Record numbers per module (LEA1, ACC1, ...): unique, never reused, safe under concurrency."""

from __future__ import annotations

import re

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import RecordCounter
from crm_store.records import registry


def seed(session: Session) -> int:
    """Create the counter of each module that has none; return how many were created."""
    present = set(session.scalars(select(RecordCounter.module)))
    missing = [m for m in registry.modules() if m.name not in present]
    session.add_all(RecordCounter(module=m.name, prefix=m.prefix, next_value=1) for m in missing)
    session.flush()
    return len(missing)


_COUNTERS = RecordCounter.__table__
_ALLOCATE = (  # built once, in Core: statement construction and ORM bookkeeping cost more than running it
    update(_COUNTERS)
    .where(_COUNTERS.c.module == bindparam("m"))
    .values(next_value=_COUNTERS.c.next_value + bindparam("n"))
    .returning(_COUNTERS.c.prefix, _COUNTERS.c.next_value)
)


def allocate(session: Session, module: str, count: int = 1) -> list[str]:
    """Reserve `count` consecutive numbers of a module in the caller's transaction.

    The counter row is updated before it is read, so a second transaction waits on its
    lock (a row lock on PostgreSQL, the write lock on SQLite) and cannot get the same numbers.
    """
    if count < 1:
        return []
    row = session.execute(_ALLOCATE, {"m": module, "n": count}).one_or_none()
    if row is None:  # a module declared since `crm init`: its counter starts now
        spec = registry.get(module)
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(_COUNTERS).values(module=spec.name, prefix=spec.prefix, next_value=1)
                        .on_conflict_do_nothing(index_elements=["module"]))
        row = session.execute(_ALLOCATE, {"m": module, "n": count}).one()
    prefix, after = row
    return [f"{prefix}{n}" for n in range(after - count, after)]


def adopt(session: Session, module: str, numbers: list[str]) -> None:
    """Accept imported numbers of this module's prefix and move the counter past the highest."""
    spec = registry.get(module)
    prefix = spec.prefix
    highest = 0
    for number in numbers:
        m = re.fullmatch(rf"{prefix}(\d{{1,12}})", number)
        if m is None:
            raise ValidationError(
                spec.number_field, N_("%(value)s is not a number like %(example)s"),
                value=repr(number), example=f"{prefix}123",
            )
        highest = max(highest, int(m[1]))
    if highest:
        session.execute(
            update(RecordCounter)
            .where(RecordCounter.module == module)
            .values(
                next_value=case(
                    (RecordCounter.next_value <= highest, highest + 1), else_=RecordCounter.next_value
                )
            )
        )
