"""The records area's forms: a module's create/edit form (built from `fields.FORMS`), the list filter, and the
owner, stage, delete and conversion forms of a record page."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm_store.records import registry

from ..forms import TOO_LONG
from ..page import choice
from .fields import FORMS, FormField

REQUIRED = lazy_gettext("This field is required.")
INPUT_TYPES = {"email": "email", "phone": "tel", "url": "url", "date": "date"}
SELECTS = ("picklist", "owner", "account", "stage")
Choices = list[tuple[str, str]]


class RecordForm(FlaskForm):
    """A record's fields; subclasses per module are made by `record_form_class`."""

    specs: tuple[FormField, ...] = ()

    def values(self) -> dict[str, Any]:
        """The typed values as the store takes them: text stripped, empty as None, ids as ints."""
        found: dict[str, Any] = {}
        for spec in self.specs:
            raw = self._fields[spec.name].data
            value = raw.strip() if isinstance(raw, str) else raw
            if value in ("", None):
                found[spec.name] = None
            elif spec.kind in ("owner", "account"):
                found[spec.name] = int(value) if str(value).isdigit() else value
            else:
                found[spec.name] = value
        return found

    def fill_choices(self, choices: dict[str, Choices]) -> None:
        """Give each select its choices: picklists by name, and "owner", "account", "stage"."""
        for spec in self.specs:
            if spec.kind in SELECTS:
                key = spec.picklist if spec.kind == "picklist" else spec.kind
                blank = [] if spec.kind in ("owner", "stage") else [("", "—")]
                found = choices.get(key or "", [])
                if spec.kind in ("picklist", "stage"):  # seeded values in the page's language, as stored otherwise
                    found = [(value, choice(label)) for value, label in found]
                self._fields[spec.name].choices = blank + found


def _field(module: str, spec: FormField) -> Field:
    label = lazy_gettext(spec.label)
    required = spec.name in registry.get(module).required
    checks: list[Any] = [DataRequired(REQUIRED)] if required else [Optional()]
    if spec.kind in SELECTS:
        return SelectField(label, validators=checks, validate_choice=False)
    if spec.kind == "textarea":
        return TextAreaField(label, validators=[*checks, Length(max=20_000, message=TOO_LONG)],
                             render_kw={"rows": 4})
    kind = {"type": INPUT_TYPES[spec.kind]} if spec.kind in INPUT_TYPES else {}
    if spec.kind == "money":
        kind = {"inputmode": "decimal"}
    return StringField(label, validators=[*checks, Length(max=255, message=TOO_LONG)], render_kw=kind)


_CLASSES: dict[tuple[str, bool], type[RecordForm]] = {}


def record_form_class(module: str, *, editing: bool = False) -> type[RecordForm]:
    """The create (or edit: no stage, which has its own form) form of a module, made once."""
    key = (module, editing)
    if key not in _CLASSES:
        specs = tuple(spec for spec in FORMS[module] if not (editing and spec.kind == "stage"))
        attrs: dict[str, Any] = {spec.name: _field(module, spec) for spec in specs}
        attrs["specs"] = specs
        _CLASSES[key] = type(f"{module.title()}{'Edit' if editing else ''}Form", (RecordForm,), attrs)
    return _CLASSES[key]


class OwnerForm(FlaskForm):
    """Give the record to another user."""

    owner_id = SelectField(lazy_gettext("Assigned to"), validate_choice=False)


class StageForm(FlaskForm):
    """Move a deal to a stage; a lost stage needs its reason."""

    stage = SelectField(lazy_gettext("Sales stage"), validate_choice=False)
    lost_reason = SelectField(lazy_gettext("Lost reason"), validate_choice=False)
    lost_reason_detail = StringField(lazy_gettext("Lost reason details"),
                                     validators=[Length(max=2000, message=TOO_LONG)])
    lost_stages: list[str] = []  # the process's lost stages: the page asks for a reason only for these


class ConfirmForm(FlaskForm):
    """A POST that only needs its CSRF token (delete after confirming, take a lead), and where to go next."""

    next = HiddenField()


class ConvertForm(FlaskForm):
    """Convert a lead: into the matching account, another new one, and maybe an opportunity."""

    account = RadioField(lazy_gettext("Account"), validate_choice=False)
    new_account_name = StringField(lazy_gettext("New account name"), validators=[Length(max=255, message=TOO_LONG)])
    with_opportunity = BooleanField(lazy_gettext("Create an opportunity too"))
    opportunity_name = StringField(lazy_gettext("Opportunity name"), validators=[Length(max=255, message=TOO_LONG)])
    amount = StringField(lazy_gettext("Amount"), render_kw={"inputmode": "decimal"})
    expected_close_date = StringField(lazy_gettext("Expected close date"), render_kw={"type": "date"})
