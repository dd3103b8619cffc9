"""Signed, expiring tokens for links in emails (set a password, reset it): nothing stored."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

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
