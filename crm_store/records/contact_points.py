"""Email addresses and phone numbers: checked and normalised the same way everywhere."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_store.errors import ValidationError
from crm_store.languages import N_

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
        raise ValidationError(
            field, N_("%(value)s is not a valid email address (%(reason)s)"), value=repr(raw), reason=str(exc)
        ) from None


_PLAIN_PHONE = re.compile(r"\+?[0-9][0-9 ().\-]{5,24}")
_NON_DIGITS = re.compile(r"\D")


_SHAPE_RULES: dict[tuple[str, bool, str, int], tuple[int, str] | None] = {}


def _shape_rule(region: str, plus: bool, digits: str, sample: str) -> tuple[int, str] | None:
    """Work out, from one sample number, how numbers of this shape become E.164: (digits to drop, prefix)."""
    key = (region, plus, digits[:4], len(digits))
    if key in _SHAPE_RULES:
        return _SHAPE_RULES[key]
    rule = None
    e164 = _e164(sample, region)
    if e164 is not None:
        for drop in range(0, 3):
            rest = digits[drop:]
            if e164[1:].endswith(rest):
                rule = (drop, e164[1 : len(e164) - len(rest)])
                break
    if len(_SHAPE_RULES) < 100_000:
        _SHAPE_RULES[key] = rule
    return rule


def _fast_e164(raw: str, region: str) -> str | None:
    """E.164 through a rule learnt per shape (region, +, first four digits, length); phone plans are
    prefix-based, so numbers of one shape normalise alike. Anything unusual takes the full parser."""
    if not _PLAIN_PHONE.fullmatch(raw) or "(0)" in raw:
        return _e164(raw, region)
    digits = _NON_DIGITS.sub("", raw)
    plus = raw.startswith("+")
    rule = _shape_rule(region, plus, digits, raw)
    if rule is None:
        return _e164(raw, region)
    drop, prefix = rule
    return f"+{prefix}{digits[drop:]}"


@lru_cache(maxsize=4096)
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
    e164 = _fast_e164(raw.strip(), region)
    if e164 is None:
        raise ValidationError(
            field, N_("%(value)s is not a phone number (region %(region)s)"), value=repr(raw), region=region
        )
    return e164
