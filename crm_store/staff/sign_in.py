"""Signing in with email and password: a growing delay, then a lockout, per account and per network address.

After each failure the next attempt must wait 1, 2, 4, 8… seconds (up to `max_delay`); after
`lock_after` failures in a row nothing is tried for `lock_for`. Failures older than `lock_for` are
forgotten. An account counts its own failures (users.failed_sign_ins); an address — one IPv4 address or
an IPv6 /64 — counts every account's (`SignInFailure`), with more room since an office shares one.

An attempt is counted as failed *before* the password is checked (`begin`), in a short transaction,
and forgiven by `conclude` when it was right: attempts made in parallel cannot slip past the count,
and the slow hash runs outside any transaction (on SQLite a write transaction holds the database).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store.models import User, utcnow
from crm_store.models.people import SignInFailure
from crm_store.staff import passwords

# Why an attempt was refused (the web app words each one): a wrong email or password (never telling which),
# too soon after the last failure, or locked out.
WRONG, WAIT, LOCKED = "wrong", "wait", "locked"
ADDRESSES_KEPT = dt.timedelta(days=1)  # an address's count is deleted this long after its last failure


@dataclass(frozen=True)
class Throttle:
    """How failures in a row slow down, then stop, the next attempts."""

    lock_after: int
    lock_for: dt.timedelta
    max_delay: int  # seconds

    def wait(self, failures: int, last_failed_at: dt.datetime | None, locked_until: dt.datetime | None,
             now: dt.datetime) -> int:
        """Seconds before the next attempt may be made (0: now)."""
        if locked_until is not None and now < locked_until:
            return math.ceil((locked_until - now).total_seconds())
        if not failures or last_failed_at is None or self.forgotten(last_failed_at, locked_until, now):
            return 0
        delay = min(2 ** (failures - 1), self.max_delay)
        return max(0, math.ceil((last_failed_at + dt.timedelta(seconds=delay) - now).total_seconds()))

    def forgotten(self, last_failed_at: dt.datetime | None, locked_until: dt.datetime | None,
                  now: dt.datetime) -> bool:
        """Whether past failures no longer count: the lock is over, or the last one is old."""
        if locked_until is not None:
            return now >= locked_until
        return last_failed_at is None or now - last_failed_at >= self.lock_for

    def count(self, failures: int, last_failed_at: dt.datetime | None, locked_until: dt.datetime | None,
              now: dt.datetime) -> tuple[int, dt.datetime | None]:
        """The failures in a row after one more, and the lock they bring (None: not locked)."""
        failures = 1 if self.forgotten(last_failed_at, locked_until, now) else failures + 1
        return failures, (now + self.lock_for if failures >= self.lock_after else None)


ACCOUNT = Throttle(lock_after=5, lock_for=dt.timedelta(minutes=15), max_delay=8)
ADDRESS = Throttle(lock_after=20, lock_for=dt.timedelta(minutes=15), max_delay=30)


@dataclass(frozen=True)
class Attempt:
    """A sign-in under way, already counted as failed; `refusal` when it may not even be tried."""

    address: str
    user_id: int | None = None
    password_hash: str | None = field(default=None, repr=False)
    refusal: str | None = None
    wait_seconds: int = 0


@dataclass(frozen=True)
class Outcome:
    """How a sign-in ended: the user, or a refusal (`WRONG`, `WAIT`, `LOCKED`) with the seconds to wait."""

    user: User | None
    refusal: str | None = None
    wait_seconds: int = 0


def begin(session: Session, email: str, address: str, *, now: dt.datetime | None = None) -> Attempt:
    """Refuse an attempt that must wait, or count it as failed until `conclude` hears otherwise."""
    now = now or utcnow()
    session.execute(delete(SignInFailure).where(SignInFailure.last_failed_at < now - ADDRESSES_KEPT))
    place = _address_row(session, address, now)
    wait = ADDRESS.wait(place.failures, place.last_failed_at, place.locked_until, now)
    if wait:
        return _refused(address, wait, place.locked_until, now)
    user = session.scalar(select(User).where(User.email == email.strip().lower()).with_for_update())
    if user is not None:
        wait = ACCOUNT.wait(user.failed_sign_ins, user.last_failed_sign_in_at, user.locked_until, now)
        if wait:
            return _refused(address, wait, user.locked_until, now)
        user.failed_sign_ins, user.locked_until = ACCOUNT.count(
            user.failed_sign_ins, user.last_failed_sign_in_at, user.locked_until, now)
        user.last_failed_sign_in_at = now
    place.failures, place.locked_until = ADDRESS.count(place.failures, place.last_failed_at, place.locked_until, now)
    place.last_failed_at = now
    session.flush()
    if user is None:
        return Attempt(address)
    return Attempt(address, user.id, user.password_hash if user.active else None)


def check(attempt: Attempt, password: str) -> bool:
    """Whether the password is right (slow on purpose: run it outside a transaction); False for a refused attempt."""
    if attempt.refusal is not None:
        return False
    return passwords.verify_password(password, attempt.password_hash)


def conclude(session: Session, attempt: Attempt, right: bool, *, now: dt.datetime | None = None,
             password: str | None = None) -> Outcome:
    """End an attempt: forgive its count and return the user when the password was right; else the refusal.

    Given the `password`, a hash made with older parameters is made again with today's.
    """
    if attempt.refusal is not None:
        return Outcome(None, attempt.refusal, attempt.wait_seconds)
    now = now or utcnow()
    user = session.get(User, attempt.user_id, with_for_update=True) if attempt.user_id is not None else None
    if not right or user is None or not user.active:
        return _failed(session, attempt.address, user, now)
    user.failed_sign_ins = 0
    user.last_failed_sign_in_at = user.locked_until = None
    place = session.scalar(select(SignInFailure).where(SignInFailure.address == attempt.address).with_for_update())
    if place is not None:
        place.failures = max(0, place.failures - 1)
        if place.failures < ADDRESS.lock_after:
            place.locked_until = None
    if password is not None and user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.flush()
    return Outcome(user)


def sign_in(session: Session, email: str, password: str, address: str, *, now: dt.datetime | None = None) -> Outcome:
    """Begin, check and conclude a sign-in in one transaction (the web app splits them: see the module)."""
    attempt = begin(session, email, address, now=now)
    return conclude(session, attempt, check(attempt, password), now=now, password=password)


def _failed(session: Session, address: str, user: User | None, now: dt.datetime) -> Outcome:
    place = session.scalar(select(SignInFailure).where(SignInFailure.address == address))
    locks = [t for t in (user.locked_until if user else None, place.locked_until if place else None) if t]
    lock = max(locks) if locks else None
    if lock is not None and lock > now:
        return Outcome(None, LOCKED, math.ceil((lock - now).total_seconds()))
    return Outcome(None, WRONG)


def _refused(address: str, wait: int, locked_until: dt.datetime | None, now: dt.datetime) -> Attempt:
    locked = locked_until is not None and now < locked_until
    return Attempt(address, refusal=LOCKED if locked else WAIT, wait_seconds=wait)


def _address_row(session: Session, address: str, now: dt.datetime) -> SignInFailure:
    """The address's count, created at zero if new, locked for this transaction."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(SignInFailure.__table__)
        .values(address=address, failures=0, last_failed_at=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=["address"])
    )
    place = session.scalar(select(SignInFailure).where(SignInFailure.address == address).with_for_update())
    if place is None:
        raise RuntimeError(f"no sign_in_failures row for {address!r} after inserting it")
    return place
