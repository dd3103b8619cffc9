"""The campaigns, activities and documents lists' tools — my saved filters, the CSV export, bulk actions — at the
records lists' addresses under each list's own path (`/activities/filters`, `/activities/export.csv`,
`/activities/bulk`, …), done by the records lists' tools (`webform/staff/records/list_tools.py`); a list's
export reads its filter as its page does (`filters.list_query`).

The paths are fixed (static), so they win over the campaign page's `/campaigns/<number>`.
"""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from crm_store import links
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..records import list_tools
from . import filters
from .routes import bp

LISTED = ("campaigns", "activities", "documents")


def _export(module: str) -> ResponseReturnValue:
    """The list, as its query filters and sorts it, as CSV."""
    user = signed_in_user()
    with state().readers() as db:
        offered = filters.choices(db, user, module, scoping.scope_of(db, user))
    return list_tools.export_list(module, *filters.list_query(module, request.args, user, offered))


def _route(module: str) -> None:
    """Route the list's tool addresses to the tools."""

    @login_required
    def save() -> ResponseReturnValue:
        """Keep the list's filter under a name, then show the list with it."""
        return list_tools.save_filter(module)

    @login_required
    def rename(filter_id: str) -> ResponseReturnValue:
        """Give one of my saved filters of the list another name."""
        return list_tools.rename_filter(module, filter_id)

    @login_required
    def delete(filter_id: str) -> ResponseReturnValue:
        """Delete one of my saved filters of the list."""
        return list_tools.delete_filter(module, filter_id)

    @login_required
    def export() -> ResponseReturnValue:
        """The filtered list, every page of it, as a CSV file (streamed), within the user's scope; audited."""
        return _export(module)

    @login_required
    def bulk() -> ResponseReturnValue:
        """Reassign, change the status of, or delete the selected rows: all of them, or none when one is refused."""
        return list_tools.bulk(module)

    for route, view, method in (("saved_filters", save, "POST"), ("saved_filter_rename", rename, "POST"),
                                ("saved_filter_delete", delete, "POST"), ("records_export", export, "GET"),
                                ("records_bulk", bulk, "POST")):
        bp.add_url_rule(links.ROUTES[f"{module}_{route}"], f"{module}_{route}", view, methods=[method])


for _module in LISTED:
    _route(_module)
