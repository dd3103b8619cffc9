"""The items of a record's timeline, and how the audit trail becomes them: an owner change, a lead's status
change, field changes with their labels and the names of what ids point at, a creation, a conversion, …
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from crm_store.actor import describe_automation
from crm_store.languages import N_, translate, translate_value
from crm_store.models import AuditEntry, User
from crm_store.records import blocks, registry
from crm_store.records.names import display_name
from crm_store.records.validation import DERIVED

ACTIONS = {
    "create": ("created", N_("Record created")),
    "convert": ("converted", N_("Converted")),
    "delete": ("deleted", N_("Moved to the recycle bin")),
    "restore": ("restored", N_("Restored from the recycle bin")),
    "merge": ("merged", N_("Merged with duplicates")),
    "erase": ("erased", N_("Personal data erased")),
    "undo": ("undone", N_("A change was undone")),
}
CONVERTED_TO = {"account": N_("Account: %(number)s"), "contact": N_("Contact: %(number)s"),
                "opportunity": N_("Opportunity: %(number)s")}
STAGE_FIELDS = ("stage", "probability")  # an opportunity's stage change: told by its stage history
MERGED_IN = N_("Merged in: %(numbers)s")


@dataclass(frozen=True)
class TimelineItem:
    """One thing that happened: its kind, when, who did it (a name), a one-line summary and detail lines.

    Kinds: call, meeting, task, email (a logged email), note, web_inquiry, mail (sent by the CRM), stage_change,
    status_change, owner_change, field_change, created, converted, deleted, restored, merged, erased, undone.
    `ref` is the (table, id) of the row it comes from; `undoable` marks a merge not undone yet (the record page
    offers to undo it: `ref` is its audit entry).
    """

    kind: str
    at: dt.datetime
    who: str | None
    summary: str
    details: tuple[str, ...] = ()
    ref: tuple[str, int] | None = None
    undoable: bool = False


class Names:
    """Users' names, each read once per timeline; an automation described in words."""

    def __init__(self, session: Session, language: str) -> None:
        self.session, self.language = session, language
        self.users: dict[int, str] = {}

    def user(self, user_id: int | None) -> str | None:
        """A user's name (None for no user)."""
        if user_id is None:
            return None
        if user_id not in self.users:
            self.users[user_id] = self.session.scalar(select(User.name).where(User.id == user_id)) or f"#{user_id}"
        return self.users[user_id]

    def author(self, user_id: int | None, automation: str | None) -> str | None:
        """Who made a change: a user's name, or the automation in words."""
        if user_id is not None:
            return self.user(user_id)
        return describe_automation(automation, self.language) if automation else None


def audit_items(session: Session, module: str, entries: list[AuditEntry], names: Names) -> list[TimelineItem]:
    """The timeline items of a record's audit entries (an update may give a status change and field changes)."""
    targets = _references(module)
    shown = _look_up(session, entries, targets)
    items: list[TimelineItem] = []
    for entry in entries:
        who, ref = names.author(entry.user_id, entry.automation), ("audit_log", entry.id)
        changes = dict(entry.changes or {})
        if entry.action == "assign":
            old, new = changes.get("owner_id", [None, None])
            summary = f"{_user(shown, old, names.language)} → {_user(shown, new, names.language)}"
            items.append(TimelineItem("owner_change", entry.at, who, summary, (), ref))
        elif entry.action == "update":
            items += _updates(module, entry, changes, who, targets, shown, names.language)
        elif entry.action == "merge":
            items.append(TimelineItem("merged", entry.at, who, translate(names.language, ACTIONS["merge"][1]),
                                      _merged(module, changes, targets, shown, names.language), ref,
                                      undoable=entry.undone_by_id is None))
        else:
            kind, words = ACTIONS.get(entry.action, (entry.action, entry.action))
            details = _converted(changes, names.language) if entry.action == "convert" else ()
            items.append(TimelineItem(kind, entry.at, who, translate(names.language, words), details, ref))
    return items


def _updates(
    module: str, entry: AuditEntry, changes: dict[str, Any], who: str | None, targets: dict[str, Table],
    shown: dict[tuple[str, int], str], language: str,
) -> list[TimelineItem]:
    ref, items = ("audit_log", entry.id), []
    if module == "opportunities" and "stage" in changes:
        changes = {k: v for k, v in changes.items() if k not in STAGE_FIELDS}
    if module == "leads" and "status" in changes:
        old, new = changes.pop("status")
        items.append(TimelineItem("status_change", entry.at, who, f"{_plain(old, language)} → {_plain(new, language)}",
                                  (), ref))
    if changes:
        lines = tuple(
            f"{blocks.label(module, field, language)}: "
            f"{_value(field, pair[0], targets, shown, language)} → {_value(field, pair[1], targets, shown, language)}"
            for field, pair in changes.items() if isinstance(pair, list) and len(pair) == 2
        )
        summary = ", ".join(blocks.label(module, field, language) for field in changes)
        items.append(TimelineItem("field_change", entry.at, who, summary, lines, ref))
    return items


def _merged(
    module: str, changes: dict[str, Any], targets: dict[str, Table], shown: dict[tuple[str, int], str], language: str,
) -> tuple[str, ...]:
    """A merge's details: the records merged in, then each value taken from them (`Email: old → new`)."""
    numbers = ", ".join(str(number) for _id, number in changes.get("merged", []))
    lines = [translate(language, MERGED_IN, numbers=numbers)] if numbers else []
    fields = changes.get("fields")
    for field, pair in (fields.items() if isinstance(fields, dict) else []):
        if field not in DERIVED and isinstance(pair, list) and len(pair) == 2:
            lines.append(f"{blocks.label(module, field, language)}: {_value(field, pair[0], targets, shown, language)}"
                         f" → {_value(field, pair[1], targets, shown, language)}")
    return tuple(lines)


def _converted(changes: dict[str, Any], language: str) -> tuple[str, ...]:
    return tuple(translate(language, words, number=changes[key][1])
                 for key, words in CONVERTED_TO.items()
                 if isinstance(changes.get(key), list) and changes[key][1])


def _references(module: str) -> dict[str, Table]:
    """The fields of a module that hold the id of a row elsewhere (owner_id -> users)."""
    return {column.name: fk.column.table
            for column in registry.get(module).model.__table__.columns for fk in column.foreign_keys}


def _look_up(session: Session, entries: Iterable[AuditEntry], targets: dict[str, Table]) -> dict[tuple[str, int], str]:
    """How each id the entries hold is shown: a user by name, a record by number and title, else by name."""
    wanted: dict[Table, set[int]] = defaultdict(set)
    for entry in entries:
        changes = entry.changes or {}
        taken = changes.get("fields") if entry.action == "merge" else None  # a merge's values taken, by field
        for field, pair in (*changes.items(), *(taken.items() if isinstance(taken, dict) else ())):
            if field in targets and isinstance(pair, list):
                wanted[targets[field]].update(v for v in pair if isinstance(v, int) and not isinstance(v, bool))
    shown: dict[tuple[str, int], str] = {}
    for table, ids in wanted.items():
        spec = next((m for m in registry.modules() if m.model.__table__ is table), None)
        if spec is not None:
            first = spec.searchable.first_name if spec.searchable is not None else None
            model = spec.model
            columns = [model.id, getattr(model, spec.number_field), getattr(model, spec.title)]
            columns += [getattr(model, first)] if first else []
            for row in session.execute(select(*columns).where(model.id.in_(ids))):
                title = display_name(row[3], row[2]) if first else str(row[2] or "")
                shown[(table.name, row[0])] = f"{row[1]} {title}".strip()
        elif "name" in table.c:
            for row_id, name in session.execute(select(table.c.id, table.c.name).where(table.c.id.in_(ids))):
                shown[(table.name, row_id)] = str(name)
    return shown


def _user(shown: dict[tuple[str, int], str], user_id: Any, language: str) -> str:
    if user_id is None:
        return translate(language, N_("Unassigned"))
    return shown.get(("users", user_id), f"#{user_id}")


def _value(field: str, value: Any, targets: dict[str, Table], shown: dict[tuple[str, int], str], language: str) -> str:
    table = targets.get(field)
    if table is not None and isinstance(value, int) and not isinstance(value, bool):
        return shown.get((table.name, value), f"#{value}")
    return _plain(value, language)


def _plain(value: Any, language: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return translate(language, N_("Yes") if value else N_("No"))
    return translate_value(language, value) if isinstance(value, str) else str(value)
