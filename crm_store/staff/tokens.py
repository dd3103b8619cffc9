"""Signed, expiring tokens for links in emails (set a password, reset it): nothing stored, signed at delivery."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any

from crm_store.errors import CrmError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, purpose: str, subject: str, expires_at: dt.datetime) -> str:
    """Sign `subject` for one purpose until `expires_at`."""
    payload = f"{purpose}|{subject}|{int(expires_at.timestamp())}".encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:20]
    return f"{_b64(payload)}.{_b64(mac)}"


def verify_token(secret: str, purpose: str, token: str, now: dt.datetime) -> str:
    """Return the signed subject; fail when the token is forged, for another purpose or expired."""
    try:
        payload_b64, mac_b64 = token.split(".", 1)
        payload = _unb64(payload_b64)
        good = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:20]
        if not hmac.compare_digest(good, _unb64(mac_b64)):
            raise ValueError
        got_purpose, subject, expiry = payload.decode().split("|")
    except (ValueError, UnicodeDecodeError):
        raise CrmError("the link is not valid") from None
    if got_purpose != purpose:
        raise CrmError("the link is not valid")
    if now.timestamp() > int(expiry):
        raise CrmError("the link has expired; ask for a new one")
    return subject


SIGN_LATER = "$signed"  # the key of a placeholder in a message's context


def sign_later(purpose: str, subject: str, expires_at: dt.datetime) -> dict[str, Any]:
    """A placeholder for a token the mail worker signs as it delivers the message.

    The outbox row (readable by anyone who can read the database) then holds no working link; the
    worker has the secret key and fills the token in with `sign_placeholders`.
    """
    return {SIGN_LATER: {"purpose": purpose, "subject": subject, "expires_at": expires_at.isoformat()}}


def sign_placeholders(value: Any, secret: str) -> Any:
    """Return a message's context with every `sign_later` placeholder replaced by its signed token."""
    if isinstance(value, dict):
        if set(value) == {SIGN_LATER}:
            spec = value[SIGN_LATER]
            return make_token(secret, spec["purpose"], spec["subject"], dt.datetime.fromisoformat(spec["expires_at"]))
        return {k: sign_placeholders(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [sign_placeholders(v, secret) for v in value]
    return value
