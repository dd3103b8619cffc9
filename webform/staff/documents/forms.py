"""The upload form of a record page's Documents section."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from ..forms import TOO_LONG

FILE_FIELD = "document_file"  # the file input, drawn by the template (its errors: `DocumentForm.file_errors`)


class DocumentForm(FlaskForm):
    """A title for the file (its name when left empty); the file itself is `request.files[FILE_FIELD]`.

    Fields are named document_… beside the record page's other forms.
    """

    document_title = StringField(lazy_gettext("Title (optional)"),
                                 validators=[Optional(), Length(max=255, message=TOO_LONG)])
    file_errors: list[str] = []
