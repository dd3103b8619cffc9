"""`crm up`: run every long-running service in the foreground."""

from __future__ import annotations

import click


@click.command()
def up() -> None:
    """Run every long-running service (web app, mail worker, …) in the foreground until Ctrl-C."""
    from crm_store.errors import CrmError
    from crm_store.ops.supervisor import declared_services, run_services

    services = declared_services()
    if not services:
        raise CrmError("no services are installed")
    click.echo(f"Starting {', '.join(services)}. Press Ctrl-C to stop.")
    run_services(services)
    click.echo("All services stopped.")
