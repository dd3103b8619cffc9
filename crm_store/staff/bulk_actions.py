"""What staff do to many selected rows of a list at once: reassign, change the status, delete.

Every list offers them where they make sense (`offers`): the records lists (leads, accounts, contacts,
opportunities), campaigns, activities and documents. All or nothing: every selected id is checked first — a live
row of the list that the user may change — and a single one that is not refuses the whole action before anything
is written; the caller's transaction holds the rest. Then set-based: one UPDATE for the rows that change, the
audit rows in one insert (as `records.lifecycle` writes them for one record: "assign", "update", "delete"), the
search documents brought up to date, and a reassigned lead's follow-up cadence started as `actions.change_owner`
does.
Invoices keep Vtiger's stock rules: deleted ones give their stock back, and a status change is each invoice's
own save (`sales.documents.update`: the Paid and Cancel locks, stock given back or taken again).

Who may change a row is the scope's owner rule (`crm_store.staff.scope`): a record of the four modules the user
sees (the pool's leads too, for its members); a campaign, activity or document whose owner's records the user
sees — anyone's for an admin. Seeing is wider than that for campaigns (everyone's) and documents (also those
attached to a record in the scope), changing is not.

Whom rows may go to is the record page's rule (`webform/staff/records/pickers.owners`): an active user whose
records the acting user sees (anyone for an admin; a rep: themselves, and teammates when shared).

A task's or email's status comes from `task_status`, a call's or meeting's from `event_status`; a status that
ends an activity (Completed, Held) completes it as `pipeline.activities.complete_activity` does, and an activity
done already keeps its status. Deleted campaigns wait in the recycle bin (`in_bin`); deleted activities and
documents only leave the lists.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, false, null, select, true, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation import cadence
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Activity, User, utcnow
from crm_store.pipeline import activities
from crm_store.records import audit, registry
from crm_store.records.lifecycle import STAFF_TOUCH_FIELDS
from crm_store.records.listing import LISTS, MODULES, model_of
from crm_store.records.validation import Validator
from crm_store.search import index as search_index
from crm_store.settings import picklists
from crm_store.staff import scope as scoping

MOST_SELECTED = 500  # a page of a list is at most 200 rows
ACTIVITY_STATUSES = ("task_status", "event_status")  # tasks and emails; calls and meetings


def status_picklists(module: str) -> tuple[str, ...]:
    """The picklists a list's status comes from (none: its rows have no status to change)."""
    if module == "activities":
        return ACTIVITY_STATUSES
    spec = registry.get(module)
    name = spec.picklists.get("status")
    return (name,) if name and "status" in spec.model.__table__.columns else ()


def can_delete(module: str) -> bool:
    """Whether a list's rows may be deleted from it."""
    if module in ("activities", "documents"):
        return True
    spec = registry.get(module)
    return spec.editable and "deleted_at" in spec.model.__table__.columns


def in_bin(module: str) -> bool:
    """Whether a list's deleted rows wait in the recycle bin (to be restored) rather than only leave the list."""
    return module in registry.names(editable=True)


def offers(module: str) -> tuple[str, ...]:
    """The bulk actions of a list: reassign, status, delete."""
    found = ["reassign"] if "owner_id" in model_of(module).__table__.columns else []
    found += ["status"] if status_picklists(module) else []
    found += ["delete"] if can_delete(module) else []
    return tuple(found)


def may_change(scope: scoping.Scope, module: str, owner_id: int | None) -> bool:
    """Whether a row of the list with this owner is the user's to change (what `reach` says in SQL)."""
    if scope.everything:
        return True
    if module in MODULES:
        return scope.sees_owner(owner_id, module)
    return owner_id is not None and owner_id in scope.owners


def reach(scope: scoping.Scope, module: str) -> ColumnElement[bool]:
    """The SQL condition on a list's model for the rows the user may change."""
    if scope.everything:
        return true()
    if module in MODULES:
        return scoping.condition(scope, module)
    model = model_of(module)
    return model.owner_id.in_(sorted(scope.owners)) if scope.owners else false()


def selected(session: Session, user: User, module: str, ids: Collection[int],
             scope: scoping.Scope | None = None, *, lock: bool = True) -> list[Row[Any]]:
    """The selected rows (id, number, owner_id, and status, type and completed_at where the list's rows have them),
    each live and the user's to change.

    Refuses the whole selection — naming none of them — when one is not: gone, deleted, or not the user's to change.
    """
    if module not in LISTS and module not in registry.names():  # the sales documents' lists come in part 2
        raise ValidationError("module", N_("%(module)s has no list; one of %(choices)s"), module=repr(module),
                              choices=", ".join(LISTS))
    wanted = sorted(set(ids))
    if not wanted:
        raise ValidationError("ids", N_("select at least one record"))
    if len(wanted) > MOST_SELECTED:
        raise ValidationError("ids", N_("select at most %(most)s records at once"), most=MOST_SELECTED)
    model = model_of(module)
    scope = scope or scoping.scope_of(session, user)
    number = getattr(model, registry.get(module).number_field) if module in registry.names() else null()
    columns = [model.id, number.label("number"), model.owner_id]
    columns += [getattr(model, c) for c in ("status", "type", "completed_at") if c in model.__table__.columns]
    stmt = select(*columns).where(model.id.in_(wanted), model.deleted_at.is_(None), reach(scope, module))
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
    """Give the selected rows to another user; return how many changed owner (those already theirs stay)."""
    if "reassign" not in offers(module):
        raise ValidationError("owner_id", N_("%(module)s have no owner"), module=module)
    scope = scoping.scope_of(session, user)
    owner = assignable(session, user, owner_id, scope)
    rows = [row for row in selected(session, user, module, ids, scope) if row.owner_id != owner.id]
    if not rows:
        return 0
    model, now = model_of(module), utcnow()
    values: dict[str, Any] = {"owner_id": owner.id}
    values.update({c: now for c in ("updated_at", "assigned_at") if c in model.__table__.columns})
    _update(session, model, [row.id for row in rows], values)
    audit.log_many(session, "assign", module, [
        (row.id, row.number, {"owner_id": [row.owner_id, owner.id]}) for row in rows
    ], Actor.user(user.id), at=now)
    _reindex(session, module, rows)
    if module == "leads":  # a new owner: the lead's cadence starts, unless it has (as on the record page)
        cadence.start(session, [(row.id, owner.id, now) for row in rows], cadence.calendar_for(session))
    return len(rows)


def change_status(session: Session, user: User, module: str, ids: Collection[int], status: str) -> int:
    """Set the selected rows' status (a value of the list's status picklist); return how many changed."""
    if not status_picklists(module):
        raise ValidationError("status", N_("%(module)s have no status"), module=module)
    if not (status or "").strip():
        raise ValidationError("status", N_("is required"))
    if module == "activities":
        return _activity_status(session, user, ids, status.strip())
    value = Validator.for_session(session).clean(module, {"status": status}, partial=True)["status"]
    rows = [row for row in selected(session, user, module, ids) if row.status != value]
    if not rows:
        return 0
    if module == "invoices":
        return _invoice_statuses(session, user, [row.id for row in rows], value)
    model, now = model_of(module), utcnow()
    values: dict[str, Any] = {"status": value, "updated_at": now}
    if "status" in STAFF_TOUCH_FIELDS.get(module, set()):  # a person's status change is a touch
        values["last_touch_at"] = now
    _update(session, model, [row.id for row in rows], values)
    _log_status(session, user, module, rows, value, now)
    _reindex(session, module, rows)
    return len(rows)


def delete(session: Session, user: User, module: str, ids: Collection[int]) -> int:
    """Delete the selected rows (records go to the recycle bin and keep their numbers); return how many."""
    if not can_delete(module):
        raise ValidationError("module", N_("%(module)s are not deleted this way"), module=module)
    rows = selected(session, user, module, ids)
    model, now = model_of(module), utcnow()
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


def _activity_status(session: Session, user: User, ids: Collection[int], value: str) -> int:
    """Set activities' status: one every selected activity's type has; a status that ends one completes it."""
    rows = selected(session, user, "activities", ids)
    allowed = picklists.all_values(session)
    wrong = [row for row in rows if value not in allowed.get(activities.status_picklist(row.type), frozenset())]
    if wrong:
        raise ValidationError("status", N_("%(count)s of the selected activities cannot have the status %(status)s"),
                              count=len(wrong), status=value)
    rows = [row for row in rows if row.status != value]
    done = [row for row in rows if row.completed_at is not None]
    if done:
        message = N_("%(count)s of the selected activities are done already: their status stays")
        raise ValidationError("status", message, count=len(done))
    if not rows:
        return 0
    now, actor = utcnow(), Actor.user(user.id)
    ending = {row.id for row in rows if value == activities.DONE_STATUS[row.type]}
    if len(ending) < len(rows):
        _update(session, Activity, [row.id for row in rows if row.id not in ending],
                {"status": value, "updated_at": now})
    for activity_id in sorted(ending):  # every completion passes there: the records touched, the cadence told
        activities.complete_activity(session, session.get_one(Activity, activity_id), actor, at=now)
    _log_status(session, user, "activities", rows, value, now)
    return len(rows)


def _log_status(session: Session, user: User, module: str, rows: Sequence[Row[Any]], value: str, at: Any) -> None:
    audit.log_many(session, "update", module, [
        (row.id, row.number, {"status": [row.status, value]}) for row in rows
    ], Actor.user(user.id), at=at)


def _update(session: Session, model: Any, ids: list[int], values: dict[str, Any]) -> None:
    session.execute(update(model).where(model.id.in_(ids)).values(**values)
                    .execution_options(synchronize_session=False))


def _reindex(session: Session, module: str, rows: Sequence[Row[Any]]) -> None:
    """Bring the changed records' search documents up to date (an open lead's, a deleted one's)."""
    if module in registry.names(searchable=True):
        search_index.index_records(session, module, [row.id for row in rows])
