"""How `crm history` reads: who made each change in words, and the ids in it as names.

A user is shown by their full name, an automation described ("web form Kx1aB2 (system)", "command
line"), and a field holding the id of a user or a record (owner_id, account_id) by whom or what it
points at ("林美玲", "ACC3 台北貿易股份有限公司").
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from crm_store.actor import describe_automation
from crm_store.models import AuditEntry, User
from crm_store.records import registry
from crm_store.records.names import display_name

Names = dict[tuple[str, int], str]  # (table, id) -> how it is shown


def history_rows(
    session: Session, module: str, entries: list[AuditEntry], show_time: Callable[[dt.datetime], str]
) -> list[tuple[Any, ...]]:
    """One row per change (AUDIT, WHEN, ACTION, BY, CHANGE); an entry's further changes continue below it."""
    targets = references(module)
    names = look_up(session, _wanted(entries, targets))
    rows: list[tuple[Any, ...]] = []
    for entry in entries:
        changes = list(change_lines(entry, targets, names)) or [""]
        rows.append((entry.id, show_time(entry.at), entry.action, author(entry, names), changes[0]))
        rows += [("", "", "", "", line) for line in changes[1:]]
    return rows


def author(entry: AuditEntry, names: Names) -> str:
    """Who made a change: the user's full name, or the automation in words."""
    if entry.user_id is not None:
        return names.get((User.__tablename__, entry.user_id), f"user #{entry.user_id}")
    return describe_automation(entry.automation) if entry.automation else "?"


def references(module: str) -> dict[str, Table]:
    """The fields of a module that hold the id of a row of another table (owner_id -> users)."""
    found = {}
    for column in registry.get(module).model.__table__.columns:
        for fk in column.foreign_keys:
            found[column.name] = fk.column.table
    return found


def change_lines(entry: AuditEntry, targets: dict[str, Table], names: Names) -> Iterator[str]:
    """Each change of an audit entry on a line: `owner_id: 林美玲 -> 王大明`."""
    for field, change in (entry.changes or {}).items():
        if entry.action == "merge" and field == "merged":
            yield f"merged: {', '.join(str(number) for _id, number in change)}"
        elif entry.action == "merge" and field == "moved":
            yield f"moved: {sum(len(ids) for _table, _column, ids, _old in change)} related row(s)"
        elif entry.action == "merge" and field == "fields" and isinstance(change, dict):
            yield from (_pair(name, pair, targets, names) for name, pair in change.items())
        elif entry.action == "erase" and field == "fields" and isinstance(change, list):
            yield f"erased: {', '.join(map(str, change))}"  # field names, not an [old, new] pair
        else:
            yield _pair(field, change, targets, names)


def _pair(field: str, change: Any, targets: dict[str, Table], names: Names) -> str:
    if isinstance(change, list) and len(change) == 2:
        old, new = (_value(field, v, targets, names) for v in change)
        return f"{field}: {old} -> {new}"
    return f"{field}: {_value(field, change, targets, names)}"


def _value(field: str, value: Any, targets: dict[str, Table], names: Names) -> str:
    if value is None:
        return "—"
    table = targets.get(field)
    if table is not None and isinstance(value, int) and not isinstance(value, bool):
        return names.get((table.name, value), f"#{value}")
    return str(value)


def _wanted(entries: Iterable[AuditEntry], targets: dict[str, Table]) -> dict[Table, set[int]]:
    """The ids to look up, per table: every author, and every id a referencing field held."""
    wanted: dict[Table, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.user_id is not None:
            wanted[User.__table__].add(entry.user_id)
        for field, change in (entry.changes or {}).items():
            merged = entry.action == "merge" and field == "fields" and isinstance(change, dict)
            for name, values in (change.items() if merged else [(field, change)]):
                table = targets.get(name)
                if table is not None:
                    wanted[table].update(v for v in (values if isinstance(values, list) else [values])
                                         if isinstance(v, int) and not isinstance(v, bool))
    return wanted


def look_up(session: Session, wanted: dict[Table, set[int]]) -> Names:
    """How each wanted row is shown: a record by its number and name, anything else by its name."""
    names: Names = {}
    for table, ids in wanted.items():
        if not ids:
            continue
        spec = next((m for m in registry.modules() if m.model.__table__ is table), None)
        if spec is not None:
            names |= _record_names(session, spec, ids)
        elif "name" in table.c:
            rows = session.execute(select(table.c.id, table.c.name).where(table.c.id.in_(ids)))
            names |= {(table.name, row_id): str(name) for row_id, name in rows}
    return names


def _record_names(session: Session, spec: registry.Module, ids: set[int]) -> Names:
    """Records as `ACC3 台北貿易股份有限公司` (people with their whole name, family name first in Chinese)."""
    model = spec.model
    first = spec.searchable.first_name if spec.searchable is not None else None
    columns = [model.id, getattr(model, spec.number_field), getattr(model, spec.title)]
    if first is not None:
        columns.append(getattr(model, first))
    names: Names = {}
    for row in session.execute(select(*columns).where(model.id.in_(ids))):
        title = display_name(row[3], row[2] or "") if first is not None else str(row[2] or "")
        names[(model.__table__.name, row[0])] = f"{row[1]} {title}".strip()
    return names
