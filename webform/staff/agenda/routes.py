"""The agenda (`/agenda?view=day|week&date=YYYY-MM-DD&user=<id>`): a week or a day of calls, meetings and tasks in the
user's zone; a new event with an invitation; an event's edit form (the keyboard's and no-script way to move
it); the move a drag posts (`static/agenda.js`), answered in JSON when asked so."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Activity, User
from crm_store.staff import agenda as agendas
from crm_store.staff import invitations
from crm_store.staff.follow_ups import today_of

from ...state import page_language, state
from ..access import login_required, signed_in_user
from ..forms import place_error, store_message
from ..page import day as show_day
from ..page import when as show_when
from ..records.pickers import owners
from .forms import EventForm, EventTimesForm, MoveForm, duration_choices, reminder_choices
from .grid import grid, time_range

bp = Blueprint("agenda", __name__, template_folder="templates")
SAVED = N_("Saved: %(subject)s")
MOVED = N_("Moved to %(when)s.")
ALIASES = {"start_at": "start_time", "end_at": "duration", "due_date": "date"}  # store field -> form field
PICK_A_TIME = N_("Enter the time it starts.")


def _domain() -> str:
    """The host of the deployment's address: the right-hand side of the events' UIDs in their .ics."""
    return urlsplit(state().config.base_url).hostname or invitations.DEFAULT_DOMAIN


def agenda_path(view: str | None = None, day: dt.date | None = None, owner: int | None = None) -> str:
    """The agenda's path with its query: the view, the day, whose agenda (only when not the user's own)."""
    query = {k: v for k, v in (("view", view), ("date", day.isoformat() if day else None),
                               ("user", str(owner) if owner else None)) if v}
    return links.path("agenda") + (f"?{urlencode(query)}" if query else "")


def _day(raw: str | None, fallback: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(raw or "")
    except ValueError:
        return fallback


def _time(raw: str | None) -> dt.time | None:
    """A time of day from the query (?time=14:30: where a click on the agenda was), else none."""
    try:
        return dt.time.fromisoformat(raw or "").replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        return None


def _activity_id(raw: str) -> int:
    if not raw.isdigit():
        abort(404)
    return int(raw)


@bp.get(links.ROUTES["agenda"])
@login_required
def agenda() -> ResponseReturnValue:
    """A week (Monday first) or a day: tasks on top of each day, events by the hour."""
    user, args = signed_in_user(), request.args
    asked = args.get("view")
    view = asked if asked in agendas.VIEWS else "week"
    owner = int(args["user"]) if (args.get("user") or "").isdigit() else None
    with state().readers() as db:
        today = today_of(db, user)
        day = _day(args.get("date"), today)
        try:
            plan = agendas.agenda(db, user, day, view, owner_id=owner)
        except NotFound:
            abort(404)
        people = owners(db, user)
    drawn = grid(plan, page_language(), day)
    mine = plan.owner_id == user.id
    other = None if mine else plan.owner_id
    now = dt.datetime.now(g.zone)
    one_day = dt.timedelta(days=1)
    return render_template(
        "staff/agenda/agenda.html", plan=plan, grid=drawn, view=view, auto=asked not in agendas.VIEWS, day=day,
        today=today, mine=mine, people=people if len(people) > 1 else [], now_minute=now.hour * 60 + now.minute,
        previous=agenda_path(asked, day - plan.step, other), next=agenda_path(asked, day + plan.step, other),
        day_prev=agenda_path(None, day - one_day, other), day_next=agenda_path(None, day + one_day, other),
        focus_title=show_day(day, "full"), today_path=agenda_path(asked, None, other),
        day_path=lambda d: agenda_path("day", d, other), week_path=agenda_path("week", day, other),
        day_view_path=agenda_path("day", day, other), new_path=links.path("agenda_event_new"),
        move_path=links.path("agenda_move", activity_id="0"),
    )


@bp.route(links.ROUTES["agenda_event_new"], methods=["GET", "POST"])
@login_required
def agenda_event_new() -> ResponseReturnValue:
    """A new call or meeting: when, where, about which record, whom to invite (they get an .ics)."""
    user = signed_in_user()
    with state().readers() as db:
        today = today_of(db, user)
    first = _day(request.args.get("date"), today)
    prefill = {"date": first, "type": "meeting", "duration": "30",
               "start_time": _time(request.args.get("time")), "related": request.args.get("related", "")}
    form = EventForm(data=prefill)
    form.type.choices = [("meeting", gettext("Meeting")), ("call", gettext("Call"))]
    _fill(form, None, None)
    if form.validate_on_submit() and _time_given(form):
        values = {**_times(form), "type": form.type.data, "subject": form.subject.data,
                  "location": form.location.data, "reminder_minutes": form.reminder(),
                  "description": form.description.data}

        related, attendees, domain = form.related.data, form.attendees.data, _domain()

        def create(db: Session) -> tuple[str, dt.date]:  # may run on another request's thread: no `g` in here
            event = agendas.create_event(db, user, values, Actor.user(user.id), related=related,
                                         attendees=attendees, domain=domain)
            return event.subject, values["start_at"].date()

        try:
            subject, day = state().write(create)
        except ValidationError as exc:
            place_error(form, exc, ALIASES)
        else:
            flash(gettext(SAVED, subject=subject), "success")
            guests = len(invitations.parse_attendees(form.attendees.data))
            if guests:
                flash(ngettext("The invitation is on its way to %(num)s person.",
                               "The invitation is on its way to %(num)s people.", guests), "info")
            return redirect(agenda_path(None, day), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("staff/agenda/event.html", form=form, event=None, guests=[], is_task=False,
                           cancel=agenda_path(None, first)), status


@bp.route(links.ROUTES["agenda_event"], methods=["GET", "POST"])
@login_required
def agenda_event(activity_id: str) -> ResponseReturnValue:
    """An event's or a task's form: change its day and time (move it), subject, place, reminder."""
    user, number = signed_in_user(), _activity_id(activity_id)
    with state().readers() as db:
        try:
            event = agendas.event_of(db, user, number)
        except NotFound:
            abort(404)
        guests, _ = invitations.attendees_of(db, number)
        shown = _shown(event)
    form = EventTimesForm(data=shown)
    _fill(form, shown.get("minutes"), event.reminder_minutes)
    is_task = event.type == "task"
    if form.validate_on_submit() and (is_task or _time_given(form)):
        changes: dict[str, Any] = {"subject": form.subject.data}
        if is_task:
            changes["due_date"] = form.date.data
        else:
            changes |= {**_times(form), "location": form.location.data, "reminder_minutes": form.reminder(),
                        "description": form.description.data}
        domain = _domain()
        try:
            state().write(lambda db: agendas.change_event(db, user, number, changes, Actor.user(user.id),
                                                          domain=domain))
        except NotFound:
            abort(404)
        except ValidationError as exc:
            place_error(form, exc, ALIASES)
        else:
            flash(gettext(SAVED, subject=form.subject.data), "success")
            return redirect(agenda_path(None, form.date.data, _other(event, user)), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("staff/agenda/event.html", form=form, event=event, guests=guests, is_task=is_task,
                           cancel=agenda_path(None, shown["date"], _other(event, user))), status


@bp.post(links.ROUTES["agenda_move"])
@login_required
def agenda_move(activity_id: str) -> ResponseReturnValue:
    """Move an event to another day or time (keeping its length), or a task to another day."""
    user, number = signed_in_user(), _activity_id(activity_id)
    form = MoveForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    if not form.validate_on_submit():
        abort(400)
    landing = form.landing()
    try:
        if landing is None:
            raise ValidationError("start_at", N_("Drop it on a day and a time."))
        zone, language, domain = g.zone, page_language(), _domain()
        moved = state().write(lambda db: _move(db, user, number, landing, zone, language, domain))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        if wants_json:
            return jsonify(ok=False, error=store_message(exc)), 422
        flash(store_message(exc), "error")
        return redirect(agenda_path(form.view.data or None, None), code=303)
    when = _when(moved)
    if wants_json:
        return jsonify(ok=True, message=gettext(MOVED, when=when), time=moved["time"])
    flash(gettext(MOVED, when=when), "success")
    return redirect(agenda_path(form.view.data or None, moved["day"]), code=303)


def _move(db: Session, user: User, number: int, landing: dt.datetime | dt.date, zone: Any, language: str,
          domain: str) -> dict[str, Any]:
    """Move in the writer's transaction (perhaps on another request's thread: everything comes as arguments);
    return what the answer shows, as plain values."""
    target = landing.replace(tzinfo=zone) if isinstance(landing, dt.datetime) else landing
    event = agendas.move_event(db, user, number, target, Actor.user(user.id), domain=domain)
    if event.start_at is None or event.type == "task":
        return {"day": event.due_date, "start": None, "end": None, "time": ""}
    start = event.start_at.astimezone(zone)
    end = event.end_at.astimezone(zone) if event.end_at else start + dt.timedelta(minutes=agendas.DEFAULT_MINUTES)
    return {"day": start.date(), "start": start, "end": end, "time": time_range(start, end, language)}


def _when(moved: dict[str, Any]) -> str:
    return show_when(moved["start"], "full") if moved["start"] is not None else show_day(moved["day"], "full")


def _other(event: Activity, user: User) -> int | None:
    return None if event.owner_id == user.id else event.owner_id


def _shown(event: Activity) -> dict[str, Any]:
    """An event's values as its form shows them, in the user's zone."""
    zone = g.zone
    if event.type == "task" or event.start_at is None:
        return {"subject": event.subject, "date": event.due_date}
    start = event.start_at.astimezone(zone)
    minutes = int((event.end_at - event.start_at).total_seconds() // 60) if event.end_at else None
    return {"subject": event.subject, "date": start.date(), "start_time": start.time().replace(second=0, microsecond=0),
            "duration": str(minutes or agendas.DEFAULT_MINUTES), "minutes": minutes, "location": event.location or "",
            "reminder_minutes": "" if event.reminder_minutes is None else str(event.reminder_minutes),
            "description": event.description or ""}


def _fill(form: EventTimesForm, minutes: int | None, reminder: int | None) -> None:
    form.duration.choices = duration_choices(minutes)
    form.reminder_minutes.choices = reminder_choices(reminder)


def _time_given(form: EventTimesForm) -> bool:
    if form.start_time.data is None:
        form.start_time.errors = [*form.start_time.errors, gettext(PICK_A_TIME)]
        return False
    return True


def _times(form: EventTimesForm) -> dict[str, dt.datetime | None]:
    """The start and end the form means, in the user's zone (the end: the start plus the length picked)."""
    start = dt.datetime.combine(form.date.data, form.start_time.data, g.zone)
    minutes = form.minutes()
    return {"start_at": start, "end_at": start + dt.timedelta(minutes=minutes) if minutes else None}
