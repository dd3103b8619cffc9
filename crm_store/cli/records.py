"""`crm duplicates`, `crm merge`, `crm undo`, `crm history`: what every kind of record shares."""

from __future__ import annotations

import click

from crm_store.cli.output import Column, echo_table
from crm_store.cli.params import module_choice


@click.command("duplicates")
@click.argument("module", type=module_choice(duplicates=True))
def duplicates(module: str) -> None:
    """List groups of MODULE records sharing an email, a phone or (accounts) a company name, and what matched."""
    from crm_store.db.engine import session_scope
    from crm_store.records import duplicates as finder

    with session_scope() as session:
        found = finder.groups(session, module)
    rows = []
    for n, group in enumerate(found, 1):
        shared = "; ".join(f"{field} {value}" for field, value in finder.matched(group))
        rows += [(n if i == 0 else "", c.number, c.label, shared if i == 0 else "") for i, c in enumerate(group)]
    if rows:
        echo_table((Column("GROUP", right=True), Column("NUMBER"), Column("NAME", 40), Column("MATCHED ON")), rows)
    click.echo(f"{len(found)} group(s) of possible duplicates in {module}.")


@click.command("merge")
@click.argument("survivor")
@click.argument("others", nargs=-1, required=True)
@click.option("--take", "takes", multiple=True, metavar="FIELD=RECORD_NO",
              help="Keep FIELD's value from another record, e.g. --take phone=LEA12 (repeatable).")
def merge(survivor: str, others: tuple[str, ...], takes: tuple[str, ...]) -> None:
    """Merge 1–2 OTHER records into SURVIVOR; the others go to the recycle bin."""
    from crm_store.cli.work import actor, transaction
    from crm_store.errors import ValidationError
    from crm_store.records import lifecycle, registry
    from crm_store.records import merge as merging

    with transaction() as session:
        keep = lifecycle.get_by_number(session, survivor)
        rest = [lifecycle.get_by_number(session, n) for n in others]
        chosen = {}
        for item in takes:
            field, sep, number = item.partition("=")
            if not sep:
                raise ValidationError("take", f"{item!r} is not FIELD=RECORD_NO")
            wanted = number.strip().upper()
            chosen[field.strip()] = next(
                (r for r in rest if getattr(r, registry.of_record(r).number_field) == wanted), None
            )
        entry = merging.merge(session, keep, rest, actor(session), chosen)
        click.echo(f"Merged {', '.join(o.upper() for o in others)} into {survivor.upper()} (audit {entry.id}; "
                   f"`crm undo {entry.id}` reverses it).")


@click.command("undo")
@click.argument("audit_id", type=int)
def undo(audit_id: int) -> None:
    """Reverse the change recorded as AUDIT_ID (a merge, an update, an assignment, a delete)."""
    from crm_store.cli.work import actor, transaction
    from crm_store.records import merge as merging

    with transaction() as session:
        entry = merging.undo(session, audit_id, actor(session))
        click.echo(f"Undid audit entry {audit_id} on {entry.record_no} (recorded as {entry.id}).")


@click.command("history")
@click.argument("record_no")
def history(record_no: str) -> None:
    """Print a record's history: who changed what (users by name, ids as names), and when."""
    from crm_store.cli.history import history_rows
    from crm_store.db.engine import session_scope
    from crm_store.records import audit, lifecycle, registry
    from crm_store.settings import company

    with session_scope() as session:
        record = lifecycle.get_by_number(session, record_no)
        tz = company.zone_for(session)
        module = registry.of_record(record).name
        entries = list(session.scalars(audit.history(module, record.id)))
        rows = history_rows(session, module, entries, lambda at: company.show_time(at, tz))
    echo_table((Column("AUDIT", right=True), Column("WHEN"), Column("ACTION"), Column("BY", 30), Column("CHANGE")),
               rows)
