"""A list as CSV: every row of a filtered list that the user may see, streamed, safe to open in a spreadsheet.

- The rows are the list's own (`crm_store.records.listing`: the same filters, sort and scope), read a page
  of MAX_PAGE_SIZE at a time along the keyset cursor, so an export of any size holds one page in memory.
- The columns are the list's, with the record number first (`COLUMNS`); headers and seeded picklist
  values in the user's language, moments in the user's time zone.
- UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; CRLF line ends (RFC 4180).
- Formula-escaped (`escape_cell`): a text cell beginning with = + - @ or a tab or carriage return is
  prefixed with an apostrophe, so a spreadsheet shows it as text instead of running it (CSV injection).
- Audited (`log_export`): an "export" row naming the user, the module, the filter and how many rows went.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.languages import N_
from crm_store.models import AuditEntry, User
from crm_store.records import audit
from crm_store.records.listing import MAX_PAGE_SIZE, ListFilter, list_records
from crm_store.staff import scope as scoping

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 500  # rows per chunk of the stream
EXPORT_RECORD_ID = 0  # an export's audit row is about a list, not one record


@dataclass(frozen=True)
class Column:
    """A column of an export: the list row's attribute, its header (English, translated when written), its kind.

    Kinds: text; choice (a picklist value or a stage: seeded ones translated); money (a plain number);
    date (ISO); moment (date and time in the user's zone).
    """

    key: str
    label: str
    kind: str = "text"


_NUMBER = Column("number", N_("Number"))
_NAME = Column("name", N_("Name"))
_OWNER = Column("owner_name", N_("Assigned to"))
_CREATED = Column("created_at", N_("Created"), "moment")
_PHONE = Column("phone", N_("Phone"))
_ACCOUNT = Column("account_name", N_("Account"))
# A list's columns as its page shows them, the record number first. A list not named here exports every
# field of its rows but ids (`columns_of`).
COLUMNS: dict[str, tuple[Column, ...]] = {
    "leads": (_NUMBER, _NAME, Column("company", N_("Company")), Column("status", N_("Status"), "choice"), _PHONE,
              _OWNER, _CREATED),
    "accounts": (_NUMBER, _NAME, Column("industry", N_("Industry"), "choice"), _PHONE, Column("city", N_("City")),
                 _OWNER, _CREATED),
    "contacts": (_NUMBER, _NAME, _ACCOUNT, Column("email", N_("Email")), _PHONE, _OWNER, _CREATED),
    "opportunities": (_NUMBER, _NAME, _ACCOUNT, Column("stage", N_("Sales stage"), "choice"),
                      Column("amount", N_("Amount"), "money"), Column("currency", N_("Currency")),
                      Column("expected_close_date", N_("Expected close date"), "date"), _OWNER, _CREATED),
}


@dataclass
class Tally:
    """How many rows an export has written so far."""

    rows: int = 0


def escape_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula: an apostrophe before = + - @ tab or CR at its start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def columns_of(module: str, row_type: type | None = None) -> tuple[Column, ...]:
    """A list's export columns: declared in COLUMNS, else every field of its row type but ids, number first."""
    if module in COLUMNS:
        return COLUMNS[module]
    if row_type is None or not dataclasses.is_dataclass(row_type):
        return (_NUMBER,)
    names = [f.name for f in dataclasses.fields(row_type) if f.name != "id" and not f.name.endswith("_id")]
    names.sort(key=lambda name: name != "number")
    return tuple(Column(name, name.replace("_", " ").capitalize(), _kind(row_type, name)) for name in names)


def _kind(row_type: type, name: str) -> str:
    hint = str(next(f.type for f in dataclasses.fields(row_type) if f.name == name))
    return "moment" if "datetime" in hint else "date" if "date" in hint else "money" if "Decimal" in hint else "text"


def cell(value: Any, kind: str, language: str, zone: dt.tzinfo) -> str:
    """One value as the export writes it (text escaped; numbers and dates as they are)."""
    if value is None or value == "":
        return ""
    if kind == "moment" and isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    if isinstance(value, (int, float)):
        return str(value)
    text = languages.translate_value(language, str(value)) if kind == "choice" else str(value)
    return escape_cell(text)


def formatter(kind: str, language: str, zone: dt.tzinfo) -> Callable[[Any], str]:
    """`cell` for one column, decided once: what the export calls for each of its values."""
    if kind == "moment":
        return lambda v: "" if v is None else v.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if kind == "choice":
        words = languages.translations(language)
        return lambda v: escape_cell(words.gettext(v)) if isinstance(v, str) and v else cell(v, kind, language, zone)
    return lambda v: escape_cell(v) if isinstance(v, str) else cell(v, kind, language, zone)


def csv_chunks(rows: Iterable[Any], columns: Sequence[Column], language: str, zone: dt.tzinfo,
               tally: Tally | None = None) -> Iterator[bytes]:
    """The CSV as UTF-8 chunks: the BOM and the headers, then CHUNK_ROWS rows at a time."""
    tally = tally if tally is not None else Tally()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([escape_cell(languages.translate(language, c.label)) for c in columns])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    values = operator.attrgetter(*(c.key for c in columns)) if len(columns) > 1 else None
    formats = [formatter(c.kind, language, zone) for c in columns]
    pending = 0
    for row in rows:
        found = values(row) if values is not None else (getattr(row, columns[0].key, None),)
        writer.writerow([show(value) for show, value in zip(formats, found, strict=True)])
        pending += 1
        if pending == CHUNK_ROWS:
            tally.rows += pending
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    tally.rows += pending
    if pending:
        yield buffer.getvalue().encode("utf-8")


def list_csv(module: str, rows: Iterable[Any], language: str, zone: dt.tzinfo,
             tally: Tally | None = None) -> Iterator[bytes]:
    """A list's rows as CSV chunks, in the list's columns (`columns_of`, from its first row when undeclared)."""
    found = iter(rows)
    first = next(found, None)
    columns = columns_of(module, type(first) if first is not None else None)
    yield from csv_chunks(itertools.chain(() if first is None else (first,), found), columns, language, zone, tally)


def all_rows(session: Session, user: User, module: str, filters: ListFilter | None = None, *, sort: str = "created",
             descending: bool = True, scope: scoping.Scope | None = None) -> Iterator[Any]:
    """Every row of a list the user may see, in the list's order: its pages read one after another."""
    scope = scope or scoping.scope_of(session, user)
    cursor = None
    while True:
        page = list_records(session, user, module, filters, sort=sort, descending=descending, cursor=cursor,
                            size=MAX_PAGE_SIZE, scope=scope)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def log_export(session: Session, user: User, module: str, params: Mapping[str, str], rows: int, *,
               complete: bool = True) -> AuditEntry:
    """Write the export's audit row: who, which list, its filter, how many rows (and whether it was cut short)."""
    changes: dict[str, Any] = {"filter": dict(params), "rows": rows}
    if not complete:
        changes["complete"] = False
    return audit.log(session, "export", module, EXPORT_RECORD_ID, Actor.user(user.id), changes=changes)
