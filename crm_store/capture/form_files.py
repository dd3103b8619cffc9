"""Form definitions in YAML files: read safely, whatever the file holds.

A definition is a few dozen lines, so the file is read only when it is a regular file of at most
`MAX_FILE_BYTES`, YAML aliases are refused (nine lines of aliases to aliases expand to hundreds of
megabytes: the "billion laughs") and collections nest at most `MAX_DEPTH` deep (deeper, the YAML
composer would recurse until Python gives up). Every refusal is a one-line `ValidationError` on
`from_file` naming the file and, where it has one, the line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node

from crm_store.errors import ValidationError

MAX_FILE_BYTES = 64 * 1024
MAX_DEPTH = 10  # a definition nests four deep: the definition, fields, a field, its choices


class _Refused(Exception):
    """A construct a form definition may not use, at its place in the file."""

    def __init__(self, problem: str, event: yaml.Event) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = event.start_mark


class _DefinitionLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases and collections nested deeper than `MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(f"YAML aliases (*{event.anchor}) are not allowed; write the value out", event)
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", event)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a form definition from a YAML file; fail in one line naming the file on anything unsafe or bad."""
    text = _read_text(Path(path))
    loader = _DefinitionLoader(text)
    try:
        data = loader.get_single_data()
    except _Refused as exc:
        raise ValidationError("from_file", f"{path}:{_where(exc)} {exc.problem}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationError("from_file", f"{path}:{_where(exc)} not valid YAML ({problem})") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ValidationError("from_file", f"{path}: must hold a mapping of form keys")
    return data


def _where(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""


def _read_text(path: Path) -> str:
    """The file's text: a regular file (a FIFO would never end), at most `MAX_FILE_BYTES`, UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValidationError("from_file", f"{path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValidationError("from_file", f"{path}: is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            content = f.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError("from_file", f"{path}: is larger than {MAX_FILE_BYTES // 1024} KB, "
                                           "more than any form definition needs")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("from_file", f"{path}: is not UTF-8 text (byte {exc.start + 1})") from None
