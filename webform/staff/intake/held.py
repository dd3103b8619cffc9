"""The quarantine a page at a time (newest first, keyset cursors), and why each submission was held, in words.

The spam checks (`webform/public/spam.py`) and the intake (`crm_store/capture/intake.py`) store their reason as
a short English text on the submission; `in_words` turns each known one into a sentence in the page's language.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, and_, func, or_
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.capture import quarantine
from crm_store.languages import N_
from crm_store.models import WebForm, WebSubmission
from crm_store.records.names import display_name

from ...state import page_language

PAGE_SIZE = 50
EXCERPT = 160  # characters of the visitor's message shown in the list

# Stored reason (a pattern over the whole text) -> the sentence shown; named groups fill its placeholders.
REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), message) for pattern, message in (
    (r"honeypot filled in", N_("Honeypot filled in (a field people never see, which robots fill)")),
    (r"link or HTML in (?P<field>\w+)", N_("A link or HTML in the %(field)s field")),
    (r"filled in (?P<seconds>[\d.]+) s \(minimum (?P<minimum>\d+) s\)",
     N_("Too fast: filled in %(seconds)s s (the minimum is %(minimum)s s)")),
    (r"no render token", N_("Not sent from the form's page (no form token)")),
    (r"render token expired", N_("The form's page was open for over a day (form token expired)")),
    (r"render token forged", N_("Forged form token")),
    (r"render token of another form", N_("Form token of another form")),
    (r"render token used before", N_("Sent again from the same page (form token used before)")),
    (r"could not be processed \(the error is in the log\)",
     N_("Could not be turned into a lead (the error is in the server's log)")),
    (r"could not be processed: (?P<detail>.*)", N_("Could not be turned into a lead: %(detail)s")),
))
NO_REASON = N_("No reason recorded")


def in_words(reason: str | None) -> str:
    """Why a submission was held, as a sentence in the page's language (an unknown reason as stored)."""
    if not reason:
        return gettext(NO_REASON)
    for pattern, message in REASONS:
        found = pattern.fullmatch(reason)
        if found:
            values = found.groupdict()
            if "field" in values:
                values["field"] = webforms.default_labels(page_language()).get(values["field"], values["field"])
            return gettext(message, **values)
    return reason


@dataclass(frozen=True)
class Held:
    """One held submission as the quarantine lists it: the visitor's values as they were sent."""

    id: int
    public_id: str
    form_name: str
    received_at: dt.datetime
    name: str
    email: str | None
    company: str | None
    message: str | None
    reason: str | None


@dataclass(frozen=True)
class HeldPage:
    """One page of the quarantine, with cursors to the newer and older pages (None at an end)."""

    rows: list[Held]
    newer: str | None
    older: str | None


def held_page(db: Session, form_id: int | None, cursor: str | None, size: int = PAGE_SIZE) -> HeldPage:
    """A page of held submissions, newest first: the first page, or the one a cursor points to."""
    at = _read(cursor)
    if at is None:
        rows = _fetch(db, form_id, None, size + 1, older=True)
        return HeldPage(rows[:size], None, _cursor(rows[size - 1], older=True) if len(rows) > size else None)
    moment, row_id, older = at
    rows = _fetch(db, form_id, (moment, row_id), size + 1, older=older)
    more = len(rows) > size
    rows = rows[:size]
    if not rows or (not older and not more):  # nothing left that way, or back at the newest: the first page
        return held_page(db, form_id, None, size)
    if older:
        return HeldPage(rows, _cursor(rows[0], older=False), _cursor(rows[-1], older=True) if more else None)
    rows.reverse()
    return HeldPage(rows, _cursor(rows[0], older=False), _cursor(rows[-1], older=True))


def held_count(db: Session, form_id: int | None) -> int:
    """How many submissions are held (of one form, or of all)."""
    stmt = quarantine.quarantined(form_id).order_by(None).with_only_columns(func.count(), maintain_column_froms=True)
    return int(db.scalar(stmt) or 0)


def _fetch(db: Session, form_id: int | None, after: tuple[dt.datetime, int] | None, limit: int,
           *, older: bool) -> list[Held]:
    """Held rows past `after` (older ones, or newer ones read upward), in the order they are read."""
    received, row_id = WebSubmission.received_at, WebSubmission.id
    stmt: Select[Any] = (
        quarantine.quarantined(form_id).order_by(None).add_columns(WebForm.name)
        .join(WebForm, WebForm.id == WebSubmission.form_id)
    )
    if after is not None:
        moment, last = after
        beyond: Callable[[Any, Any], Any] = (lambda a, b: a < b) if older else (lambda a, b: a > b)
        stmt = stmt.where(or_(beyond(received, moment), and_(received == moment, beyond(row_id, last))))
    stmt = stmt.order_by(received.desc(), row_id.desc()) if older else stmt.order_by(received, row_id)
    return [_held(sub, form_name) for sub, form_name in db.execute(stmt.limit(limit))]


def _held(sub: WebSubmission, form_name: str) -> Held:
    clean = sub.clean or {}
    message = str(clean.get(webforms.MESSAGE) or "").strip() or None
    if message and len(message) > EXCERPT:
        message = message[:EXCERPT].rstrip() + "…"
    name = display_name(_text(clean, "first_name"), _text(clean, "last_name"))
    return Held(sub.id, sub.public_id, form_name, sub.received_at, name, _text(clean, "email") or sub.email,
                _text(clean, "company"), message, sub.spam_reason)


def _text(values: dict[str, Any], key: str) -> str | None:
    value = values.get(key)
    return str(value) if value not in (None, "") else None


def _cursor(row: Held, *, older: bool) -> str:
    """An opaque cursor: the row's time and id, and whether the page it leads to is older or newer."""
    raw = json.dumps([row.received_at.isoformat(), row.id, older]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read(cursor: str | None) -> tuple[dt.datetime, int, bool] | None:
    """(time, id, older) from a cursor; None (the first page) for no cursor or one that is not ours."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        moment, row_id, older = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = dt.datetime.fromisoformat(moment)
    except (binascii.Error, ValueError, TypeError):
        return None
    if at.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool) or not isinstance(older, bool):
        return None
    return at, row_id, older
