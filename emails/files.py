"""The embedded default: delivered mail is written as .eml files under $CRM_DATA_DIR/outbox/."""

from __future__ import annotations

import os
import re
from pathlib import Path


def eml_name(key: int, template: str) -> str:
    """Return the file name of a message: its outbox id and template."""
    return f"{key:08d}-{re.sub(r'[^a-z0-9_]+', '_', template.lower())}.eml"


def write_eml(folder: Path, key: int, template: str, data: bytes) -> Path:
    """Write a message atomically (a reader never sees half a file); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / eml_name(key, template)
    tmp = path.with_suffix(".eml.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
