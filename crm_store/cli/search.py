"""`crm search`: find records from the command line, or rebuild the search index."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from crm_store.cli.output import Column, echo_table, progress
from crm_store.cli.params import module_choice

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_store.search.query import SearchResult

# The details (company · email or phone) come last and are never cut: half an address is a wrong one.
COLUMNS = (Column("NUMBER"), Column("MODULE"), Column("NAME", 28), Column("OWNER", 20), Column("MATCH"),
           Column("DETAILS", 48))


@click.command("search")
@click.argument("term", required=False)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="Most results to show.")
@click.option("--module", type=module_choice(searchable=True), help="Search this module only.")
@click.option("--rebuild", is_flag=True, help="Rebuild the whole search index first (after a bulk load or import).")
def search(term: str | None, limit: int, module: str | None, rebuild: bool) -> None:
    """Find leads, accounts, contacts and opportunities by name, company, email, phone or number.

    TERM is any part of two or more characters (王小, smith, @example.com), or one Chinese character
    that begins a name, company or word (a family name: 王); four or more digits also match phone
    numbers (0912 345, +886 912 345 678); a record number (LEA12) matches exactly.

    Acting as a user (`crm --as EMAIL search …`, or CRM_USER), only the records they may see are searched.
    """
    from crm_store.cli.work import acting_user
    from crm_store.db.engine import session_scope
    from crm_store.errors import ValidationError
    from crm_store.search.query import search as find
    from crm_store.search.terms import Term

    if term is None and not rebuild:
        raise click.UsageError("give a TERM to search for, or --rebuild")
    if term is not None and Term.parse(term) is None:
        raise ValidationError("term", "type at least two characters, or one Chinese character (王)")
    if rebuild:
        _rebuild()
    if term is None:
        return
    with session_scope() as session:
        user = acting_user(session)
        results = find(session, term, limit=limit, modules=[module] if module else None, user=user)
        owners = _owners(session, results)
    if not results:
        click.echo(f"No records match {term!r}.")
        return
    echo_table(COLUMNS, [_cells(result, owners.get((result.module, result.id), "")) for result in results])
    more = f" (there may be more: --limit {limit * 2})" if len(results) == limit else ""
    click.echo(f"{len(results)} found{more}.")


def _rebuild() -> None:
    from crm_store.db.engine import session_scope
    from crm_store.search.documents import live_records
    from crm_store.search.index import rebuild_index

    started = time.perf_counter()
    with session_scope() as session:
        total = session.scalar(live_records()) or 0
        with progress(total, "Indexing records") as bar:

            def tick(stage: str, n: int) -> None:
                if stage == "grams":
                    bar.label = "Writing grams"
                bar.update(n)

            stats = rebuild_index(session, progress=tick)
    click.echo(f"Indexed {stats.documents:,} records ({stats.grams:,} grams, {stats.phone_grams:,} phone grams) "
               f"in {time.perf_counter() - started:.1f} s.")


def _owners(session: Session, results: list[SearchResult]) -> dict[tuple[str, int], str]:
    """The full name of each found record's owner (records without one are left out)."""
    from sqlalchemy import select

    from crm_store.models import User
    from crm_store.records import registry

    owners: dict[tuple[str, int], str] = {}
    for module in {r.module for r in results}:
        model = registry.get(module).model
        if not hasattr(model, "owner_id"):
            continue
        ids = [r.id for r in results if r.module == module]
        stmt = select(model.id, User.name).join(User, User.id == model.owner_id).where(model.id.in_(ids))
        owners |= {(module, record_id): name for record_id, name in session.execute(stmt)}
    return owners


def _cells(result: SearchResult, owner: str) -> tuple[str, ...]:
    from crm_store.records import registry

    state = "" if result.is_open else " (closed)"
    return (result.number, registry.get(result.module).singular, result.title, owner, result.match + state,
            result.subtitle)
