"""The emailed links that choose a password: the welcome link (the first one) and the reset link.

Both are signed tokens (`crm_store.staff.tokens`) filled in by the mail worker at delivery. Each works
once: the welcome link only while the user has no password yet, the reset link only while the password
is the one it was sent for (its subject carries `passwords.fingerprint` of the hash).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import CrmError
from crm_store.languages import N_
from crm_store.mail import outbox
from crm_store.models import User, utcnow
from crm_store.settings import company
from crm_store.staff.passwords import fingerprint
from crm_store.staff.tokens import sign_later, verify_token

WELCOME = "set_password"  # the welcome email's token purpose (`users.queue_welcome`)
RESET = "reset_password"
RESET_VALID = dt.timedelta(hours=1)
RESET_EVERY = dt.timedelta(minutes=10)  # at most one reset email per user in this long, however often asked
INVALID_LINK = N_("This link is not valid, or it has already been used.")
EXPIRED_LINK = N_("This link has expired. Ask for a new one.")
_LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class LinkRefused(CrmError):
    """A set-password or reset link that does not (or no longer) work; `message` is shown translated."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def queue_reset(session: Session, email: str, *, now: dt.datetime | None = None) -> bool:
    """Queue a reset link to an active user with this email; False when there is none (callers say the same)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower(), User.active))
    if user is None:
        return False
    now = now or utcnow()
    expires = now + RESET_VALID
    stamp = fingerprint(user.password_hash)
    window = int(now.timestamp() // RESET_EVERY.total_seconds())
    outbox.enqueue(
        session, "password_reset", user.email, key=f"password_reset:{user.id}:{stamp}:{window}",
        language=user.language, recipient_name=user.name, to_staff=True,
        context={"recipient_name": user.name, "token": sign_later(RESET, f"{user.id}.{stamp}", expires),
                 "expires_at": company.show_time(expires, company.zone_for(session, user))},
    )
    return True


def welcome_user(session: Session, secret: str, token: str, *, now: dt.datetime | None = None) -> User:
    """The active user a welcome link is for, while they have no password; else LinkRefused."""
    subject = _subject(secret, WELCOME, token, now or utcnow())
    user = session.get(User, int(subject)) if subject.isdigit() else None
    if user is None or not user.active or user.password_hash:
        raise LinkRefused(INVALID_LINK)
    return user


def reset_user(session: Session, secret: str, token: str, *, now: dt.datetime | None = None) -> User:
    """The active user a reset link is for, while their password is unchanged since it was sent; else LinkRefused."""
    user_id, _, stamp = _subject(secret, RESET, token, now or utcnow()).partition(".")
    user = session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or stamp != fingerprint(user.password_hash):
        raise LinkRefused(INVALID_LINK)
    return user


def _subject(secret: str, purpose: str, token: str, now: dt.datetime) -> str:
    """The token's subject; LinkRefused telling an expired link (genuine, but late) from a bad one."""
    try:
        return verify_token(secret, purpose, token, now)
    except CrmError:
        pass
    try:
        verify_token(secret, purpose, token, _LONG_AGO)
    except CrmError:
        raise LinkRefused(INVALID_LINK) from None
    raise LinkRefused(EXPIRED_LINK)
