"""The forms of the Users page: add a user, deactivate one (and who takes their work), resend the welcome."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from crm_store.languages import N_
from crm_store.models import ROLES, User
from crm_store.staff.profile import zone_names

from ..forms import TOO_LONG, language_choices

ROLE_NAMES = {"admin": N_("Admin"), "manager": N_("Manager"), "rep": N_("Sales rep")}


class UserAddForm(FlaskForm):
    """A new member of staff: they get the welcome email with a link to choose a password."""

    email = EmailField(lazy_gettext("Email"), validators=[
        DataRequired(lazy_gettext("Enter their work email address.")), Length(max=255, message=TOO_LONG)])
    name = StringField(lazy_gettext("Name"), validators=[DataRequired(lazy_gettext("Enter their name.")),
                                                         Length(max=100, message=TOO_LONG)])
    role = SelectField(lazy_gettext("Role"), validate_choice=False, default="rep")
    manager = SelectField(lazy_gettext("Manager"), validate_choice=False, default="")
    language = SelectField(lazy_gettext("Language"), validate_choice=False)
    time_zone = SelectField(lazy_gettext("Time zone"), validate_choice=False, default="")

    def fill_choices(self, managers: list[User], company_zone: str, company_language: str) -> None:
        """Roles, the managers to pick from (active admins and managers), languages and time zones."""
        self.role.choices = [(role, lazy_gettext(ROLE_NAMES[role])) for role in ROLES]
        nobody = lazy_gettext("Nobody")
        self.manager.choices = [("", nobody), *((u.email, f"{u.name} <{u.email}>") for u in managers)]
        self.language.choices = language_choices()
        if not self.language.data:
            self.language.data = company_language
        company = lazy_gettext("The company's time zone (%(zone)s)", zone=company_zone)
        self.time_zone.choices = [("", company), *((zone, zone.replace("_", " ")) for zone in zone_names())]


class DeactivateForm(FlaskForm):
    """Who takes over the open work of the user being deactivated."""

    reassign_to = SelectField(lazy_gettext("Give their open work to"), validate_choice=False, default="")

    def fill_choices(self, heirs: list[User]) -> None:
        """The active users other than the one leaving."""
        self.reassign_to.choices = [("", lazy_gettext("Nobody (only if they own no open work)")),
                                    *((u.email, f"{u.name} <{u.email}>") for u in heirs)]


class ActionForm(FlaskForm):
    """A button that posts (resend the welcome email): the CSRF token only."""
