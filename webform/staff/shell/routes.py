"""The pages every user has: the profile, changing the password, the language switch (My day is `myday/`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import DIGEST_TIME, User, utcnow
from crm_store.staff import passwords
from crm_store.staff import profile as profiles

from ...state import state
from ..access import current_user, login_required, remember_language, safe_next, signed_in_user, start_session
from ..forms import place_error
from .forms import ChangePasswordForm, LanguageForm, ProfileForm

bp = Blueprint("shell", __name__, template_folder="templates")
PROFILE_SAVED = N_("Your profile is saved.")
PASSWORD_CHANGED = N_("Your password is changed. Other devices signed in as you have been signed out.")


@bp.route(links.ROUTES["profile"], methods=["GET", "POST"])
@login_required
def profile() -> ResponseReturnValue:
    """The signed-in user's language, time zone, out-of-office days and morning digest (and the change-password
    form)."""
    user = signed_in_user()
    form = _profile_form(user, submitted=True)
    if form.validate_on_submit():
        values: dict[str, Any] = {
            "language": form.language.data, "time_zone": form.time_zone.data or None,
            "away_from": form.out_of_office_from.data, "away_to": form.out_of_office_to.data,
        }
        digest = {"enabled": bool(form.digest_enabled.data), "time": form.digest_time.data}
        reports = bool(form.report_emails_enabled.data)

        def save(db: Session) -> None:
            row = _row(db, user)
            profiles.set_digest(db, row, **digest)  # checked first: a bad time changes nothing
            if row.role == "manager":  # the report emails go to managers only (see flows/scheduled_reports.py)
                profiles.set_report_emails(db, row, enabled=reports)
            profiles.update_profile(db, row, **values)

        try:
            state().write(save)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            flash(gettext(PROFILE_SAVED), "success")
            return redirect(url_for("shell.profile"), code=303)
    return _profile_page(form, ChangePasswordForm(formdata=None), 422 if form.is_submitted() else 200)


@bp.post(links.ROUTES["change_password"])
@login_required
def change_password() -> ResponseReturnValue:
    """Change the password (the current one first); this session stays signed in, the others end."""
    user = signed_in_user()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        current, chosen, again = form.current_password.data, form.password.data, form.password_again.data

        def change(db: Session) -> User:
            row = _row(db, user)
            passwords.change_password(db, row, current, chosen, again)
            return row

        try:
            changed = state().write(change)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            start_session(changed)
            flash(gettext(PASSWORD_CHANGED), "success")
            return redirect(url_for("shell.profile"), code=303)
    return _profile_page(_profile_form(user, submitted=False), form, 422)


@bp.post(links.ROUTES["language"])
def language() -> ResponseReturnValue:
    """Switch the pages' language: the user's own setting, or the visitor's choice before sign-in."""
    form = LanguageForm()
    code = languages.parse(form.language.data)
    if not form.validate_on_submit() or code is None:
        abort(400)
    user = current_user()
    if user is None:
        remember_language(code)
    else:
        state().write(lambda db: profiles.set_language(db, _row(db, user), code))
    return redirect(safe_next(form.next.data) or links.path("home"), code=303)


def _row(db: Session, user: User) -> User:
    """The signed-in user's row in this transaction (`g.user` is a detached copy)."""
    row = db.get(User, user.id, with_for_update=True)
    if row is None:
        abort(404)
    return row


def _profile_form(user: User, *, submitted: bool) -> ProfileForm:
    away_from, away_to = profiles.away_days(user, g.zone)
    data = {"language": user.language, "time_zone": user.time_zone or "", "out_of_office_from": away_from,
            "out_of_office_to": away_to, "digest_enabled": user.digest_enabled,
            "report_emails_enabled": user.report_emails_enabled,
            "digest_time": user.digest_time or DIGEST_TIME}
    form = ProfileForm(data=data) if submitted else ProfileForm(formdata=None, data=data)
    with state().readers() as db:
        company_zone = state().company_settings(db)["time_zone"]
    form.fill_choices(company_zone, user.time_zone)
    return form


def _profile_page(form: ProfileForm, password_form: ChangePasswordForm, status: int) -> ResponseReturnValue:
    return render_template("staff/shell/profile.html", form=form, password_form=password_form, now=utcnow()), status
