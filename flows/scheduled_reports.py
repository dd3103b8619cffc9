"""The report-emails job: each manager's weekly pipeline and monthly customer-value email, as a plain function.

It lives in `flows/` because it runs the `analytics` reports, which the store never imports
(`crm_store.automation.report_emails` says which sendings are due and claims them). For each sending due
(Monday 08:00 to Tuesday's end: the pipeline of the default sales process as of that day; the 1st 08:00 to
the 3rd's end: customer value as of the previous month's last day, over all history), each manager who
wants it and has not had it gets the report of their scope — the records of the users `scope_of` says they
see (themselves and their reps, and their teams under `record_sharing = team`), bound as `viewers`, so no
other team's numbers reach the report, its chart or its CSV. Admins (who see everything) and reps get none.

The mail is the `scheduled_report` template in the manager's language: the report's title and column labels
translated, the cells formatted as the pages show them (the first `ROWS_SHOWN` rows, "the first 20 of N"),
each chart a PNG shown inline (cid `<chart key>@leadline`), the whole report as a CSV with a UTF-8 BOM (Excel
reads Chinese names), a link to the report's page as of the same day. Charts and CSV go into the documents
store (content-addressed, as the outbox's attachments must), then the managers are claimed and their mail
queued in one transaction, keyed `report:<report>:<period>:<user>` so the outbox refuses a second copy.
A warehouse that is not there yet is refreshed first; otherwise the reports read the nightly snapshot.

Counted: `pipeline`, `customer_value` (emails queued), `skipped_opted_out` (managers who switched them off,
while a sending is due).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from babel.dates import format_skeleton
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_store import languages
from crm_store.automation import report_emails as sendings
from crm_store.automation.runs import Outcome
from crm_store.mail import outbox
from crm_store.models import Currency, User
from crm_store.records.documents import blob_path, store_content
from crm_store.settings import company
from crm_store.staff.scope import scope_of

if TYPE_CHECKING:
    import duckdb

    from analytics.reports import ReportResult

TEMPLATE = "scheduled_report"
ROWS_SHOWN = 20  # rows in the mail's table; the CSV has them all
# The columns of the mail's table where the report has too many to read in an email (the CSV has them all).
COLUMNS_SHOWN = {"customer-value": ("account_name", "last_purchase", "monetary", "rfm_segment", "abc_class", "clv")}
COUNTED = {sendings.PIPELINE: "pipeline", sendings.CUSTOMER_VALUE: "customer_value"}
CSV = "text/csv; charset=utf-8"
PNG = "image/png"


@dataclass(frozen=True)
class Reader:
    """A manager the mail goes to: who, their language, and whose records their reports keep."""

    id: int
    email: str
    name: str
    language: str
    viewers: frozenset[int]


def report_emails(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The report-emails job: queue the due report emails of every manager who has not had them, once each."""
    for counted in (*COUNTED.values(), "skipped_opted_out"):
        outcome.add(counted, 0)
    with factory() as session:
        zone = company.zone(session)
        due = sendings.due(as_of.astimezone(zone))
        if not due:
            return
        outcome.add("skipped_opted_out", sendings.opted_out(session))
        wanted = {sending: readers(session, sending) for sending in due}
        currency = str(company.get(session, "default_currency"))
        minor_unit = session.scalar(select(Currency.minor_unit).where(Currency.code == currency))
    if not any(wanted.values()):
        return
    from crm_store.config import load_config

    config = load_config()
    with _warehouse(config.database_url, config.data_dir, outcome) as con:
        for sending, people in wanted.items():
            messages = {r.id: compose(con, config.data_dir, sending, r, currency, minor_unit) for r in people}
            with factory.begin() as session:
                claimed = sendings.claim(session, sending, sorted(messages))
                queued = [message for user_id, message in messages.items() if user_id in claimed]
                outbox.enqueue_many(session, queued)
            outcome.add(COUNTED[sending.report], len(queued))


def readers(session: Session, sending: sendings.Due) -> list[Reader]:
    """The managers due this sending, each with the users whose records they see."""
    return [Reader(user.id, user.email, user.name, user.language, _viewers(session, user))
            for user in sendings.recipients(session, sending)]


def _viewers(session: Session, user: User) -> frozenset[int]:
    return scope_of(session, user).owners  # a manager's: never everything (that is an admin's)


@contextmanager
def _warehouse(database_url: str, data_dir: Path, outcome: Outcome) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened read-only, refreshed first when there is none yet."""
    from analytics.warehouse import open_warehouse, refresh, warehouse_path

    path = warehouse_path(data_dir)
    if not path.is_file():
        refresh(database_url, path)
        outcome.add("warehouse_refreshed")
    con = open_warehouse(path)
    try:
        yield con
    finally:
        con.close()


def run_for(con: duckdb.DuckDBPyConnection, sending: sendings.Due, viewers: frozenset[int]) -> ReportResult:
    """The report of a sending as a manager with these viewers sees it (the default process; customer value over
    all history up to its day)."""
    from analytics.reports import ReportParams, run_report

    return run_report(con, sending.report, ReportParams(as_of=sending.as_of, viewers=viewers))


def compose(con: duckdb.DuckDBPyConnection, data_dir: Path, sending: sendings.Due, reader: Reader,
            currency: str, minor_unit: int | None) -> dict[str, Any]:
    """One manager's outbox row: the report run in their scope, its charts and CSV stored, the mail's context."""
    from analytics import charts, formats

    result = run_for(con, sending, reader.viewers)
    code = reader.language
    drawn = charts.charts_for(sending.report, result) if result.rows else []
    images = [_attachment(data_dir, charts.render_png(chart, language=code, currency=currency), f"{chart.key}.png",
                          PNG, f"{chart.key}@leadline") for chart in drawn]
    csv_name = f"{sending.report}-{sending.as_of.isoformat()}.csv"
    table = cast(str, formats.render(result, "csv", sending.report))
    attachments = [*images, _attachment(data_dir, ("\ufeff" + table).encode("utf-8"), csv_name, CSV)]
    context = {
        **cells(sending.report, result, code, currency, minor_unit),
        "recipient_name": reader.name,
        "report_slug": sending.report,
        "report_query": f"as_of={sending.as_of.isoformat()}",
        "period": period(sending, code),
        "charts": [{"cid": f"{chart.key}@leadline", "title": languages.translate(code, chart.title)}
                   for chart in drawn],
        "csv_filename": csv_name,
    }
    return outbox.message_values(
        TEMPLATE, reader.email, key=f"{sending.key}:{reader.id}", language=code, context=context,
        recipient_name=reader.name, attachments=attachments, to_staff=True,
    )


def cells(report: str, result: ReportResult, code: str, currency: str, minor_unit: int | None) -> dict[str, Any]:
    """The report's title, column labels and first rows (the columns an email can show) in the reader's language."""
    from analytics import presentation

    shown = [i for i, c in enumerate(result.columns) if c in COLUMNS_SHOWN.get(report, result.columns)]
    return {
        "report_name": languages.translate(code, presentation.TITLES[report]),
        "columns": [languages.translate(code, presentation.column_label(result.columns[i])) for i in shown],
        "rows": [[presentation.format_cell(report, result.columns[i], row[i], language=code, currency=currency,
                                           minor_unit=minor_unit) for i in shown] for row in result.rows[:ROWS_SHOWN]],
        "total_rows": len(result.rows),
    }


def period(sending: sendings.Due, code: str) -> str:
    """What the mail covers: the pipeline's day ("Sep 7, 2026"), customer value's month ("August 2026")."""
    if sending.report == sendings.CUSTOMER_VALUE:
        return format_skeleton("yMMMM", sending.as_of, locale=languages.get(code).locale)
    return languages.format_date(sending.as_of, code)


def _attachment(data_dir: Path, content: bytes, filename: str, content_type: str,
                cid: str | None = None) -> outbox.AttachmentRef:
    """Keep `content` in the documents store (once per content) and refer to it from the outbox."""
    path = blob_path(data_dir, store_content(data_dir, content)).relative_to(data_dir).as_posix()
    return outbox.AttachmentRef(path, filename, content_type, cid)
