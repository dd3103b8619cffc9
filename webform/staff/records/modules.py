"""The modules staff pages show, by their url path, and the `module` converter that only matches them."""

from __future__ import annotations

from typing import Any

from flask import abort
from werkzeug.routing import AnyConverter, Map

from crm_store import links
from crm_store.records import registry
from crm_store.records.listing import MODULES


def paths() -> dict[str, str]:
    """url path -> module name, for the modules with lists and record pages."""
    return {registry.get(name).path: name for name in MODULES}


class ModuleConverter(AnyConverter):
    """`<module:module>`: one of the modules' url paths (so /reports/x or /users/1 are never a record)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, *sorted(paths()))


def module_of(path: str) -> str:
    """The module named by a url path segment (404 for anything else)."""
    name = paths().get(path)
    if name is None:
        abort(404)
    return name


def record_path(module: str, number: str, route: str = "record") -> str:
    """The path of a record's page (or of one of its actions: `route`)."""
    return links.path(route, module=registry.get(module).path, number=number)


def list_path(module: str) -> str:
    """The path of a module's list."""
    return links.path("records", module=registry.get(module).path)
