"""Configuration as data: the automation's settings as one YAML file (`crm config export` / `crm config import`).

The file holds the assignment rules, the teams' strategies and members' weights, the follow-up cadences,
the stage playbooks and the thresholds (the automation's company settings and the stages' rotting days);
`config_sections` says what each holds and how it is checked. Export writes them in a fixed order, so
exporting, importing into another store with the same people, and exporting again gives the same bytes.

An import reads the whole file, checks all of it and reports every problem with its path and line
(`ConfigProblems`); only a file without problems is applied, section by section in the caller's
transaction, with one audit row saying what it changed. A section the file leaves out is left alone.

The file is read like a web-form definition: a regular UTF-8 file of bounded size, YAML aliases refused,
nesting bounded. Plain values follow YAML 1.2: only true/false are booleans (`NO` stays the country code
it is) and dates stay text.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import yaml
from sqlalchemy.orm import Session
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from crm_store.actor import Actor
from crm_store.models import AuditEntry
from crm_store.records import audit
from crm_store.settings.config_checks import Checker, ConfigProblems, FlowList, FlowMap, Path, Problem
from crm_store.settings.config_sections import NAMES, SECTIONS, Counts

VERSION = 1
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 12  # the deepest value: playbooks / process / stage / tasks / a task / subject / a language
AUDIT_MODULE = "config"  # the audit row of an import is about the configuration, not one record
AUDIT_RECORD_ID = 0
HEADER = """\
# Leadline automation configuration: assignment rules, team strategies, follow-up cadences, stage
# playbooks and thresholds. Written by `crm config export`; load it with `crm config import FILE`
# (`--dry-run` first shows what would change).
#
# A section in the file replaces what the store holds for it: assignment_rules (tried in this order,
# first match wins), cadences and playbooks are the whole list, so what the file leaves out is removed;
# teams and thresholds set what they give. A section left out of the file is left as it is. Users (by
# email), teams, sales processes and stages are not created here: name only ones that exist.
"""


# -- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """A configuration file as read: its values, and the line each path starts on."""

    source: str
    data: Any
    lines: Mapping[Path, int]


class _Refused(yaml.YAMLError):
    """A construct a configuration file may not use, at its place in the file."""

    def __init__(self, problem: str, event: yaml.Event) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = event.start_mark


class _Loader(yaml.SafeLoader):
    """The safe loader without aliases, nested at most `MAX_DEPTH` deep, with YAML 1.2's plain booleans and ints."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(f"YAML aliases (*{event.anchor}) are not allowed; write the value out", event)
        if not isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", event)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_YAML11 = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _YAML11]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))


def parse(text: str, source: str = "<config>") -> Document:
    """Read a configuration file's text; fail with its first YAML problem (line and column) or its duplicate keys."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {(): 1}
        problems: list[Problem] = []
        data = None if node is None else _plain(loader, node, (), lines, problems)
    except _Refused as exc:
        raise ConfigProblems(source, [Problem((), f"{_where(exc)}{exc.problem}")]) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigProblems(source, [Problem((), f"{_where(exc)}not valid YAML ({problem})")]) from None
    finally:
        loader.dispose()
    if problems:
        raise ConfigProblems(source, problems)
    return Document(source, data, lines)


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _plain(loader: _Loader, node: Node, at: Path, lines: dict[Path, int], problems: list[Problem]) -> Any:
    """A node's value, noting the line of each key and item; keys are the text written."""
    if isinstance(node, MappingNode):
        found: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                problems.append(Problem(at, "a key must be plain text", line))
                continue
            here = (*at, key_node.value)
            if key_node.value in found:
                problems.append(Problem(here, f"given twice (first on line {lines[here]})", line))
                continue
            lines[here] = line
            found[key_node.value] = _plain(loader, value_node, here, lines, problems)
        return found
    if isinstance(node, SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*at, i)] = item.start_mark.line + 1
            items.append(_plain(loader, item, (*at, i), lines, problems))
        return items
    return loader.construct_object(node)


def read_file(path: str | os.PathLike[str]) -> Document:
    """Read a configuration file: a regular UTF-8 file of at most `MAX_FILE_BYTES`."""
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not hang the command
    except OSError as exc:
        raise ConfigProblems(source, [Problem((), str(exc.strerror or exc))]) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigProblems(source, [Problem((), "is not a regular file")])
        with os.fdopen(fd, "rb", closefd=False) as f:
            content = f.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(content) > MAX_FILE_BYTES:
        raise ConfigProblems(source, [Problem((), f"is larger than {MAX_FILE_BYTES // 1024} KB")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigProblems(source, [Problem((), f"is not UTF-8 text (byte {exc.start + 1})")]) from None
    return parse(text, source)


# -- writing ----------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, no anchors; FlowMap and FlowList on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Text with line breaks as a literal block, the rest as YAML sees fit."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(FlowMap, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))
_Dumper.add_representer(FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True))


def export_text(session: Session) -> str:
    """The store's configuration as the text of a file: a header comment, then every section in a fixed order."""
    document = {"version": VERSION, **{section.name: section.read(session) for section in SECTIONS}}
    body = yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=100)
    return HEADER + "\n" + body


# -- importing --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A checked file: the sections it holds, and what applying each would add, change and remove."""

    source: str
    wanted: dict[str, Any]  # section name -> its checked value, for the sections the file holds
    changes: dict[str, Counts]

    @property
    def changed(self) -> bool:
        """Whether applying it changes anything."""
        return any(c != Counts() for c in self.changes.values())


def plan(session: Session, document: Document) -> Plan:
    """Check a whole file against the store; fail with every problem found, else say what it would change."""
    c = Checker(session, document.lines)
    root = c.mapping(document.data, (), ("version", *NAMES))
    wanted: dict[str, Any] = {}
    if root is not None:
        if "version" in root and root["version"] != VERSION:
            c.problem(("version",), f"must be {VERSION} (the only version of this file so far)")
        if not root.keys() - {"version"}:
            c.problem((), f"holds no section; give one or more of {', '.join(NAMES)}")
        wanted = {s.name: s.check(c, root[s.name], (s.name,)) for s in SECTIONS if s.name in root}
    if c.problems:
        raise ConfigProblems(document.source, c.problems)
    changes = {s.name: s.counts(s.read(session), wanted[s.name]) for s in SECTIONS if s.name in wanted}
    return Plan(document.source, wanted, changes)


def apply(session: Session, checked: Plan, actor: Actor) -> AuditEntry:
    """Write a checked file's sections in the caller's transaction, and the audit row of the import."""
    for section in SECTIONS:
        if section.name in checked.wanted:
            section.apply(session, checked.wanted[section.name])
    changes = {"file": checked.source, **{name: asdict(counts) for name, counts in checked.changes.items()}}
    entry = audit.log(session, "import", AUDIT_MODULE, AUDIT_RECORD_ID, actor, changes=changes)
    session.flush()
    return entry


def import_file(session: Session, path: str | os.PathLike[str], actor: Actor, *, dry_run: bool = False) -> Plan:
    """Read, check and (unless `dry_run`) apply a configuration file; return what it changes (or would)."""
    checked = plan(session, read_file(path))
    if not dry_run:
        apply(session, checked, actor)
    return checked
