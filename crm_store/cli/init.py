"""`crm init`: create or upgrade the database and seed what every installation starts with."""

from __future__ import annotations

import click


@click.command()
def init() -> None:
    """Create or upgrade the database and seed picklists, stages, currencies, settings and the business tax."""
    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.db.schema import upgrade
    from crm_store.ops.backup import backup_before_migration
    from crm_store.sales import taxes
    from crm_store.settings import seed

    config = load_config()
    saved = backup_before_migration(config)
    if saved is not None:
        click.echo(f"Backed up the database before migrating: {saved}")
    engine = make_engine(config.database_url)
    try:
        before, after = upgrade(engine)
        with session_factory(engine).begin() as session:
            report = seed.seed_all(session)
            taxes_added = taxes.seed(session)  # not in seed_all: test databases set their own
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
            f"{report.sales_processes} sales processes, {report.settings} company settings, "
            f"{report.cadences} follow-up cadences, {report.playbooks} stage playbooks."
        )
    if taxes_added:
        click.echo(f"Seeded the default tax: {', '.join(f'{n} {r.normalize():f} %' for n, r, _s in taxes.DEFAULTS)}.")
