"""`crm search`: find records from the command line, or rebuild the search index."""

from __future__ import annotations

import sys
import time
import unicodedata
from typing import TYPE_CHECKING

import click

from crm_store.cli.params import module_choice

if TYPE_CHECKING:
    from crm_store.search.query import SearchResult

WIDTHS = (10, 11, 28, 40)  # terminal columns of all but the last cell (how it matched)


@click.command("search")
@click.argument("term", required=False)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="Most results to show.")
@click.option("--module", type=module_choice(searchable=True), help="Search this module only.")
@click.option("--rebuild", is_flag=True, help="Rebuild the whole search index first (after a bulk load or import).")
def search(term: str | None, limit: int, module: str | None, rebuild: bool) -> None:
    """Find leads, accounts, contacts and opportunities by name, company, email, phone or number.

    TERM is any part of two or more characters (王小, smith, @example.com); four or more digits
    also match phone numbers (0912 345, +886 912 345 678); a record number (LEA12) matches exactly.
    """
    from crm_store.db.engine import session_scope
    from crm_store.errors import ValidationError
    from crm_store.search.query import search as find
    from crm_store.search.terms import Term

    if term is None and not rebuild:
        raise click.UsageError("give a TERM to search for, or --rebuild")
    if rebuild:
        _rebuild()
    if term is None:
        return
    if Term.parse(term) is None:
        raise ValidationError("term", "type at least two characters")
    with session_scope() as session:
        results = find(session, term, limit=limit, modules=[module] if module else None)
    if not results:
        click.echo(f"No records match {term!r}.")
        return
    click.echo(_row(("number", "module", "name", "details", "match")))
    for result in results:
        click.echo(_row(_cells(result)))
    more = f" (there may be more: --limit {limit * 2})" if len(results) == limit else ""
    click.echo(f"{len(results)} found{more}.")


def _rebuild() -> None:
    from crm_store.db.engine import session_scope
    from crm_store.search.documents import live_records
    from crm_store.search.index import rebuild_index

    started = time.perf_counter()
    with session_scope() as session:
        total = session.scalar(live_records()) or 0
        with click.progressbar(length=total, label="Indexing records", width=36, file=sys.stderr) as bar:

            def tick(stage: str, n: int) -> None:
                if stage == "grams":
                    bar.label = "Writing grams"
                bar.update(n)

            stats = rebuild_index(session, progress=tick)
    click.echo(f"Indexed {stats.documents:,} records ({stats.grams:,} grams, {stats.phone_grams:,} phone grams) "
               f"in {time.perf_counter() - started:.1f} s.")


def _cells(result: SearchResult) -> tuple[str, ...]:
    from crm_store.records import registry

    state = "" if result.is_open else " (closed)"
    return (result.number, registry.get(result.module).singular, result.title, result.subtitle, result.match + state)


def _row(cells: tuple[str, ...]) -> str:
    return "  ".join([*(_fit(c, w) for c, w in zip(cells, WIDTHS, strict=False)), cells[-1]])


def _fit(value: str, width: int) -> str:
    """Cut and pad to `width` terminal columns; Chinese characters take two."""
    columns = [2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value]
    used = sum(columns)
    if used > width:
        keep, used = 0, 1  # the ellipsis
        while used + columns[keep] <= width:
            used += columns[keep]
            keep += 1
        value = value[:keep] + "…"
    return value + " " * (width - used)
