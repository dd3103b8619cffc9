"""`crm person`: personal-data requests."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click


@click.group("person")
def person() -> None:
    """Personal data requests (PDPA, GDPR): export or erase what is stored about a person."""


@person.command("export")
@click.argument("email")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here (default: stdout).")
def person_export(email: str, out: Path | None) -> None:
    """Export everything stored about EMAIL as JSON."""
    from crm_store.db.engine import session_scope
    from crm_store.records import privacy

    with session_scope() as session:
        data = privacy.export_person(session, email)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=lambda v: str(v) if isinstance(v, Decimal) else v)
    if out:
        out.write_text(text, encoding="utf-8", errors="replace")  # JSON is UTF-8; see replace_unencodable
        click.echo(f"Wrote {out}.")
    else:
        click.echo(text)


@person.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def person_erase(email: str, yes: bool) -> None:
    """Anonymise everything stored about EMAIL (records stay, counted, without the person)."""
    from crm_store.actor import Actor
    from crm_store.db.engine import session_scope
    from crm_store.records import privacy

    if not yes:
        click.confirm(f"Erase the personal data of {email}? This cannot be undone", abort=True)
    with session_scope() as session:
        counts = privacy.erase_person(session, email, Actor.system("cli"))
    click.echo(f"Erased {email}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
