"""The board's forms: move a card to a stage (a lost stage needs its reason), and the filters."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from ..forms import TOO_LONG


class MoveForm(FlaskForm):
    """Move a deal to a stage (each card's menu posts `stage` from the button pressed); `next`: the board."""

    stage = HiddenField()
    lost_reason = SelectField(lazy_gettext("Lost reason"), validate_choice=False)
    lost_reason_detail = StringField(lazy_gettext("Lost reason details"),
                                     validators=[Length(max=2000, message=TOO_LONG)])
    next = HiddenField()

    def stage_id(self) -> int | None:
        """The stage asked for, as an id (None: not one)."""
        raw = (self.stage.data or "").strip()
        return int(raw) if raw.isdigit() else None


def filter_values(args: Any, user_id: int) -> dict[str, int | None]:
    """The board's query as ids: process, owner ("me" is the user) and team; anything else is no filter."""
    def number(key: str) -> int | None:
        raw = str(args.get(key, ""))
        return int(raw) if raw.isdigit() else None

    owner = user_id if args.get("owner") == "me" else number("owner")
    return {"process": number("process"), "owner": owner, "team": number("team")}
