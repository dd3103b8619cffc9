"""What commands print: a character the output's encoding cannot write is replaced, never fatal.

Stored text may hold what no encoding writes (a lone surrogate a web visitor sent through JSON before
such text was refused); printing it must not cost the operator the rest of the output.
"""

from __future__ import annotations

import io
import sys


def replace_unencodable() -> None:
    """Make standard output write `?` for a character its encoding cannot take, instead of failing the command."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "surrogateescape"):
        stream.reconfigure(errors="replace")
