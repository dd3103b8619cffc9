"""What staff forms share: the store's errors put beside their fields, the choices of common pickers.

Forms are Flask-WTF `FlaskForm`s (each carries its CSRF token); labels and messages are `lazy_gettext`
so they are translated when the page is drawn. Render a field with `{{ ui.field(form.name) }}` from
`staff/_macros.html`: label, input, hint and errors beside the field, with the ARIA wiring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext

from crm_store import languages
from crm_store.errors import ValidationError

from ..state import page_language

TOO_LONG = lazy_gettext("Use at most %(max)d characters.")  # WTForms' Length fills in max


def place_error(form: Any, exc: ValidationError, aliases: Mapping[str, str] | None = None) -> None:
    """Show a store error beside the form field it names (`aliases`: store field -> form field), else atop the form."""
    name = (aliases or {}).get(exc.field, exc.field)
    message = store_message(exc)
    field = form._fields.get(name)
    if field is None:
        form.form_errors.append(message)
    else:
        field.errors = [*field.errors, message]


def store_message(exc: ValidationError) -> str:
    """A store error in the page's language, its values filled in (as written when the catalogue lacks it)."""
    return exc.in_language(page_language())


def language_choices() -> list[tuple[str, str]]:
    """The languages to pick from, each named in its own words (English, 繁體中文)."""
    return [(code, language.name) for code, language in languages.LANGUAGES.items()]
