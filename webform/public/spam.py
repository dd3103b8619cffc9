"""Spam signals without captchas: a honeypot, a signed render token with a minimum fill time, links in names.

A suspected submission is answered exactly like a good one and kept in quarantine, so a bot learns
nothing; `crm forms quarantine release ID` lets a false positive through.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .forms import NAME_FIELDS, has_link

HONEYPOT = "homepage"  # a field people never see; bots that fill every input fill it
TOKEN_MAX_AGE = 24 * 3600  # a page left open for a day must be reloaded


def serializer(secret_key: str) -> URLSafeTimedSerializer:
    """The signer of render tokens (salted apart from every other signed value)."""
    return URLSafeTimedSerializer(secret_key, salt="leadline.webform.render")


def render_token(secret_key: str, public_id: str) -> str:
    """A token saying "this form was shown at this time", good for one submission (its nonce is stored with it)."""
    return serializer(secret_key).dumps({"f": public_id, "n": secrets.token_urlsafe(12)})


@dataclass(frozen=True)
class TokenCheck:
    """What a submission's render token says: why it is not acceptable (None: it is), and its nonce."""

    problem: str | None
    nonce: str | None = None


def check_token(
    secret_key: str, token: Any, public_id: str, min_fill_seconds: int, now: float | None = None
) -> TokenCheck:
    """Check a render token: signed by us, for this form, not expired, the form shown long enough ago."""
    if not isinstance(token, str) or not token:
        return TokenCheck("no render token")
    try:
        data, signed_at = serializer(secret_key).loads(token, max_age=TOKEN_MAX_AGE, return_timestamp=True)
    except SignatureExpired:
        return TokenCheck("render token expired")
    except BadSignature:
        return TokenCheck("render token forged")
    if not isinstance(data, dict) or data.get("f") != public_id:
        return TokenCheck("render token of another form")
    nonce = data.get("n") if isinstance(data.get("n"), str) else None
    elapsed = (now if now is not None else time.time()) - signed_at.timestamp()
    if elapsed < min_fill_seconds:
        return TokenCheck(f"filled in {max(elapsed, 0):.1f} s (minimum {min_fill_seconds} s)", nonce)
    return TokenCheck(None, nonce)


def token_problem(
    secret_key: str, token: Any, public_id: str, min_fill_seconds: int, now: float | None = None
) -> str | None:
    """Why a render token is not acceptable, or None when it is."""
    return check_token(secret_key, token, public_id, min_fill_seconds, now).problem


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
