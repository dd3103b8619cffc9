"""Cleaning up records: the possible duplicates (`/duplicates`), a field-by-field merge of 2–3 records and its
undo (from the survivor's timeline), and the recycle bin (`/bin`): restore, and purge for admins.

Everything is within the user's scope (`crm_store.staff.scope`): duplicate groups are made of the records they
may see (a group needs two of them), they merge only those, and see, restore or purge only those in the bin; a
record outside it, named in a URL, is the 404 page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.actor import Actor, describe_automation
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import AuditEntry, User
from crm_store.records import duplicates as finder
from crm_store.records import lifecycle, list_rows, recycle_bin, registry
from crm_store.records import merge as merging
from crm_store.records.listing import MODULES
from crm_store.records.record_page import FieldValue, RecordPage, record_page, title_of
from crm_store.records.validation import DERIVED, SYSTEM_FIELDS
from crm_store.settings import company
from crm_store.staff import scope as scoping

from ...state import page_language, state
from ..access import admin_required, login_required, signed_in_user
from ..forms import place_error, store_message
from ..records.modules import record_path
from .forms import TAKE, ActionForm, MergeForm, merge_form_class

bp = Blueprint("cleanup", __name__, template_folder="templates")

DUPLICATE_MODULES = tuple(m for m in MODULES if registry.get(m).duplicates is not None)  # leads, accounts, contacts
MERGE_MODULES = tuple(m for m in MODULES if registry.get(m).mergeable)
GROUPS_PER_PAGE = 20
BIN_PER_PAGE = 50
# A field a merge does not offer: kept by the store, derived from another, or changed only through its own path.
NOT_OFFERED = frozenset({*SYSTEM_FIELDS, *DERIVED, "stage_id", "sales_process_id", "probability"})
REASONS = {
    "email": N_("Same email: %(value)s"),
    "phone": N_("Same phone: %(value)s"),
    "company name": N_("Same company name: %(value)s"),
}
PICK_TWO_OR_THREE = N_("Choose 2 or 3 records to merge.")
MERGED = N_("%(numbers)s merged into %(number)s. You can undo it from the timeline.")
UNDONE = N_("The merge is undone; %(numbers)s came back from the recycle bin.")
ALREADY_UNDONE = N_("This merge was already undone.")
RESTORED = N_("%(number)s is restored.")
ALREADY_RESTORED = N_("%(number)s is not in the recycle bin any more.")
MAY_DUPLICATE = N_("%(number)s may be a duplicate of %(records)s.")
COMPARE = N_("Compare and merge")
SEE_DUPLICATES = N_("See the duplicates")
PURGED = N_("%(number)s is deleted for good.")


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _module(path: str, allowed: Sequence[str]) -> str:
    """The module a url path names among `allowed` (404 for anything else)."""
    found = next((name for name in allowed if registry.get(name).path == path), None)
    if found is None:
        abort(404)
    return found


# -- duplicates -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DuplicateGroup:
    """Records that may be the same: why (translated lines), and each record as its list shows it."""

    reasons: list[str]
    members: list[Any]  # crm_store.records.list_rows rows


@bp.get(links.ROUTES["duplicates"])
@login_required
def duplicates() -> ResponseReturnValue:
    """A module's groups of possible duplicates among the records the user may see, a page at a time."""
    user = signed_in_user()
    module = _module(request.args.get("module") or DUPLICATE_MODULES[0], DUPLICATE_MODULES)
    page = _page_number(request.args.get("page"))
    with state().readers() as db:
        scope = scoping.scope_of(db, user)
        found = finder.groups(db, module, scoping.condition(scope, module))
        pages = max(1, -(-len(found) // GROUPS_PER_PAGE))
        page = min(page, pages)
        shown = found[(page - 1) * GROUPS_PER_PAGE : page * GROUPS_PER_PAGE]
        rows = {row.id: row for row in list_rows.read(db, module, [c.id for group in shown for c in group])}
    ordered = [sorted(group, key=lambda c: c.id) for group in shown]  # oldest first: the record a merge keeps
    groups = [DuplicateGroup(_reasons(group), [rows[c.id] for c in group if c.id in rows]) for group in ordered]
    return render_template(
        "staff/cleanup/duplicates.html", module=module, spec=registry.get(module), modules=DUPLICATE_MODULES,
        groups=groups, total=len(found), page=page, pages=pages, first=(page - 1) * GROUPS_PER_PAGE,
        page_path=lambda n: links.path("duplicates") + "?" + urlencode({"module": module, "page": n}),
    )


def _reasons(group: Sequence[finder.Candidate]) -> list[str]:
    """What the group's records share, in words: "Same email: amy@example.com"."""
    lines = []
    for field, value in finder.matched(group):
        if field == "company name":  # the key is normalised ("acmetrading"): show a name as written instead
            value = next((c.label for c in group if f"company:{value}" in c.keys), value)
        lines.append(gettext(REASONS[field], value=value))
    return lines


# -- merge ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MergeRow:
    """A field whose values differ between the records: its label, and each record's value in the page's order."""

    name: str
    label: str
    kind: str
    values: list[FieldValue]


@bp.route(links.ROUTES["merge"], methods=["GET", "POST"])
@login_required
def merge() -> ResponseReturnValue:
    """Merge 2–3 records: the survivor, then per differing field whose value to keep; the others go to the bin."""
    user, args = signed_in_user(), request.args
    module = _module(args.get("module", ""), MERGE_MODULES)
    ids = _ids(args.getlist("ids"))
    if not 2 <= len(ids) <= 3:
        flash(gettext(PICK_TWO_OR_THREE), "error")
        back = module if module in DUPLICATE_MODULES else DUPLICATE_MODULES[0]
        return redirect(links.path("duplicates") + "?" + urlencode({"module": back}), code=303)
    language = page_language()
    with state().readers() as db:
        pages = [record_page(db, user, module, record_id, language=language) for record_id in ids]
    records = [p for p in pages if p is not None]
    if len(records) != len(ids):
        abort(404)  # gone, deleted, or not the user's to see
    rows = _differences(module, records)
    form = merge_form_class([row.name for row in rows])(data=_preselected(records, rows))
    form.survivor.choices = [(str(r.id), r.number) for r in records]
    for row in rows:
        form.take_field(row.name).choices = [(str(r.id), r.number) for r in records]
    if form.validate_on_submit():
        try:
            survivor, others = state().write(lambda db: _merge(db, user, module, ids, form))
        except NotFound:
            abort(404)
        except ValidationError as exc:
            place_error(form, exc, {row.name: TAKE + row.name for row in rows})
        else:
            flash(gettext(MERGED, numbers=", ".join(others), number=survivor), "success")
            return redirect(record_path(module, survivor), code=303)
    return render_template(
        "staff/cleanup/merge.html", module=module, spec=registry.get(module), form=form, records=records, rows=rows,
        same=_same_count(module, records, rows),
        back=(links.path("duplicates") + "?" + urlencode({"module": module}) if module in DUPLICATE_MODULES
              else record_path(module, records[0].number)),
    ), 422 if form.is_submitted() else 200


def _ids(raw: Iterable[str]) -> list[int]:
    """The record ids of `?ids=1,2,3` (or `?ids=1&ids=2`), each once, in order; 404 for anything but ids."""
    found: list[int] = []
    for part in (p.strip() for value in raw for p in value.split(",")):
        if not part.isdigit() or len(part) > 18:
            abort(404)
        if int(part) not in found:
            found.append(int(part))
    return found


def _offered(module: str, field: FieldValue) -> bool:
    spec = registry.get(module)
    return (field.name in spec.model.__table__.columns and field.name not in NOT_OFFERED
            and field.name != spec.number_field)


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _differences(module: str, records: list[RecordPage]) -> list[MergeRow]:
    """The offered fields whose values are not the same in every record, in the record page's order."""
    columns = [[f for block in r.blocks for f in block.fields if _offered(module, f)] for r in records]
    rows = []
    for values in zip(*columns, strict=True):
        kept = {None if _empty(v.value) else v.value for v in values}
        if len(kept) > 1:
            rows.append(MergeRow(values[0].name, values[0].label, values[0].kind, list(values)))
    return rows


def _same_count(module: str, records: list[RecordPage], rows: list[MergeRow]) -> int:
    """How many offered fields hold a value, the same in every record."""
    first = [f for block in records[0].blocks for f in block.fields if _offered(module, f)]
    differing = {row.name for row in rows}
    return sum(1 for f in first if f.name not in differing and not _empty(f.value))


def _preselected(records: list[RecordPage], rows: list[MergeRow]) -> dict[str, str]:
    """The first record survives; each field keeps its value if it has one, else the first record's that does."""
    chosen = {"survivor": str(records[0].id)}
    for row in rows:
        index = next((i for i, v in enumerate(row.values) if not _empty(v.value)), 0)
        chosen[TAKE + row.name] = str(records[index].id)
    return chosen


def _merge(db: Session, user: User, module: str, ids: list[int], form: MergeForm) -> tuple[str, list[str]]:
    """Merge as the form says; return the survivor's number and the others'."""
    found = {record_id: scoping.fetch(db, user, module, record_id) for record_id in ids}
    if any(row is None for row in found.values()):
        raise NotFound("a record of the merge is gone or out of scope")
    keep = found[int(form.survivor.data)]
    others = [row for record_id, row in found.items() if row is not keep]
    take = {column: found[record_id] for column, record_id in form.chosen().items() if found[record_id] is not keep}
    merging.merge(db, keep, others, Actor.user(user.id), take)
    number = registry.get(module).number_field
    return getattr(keep, number), [getattr(o, number) for o in others]


@bp.post(links.ROUTES["merge_undo"])
@login_required
def merge_undo(entry_id: str) -> ResponseReturnValue:
    """Undo a merge from the survivor's timeline: the others come back from the bin with what moved to it."""
    user = signed_in_user()
    if not entry_id.isdigit() or len(entry_id) > 18:
        abort(404)
    with state().readers() as db:
        module, number, numbers, undone = _merge_entry(db, user, int(entry_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    if undone:
        flash(gettext(ALREADY_UNDONE), "info")
        return redirect(record_path(module, number), code=303)

    def undo(db: Session) -> None:
        _merge_entry(db, user, int(entry_id))  # still the user's to undo
        merging.undo(db, int(entry_id), Actor.user(user.id))

    try:
        state().write(undo)
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(store_message(exc), "error")
    else:
        flash(gettext(UNDONE, numbers=", ".join(numbers)), "success")
    return redirect(record_path(module, number), code=303)


def _merge_entry(db: Session, user: User, entry_id: int) -> tuple[str, str, list[str], bool]:
    """A merge the user may undo: its module, the survivor's number, the merged records' numbers, whether undone.

    The survivor and every merged record still kept must be in the user's scope; else 404.
    """
    entry = db.get(AuditEntry, entry_id)
    if entry is None or entry.action != "merge" or entry.module not in MERGE_MODULES:
        abort(404)
    scope = scoping.scope_of(db, user)
    survivor = scoping.fetch(db, user, entry.module, entry.record_id, scope=scope)
    if survivor is None:
        abort(404)
    merged = entry.changes.get("merged", [])
    model = registry.get(entry.module).model
    for other_id, _number in merged:
        other = db.get(model, other_id)
        if other is not None and not scoping.can_see(db, user, other, scope):
            abort(404)
    number = getattr(survivor, registry.get(entry.module).number_field)
    return entry.module, number, [str(n) for _i, n in merged], entry.undone_by_id is not None


# -- the recycle bin --------------------------------------------------------------------------------------------

BIN_MODULES = tuple(registry.names(editable=True))


@dataclass(frozen=True)
class BinLine:
    """A deleted record as the bin lists it."""

    module: str
    label: str  # the module's name (English: the page translates it)
    path: str  # the module's url path
    number: str
    title: str
    deleted_at: dt.datetime
    by: str | None  # who deleted it (a user's name, an automation in words)
    into: str | None  # merged into this record (its number)
    purge_at: dt.datetime


@bp.get(links.ROUTES["recycle_bin"])
@login_required
def recycle_bin_page() -> ResponseReturnValue:
    """The deleted records the user may see, newest first: who deleted them, when they go for good; restore, purge."""
    user, language = signed_in_user(), page_language()
    chosen = request.args.get("module") or ""
    module = _module(chosen, BIN_MODULES) if chosen else None
    page = _page_number(request.args.get("page"))
    with state().readers() as db:
        found = recycle_bin.entries(db, module, scope=scoping.scope_of(db, user))
        pages = max(1, -(-len(found) // BIN_PER_PAGE))
        page = min(page, pages)
        shown = found[(page - 1) * BIN_PER_PAGE : page * BIN_PER_PAGE]
        who = recycle_bin.deletions(db, shown)
        users = _user_names(db, {d.user_id for d in who.values() if d.user_id is not None})
        lines = [_bin_line(db, entry, who.get((entry.module, entry.id)), users, language) for entry in shown]
        days = company.get(db, "recycle_bin_days")
    query = {"module": chosen} if chosen else {}
    return render_template(
        "staff/cleanup/bin.html", lines=lines, modules=[registry.get(m) for m in BIN_MODULES], chosen=chosen,
        total=len(found), page=page, pages=pages, days=days,
        page_path=lambda n: links.path("recycle_bin") + "?" + urlencode({**query, "page": n}),
        is_admin=user.role == "admin",
    )


def _user_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {i: name for i, name in db.execute(select(User.id, User.name).where(User.id.in_(sorted(ids))))}


def _bin_line(db: Session, entry: recycle_bin.BinEntry, deletion: recycle_bin.Deletion | None,
              users: dict[int, str], language: str) -> BinLine:
    by = None
    if deletion is not None and deletion.user_id is not None:
        by = users.get(deletion.user_id, f"#{deletion.user_id}")
    elif deletion is not None and deletion.automation:
        by = describe_automation(deletion.automation, language)
    spec = registry.get(entry.module)
    return BinLine(entry.module, spec.label, spec.path, entry.number, entry.title, entry.deleted_at, by,
                   deletion.into if deletion is not None else None, recycle_bin.purge_date(db, entry))


def _binned(db: Session, user: User, module: str, number: str) -> Any:
    """The record of the bin numbered `number` the user may see, else 404 (a live one is returned too)."""
    found = scoping.fetch_by_number(db, user, module, number, deleted=True)
    if found is None:
        abort(404)
    return found


@bp.post(links.ROUTES["bin_restore"])
@login_required
def bin_restore(module: str, number: str) -> ResponseReturnValue:
    """Restore a record; if it may duplicate live records, a warning lists them with a way to merge."""
    name, user = _module(module, BIN_MODULES), signed_in_user()
    with state().readers() as db:
        found = _binned(db, user, name, number)
        record_id, number, live = found.id, getattr(found, registry.get(name).number_field), found.deleted_at is None
    if not ActionForm().validate_on_submit():
        abort(400)
    back = record_path(name, number) if name in MODULES else links.path("recycle_bin")
    if live:
        flash(gettext(ALREADY_RESTORED, number=number), "info")
        return redirect(back, code=303)

    def restore(db: Session) -> list[tuple[int, str, str]]:
        row = scoping.fetch(db, user, name, record_id, deleted=True)
        if row is None:
            raise NotFound(number)
        lifecycle.restore(db, row, Actor.user(user.id), force=True)  # the warning below says what it duplicates
        scope = scoping.scope_of(db, user)
        field = registry.get(name).number_field
        return [(twin.id, getattr(twin, field), title_of(name, twin))
                for twin in finder.duplicates_of(db, row) if scoping.can_see(db, user, twin, scope)]

    try:
        twins = state().write(restore)
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(store_message(exc), "error")
        return redirect(links.path("recycle_bin"), code=303)
    flash(gettext(RESTORED, number=number), "success")
    if twins:
        flash(_duplicates_warning(name, record_id, number, twins), "warning")
    return redirect(back, code=303)


def _duplicates_warning(module: str, record_id: int, number: str, twins: list[tuple[int, str, str]]) -> Markup:
    """"LEA5 may be a duplicate of LEA3 Wei Chen." with links to each, then to merge them (or to the duplicates)."""
    records = Markup(", ").join(
        Markup('<a href="{}">{} {}</a>').format(record_path(module, twin_no), twin_no, title)
        for _id, twin_no, title in twins
    )
    text = Markup(escape(gettext(MAY_DUPLICATE))) % {"number": number, "records": records}
    if module in MERGE_MODULES and len(twins) <= 2:
        ids = ",".join(str(i) for i in (record_id, *(twin_id for twin_id, _n, _t in twins)))
        action = links.path("merge") + "?" + urlencode({"module": registry.get(module).path, "ids": ids})
        return text + Markup(' <a href="{}">{}</a>').format(action, gettext(COMPARE))
    if module in DUPLICATE_MODULES:
        action = links.path("duplicates") + "?" + urlencode({"module": registry.get(module).path})
        return text + Markup(' <a href="{}">{}</a>').format(action, gettext(SEE_DUPLICATES))
    return text


@bp.route(links.ROUTES["bin_purge"], methods=["GET", "POST"])
@admin_required
def bin_purge(module: str, number: str) -> ResponseReturnValue:
    """Ask, then delete a record of the bin for good (admins)."""
    name, user = _module(module, BIN_MODULES), signed_in_user()
    with state().readers() as db:
        found = _binned(db, user, name, number)
        if found.deleted_at is None:
            abort(404)
        record_id, number, title = found.id, getattr(found, registry.get(name).number_field), title_of(name, found)
    form = ActionForm()
    if form.validate_on_submit():
        state().write(lambda db: recycle_bin.purge_records(db, name, [record_id], Actor.user(user.id)))
        flash(gettext(PURGED, number=number), "success")
        return redirect(links.path("recycle_bin"), code=303)
    return render_template("staff/cleanup/purge.html", form=form, spec=registry.get(name), number=number,
                           title=title, back=links.path("recycle_bin"))
