"""Staff passwords: scrypt hashes, the rules a new password meets, setting and changing one.

A hash is stored as `scrypt$ln=15,r=8,p=1$<salt>$<key>` (base64 without padding), so the cost can be
raised later: `needs_rehash` tells a hash made with older parameters, and signing in rehashes it.
Setting a password ends every other session (they carry `fingerprint(hash)`) and every reset link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import User

SCHEME = "scrypt"
COST_LOG2 = 15  # N = 2**15 with r = 8: 32 MiB and about a third of a second per hash on a small server
BLOCK_SIZE = 8
PARALLELISM = 1
KEY_BYTES = 32
SALT_BYTES = 16
MIN_LENGTH = 10
MAX_LENGTH = 200

TOO_SHORT = N_("Use at least 10 characters.")
TOO_LONG = N_("Use at most 200 characters.")
SAME_AS_EMAIL = N_("Do not use your email address as your password.")
ONE_CHARACTER = N_("Use more than one different character.")
NOT_REPEATED = N_("The two passwords are not the same.")
WRONG_CURRENT = N_("This is not your current password.")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, cost_log2: int, block_size: int, parallelism: int) -> bytes:
    n = 2**cost_log2
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=block_size, p=parallelism, dklen=KEY_BYTES,
        maxmem=256 * n * block_size * parallelism,  # twice what scrypt needs: OpenSSL's default is too small
    )


def hash_password(password: str) -> str:
    """Return the stored form of a password: scheme, parameters, a fresh salt and the derived key."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, COST_LOG2, BLOCK_SIZE, PARALLELISM)
    return f"{SCHEME}$ln={COST_LOG2},r={BLOCK_SIZE},p={PARALLELISM}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[dict[str, int], bytes, bytes] | None:
    try:
        scheme, params, salt, key = stored.split("$")
        values = {name: int(value) for name, value in (p.split("=") for p in params.split(","))}
        if scheme != SCHEME or set(values) != {"ln", "r", "p"}:
            return None
        return values, _unb64(salt), _unb64(key)
    except (ValueError, TypeError):
        return None


@cache
def _dummy() -> tuple[dict[str, int], bytes, bytes]:
    """A hash of a random password, to spend the same time on a user who has none (or does not exist)."""
    parsed = _parse(hash_password(secrets.token_urlsafe(16)))
    if parsed is None:
        raise RuntimeError("a fresh hash did not parse")
    return parsed


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` is the one `stored` was made from; as slow for no hash (an unknown user) as for one."""
    parsed = _parse(stored) if stored else None
    params, salt, key = parsed if parsed is not None else _dummy()
    derived = _derive(password, salt, params["ln"], params["r"], params["p"])
    return hmac.compare_digest(derived, key) and parsed is not None


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with other parameters than today's (rehash it at the next sign-in)."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != {"ln": COST_LOG2, "r": BLOCK_SIZE, "p": PARALLELISM}


def fingerprint(password_hash: str | None) -> str:
    """A short digest of a user's password hash: sessions and reset links carry it, and die when it changes."""
    if not password_hash:
        return "none"
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def check_new_password(user: User, password: str, repeated: str | None = None) -> None:
    """Fail naming the field when a new password breaks a rule (length, not the email, typed the same twice)."""
    if len(password) < MIN_LENGTH:
        raise ValidationError("password", TOO_SHORT)
    if len(password) > MAX_LENGTH:
        raise ValidationError("password", TOO_LONG)
    if password.strip().lower() == user.email.lower():
        raise ValidationError("password", SAME_AS_EMAIL)
    if len(set(password)) == 1:
        raise ValidationError("password", ONE_CHARACTER)
    if repeated is not None and repeated != password:
        raise ValidationError("password_again", NOT_REPEATED)


def set_password(session: Session, user: User, password: str, repeated: str | None = None) -> None:
    """Give a user a new password (checked first); it also lifts a lock from failed sign-ins."""
    check_new_password(user, password, repeated)
    user.password_hash = hash_password(password)
    user.failed_sign_ins = 0
    user.last_failed_sign_in_at = user.locked_until = None
    session.flush()


def change_password(session: Session, user: User, current: str, password: str, repeated: str | None = None) -> None:
    """Change a signed-in user's password: the current one first, then the new one's rules."""
    if not verify_password(current, user.password_hash):
        raise ValidationError("current_password", WRONG_CURRENT)
    set_password(session, user, password, repeated)
