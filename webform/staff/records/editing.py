"""Create and edit a record (the store's errors beside their fields), and delete it to the recycle bin."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.records import lifecycle, registry
from crm_store.records.record_page import title_of
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..forms import place_error
from . import pickers
from .forms import ConfirmForm, record_form_class
from .modules import list_path, module_of, record_path
from .routes import bp, visible, with_current, write

SAVED = N_("%(number)s is saved.")
DELETED = N_("%(number)s is in the recycle bin.")
ALIASES = {"currency": "amount"}  # store field -> form field
NOT_OFFERED = N_("Choose one from the list.")
NEW_DEFAULTS = {"leads": {"status": "Not Contacted"}}  # a new lead's status until someone reaches them


@bp.route(links.ROUTES["record_new"], methods=["GET", "POST"])
@login_required
def record_new(module: str) -> ResponseReturnValue:
    """Create a record: the form, the store's errors beside their fields, then the new record's page."""
    name, user = module_of(module), signed_in_user()
    form = record_form_class(name)(data={"owner_id": str(user.id), **NEW_DEFAULTS.get(name, {})})
    with state().readers() as db:
        form.fill_choices(pickers.form_choices(db, user, name))
    if form.validate_on_submit() and _choices_kept(form):
        values = {key: value for key, value in form.values().items() if value is not None}

        def create(db: Session) -> str:
            row = lifecycle.create(db, name, values, Actor.user(user.id))
            return str(getattr(row, registry.get(name).number_field))

        try:
            number = write(create)
        except ValidationError as exc:
            place_error(form, exc, ALIASES)
        else:
            flash(gettext(SAVED, number=number), "success")
            return redirect(record_path(name, number), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("staff/records/edit.html", module=name, spec=registry.get(name), form=form,
                           record=None, cancel=list_path(name)), status


@bp.route(links.ROUTES["record_edit"], methods=["GET", "POST"])
@login_required
def record_edit(module: str, number: str) -> ResponseReturnValue:
    """Change a record's fields (its owner and an opportunity's stage have their own forms on its page)."""
    name, user = module_of(module), signed_in_user()
    cls = record_form_class(name, editing=True)
    with state().readers() as db:
        found = visible(db, user, name, number)
        record_id, number = found.id, getattr(found, registry.get(name).number_field)
        form = cls(data={spec.name: _as_text(getattr(found, spec.name)) for spec in cls.specs})
        choices = pickers.form_choices(db, user, name, getattr(found, "account_id", None))
        choices["owner"] = with_current(choices["owner"], found.owner_id, None)
        form.fill_choices(choices)
        title = title_of(name, found)
    if form.validate_on_submit() and _choices_kept(form):
        values = form.values()

        def save(db: Session) -> None:
            row = scoping.fetch(db, user, name, record_id)
            if row is None:
                raise NotFound(number)
            changed = {k: v for k, v in values.items() if _as_text(getattr(row, k)) != _as_text(v)}
            if changed:
                lifecycle.update(db, row, changed, Actor.user(user.id))

        try:
            write(save)
        except ValidationError as exc:
            place_error(form, exc, ALIASES)
        else:
            flash(gettext(SAVED, number=number), "success")
            return redirect(record_path(name, number), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("staff/records/edit.html", module=name, spec=registry.get(name), form=form,
                           record={"number": number, "title": title}, cancel=record_path(name, number)), status


def _choices_kept(form: Any) -> bool:
    """Whether the owner and account picked are among those offered (the rest is the store's to check)."""
    ok = True
    for field_name in ("owner_id", "account_id"):
        field = form._fields.get(field_name)
        if field is not None and field.data and field.data not in {key for key, _ in field.choices}:
            field.errors = [*field.errors, gettext(NOT_OFFERED)]
            ok = False
    return ok


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


@bp.route(links.ROUTES["record_delete"], methods=["GET", "POST"])
@login_required
def record_delete(module: str, number: str) -> ResponseReturnValue:
    """Ask, then move the record to the recycle bin (it can be restored from there)."""
    name, user = module_of(module), signed_in_user()
    with state().readers() as db:
        found = visible(db, user, name, number)
        record_id, number, title = found.id, getattr(found, registry.get(name).number_field), title_of(name, found)
    form = ConfirmForm()
    if form.validate_on_submit():

        def delete(db: Session) -> None:
            row = scoping.fetch(db, user, name, record_id)
            if row is None:
                raise NotFound(number)
            lifecycle.delete(db, row, Actor.user(user.id))

        write(delete)
        flash(gettext(DELETED, number=number), "success")
        return redirect(list_path(name), code=303)
    return render_template("staff/records/delete.html", module=name, spec=registry.get(name), form=form,
                           number=number, title=title, back=record_path(name, number))
