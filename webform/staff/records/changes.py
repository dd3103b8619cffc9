"""What is done from a record page besides editing: change the owner, move a deal to a stage, take a lead from
the pool, convert a lead (the account match shown first)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.records.record_page import title_of
from crm_store.staff import actions

from ...state import state
from ..access import login_required, safe_next, signed_in_user
from ..forms import place_error, store_message
from . import pickers
from .forms import REQUIRED, ConfirmForm, ConvertForm, OwnerForm, StageForm
from .modules import module_of, record_path
from .routes import bp, visible, write

OWNER_CHANGED = N_("%(number)s is now assigned to %(name)s.")
STAGE_CHANGED = N_("%(number)s is now at %(stage)s.")
TAKEN = N_("%(number)s is yours now.")
CONVERTED = N_("%(number)s is converted.")
LOST_NEEDS_REASON = N_("Choose a lost reason to close the deal as lost.")
NEW_ACCOUNT = "new"  # the conversion form's choice of a new account


def _refused(exc: ValidationError) -> None:
    """Show a store error after the redirect (the form is on the record page)."""
    flash(store_message(exc), "error")


@bp.post(links.ROUTES["record_owner"])
@login_required
def record_owner(module: str, number: str) -> ResponseReturnValue:
    """Give the record to another user in the signed-in user's scope."""
    name, user = module_of(module), signed_in_user()
    form = OwnerForm()
    with state().readers() as db:
        record_id = visible(db, user, name, number).id
        offered = dict(pickers.owners(db, user))
    if not form.validate_on_submit() or form.owner_id.data not in offered:
        abort(400)
    try:
        write(lambda db: actions.change_owner(db, user, name, record_id, int(form.owner_id.data)))
    except ValidationError as exc:
        _refused(exc)
    else:
        flash(gettext(OWNER_CHANGED, number=number.upper(), name=offered[form.owner_id.data]), "success")
    return redirect(record_path(name, number.upper()), code=303)


@bp.post(links.ROUTES["record_stage"])
@login_required
def record_stage(module: str, number: str) -> ResponseReturnValue:
    """Move a deal to a stage; Closed Lost needs a lost reason."""
    if module_of(module) != "opportunities":
        abort(404)
    user = signed_in_user()
    form = StageForm()
    with state().readers() as db:
        opp = visible(db, user, "opportunities", number)
        record_id, lost = opp.id, {s.name for s in pickers.stage_rows(db, opp.sales_process_id) if s.is_lost}
    if not form.validate_on_submit():
        abort(400)
    if form.stage.data in lost and not (form.lost_reason.data or "").strip():
        flash(gettext(LOST_NEEDS_REASON), "error")
        return redirect(record_path("opportunities", number.upper()), code=303)
    try:
        write(lambda db: actions.change_stage(db, user, record_id, form.stage.data, lost_reason=form.lost_reason.data,
                                              lost_reason_detail=form.lost_reason_detail.data))
    except ValidationError as exc:
        _refused(exc)
    else:
        flash(gettext(STAGE_CHANGED, number=number.upper(), stage=form.stage.data), "success")
    return redirect(record_path("opportunities", number.upper()), code=303)


@bp.post(links.ROUTES["lead_take"])
@login_required
def lead_take(number: str) -> ResponseReturnValue:
    """Take an unowned lead from the pool (of two takers, one wins)."""
    user = signed_in_user()
    form = ConfirmForm()
    with state().readers() as db:
        record_id = visible(db, user, "leads", number).id
    if not form.validate_on_submit():
        abort(400)
    try:
        write(lambda db: actions.take_lead(db, user, record_id))
    except ValidationError as exc:
        _refused(exc)
    else:
        flash(gettext(TAKEN, number=number.upper()), "success")
    return redirect(safe_next(form.next.data) or record_path("leads", number.upper()), code=303)


@bp.route(links.ROUTES["lead_convert"], methods=["GET", "POST"])
@login_required
def lead_convert(number: str) -> ResponseReturnValue:
    """Show the account the lead would join, then convert it: to that account, another, or a new one."""
    user = signed_in_user()
    with state().readers() as db:
        lead = visible(db, user, "leads", number)
        if lead.converted_at is not None:
            flash(gettext("This lead is already converted."), "info")
            return redirect(record_path("leads", lead.lead_no), code=303)
        preview = actions.conversion_preview(db, user, lead.id)
        lead_id, number, lead_title = lead.id, lead.lead_no, title_of("leads", lead)
    form = ConvertForm(data={"account": _default_account(preview), "new_account_name": preview.account_name,
                             "opportunity_name": preview.opportunity_name})
    form.account.choices = [(m.number, m.name) for m in preview.matches if m.visible] + [(NEW_ACCOUNT, "")]
    if form.validate_on_submit() and _opportunity_filled(form):
        try:
            result = write(lambda db: _convert(db, user, lead_id, form))
        except ValidationError as exc:
            place_error(form, exc, {"name": "opportunity_name", "expected_close_date": "expected_close_date",
                                    "account": "account"})
        else:
            flash(gettext(CONVERTED, number=number), "success")
            return redirect(result, code=303)
    return render_template("staff/records/convert.html", form=form, preview=preview, number=number,
                           lead_title=lead_title, back=record_path("leads", number),
                           new_account=NEW_ACCOUNT), 422 if form.is_submitted() else 200


def _opportunity_filled(form: ConvertForm) -> bool:
    """With an opportunity asked for, its name and close date are there (else the errors are beside them)."""
    missing = [f for f in (form.opportunity_name, form.expected_close_date)
               if form.with_opportunity.data and not (f.data or "").strip()]
    for field in missing:
        field.errors = [*field.errors, str(REQUIRED)]
    return not missing


def _default_account(preview: actions.ConversionPreview) -> str:
    first = next((m for m in preview.matches if m.visible), None)
    return first.number if first is not None and first == preview.matches[0] else NEW_ACCOUNT


def _convert(db: Session, user: Any, lead_id: int, form: ConvertForm) -> str:
    """Convert; return the path to go to: the new opportunity's page, else the contact's."""
    chosen = form.account.data or NEW_ACCOUNT
    new = chosen == NEW_ACCOUNT
    opportunity = None
    if form.with_opportunity.data:
        opportunity = {"name": (form.opportunity_name.data or "").strip(),
                       "amount": (form.amount.data or "").strip() or None,
                       "expected_close_date": (form.expected_close_date.data or "").strip()}
        opportunity = {key: value for key, value in opportunity.items() if value}
    account = (form.new_account_name.data or "").strip() or None if new else chosen
    done = actions.convert(db, user, lead_id, account=account, new_account=new, opportunity=opportunity)
    if done.opportunity is not None:
        return record_path("opportunities", done.opportunity.opportunity_no)
    return record_path("contacts", done.contact.contact_no)
