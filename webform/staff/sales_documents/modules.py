"""The sales documents' url paths, the `sales` converter that only matches them, and a document's paths."""

from __future__ import annotations

from typing import Any

from flask import abort
from werkzeug.routing import AnyConverter, Map

from crm_store import links
from crm_store.records import registry
from crm_store.records.listing import SALES_DOCUMENTS


def paths() -> dict[str, str]:
    """url path -> module: quotes, sales-orders, invoices."""
    return {registry.get(name).path: name for name in SALES_DOCUMENTS}


class SalesConverter(AnyConverter):
    """`<sales:module>`: quotes, sales-orders or invoices."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, *sorted(paths()))


def module_of(path: str) -> str:
    """The document module named by a url path segment (404 for anything else)."""
    name = paths().get(path)
    if name is None:
        abort(404)
    return name


def document_path(module: str, number: str, route: str = "sales_document") -> str:
    """The path of a document's page, or of one of its actions (`route`)."""
    if route == "sales_payment":
        return links.path(route, number=number)
    return links.path(route, module=registry.get(module).path, number=number)


def module_path(module: str, route: str = "sales_documents") -> str:
    """The path of a module's list (or its `sales_document_new`, `sales_totals`)."""
    return links.path(route, module=registry.get(module).path)
