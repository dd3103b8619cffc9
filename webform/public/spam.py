"""Spam signals without captchas: a honeypot, a signed render token with a minimum fill time, links in names.

A suspected submission is answered exactly like a good one and kept in quarantine, so a bot learns
nothing; `crm forms quarantine release ID` lets a false positive through.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .forms import NAME_FIELDS, has_link

HONEYPOT = "homepage"  # a field people never see; bots that fill every input fill it
TOKEN_MAX_AGE = 24 * 3600  # a page left open for a day must be reloaded


def serializer(secret_key: str) -> URLSafeTimedSerializer:
    """The signer of render tokens (salted apart from every other signed value)."""
    return URLSafeTimedSerializer(secret_key, salt="leadline.webform.render")


def render_token(secret_key: str, public_id: str) -> str:
    """A token saying "this form was shown at this time"; the submission must carry it back."""
    return serializer(secret_key).dumps({"f": public_id})


def token_problem(
    secret_key: str, token: Any, public_id: str, min_fill_seconds: int, now: float | None = None
) -> str | None:
    """Why a render token is not acceptable, or None when it is."""
    if not isinstance(token, str) or not token:
        return "no render token"
    try:
        data, signed_at = serializer(secret_key).loads(token, max_age=TOKEN_MAX_AGE, return_timestamp=True)
    except SignatureExpired:
        return "render token expired"
    except BadSignature:
        return "render token forged"
    if not isinstance(data, dict) or data.get("f") != public_id:
        return "render token of another form"
    elapsed = (now if now is not None else time.time()) - signed_at.timestamp()
    if elapsed < min_fill_seconds:
        return f"filled in {max(elapsed, 0):.1f} s (minimum {min_fill_seconds} s)"
    return None


def key_matches(given: str | None, expected: str) -> bool:
    """Constant-time check of a form's integration key."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def content_problem(data: Mapping[str, Any], clean: Mapping[str, Any]) -> str | None:
    """Spam signals in the content: the honeypot filled in (whitespace counts), links or HTML in a name field."""
    if data.get(HONEYPOT) not in (None, ""):
        return "honeypot filled in"
    for name in sorted(NAME_FIELDS & clean.keys()):
        if has_link(str(clean[name])):
            return f"link or HTML in {name}"
    return None
