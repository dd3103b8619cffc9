"""`crm flows …`: list the scheduled flows, run one now, see how each last ran, serve them all with Prefect."""

from __future__ import annotations

import sys

import click

from crm_store.cli.output import Column, echo_table

AS_OF_HELP = ("Run as of this moment: ISO date-time, e.g. 2026-09-07T08:30 (without a zone: company time; a bare "
              "date: its midnight) [default: now].")


@click.group("flows")
def flows() -> None:
    """The sales automation's scheduled flows: list, run one now, status, serve them with Prefect."""


@flows.command("list")
def list_flows() -> None:
    """List the flows with their cron schedules (in the company's time zone) and what each does."""
    from crm_store.db.engine import session_scope
    from crm_store.settings import company
    from flows import catalog

    with session_scope() as session:
        zone = company.get(session, "time_zone")
    echo_table((Column("NAME"), Column("SCHEDULE"), Column("ZONE"), Column("WHAT IT DOES")), [
        (entry.name, entry.schedule.cron, zone, entry.schedule.description) for entry in catalog.CATALOG.values()
    ])
    click.echo(f"Schedules run in the company's time zone ({zone}); after changing it, restart `crm flows serve`.")


@flows.command("run")
@click.argument("name")
@click.option("--as-of", "as_of", metavar="ISO", help=AS_OF_HELP)
def run_flow(name: str, as_of: str | None) -> None:
    """Run flow NAME once now, without Prefect, and print what it did (exit status 1 if it failed)."""
    from crm_store.automation import runs
    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.settings import company
    from flows import catalog

    job = catalog.job(name)
    engine = make_engine(load_config().database_url)
    try:
        factory = session_factory(engine)
        with factory() as session:
            moment = runs.parse_as_of(session, as_of)
            zone = company.zone(session)
        click.echo(f"Running {name} as of {company.show_time(moment, zone)}…", err=True)
        report = runs.run(factory, name, job, moment, trigger="cli")
    finally:
        engine.dispose()
    summary = runs.Outcome(report.counts, report.errors).summary()
    click.echo(f"{name} {report.status} in {report.seconds:.1f} s (run {report.id}): {summary}.")
    if report.status == "failed":
        for error in report.errors:
            click.echo(f"error: {name}: {_one_line(error)}", err=True)
        sys.exit(1)


@flows.command("status")
def status() -> None:
    """Show the last run of each flow: when, how it ended, what it counted, its errors; failures spelled out below."""
    from crm_store.automation import runs
    from crm_store.db.engine import session_scope
    from crm_store.settings import company
    from flows import catalog

    with session_scope() as session:
        latest = runs.last_runs(session)
        zone = company.zone(session)
    names = [*catalog.names(), *sorted(set(latest) - set(catalog.names()))]
    rows = []
    for name in names:
        run = latest.get(name)
        if run is None:
            rows.append((name, "never run", "", "", "", "", ""))
            continue
        counts = runs.Outcome(dict(run.counts)).summary() if run.counts else ""
        rows.append((name, "FAILED" if run.status == "failed" else run.status,
                     company.show_time(run.started_at, zone),
                     company.show_time(run.finished_at, zone) if run.finished_at else "", run.trigger, counts,
                     _one_line(run.errors or "")))
    echo_table((Column("FLOW"), Column("STATUS"), Column("STARTED"), Column("FINISHED"), Column("BY"),
                Column("COUNTS", 50), Column("ERRORS", 60)), rows)
    failed = [latest[name] for name in names if name in latest and latest[name].status == "failed"]
    for run in failed:
        click.secho(f"{run.flow} failed (run {run.id}, {company.show_time(run.started_at, zone)}): "
                    f"{_one_line(run.errors or 'no error recorded')}", fg="red", bold=True)
    if failed:
        click.echo("Fix the cause, then `crm flows run NAME` (each flow picks up what a failed run left).")


@flows.command("serve")
@click.option("--cron", "crons", multiple=True, metavar="NAME=EXPR",
              help="Serve flow NAME on this cron (company time) instead of its own, e.g. --cron "
                   "'deliver-email=* * * * *'. Repeat for more flows.")
@click.option("--only", multiple=True, metavar="NAME", help="Serve only this flow; repeat for more [default: all].")
@click.option("--server-port", type=click.IntRange(1, 65535),
              help="Port of the local Prefect server started when PREFECT_API_URL is unset [default: a free port].")
def serve(crons: tuple[str, ...], only: tuple[str, ...], server_port: int | None) -> None:
    """Run every flow on its schedule with Prefect until stopped (Ctrl-C or SIGTERM); `crm up` runs this.

    The schedules are in the company's time zone as the database has it when serving starts: after changing
    `time_zone`, restart this. With PREFECT_API_URL unset a local Prefect server is started first on 127.0.0.1
    (its home in $CRM_DATA_DIR/prefect unless PREFECT_HOME is set) and stopped on exit; set PREFECT_API_URL to
    use a shared server instead.
    """
    import contextlib
    import logging
    import os
    import signal

    from crm_store.config import load_config
    from crm_store.db.engine import session_scope
    from crm_store.errors import CrmError
    from crm_store.settings import company
    from flows import deployments
    from flows.server import local_server, prefect_home

    config = load_config()
    with session_scope(config) as session:
        zone = company.get(session, "time_zone")
    schedule = _servable(deployments.schedules(deployments.parse_overrides(crons), only))
    home = prefect_home(config.data_dir)
    os.environ["PREFECT_HOME"] = str(home)  # set before Prefect is imported: it reads its settings then
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly until Prefect's runner takes SIGTERM over
    with contextlib.ExitStack() as stack:
        api_url, server = os.environ.get("PREFECT_API_URL"), None
        if not api_url:
            click.echo("Starting a local Prefect server (PREFECT_API_URL is unset)…")
            sys.stdout.flush()
            server = stack.enter_context(local_server(home, server_port))
            server.watch(lambda: os.kill(os.getpid(), signal.SIGTERM))  # serving without it is no use: stop, fail
            api_url = server.api_url
            os.environ["PREFECT_API_URL"] = api_url  # the flow runs' processes inherit it
        from prefect import serve as serve_deployments
        from prefect.settings import PREFECT_API_URL, temporary_settings

        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per poll of the Prefect API
        stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))  # in case Prefect was imported before
        built = deployments.build(zone, schedule)
        click.echo(f"Serving {', '.join(f'{n} ({c})' for n, c in schedule.items())} in {zone} with Prefect at "
                   f"{api_url}. Ctrl-C stops.")
        sys.stdout.flush()
        serve_deployments(*built, print_starting_message=False)
        if server is not None and server.died():
            raise CrmError(f"the local Prefect server stopped: {server.last_log_line()} (log: {server.log_path})")
    click.echo("Scheduler stopped.")


def _servable(schedule: dict[str, str]) -> dict[str, str]:
    """The flows of `schedule` whose job is installed; a warning for each one left out."""
    from crm_store.errors import CrmError
    from flows import catalog

    servable = {}
    for name, cron in schedule.items():
        try:
            catalog.job(name)
        except CrmError as exc:
            click.echo(f"warning: not serving {name}: {exc}", err=True)
            continue
        servable[name] = cron
    if not servable:
        raise CrmError("no flow can be served")
    return servable


def _one_line(text: str, limit: int = 300) -> str:
    """An error on one line, cut at `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def scheduler_service() -> list[str]:
    """The command `crm up` runs for the scheduler."""
    return [sys.executable, "-m", "crm_store", "flows", "serve"]
