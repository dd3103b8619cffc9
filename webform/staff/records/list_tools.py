"""A list's tools: my saved filters (save, open, rename, delete), the filtered list as CSV, and bulk actions on the
selected rows (reassign, change the status, delete to the recycle bin).

Generic over the lists: what a list offers is read from its module's registry entry — reassign when its records
have owners, a status change when it has a `status` picklist, delete when it is edited through the store — and
drawn by `staff/records/_list_tools.html`. Every selected id is checked against the user's scope again by the
store (`crm_store.staff.bulk_actions`), all or nothing; exports go through the list's own query
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
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import User
from crm_store.records import export, registry, saved_filters
from crm_store.settings import picklists
from crm_store.staff import bulk_actions
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, safe_next, signed_in_user
from ..forms import store_message
from . import pickers
from .forms import ConfirmForm
from .modules import list_path, module_of
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
    params: dict[str, str]  # the list's known filter and sort keys, as in its address
    saved: list[SavedChoice]
    active: SavedChoice | None  # the saved filter the list shows (?saved=)
    active_changed: bool  # …with its filter or sort changed since
    export_href: str
    can_reassign: bool
    owners: list[tuple[str, str]] = field(default_factory=list)  # whom selected records may go to
    statuses: list[str] = field(default_factory=list)  # the module's status picklist (empty: no status change)
    can_delete: bool = False

    @property
    def bulk(self) -> bool:
        """Whether the list's rows can be selected for a bulk action at all."""
        return bool((self.can_reassign and self.owners) or self.statuses or self.can_delete)


def params_of(args: Mapping[str, str]) -> dict[str, str]:
    """The known filter and sort keys of a list's query (what a saved filter and an export keep)."""
    return {key: args[key].strip() for key in saved_filters.FILTER_KEYS if (args.get(key) or "").strip()}


def with_query(module: str, params: Mapping[str, Any], route: str = "records") -> str:
    """A list's path (or its export's) with a query."""
    base = links.path(route, module=registry.get(module).path)
    return base + (f"?{urlencode(dict(params))}" if params else "")


def tools(db: Session, user: User, module: str, args: Mapping[str, str], scope: scoping.Scope,
          owners: list[tuple[str, str]], active_id: int | None) -> ListTools:
    """The tools of a module's list for this user (`active_id`: the saved filter shown, already checked as theirs)."""
    spec = registry.get(module)
    params = params_of(args)
    stored = {f.id: f for f in saved_filters.for_user(db, user, module)}
    saved = [SavedChoice(f.id, f.name, with_query(module, {**f.params, "saved": f.id})) for f in stored.values()]
    active = next((s for s in saved if s.id == active_id), None)
    status_list = spec.picklists.get("status")
    columns = spec.model.__table__.columns
    return ListTools(
        module=module, params=params, saved=saved, active=active,
        active_changed=active is not None and stored[active.id].params != params,
        export_href=with_query(module, params, "records_export"),
        can_reassign="owner_id" in columns, owners=owners,
        statuses=picklists.values(db, status_list) if status_list and "status" in columns else [],
        can_delete=spec.editable and "deleted_at" in columns,
    )


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


# -- saved filters ----------------------------------------------------------------------------------------

@bp.post(links.ROUTES["saved_filters"])
@login_required
def saved_filter_save(module: str) -> ResponseReturnValue:
    """Keep the list's filter under a name, then show the list with it."""
    name, user = module_of(module), signed_in_user()
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


@bp.post(links.ROUTES["saved_filter_rename"])
@login_required
def saved_filter_rename(module: str, filter_id: str) -> ResponseReturnValue:
    """Give one of my saved filters another name."""
    name, user = module_of(module), signed_in_user()
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


@bp.post(links.ROUTES["saved_filter_delete"])
@login_required
def saved_filter_delete(module: str, filter_id: str) -> ResponseReturnValue:
    """Delete one of my saved filters; the list stays as it was filtered."""
    name, user = module_of(module), signed_in_user()
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

@bp.get(links.ROUTES["records_export"])
@login_required
def records_export(module: str) -> ResponseReturnValue:
    """The filtered list, every page of it, as a CSV file (streamed), within the user's scope; audited."""
    name, user, args = module_of(module), signed_in_user(), request.args
    filters, sort, descending = list_query(name, args, user)
    params = params_of(args)
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

    filename = f"{registry.get(name).path}-{dt.datetime.now(zone).date().isoformat()}.csv"
    return Response(stream(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


# -- bulk actions -----------------------------------------------------------------------------------------

@bp.post(links.ROUTES["records_bulk"])
@login_required
def records_bulk(module: str) -> ResponseReturnValue:
    """Reassign, change the status of, or delete the selected rows: all of them, or none when one is refused."""
    name, user = module_of(module), signed_in_user()
    form = _checked_form()
    back = safe_next(form.next.data) or list_path(name)
    ids = _selected_ids()
    action = request.form.get("action", "")
    if action not in ("reassign", "status", "delete"):
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


def _bulk(module: str, user: User, action: str, ids: list[int]) -> str | None:
    """Run a bulk action; return the message saying what it did (None: it was not run, the error is flashed)."""
    language = str(g.get("language", "en"))
    spec = registry.get(module)

    def records(count: int) -> str:
        return spec.display_label(language, plural=count != 1)

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
