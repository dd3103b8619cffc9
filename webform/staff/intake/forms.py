"""The forms of the quarantine: Release and Discard are buttons that post (the CSRF token, and where to return)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField


class HeldActionForm(FlaskForm):
    """Release or discard one held submission; `next` is the quarantine page to return to (its filter and page)."""

    next = HiddenField()
