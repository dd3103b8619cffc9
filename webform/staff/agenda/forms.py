"""The agenda's forms: a new event, an event's or task's edit (move) form, and the move posted by a drag."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..forms import TOO_LONG
from ..page import duration
from ..shell.forms import DayField

REQUIRED = lazy_gettext("This field is required.")
TIME_MESSAGE = lazy_gettext("Enter a time like 14:30.")
DURATIONS = (15, 30, 45, 60, 90, 120, 180, 240, 480)  # minutes offered for an event's length
REMINDERS = (5, 10, 15, 30, 60, 120, 1440)  # minutes before the start


class ClockField(TimeField):
    """A time of day (an `<input type=time>`), refused in the page's language when it is not one."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(str(TIME_MESSAGE)) from None


class EventTimesForm(FlaskForm):
    """When an event is: its day, its start and how long it lasts (a task: its day only)."""

    subject = StringField(lazy_gettext("Subject"), validators=[DataRequired(REQUIRED),
                                                              Length(max=255, message=TOO_LONG)])
    date = DayField(lazy_gettext("Date"), validators=[InputRequired(REQUIRED)])  # a date that is none: its own error
    start_time = ClockField(lazy_gettext("Starts at"), validators=[Optional()])
    duration = SelectField(lazy_gettext("Duration"), validate_choice=False, default="30")
    location = StringField(lazy_gettext("Where"), validators=[Length(max=255, message=TOO_LONG)])
    reminder_minutes = SelectField(lazy_gettext("Reminder"), validate_choice=False, default="")
    description = TextAreaField(lazy_gettext("Agenda or notes"), validators=[Length(max=5000, message=TOO_LONG)])

    def minutes(self) -> int | None:
        """The length picked, in minutes (None when it is not a whole number)."""
        raw = str(self.duration.data or "")
        return int(raw) if raw.isdigit() else None

    def reminder(self) -> int | None:
        """The reminder picked, in minutes before the start (None for no reminder)."""
        raw = str(self.reminder_minutes.data or "")
        return int(raw) if raw.isdigit() else None


class EventForm(EventTimesForm):
    """A new call or meeting on the agenda, with an invitation to the attendees given."""

    type = RadioField(lazy_gettext("Type"), default="meeting", validate_choice=False)
    related = StringField(lazy_gettext("Related record"), validators=[Length(max=40, message=TOO_LONG)])
    attendees = TextAreaField(lazy_gettext("Invite by email"), validators=[Length(max=5000, message=TOO_LONG)])


class MoveForm(FlaskForm):
    """Where a dragged event lands: `start` (YYYY-MM-DDTHH:MM, the user's zone) or a task's `date`."""

    start = HiddenField()
    date = HiddenField()
    view = HiddenField()

    def landing(self) -> dt.datetime | dt.date | None:
        """The naive local start, or the day, posted (None when neither parses)."""
        try:
            if self.start.data:
                return dt.datetime.strptime(self.start.data, "%Y-%m-%dT%H:%M")
            if self.date.data:
                return dt.date.fromisoformat(self.date.data)
        except ValueError:
            return None
        return None


def duration_choices(keep: int | None = None) -> list[tuple[str, str]]:
    """The lengths offered, as (minutes, words) — with `keep` too when it is not one of them."""
    minutes = sorted({*DURATIONS, *([keep] if keep and keep > 0 else [])})
    return [(str(m), duration(m)) for m in minutes]


def reminder_choices(keep: int | None = None) -> list[tuple[str, str]]:
    """The reminders offered: none, or some minutes before the start (with `keep` when it is not one of them)."""
    minutes = sorted({*REMINDERS, *([keep] if keep is not None and keep >= 0 else [])})
    return [("", gettext("No reminder")),
            *((str(m), gettext("%(time)s before", time=duration(m))) for m in minutes)]
