"""The search results page and the fragment the search box shows as you type (`static/search.js`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.models import User
from crm_store.records import registry
from crm_store.records.listing import MODULES, SALES_DOCUMENTS
from crm_store.search.query import SearchResult, search

from ...state import state
from ..access import login_required, signed_in_user
from ..records.modules import record_path

bp = Blueprint("search", __name__, template_folder="templates")
PAGE_LIMIT, SUGGEST_LIMIT, MAX_TERM = 50, 8, 200
# The records, the sales documents (in the same scope), and the catalogue (everyone's: `scope.EVERYONE`).
SEARCHED = (*MODULES, *SALES_DOCUMENTS, "products", "price_books")


@dataclass(frozen=True)
class Hit:
    """A search result as the page shows it: with its path and its owner's name."""

    result: SearchResult
    path: str
    module_label: str
    owner_name: str | None


def find(term: str, limit: int) -> list[Hit]:
    """The records matching `term` that the signed-in user may see, best first, with their owners."""
    user = signed_in_user()
    with state().readers() as db:
        found = search(db, term, limit=limit, modules=SEARCHED, user=user)
        owners = _owners(db, found)
    return [Hit(r, record_path(r.module, r.number), registry.get(r.module).label, owners.get((r.module, r.id)))
            for r in found]


def _owners(db: Session, found: list[SearchResult]) -> dict[tuple[str, int], str]:
    """(module, id) -> the owner's name, one query per module."""
    ids: dict[str, list[int]] = defaultdict(list)
    for result in found:
        ids[result.module].append(result.id)
    names: dict[tuple[str, int], str] = {}
    for module, wanted in ids.items():
        model = registry.get(module).model  # User itself, not an alias: an alias is adapted anew on each request
        rows = db.execute(select(model.id, User.name).join(User, User.id == model.owner_id)
                          .where(model.id.in_(wanted)))
        names |= {(module, row_id): name for row_id, name in rows}
    return names


def _term() -> str:
    return (request.args.get("q") or "").strip()[:MAX_TERM]


@bp.get(links.ROUTES["search"])
@login_required
def results() -> ResponseReturnValue:
    """The results page: works without a script."""
    term = _term()
    hits = find(term, PAGE_LIMIT) if term else []
    return render_template("staff/search/results.html", term=term, hits=hits, limit=PAGE_LIMIT)


@bp.get(links.ROUTES["search_suggest"])
@login_required
def suggest() -> ResponseReturnValue:
    """The first few results as an HTML fragment (no layout) for the search box."""
    term = _term()
    hits = find(term, SUGGEST_LIMIT) if len(term) >= 2 else []
    return render_template("staff/search/suggest.html", term=term, hits=hits)
