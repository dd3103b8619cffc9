"""Check what a visitor typed with WTForms: one `VisitorForm` class per web-form definition.

Errors are keyed by field name and written in the page's language. Values come back cleaned:
control characters stripped, surrounding space trimmed, nothing ever shortened (an oversized
value is an error, not a truncation). The form is a plain WTForms `Form`, not a `FlaskForm`: it
reads JSON as well as posted fields, and the public pages carry a signed render token, not a CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from flask_babel import gettext
from werkzeug.datastructures import MultiDict
from wtforms import (
    Form,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import ValidationError as FieldError

from crm_store.capture.forms import MESSAGE
from crm_store.errors import ValidationError
from crm_store.records.contact_points import clean_email, to_e164

from . import messages

NAME_FIELDS = frozenset({"first_name", "last_name", "company", "designation", "salutation"})
_LINK = re.compile(r"(https?://|www\.|<[a-z/!]|\[url|&lt;|\.(com|net|org|ru|cn|xyz|top)\b/)", re.IGNORECASE)
_URL = re.compile(r"(https?://)?[^\s<>\"']+\.[^\s<>\"']+")
_WEB = re.compile(r"https?://", re.IGNORECASE)
# Unicode's control characters (category Cc) are exactly U+0000-U+001F and U+007F-U+009F.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n
_SCHEME = re.compile(r"[a-z][a-z0-9+\-.]*:", re.IGNORECASE)  # javascript:, ftp:, mailto:, … (or host: of host:port)


def strip_controls(value: str, *, multiline: bool) -> str:
    """Remove control characters; keep line breaks and tabs only where several lines are allowed."""
    if multiline:
        return _CONTROLS_BUT_LINES.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROLS.sub("", value)


def web_address(value: str) -> str | None:
    """`value` as an http(s) address (a bare `www.example.com` gets `https://` in front), or None if it is not one."""
    if not _WEB.match(value):
        scheme = _SCHEME.match(value)
        if scheme and "." not in scheme[0]:  # a scheme of its own; `example.com:8080` is a host and port
            return None
        value = f"https://{value}"
    parts = urlsplit(value)
    try:
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        return None
    host = parts.hostname or ""
    if not _URL.fullmatch(value) or "." not in host.strip("."):
        return None
    return value


def has_link(value: str) -> bool:
    """Whether a name-like value carries a link or markup (a strong spam signal)."""
    return bool(_LINK.search(value))


class FieldCheck:
    """The WTForms validator of one field of a web form."""

    def __init__(self, spec: dict[str, Any], phone_region: str) -> None:
        self.spec, self.region = spec, phone_region

    def __call__(self, form: Form, field: Any) -> None:
        """Clean the field's value in place; raise the error a visitor reads when it is not acceptable."""
        spec = self.spec
        raw = field.data if isinstance(field.data, str) else ("" if field.data is None else str(field.data))
        multiline = spec["type"] == "textarea"
        if not multiline and ("\n" in raw or "\r" in raw):
            raise FieldError(gettext(messages.ONE_LINE))
        value = strip_controls(raw, multiline=multiline).strip()
        field.data = value or None
        if not value:
            if spec["required"]:
                raise FieldError(gettext(messages.REQUIRED))
            return
        limit = spec.get("max_length")
        if limit is not None and len(value) > limit:
            raise FieldError(gettext(messages.TOO_LONG, max=limit))
        value = self._kind(value)
        if limit is not None and len(value) > limit:  # a bare web address grew by its https://
            raise FieldError(gettext(messages.TOO_LONG, max=limit))
        field.data = value

    def _kind(self, value: str) -> str:
        """The value checked against its field's type (an email address comes back normalised)."""
        kind, name = self.spec["type"], self.spec["name"]
        try:
            if kind == "email":
                return clean_email(name, value)
            if kind == "tel":
                to_e164(name, value, self.region)
        except ValidationError:
            problem = messages.EMAIL if kind == "email" else messages.PHONE
            raise FieldError(gettext(problem)) from None
        if kind == "number" and not re.fullmatch(r"[0-9]{1,12}", value.replace(",", "")):
            raise FieldError(gettext(messages.NUMBER))
        if kind == "url":
            address = web_address(value)
            if address is None:
                raise FieldError(gettext(messages.URL))
            return address
        if kind == "select" and value not in (self.spec.get("choices") or []):
            raise FieldError(gettext(messages.CHOICE))
        return value


class VisitorForm(Form):
    """What a visitor typed into a web form; `visitor_form` makes the class of each form definition."""

    definition: ClassVar[list[dict[str, Any]]] = []

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Validate submitted data; return (clean values, errors by field)."""
        formdata: MultiDict[str, str] = MultiDict()
        for spec in cls.definition:
            value = data.get(spec["name"])
            if isinstance(value, (list, dict)):
                value = None
            formdata.add(spec["name"], "" if value is None else str(value))
        form = cls(formdata=formdata)
        form.validate()
        errors = {name: list(errs) for name, errs in form.errors.items() if errs}
        clean = {spec["name"]: form[spec["name"]].data for spec in cls.definition if spec["name"] not in errors}
        if MESSAGE in clean and clean[MESSAGE] is None:
            clean.pop(MESSAGE)
        return {k: v for k, v in clean.items() if v is not None}, errors


def visitor_form(fields: list[dict[str, Any]], phone_region: str) -> type[VisitorForm]:
    """Return the VisitorForm class of a form definition (built per definition, cached by the caller)."""
    attrs: dict[str, Any] = {"definition": fields}
    for spec in fields:
        attrs[spec["name"]] = _field(spec, FieldCheck(spec, phone_region))
    return type("VisitorForm", (VisitorForm,), attrs)


def _field(spec: dict[str, Any], check: FieldCheck) -> Any:
    if spec["type"] == "textarea":
        return TextAreaField(spec["label"], validators=[check])
    if spec["type"] == "select":
        choices = [SelectChoice(value="", label="")]
        choices += [SelectChoice(value=c, label=c) for c in spec.get("choices") or []]
        return SelectField(spec["label"], choices=choices, validators=[check], validate_choice=False)
    return StringField(spec["label"], validators=[check])
