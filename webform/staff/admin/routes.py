"""Users (admins only): the list, adding a user, deactivating one with their work handed on, resending the welcome."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import User
from crm_store.staff import users as staff

from ...state import state
from ..access import admin_required, signed_in_user
from ..forms import place_error, store_message
from .forms import ROLE_NAMES, ActionForm, DeactivateForm, UserAddForm

bp = Blueprint("admin", __name__, template_folder="templates")
ADDED = N_("%(name)s is added. A welcome email with a link to choose a password is on its way to %(email)s.")
DEACTIVATED = N_("%(name)s is deactivated and can no longer sign in.")
WELCOME_SENT = N_("The welcome email is on its way to %(email)s again.")
NOT_YOURSELF = N_("You cannot deactivate your own account.")
STILL_OWNS = N_("They still own open leads, deals, accounts, contacts or activities: choose who takes them over.")


@bp.get(links.ROUTES["users"])
@admin_required
def users() -> ResponseReturnValue:
    """Every user: role, language, manager, whether they have signed in yet; the actions on each."""
    with state().readers() as db:
        rows = list(db.execute(staff.listing()))
    return render_template("staff/admin/users.html", rows=rows, roles=ROLE_NAMES,
                           language_names={code: lang.name for code, lang in languages.LANGUAGES.items()})


@bp.route(links.ROUTES["user_add"], methods=["GET", "POST"])
@admin_required
def user_add() -> ResponseReturnValue:
    """Add a user; the welcome email goes out with the next mail run."""
    form = UserAddForm()
    with state().readers() as db:
        settings = state().company_settings(db)
        managers = list(db.scalars(select(User).where(User.active, User.role.in_(("admin", "manager")))
                                   .order_by(User.name)))
    form.fill_choices(managers, settings["time_zone"], settings["default_language"])
    if form.validate_on_submit():
        values: dict[str, Any] = {
            "role": form.role.data, "manager_email": form.manager.data or None, "language": form.language.data,
            "time_zone": form.time_zone.data or None,
        }
        email, name = form.email.data, form.name.data
        try:
            added = state().write(lambda db: staff.add_user(db, email, name, **values))
        except ValidationError as exc:
            place_error(form, exc, {"manager_email": "manager"})
        else:
            flash(gettext(ADDED, name=added.name, email=added.email), "success")
            return redirect(url_for("admin.users"), code=303)
    return render_template("staff/admin/user_add.html", form=form), 422 if form.is_submitted() else 200


@bp.route(links.ROUTES["user_deactivate"], methods=["GET", "POST"])
@admin_required
def user_deactivate(user_id: str) -> ResponseReturnValue:
    """Deactivate a user, handing their open work to another (the page asks whom first)."""
    with state().readers() as db:
        leaving = _user(db, user_id)
        heirs = list(db.scalars(select(User).where(User.active, User.id != leaving.id).order_by(User.name)))
    form = DeactivateForm()
    form.fill_choices(heirs)
    if form.validate_on_submit():
        heir = form.reassign_to.data or None
        admin = signed_in_user()
        try:
            if leaving.id == admin.id:
                raise ValidationError("reassign_to", NOT_YOURSELF)
            state().write(lambda db: staff.deactivate_user(db, leaving.email, reassign_to=heir,
                                                           actor=Actor.user(admin.id)))
        except ValidationError as exc:
            if exc.field == "reassign_to" and heir is None and exc.message != NOT_YOURSELF:
                exc = ValidationError("reassign_to", STILL_OWNS)
            place_error(form, exc)
        else:
            flash(gettext(DEACTIVATED, name=leaving.name), "success")
            return redirect(url_for("admin.users"), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("staff/admin/user_deactivate.html", form=form, leaving=leaving), status


@bp.post(links.ROUTES["user_welcome"])
@admin_required
def user_welcome(user_id: str) -> ResponseReturnValue:
    """Send the welcome email again to a user who has not chosen a password yet."""
    if not ActionForm().validate_on_submit():
        abort(400)

    def resend(db: Session) -> User:
        user = _user(db, user_id)
        staff.resend_welcome(db, user)
        return user

    try:
        user = state().write(resend)
    except ValidationError as exc:
        flash(store_message(exc), "error")
    else:
        flash(gettext(WELCOME_SENT, email=user.email), "success")
    return redirect(url_for("admin.users"), code=303)


def _user(db: Session, user_id: str) -> User:
    """The user with this id (as the path has it); 404 when there is none."""
    user = db.get(User, int(user_id)) if user_id.isdigit() and len(user_id) < 19 else None
    if user is None:
        abort(404)
    return user
