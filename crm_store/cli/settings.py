"""`crm settings`: show and change the company settings."""

from __future__ import annotations

import json
from typing import Any

import click

from crm_store.cli.output import Column, echo_table


@click.group()
def settings() -> None:
    """Show and change company settings (time zone, working hours, thresholds, ...)."""


@settings.command("list")
def settings_list() -> None:
    """List every company setting with its value and what it does."""
    from crm_store.db.engine import session_scope
    from crm_store.settings import company

    with session_scope() as session:
        values = company.all_settings(session)
    echo_table((Column("KEY"), Column("VALUE", 32), Column("WHAT IT IS")),
               [(d.key, show(values[d.key]), d.help) for d in company.DEFINITIONS])


@settings.command("get")
@click.argument("key")
def settings_get(key: str) -> None:
    """Print one company setting."""
    from crm_store.db.engine import session_scope
    from crm_store.settings import company

    with session_scope() as session:
        click.echo(show(company.get(session, key)))


@settings.command("set")
@click.argument("key")
@click.argument("value")
def settings_set(key: str, value: str) -> None:
    """Change a company setting; lists are comma-separated (holidays 2026-01-01,2026-02-16)."""
    from crm_store.cli.work import transaction
    from crm_store.settings import company

    with transaction() as session:
        stored = company.set_value(session, key, value)
    click.echo(f"{key} = {show(stored)}")


def show(value: Any) -> str:
    """A setting's value as typed on the command line: on/off, comma-separated lists."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value) if not isinstance(value, dict) else json.dumps(value)
