"""Text a database can store: valid Unicode, which a lone surrogate is not.

JSON may carry half of a surrogate pair (`"\\ud800"`) and Python decodes it to a `str` that UTF-8
cannot encode, so the database driver (and any output) fails on it. Such text is found here, before
it is stored or acted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def storable(value: Any) -> bool:
    """Whether every string in `value` (mapping keys and items at any depth) can be encoded as UTF-8."""
    pending = [value]  # walked without recursion: how deep a value may nest is the caller's rule
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodes(item):
                return False
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return True


def unstorable_keys(data: Mapping[str, Any]) -> list[str]:
    """The keys of `data` whose key or value holds text that cannot be stored, in order."""
    return [key for key, value in data.items() if not (storable(key) and storable(value))]


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
