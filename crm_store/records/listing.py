"""The staff lists of leads, accounts, contacts, opportunities, campaigns, documents and activities: filtered,
sorted, a page at a time, within scope.

Fast at a million rows: a list is sorted only on an indexed key (with the id breaking ties) and paged by
keyset — a cursor holds the key and id of the row it continues from, never an offset. A user who sees
the records of a few owners gets one index range per owner (`owner_id, key, id`), each cut at the page
size and merged, instead of every row of all those owners sorted; an admin reads one range (`key, id`).
The page's rows are then read with their owner's name, by id (`crm_store.records.list_rows`).

Campaigns are everyone's (`scope.EVERYONE`): one range. A document is seen when its owner's records are or it is
attached to a record in the scope: one range, each row checked (`scope.condition`). An activity (a task, call,
meeting or logged email) is seen when its owner's records are, one range per owner like the records; by their
day (`when`: a call's or meeting's start, a task's due day from its start in UTC, else when it was logged).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, true, tuple_, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Activity, CampaignMember, User, utcnow
from crm_store.models.base import UTCDateTime
from crm_store.records import list_rows, registry
from crm_store.settings import company
from crm_store.staff import scope as scoping

MODULES = ("leads", "accounts", "contacts", "opportunities")  # the records with lists and pages of their own
SALES_DOCUMENTS = ("quotes", "sales_orders", "invoices")  # their lists and pages: webform/staff/sales_documents
LISTS = (*MODULES, "campaigns", "documents", "activities", *SALES_DOCUMENTS)  # every list `list_records` pages through
DUE = ("overdue", "today", "week")  # activities: not done and past their day; on the user's today; in 7 days
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_BRANCHES = 64  # owners read one index range each; past this many, one range over all of them


@dataclass(frozen=True)
class SortKey:
    """A sortable column: NOT NULL and indexed (alone and after owner_id), with how a cursor keeps its value.

    `expression`: a key computed from the model's columns (NOT NULL, and indexed as that expression) instead of
    the column named.
    """

    column: str
    load: Callable[[str], Any] = str
    dump: Callable[[Any], str] = str
    expression: Callable[[Any], ColumnElement[Any]] | None = None

    def of(self, model: Any) -> ColumnElement[Any]:
        """The key on `model`: its column, or its expression."""
        return self.expression(model) if self.expression is not None else getattr(model, self.column)


class DayBegins(FunctionElement[dt.datetime]):
    """A date as the moment its day begins in UTC, written as the database keeps moments (to compare with them)."""

    type = UTCDateTime()
    name = "day_begins"
    inherit_cache = True


@compiles(DayBegins)
def _day_begins(element: DayBegins, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMP) AT TIME ZONE 'UTC')"


@compiles(DayBegins, "sqlite")
def _day_begins_sqlite(element: DayBegins, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} || ' 00:00:00.000000')"  # SQLite keeps moments as text


def activity_day(model: Any) -> ColumnElement[dt.datetime]:
    """An activity's moment in the list: a call's or meeting's start, a task's due day, else when it was logged."""
    return func.coalesce(model.start_at, DayBegins(model.due_date), model.created_at, type_=UTCDateTime())


_MOMENT = SortKey("created_at", dt.datetime.fromisoformat, lambda v: v.isoformat())
SORTS: dict[str, dict[str, SortKey]] = {
    "leads": {"created": _MOMENT, "name": SortKey("last_name")},
    "accounts": {"created": _MOMENT, "name": SortKey("name")},
    "contacts": {"created": _MOMENT, "name": SortKey("last_name")},
    "opportunities": {
        "created": _MOMENT, "name": SortKey("name"),
        "close": SortKey("expected_close_date", dt.date.fromisoformat, lambda v: v.isoformat()),
    },
    "campaigns": {"created": _MOMENT, "name": SortKey("name")},
    "documents": {"created": _MOMENT, "name": SortKey("title")},
    "activities": {"created": _MOMENT, "name": SortKey("subject"),
                   "when": SortKey("when", dt.datetime.fromisoformat, lambda v: v.isoformat(), activity_day)},
    **{name: {"created": _MOMENT} for name in SALES_DOCUMENTS},
}
# Where a name typed in the filter may begin: the record's title, and a lead's company.
PREFIX_COLUMNS = {"leads": ("last_name", "company"), "accounts": ("name",), "contacts": ("last_name",),
                  "opportunities": ("name",), "campaigns": ("name",), "documents": ("title",),
                  "activities": ("subject",), **{name: ("subject",) for name in SALES_DOCUMENTS}}
KIND_COLUMNS = {"campaigns": "campaign_type", "activities": "type"}  # what `ListFilter.kind` narrows
CAMPAIGN_MEMBERS = {"leads": "lead_id", "contacts": "contact_id"}  # besides the campaign they came from


@dataclass(frozen=True)
class ListFilter:
    """What a list is narrowed to; every field is optional."""

    owner_id: int | None = None
    unowned: bool = False  # only records without an owner (the pool of leads)
    status: str | None = None  # leads, campaigns, activities
    stage_id: int | None = None  # opportunities
    kind: str | None = None  # a campaign's type; an activity's type (task, call, meeting, email)
    due: str | None = None  # activities: one of DUE, by the user's day in their zone (`as_of`: now by default)
    campaign_id: int | None = None  # leads and contacts from or in the campaign; its opportunities
    as_of: dt.datetime | None = None
    lead_source: str | None = None  # leads, contacts, opportunities
    prefix: str | None = None  # the name (or a lead's company) begins with it, as typed
    created_from: dt.datetime | None = None  # inclusive
    created_to: dt.datetime | None = None  # exclusive
    include_converted: bool = False  # leads: converted ones are left out unless asked for


R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[R]):
    """One page of a list, with opaque cursors to the pages on either side (None at an end)."""

    rows: list[R]
    next_cursor: str | None
    previous_cursor: str | None
    sort: str
    descending: bool


def list_records(
    session: Session,
    user: User,
    module: str,
    filters: ListFilter | None = None,
    *,
    sort: str = "created",
    descending: bool = True,
    cursor: str | None = None,
    size: int = PAGE_SIZE,
    scope: scoping.Scope | None = None,
) -> Page[Any]:
    """Return a page of a list's live rows that `user` may see (rows typed per list, see `list_rows`)."""
    if module not in LISTS:
        raise ValidationError("module", N_("%(module)s has no list; one of %(choices)s"), module=repr(module),
                              choices=", ".join(LISTS))
    if sort not in SORTS[module]:
        raise ValidationError("sort", N_("%(value)s is not one of %(choices)s"), value=repr(sort),
                              choices=", ".join(SORTS[module]))
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationError("size", N_("must be from 1 to %(most)s"), most=MAX_PAGE_SIZE)
    filters = filters or ListFilter()
    key = SORTS[module][sort]
    after = _read_cursor(cursor, sort, descending, key)
    backward = after is not None and after[2]
    scope = scope or scoping.scope_of(session, user)
    day = _day(session, user, filters.as_of) if filters.due is not None else None
    found = _ids(session, module, filters, scope, key, descending, after, size, day)
    more = len(found) > size
    found = found[:size]
    if backward:
        found.reverse()
    rows = list_rows.read(session, module, [row_id for row_id, _ in found])
    if module in ("documents", "activities"):
        rows = list_rows.with_records(session, rows, lambda name: scoping.condition(scope, name))
    first, last = (found[0], found[-1]) if found else (None, None)
    has_next = (more and not backward) or (after is not None and backward)
    has_previous = (more and backward) or (after is not None and not backward)
    return Page(
        rows,
        _cursor(sort, descending, key, last, backward=False) if has_next and last else None,
        _cursor(sort, descending, key, first, backward=True) if has_previous and first else None,
        sort, descending,
    )


def count_records(
    session: Session, user: User, module: str, filters: ListFilter | None = None, *, scope: scoping.Scope | None = None,
) -> int:
    """How many live rows of a list `user` may see pass the filter (the campaign page's counts)."""
    filters, scope = filters or ListFilter(), scope or scoping.scope_of(session, user)
    model = model_of(module)
    day = _day(session, user, filters.as_of) if filters.due is not None else None
    shown = [*_conditions(module, model, filters, day)]
    branches = _owner_branches(module, model, filters, scope)
    if not branches:
        return 0
    either = or_(*(and_(true(), *branch) for branch in branches)) if len(branches) > 1 else and_(true(), *branches[0])
    return int(session.scalar(select(func.count()).select_from(model).where(*shown, either)) or 0)


def list_statement(
    session: Session,
    user: User,
    module: str,
    filters: ListFilter | None = None,
    *,
    sort: str = "created",
    descending: bool = True,
    scope: scoping.Scope | None = None,
) -> tuple[Select[Any], Callable[[Any], Any]] | None:
    """Return one statement for every row of a list that `user` may see, in its order, without a page's limit or
    cursor (a whole list read in one pass: the CSV export), and what makes a list row of each result row (read by
    its fields' names); None when the filter asks for what the scope hides. Activities and documents then need
    `shown_rows`."""
    if module not in LISTS:
        raise ValidationError("module", N_("%(module)s has no list; one of %(choices)s"), module=repr(module),
                              choices=", ".join(LISTS))
    if sort not in SORTS[module]:
        raise ValidationError("sort", N_("%(value)s is not one of %(choices)s"), value=repr(sort),
                              choices=", ".join(SORTS[module]))
    filters, scope = filters or ListFilter(), scope or scoping.scope_of(session, user)
    model = model_of(module)
    day = _day(session, user, filters.as_of) if filters.due is not None else None
    shown = _conditions(module, model, filters, day)
    branches = _owner_branches(module, model, filters, scope)
    if not branches:
        return None
    column = SORTS[module][sort].of(model)
    either = or_(*(and_(true(), *branch) for branch in branches)) if len(branches) > 1 else and_(true(), *branches[0])
    statement, make = list_rows.READERS[module]()
    order = (column.desc(), model.id.desc()) if descending else (column.asc(), model.id.asc())
    return statement.where(*shown, either).order_by(*order), make


def shown_rows(session: Session, module: str, rows: list[Any], scope: scoping.Scope) -> list[Any]:
    """A list's rows as its page shows them: activities and documents with the records they are about (those
    in the scope); other lists' rows as they are."""
    if module not in ("documents", "activities") or not rows:
        return rows
    return list_rows.with_records(session, rows, lambda name: scoping.condition(scope, name))


def model_of(module: str) -> Any:
    """The model a list reads (activities have no registry entry: they are not records of their own)."""
    return Activity if module == "activities" else registry.get(module).model


def _day(session: Session, user: User, as_of: dt.datetime | None) -> tuple[dt.date, dt.datetime]:
    """The user's today and the moment it began, in their zone (else the company's)."""
    zone = company.zone_for(session, user)
    today = (as_of or utcnow()).astimezone(zone).date()
    return today, dt.datetime.combine(today, dt.time(), zone)


def _ids(
    session: Session, module: str, filters: ListFilter, scope: scoping.Scope, key: SortKey, descending: bool,
    after: tuple[Any, int, bool] | None, size: int, day: tuple[dt.date, dt.datetime] | None = None,
) -> list[tuple[int, Any]]:
    """The (id, key) of up to size + 1 rows in reading order (reversed when reading backward)."""
    model = model_of(module)
    column = key.of(model)
    down = descending != (after is not None and after[2])  # reading backward turns the order around
    where = [*_conditions(module, model, filters, day)]
    if after is not None:
        mark = tuple_(literal(after[0], column.type), literal(after[1]))
        where.append(tuple_(column, model.id) < mark if down else tuple_(column, model.id) > mark)
    branches = _owner_branches(module, model, filters, scope)
    if not branches:
        return []

    def ordered(stmt: Select[Any], k: Any, i: Any) -> Select[Any]:
        return stmt.order_by(k.desc(), i.desc()) if down else stmt.order_by(k.asc(), i.asc())

    parts = [
        ordered(select(model.id.label("id"), column.label("k")).where(*where, *branch), column, model.id)
        .limit(size + 1)
        for branch in branches
    ]
    if len(parts) == 1:
        return [(row.id, row.k) for row in session.execute(parts[0])]
    merged = union_all(*(select(part.subquery()) for part in parts)).subquery()
    stmt = ordered(select(merged.c.id, merged.c.k), merged.c.k, merged.c.id).limit(size + 1)
    return [(row.id, row.k) for row in session.execute(stmt)]


def _owner_branches(
    module: str, model: Any, filters: ListFilter, scope: scoping.Scope
) -> list[list[ColumnElement[bool]]]:
    """One owner condition per index range to read; [] when the filter asks for what the scope hides."""
    if module in scoping.EVERYONE or module == "documents":
        shown = [] if scope.everything or module in scoping.EVERYONE else [scoping.condition(scope, module)]
        if filters.unowned:
            return [[model.owner_id.is_(None), *shown]]
        return [[model.owner_id == filters.owner_id, *shown]] if filters.owner_id is not None else [shown]
    if filters.unowned:
        return [[model.owner_id.is_(None)]] if scope.sees_owner(None, module) else []
    if filters.owner_id is not None:
        return [[model.owner_id == filters.owner_id]] if scope.sees_owner(filters.owner_id, module) else []
    if scope.everything:
        return [[]]
    owners = sorted(scope.owners)
    pool = [[model.owner_id.is_(None)]] if scope.sees_owner(None, module) else []
    if len(owners) > MAX_BRANCHES:  # the scope's condition (activities have no registry entry to ask it of)
        many = model.owner_id.in_(owners)
        return [[or_(many, model.owner_id.is_(None)) if pool else many]]
    return [[model.owner_id == owner] for owner in owners] + pool


def _conditions(
    module: str, model: Any, filters: ListFilter, day: tuple[dt.date, dt.datetime] | None = None
) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions (the owner apart); a filter the module does not have is refused."""
    found: list[ColumnElement[bool]] = [model.deleted_at.is_(None)]
    if module == "leads" and not filters.include_converted:
        found.append(model.converted_at.is_(None))
    for field, column, value in (("status", "status", filters.status), ("stage_id", "stage_id", filters.stage_id),
                                 ("lead_source", "lead_source", filters.lead_source),
                                 ("kind", KIND_COLUMNS.get(module, "-"), filters.kind),
                                 ("campaign_id", "campaign_id", filters.campaign_id)):
        if value is None:
            continue
        if column not in model.__table__.columns:
            raise ValidationError(field, N_("%(module)s cannot be filtered by %(field)s"), module=module, field=field)
        is_campaign = field == "campaign_id"
        found.append(_campaign(module, model, int(value)) if is_campaign else getattr(model, column) == value)
    if filters.due is not None:
        found.append(_due(module, filters.due, day))
    if filters.prefix and filters.prefix.strip():
        typed = filters.prefix.strip()
        found.append(or_(*(_begins(getattr(model, c), typed) for c in PREFIX_COLUMNS[module])))
    for field, moment in (("created_from", filters.created_from), ("created_to", filters.created_to)):
        if moment is not None and moment.tzinfo is None:
            raise ValidationError(field, N_("needs a time zone"))
    if filters.created_from is not None:
        found.append(model.created_at >= filters.created_from)
    if filters.created_to is not None:
        found.append(model.created_at < filters.created_to)
    return found


def _campaign(module: str, model: Any, campaign_id: int) -> ColumnElement[bool]:
    """Came from the campaign, or (a lead, a contact) is one of its members."""
    came = model.campaign_id == campaign_id
    member = CAMPAIGN_MEMBERS.get(module)
    if member is None:
        return came
    column = getattr(CampaignMember, member)
    return or_(came, model.id.in_(select(column).where(CampaignMember.campaign_id == campaign_id, column.is_not(None))))


def _due(module: str, due: str, day: tuple[dt.date, dt.datetime] | None) -> ColumnElement[bool]:
    """An activity's day (a task's due date, a call's or meeting's start) against the user's today."""
    if module != "activities" or due not in DUE or day is None:
        raise ValidationError("due", N_("%(value)s is not one of %(choices)s"), value=repr(due), choices=", ".join(DUE))
    today, start = day
    if due == "overdue":
        return and_(Activity.completed_at.is_(None), or_(Activity.due_date < today, Activity.start_at < start))
    days = 1 if due == "today" else 7
    end_day, end = today + dt.timedelta(days=days), start + dt.timedelta(days=days)
    return or_(and_(Activity.due_date >= today, Activity.due_date < end_day),
               and_(Activity.start_at >= start, Activity.start_at < end))


def _begins(column: Any, typed: str) -> ColumnElement[bool]:
    """`column` begins with `typed`: an index range (as the database orders text), then LIKE to be exact."""
    escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return and_(column >= typed, column < _successor(typed), column.like(f"{escaped}%", escape="\\"))


def _successor(prefix: str) -> str:
    """The smallest string after every string that begins with `prefix` (code point order)."""
    nxt = ord(prefix[-1]) + 1
    if 0xD800 <= nxt <= 0xDFFF:
        nxt = 0xE000
    return prefix[:-1] + chr(min(nxt, 0x10FFFF))


# -- cursors ----------------------------------------------------------------------------------------------

def _cursor(sort: str, descending: bool, key: SortKey, row: tuple[int, Any], *, backward: bool) -> str:
    """An opaque cursor: the sort, its direction, the row's key and id, and which way it reads."""
    body = json.dumps([sort, descending, key.dump(row[1]), row[0], backward], separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def _read_cursor(cursor: str | None, sort: str, descending: bool, key: SortKey) -> tuple[Any, int, bool] | None:
    """(key, id, backward) from a cursor of this list's sort; fail naming the field for anything else."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        c_sort, c_descending, value, row_id, backward = json.loads(raw)
        if (c_sort, c_descending) != (sort, descending) or not isinstance(row_id, int):
            raise ValueError(cursor)
        return key.load(value), row_id, bool(backward)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            "cursor", N_("is not a cursor of this list in this order; begin at the first page")
        ) from None
