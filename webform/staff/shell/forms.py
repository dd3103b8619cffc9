"""The profile, change-password and language-switch forms."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Optional

from crm_store.staff.profile import zone_names

from ..forms import language_choices

DATE_MESSAGE = lazy_gettext("Enter a date like 2026-03-14.")


class DayField(DateField):
    """A date (an `<input type=date>`), refused in the page's language when it is not one."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(str(DATE_MESSAGE)) from None


class ProfileForm(FlaskForm):
    """The signed-in user's language, time zone, out-of-office days, morning digest (and a manager's report
    emails)."""

    language = SelectField(lazy_gettext("Language"), validate_choice=False)
    time_zone = SelectField(lazy_gettext("Time zone"), validate_choice=False)
    out_of_office_from = DayField(lazy_gettext("Away from"), validators=[Optional()])
    out_of_office_to = DayField(lazy_gettext("Away until"), validators=[Optional()])
    digest_enabled = BooleanField(lazy_gettext("Email me my morning digest on working days"))
    digest_time = StringField(lazy_gettext("Digest time"))  # checked by the store (profile.set_digest)
    report_emails_enabled = BooleanField(
        lazy_gettext("Email me the weekly pipeline and monthly customer value reports"))  # managers only

    def fill_choices(self, company_zone: str, current_zone: str | None) -> None:
        """The languages, and the time zones with "the company's" first (and the user's own, if unusual)."""
        self.language.choices = language_choices()
        zones = list(zone_names())
        if current_zone and current_zone not in zones:
            zones.insert(0, current_zone)
        company = lazy_gettext("The company's time zone (%(zone)s)", zone=company_zone)
        self.time_zone.choices = [("", company), *((zone, zone.replace("_", " ")) for zone in zones)]


class ChangePasswordForm(FlaskForm):
    """The current password, then the new one twice."""

    current_password = PasswordField(lazy_gettext("Current password"),
                                     validators=[DataRequired(lazy_gettext("Enter your current password."))])
    password = PasswordField(lazy_gettext("New password"),
                             validators=[DataRequired(lazy_gettext("Enter a new password."))])
    password_again = PasswordField(lazy_gettext("New password again"),
                                   validators=[DataRequired(lazy_gettext("Type the new password again."))])


class LanguageForm(FlaskForm):
    """The header's language switch."""

    language = HiddenField()
    next = HiddenField()
