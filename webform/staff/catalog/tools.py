"""The products list's tools — my saved filters and the CSV export — at the records lists' addresses under its path
(`/products/filters`, `/products/export.csv`), done by the records lists' tools
(`webform/staff/records/list_tools.py`); the export reads the list's filter as its page does
(`routes.product_filter`). No bulk actions: the catalogue is the company's, changed a product at a time by its
keepers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, NamedTuple

from flask import Response, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from crm_store import languages, links
from crm_store.languages import N_
from crm_store.models import Currency
from crm_store.records import export
from crm_store.sales import products

from ...state import state
from ..access import login_required, signed_in_user
from ..records import list_tools
from .routes import TYPES, bp, product_filter

MODULE = "products"
STATES = {True: N_("Active"), False: N_("Inactive")}
COLUMNS = (
    export.Column("number", N_("Number")), export.Column("name", N_("Product name")),
    export.Column("product_code", N_("Product code")), export.Column("kind", N_("Type")),
    export.Column("category", N_("Category"), "choice"), export.Column("unit_price", N_("Unit price"), "money"),
    export.Column("currency", N_("Currency")), export.Column("qty_in_stock", N_("Qty in stock")),
    export.Column("reorder_level", N_("Reorder level")), export.Column("state", N_("Status")),
)


class ProductRow(NamedTuple):
    """A product as the export writes it: its type and whether active in words."""

    number: str
    name: str
    product_code: str | None
    kind: str
    category: str | None
    unit_price: Any
    currency: str
    qty_in_stock: Any
    reorder_level: Any
    state: str


def product_rows(db: Any, args: Any, language: str) -> Iterator[ProductRow]:
    """Every product the list's filter passes, in its order (by name), read export.CHUNK_ROWS at a time."""
    listed = products.listed(**product_filter(args)).limit(None).subquery()
    stmt = (select(listed, Currency.code.label("currency_code"))
            .join(Currency, Currency.id == listed.c.currency_id).order_by(listed.c.name, listed.c.id))
    kinds = {key: languages.translate(language, label) for key, label in TYPES.items()}
    states = {key: languages.translate(language, label) for key, label in STATES.items()}
    for row in db.execute(stmt.execution_options(yield_per=export.CHUNK_ROWS)):
        yield ProductRow(row.product_no, row.name, row.product_code, kinds.get(row.product_type, row.product_type),
                         row.category, row.unit_price, row.currency_code, row.qty_in_stock, row.reorder_level,
                         states[bool(row.active)])


def export_products() -> ResponseReturnValue:
    """The products list as its query filters it, every page, as a CSV file (streamed, in turn with the other
    exports of the process); audited as the other lists' exports are."""
    user, args, params = signed_in_user(), request.args.copy(), list_tools.params_of(request.args)
    language, zone = str(g.get("language", "en")), g.get("zone") or dt.UTC
    app_state = state()

    def stream() -> Iterator[bytes]:
        tally, complete = export.Tally(), False
        try:
            with app_state.readers() as db:
                chunks = export.csv_chunks(product_rows(db, args, language), COLUMNS, language, zone, tally)
                while True:
                    with export.MAKING:
                        made = next(chunks, None)
                    if made is None:
                        break
                    yield made
            complete = True
        finally:
            app_state.write(lambda db: export.log_export(db, user, MODULE, params, tally.rows, complete=complete))

    filename = f"products-{dt.datetime.now(zone).date().isoformat()}.csv"
    return Response(stream(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@bp.post(links.ROUTES["products_saved_filters"])
@login_required
def products_saved_filters() -> ResponseReturnValue:
    """Keep the products list's filter under a name, then show the list with it."""
    return list_tools.save_filter(MODULE)


@bp.post(links.ROUTES["products_saved_filter_rename"])
@login_required
def products_saved_filter_rename(filter_id: str) -> ResponseReturnValue:
    """Give one of my saved filters of the products list another name."""
    return list_tools.rename_filter(MODULE, filter_id)


@bp.post(links.ROUTES["products_saved_filter_delete"])
@login_required
def products_saved_filter_delete(filter_id: str) -> ResponseReturnValue:
    """Delete one of my saved filters of the products list; the list stays as it was filtered."""
    return list_tools.delete_filter(MODULE, filter_id)


@bp.get(links.ROUTES["products_records_export"])
@login_required
def products_records_export() -> ResponseReturnValue:
    """The filtered products list, every page of it, as a CSV file (streamed); audited."""
    return export_products()
