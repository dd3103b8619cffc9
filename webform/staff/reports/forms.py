"""The filters of a report page: a GET form (no CSRF: it only reads), and the admins' "Refresh now" button."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import Form, SelectField
from wtforms.validators import Optional, ValidationError

from ..shell.forms import DayField

NOT_YOURS = lazy_gettext("Pick one from the list.")


class ReportFilters(Form):
    """Period, as-of day, owner, team and sales process; the choices are the viewer's scope (set by the view)."""

    date_from = DayField(lazy_gettext("From"), validators=[Optional()])
    date_to = DayField(lazy_gettext("To"), validators=[Optional()])
    as_of = DayField(lazy_gettext("As of"), validators=[Optional()])
    owner = SelectField(lazy_gettext("Assigned to"), validators=[Optional()])
    team = SelectField(lazy_gettext("Team"), validators=[Optional()])
    # `process` on the query; the attribute has another name, since a Form's `process` is a method
    sales_process = SelectField(lazy_gettext("Sales process"), validators=[Optional()], name="process")

    class Meta:
        csrf = False

    def fill_choices(self, owners: list[tuple[str, str]], teams: list[tuple[str, str]],
                     processes: list[tuple[str, str]], anyone: Any, any_team: Any) -> None:
        """Offer only what the viewer may pick; a value outside these fails validation, naming the field."""
        self.owner.choices = [("", anyone), *owners]
        self.team.choices = [("", any_team), *teams]
        self.sales_process.choices = processes  # none picked: the default process, listed first

    def validate_date_to(self, field: DayField) -> None:
        """The period's end is not before its start."""
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(str(lazy_gettext("The period ends before it starts.")))


class RefreshForm(FlaskForm):
    """Refresh the warehouse now (admins): a button that posts."""
