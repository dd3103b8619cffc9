"""What the sales commands read: lines typed as CODE:QTY[:PRICE[:DISCOUNT]] or listed in a YAML or JSON file,
and the account, contact and price book named by number or name.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_store.errors import CrmError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_store.models import Account

LINE_SYNTAX = "CODE:QTY[:PRICE[:DISCOUNT]]"
MAX_FILE_BYTES = 1024 * 1024


class LineError(CrmError):
    """A mistake in one of the lines, told with the line's number: `line 2: quantity: must be more than zero`."""


@contextmanager
def lines_named() -> Iterator[None]:
    """Tell a mistake in a line by the line's number (the store counts lines from 1 as rows)."""
    try:
        yield
    except ValidationError as exc:
        if exc.row is None:
            raise
        raise LineError(f"line {exc.row}: {exc.field}: {exc.message}") from None


def discount(text: str, row: int | None) -> dict[str, Any]:
    """A line's discount as typed: `10%` (a percent) or `50` (an amount); nothing for an empty text."""
    text = text.strip()
    if not text:
        return {}
    if text.endswith("%"):
        return {"discount_kind": "percent", "discount_value": text[:-1].strip()}
    if not text[0].isdigit() and text[0] != ".":
        raise ValidationError("discount", f"{text!r} is not a percent like 10% or an amount like 50", row=row)
    return {"discount_kind": "amount", "discount_value": text}


def typed_lines(texts: tuple[str, ...]) -> list[dict[str, Any]]:
    """Lines typed as CODE:QTY[:PRICE[:DISCOUNT]] (an empty PRICE takes the price book's or the product's)."""
    lines = []
    for row, text in enumerate(texts, 1):
        parts = text.split(":")
        if not 2 <= len(parts) <= 4 or not parts[0].strip() or not parts[1].strip():
            raise ValidationError("line", f"{text!r} is not {LINE_SYNTAX}", row=row)
        line: dict[str, Any] = {"product": parts[0].strip(), "quantity": parts[1].strip()}
        if len(parts) > 2 and parts[2].strip():
            line["list_price"] = parts[2].strip()
        if len(parts) > 3:
            line |= discount(parts[3], row)
        lines.append(line)
    return lines


def file_lines(path: Path) -> list[dict[str, Any]]:
    """Lines listed in a JSON or YAML file: mappings of product, quantity, and optionally list_price, discount
    (10% or 50, or discount_kind and discount_value) and comment."""
    text = _read(path)
    data = _parsed(path, text)
    if not isinstance(data, list):
        raise ValidationError("lines", f"{path}: must hold a list of lines")
    lines = []
    for row, item in enumerate(data, 1):
        if isinstance(item, dict) and "discount" in item:
            item = {k: v for k, v in item.items() if k != "discount"} | discount(str(item["discount"]), row)
        lines.append(item)
    return lines


def find_account(session: Session, text: str) -> Account:
    """The live account numbered (ACC12) or named `text`."""
    from crm_store.pipeline.conversion import find_account as found

    account = found(session, text)
    if account is None:
        raise ValidationError("account", f"no account named {text!r}")
    return account


def find_record(session: Session, module: str, field: str, text: str) -> Any:
    """The live record of `module` numbered `text` (or, for a module with a name, named it)."""
    from sqlalchemy import select

    from crm_store.records import registry

    spec = registry.get(module)
    model = spec.model
    number = getattr(model, spec.number_field)
    found = session.scalar(select(model).where(number == text.strip().upper(), model.deleted_at.is_(None)))
    if found is None and "name" in model.__table__.c:
        found = session.scalar(select(model).where(model.name == text.strip(), model.deleted_at.is_(None)))
    if found is None:
        raise ValidationError(field, f"no {spec.label} {text!r}")
    return found


def _read(path: Path) -> str:
    """The file's text: a regular file (a FIFO would never end) of at most `MAX_FILE_BYTES`, in UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValidationError("lines", f"{path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValidationError("lines", f"{path}: is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            content = f.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError("lines", f"{path}: is larger than {MAX_FILE_BYTES // 1024} KB")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("lines", f"{path}: is not UTF-8 text (byte {exc.start + 1})") from None


def _parsed(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError("lines", f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    import yaml

    class NoAliases(yaml.SafeLoader):
        """The safe loader without aliases: a few lines of aliases to aliases expand to gigabytes."""

        def compose_node(self, parent: Any, index: int) -> Any:
            if isinstance(self.peek_event(), yaml.AliasEvent):
                raise ValidationError("lines", f"{path}: YAML aliases are not allowed; write the lines out")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=NoAliases)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        raise ValidationError("lines", f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
