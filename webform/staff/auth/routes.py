"""Signing in and out, and choosing a password from an emailed link (welcome or reset)."""

from __future__ import annotations

import math
from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import User
from crm_store.staff import passwords, recovery
from crm_store.staff import sign_in as signing_in

from ...state import client_ip, limit_key, state
from ..access import current_user, end_session, safe_next, start_session
from ..forms import place_error
from .forms import ForgotPasswordForm, NewPasswordForm, SignInForm

bp = Blueprint("auth", __name__, template_folder="templates")
SIGNED_OUT = N_("You are signed out.")
WRONG = N_("The email address or password is not right.")
PASSWORD_CHOSEN = N_("Your password is set. Welcome to Leadline!")
FindUser = Callable[[Session, str, str], User]


@bp.route(links.ROUTES["sign_in"], methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """Sign in with email and password; back to the page that asked for it."""
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")) or links.path("home"))
    form = SignInForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        outcome = _attempt(form.email.data, form.password.data)
        if outcome.user is not None:
            start_session(outcome.user)
            return redirect(safe_next(form.next.data) or links.path("home"), code=303)
        form.form_errors.append(_refusal(outcome))
        status = 401 if outcome.refusal == signing_in.WRONG else 429
    elif form.is_submitted():
        status = 422
    return render_template("staff/auth/sign_in.html", form=form), status


def _attempt(email: str, password: str) -> signing_in.Outcome:
    """Count the attempt, check the password outside any transaction, then conclude (see `crm_store.staff.sign_in`)."""
    address = limit_key(client_ip())
    app_state = state()
    attempt = app_state.write(lambda s: signing_in.begin(s, email, address))
    right = signing_in.check(attempt, password)
    return app_state.write(lambda s: signing_in.conclude(s, attempt, right, password=password))


def _refusal(outcome: signing_in.Outcome) -> str:
    if outcome.refusal == signing_in.LOCKED:
        return ngettext("Too many failed sign-ins. Try again in %(num)s minute.",
                        "Too many failed sign-ins. Try again in %(num)s minutes.", math.ceil(outcome.wait_seconds / 60))
    if outcome.refusal == signing_in.WAIT:
        return ngettext("Too many failed sign-ins. Wait %(num)s second, then try again.",
                        "Too many failed sign-ins. Wait %(num)s seconds, then try again.", outcome.wait_seconds)
    return gettext(WRONG)


@bp.post(links.ROUTES["sign_out"])
def sign_out() -> ResponseReturnValue:
    """Sign out and show the sign-in page."""
    end_session()
    flash(gettext(SIGNED_OUT), "success")
    return redirect(url_for("auth.sign_in"), code=303)


@bp.route(links.ROUTES["forgot_password"], methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    """Email a one-time link to choose a new password; the answer is the same whether the address is known or not."""
    if current_user() is not None:
        return redirect(links.path("profile"))  # signed in: the password is changed on the profile
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = form.email.data
        state().write(lambda s: recovery.queue_reset(s, email))
        return render_template("staff/auth/reset_sent.html", email=email)
    return render_template("staff/auth/forgot_password.html", form=form), 422 if form.is_submitted() else 200


@bp.route(links.ROUTES["set_password"], methods=["GET", "POST"])
def set_password(token: str) -> ResponseReturnValue:
    """Choose the first password, from the welcome email's link."""
    return _choose_password(token, recovery.welcome_user, first=True)


@bp.route(links.ROUTES["reset_password"], methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """Choose a new password, from the password_reset email's one-time link."""
    return _choose_password(token, recovery.reset_user, first=False)


def _choose_password(token: str, find: FindUser, *, first: bool) -> ResponseReturnValue:
    """The page of a password link: refused when the link no longer works; signed in once a good password is set."""
    app_state = state()
    secret = app_state.config.secret_key
    try:
        with app_state.readers() as db:
            email = find(db, secret, token).email
    except recovery.LinkRefused as exc:
        return _private(render_template("staff/auth/link_refused.html", message=gettext(exc.message)), 410)
    form = NewPasswordForm()
    if form.validate_on_submit():
        chosen, again = form.password.data, form.password_again.data

        def choose(db: Session) -> User:
            user = find(db, secret, token)  # again, in the writing transaction: the link works once
            passwords.set_password(db, user, chosen, again)
            return user

        try:
            user = app_state.write(choose)
        except recovery.LinkRefused as exc:
            return _private(render_template("staff/auth/link_refused.html", message=gettext(exc.message)), 410)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            start_session(user)
            flash(gettext(PASSWORD_CHOSEN), "success")
            return redirect(links.path("home"), code=303)
    page = render_template("staff/auth/choose_password.html", form=form, email=email, first=first)
    return _private(page, 422 if form.is_submitted() else 200)


def _private(page: str, status: int) -> ResponseReturnValue:
    """A page whose address holds a token: never sent on as a referrer."""
    return page, status, {"Referrer-Policy": "no-referrer"}
