"""Write a note on a record's page, delete one; the Notes card every record page includes.

The card (`staff/notes/_record_notes.html`) is on the pages of leads, accounts, contacts, opportunities, quotes,
sales orders, invoices and products, fed by `notes_card(module, record_id, number)`: the record's notes, newest
first, and the form. A note is written on a record the user sees (else 404), its reminder read in the viewer's
zone (as the agenda reads an event's start) and refused when it is not to come; a failed form is the record's
page again, the errors beside their fields, nothing written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.records import registry
from crm_store.records.listing import MODULES, SALES_DOCUMENTS
from crm_store.staff import notes

from ...state import state
from ..access import login_required, signed_in_user
from ..catalog.routes import product_page
from ..forms import place_error
from ..page import when
from ..records.modules import record_path
from ..records.routes import record as record_view
from ..records.routes import write
from ..sales_documents.routes import sales_document
from .forms import NoteForm

bp = Blueprint("notes", __name__, template_folder="templates")
SHOWN = 50  # notes listed on a record page, newest first
SAVED = N_("Your note is saved.")
SAVED_WITH_REMINDER = N_("Your note is saved. You will be reminded on %(when)s.")
DELETED = N_("The note is deleted.")
EDITED = N_("The note is saved.")
ALIASES = {"body": "note_body", "remind_at": "note_remind_on"}  # the store's field -> the form's


@dataclass(frozen=True)
class NotesCard:
    """What a record page's Notes card shows: the notes, the form, where it posts; which notes the viewer deletes."""

    items: list[notes.NoteItem]
    form: NoteForm
    action: str
    today: str  # the viewer's today (YYYY-MM-DD): the earliest day a reminder is set on
    deletable: frozenset[int]
    editable: frozenset[int]


@bp.app_context_processor
def notes_section() -> dict[str, Any]:
    """Give record pages their Notes card (read only when the page includes it)."""
    return {"notes_card": notes_card}


def notes_card(module: str, record_id: int, number: str) -> NotesCard:
    """The Notes card of a record the user sees (the page checked), with the failed form of this request if any."""
    user = signed_in_user()
    with state().readers() as db:
        items = notes.notes_on(db, module, record_id, SHOWN)
    form = g.get("note_form") or NoteForm(formdata=None)
    return NotesCard(items, form, links.path("note_add", module=registry.get(module).path, number=number),
                     _today(), frozenset(n.id for n in items if notes.may_delete(user, n.author_id)),
                     frozenset(n.id for n in items if notes.may_edit(user, n.author_id)))


def _today() -> str:
    """The viewer's today (YYYY-MM-DD), in their zone."""
    return dt.datetime.now(g.zone).date().isoformat()


def module_of(path: str) -> str:
    """The module with notes named by a url path segment (404 for anything else)."""
    found = next((name for name in notes.NOTABLE if registry.get(name).path == path), None)
    if found is None:
        abort(404)
    return found


@bp.post(links.ROUTES["note_add"])
@login_required
def note_add(module: str, number: str) -> ResponseReturnValue:
    """Write the posted note on the record: its page with the note listed, or again with the form's errors."""
    name, user = module_of(module), signed_in_user()
    with state().readers() as db:
        if notes.record_of(db, user, name, number) is None:
            abort(404)
    form = NoteForm()
    if not (form.validate() & form.validate_reminder()):
        return _again(name, number, form)
    body, remind_at = form.note_body.data or "", form.remind_at(g.zone)

    def add(db: Session) -> str:
        record = notes.record_of(db, user, name, number)
        if record is None:
            raise NotFound(f"no {name} numbered {number}")
        notes.add(db, user, name, record, body, remind_at=remind_at)
        return str(getattr(record, registry.get(name).number_field))

    try:
        shown = write(add)
    except ValidationError as exc:
        place_error(form, exc, ALIASES)
        return _again(name, number, form)
    flash(gettext(SAVED_WITH_REMINDER, when=when(remind_at)) if remind_at else gettext(SAVED), "success")
    return redirect(record_path(name, shown) + "#notes", code=303)


@bp.post(links.ROUTES["note_delete"])
@login_required
def note_delete(note_id: str) -> ResponseReturnValue:
    """Delete a note: its author's, or anyone's for a manager or an admin (403); on a record not seen: 404."""
    user = signed_in_user()
    if not note_id.isdigit():
        abort(404)
    try:
        module, number = write(lambda db: notes.delete(db, user, int(note_id)))
    except ValidationError:
        abort(403)
    flash(gettext(DELETED), "success")
    return redirect(record_path(module, number) + "#notes", code=303)


@bp.route(links.ROUTES["note_edit"], methods=["GET", "POST"])
@login_required
def note_edit(note_id: str) -> ResponseReturnValue:
    """Edit one's own note and its reminder (403 for another's, 404 on a record not seen): back to its record."""
    user = signed_in_user()
    if not note_id.isdigit():
        abort(404)
    with state().readers() as db:
        try:
            note, module, number = notes.visible_note(db, user, int(note_id))
        except NotFound:
            abort(404)
        if not notes.may_edit(user, note.author_id):
            abort(403)
        shown = _form_values(note.body, note.remind_at)
    form = NoteForm(data=shown) if request.method == "GET" else NoteForm()
    if request.method == "POST" and form.validate() & form.validate_reminder():
        body, remind_at = form.note_body.data or "", form.remind_at(g.zone)
        try:
            write(lambda db: notes.edit(db, user, int(note_id), body, remind_at=remind_at))
        except ValidationError as exc:
            place_error(form, exc, ALIASES)
        else:
            flash(gettext(EDITED), "success")
            return redirect(record_path(module, number) + "#notes", code=303)
    page = render_template("staff/notes/edit.html", form=form, today=_today(), number=number,
                           back=record_path(module, number) + "#notes", note_id=note_id)
    return (page, 422) if request.method == "POST" else page


def _form_values(body: str, remind_at: dt.datetime | None) -> dict[str, Any]:
    """A note's values as its form shows them: the reminder's day and time in the viewer's zone."""
    local = remind_at.astimezone(g.zone) if remind_at else None
    return {"note_body": body, "note_remind_on": local.date() if local else None,
            "note_remind_time": local.time().replace(second=0, microsecond=0) if local else None}


def _again(module: str, number: str, form: NoteForm) -> ResponseReturnValue:
    """The record's page again, the note form's errors beside its fields (422)."""
    g.note_form = form
    if module in MODULES:
        page = record_view(module=registry.get(module).path, number=number)
    elif module in SALES_DOCUMENTS:
        page = sales_document(module=registry.get(module).path, number=number)
    else:
        page = product_page(number)
    response = make_response(page)
    if response.status_code == 200:
        response.status_code = 422
    return response
