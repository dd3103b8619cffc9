"""The note form of a record page's Notes card: the text, and an optional reminder (a day and a time)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm_store.staff.notes import MAX_BODY

from ..agenda.forms import ClockField
from ..forms import TOO_LONG
from ..shell.forms import DayField

WRITE_SOMETHING = lazy_gettext("Write the note.")
PICK_A_TIME = lazy_gettext("Pick the time to be reminded at, or clear the date.")
PICK_A_DAY = lazy_gettext("Pick the day to be reminded on, or clear the time.")


class NoteForm(FlaskForm):
    """A note and when to be reminded of it, in the viewer's zone (both empty: no reminder).

    Fields are named note_… beside the record page's other forms.
    """

    note_body = TextAreaField(lazy_gettext("Note"), validators=[DataRequired(WRITE_SOMETHING),
                                                               Length(max=MAX_BODY, message=TOO_LONG)])
    note_remind_on = DayField(lazy_gettext("Date"), validators=[Optional()])
    note_remind_time = ClockField(lazy_gettext("Time"), validators=[Optional()])

    def validate_reminder(self) -> bool:
        """Check the day and the time come together; the errors beside the one missing."""
        day, time = self.note_remind_on, self.note_remind_time
        if day.errors or time.errors:
            return False
        if day.data is not None and time.data is None:
            time.errors = [*time.errors, gettext(PICK_A_TIME)]
            return False
        if time.data is not None and day.data is None:
            day.errors = [*day.errors, gettext(PICK_A_DAY)]
            return False
        return True

    def remind_at(self, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
        """The reminder's moment in the viewer's zone (None: no reminder)."""
        if self.note_remind_on.data is None or self.note_remind_time.data is None:
            return None
        return dt.datetime.combine(self.note_remind_on.data, self.note_remind_time.data, zone)
