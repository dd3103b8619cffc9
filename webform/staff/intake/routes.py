"""Web forms and the quarantine (admins only): the forms with their counts, a form's page with its embed
snippet, the held submissions with why each was held, Release (the lead it made is linked) and Discard."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.capture import forms as webforms
from crm_store.capture import quarantine
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Contact, Lead, WebForm
from crm_store.records.names import display_name

from ...state import state
from ..access import admin_required, safe_next
from ..forms import store_message
from ..records.modules import record_path
from . import held, overview
from .forms import HeldActionForm

bp = Blueprint("intake", __name__, template_folder="templates")
RELEASED = {
    "new_lead": N_("Released: it is now the new lead %(record)s."),
    "added_to_lead": N_("Released: it is added to the open lead %(record)s."),
    "added_to_contact": N_("Released: it is added to the contact %(record)s."),
}
DISCARDED = N_("Discarded as spam: the submission from %(who)s.")
SOMEONE = N_("an unnamed visitor")


@bp.get(links.ROUTES["web_forms"])
@admin_required
def web_forms() -> ResponseReturnValue:
    """Every web form: live or disabled, who gets its leads, its submissions accepted, held and in all."""
    with state().readers() as db:
        forms = list(db.scalars(webforms.listing()))
        counts = overview.counts(db)
        assignments = overview.assignments(db, forms)
    return render_template("staff/intake/web_forms.html", forms=forms, counts=counts, assignments=assignments,
                           zero=overview.Counts())


@bp.get(links.ROUTES["web_form"])
@admin_required
def web_form(public_id: str) -> ResponseReturnValue:
    """A form's definition in short, its counts, the hosted page's address and the snippet to embed it."""
    with state().readers() as db:
        form = _form(db, public_id)
        counts = overview.counts(db, form.id).get(form.id, overview.Counts())
        assignment = overview.assignments(db, [form])[form.id]
        fixed = overview.fixed_values(db, form)
    base = state().config.base_url
    return render_template(
        "staff/intake/web_form.html", form=form, counts=counts, assignment=assignment, fixed=fixed,
        hosted_url=links.url(base, "hosted_form", public_id=form.public_id),
        api_url=links.url(base, "form_api", public_id=form.public_id),
        snippet=webforms.embed_snippet(base, form.public_id),
        language=languages.LANGUAGES.get(form.language),
    )


@bp.get(links.ROUTES["quarantine"])
@admin_required
def quarantine_list() -> ResponseReturnValue:
    """The held submissions, newest first, 50 a page; `?form=` one form's only."""
    with state().readers() as db:
        forms = list(db.execute(select(WebForm.id, WebForm.public_id, WebForm.name).order_by(WebForm.name)))
        chosen = next((f for f in forms if f.public_id == request.args.get("form")), None)
        form_id = chosen.id if chosen is not None else None
        page = held.held_page(db, form_id, request.args.get("cursor"))
        total = held.held_count(db, form_id)
    return render_template(
        "staff/intake/quarantine.html", page=page, total=total, forms=forms, chosen=chosen,
        here=_here, in_words=held.in_words,
    )


@bp.post(links.ROUTES["quarantine_release"])
@admin_required
def quarantine_release(ref: str) -> ResponseReturnValue:
    """Let a held submission through: it makes (or adds to) a lead or contact, linked in the message shown."""
    action = HeldActionForm()
    if not action.validate_on_submit():
        abort(400)
    try:
        outcome, module, number, name = state().write(lambda db: _release(db, ref))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(store_message(exc), "error")
    else:
        link = Markup('<a href="{}">{}</a>').format(record_path(module, number), f"{number} {name}".strip())
        flash(escape(gettext(RELEASED.get(outcome, RELEASED["new_lead"]))) % {"record": link}, "success")
    return redirect(_back(action.next.data), code=303)


@bp.post(links.ROUTES["quarantine_discard"])
@admin_required
def quarantine_discard(ref: str) -> ResponseReturnValue:
    """Confirm a held submission as spam: it leaves the quarantine and never makes a lead."""
    action = HeldActionForm()
    if not action.validate_on_submit():
        abort(400)
    try:
        who = state().write(lambda db: _discard(db, ref))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(store_message(exc), "error")
    else:
        flash(gettext(DISCARDED, who=who or gettext(SOMEONE)), "success")
    return redirect(_back(action.next.data), code=303)


def _release(db: Session, ref: str) -> tuple[str, str, str, str]:
    """Release a submission; what came of it, and the record's module, number and name."""
    receipt = quarantine.release(db, ref)
    if receipt.lead_id is not None:
        lead = db.get_one(Lead, receipt.lead_id)
        return receipt.outcome, "leads", lead.lead_no, display_name(lead.first_name, lead.last_name)
    contact = db.get_one(Contact, receipt.contact_id)
    return receipt.outcome, "contacts", contact.contact_no, display_name(contact.first_name, contact.last_name)


def _discard(db: Session, ref: str) -> str | None:
    """Discard a submission; who sent it (their name or email), if they said."""
    sub = quarantine.discard(db, ref)
    clean = sub.clean or {}
    return display_name(clean.get("first_name"), clean.get("last_name")) or sub.email


def _form(db: Session, public_id: str) -> WebForm:
    """The form with this public id; 404 when there is none."""
    form = db.scalar(select(WebForm).where(WebForm.public_id == public_id)) if len(public_id) <= 64 else None
    if form is None:
        abort(404)
    return form


def _here(**changes: Any) -> str:
    """The quarantine's path with its query changed (None drops a key)."""
    query = {key: value for key, value in request.args.items() if value}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return links.path("quarantine") + (f"?{urlencode(query)}" if query else "")


def _back(target: str | None) -> str:
    """Where a Release or Discard returns: the quarantine page it was pressed on, else the quarantine."""
    home = links.path("quarantine")
    target = safe_next(target)
    return target if target is not None and (target == home or target.startswith(home + "?")) else home
