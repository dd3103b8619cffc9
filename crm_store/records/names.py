"""How a person's name is written: Chinese family name first and run together (林美玲), others given name first
(Mei Lin).

Emails, search results and task subjects show a name through `display_name`, so it reads the same everywhere.
"""

from __future__ import annotations

import re

# Han, kana and Hangul (and their compatibility and extension blocks): names written family name first.
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")


def display_name(first: str | None, last: str | None) -> str:
    """Return a person's name as people write it: 林美玲 for 林 + 美玲, Mei Lin for Lin + Mei."""
    first, last = (first or "").strip(), (last or "").strip()
    if CJK.search(first + last):
        return last + first
    return f"{first} {last}".strip()
