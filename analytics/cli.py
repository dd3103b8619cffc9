"""`crm analytics refresh` builds the warehouse; `crm report list` and `crm report NAME` read it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

FORMATS = ("table", "csv", "json", "html", "xlsx")  # analytics.formats.FORMATS, without importing it here


class Day(click.ParamType):
    """A calendar date written YYYY-MM-DD; a mistake names the option."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date like 2026-06-30", param, ctx)


DAY = Day()


@click.group("analytics")
def analytics() -> None:
    """The analytics warehouse: a copy of the store that the reports read."""


@analytics.command("refresh")
def refresh_command() -> None:
    """Copy the store's business tables into $CRM_DATA_DIR/analytics.duckdb (replaced whole when done)."""
    from analytics.warehouse import copied_tables, refresh, warehouse_path
    from crm_store.cli.output import progress
    from crm_store.config import load_config

    config = load_config()
    target = warehouse_path(config.data_dir)
    with progress(len(copied_tables()), "Copying tables") as bar:

        def copied(table: str, rows: int) -> None:
            bar.label = f"Copied {table}"
            bar.update(1)

        done = refresh(config.database_url, target, progress=copied)
    rate = done.rows / done.seconds if done.seconds else 0.0
    click.echo(f"Copied {done.tables} tables, {done.rows:,} rows in {done.seconds:.1f} s ({rate:,.0f} rows/s) "
               f"into {target}; the store as of {done.snapshot_at:%Y-%m-%d %H:%M:%S} UTC.")


class ReportGroup(click.Group):
    """`crm report list`, and `crm report NAME …` for each .sql file under analytics/sql/."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """`list`, then the reports."""
        from analytics.reports import report_names

        return ["list", *report_names()]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The `list` command, or a command running the report of that name (an unknown one fails naming it)."""
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return _report_command(cmd_name)


@click.group("report", cls=ReportGroup)
def report() -> None:
    """Managers' reports from the analytics warehouse (build it with `crm analytics refresh`)."""


@report.command("list")
def list_reports() -> None:
    """List the reports and what each shows."""
    from analytics.reports import report_names
    from crm_store.cli.output import Column, echo_table

    echo_table((Column("REPORT"), Column("WHAT IT SHOWS")), [(n, _summary(n)) for n in report_names()])


def _summary(name: str) -> str:
    """The first line of the report's header comment."""
    from analytics.reports import SQL_DIR

    for line in (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines():
        text = line.strip().removeprefix("--").strip().removeprefix(f"{name}:").strip()
        if text:
            return text[:1].upper() + text[1:]
    return ""


def _help(name: str) -> str:
    try:
        return f"{_summary(name)}\n\nRun the {name} report (see its header in analytics/sql/{name}.sql)."
    except OSError:
        return f"Run the {name} report."


def _report_command(name: str) -> click.Command:
    @click.command(name, help=_help(name))
    @click.option("--as-of", "as_of", type=DAY, help="As of this date [default: today in the company's zone].")
    @click.option("--from", "date_from", type=DAY, help="First day of the period [default: a year before --to].")
    @click.option("--to", "date_to", type=DAY, help="Last day of the period [default: --as-of].")
    @click.option("--owner", metavar="EMAIL", help="Only records owned by this user.")
    @click.option("--team", metavar="NAME", help="Only records owned by members of this team.")
    @click.option("--process", metavar="NAME", help="This sales process [default: the default process].")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                  help="How to write the rows.")
    @click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write to this file instead of standard output (needed for xlsx).")
    def run(as_of: dt.date | None, date_from: dt.date | None, date_to: dt.date | None, owner: str | None,
            team: str | None, process: str | None, fmt: str, output: Path | None) -> None:
        _run(name, fmt, output, as_of=as_of, date_from=date_from, date_to=date_to, owner=owner, team=team,
             process=process)

    return run


def _run(name: str, fmt: str, output: Path | None, **given: Any) -> None:
    from analytics.formats import BINARY, render
    from analytics.reports import ReportParams, report_sql, run_report
    from analytics.warehouse import open_warehouse, warehouse_path
    from crm_store.config import load_config

    report_sql(name)  # an unknown report fails here, naming the reports there are
    if fmt in BINARY and output is None:
        raise click.BadParameter(f"{fmt} is a binary file: give --output FILE", param_hint="'--output'")
    with open_warehouse(warehouse_path(load_config().data_dir)) as con:
        result = run_report(con, name, ReportParams(**given))
    written = render(result, fmt, name)
    if output is None:
        click.echo(written, nl=False)
    elif isinstance(written, bytes):
        output.write_bytes(written)
    else:
        output.write_text(written, encoding="utf-8")
    if output is not None:
        click.echo(f"Wrote {len(result.rows)} rows of {name} to {output}.", err=True)
