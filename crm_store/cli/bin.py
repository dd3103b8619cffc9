"""`crm bin`: the recycle bin."""

from __future__ import annotations

import click

from crm_store.cli.output import Column, echo_table
from crm_store.cli.params import module_choice


@click.group("bin")
def bin_group() -> None:
    """The recycle bin: list, restore and purge deleted records."""


@bin_group.command("list")
@click.option("--module", type=module_choice(editable=True), help="Only records of this module.")
def bin_list(module: str | None) -> None:
    """List deleted records, newest first."""
    from crm_store.db.engine import session_scope
    from crm_store.records import recycle_bin
    from crm_store.settings import company

    with session_scope() as session:
        tz = company.zone_for(session)
        found = recycle_bin.entries(session, module)
        if found:
            echo_table((Column("NUMBER"), Column("NAME", 40), Column("DELETED")),
                       [(e.number, e.label, company.show_time(e.deleted_at, tz)) for e in found])
    click.echo(f"{len(found)} record(s) in the recycle bin.")


@bin_group.command("restore")
@click.argument("record_no")
@click.option("--force", is_flag=True, help="Restore even if it duplicates a live record.")
def bin_restore(record_no: str, force: bool) -> None:
    """Restore RECORD_NO from the recycle bin (after a duplicate check)."""
    from crm_store.cli.work import actor, transaction
    from crm_store.records import lifecycle

    with transaction() as session:
        lifecycle.restore(session, lifecycle.get_by_number(session, record_no), actor(session), force=force)
    click.echo(f"Restored {record_no.upper()}.")


@bin_group.command("purge")
@click.option("--older-than-days", type=click.IntRange(0, 36500), help="Default: the recycle_bin_days company setting.")
def bin_purge(older_than_days: int | None) -> None:
    """Delete for good the records that have been in the bin long enough."""
    from crm_store.cli.work import actor, transaction
    from crm_store.records import recycle_bin

    with transaction() as session:
        purged = recycle_bin.purge(session, actor(session), older_than_days=older_than_days)
    click.echo("Purged " + (", ".join(f"{n} {m}" for m, n in purged.items()) or "nothing") + ".")
