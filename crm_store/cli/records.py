"""`crm duplicates`, `crm merge`, `crm undo`, `crm history`: what every kind of record shares."""

from __future__ import annotations

import click

from crm_store.cli.params import module_choice


@click.command("duplicates")
@click.argument("module", type=module_choice(duplicates=True))
def duplicates(module: str) -> None:
    """List groups of MODULE records sharing an email, a phone or (accounts) a company name."""
    from crm_store.db.engine import session_scope
    from crm_store.records import duplicates as finder

    with session_scope() as session:
        found = finder.groups(session, module)
    for group in found:
        click.echo("  ".join(f"{c.number} {c.label}" for c in group))
    click.echo(f"{len(found)} group(s) of possible duplicates in {module}.")


@click.command("merge")
@click.argument("survivor")
@click.argument("others", nargs=-1, required=True)
@click.option("--take", "takes", multiple=True, metavar="FIELD=RECORD_NO",
              help="Keep FIELD's value from another record, e.g. --take phone=LEA12 (repeatable).")
def merge(survivor: str, others: tuple[str, ...], takes: tuple[str, ...]) -> None:
    """Merge 1–2 OTHER records into SURVIVOR; the others go to the recycle bin."""
    from crm_store.actor import Actor
    from crm_store.db.engine import session_scope
    from crm_store.errors import ValidationError
    from crm_store.records import lifecycle, registry
    from crm_store.records import merge as merging

    with session_scope() as session:
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
        entry = merging.merge(session, keep, rest, Actor.system("cli"), chosen)
        click.echo(f"Merged {', '.join(o.upper() for o in others)} into {survivor.upper()} (audit {entry.id}; "
                   f"`crm undo {entry.id}` reverses it).")


@click.command("undo")
@click.argument("audit_id", type=int)
def undo(audit_id: int) -> None:
    """Reverse the change recorded as AUDIT_ID (a merge, an update, an assignment, a delete)."""
    from crm_store.actor import Actor
    from crm_store.db.engine import session_scope
    from crm_store.records import merge as merging

    with session_scope() as session:
        entry = merging.undo(session, audit_id, Actor.system("cli"))
        click.echo(f"Undid audit entry {audit_id} on {entry.record_no} (recorded as {entry.id}).")


@click.command("history")
@click.argument("record_no")
def history(record_no: str) -> None:
    """Print a record's history: who changed what, and when."""
    from crm_store.db.engine import session_scope
    from crm_store.records import audit, lifecycle, registry
    from crm_store.settings import company

    with session_scope() as session:
        record = lifecycle.get_by_number(session, record_no)
        tz = company.zone_for(session)
        for entry, author in session.execute(audit.history_with_authors(registry.of_record(record).name, record.id)):
            who = author or entry.automation or "?"
            click.echo(f"{entry.id:>6}  {company.show_time(entry.at, tz)}  {entry.action:<8} {who}")
            for field, change in entry.changes.items():
                if isinstance(change, list) and len(change) == 2:
                    click.echo(f"          {field}: {_show(change[0])} -> {_show(change[1])}")
                else:
                    click.echo(f"          {field}: {_show(change)}")


def _show(value: object) -> str:
    return "—" if value is None else str(value)
