"""The campaigns, activities and documents lists, and a campaign's page."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from crm_store import links
from crm_store.errors import ValidationError
from crm_store.models import utcnow
from crm_store.records.campaign_page import campaign_page
from crm_store.records.listing import PAGE_SIZE, SORTS, list_records
from crm_store.settings import company
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..records import list_tools, pickers
from ..records.routes import LIST_RESTARTED
from . import filters

bp = Blueprint("lists", __name__, template_folder="templates")


@bp.get(links.ROUTES["campaigns"])
@login_required
def campaigns() -> ResponseReturnValue:
    """The company's campaigns (every user sees them)."""
    return _list("campaigns")


@bp.get(links.ROUTES["activities"])
@login_required
def activities() -> ResponseReturnValue:
    """The tasks, calls, meetings and logged emails of the owners the user sees; by type, status and day."""
    return _list("activities")


@bp.get(links.ROUTES["documents"])
@login_required
def documents() -> ResponseReturnValue:
    """The documents the user may see: their owners' records are in scope, or a record they are attached to is."""
    return _list("documents")


@bp.get(links.ROUTES["campaign"])
@login_required
def campaign(number: str) -> ResponseReturnValue:
    """A campaign's fields, and its leads, contacts and opportunities the user may see."""
    user = signed_in_user()
    with state().readers() as db:
        shown = campaign_page(db, user, number, language=str(g.get("language", "en")))
    if shown is None:
        abort(404)
    return render_template("staff/lists/campaign.html", page=shown)


def _list(module: str) -> ResponseReturnValue:
    """A list: filtered, sorted on an indexed key, a page at a time; my saved filters, export, bulk actions."""
    user, args = signed_in_user(), request.args
    active = list_tools.active_filter(module, user, args.get("saved"))  # someone else's: 404
    if active is not None and not list_tools.params_of(args):
        return redirect(list_tools.with_query(module, {**active[1], "saved": active[0]}), code=303)
    with state().readers() as db:
        scope = scoping.scope_of(db, user)
        offered = filters.choices(db, user, module, scope)
        shown, sort, descending = filters.list_query(module, args, user, offered)
        try:
            page = list_records(db, user, module, shown, sort=sort, descending=descending, cursor=args.get("cursor"),
                                size=PAGE_SIZE, scope=scope)
        except ValidationError:
            flash(gettext(LIST_RESTARTED), "info")
            return redirect(_here(module, args, cursor=None), code=303)
        zone = company.zone_for(db, user)
        assignees = pickers.owners(db, user, scope) if module in scoping.EVERYONE else offered["owners"]
        tools = list_tools.tools(db, user, module, args, scope, assignees, active[0] if active else None)
    today = utcnow().astimezone(zone).date()  # an open activity before today's start is overdue
    return render_template(
        "staff/lists/list.html", module=module, page=page, args=args, sorts=SORTS[module],
        here=lambda **changes: _here(module, args, **changes), filtered=filters.is_filtered(args), pool=False,
        today=today, day_start=dt.datetime.combine(today, dt.time(), zone), tools=tools, **offered,
    )


def _here(module: str, args: Any, **changes: Any) -> str:
    """This list's path with some of its query changed (None drops a key)."""
    query = {key: value for key, value in args.items() if value}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return links.path(module) + (f"?{urlencode(query)}" if query else "")


from . import tools as _tools  # noqa: E402, F401 - the lists' saved filters, export and bulk actions join this blueprint
