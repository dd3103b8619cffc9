"""`crm documents …`, `crm backup` and `crm restore`: files attached to records, and whole-CRM archives."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from crm_store.actor import Actor
from crm_store.config import load_config
from crm_store.db.engine import session_scope
from crm_store.ops import backup as backups
from crm_store.records import lifecycle as records
from crm_store.records.documents import add_document, documents_of
from crm_store.staff import users

PROGRESS_FROM_BYTES = 8 * 2**20  # smaller copies take a blink; a bar would only flicker


@click.group("documents")
def documents_group() -> None:
    """Attach files to leads, accounts, contacts and opportunities, and list them."""


@documents_group.command("add")
@click.argument("record_no")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", help="Title shown in lists; default the file name.")
@click.option("--user", "user_email", help="Email of the user adding it; default none (an administrator's shell).")
def documents_add(record_no: str, file: Path, title: str | None, user_email: str | None) -> None:
    """Attach FILE to the record numbered RECORD_NO (LEA12, ACC3, CON7, POT2)."""
    config = load_config()
    with session_scope(config) as session:
        record = records.get_by_number(session, record_no)
        actor = Actor.user(users.find_user(session, user_email).id) if user_email else Actor.system("cli")
        doc = add_document(session, config.data_dir, record, file, filename=file.name, title=title, actor=actor)
        click.echo(f"Added {doc.document_no} {doc.filename} ({doc.content_type}, {_size(doc.size)}) "
                   f"to {record_no.upper()}.")


@documents_group.command("list")
@click.argument("record_no")
def documents_list(record_no: str) -> None:
    """List the documents attached to the record numbered RECORD_NO."""
    with session_scope() as session:
        record = records.get_by_number(session, record_no)
        docs = list(session.scalars(documents_of(record)))
        if not docs:
            click.echo(f"{record_no.upper()} has no documents.")
        for d in docs:
            title = f"  “{d.title}”" if d.title != d.filename else ""
            click.echo(f"{d.document_no:<8} {d.created_at:%Y-%m-%d} {_size(d.size):>9}  {d.filename}{title}  "
                       f"[{d.content_type}]")


@click.command("backup")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path | None) -> None:
    """Write the database, documents and secret key to one archive (default: $CRM_DATA_DIR/backups/)."""
    config = load_config()
    target = backups.resolve_target(config, file)
    with backups.snapshot(config, target.parent) as snap:
        with _progress(snap.total_bytes, "Writing backup") as advance:
            backups.write_archive(snap, target, advance)
    click.echo(f"Backed up {snap.database} (revision {snap.revision}) and {len(snap.files) - 1} files "
               f"to {target} ({_size(target.stat().st_size)}).")
    click.echo("It holds the secret key and every record: keep it somewhere safe.")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(file: Path) -> None:
    """Restore a backup into an empty data dir and an empty database; verify every file first."""
    config = load_config()
    backups.check_restorable(config)  # before the bar, so a refusal is the only thing printed
    with _progress(file.stat().st_size, "Restoring") as advance:
        manifest = backups.restore(config, file, advance)
    click.echo(f"Restored the backup of {manifest['created_at']} (Leadline {manifest['app_version']}, "
               f"{manifest['database']}, revision {manifest['alembic_revision']}): {len(manifest['files'])} files.")
    click.echo("Next: `crm init` upgrades the database if this Leadline is newer.")


@contextmanager
def _progress(length: int, label: str) -> Iterator[backups.Progress]:
    """Yield a callback that advances a progress bar on stderr, shown only for large copies."""
    if length < PROGRESS_FROM_BYTES:
        yield lambda _n: None
        return
    with click.progressbar(length=length, label=label, width=36, file=sys.stderr) as bar:
        yield bar.update


def _size(n: int) -> str:
    for unit, power in (("GB", 3), ("MB", 2), ("KB", 1)):
        if n >= 1024**power:
            return f"{n / 1024**power:.1f} {unit}"
    return f"{n} B"
