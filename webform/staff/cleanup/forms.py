"""The cleanup area's forms: a merge (which record survives, and each differing field's value from which record),
and the POSTs that only need their CSRF token (undo a merge, restore, purge)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import RadioField

CHOOSE_VALUE = lazy_gettext("Choose which record's value to keep.")
CHOOSE_SURVIVOR = lazy_gettext("Choose the record to keep.")
TAKE = "take_"  # a field's radio group is named take_<column>: the form's own names stay clear of the columns


class MergeForm(FlaskForm):
    """Merge 2–3 records: `survivor` and one radio group per differing field (subclasses made by `merge_form_class`)."""

    survivor = RadioField(lazy_gettext("Record to keep"), invalid_choice_message=CHOOSE_SURVIVOR)
    fields: tuple[str, ...] = ()  # the columns offered, in the page's order

    def take_field(self, column: str) -> Any:
        """The radio group of a column."""
        return self._fields[TAKE + column]

    def chosen(self) -> dict[str, int]:
        """Column -> the id of the record whose value is chosen."""
        return {column: int(self.take_field(column).data) for column in self.fields}


def merge_form_class(columns: Sequence[str]) -> type[MergeForm]:
    """A merge form with a radio group for each of these columns."""
    attrs: dict[str, Any] = {TAKE + column: RadioField(invalid_choice_message=CHOOSE_VALUE) for column in columns}
    attrs["fields"] = tuple(columns)
    return type("MergeFieldsForm", (MergeForm,), attrs)


class ActionForm(FlaskForm):
    """A POST that needs only its CSRF token: undo a merge, restore a record, purge one for good."""
