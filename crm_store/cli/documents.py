"""`crm documents`: files attached to records."""

from __future__ import annotations

from pathlib import Path

import click

from crm_store.cli.output import Column, echo_table


@click.group("documents")
def documents() -> None:
    """Attach files to leads, accounts, contacts and opportunities, and list them."""


@documents.command("add")
@click.argument("record_no")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", help="Title shown in lists; default the file name.")
@click.option("--user", "user_email", help="Email of the user adding it; default the one `crm --as` / CRM_USER names, "
                                           "else none (an administrator's shell).")
def documents_add(record_no: str, file: Path, title: str | None, user_email: str | None) -> None:
    """Attach FILE to the record numbered RECORD_NO (LEA12, ACC3, CON7, POT2)."""
    from crm_store.actor import Actor
    from crm_store.cli import work
    from crm_store.config import load_config
    from crm_store.records import lifecycle
    from crm_store.records.documents import add_document
    from crm_store.staff import users

    config = load_config()
    with work.transaction(config) as session:
        record = lifecycle.get_by_number(session, record_no)
        actor = Actor.user(users.find_user(session, user_email).id) if user_email else work.actor(session)
        doc = add_document(session, config.data_dir, record, file, filename=file.name, title=title, actor=actor)
        click.echo(f"Added {doc.document_no} {doc.filename} ({doc.content_type}, {size(doc.size)}) "
                   f"to {record_no.upper()}.")


@documents.command("list")
@click.argument("record_no")
def documents_list(record_no: str) -> None:
    """List the documents attached to the record numbered RECORD_NO."""
    from crm_store.db.engine import session_scope
    from crm_store.records import lifecycle
    from crm_store.records.documents import documents_of

    with session_scope() as session:
        record = lifecycle.get_by_number(session, record_no)
        docs = list(session.scalars(documents_of(record)))
        if not docs:
            click.echo(f"{record_no.upper()} has no documents.")
            return
        columns = (Column("NUMBER"), Column("ADDED"), Column("SIZE", right=True), Column("TYPE"), Column("FILE", 40),
                   Column("TITLE"))
        echo_table(columns, [
            (d.document_no, f"{d.created_at:%Y-%m-%d}", size(d.size), f"[{d.content_type}]", d.filename,
             f"“{d.title}”" if d.title != d.filename else "")
            for d in docs
        ])


def size(n: int) -> str:
    """A file size for people: 12.3 MB."""
    for unit, power in (("GB", 3), ("MB", 2), ("KB", 1)):
        if n >= 1024**power:
            return f"{n / 1024**power:.1f} {unit}"
    return f"{n} B"
