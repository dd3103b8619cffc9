"""A list's tools: my saved filters (save, open, rename, delete), the filtered list as CSV, and bulk actions on the
selected rows (reassign, change the status, delete).

Generic over the lists — the records lists here (`/leads/filters`, `/leads/export.csv`, `/leads/bulk`), and the
campaigns, activities and documents lists at the same addresses under their own paths (`webform/staff/lists/tools.py`
routes them to the functions below): what a list offers is the store's (`crm_store.staff.bulk_actions.offers`) —
reassign when its rows have owners, a status change when it has a status picklist, delete where rows may be
deleted — drawn by `staff/_list.html`. Only the rows the user may change can be selected, and every selected id
is checked again by the store, all or nothing; exports go through the list's own query
(`crm_store.records.export`) and are audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, flash, g, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Campaign, User
from crm_store.records import export, registry, saved_filters
from crm_store.records.listing import ListFilter
from crm_store.settings import picklists
from crm_store.staff import bulk_actions
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, safe_next, signed_in_user
from ..forms import store_message
from . import pickers
from .forms import ConfirmForm
from .modules import module_of
from .routes import bp, list_query, write

SAVED = N_("Saved the filter “%(name)s”.")
RENAMED = N_("The filter is now called “%(name)s”.")
FILTER_DELETED = N_("Deleted the saved filter “%(name)s”.")
NOT_SAVED = N_("The filter was not saved: %(reason)s")
NOTHING_SELECTED = N_("Select at least one row first.")
NOT_DONE = N_("Nothing was changed: %(reason)s")
NOTHING_TO_CHANGE = N_("Nothing to change: the selected records are like that already.")
CHOOSE_OWNER = N_("Choose whom to assign the selected records to.")
CHOOSE_STATUS = N_("Choose the status to give the selected records.")
ACTIVITY_LABELS = (N_("activity"), N_("activities"))  # activities have no registry entry to name them
CAMPAIGN_LISTS = ("leads", "contacts", "opportunities")  # the lists a campaign's page links to (?campaign=)


@dataclass(frozen=True)
class SavedChoice:
    """One of my saved filters in the picker."""

    id: int
    name: str
    href: str  # the list with its filter


@dataclass(frozen=True)
class ListTools:
    """What a list page needs to draw its tools."""

    module: str
    path: str  # the list's url path segment (leads, activities, …)
    params: dict[str, str]  # the list's known filter and sort keys, as in its address
    saved: list[SavedChoice]
    active: SavedChoice | None  # the saved filter the list shows (?saved=)
    active_changed: bool  # …with its filter or sort changed since
    export_href: str
    scope: scoping.Scope
    can_reassign: bool
    owners: list[tuple[str, str]] = field(default_factory=list)  # whom selected records may go to
    statuses: list[str] = field(default_factory=list)  # the list's status picklist(s) (empty: no status change)
    can_delete: bool = False
    in_bin: bool = True  # deleted rows wait in the recycle bin (else they only leave the list)
    campaign: tuple[str, str] | None = None  # the campaign (number, name) the list is narrowed to (?campaign=)

    @property
    def bulk(self) -> bool:
        """Whether the list's rows can be selected for a bulk action at all."""
        return bool((self.can_reassign and self.owners) or self.statuses or self.can_delete)

    def selectable(self, row: Any) -> bool:
        """Whether a row may be selected: one the user may change (the store checks it again)."""
        return self.bulk and bulk_actions.may_change(self.scope, self.module, row.owner_id)

    def selectable_rows(self, rows: list[Any]) -> list[Any]:
        """The rows of a page that may be selected."""
        return [row for row in rows if self.selectable(row)]


def url_path(module: str) -> str:
    """A list's url path segment: its module's (campaigns, …); activities, which have no registry entry, their name."""
    return registry.get(module).path if module in registry.names() else module


def params_of(args: Mapping[str, str]) -> dict[str, str]:
    """The known filter and sort keys of a list's query (what a saved filter and an export keep)."""
    return {key: args[key].strip() for key in saved_filters.FILTER_KEYS if (args.get(key) or "").strip()}


def with_query(module: str, params: Mapping[str, Any], route: str = "records") -> str:
    """A list's path (or its export's) with a query."""
    base = links.path(route, module=url_path(module))
    return base + (f"?{urlencode(dict(params))}" if params else "")


def tools(db: Session, user: User, module: str, args: Mapping[str, str], scope: scoping.Scope,
          owners: list[tuple[str, str]], active_id: int | None) -> ListTools:
    """The tools of a list for this user (`active_id`: the saved filter shown, already checked as theirs)."""
    params = params_of(args)
    stored = {f.id: f for f in saved_filters.for_user(db, user, module)}
    saved = [SavedChoice(f.id, f.name, with_query(module, {**f.params, "saved": f.id})) for f in stored.values()]
    active = next((s for s in saved if s.id == active_id), None)
    offered = bulk_actions.offers(module)
    statuses = [v for name in bulk_actions.status_picklists(module) for v in picklists.values(db, name)]
    return ListTools(
        module=module, path=url_path(module), params=params, saved=saved, active=active,
        active_changed=active is not None and stored[active.id].params != params,
        export_href=with_query(module, params, "records_export"), scope=scope,
        can_reassign="reassign" in offered, owners=owners, statuses=list(dict.fromkeys(statuses)),
        can_delete="delete" in offered, in_bin=bulk_actions.in_bin(module), campaign=_campaign(db, module, params),
    )


def _campaign(db: Session, module: str, params: Mapping[str, str]) -> tuple[str, str] | None:
    """The campaign a list is narrowed to, by its number and name (lists with a campaign filter only)."""
    raw = params.get("campaign", "")
    if module not in CAMPAIGN_LISTS or not raw.isdigit():
        return None
    found = db.execute(select(Campaign.campaign_no, Campaign.name).where(Campaign.id == int(raw))).first()
    return (found.campaign_no, found.name) if found is not None else None


def active_filter(module: str, user: User, raw: str | None) -> tuple[int, dict[str, str]] | None:
    """The saved filter `?saved=` names, when it is the user's own of this list (anyone else's: 404)."""
    if not raw:  # none, or the picker's "choose one…"
        return None
    if not raw.isdigit():
        abort(404)
    with state().readers() as db:
        try:
            found = saved_filters.get(db, user, int(raw), module)
        except NotFound:
            abort(404)
        return found.id, dict(found.params)


# -- the records lists' routes ------------------------------------------------------------------------------

@bp.post(links.ROUTES["saved_filters"])
@login_required
def saved_filter_save(module: str) -> ResponseReturnValue:
    """Keep the list's filter under a name, then show the list with it."""
    return save_filter(module_of(module))


@bp.post(links.ROUTES["saved_filter_rename"])
@login_required
def saved_filter_rename(module: str, filter_id: str) -> ResponseReturnValue:
    """Give one of my saved filters another name."""
    return rename_filter(module_of(module), filter_id)


@bp.post(links.ROUTES["saved_filter_delete"])
@login_required
def saved_filter_delete(module: str, filter_id: str) -> ResponseReturnValue:
    """Delete one of my saved filters; the list stays as it was filtered."""
    return delete_filter(module_of(module), filter_id)


@bp.get(links.ROUTES["records_export"])
@login_required
def records_export(module: str) -> ResponseReturnValue:
    """The filtered list, every page of it, as a CSV file (streamed), within the user's scope; audited."""
    name = module_of(module)
    return export_list(name, *list_query(name, request.args, signed_in_user()))


@bp.post(links.ROUTES["records_bulk"])
@login_required
def records_bulk(module: str) -> ResponseReturnValue:
    """Reassign, change the status of, or delete the selected rows: all of them, or none when one is refused."""
    return bulk(module_of(module))


# -- saved filters ----------------------------------------------------------------------------------------

def save_filter(name: str) -> ResponseReturnValue:
    """Keep the list's filter (the form's copy of its query) under a name, then show the list with it."""
    user = signed_in_user()
    _checked_form()
    params = params_of(request.form)
    title = request.form.get("name", "")
    try:
        saved_id, saved_name = write(lambda db: _saved(saved_filters.save(db, user, name, title, params)))
    except ValidationError as exc:
        flash(gettext(NOT_SAVED, reason=store_message(exc)), "error")
        return redirect(with_query(name, params), code=303)
    flash(gettext(SAVED, name=saved_name), "success")
    return redirect(with_query(name, {**params, "saved": saved_id}), code=303)


def rename_filter(name: str, filter_id: str) -> ResponseReturnValue:
    """Give one of my saved filters of the list another name (anyone else's: 404)."""
    user = signed_in_user()
    found_id, params = _mine(name, user, filter_id)
    _checked_form()
    title = request.form.get("name", "")
    try:
        _, new_name = write(lambda db: _saved(saved_filters.rename(db, user, found_id, title)))
    except ValidationError as exc:
        flash(gettext(NOT_SAVED, reason=store_message(exc)), "error")
    else:
        flash(gettext(RENAMED, name=new_name), "success")
    return redirect(with_query(name, {**params, "saved": found_id}), code=303)


def delete_filter(name: str, filter_id: str) -> ResponseReturnValue:
    """Delete one of my saved filters of the list (anyone else's: 404); the list stays as it was filtered."""
    user = signed_in_user()
    found_id, params = _mine(name, user, filter_id)
    _checked_form()
    gone = write(lambda db: saved_filters.delete(db, user, found_id))
    flash(gettext(FILTER_DELETED, name=gone), "success")
    return redirect(with_query(name, params), code=303)


def _mine(module: str, user: User, filter_id: str) -> tuple[int, dict[str, str]]:
    found = active_filter(module, user, filter_id)
    assert found is not None
    return found


def _saved(found: Any) -> tuple[int, str]:
    return int(found.id), str(found.name)


def _checked_form() -> ConfirmForm:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    return form


# -- export -----------------------------------------------------------------------------------------------

def export_list(name: str, filters: ListFilter, sort: str, descending: bool) -> ResponseReturnValue:
    """The list as its query filters and sorts it, every page, as a CSV file (streamed), within scope; audited."""
    user, params = signed_in_user(), params_of(request.args)
    language, zone = str(g.get("language", "en")), g.get("zone") or dt.UTC
    app_state = state()

    def stream() -> Iterator[bytes]:
        tally, complete = export.Tally(), False
        try:
            with app_state.readers() as db:
                rows = export.all_rows(db, user, name, filters, sort=sort, descending=descending)
                yield from export.list_csv(name, rows, language, zone, tally)
            complete = True
        finally:
            app_state.write(lambda db: export.log_export(db, user, name, params, tally.rows, complete=complete))

    filename = f"{url_path(name)}-{dt.datetime.now(zone).date().isoformat()}.csv"
    return Response(stream(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


# -- bulk actions -----------------------------------------------------------------------------------------

def bulk(name: str) -> ResponseReturnValue:
    """Run the bulk action the list's form asked for on the selected rows; back to the list with what it did."""
    user = signed_in_user()
    form = _checked_form()
    back = safe_next(form.next.data) or with_query(name, {})
    ids = _selected_ids()
    action = request.form.get("action", "")
    if action not in bulk_actions.offers(name):
        abort(400)
    if not ids:
        flash(gettext(NOTHING_SELECTED), "info")
        return redirect(back, code=303)
    try:
        message = _bulk(name, user, action, ids)
    except ValidationError as exc:
        flash(gettext(NOT_DONE, reason=store_message(exc)), "error")
    else:
        if message:
            flash(message, "success")
    return redirect(back, code=303)


def label(module: str, language: str, plural: bool) -> str:
    """What a list's rows are called: "lead" / "activities", in a language."""
    if module == "activities":
        return languages.translate(language, ACTIVITY_LABELS[plural])
    return registry.get(module).display_label(language, plural=plural)


def _bulk(module: str, user: User, action: str, ids: list[int]) -> str | None:
    """Run a bulk action; return the message saying what it did (None: it was not run, the error is flashed)."""
    language = str(g.get("language", "en"))

    def records(count: int) -> str:
        return label(module, language, count != 1)

    if action == "reassign":
        owner = request.form.get("owner_id", "")
        with state().readers() as db:
            offered = dict(pickers.owners(db, user))
        if owner not in offered:
            flash(gettext(CHOOSE_OWNER), "error")
            return None
        count = write(lambda db: bulk_actions.reassign(db, user, module, ids, int(owner)))
        return gettext(NOTHING_TO_CHANGE) if not count else ngettext(
            "%(num)s %(records)s is now assigned to %(name)s.", "%(num)s %(records)s are now assigned to %(name)s.",
            count, records=records(count), name=offered[owner])
    if action == "status":
        status = request.form.get("status", "").strip()
        if not status:
            flash(gettext(CHOOSE_STATUS), "error")
            return None
        count = write(lambda db: bulk_actions.change_status(db, user, module, ids, status))
        return gettext(NOTHING_TO_CHANGE) if not count else ngettext(
            "%(num)s %(records)s now has the status %(status)s.", "%(num)s %(records)s now have the status %(status)s.",
            count, records=records(count), status=languages.translate_value(language, status))
    count = write(lambda db: bulk_actions.delete(db, user, module, ids))
    if not bulk_actions.in_bin(module):
        return ngettext("%(num)s %(records)s deleted.", "%(num)s %(records)s deleted.", count,
                        records=records(count))
    return ngettext("%(num)s %(records)s moved to the recycle bin.", "%(num)s %(records)s moved to the recycle bin.",
                    count, records=records(count))


def _selected_ids() -> list[int]:
    """The ids of the selected rows: the boxes ticked, or every row of the page ("select all on this page")."""
    if request.form.get("page") == "all":
        raw = [part for part in request.form.get("page_ids", "").split(",") if part]
    else:
        raw = request.form.getlist("ids")
    if len(raw) > bulk_actions.MOST_SELECTED or not all(part.strip().isdigit() for part in raw):
        abort(400)
    return sorted({int(part) for part in raw})
