"""The bulk path for demo data and imports: the same validation and numbering, set-based writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.db.fast_insert import insert_rows, reserve_ids
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Activity, Batch, Currency, Note, SalesProcess, SalesStage, StageHistory, utcnow
from crm_store.pipeline import activities, stages
from crm_store.records import audit, numbering, registry
from crm_store.records.validation import Validator, coerce
from crm_store.settings import company

CHUNK = 5000
# Values the bulk path accepts besides the fields of a record: back-dating for imports and demo data.
TIMESTAMP_FIELDS = ("created_at", "updated_at", "last_touch_at")


@dataclass
class BulkContext:
    """What a bulk load reads once: validation data, stages, currencies."""

    validator: Validator
    stages_by_name: dict[tuple[int, str], SalesStage]
    stages_by_id: dict[int, SalesStage]
    default_process_id: int
    currencies: dict[str, Currency]
    default_currency: str
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> BulkContext:
        """Read what validation needs, once for the whole load."""
        all_stages = list(session.scalars(select(SalesStage)))
        default = session.scalar(select(SalesProcess.id).where(SalesProcess.is_default))
        if default is None:
            raise ValidationError("sales_process_id", N_("no default sales process; run `crm init`"))
        return cls(
            validator=Validator.for_session(session),
            stages_by_name={(s.sales_process_id, s.name): s for s in all_stages},
            stages_by_id={s.id: s for s in all_stages},
            default_process_id=default,
            currencies={c.code: c for c in session.scalars(select(Currency).where(Currency.active))},
            default_currency=company.get(session, "default_currency"),
        )


def new_batch(session: Session, kind: str, name: str, created_by_id: int | None = None) -> Batch:
    """Open an import or demo batch that the records written next will point at."""
    if kind not in ("import", "demo"):
        raise ValidationError("kind", N_("%(value)s is not import or demo"), value=repr(kind))
    batch = Batch(kind=kind, name=name, created_by_id=created_by_id)
    session.add(batch)
    session.flush()
    return batch


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_records(
    session: Session,
    module: str,
    rows: Iterable[dict[str, Any]],
    ctx: BulkContext,
    *,
    batch: Batch | None = None,
    progress: Callable[[int], None] | None = None,
    actor: Actor | None = None,
) -> list[int]:
    """Validate and insert many records; return their ids in input order; audited set-based.

    Every row is checked exactly as `records.create` checks it, and the first bad row fails
    the load with its row number; the caller's transaction then rolls back everything.
    """
    spec = registry.get(module)
    table = spec.model.__table__
    ids: list[int] = []
    offset = 0
    for chunk in _chunks(rows, CHUNK):
        clean, histories = _clean_chunk(session, module, chunk, ctx, offset, batch)
        chunk_ids = reserve_ids(session, table, len(clean))
        for row, new_id in zip(clean, chunk_ids, strict=True):
            row["id"] = new_id
        insert_rows(session, table, clean)
        audit.log_created(
            session, module, table, spec.number_field, chunk_ids,
            actor or Actor.system(batch.kind if batch else "import"),
            {"batch_id": [None, batch.id if batch else None]},
        )
        if histories:
            _insert_histories(session, chunk_ids, histories, ctx)
        ids.extend(chunk_ids)
        offset += len(chunk)
        if progress:
            progress(len(chunk))
    ctx.counts[module] = ctx.counts.get(module, 0) + len(ids)
    if batch is not None:
        batch.row_count += len(ids)
    return ids


def _clean_chunk(
    session: Session, module: str, chunk: list[dict[str, Any]], ctx: BulkContext, offset: int, batch: Batch | None
) -> tuple[list[dict[str, Any]], list[list[stages.StageStep]]]:
    v = ctx.validator
    now = utcnow()
    clean_rows: list[dict[str, Any]] = []
    histories: list[list[stages.StageStep]] = []
    for i, raw in enumerate(chunk, offset + 1):
        row = dict(raw)
        extra = {k: row.pop(k) for k in TIMESTAMP_FIELDS if k in row}
        history = row.pop("history", None)
        currency = row.pop("currency", None)
        try:
            clean = v.clean(module, row)
            for k, value in extra.items():
                clean[k] = coerce(k, registry.get(module).model.__table__.c[k].type, value)
            clean.setdefault("created_at", now)
            clean.setdefault("updated_at", clean["created_at"])
            if module == "leads" and clean.get("owner_id") is not None:
                clean.setdefault("assigned_at", clean["created_at"])
            if module == "opportunities":
                histories.append(_opportunity(clean, history, currency, ctx))
        except ValidationError as exc:
            raise exc.at_row(i) from None
        clean["batch_id"] = batch.id if batch else None
        clean_rows.append(clean)
    try:
        v.check_references(session, module, clean_rows)
        _numbers(session, module, clean_rows)
    except ValidationError as exc:
        at_row = exc.row + offset if exc.row is not None else None
        raise exc.at_row(at_row) from None
    return clean_rows, histories


def _numbers(session: Session, module: str, rows: list[dict[str, Any]]) -> None:
    spec = registry.get(module)
    field_name = spec.number_field
    given = [r[field_name].upper() for r in rows if r.get(field_name)]
    if given:
        if len(set(given)) != len(given):
            raise ValidationError(field_name, N_("the same number appears twice in the load"))
        model = spec.model
        column = getattr(model, field_name)
        taken = session.scalar(select(column).where(column.in_(given)).limit(1))
        if taken is not None:
            row = next(i for i, r in enumerate(rows, 1) if (r.get(field_name) or "").upper() == taken)
            raise ValidationError(field_name, N_("%(number)s is already taken"), row=row, number=taken)
        numbering.adopt(session, module, given)
    missing = [r for r in rows if not r.get(field_name)]
    for r, number in zip(missing, numbering.allocate(session, module, len(missing)), strict=True):
        r[field_name] = number
    for r in rows:
        r[field_name] = r[field_name].upper()


def _opportunity(
    clean: dict[str, Any], history: Sequence[tuple[Any, dt.datetime, int | None]] | None, currency: Any,
    ctx: BulkContext,
) -> list[stages.StageStep]:
    process_id = clean.setdefault("sales_process_id", ctx.default_process_id)
    code = str(currency or ctx.default_currency).upper()
    if code not in ctx.currencies:
        raise ValidationError("currency", N_("%(currency)s is not an active currency"), currency=repr(currency))
    clean["currency_id"] = ctx.currencies[code].id
    clean["conversion_rate"] = ctx.currencies[code].exchange_rate
    if not history:
        stages_of_process = (s for s in ctx.stages_by_id.values() if s.sales_process_id == process_id)
        first = min(stages_of_process, key=lambda s: s.position)
        history = [(first.name, clean["created_at"], clean.get("created_by_id"))]
    steps = []
    for stage_ref, at, user_id in history:
        if isinstance(stage_ref, int):
            stage = ctx.stages_by_id.get(stage_ref)
        else:
            stage = ctx.stages_by_name.get((process_id, stage_ref))
        if stage is None or stage.sales_process_id != process_id:
            raise ValidationError(
                "stage", N_("%(stage)s is not a stage of this opportunity's sales process"), stage=repr(stage_ref)
            )
        steps.append(
            stages.StageStep(
                stage_id=stage.id,
                probability=stage.probability,
                amount=clean.get("amount"),
                expected_close_date=clean.get("expected_close_date"),
                entered_at=coerce("entered_at", StageHistory.__table__.c.entered_at.type, at),
                changed_by_id=user_id,
            )
        )
    last = ctx.stages_by_id[steps[-1].stage_id]
    clean["stage_id"] = last.id
    clean["stage_entered_at"] = steps[-1].entered_at
    clean.setdefault("probability", last.probability)
    clean["closed_at"] = steps[-1].entered_at if last.is_closed else None
    stages.history_rows(0, steps)  # checks time order now, so the row number is in the error
    return steps


def _insert_histories(
    session: Session, ids: list[int], histories: list[list[stages.StageStep]], ctx: BulkContext
) -> None:
    rows = [row for opp_id, steps in zip(ids, histories, strict=True)
            for row in stages.history_rows(opp_id, steps, history=True)]  # an import's or the demo's: no playbooks
    for chunk in _chunks(rows, CHUNK * 2):
        insert_rows(session, StageHistory.__table__, chunk)
    ctx.counts["stage_history"] = ctx.counts.get("stage_history", 0) + len(rows)


def insert_activities(
    session: Session,
    rows: Iterable[dict[str, Any]],
    ctx: BulkContext,
    *,
    batch: Batch | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Validate and insert many activities; return how many."""
    return _insert_plain(session, Activity, rows, ctx, batch, progress, activities.clean_activity)


def insert_notes(
    session: Session,
    rows: Iterable[dict[str, Any]],
    ctx: BulkContext,
    *,
    batch: Batch | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Validate and insert many notes; return how many."""
    return _insert_plain(session, Note, rows, ctx, batch, progress, _clean_note)


def _clean_note(values: dict[str, Any], _allowed: dict[str, frozenset[str]]) -> dict[str, Any]:
    columns = Note.__table__.columns
    unknown = next((k for k in values if k not in columns or k in ("id", "deleted_at")), None)
    if unknown is not None:
        raise ValidationError(unknown, N_("is not a field of %(module)s"), module="notes")
    clean = {k: coerce(k, columns[k].type, v) for k, v in values.items()}
    if not clean.get("body"):
        raise ValidationError("body", N_("is required"))
    return clean


def _insert_plain(
    session: Session,
    model: type[Activity] | type[Note],
    rows: Iterable[dict[str, Any]],
    ctx: BulkContext,
    batch: Batch | None,
    progress: Callable[[int], None] | None,
    clean_row: Callable[[dict[str, Any], dict[str, frozenset[str]]], dict[str, Any]],
) -> int:
    total = 0
    v = ctx.validator
    parents = activities.parent_columns()
    for chunk in _chunks(rows, CHUNK):
        now = utcnow()
        clean_rows = []
        for i, raw in enumerate(chunk, total + 1):
            try:
                clean = clean_row(raw, v.allowed)
            except ValidationError as exc:
                raise exc.at_row(i) from None
            clean.setdefault("created_at", now)
            clean.setdefault("updated_at", clean["created_at"])
            clean["batch_id"] = batch.id if batch else None
            clean_rows.append(clean)
        owner_key = "owner_id" if model is Activity else "author_id"
        try:
            _check_ids(session, v, clean_rows, parents, owner_key)
        except ValidationError as exc:
            row = exc.row + total if exc.row is not None else None
            raise exc.at_row(row) from None
        keys = set().union(*(r.keys() for r in clean_rows))
        for r in clean_rows:
            for k in keys - r.keys():
                r[k] = None
        insert_rows(session, model.__table__, clean_rows)
        total += len(clean_rows)
        if progress:
            progress(len(clean_rows))
    name = model.__tablename__
    ctx.counts[name] = ctx.counts.get(name, 0) + total
    if batch is not None:
        batch.row_count += total
    return total


def _check_ids(
    session: Session, v: Validator, rows: list[dict[str, Any]], parents: dict[str, Any], owner_key: str
) -> None:
    probe = [{("owner_id" if k == owner_key else k): r.get(k) for k in (owner_key, *parents)} for r in rows]
    v.check_references(session, "activities", probe, references=parents)
