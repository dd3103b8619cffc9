"""The `crm` command: one root group; other packages add sub-groups through entry points."""

from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import entry_points, version
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from crm_store.config import load_config
from crm_store.db.engine import make_engine, session_factory, session_scope
from crm_store.db.schema import upgrade
from crm_store.errors import CrmError
from crm_store.ops.backup import backup_before_migration
from crm_store.settings import company, seed
from crm_store.staff import users


class CrmGroup(click.Group):
    """A group that prints user mistakes as one line and exits non-zero, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrmError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except OperationalError as exc:
            click.echo(f"error: the database could not be used: {exc.orig}", err=True)
            click.echo("hint: check CRM_DATABASE_URL and run `crm init`", err=True)
            sys.exit(1)


@click.group(cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("leadline"), prog_name="crm")
def main() -> None:
    """Leadline CRM: set up, load demo data and run the CRM from the command line."""
    level = load_config().log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
def init() -> None:
    """Create or upgrade the database and seed picklists, stages, currencies and settings."""
    config = load_config()
    saved = backup_before_migration(config)
    if saved is not None:
        click.echo(f"Backed up the database before migrating: {saved}")
    engine = make_engine(config.database_url)
    try:
        before, after = upgrade(engine)
        with session_factory(engine).begin() as session:
            report = seed.seed_all(session)
    finally:
        engine.dispose()
    where = config.database_url if not config.is_sqlite else config.database_url.removeprefix("sqlite:///")
    if before == after:
        click.echo(f"Database {where} is up to date (revision {after}).")
    else:
        click.echo(f"Database {where}: migrated {before or 'empty'} -> {after}.")
    if report.total():
        click.echo(
            f"Seeded {report.picklist_values} picklist values, {report.currencies} currencies, "
            f"{report.sales_processes} sales processes, {report.settings} company settings."
        )


@main.group()
def settings() -> None:
    """Show and change company settings (time zone, working hours, thresholds, ...)."""


@settings.command("list")
def settings_list() -> None:
    """List every company setting with its value and what it does."""
    with session_scope() as session:
        values = company.all_settings(session)
    width = max(len(k) for k in values)
    for d in company.DEFINITIONS:
        click.echo(f"{d.key:<{width}}  {_show(values[d.key]):<24}  {d.help}")


@settings.command("get")
@click.argument("key")
def settings_get(key: str) -> None:
    """Print one company setting."""
    with session_scope() as session:
        click.echo(_show(company.get(session, key)))


@settings.command("set")
@click.argument("key")
@click.argument("value")
def settings_set(key: str, value: str) -> None:
    """Change a company setting; lists are comma-separated (holidays 2026-01-01,2026-02-16)."""
    with session_scope() as session:
        stored = company.set_value(session, key, value)
    click.echo(f"{key} = {_show(stored)}")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value) if not isinstance(value, dict) else json.dumps(value)


@main.group("users")
def users_group() -> None:
    """Add, list and deactivate staff users."""


@users_group.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name as shown to colleagues.")
@click.option("--role", type=click.Choice(["admin", "manager", "rep"]), default="rep", show_default=True)
@click.option("--manager", "manager_email", help="Email of this user's manager.")
@click.option("--language", type=click.Choice(["en", "zh_Hant"]), help="Language of emails and pages.")
@click.option("--time-zone", help="IANA zone such as Asia/Taipei; default the company's.")
def users_add(email: str, name: str, role: str, manager_email: str | None, language: str | None, time_zone: str | None) -> None:
    """Add a user who logs in with EMAIL."""
    with session_scope() as session:
        user = users.add_user(
            session, email, name, role=role, manager_email=manager_email, language=language, time_zone=time_zone
        )
        click.echo(f"Added {user.role} {user.name} <{user.email}> (id {user.id}).")


@users_group.command("list")
@click.option("--active-only", is_flag=True, help="Leave out deactivated users.")
def users_list(active_only: bool) -> None:
    """List users with their role, language and manager."""
    with session_scope() as session:
        rows = list(session.scalars(users.list_users(include_inactive=not active_only)))
        by_id = {u.id: u for u in rows}
        for u in rows:
            manager = by_id[u.manager_id].email if u.manager_id in by_id else ""
            state = "active" if u.active else "inactive"
            click.echo(f"{u.id:>4}  {u.email:<32} {u.name:<24} {u.role:<8} {u.language:<8} {state:<9} {manager}")


@users_group.command("deactivate")
@click.argument("email")
@click.option("--reassign-to", help="Email of the user who takes over EMAIL's open leads, deals, accounts, contacts and activities.")
def users_deactivate(email: str, reassign_to: str | None) -> None:
    """Stop EMAIL from logging in and receiving new leads; hand their open work on."""
    with session_scope() as session:
        moved = users.deactivate_user(session, email, reassign_to=reassign_to)
    lists = moved.pop("round_robin_lists", 0)
    forms_moved = moved.pop("forms", 0)
    summary = ", ".join(f"{n} {k}" for k, n in moved.items() if n)
    click.echo(f"Deactivated {email.lower()}." + (f" Reassigned to {reassign_to}: {summary}." if summary else ""))
    if lists:
        click.echo(f"Removed from {lists} web-form round-robin list(s).")
    if forms_moved:
        click.echo(f"{forms_moved} web form(s) they owned now go to {reassign_to or 'nobody (leads stay unassigned)'}.")


@main.command()
def up() -> None:
    """Run every long-running service (mail worker, …) in the foreground until Ctrl-C."""
    from crm_store.ops.supervisor import declared_services, run_services

    services = declared_services()
    if not services:
        raise CrmError("no services are installed")
    click.echo(f"Starting {', '.join(services)}. Press Ctrl-C to stop.")
    run_services(services)
    click.echo("All services stopped.")


def _load_plugins() -> None:
    """Add the sub-groups other packages declare under the `leadline.cli` entry point group."""
    for ep in entry_points(group="leadline.cli"):
        try:
            main.add_command(ep.load(), ep.name)
        except Exception as exc:  # a broken add-on must not take the core commands down with it
            click.echo(f"warning: the `crm {ep.name}` commands could not be loaded: {exc}", err=True)


from crm_store.cli.demo import demo  # noqa: E402  (each command group lives beside what it drives)
from crm_store.cli.documents import backup_command, documents_group, restore_command  # noqa: E402
from crm_store.cli.forms import forms  # noqa: E402
from crm_store.cli.records import LIFECYCLE_COMMANDS  # noqa: E402
from crm_store.cli.search import search  # noqa: E402

main.add_command(demo)
for _command in (*LIFECYCLE_COMMANDS, documents_group, backup_command, restore_command, search, forms):
    main.add_command(_command)
_load_plugins()
