"""Errors the store raises for callers (CLI, web, flows) to show to a person."""

from __future__ import annotations

from typing import Any


class CrmError(Exception):
    """A problem a user can fix; shown as one line, never as a traceback."""


class ValidationError(CrmError):
    """A value that breaks a rule; names the field it is about.

    `message` is an English template marked with `N_` (so the catalogue has it) whose `%(name)s`
    placeholders are filled from `values`: `ValidationError("amount", N_("%(value)s is not a number"),
    value=repr(raw))`. `exc.message` is the English text; `exc.in_language(code)` the text in a language.
    """

    def __init__(self, field: str, message: str, /, *, row: int | None = None, **values: Any) -> None:
        self.field = field
        self.template = message
        self.values = values
        self.row = row
        self.message = _filled(message, message, values)
        where = f"row {row}: " if row is not None else ""
        super().__init__(f"{where}{field}: {self.message}")

    def in_language(self, code: str) -> str:
        """Return the message in a language (as English when the catalogue does not have it)."""
        from crm_store import languages  # imported here: this module is imported before everything else

        return _filled(languages.translations(code).gettext(self.template), self.message, self.values)

    def at_row(self, row: int | None) -> ValidationError:
        """The same error placed at a row of a load (its template and values kept, so it still translates)."""
        return ValidationError(self.field, self.template, row=row, **self.values)


def _filled(text: str, fallback: str, values: dict[str, Any]) -> str:
    """Fill a template's placeholders; a text without values is shown as written (a `%` in it is no placeholder)."""
    if not values:
        return text
    try:
        return text % values
    except (KeyError, TypeError, ValueError):  # a template that does not fit its values: never hide the error itself
        return fallback


class NotFound(CrmError):
    """A record, user or setting that does not exist."""
