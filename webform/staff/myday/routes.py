"""My day (`/`), and the one-click work done from it and from record pages: complete a task, log a call,
schedule a follow-up, dismiss a reminder. Each POST returns to the page it came from (`next`)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Activity
from crm_store.records import registry
from crm_store.staff import follow_ups
from crm_store.staff import scope as scoping
from crm_store.staff.my_day import my_day

from ...state import state
from ..access import login_required, safe_next, signed_in_user
from ..forms import store_message
from ..page import day as show_day
from ..records.modules import module_of, record_path
from .forms import CALL_STATUSES, CallForm, DoneForm, FollowUpForm

bp = Blueprint("myday", __name__, template_folder="templates")
TASK_DONE = N_("Task done: %(subject)s")
CALL_LOGGED = N_("Call logged on %(number)s.")
FOLLOW_UP_PLANNED = N_("Follow-up planned for %(day)s.")
REMINDER_DISMISSED = N_("Reminder dismissed.")
PICK_A_DAY = N_("Pick a day, or press Tomorrow, In 3 days or Next week.")
NOT_IN_THE_PAST = N_("Pick today or a later day.")
SHOWN, SHOWN_ALL = 20, 1000  # tasks and new leads listed at first, and with "Show all" (the store stops sooner)


@bp.get(links.ROUTES["home"])
@login_required
def home() -> ResponseReturnValue:
    """What the signed-in user has to do today."""
    user = signed_in_user()
    with state().readers() as db:
        day = my_day(db, user)
    call_form = CallForm(formdata=None)
    return render_template(
        "staff/myday/home.html", day=day, form=DoneForm(formdata=None), call_form=call_form,
        call_statuses=[(key, gettext(label)) for key, label in CALL_STATUSES.items()],
        quick=[(key, gettext(label)) for key, label in follow_ups.FOLLOW_UP_CHOICES.items()],
        here=links.path("home"), record_path=record_path, module_path=lambda m: registry.get(m).path,
        shown=SHOWN_ALL if request.args.get("all") == "1" else SHOWN,
    )


def _back(form: DoneForm | CallForm | FollowUpForm, fallback: str) -> ResponseReturnValue:
    return redirect(safe_next(form.next.data) or fallback, code=303)


def _record_id(module: str, number: str) -> int:
    user = signed_in_user()
    with state().readers() as db:
        found = scoping.fetch_by_number(db, user, module, number)
    if found is None:
        abort(404)
    return int(found.id)


@bp.post(links.ROUTES["task_complete"])
@login_required
def task_complete(activity_id: str) -> ResponseReturnValue:
    """Mark a task done."""
    form = DoneForm()
    if not form.validate_on_submit() or not activity_id.isdigit():
        abort(400)
    user = signed_in_user()
    try:
        task = state().write(lambda db: follow_ups.complete_task(db, user, int(activity_id)))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(store_message(exc), "error")
    else:
        flash(gettext(TASK_DONE, subject=task.subject), "success")
    return _back(form, links.path("home"))


@bp.post(links.ROUTES["call_log"])
@login_required
def call_log(module: str, number: str) -> ResponseReturnValue:
    """Log a call just made about a record: reached or not, and what came of it."""
    name = module_of(module)
    record_id = _record_id(name, number)
    form = CallForm()
    if not form.validate_on_submit():
        abort(400)
    user = signed_in_user()
    try:
        state().write(lambda db: follow_ups.log_call(db, user, name, record_id, status=form.status.data or "Held",
                                                     outcome=form.outcome.data))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(store_message(exc), "error")
    else:
        flash(gettext(CALL_LOGGED, number=number.upper()), "success")
    return _back(form, record_path(name, number.upper()))


@bp.post(links.ROUTES["follow_up"])
@login_required
def follow_up(module: str, number: str) -> ResponseReturnValue:
    """Plan the next follow-up on a record: on the day picked, or tomorrow / in 3 days / next week."""
    name = module_of(module)
    record_id = _record_id(name, number)
    form = FollowUpForm()
    if not form.is_submitted():
        abort(400)
    user = signed_in_user()
    if not form.validate():
        if "csrf_token" in form.errors:
            abort(400)
        flash(" ".join(str(e) for e in form.due_date.errors), "error")
        return _back(form, record_path(name, number.upper()))
    choice = form.when.data
    subject = (form.subject.data or "").strip() or None

    def plan(db: Session) -> Activity:
        today = follow_ups.today_of(db, user)
        due = follow_ups.follow_up_date(choice, today) if choice in follow_ups.FOLLOW_UP_CHOICES else form.due_date.data
        if due is None:
            raise ValidationError("due_date", PICK_A_DAY)
        if due < today:
            raise ValidationError("due_date", NOT_IN_THE_PAST)
        return follow_ups.schedule_follow_up(db, user, name, record_id, due, subject=subject)

    try:
        task = state().write(plan)
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(store_message(exc), "error")
    else:
        flash(gettext(FOLLOW_UP_PLANNED, day=show_day(task.due_date, "full")), "success")
    return _back(form, record_path(name, number.upper()))


@bp.post(links.ROUTES["reminder_dismiss"])
@login_required
def reminder_dismiss(note_id: str) -> ResponseReturnValue:
    """Dismiss a memo reminder: My day no longer shows it."""
    form = DoneForm()
    if not form.validate_on_submit() or not note_id.isdigit():
        abort(400)
    user = signed_in_user()
    try:
        state().write(lambda db: follow_ups.dismiss_reminder(db, user, int(note_id)))
    except NotFound:
        abort(404)
    flash(gettext(REMINDER_DISMISSED), "success")
    return _back(form, links.path("home"))
