"""`crm backup` and `crm restore`: the whole CRM in one archive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from crm_store.cli.documents import size
from crm_store.cli.output import progress
from crm_store.languages import N_

PROGRESS_FROM_BYTES = 8 * 2**20  # smaller copies take a blink; a bar would only flicker
VERIFIED = N_("Verified the restored database: its %(tables)s tables hold the rows the manifest lists.")
VERIFIED_NO_COUNTS = N_("Verified the restored database (this backup lists no row counts to compare).")
REAPPLIED = N_("Re-applied %(count)s erasure(s) made after this backup: those people are erased again.")
NO_ERASURE_LOG = N_("People erased after this backup was taken are back in it: restore with --erasures-from "
                    "the database it replaces to erase them again.")


@click.command("backup")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--keep", type=click.IntRange(min=1), metavar="N",
              help="Then delete the older backups named by time (leadline-<UTC time>.tar.gz) in the folder written "
                   "to, keeping the newest N; other files are left alone.")
def backup(file: Path | None, keep: int | None) -> None:
    """Write the database, documents and secret key to one archive (default: $CRM_DATA_DIR/backups/)."""
    from crm_store.config import load_config
    from crm_store.ops import backup as backups

    config = load_config()
    target = backups.resolve_target(config, file)
    with backups.snapshot(config, target.parent) as snap, _progress(snap.total_bytes, "Writing backup") as advance:
        backups.write_archive(snap, target, advance)
    click.echo(f"Backed up {snap.database} (revision {snap.revision}) and {len(snap.files) - 1} files "
               f"to {target} ({size(target.stat().st_size)}).")
    click.echo("It holds the secret key and every record: keep it somewhere safe.")
    if keep is not None:
        deleted = backups.prune(target.parent, keep)
        click.echo(f"Deleted {len(deleted)} older backup(s) in {target.parent}, keeping the newest {keep}.")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--erasures-from", metavar="DATABASE",
              help="The database this backup replaces (a URL, or a SQLite file): erase again who was erased there.")
def restore(file: Path, erasures_from: str | None) -> None:
    """Restore a backup into an empty data dir and an empty database; verify every file first, the database after."""
    from crm_store.config import load_config
    from crm_store.ops import backup as backups
    from crm_store.records.erasures import read_log

    config = load_config()
    backups.check_restorable(config)  # before the bar, so a refusal is the only thing printed
    if erasures_from:
        read_log(erasures_from)  # likewise: an unreadable log is refused before anything is written
    with _progress(file.stat().st_size, "Restoring") as advance:
        done = backups.restore(config, file, advance, erasures_from)
    manifest = done.manifest
    click.echo(f"Restored the backup of {manifest['created_at']} (Leadline {manifest['app_version']}, "
               f"{manifest['database']}, revision {manifest['alembic_revision']}): {len(manifest['files'])} files.")
    click.echo(VERIFIED % {"tables": done.tables_checked} if done.tables_checked else VERIFIED_NO_COUNTS)
    if done.erasures_reapplied is None:
        click.echo(NO_ERASURE_LOG)
    else:
        click.echo(REAPPLIED % {"count": done.erasures_reapplied})
    if not done.wal_emptied:
        from crm_store.cli.person import WAL_BUSY

        click.echo(WAL_BUSY, err=True)
    click.echo("Next: `crm init` upgrades the database if this Leadline is newer.")


@contextmanager
def _progress(length: int, label: str) -> Iterator[Callable[[int], Any]]:
    """Yield a callback that advances a progress bar on stderr (lines, in a log), shown only for large copies."""
    if length < PROGRESS_FROM_BYTES:
        yield lambda _n: None
        return
    with progress(length, label, unit=size) as bar:
        yield bar.update
