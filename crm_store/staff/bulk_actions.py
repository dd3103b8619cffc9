"""What staff do to many selected rows of a list at once: reassign, change the status, delete to the recycle bin.

All or nothing: every selected id is checked first — a live record of the module that the user may see (the
scope's one rule) — and a single one that is not refuses the whole action before anything is written; the
caller's transaction holds the rest. Then set-based: one UPDATE for the records that change, the audit rows in
one insert (as `records.lifecycle` writes them for one record: "assign", "update", "delete"), the search
documents brought up to date, and a reassigned lead's follow-up cadence started as `actions.change_owner` does.
Invoices keep Vtiger's stock rules: deleted ones give their stock back, and a status change is each invoice's
own save (`sales.documents.update`: the Paid and Cancel locks, stock given back or taken again).

Whom records may go to is the record page's rule (`webform/staff/records/pickers.owners`): an active user
whose records the acting user sees (anyone for an admin; a rep: themselves, and teammates when shared).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation import cadence
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import User, utcnow
from crm_store.records import audit, registry
from crm_store.records.lifecycle import STAFF_TOUCH_FIELDS
from crm_store.records.validation import Validator
from crm_store.search import index as search_index
from crm_store.staff import scope as scoping

MOST_SELECTED = 500  # a page of a list is at most 200 rows


def selected(session: Session, user: User, module: str, ids: Collection[int],
             scope: scoping.Scope | None = None, *, lock: bool = True) -> list[Row[Any]]:
    """The selected records (id, number, owner_id and status where the module has one), each live and in scope.

    Refuses the whole selection — naming none of them — when one is not: gone, deleted, or not the user's to see.
    """
    wanted = sorted(set(ids))
    if not wanted:
        raise ValidationError("ids", N_("select at least one record"))
    if len(wanted) > MOST_SELECTED:
        raise ValidationError("ids", N_("select at most %(most)s records at once"), most=MOST_SELECTED)
    spec = registry.get(module)
    model = spec.model
    scope = scope or scoping.scope_of(session, user)
    columns = [model.id, getattr(model, spec.number_field).label("number"), model.owner_id]
    if "status" in model.__table__.columns:
        columns.append(model.status)
    stmt = select(*columns).where(model.id.in_(wanted), model.deleted_at.is_(None), scoping.condition(scope, module))
    rows = list(session.execute(stmt.with_for_update() if lock else stmt))
    if len(rows) != len(wanted):
        raise ValidationError(
            "ids", N_("%(count)s of the selected records are gone or not yours to change"),
            count=len(wanted) - len(rows))
    return rows


def assignable(session: Session, user: User, owner_id: int, scope: scoping.Scope | None = None) -> User:
    """The user records may be given to: active, and one whose records `user` sees (anyone, for an admin)."""
    owner = session.get(User, owner_id)
    scope = scope or scoping.scope_of(session, user)
    if owner is None or not owner.active or not (scope.everything or owner.id in scope.owners | {user.id}):
        raise ValidationError("owner_id", N_("user %(id)s is not an active user you may assign records to"),
                              id=owner_id)
    return owner


def reassign(session: Session, user: User, module: str, ids: Collection[int], owner_id: int) -> int:
    """Give the selected records to another user; return how many changed owner (those already theirs stay)."""
    scope = scoping.scope_of(session, user)
    owner = assignable(session, user, owner_id, scope)
    rows = [row for row in selected(session, user, module, ids, scope) if row.owner_id != owner.id]
    if not rows:
        return 0
    model, now = registry.get(module).model, utcnow()
    values: dict[str, Any] = {"owner_id": owner.id, "updated_at": now}
    if "assigned_at" in model.__table__.columns:
        values["assigned_at"] = now
    _update(session, model, [row.id for row in rows], values)
    audit.log_many(session, "assign", module, [
        (row.id, row.number, {"owner_id": [row.owner_id, owner.id]}) for row in rows
    ], Actor.user(user.id), at=now)
    _reindex(session, module, rows)
    if module == "leads":  # a new owner: the lead's cadence starts, unless it has (as on the record page)
        cadence.start(session, [(row.id, owner.id, now) for row in rows], cadence.calendar_for(session))
    return len(rows)


def change_status(session: Session, user: User, module: str, ids: Collection[int], status: str) -> int:
    """Set the selected records' status (a value of the module's status picklist); return how many changed."""
    if "status" not in registry.get(module).picklists:
        raise ValidationError("status", N_("%(module)s have no status"), module=module)
    if not (status or "").strip():
        raise ValidationError("status", N_("is required"))
    value = Validator.for_session(session).clean(module, {"status": status}, partial=True)["status"]
    rows = [row for row in selected(session, user, module, ids) if row.status != value]
    if not rows:
        return 0
    if module == "invoices":
        return _invoice_statuses(session, user, [row.id for row in rows], value)
    model, now = registry.get(module).model, utcnow()
    values: dict[str, Any] = {"status": value, "updated_at": now}
    if "status" in STAFF_TOUCH_FIELDS.get(module, set()):  # a person's status change is a touch
        values["last_touch_at"] = now
    _update(session, model, [row.id for row in rows], values)
    audit.log_many(session, "update", module, [
        (row.id, row.number, {"status": [row.status, value]}) for row in rows
    ], Actor.user(user.id), at=now)
    _reindex(session, module, rows)
    return len(rows)


def delete(session: Session, user: User, module: str, ids: Collection[int]) -> int:
    """Move the selected records to the recycle bin (they keep their numbers); return how many."""
    if not registry.get(module).editable:
        raise ValidationError("module", N_("%(module)s are not deleted this way"), module=module)
    rows = selected(session, user, module, ids)
    model, now = registry.get(module).model, utcnow()
    if module == "invoices":
        _give_stock_back(session, user, [row.id for row in rows])
    _update(session, model, [row.id for row in rows], {"deleted_at": now})
    audit.log_many(session, "delete", module, [(row.id, row.number, {}) for row in rows], Actor.user(user.id),
                   at=now)
    _reindex(session, module, rows)
    return len(rows)


def _invoice_statuses(session: Session, user: User, ids: list[int], status: str) -> int:
    """Set invoices' status one save each (at most MOST_SELECTED), so locks and stock hold; the first refusal
    (a paid invoice, Paid typed by hand) refuses them all."""
    from crm_store.models import Invoice
    from crm_store.sales import documents

    for invoice in session.scalars(select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id)):
        documents.update(session, invoice, {"status": status}, actor=Actor.user(user.id))
    return len(ids)


def _give_stock_back(session: Session, user: User, ids: list[int]) -> None:
    """Invoices going to the recycle bin give back the stock their lines took (as one invoice deleted does)."""
    from crm_store.models import Invoice
    from crm_store.sales import stock

    for invoice in session.scalars(select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id)):
        stock.give_back(session, invoice, Actor.user(user.id))


def _update(session: Session, model: Any, ids: list[int], values: dict[str, Any]) -> None:
    session.execute(update(model).where(model.id.in_(ids)).values(**values)
                    .execution_options(synchronize_session=False))


def _reindex(session: Session, module: str, rows: Sequence[Row[Any]]) -> None:
    """Bring the changed records' search documents up to date (an open lead's, a deleted one's)."""
    if registry.get(module).searchable is not None:
        search_index.index_records(session, module, [row.id for row in rows])
