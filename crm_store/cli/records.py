"""`crm leads convert`, `duplicates`, `merge`, `undo`, `history`, `bin …`, `person …`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
from sqlalchemy import select

from crm_store.actor import Actor
from crm_store.db.engine import session_scope
from crm_store.errors import ValidationError
from crm_store.models import User
from crm_store.pipeline import conversion
from crm_store.records import audit, duplicates, merge, recycle_bin, registry
from crm_store.records import lifecycle as records
from crm_store.records import privacy as person
from crm_store.settings import company

CLI = Actor.system("cli")


@click.group()
def leads() -> None:
    """Work with leads."""


@leads.command("convert")
@click.argument("lead_no")
@click.option("--account", help="Existing account (ACC number or name); default: matched by the lead's company, else new.")
@click.option("--opportunity", "opportunity_name", help="Also create an opportunity with this name.")
@click.option("--amount", type=str, help="Opportunity amount.")
@click.option("--close-date", help="Opportunity expected close date, YYYY-MM-DD.")
def convert(lead_no: str, account: str | None, opportunity_name: str | None, amount: str | None,
            close_date: str | None) -> None:
    """Convert LEAD_NO into an account, a contact and optionally an opportunity."""
    if (amount or close_date) and not opportunity_name:
        raise ValidationError("opportunity", "--amount and --close-date need --opportunity NAME")
    opp = None
    if opportunity_name:
        if not close_date:
            raise ValidationError("close_date", "an opportunity needs --close-date YYYY-MM-DD")
        opp = {"name": opportunity_name, "amount": amount, "expected_close_date": close_date}
    with session_scope() as session:
        lead = records.get_by_number(session, lead_no)
        if registry.of_record(lead).name != "leads":
            raise ValidationError("lead", f"{lead_no} is not a lead")
        done = conversion.convert_lead(session, lead, CLI, account=account, opportunity=opp)
        made = "created" if done.account_created else "matched"
        click.echo(f"Converted {lead.lead_no}: account {done.account.account_no} ({made}), contact "
                   f"{done.contact.contact_no}" + (f", opportunity {done.opportunity.opportunity_no}" if done.opportunity else "") + ".")


@click.command("duplicates")
@click.argument("module", type=click.Choice(sorted(registry.names(duplicates=True))))
def find_duplicates(module: str) -> None:
    """List groups of MODULE records sharing an email, a phone or (accounts) a company name."""
    with session_scope() as session:
        found = duplicates.groups(session, module)
    for group in found:
        click.echo("  ".join(f"{c.number} {c.label}" for c in group))
    click.echo(f"{len(found)} group(s) of possible duplicates in {module}.")


@click.command("merge")
@click.argument("survivor")
@click.argument("others", nargs=-1, required=True)
@click.option("--take", "takes", multiple=True, metavar="FIELD=RECORD_NO",
              help="Keep FIELD's value from another record, e.g. --take phone=LEA12 (repeatable).")
def merge_records(survivor: str, others: tuple[str, ...], takes: tuple[str, ...]) -> None:
    """Merge 1–2 OTHER records into SURVIVOR; the others go to the recycle bin."""
    with session_scope() as session:
        keep = records.get_by_number(session, survivor)
        rest = [records.get_by_number(session, n) for n in others]
        chosen = {}
        for item in takes:
            field, sep, number = item.partition("=")
            if not sep:
                raise ValidationError("take", f"{item!r} is not FIELD=RECORD_NO")
            chosen[field.strip()] = next((r for r in rest if getattr(r, registry.of_record(r).number_field) == number.strip().upper()), None)
        entry = merge.merge(session, keep, rest, CLI, chosen)
        click.echo(f"Merged {', '.join(o.upper() for o in others)} into {survivor.upper()} (audit {entry.id}; "
                   f"`crm undo {entry.id}` reverses it).")


@click.command("undo")
@click.argument("audit_id", type=int)
def undo(audit_id: int) -> None:
    """Reverse the change recorded as AUDIT_ID (a merge, an update, an assignment, a delete)."""
    with session_scope() as session:
        entry = merge.undo(session, audit_id, CLI)
        click.echo(f"Undid audit entry {audit_id} on {entry.record_no} (recorded as {entry.id}).")


@click.command("history")
@click.argument("record_no")
def history(record_no: str) -> None:
    """Print a record's history: who changed what, and when."""
    with session_scope() as session:
        record = records.get_by_number(session, record_no)
        module = registry.of_record(record).name
        tz = company.zone_for(session)
        names = dict(session.execute(select(User.id, User.email)).all())
        for entry in session.scalars(audit.history(module, record.id)):
            who = names.get(entry.user_id or -1) or entry.automation or "?"
            click.echo(f"{entry.id:>6}  {company.show_time(entry.at, tz)}  {entry.action:<8} {who}")
            for field, change in entry.changes.items():
                if isinstance(change, list) and len(change) == 2:
                    click.echo(f"          {field}: {_show(change[0])} -> {_show(change[1])}")
                else:
                    click.echo(f"          {field}: {_show(change)}")


def _show(value: object) -> str:
    return "—" if value is None else str(value)


@click.group("bin")
def bin_group() -> None:
    """The recycle bin: list, restore and purge deleted records."""


@bin_group.command("list")
@click.option("--module", type=click.Choice(sorted(registry.names(editable=True))))
def bin_list(module: str | None) -> None:
    """List deleted records, newest first."""
    with session_scope() as session:
        tz = company.zone_for(session)
        found = recycle_bin.entries(session, module)
        for e in found:
            click.echo(f"{e.number:<10} {e.label:<30} deleted {company.show_time(e.deleted_at, tz)}")
    click.echo(f"{len(found)} record(s) in the recycle bin.")


@bin_group.command("restore")
@click.argument("record_no")
@click.option("--force", is_flag=True, help="Restore even if it duplicates a live record.")
def bin_restore(record_no: str, force: bool) -> None:
    """Restore RECORD_NO from the recycle bin (after a duplicate check)."""
    with session_scope() as session:
        records.restore(session, records.get_by_number(session, record_no), CLI, force=force)
    click.echo(f"Restored {record_no.upper()}.")


@bin_group.command("purge")
@click.option("--older-than-days", type=click.IntRange(0), help="Default: the recycle_bin_days company setting.")
def bin_purge(older_than_days: int | None) -> None:
    """Delete for good the records that have been in the bin long enough."""
    with session_scope() as session:
        purged = recycle_bin.purge(session, CLI, older_than_days=older_than_days)
    click.echo("Purged " + (", ".join(f"{n} {m}" for m, n in purged.items()) or "nothing") + ".")


@click.group("person")
def person_group() -> None:
    """Personal data requests (PDPA, GDPR): export or erase what is stored about a person."""


@person_group.command("export")
@click.argument("email")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here (default: stdout).")
def person_export(email: str, out: Path | None) -> None:
    """Export everything stored about EMAIL as JSON."""
    with session_scope() as session:
        data = person.export_person(session, email)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=lambda v: str(v) if isinstance(v, Decimal) else v)
    if out:
        out.write_text(text)
        click.echo(f"Wrote {out}.")
    else:
        click.echo(text)


@person_group.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def person_erase(email: str, yes: bool) -> None:
    """Anonymise everything stored about EMAIL (records stay, counted, without the person)."""
    if not yes:
        click.confirm(f"Erase the personal data of {email}? This cannot be undone", abort=True)
    with session_scope() as session:
        counts = person.erase_person(session, email, CLI)
    click.echo(f"Erased {email}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")


LIFECYCLE_COMMANDS = (leads, find_duplicates, merge_records, undo, history, bin_group, person_group)
