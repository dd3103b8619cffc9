"""Reading a submission a stranger sent: JSON of bounded depth with finite numbers, and text that can be stored.

Python's JSON parser recurses once per level, so a 64 KB body of brackets would end in RecursionError;
the depth is counted first, in one pass over the bytes. NaN and Infinity (or 1e400) are not JSON and
no JSON column takes them back. A lone surrogate (`"\\ud800"`) is valid JSON but not storable text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from crm_store.capture.storable import unstorable_keys

MAX_DEPTH = 8  # a submission is an object of strings and one `_first_touch` object: two levels
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


class Unreadable(ValueError):
    """A body that is not a JSON document this API reads; the message says why, for the `_body` error."""


def load(body: bytes) -> Any:
    """Parse a JSON body; raise Unreadable when it is broken, nested too deeply or holds a non-finite number."""
    if too_deep(body, MAX_DEPTH):
        raise Unreadable(f"is nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(body, parse_constant=_refuse, parse_float=_finite)
    except Unreadable:
        raise
    except ValueError:  # broken JSON, bytes that are not UTF-8, an integer of thousands of digits
        raise Unreadable("is not a JSON object") from None


def too_deep(body: bytes, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels in a JSON text (brackets in strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:  # a usual submission: nothing to walk
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSE:
            depth -= 1
    return False


def unstorable_fields(data: Mapping[str, Any]) -> list[str]:
    """The submitted fields holding text that cannot be stored, each named so that an answer can carry it."""
    return [key.encode("utf-8", "backslashreplace").decode("utf-8") for key in unstorable_keys(data)]


def _refuse(constant: str) -> Any:
    raise Unreadable(f"holds {constant}, which is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise Unreadable(f"holds {text}, a number too large to keep")
    return number
