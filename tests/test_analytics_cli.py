"""`crm analytics refresh`, `crm report list|NAME` in every format, and the nightly refresh-analytics flow."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import reports
from analytics.reports import REPORTS, ReportParams, resolve, run_report
from analytics.warehouse import open_warehouse, refresh
from crm_store.models import FlowRun
from flows import catalog
from tests.test_analytics_warehouse import add_sample

Crm = Callable[..., Result]  # the `crm` fixture: runs the command in-process

# A report of the tests' own (the real ones are tested in their own files): the sample's deals.
DEALS_SQL = """-- deals: the sample's deals, with the parameters they were asked for.
with deals as (
    select o.opportunity_no, o.amount, o.expected_close_date, u.email
    from opportunities o join users u on u.id = o.owner_id
    where $owner is null or u.email = $owner
),
final as (
    select opportunity_no, amount, expected_close_date, $as_of as as_of, $date_from as date_from,
           $clv_years as clv_years, $process as process
    from deals
)
select * from final order by opportunity_no
"""


@pytest.fixture
def deals_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The report `deals` in a folder of reports of its own."""
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "deals.sql").write_text(DEALS_SQL)
    monkeypatch.setattr(reports, "SQL_DIR", folder)
    return "deals"


@pytest.fixture
def refreshed(crm: Crm, session: Session, env: dict[str, str]) -> Path:
    """The sample in the store and `crm analytics refresh` run; the warehouse's path."""
    add_sample(session)
    out = crm("analytics", "refresh")
    assert "Copied 34 tables" in out.output and "rows/s" in out.output
    return Path(env["CRM_DATA_DIR"]) / "analytics.duckdb"


def test_report_before_any_refresh_says_how_to_build_the_warehouse(crm: Crm) -> None:
    out = crm("report", "lead-aging", ok=False)
    assert "analytics.duckdb" in out.stderr and "run `crm analytics refresh`" in out.stderr


def test_refresh_builds_the_warehouse_in_the_data_dir(refreshed: Path) -> None:
    with open_warehouse(refreshed) as con:
        assert con.execute("SELECT opportunity_no FROM opportunities ORDER BY 1").fetchall() == [("POT1",), ("POT2",)]
    assert [p.name for p in refreshed.parent.iterdir() if p.name.startswith("analytics")] == ["analytics.duckdb"]


def test_list_names_every_report(crm: Crm, refreshed: Path) -> None:
    lines = crm("report", "list").output.splitlines()
    assert lines[0].split() == ["REPORT", "WHAT", "IT", "SHOWS"]
    assert [line.split()[0] for line in lines[1:]] == list(REPORTS)
    assert all(len(line.split()) > 2 for line in lines[1:])  # each with what it shows


def test_every_report_runs_from_the_cli_as_json(crm: Crm, refreshed: Path) -> None:
    for name in REPORTS:
        rows = json.loads(crm("report", name, "--as-of", "2026-06-30", "--format", "json").output)
        assert isinstance(rows, list), name


@pytest.mark.usefixtures("deals_report")
def test_json_is_row_objects_with_numbers_and_iso_dates(crm: Crm, refreshed: Path) -> None:
    rows = json.loads(crm("report", "deals", "--as-of", "2026-06-30", "--format", "json").output)
    assert rows == [
        {"opportunity_no": "POT1", "amount": 1234.5678, "expected_close_date": "2026-06-30", "as_of": "2026-06-30",
         "date_from": "2025-07-01", "clv_years": 3, "process": "Standard Sales"},
        {"opportunity_no": "POT2", "amount": None, "expected_close_date": "2026-04-01", "as_of": "2026-06-30",
         "date_from": "2025-07-01", "clv_years": 3, "process": "Standard Sales"},
    ]


@pytest.mark.usefixtures("deals_report")
def test_owner_filter_and_table_csv_html(crm: Crm, refreshed: Path, tmp_path: Path) -> None:
    table = crm("report", "deals", "--as-of", "2026-06-30", "--owner", "REP@leadline.test").output.splitlines()
    assert table[0].split() == ["opportunity_no", "amount", "expected_close_date", "as_of", "date_from",
                                "clv_years", "process"]
    assert table[1].split()[:3] == ["POT1", "1234.5678", "2026-06-30"] and table[-1] == "(2 rows)"
    assert table[1].index("1234.5678") + len("1234.5678") == table[0].index("amount") + len("amount")  # right
    rows = list(csv.reader(io.StringIO(crm("report", "deals", "--as-of", "2026-06-30", "--format", "csv").output)))
    assert rows[0][:3] == ["opportunity_no", "amount", "expected_close_date"]
    assert rows[1][:3] == ["POT1", "1234.5678", "2026-06-30"] and rows[2][:2] == ["POT2", ""]
    page = tmp_path / "deals.html"
    crm("report", "deals", "--as-of", "2026-06-30", "--format", "html", "--output", str(page))
    cells = _cells(page.read_text())
    assert cells[0][:2] == ["opportunity_no", "amount"] and cells[1][:2] == ["POT1", "1234.5678"] and len(cells) == 3


@pytest.mark.usefixtures("deals_report")
def test_xlsx_has_a_header_row_and_real_number_cells(crm: Crm, refreshed: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book_path = tmp_path / "deals.xlsx"
    out = crm("report", "deals", "--as-of", "2026-06-30", "--format", "xlsx", "--output", str(book_path))
    assert f"Wrote 2 rows of deals to {book_path}" in out.stderr
    sheet = load_workbook(book_path).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header == ["opportunity_no", "amount", "expected_close_date", "as_of", "date_from", "clv_years", "process"]
    assert all(c.font.b for c in sheet[1])
    amount, close = sheet["B2"], sheet["C2"]
    assert (amount.data_type, amount.value) == ("n", 1234.5678)
    assert close.value == dt.datetime(2026, 6, 30) and close.is_date
    assert sheet["F2"].value == 3 and sheet.max_row == 3


@pytest.mark.parametrize(("args", "message"), [
    (("--as-of", "2026-02-30"), "Invalid value for '--as-of': '2026-02-30' is not a date like 2026-06-30"),
    (("--from", "June"), "Invalid value for '--from': 'June' is not a date"),
    (("--from", "2026-07-01", "--to", "2026-06-30"), "error: from: 2026-07-01 is after --to 2026-06-30"),
    (("--owner", "nobody@leadline.test"), "error: owner: there is no user 'nobody@leadline.test'"),
    (("--team", "Nobody"), "error: team: there is no team 'Nobody'"),
    (("--process", "Nothing"), "error: process: there is no sales process 'Nothing'"),
    (("--format", "xlsx"), "Invalid value for '--output': xlsx is a binary file: give --output FILE"),
    (("--format", "pdf"), "Invalid value for '--format': 'pdf' is not one of"),
])
@pytest.mark.usefixtures("deals_report")
def test_mistakes_name_the_option(crm: Crm, refreshed: Path, args: tuple[str, ...], message: str) -> None:
    out = crm("report", "deals", *args, ok=False)
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


def test_an_unknown_report_lists_the_reports(crm: Crm, refreshed: Path) -> None:
    out = crm("report", "nope", ok=False)
    assert out.stderr.startswith("error: report: there is no report 'nope'; the reports are: ")
    assert all(name in out.stderr for name in REPORTS)


def test_defaults_a_year_to_as_of_and_the_default_process(database_url: str, tmp_path: Path) -> None:
    refresh(database_url, tmp_path / "a.duckdb")
    with open_warehouse(tmp_path / "a.duckdb") as con:
        leap = resolve(con, ReportParams(as_of=dt.date(2024, 2, 29)))
        assert (leap.date_from, leap.date_to, leap.process) == (dt.date(2023, 3, 1), dt.date(2024, 2, 29),
                                                                 "Standard Sales")
        given = resolve(con, ReportParams(as_of=dt.date(2026, 6, 30), date_to=dt.date(2026, 3, 31)))
        assert (given.date_from, given.date_to) == (dt.date(2025, 4, 1), dt.date(2026, 3, 31))
        today = resolve(con, ReportParams())
        assert today.as_of is not None and abs((today.as_of - dt.date.today()).days) <= 1


def test_only_the_parameters_used_are_bound(database_url: str, tmp_path: Path, deals_report: str) -> None:
    (reports.SQL_DIR / "plain.sql").write_text("-- plain: no parameters ($as_of in a comment only)\nselect 1 as one")
    refresh(database_url, tmp_path / "a.duckdb")
    with open_warehouse(tmp_path / "a.duckdb") as con:
        result = run_report(con, "plain", ReportParams())
    assert (result.columns, result.rows, result.as_dicts()) == (["one"], [(1,)], [{"one": 1}])


# -- the refresh-analytics flow ------------------------------------------------------------------------

def test_flows_run_refreshes_and_records_the_run(crm: Crm, session: Session, env: dict[str, str]) -> None:
    add_sample(session)
    out = crm("flows", "run", "refresh-analytics")
    assert "refresh-analytics completed" in out.output and "tables 34" in out.output
    (run,) = session.scalars(select(FlowRun).where(FlowRun.flow == "refresh-analytics")).all()
    session.commit()  # end the read: the store's sessions begin IMMEDIATE on SQLite
    assert (run.status, run.trigger, run.counts["tables"]) == ("completed", "cli", 34)
    with open_warehouse(Path(env["CRM_DATA_DIR"]) / "analytics.duckdb") as con:
        assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(2,)]
        assert run.counts["rows"] == sum(
            con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in _copied(con))
    (line,) = [x for x in crm("flows", "status").output.splitlines() if x.startswith("refresh-analytics ")]
    assert line.split()[1] == "completed"


def test_refresh_analytics_runs_under_prefect(prefect_api: str, env: dict[str, str], session: Session) -> None:
    add_sample(session)
    assert catalog.entry("refresh-analytics").schedule.cron == "0 3 * * *"
    state = catalog.flow("refresh-analytics")(return_state=True)
    assert state.is_completed(), state.message
    session.expire_all()
    (run,) = session.scalars(select(FlowRun).where(FlowRun.flow == "refresh-analytics")).all()
    session.commit()
    assert (run.status, run.trigger, run.counts["tables"]) == ("completed", "prefect", 34)
    assert state.result() == {"run": run.id, "as_of": run.as_of.isoformat(), "counts": run.counts}
    with open_warehouse(Path(env["CRM_DATA_DIR"]) / "analytics.duckdb") as con:
        assert con.execute("SELECT opportunity_no FROM opportunities ORDER BY 1").fetchall() == [("POT1",), ("POT2",)]


def _copied(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name NOT LIKE '\\_%' ESCAPE '\\'").fetchall()]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        self.inside = tag in ("td", "th")
        if self.inside:
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.rows[-1][-1] += data


def _cells(page: str) -> list[list[str]]:
    parser = _Cells()
    parser.feed(page)
    return parser.rows
