"""Search terms and the text they are matched against: normalising, and cutting into grams."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from crm_store.records import registry
from crm_store.records.names import CJK, display_name

MIN_TERM = 2
MIN_PHONE_DIGITS = 4
SEP = "\n"  # between the pieces of a body; a term's whitespace is collapsed, so no term holds it


PHONE_TERM = re.compile(r"\+?[\d\s().\-]+")
_CONTROL = {c: None for c in range(32)} | {0x7F: None}


# -- normalising ------------------------------------------------------------------------------------------

def normalise(value: str) -> str:
    """Return text as the index holds it: NFKC, lower case, single spaces, no control characters."""
    value = " ".join(unicodedata.normalize("NFKC", value).lower().split())
    return value if value.isprintable() else value.translate(_CONTROL)


def national_digits(e164: str) -> str:
    """Return a number as dialled at home, with a trunk 0 for every country: +886912345678 -> 0912345678."""
    digits = e164.lstrip("+")
    for size in (1, 2, 3):
        if digits[:size].isdigit() and int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
            return "0" + digits[size:]
    return digits


def person_name(first: str | None, last: str) -> tuple[str, list[str]]:
    """Return a person's display name and the orders it is searched in (a Chinese name only as written)."""
    shown = display_name(first, last)
    first = (first or "").strip()
    if not first or CJK.search(first + last):
        return shown, [shown]
    return shown, [shown, f"{last.strip()} {first}"]


@dataclass(frozen=True)
class Term:
    """A search term, normalised, and what else it may be: phone digits, a record number."""

    text: str
    digits: str | None = None
    number: str | None = None

    @classmethod
    def parse(cls, raw: str) -> Term | None:
        """Normalise a typed term; None when it is shorter than two characters (but one Chinese character will do)."""
        value = normalise(raw)
        if len(value) < MIN_TERM and not is_one_cjk(value):
            return None
        digits = None
        if PHONE_TERM.fullmatch(value):
            digits = re.sub(r"\D", "", value)
            digits = national_digits(digits) if value.startswith("+") else digits
            digits = digits if len(digits) >= MIN_PHONE_DIGITS else None
        module = registry.by_number(value)
        number = value.upper() if module is not None and module.searchable is not None else None
        return cls(value, digits, number)


def is_one_cjk(value: str) -> bool:
    """Whether a term is one Chinese (Japanese, Korean) character: a family name such as 王 is found by it."""
    return len(value) == 1 and CJK.match(value) is not None


def text_grams(body: str) -> set[str]:
    """Every trigram of each piece, each piece's last two characters, and a piece of one Chinese character.

    A one-character term is answered by the grams it begins, as a two-character one is; a name that is a
    single character (王) has no longer gram, so it is its own.
    """
    pieces = body.split(SEP)
    return {piece[i : i + 3] for piece in pieces for i in range(len(piece) - 1)} | {
        piece for piece in pieces if is_one_cjk(piece)}


def phone_grams(phones: str) -> set[int]:
    """Every four consecutive digits of each phone number, as a number."""
    return {int(p[i : i + 4]) for p in phones.split(SEP) for i in range(len(p) - 3)}
