"""Email addresses and phone numbers: checked and normalised the same way everywhere."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .errors import ValidationError

# The common shape of an address; anything else goes through the full RFC check.
_PLAIN_EMAIL = re.compile(r"[a-z0-9._%+-]{1,64}@(?:[a-z0-9-]{1,63}\.)+[a-z]{2,24}")


def clean_email(field: str, raw: str) -> str:
    """Return a checked email address (domain lower-cased); fail naming the field."""
    value = raw.strip()
    lowered = value.lower()
    if _PLAIN_EMAIL.fullmatch(lowered) and ".." not in lowered and not lowered.startswith("."):
        local, _, domain = value.rpartition("@")
        if not local.endswith(".") and "-." not in domain and ".-" not in domain and not domain.startswith("-"):
            return f"{local}@{domain.lower()}"
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(field, f"{raw!r} is not a valid email address ({exc})") from None


@lru_cache(maxsize=65536)
def _e164(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_e164(field: str, raw: str, region: str) -> str:
    """Return the number in E.164 (+886912345678); fail naming the field when it is not a phone number."""
    e164 = _e164(raw.strip(), region)
    if e164 is None:
        raise ValidationError(field, f"{raw!r} is not a phone number (region {region})")
    return e164
