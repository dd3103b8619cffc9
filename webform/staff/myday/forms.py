"""The one-click forms of My day and the record pages. Pages draw them by hand (one per row, ids made unique);
the posted names are these fields'."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from crm_store.languages import N_

from ..forms import TOO_LONG
from ..shell.forms import DayField

CALL_STATUSES = {"Held": N_("Reached them"), "Not Held": N_("No answer")}


class DoneForm(FlaskForm):
    """Complete a task or dismiss a reminder; `next`: the page to return to."""

    next = HiddenField()


class CallForm(FlaskForm):
    """Log a call made just now: whether it reached them, and what came of it."""

    status = SelectField(lazy_gettext("How did it go?"), validate_choice=False, default="Held")
    outcome = StringField(lazy_gettext("What came of it"), validators=[Length(max=2000, message=TOO_LONG)])
    next = HiddenField()


class FollowUpForm(FlaskForm):
    """Plan the next step: a date, or one of the quick choices (the button pressed: `when`)."""

    due_date = DayField(lazy_gettext("Follow up on"), validators=[Optional()])
    when = HiddenField()
    subject = StringField(lazy_gettext("What to do"), validators=[Length(max=255, message=TOO_LONG)])
    next = HiddenField()
