"""One-line text: what a name, a setting or anything that may end up in a mail header can hold."""

from __future__ import annotations

import unicodedata

from crm_store.errors import ValidationError
from crm_store.languages import N_

# Control, format (bidi overrides, zero-width spaces), surrogate and private-use characters, and the
# Unicode line and paragraph separators: they break a header, or hide and reorder what is shown.
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
# The zero-width (non-)joiners are format characters that Persian, Indic scripts and emoji need.
_JOINERS = frozenset("\u200c\u200d")


def control_character(text: str) -> str | None:
    """Return the first line break or other control character in `text`, or None."""
    if text.isprintable():
        return None
    return next((c for c in text if c not in _JOINERS and unicodedata.category(c) in _REFUSED), None)


def one_line(field: str, text: str) -> str:
    """Return `text`; fail naming the field when it holds a line break or another control character."""
    found = control_character(text)
    if found is not None:
        raise ValidationError(
            field, N_("must be one line without control characters (found %(character)s)"),
            character=f"U+{ord(found):04X}",
        )
    return text
