"""A list as CSV: every row of a filtered list that the user may see, streamed, safe to open in a spreadsheet.

- The rows are the list's own (`crm_store.records.listing.list_statement`: the same filters, sort and scope),
  read by one statement CHUNK_ROWS at a time (`yield_per`: a server-side cursor on PostgreSQL), and written a
  chunk at a time, so an export of any size holds one chunk in memory. The exports of a process make their
  chunks in turn (`MAKING`).
- The columns are the list's, with the record number first (`COLUMNS`); headers and seeded picklist
  values in the user's language, moments in the user's time zone.
- UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; CRLF line ends (RFC 4180).
- Formula-escaped (`escape_cell`): a text cell beginning with = + - @ or a tab or carriage return is
  prefixed with an apostrophe, so a spreadsheet shows it as text instead of running it (CSV injection).
- Audited (`log_export`): an "export" row naming the user, the module, the filter and how many rows went.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import functools
import io
import itertools
import operator
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.languages import N_
from crm_store.models import AuditEntry, User
from crm_store.records import audit, listing
from crm_store.records.listing import ListFilter
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
    "campaigns": (_NUMBER, Column("name", N_("Campaign name")), Column("campaign_type", N_("Type"), "choice"),
                  Column("status", N_("Status"), "choice"), Column("start_date", N_("Start date"), "date"),
                  Column("expected_close_date", N_("Expected close date"), "date"),
                  Column("expected_revenue", N_("Expected revenue"), "money"), _OWNER, _CREATED),
    "activities": (Column("name", N_("Subject")), Column("type", N_("Type"), "choice"),
                   Column("due_date", N_("Due"), "date"), Column("start_at", N_("Starts at"), "moment"),
                   Column("status", N_("Status"), "choice"),
                   Column("completed_at", N_("Completed"), "moment"), _OWNER, _CREATED),  # no number: an id only
    "documents": (_NUMBER, Column("name", N_("Title")), Column("filename", N_("File")),
                  Column("content_type", N_("Type")), Column("size", N_("Size (bytes)")), _OWNER, _CREATED),
    **{module: (_NUMBER, Column("name", N_("Subject")), _ACCOUNT, Column("status", N_("Status"), "choice"),
                Column("day", day, "date"), Column("grand_total", N_("Grand total"), "money"),
                *((Column("balance", N_("Balance"), "money"),) if module == "invoices" else ()),
                Column("currency", N_("Currency")), _OWNER, _CREATED)
       for module, day in (("quotes", N_("Valid till")), ("sales_orders", N_("Due date")),
                           ("invoices", N_("Invoice date")))},
}


@dataclass
class Tally:
    """How many rows an export has written so far."""

    rows: int = 0


class Turns:
    """A lock given in the order it was asked for: an export going on chunk after chunk lets those that asked
    meanwhile go first (a plain Lock goes back to whoever asks first once it is let go: the same export)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._taken = False

    def __enter__(self) -> None:
        with self._guard:
            if not self._taken:
                self._taken = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # handed over by the one before, still taken

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._taken = False


# The exports of a process make their chunks in turn. Side by side on the app's threads, they handed the GIL back and
# forth on every row (SQLite's driver lets go of it for each step), each taking 2.5 times the CPU; in turn, a chunk
# at a time, each runs at full speed. Never held while a chunk is sent.
MAKING = Turns()


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


def column_cells(kind: str, language: str, zone: dt.tzinfo) -> Callable[[Iterable[Any]], list[str]]:
    """`cell` over a column's values, decided once: one comprehension per column of a chunk, not a call per cell."""
    other = functools.partial(cell, kind=kind, language=language, zone=zone)
    starts = FORMULA_STARTS
    if kind == "moment":  # "YYYY-MM-DD HH:MM" from isoformat: a third of strftime's time
        return lambda values: ["" if v is None else v.astimezone(zone).isoformat(" ", "minutes")[:16] for v in values]
    if kind == "choice":
        words = languages.translations(language)
        return lambda values: [escape_cell(words.gettext(v)) if isinstance(v, str) and v else other(v) for v in values]
    return lambda values: [("'" + v if v.startswith(starts) else v) if isinstance(v, str) else other(v)
                           for v in values]


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
    getters = [operator.attrgetter(c.key) for c in columns]
    cells = [column_cells(c.kind, language, zone) for c in columns]
    found = iter(rows)
    while chunk := list(itertools.islice(found, CHUNK_ROWS)):
        by_column = [show(map(get, chunk)) for show, get in zip(cells, getters, strict=True)]
        writer.writerows(zip(*by_column, strict=True))
        tally.rows += len(chunk)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def list_csv(module: str, rows: Iterable[Any], language: str, zone: dt.tzinfo,
             tally: Tally | None = None) -> Iterator[bytes]:
    """A list's rows as CSV chunks, in the list's columns (`columns_of`, from its first row when undeclared); each
    chunk made while no other export of this process makes one (`MAKING`)."""
    found = iter(rows)
    chunks = _list_chunks(module, found, language, zone, tally)
    try:
        while True:
            with MAKING:
                made = next(chunks, None)
            if made is None:
                return
            yield made
    finally:  # rows read from a statement (`all_rows`) end it now, while the session reading them is still open
        chunks.close()
        close = getattr(found, "close", None)
        if close is not None:
            close()


def _list_chunks(module: str, found: Iterator[Any], language: str, zone: dt.tzinfo,
                 tally: Tally | None) -> Generator[bytes, None, None]:
    first = next(found, None)
    columns = columns_of(module, type(first) if first is not None else None)
    yield from csv_chunks(itertools.chain(() if first is None else (first,), found), columns, language, zone, tally)


def all_rows(session: Session, user: User, module: str, filters: ListFilter | None = None, *, sort: str = "created",
             descending: bool = True, scope: scoping.Scope | None = None) -> Iterator[Any]:
    """Every row of a list the user may see, in the list's order: one statement, read CHUNK_ROWS rows at a time."""
    scope = scope or scoping.scope_of(session, user)
    found = listing.list_statement(session, user, module, filters, sort=sort, descending=descending, scope=scope)
    if found is None:
        return
    statement, make = found
    # Plain rows on the session's connection (in its transaction): no ORM processing per row. Read as named
    # tuples, whose fields are plain attributes: a Row looks a name up only after a failed attribute lookup.
    with session.connection().execute(statement.execution_options(yield_per=CHUNK_ROWS)) as result:
        plain = collections.namedtuple("ListRow", result.keys(), rename=True)  # type: ignore[misc]
        for part in result.partitions():
            yield from listing.shown_rows(session, module, list(map(make, map(plain._make, part))), scope)


def log_export(session: Session, user: User, module: str, params: Mapping[str, str], rows: int, *,
               complete: bool = True) -> AuditEntry:
    """Write the export's audit row: who, which list, its filter, how many rows (and whether it was cut short)."""
    changes: dict[str, Any] = {"filter": dict(params), "rows": rows}
    if not complete:
        changes["complete"] = False
    return audit.log(session, "export", module, EXPORT_RECORD_ID, Actor.user(user.id), changes=changes)
