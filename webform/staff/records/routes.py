"""The lists (`/leads`) and record pages (`/leads/LEA12`); what the other records routes share (`write`, `visible`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import User
from crm_store.pipeline import playbooks
from crm_store.records import registry
from crm_store.records.listing import MODULES, PAGE_SIZE, SORTS, ListFilter, list_records
from crm_store.records.record_page import record_page
from crm_store.records.timeline import record_timeline
from crm_store.settings import picklists
from crm_store.staff import follow_ups
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..myday.forms import CALL_STATUSES, CallForm, FollowUpForm
from ..page import choice
from . import pickers
from .forms import ConfirmForm, OwnerForm, StageForm
from .modules import list_path, module_of, record_path

bp = Blueprint("records", __name__, template_folder="templates")
T = TypeVar("T")
LIST_RESTARTED = N_("The list changed since that page: here is its first page.")


def write(work: Callable[[Session], T]) -> T:
    """Run a write; a record gone or out of scope meanwhile is the 404 page."""
    try:
        return state().write(work)
    except NotFound:
        abort(404)


def visible(db: Session, user: User, module: str, number: str) -> Any:
    """The record numbered `number` the user may see, else 404."""
    found = scoping.fetch_by_number(db, user, module, number)
    if found is None:
        abort(404)
    return found


@bp.get(links.ROUTES["records"])
@login_required
def records(module: str) -> ResponseReturnValue:
    """A module's list: filtered, sorted on an indexed column, a page at a time; my saved filters, export, bulk."""
    name, user, args = module_of(module), signed_in_user(), request.args
    active = list_tools.active_filter(name, user, args.get("saved"))  # someone else's: 404
    if active is not None and not list_tools.params_of(args):
        return redirect(list_tools.with_query(name, {**active[1], "saved": active[0]}), code=303)
    filters, sort, descending = list_query(name, args, user)
    with state().readers() as db:
        scope = scoping.scope_of(db, user)
        try:
            page = list_records(db, user, name, filters, sort=sort, descending=descending,
                                cursor=args.get("cursor"), size=PAGE_SIZE, scope=scope)
        except ValidationError:
            flash(gettext(LIST_RESTARTED), "info")
            return redirect(_here(name, args, cursor=None), code=303)
        owners = pickers.owners(db, user, scope)
        context = {
            "owners": owners, "pool": scope.sees_owner(None, name),
            "statuses": picklists.values(db, "lead_status") if name == "leads" else [],
            "sources": picklists.values(db, "lead_source") if name != "accounts" else [],
            "stages": [(str(s.id), s.name) for s in pickers.stage_rows(db)] if name == "opportunities" else [],
            "tools": list_tools.tools(db, user, name, args, scope, owners, active[0] if active else None),
        }
    return render_template(
        "staff/records/list.html", module=name, spec=registry.get(name), page=page, args=args,
        here=lambda **changes: _here(name, args, **changes), sorts=SORTS[name], filtered=_is_filtered(args),
        take_form=ConfirmForm(formdata=None), **context,
    )


def list_query(module: str, args: Any, user: User) -> tuple[ListFilter, str, bool]:
    """A list's filter, sort and direction from its query (the page, its export and saved filters read it alike)."""
    sort = args.get("sort", "created") if args.get("sort") in SORTS[module] else "created"
    return _filters(module, args, user), sort, args.get("order", "desc") != "asc"


def _filters(module: str, args: Any, user: User) -> ListFilter:
    owner = args.get("owner", "")
    stage = args.get("stage", "")
    campaign = args.get("campaign", "")
    return ListFilter(
        owner_id=user.id if owner == "me" else int(owner) if owner.isdigit() else None,
        unowned=owner == "pool",
        status=(args.get("status") or None) if module == "leads" else None,
        stage_id=int(stage) if module == "opportunities" and stage.isdigit() else None,
        lead_source=(args.get("source") or None) if module != "accounts" else None,
        prefix=(args.get("q") or "").strip()[:100] or None,
        campaign_id=int(campaign) if module != "accounts" and campaign.isdigit() else None,  # the campaign page's
    )


def _is_filtered(args: Any) -> bool:
    return any(args.get(key) for key in ("owner", "status", "stage", "source", "q", "campaign"))


def _here(module: str, args: Any, **changes: Any) -> str:
    """This list's path with some of its query changed (None drops a key)."""
    query = {key: value for key, value in args.items() if value}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return list_path(module) + (f"?{urlencode(query)}" if query else "")


@bp.get(links.ROUTES["record"])
@login_required
def record(module: str, number: str) -> ResponseReturnValue:
    """A record's page: header and actions, fields in blocks, related lists, the timeline."""
    name, user = module_of(module), signed_in_user()
    language = str(g.get("language", "en"))
    with state().readers() as db:
        found = visible(db, user, name, number)
        shown = record_page(db, user, name, found.id, language=language)
        timeline = record_timeline(db, user, name, found.id, language=language)
        if shown is None or timeline is None:
            abort(404)
        scope = scoping.scope_of(db, user)
        owner_form = OwnerForm(formdata=None, data={"owner_id": str(found.owner_id or "")})
        owner_form.owner_id.choices = with_current(pickers.owners(db, user, scope), found.owner_id, shown.owner_name)
        stage_form = _stage_form(db, found) if name == "opportunities" else None
        guidance = playbooks.guidance(db, found.stage_id, language) if name == "opportunities" else None
        refs = _reference_paths(db, [f.ref for block in shown.blocks for f in block.fields if f.ref])
    call_form = CallForm(formdata=None)
    call_form.status.choices = [(key, gettext(label)) for key, label in CALL_STATUSES.items()]
    return render_template(
        "staff/records/record.html", module=name, spec=registry.get(name), page=shown, timeline=timeline,
        owner_form=owner_form, stage_form=stage_form, call_form=call_form, follow_up_form=FollowUpForm(formdata=None),
        confirm_form=ConfirmForm(formdata=None), can_take=name == "leads" and found.owner_id is None and scope.pool,
        converted=name == "leads" and found.converted_at is not None, here=record_path(name, shown.number),
        refs=refs, call_statuses=call_form.status.choices, guidance=guidance,
        quick=[(key, gettext(label)) for key, label in follow_ups.FOLLOW_UP_CHOICES.items()],
    )


def _reference_paths(db: Session, refs: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """(module, id) -> the page of each referenced record that has one (by its number)."""
    found: dict[tuple[str, int], str] = {}
    for module, record_id in refs:
        if module in MODULES:
            spec = registry.get(module)
            number = db.scalar(select(getattr(spec.model, spec.number_field)).where(spec.model.id == record_id))
            if number is not None:
                found[(module, record_id)] = record_path(module, number)
    return found


def with_current(choices: pickers.Choices, owner_id: int | None, owner_name: str | None) -> pickers.Choices:
    if owner_id is not None and str(owner_id) not in {key for key, _ in choices}:
        choices = [(str(owner_id), owner_name or f"#{owner_id}"), *choices]
    return choices


def _stage_form(db: Session, opp: Any) -> StageForm:
    rows = pickers.stage_rows(db, opp.sales_process_id)
    current = next((s.name for s in rows if s.id == opp.stage_id), "")
    form = StageForm(formdata=None, data={"stage": current, "lost_reason": opp.lost_reason or ""})
    form.stage.choices = [(s.name, choice(s.name)) for s in rows]
    form.lost_stages = [s.name for s in rows if s.is_lost]  # the lost reason is asked only for these (staff.js)
    form.lost_reason.choices = [("", "—"), *((v, choice(v)) for v in picklists.values(db, "lost_reason"))]
    return form


from . import list_tools  # noqa: E402 - saved filters, export and bulk actions join this blueprint (and use list_query)
