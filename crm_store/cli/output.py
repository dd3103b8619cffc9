"""What commands print: tables that line up in Chinese, progress that shows in logs, text any encoding takes.

Stored text may hold what no encoding writes (a lone surrogate a web visitor sent through JSON before
such text was refused); printing it must not cost the operator the rest of the output.
"""

from __future__ import annotations

import io
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import click

GAP = "  "  # between the columns of a table
EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")  # an address in a cell: the cell is never cut
PROGRESS_EVERY = 5.0  # seconds between the lines progress prints when stderr is not a terminal


def replace_unencodable() -> None:
    """Make standard output write `?` for a character its encoding cannot take, instead of failing the command."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "surrogateescape"):
        stream.reconfigure(errors="replace")


# -- tables ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """One column of a table: its header, the most terminal columns its text takes, the side it keeps to.

    A column without a limit is never cut (the last one of a line, say); nor is a cell holding an email
    address, in any column: half an address is a wrong address.
    """

    header: str
    limit: int | None = None  # longer text is cut at this width with "…"
    right: bool = False  # numbers line up on the right


def char_width(ch: str) -> int:
    """Terminal columns one character takes: 2 for wide and full-width (Chinese), 0 for combining marks."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def width(text: str) -> int:
    """Terminal columns `text` takes (not `len`: 林美玲 takes six)."""
    return sum(char_width(ch) for ch in text)


def cut(text: str, limit: int | None) -> str:
    """Cut `text` to at most `limit` terminal columns, ending in "…" when anything was left out.

    Text holding an email address is left whole.
    """
    if limit is None or width(text) <= limit or EMAIL.search(text):
        return text
    kept, used = [], 1  # the ellipsis
    for ch in text:
        used += char_width(ch)
        if used > limit:
            break
        kept.append(ch)
    return "".join(kept) + "…"


def pad(text: str, columns: int, right: bool = False) -> str:
    """Pad `text` with spaces to `columns` terminal columns, on the right (or on the left for numbers)."""
    fill = " " * max(0, columns - width(text))
    return fill + text if right else text + fill


def fit(text: str, columns: int) -> str:
    """Cut and pad `text` to exactly `columns` terminal columns."""
    return pad(cut(text, columns), columns)


def table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> list[str]:
    """Lay rows out under a header line, each column as wide as its widest cell (in terminal columns)."""
    cells = [[cut(_one_line(value), column.limit) for value, column in zip(row, columns, strict=True)]
             for row in rows]
    headers = [column.header for column in columns]
    widths = [max(width(text) for text in (headers[i], *(row[i] for row in cells))) for i in range(len(columns))]
    last = len(columns) - 1

    def line(texts: Sequence[str]) -> str:
        laid = [text if i == last and not columns[i].right else pad(text, widths[i], columns[i].right)
                for i, text in enumerate(texts)]
        return GAP.join(laid).rstrip()

    return [line(headers), *(line(row) for row in cells)]


def echo_table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    """Print a table (see `table`)."""
    for text in table(columns, rows):
        click.echo(text)


def _one_line(value: object) -> str:
    """A cell's text on one line: nothing for None, control characters and line breaks as spaces."""
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)


# -- progress ---------------------------------------------------------------------------------------------

class Progress:
    """Progress of a long command: a bar on a terminal, otherwise a plain line every few seconds (for logs)."""

    def __init__(self, length: int, label: str, *, unit: Callable[[int], str], every: float, stream: TextIO) -> None:
        self.length, self.label, self.unit, self.every, self.stream = length, label, unit, every, stream
        self.done = 0
        self.shown: int | None = None
        self.last = time.monotonic()

    def update(self, n: int) -> None:
        """Count `n` more done; print a line when the last one is old enough."""
        self.done += n
        if time.monotonic() - self.last >= self.every:
            self.show()

    def show(self) -> None:
        """Print where it stands: `Restoring: 12.0 MB of 48.0 MB (25%)`."""
        share = f" ({min(100, self.done * 100 // self.length)}%)" if self.length else ""
        click.echo(f"{self.label}: {self.unit(self.done)} of {self.unit(self.length)}{share}", file=self.stream)
        self.shown, self.last = self.done, time.monotonic()

    def finish(self) -> None:
        """Print the final count unless it was just printed."""
        if self.shown != self.done:
            self.show()


@contextmanager
def progress(
    length: int, label: str, *, unit: Callable[[int], str] = "{:,}".format, every: float = PROGRESS_EVERY,
    show_eta: bool = False,
) -> Iterator[Any]:
    """Yield something to `update(n)` (and relabel): a bar when stderr is a terminal, else lines for a log."""
    stream = sys.stderr
    if stream.isatty():
        with click.progressbar(length=length, label=label, width=36, show_eta=show_eta, file=stream) as bar:
            yield bar
        return
    plain = Progress(length, label, unit=unit, every=every, stream=stream)
    yield plain
    plain.finish()
