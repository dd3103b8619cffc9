"""A report's rows written out: an aligned table, CSV, JSON row objects, an HTML page, an Excel workbook.

Text formats return a string; xlsx returns the workbook's bytes. Numbers stay numbers everywhere they can
(JSON numbers, Excel number cells), dates ISO dates (Excel date cells).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from analytics.reports import ReportResult

FORMATS = ("table", "csv", "json", "html", "xlsx")
BINARY = frozenset({"xlsx"})


def render(result: ReportResult, fmt: str, title: str) -> str | bytes:
    """The report in format `fmt` (one of FORMATS)."""
    writers: dict[str, Callable[[ReportResult, str], str | bytes]] = {
        "table": as_table, "csv": as_csv, "json": as_json, "html": as_html, "xlsx": as_xlsx}
    return writers[fmt](result, title)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _numeric(result: ReportResult) -> list[bool]:
    """Which columns hold numbers (their non-empty cells all do)."""
    def number(v: Any) -> bool:
        return isinstance(v, int | float | Decimal) and not isinstance(v, bool)

    return [all(number(row[i]) for row in result.rows if row[i] is not None) and
            any(row[i] is not None for row in result.rows) for i in range(len(result.columns))]


def as_table(result: ReportResult, title: str) -> str:
    """Columns lined up for a terminal (wide characters counted), numbers on the right."""
    from crm_store.cli.output import Column, table

    columns = [Column(name, right=num) for name, num in zip(result.columns, _numeric(result), strict=True)]
    lines = table(columns, [[_text(v) for v in row] for row in result.rows])
    return "\n".join([*lines, f"({len(result.rows)} rows)"]) + "\n"


def as_csv(result: ReportResult, title: str) -> str:
    """A header line, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([_text(v) for v in row] for row in result.rows)
    return out.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def as_json(result: ReportResult, title: str) -> str:
    """A list of row objects keyed by column name."""
    rows = [{k: _json_value(v) for k, v in row.items()} for row in result.as_dicts()]
    return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"


def as_html(result: ReportResult, title: str) -> str:
    """One self-contained HTML page holding the report as a table."""
    numeric = _numeric(result)

    def cell(tag: str, value: Any, num: bool) -> str:
        return f'<{tag}{" class=num" if num else ""}>{html.escape(_text(value))}</{tag}>'

    head = "".join(cell("th", c, n) for c, n in zip(result.columns, numeric, strict=True))
    body = "\n".join("<tr>" + "".join(cell("td", v, n) for v, n in zip(row, numeric, strict=True)) + "</tr>"
                     for row in result.rows)
    return (f"<!doctype html>\n<html><head><meta charset=utf-8><title>{html.escape(title)}</title>\n"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "th,td{border:1px solid #ccc;padding:.25em .5em}.num{text-align:right}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n"
            "</tbody>\n</table>\n</body></html>\n")


def as_xlsx(result: ReportResult, title: str) -> bytes:
    """An Excel workbook: a bold header row, numbers as number cells, dates as date cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its one sheet
    sheet.title = title[:31]
    sheet.append(result.columns)
    for header in sheet[1]:
        header.font = Font(bold=True)
    for row in result.rows:
        sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    for column in sheet.iter_cols(min_row=2):
        for c in column:
            if isinstance(c.value, dt.date):
                c.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
