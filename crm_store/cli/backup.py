"""`crm backup` and `crm restore`: the whole CRM in one archive."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from crm_store.cli.documents import size

PROGRESS_FROM_BYTES = 8 * 2**20  # smaller copies take a blink; a bar would only flicker


@click.command("backup")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path | None) -> None:
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


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    """Restore a backup into an empty data dir and an empty database; verify every file first."""
    from crm_store.config import load_config
    from crm_store.ops import backup as backups

    config = load_config()
    backups.check_restorable(config)  # before the bar, so a refusal is the only thing printed
    with _progress(file.stat().st_size, "Restoring") as advance:
        manifest = backups.restore(config, file, advance)
    click.echo(f"Restored the backup of {manifest['created_at']} (Leadline {manifest['app_version']}, "
               f"{manifest['database']}, revision {manifest['alembic_revision']}): {len(manifest['files'])} files.")
    click.echo("Next: `crm init` upgrades the database if this Leadline is newer.")


@contextmanager
def _progress(length: int, label: str) -> Iterator[Callable[[int], Any]]:
    """Yield a callback that advances a progress bar on stderr, shown only for large copies."""
    if length < PROGRESS_FROM_BYTES:
        yield lambda _n: None
        return
    with click.progressbar(length=length, label=label, width=36, file=sys.stderr) as bar:
        yield bar.update
