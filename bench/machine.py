"""What a benchmark ran on: CPUs, Python, SQLite and the versions of the packages it exercises."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any


def describe(packages: Sequence[str] = ("sqlalchemy",)) -> dict[str, Any]:
    """The machine and software of this run, for the results file."""
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    return {
        "cpus": os.cpu_count(), "cpu_model": cpu or platform.processor(), "platform": platform.platform(),
        "python": platform.python_version(), "sqlite_library": sqlite3.sqlite_version,
        **{name: version(name) for name in packages},
    }
