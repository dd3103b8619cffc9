"""Check what a visitor typed with WTForms: one form class per web-form definition.

Errors are keyed by field name and written in the form's language. Values come back cleaned:
control characters stripped, surrounding space trimmed, nothing ever shortened (an oversized
value is an error, not a truncation).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError as WTFValidationError

from crm_store.capture.forms import MESSAGE
from crm_store.errors import ValidationError
from crm_store.records.contact_points import clean_email, to_e164

from .i18n import text

NAME_FIELDS = frozenset({"first_name", "last_name", "company", "designation", "salutation"})
_LINK = re.compile(r"(https?://|www\.|<[a-z/!]|\[url|&lt;|\.(com|net|org|ru|cn|xyz|top)\b/)", re.IGNORECASE)


def strip_controls(value: str, *, multiline: bool) -> str:
    """Remove control characters; keep line breaks and tabs only where several lines are allowed."""
    value = value.replace("\r\n", "\n").replace("\r", "\n") if multiline else value
    keep = {"\n", "\t"} if multiline else set()
    return "".join(c for c in value if c in keep or unicodedata.category(c) != "Cc")


def has_link(value: str) -> bool:
    """Whether a name-like value carries a link or markup (a strong spam signal)."""
    return bool(_LINK.search(value))


class _Check:
    """A WTForms validator for one field of a web form."""

    def __init__(self, spec: dict[str, Any], language: str, phone_region: str) -> None:
        self.spec, self.language, self.region = spec, language, phone_region

    def __call__(self, form: Form, field: Any) -> None:
        spec, lang = self.spec, self.language
        raw = field.data if isinstance(field.data, str) else ("" if field.data is None else str(field.data))
        multiline = spec["type"] == "textarea"
        if not multiline and ("\n" in raw or "\r" in raw):
            raise WTFValidationError(text(lang, "one_line"))
        value = strip_controls(raw, multiline=multiline).strip()
        field.data = value or None
        if not value:
            if spec["required"]:
                raise WTFValidationError(text(lang, "required"))
            return
        limit = spec.get("max_length")
        if limit is not None and len(value) > limit:
            raise WTFValidationError(text(lang, "too_long", max=limit))
        kind = spec["type"]
        try:
            if kind == "email":
                field.data = clean_email(spec["name"], value)
            elif kind == "tel":
                to_e164(spec["name"], value, self.region)
            elif kind == "number" and not re.fullmatch(r"[0-9]{1,12}", value.replace(",", "")):
                raise WTFValidationError(text(lang, "number"))
            elif kind == "url" and not re.fullmatch(r"(https?://)?[^\s<>\"']+\.[^\s<>\"']+", value):
                raise WTFValidationError(text(lang, "url"))
        except ValidationError:
            raise WTFValidationError(text(lang, "email" if kind == "email" else "phone")) from None
        if kind == "select" and value not in (spec.get("choices") or []):
            raise WTFValidationError(text(lang, "choice"))


def form_class(fields: list[dict[str, Any]], language: str, phone_region: str) -> type[Form]:
    """A WTForms class for a form definition (built per definition, cached by the caller)."""
    attrs: dict[str, Any] = {}
    for spec in fields:
        check = _Check(spec, language, phone_region)
        if spec["type"] == "textarea":
            attrs[spec["name"]] = TextAreaField(spec["label"], validators=[check])
        elif spec["type"] == "select":
            choices = [SelectChoice(value="", label="")] + [SelectChoice(value=c, label=c) for c in spec.get("choices") or []]
            attrs[spec["name"]] = SelectField(spec["label"], choices=choices, validators=[check], validate_choice=False)
        else:
            attrs[spec["name"]] = StringField(spec["label"], validators=[check])
    return type("VisitorForm", (Form,), attrs)


def check(
    cls: type[Form], fields: list[dict[str, Any]], data: Mapping[str, Any], language: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate submitted data; return (clean values, errors by field)."""
    formdata = MultiDict()
    for spec in fields:
        value = data.get(spec["name"])
        if isinstance(value, (list, dict)):
            value = None
        formdata.add(spec["name"], "" if value is None else str(value))
    form = cls(formdata=formdata)
    form.validate()
    errors = {name: list(errs) for name, errs in form.errors.items() if errs}
    clean = {spec["name"]: form[spec["name"]].data for spec in fields if spec["name"] not in errors}
    if MESSAGE in clean and clean[MESSAGE] is None:
        clean.pop(MESSAGE)
    return {k: v for k, v in clean.items() if v is not None}, errors
