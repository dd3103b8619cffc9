"""`crm person`: personal-data requests."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click

from crm_store.languages import N_

WAL_BUSY = N_("warning: another process is reading the database, so its write-ahead log still holds the erased "
              "values until the next checkpoint; run `crm person erase` again once the CRM is idle")
VACUUM_HINT = N_("PostgreSQL keeps the old versions of the erased rows in its table files until they are vacuumed: "
                 "run VACUUM on the database now (README › Personal data and backups)")


@click.group("person")
def person() -> None:
    """Personal data requests (PDPA, GDPR): export or erase what is stored about a person."""


@person.command("export")
@click.argument("email")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here (default: stdout).")
def person_export(email: str, out: Path | None) -> None:
    """Export everything stored about EMAIL as JSON."""
    from crm_store.config import load_config
    from crm_store.db.engine import session_scope
    from crm_store.records import privacy

    config = load_config()
    with session_scope(config) as session:
        data = privacy.export_person(session, email, config.data_dir)
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
    """Erase everything stored about EMAIL (records stay, counted, without the person); log it, hashed."""
    from crm_store.cli.work import actor
    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.records import erasures, privacy

    if not yes:
        click.confirm(f"Erase the personal data of {email}? This cannot be undone", abort=True)
    config = load_config()
    engine = make_engine(config.database_url)
    try:
        with session_factory(engine).begin() as session:
            counts = privacy.erase_person(session, email, actor(session), config.data_dir)
        wiped = erasures.wipe_freed(engine)
    finally:
        engine.dispose()
    click.echo(f"Erased {email}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
    if not wiped:
        click.echo(WAL_BUSY, err=True)
    if not config.is_sqlite:
        click.echo(VACUUM_HINT)
