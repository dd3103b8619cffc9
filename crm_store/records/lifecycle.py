"""Create, update and delete leads, accounts, contacts, opportunities and campaigns.

Every function takes the caller's session and never commits: the edge owns the transaction,
so a failed validation leaves nothing half-written. Quotes, sales orders and invoices are saved with
their lines, totals and stock by `crm_store.sales.documents`: `create` and `update` hand them over, and
an invoice gives its stock back when it goes to the recycle bin and takes it again when restored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM, Actor
from crm_store.db.fast_insert import insert_rows, reserve_ids
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Account, Base, Campaign, Contact, Currency, Invoice, Lead, Opportunity, SalesStage, utcnow
from crm_store.pipeline import stages
from crm_store.records import audit, numbering, registry
from crm_store.records.duplicates import duplicates_of
from crm_store.records.validation import Validator
from crm_store.search import index as search_index
from crm_store.settings import company

R = TypeVar("R", bound=Base)
# Changes by staff to these fields count as a touch (stage changes are touched in `stages`).
STAFF_TOUCH_FIELDS = {"leads": {"status"}}


def create(
    session: Session,
    module: str,
    values: dict[str, Any],
    actor: Actor = SYSTEM,
    *,
    at: dt.datetime | None = None,
    batch_id: int | None = None,
    validator: Validator | None = None,
) -> Any:
    """Validate and add one record; `at` back-dates it (imports, demo data)."""
    spec = registry.get(module)
    if not spec.editable:
        raise ValidationError("module", N_("%(module)s are not created this way"), module=module)
    values = dict(values)
    if (documents := _sales_documents(module)) is not None:  # with their lines: {"lines": [...], ...}
        lines = values.pop("lines", None)
        return documents.create(session, module, values, lines, actor, at=at).document
    stage = values.pop("stage", None)
    currency = values.pop("currency", None)
    at = at or utcnow()
    clean = _checked(session, module, values, validator, at)
    if module == "opportunities":
        stage_row = _prepare_opportunity(session, clean, stage, currency)
    record = spec.model(**clean, created_by_id=actor.user_id, batch_id=batch_id, created_at=at, updated_at=at)
    session.add(record)
    session.flush()
    if module == "opportunities":
        stages.enter_first_stage(session, record, stage_row, actor, at)
        session.flush()
    columns = [c.name for c in record.__table__.columns]
    audit.log(session, "create", module, record.id, actor, record_no=getattr(record, spec.number_field),
              changes=audit.created_values(record, columns), at=at)
    if module == "leads":
        search_index.index_new_lead(session, record)
    else:
        reindex(session, record)
    return record


_INSERT_LEAD = insert(Lead.__table__).returning(Lead.__table__.c.id)


def insert_lead(
    session: Session, values: dict[str, Any], actor: Actor = SYSTEM, *, at: dt.datetime | None = None,
    validator: Validator | None = None,
) -> dict[str, Any]:
    """`create("leads", …)` with Core statements and no ORM object: the web form's lean path.

    The same rules — validation, references, numbering, audit, search — at a fraction of the cost;
    returns the stored values with the new `id`.
    """
    at = at or utcnow()
    clean = _checked(session, "leads", dict(values), validator, at)
    row = {**clean, "created_by_id": actor.user_id, "created_at": at, "updated_at": at}
    row["id"] = session.execute(_INSERT_LEAD, row).scalar_one()
    columns = [c.name for c in Lead.__table__.columns]
    audit.write(session, "create", "leads", row["id"], actor, record_no=row["lead_no"],
                changes=audit.created_values(row, columns), at=at)
    search_index.index_new_lead(session, row)
    return row


def insert_leads(
    session: Session, cleans: Sequence[dict[str, Any]], actors: Sequence[Actor], ats: Sequence[dt.datetime]
) -> list[dict[str, Any]]:
    """Insert many leads whose values are already checked (`Validator.clean`, `check_references`).

    What `insert_lead` does for each, with one statement per step for all of them: numbers, the rows,
    their audit rows and their search documents. Returns the stored values with each new `id`.
    """
    if not cleans:
        return []
    table = Lead.__table__
    numbers = iter(numbering.allocate(session, "leads", sum(1 for c in cleans if not c.get("lead_no"))))
    rows = []
    for clean, actor, at, new_id in zip(cleans, actors, ats, reserve_ids(session, table, len(cleans)), strict=True):
        row = {**clean, "id": new_id, "created_by_id": actor.user_id, "created_at": at, "updated_at": at}
        row["lead_no"] = row.get("lead_no") or next(numbers)
        if row.get("owner_id") is not None:
            row.setdefault("assigned_at", at)
        rows.append(row)
    insert_rows(session, table, rows)
    columns = [c.name for c in table.columns]
    audit.write_many(session, [
        audit.entry("create", "leads", row["id"], actor, record_no=row["lead_no"],
                    changes=audit.created_values(row, columns), at=row["created_at"])
        for row, actor in zip(rows, actors, strict=True)
    ])
    search_index.index_new_leads(session, rows)
    return rows


def update(session: Session, record: R, values: dict[str, Any], actor: Actor = SYSTEM) -> R:
    """Validate and apply changed values; a stage change goes through the stage history."""
    spec = registry.of_record(record)
    module = spec.name
    values = dict(values)
    if (documents := _sales_documents(module)) is not None:  # totals, locks and stock are theirs
        lines = values.pop("lines", None)
        saved: R = documents.update(session, record, values, lines, actor).document
        return saved
    stage = values.pop("stage", None)
    currency = values.pop("currency", None)
    if spec.number_field in values:
        raise ValidationError(spec.number_field, N_("record numbers cannot be changed"))
    v = Validator.for_session(session)
    clean = v.clean(module, values, partial=True)
    v.check_references(session, module, [clean])
    changed = {k: val for k, val in clean.items() if getattr(record, k) != val}
    now = utcnow()
    if isinstance(record, Opportunity) and (currency is not None or "amount" in changed):
        _copy_rate(session, changed, currency or record.currency_id)
    before = {name: getattr(record, name) for name in changed}
    for name, value in changed.items():
        setattr(record, name, value)
    if isinstance(record, Lead) and "owner_id" in changed:
        record.assigned_at = now if record.owner_id is not None else None
    _audit_changes(session, module, record, before, changed, actor, now)
    if actor.is_staff and changed.keys() & STAFF_TOUCH_FIELDS.get(module, set()):
        touched: Any = record  # a module with staff-touch fields is Touchable
        touched.last_touch_at = now
    if isinstance(record, Opportunity) and stage is not None:
        stages.change_stage(session, record, stage, actor, at=now)
    session.flush()
    reindex(session, record)
    return record


def _audit_changes(
    session: Session, module: str, record: Any, before: dict[str, Any], after: dict[str, Any], actor: Actor,
    at: dt.datetime,
) -> None:
    number = getattr(record, registry.get(module).number_field)
    if "owner_id" in after:
        audit.log(session, "assign", module, record.id, actor, record_no=number,
                  changes=audit.diff({"owner_id": before["owner_id"]}, {"owner_id": after["owner_id"]}), at=at)
    rest = {k: v for k, v in after.items() if k != "owner_id"}
    if rest:
        audit.log(session, "update", module, record.id, actor, record_no=number,
                  changes=audit.diff(before, rest), at=at)


def delete(session: Session, record: Any, actor: Actor = SYSTEM) -> None:
    """Move a record to the recycle bin (soft delete); it keeps its number."""
    if record.deleted_at is not None:
        raise ValidationError("id", N_("the record is already deleted"))
    stock_follows_bin(session, record, actor, binned=True)
    record.deleted_at = utcnow()
    spec = registry.of_record(record)
    audit.log(session, "delete", spec.name, record.id, actor, record_no=getattr(record, spec.number_field))
    session.flush()
    reindex(session, record)


def restore(session: Session, record: Any, actor: Actor = SYSTEM, *, force: bool = False) -> None:
    """Bring a record back from the recycle bin, unless it would duplicate a live record."""
    if record.deleted_at is None:
        raise ValidationError("id", N_("the record is not in the recycle bin"))
    spec = registry.of_record(record)
    if not force and spec.duplicates is not None:
        twins = duplicates_of(session, record)
        if twins:
            numbers = ", ".join(getattr(t, spec.number_field) for t in twins)
            raise ValidationError(
                "id", N_("restoring would duplicate %(numbers)s; merge them, or restore with --force"), numbers=numbers
            )
    stock_follows_bin(session, record, actor, binned=False)
    record.deleted_at = None
    audit.log(session, "restore", spec.name, record.id, actor, record_no=getattr(record, spec.number_field))
    session.flush()
    reindex(session, record)


def stock_follows_bin(session: Session, record: Any, actor: Actor, *, binned: bool) -> None:
    """An invoice gives its stock back when binned and takes it again when restored (as Vtiger does); call it
    before changing `deleted_at`, from every path that bins or restores a record."""
    if isinstance(record, Invoice):
        from crm_store.sales import stock  # sales builds on records: loaded only when an invoice moves

        if binned:
            stock.give_back(session, record, actor)
        else:
            stock.take_again(session, record, actor)


def _sales_documents(module: str) -> Any:
    """`crm_store.sales.documents` when the module is one of its documents (quotes, orders, invoices), else None."""
    from crm_store.sales import documents  # sales builds on records: loaded when first needed

    return documents if module in documents.MODELS else None


def reindex(session: Session, *changed: Any) -> None:
    """Bring the search documents of changed records up to date (campaigns are not searched)."""
    by_module: dict[str, list[int]] = {}
    for record in changed:
        spec = registry.of_record(record)
        if spec.searchable is not None:
            by_module.setdefault(spec.name, []).append(record.id)
    for module, ids in by_module.items():
        search_index.index_records(session, module, ids)


def get_by_number(session: Session, number: str) -> Any:
    """Return the record with this number (LEA12, ACC3, ...) of any module."""
    spec = registry.by_number(number)
    if spec is not None and spec.editable:
        column = getattr(spec.model, spec.number_field)
        found = session.scalar(select(spec.model).where(column == number.strip().upper()))
        if found is not None:
            return found
    raise NotFound(f"no record numbered {number!r}")


def _checked(
    session: Session, module: str, values: dict[str, Any], validator: Validator | None, at: dt.datetime
) -> dict[str, Any]:
    """What `create` and `insert_lead` share: validate, check references, number, stamp the assignment."""
    v = validator or Validator.for_session(session)
    clean = v.clean(module, values)
    v.check_references(session, module, [clean])
    _number(session, module, clean)
    if clean.get("owner_id") is not None and "assigned_at" in registry.get(module).model.__table__.columns:
        clean.setdefault("assigned_at", at)
    return clean


def _number(session: Session, module: str, clean: dict[str, Any]) -> None:
    spec = registry.get(module)
    field = spec.number_field
    given = clean.get(field)
    if given is None:
        clean[field] = numbering.allocate(session, module)[0]
        return
    given = given.upper()
    model = spec.model
    if session.scalar(select(model.id).where(getattr(model, field) == given)) is not None:
        raise ValidationError(field, N_("%(number)s is already taken"), number=given)
    numbering.adopt(session, module, [given])
    clean[field] = given


def _prepare_opportunity(session: Session, clean: dict[str, Any], stage: Any, currency: Any) -> Any:
    process_id = clean.get("sales_process_id") or stages.default_process(session).id
    clean["sales_process_id"] = process_id
    stage_row = (
        stages.find_stage(session, process_id, stage)
        if stage is not None
        else min(_process_stages(session, process_id), key=lambda s: s.position)
    )
    clean["stage_id"] = stage_row.id
    _copy_rate(session, clean, currency or clean.get("currency_id") or company.get(session, "default_currency"))
    return stage_row


def _process_stages(session: Session, process_id: int) -> list[SalesStage]:
    return list(session.scalars(select(SalesStage).where(SalesStage.sales_process_id == process_id)))


def _copy_rate(session: Session, clean: dict[str, Any], currency: str | int) -> None:
    """Store the currency and copy its exchange rate as it is at save time."""
    column = Currency.id if isinstance(currency, int) else Currency.code
    key = currency if isinstance(currency, int) else str(currency).upper()
    found = session.scalar(select(Currency).where(column == key, Currency.active))
    if found is None:
        raise ValidationError("currency", N_("%(currency)s is not an active currency"), currency=repr(currency))
    clean["currency_id"] = found.id
    clean["conversion_rate"] = found.exchange_rate


def create_lead(session: Session, values: dict[str, Any], actor: Actor = SYSTEM, **kw: Any) -> Lead:
    """Add a lead."""
    return create(session, "leads", values, actor, **kw)


def create_account(session: Session, values: dict[str, Any], actor: Actor = SYSTEM, **kw: Any) -> Account:
    """Add an account."""
    return create(session, "accounts", values, actor, **kw)


def create_contact(session: Session, values: dict[str, Any], actor: Actor = SYSTEM, **kw: Any) -> Contact:
    """Add a contact."""
    return create(session, "contacts", values, actor, **kw)


def create_opportunity(session: Session, values: dict[str, Any], actor: Actor = SYSTEM, **kw: Any) -> Opportunity:
    """Add an opportunity in its first (or the given) stage, with its first stage-history row."""
    return create(session, "opportunities", values, actor, **kw)


def create_campaign(session: Session, values: dict[str, Any], actor: Actor = SYSTEM, **kw: Any) -> Campaign:
    """Add a campaign."""
    return create(session, "campaigns", values, actor, **kw)
