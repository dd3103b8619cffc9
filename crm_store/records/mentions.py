"""How a person is written down — names, addresses, phone numbers — and text with those taken out.

An erase blanks the fields that hold a person; where they are only mentioned inside other text (a task
"Reply to the web inquiry from 林小華", an account named after them) the mention alone goes, replaced by
"[erased]", and the rest of the text stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import phonenumbers

from crm_store.records.names import display_name
from crm_store.records.validation import EMAIL_FIELDS, PHONE_FIELDS

ERASED = "[erased]"
MIN_LENGTH = 2  # a one-character surname (林) is part of too many other words to be taken out alone
_E164_FIELDS = ("phone_e164", "mobile_e164")


class Mentions:
    """The ways one person is written: found in text, or taken out of it."""

    def __init__(self) -> None:
        self.values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add_record(self, record: Any) -> None:
        """Add the names, addresses and numbers a person's record holds."""
        get = lambda name: getattr(record, name, None)  # noqa: E731 - modules have different columns
        first, last = get("first_name"), get("last_name")
        if first or last:
            self.add(display_name(first, last), first, last, f"{last or ''}{first or ''}",
                     f"{first or ''} {last or ''}", f"{last or ''} {first or ''}")
        self.add(*(get(name) for name in EMAIL_FIELDS))
        self.add(*(get(name) for name in PHONE_FIELDS))
        for name in _E164_FIELDS:
            self.add(*phone_forms(get(name)))

    def add(self, *values: str | None) -> None:
        """Add values as they are written (blank and one-character ones are left out)."""
        for value in values:
            text = (value or "").strip()
            if len(text) >= MIN_LENGTH and text != ERASED:
                self.values.add(text)
                self._pattern = None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """One expression matching any value, longest first, whole words where a value starts or ends one."""
        if self._pattern is None and self.values:
            parts = [_alternative(v) for v in sorted(self.values, key=lambda v: (-len(v), v))]
            self._pattern = re.compile("|".join(parts), re.IGNORECASE)
        return self._pattern

    def found_in(self, text: str | None) -> bool:
        """Whether text mentions the person."""
        return bool(text) and self.pattern is not None and self.pattern.search(text or "") is not None

    def scrub(self, text: str | None) -> str | None:
        """Return the text with every mention of the person replaced by "[erased]"."""
        if not text or self.pattern is None:
            return text
        return self.pattern.sub(ERASED, text)

    def scrub_all(self, values: Iterable[Any]) -> list[Any]:
        """Scrub each text of a list (an audit entry's [old, new]); other values stay."""
        return [self.scrub(v) if isinstance(v, str) else v for v in values]


def phone_forms(e164: str | None) -> list[str]:
    """A number as people write it: +886912345678, +886 912 345 678, 0912 345 678, 0912345678."""
    if not e164:
        return []
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    formats = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
               phonenumbers.PhoneNumberFormat.NATIONAL)
    written = [phonenumbers.format_number(number, f) for f in formats]
    return [e164, *written, re.sub(r"\D", "", written[-1])]


def _alternative(value: str) -> str:
    before = r"(?<![0-9A-Za-z])" if value[0].isascii() and value[0].isalnum() else ""
    after = r"(?![0-9A-Za-z])" if value[-1].isascii() and value[-1].isalnum() else ""
    return before + re.escape(value) + after
