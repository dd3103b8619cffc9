"""Add and edit a product or a price book: the store's errors beside their fields, nothing written on one."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, PriceBook, Product, Tax
from crm_store.records import lifecycle
from crm_store.sales import headers, price_books, products
from crm_store.settings import picklists

from ...state import state
from ..access import signed_in_user
from ..forms import place_error
from ..page import choice
from ..records.routes import write
from .forms import PriceBookForm, ProductForm, specification_text
from .price_books import book_by_number
from .routes import TYPES, bp, keeper_required, product_by_number

SAVED = N_("%(number)s is saved.")
PICKLISTS = {"category": "product_category", "manufacturer": "manufacturer", "usage_unit": "usage_unit"}


@bp.route(links.ROUTES["product_new"], methods=["GET", "POST"])
@keeper_required
def product_new() -> ResponseReturnValue:
    """Add a product or service: the form, the store's errors beside their fields, then its page."""
    user = signed_in_user()
    with state().readers() as db:
        form = ProductForm(data={"product_type": "product", "active": True, "currency": _company_currency(db),
                                 "taxes": [str(t.id) for t in _taxes(db) if t.active]})
        _fill_choices(db, form)
    if form.validate_on_submit():
        values = form.values(adding=True)

        def create(db: Session) -> str:
            return products.create(db, values, Actor.user(user.id)).product_no

        try:
            number = write(create)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            flash(gettext(SAVED, number=number), "success")
            return redirect(links.path("product", number=number), code=303)
    return _form_page("staff/catalog/product_edit.html", form, None, links.path("products"))


@bp.route(links.ROUTES["product_edit"], methods=["GET", "POST"])
@keeper_required
def product_edit(number: str) -> ResponseReturnValue:
    """Change a product's fields and taxes (its stock changes by adjustments, on its page)."""
    user = signed_in_user()
    with state().readers() as db:
        found = product_by_number(db, number)
        product_id, number, title = found.id, found.product_no, found.name
        form = ProductForm(data={
            **{key: getattr(found, key) for key in ("name", "product_code", "category", "manufacturer", "usage_unit",
                                                    "description", "product_type", "active")},
            "unit_price": _plain(found.unit_price), "reorder_level": _plain(found.reorder_level),
            "currency": db.scalar(select(Currency.code).where(Currency.id == found.currency_id)),
            "taxes": [str(t.id) for t in products.tax_classes(db, found)],
            "specifications": specification_text(found.specifications)})
        _fill_choices(db, form)
    del form.qty_in_stock
    if form.validate_on_submit():
        values = form.values(adding=False)

        def save(db: Session) -> None:
            row = db.get(Product, product_id)
            if row is None or row.deleted_at is not None:
                raise NotFound(number)
            products.update(db, row, _changed(row, values, db), Actor.user(user.id))

        try:
            write(save)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            flash(gettext(SAVED, number=number), "success")
            return redirect(links.path("product", number=number), code=303)
    return _form_page("staff/catalog/product_edit.html", form, {"number": number, "title": title},
                      links.path("product", number=number))


@bp.route(links.ROUTES["price_book_new"], methods=["GET", "POST"])
@keeper_required
def price_book_new() -> ResponseReturnValue:
    """Add a price book (its prices are set on its page)."""
    user = signed_in_user()
    with state().readers() as db:
        form = PriceBookForm(data={"active": True, "currency": _company_currency(db)})
        form.currency.choices = _currencies(db)
    if form.validate_on_submit():
        values = form.values()

        def create(db: Session) -> str:
            return price_books.create(db, values, Actor.user(user.id)).price_book_no

        try:
            number = write(create)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            flash(gettext(SAVED, number=number), "success")
            return redirect(links.path("price_book", number=number), code=303)
    return _form_page("staff/catalog/price_book_edit.html", form, None, links.path("price_books"))


@bp.route(links.ROUTES["price_book_edit"], methods=["GET", "POST"])
@keeper_required
def price_book_edit(number: str) -> ResponseReturnValue:
    """Rename a price book, make it active or not, describe it (its currency stays: its prices are in it)."""
    user = signed_in_user()
    with state().readers() as db:
        book = book_by_number(db, number)
        book_id, number, title = book.id, book.price_book_no, book.name
        form = PriceBookForm(data={"name": book.name, "active": book.active, "description": book.description})
        form.currency.choices = _currencies(db)
    del form.currency
    if form.validate_on_submit():
        values = form.values()

        def save(db: Session) -> None:
            row = db.get(PriceBook, book_id)
            if row is None or row.deleted_at is not None:
                raise NotFound(number)
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if "name" in changed and str(changed["name"] or "").lower() != row.name.lower():
                price_books._free_name(db, changed["name"])  # the store's check: two live books never share a name
            if changed:
                lifecycle.update(db, row, changed, Actor.user(user.id))

        try:
            write(save)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            flash(gettext(SAVED, number=number), "success")
            return redirect(links.path("price_book", number=number), code=303)
    return _form_page("staff/catalog/price_book_edit.html", form, {"number": number, "title": title},
                      links.path("price_book", number=number))


def _form_page(template: str, form: Any, record: dict[str, str] | None, cancel: str) -> ResponseReturnValue:
    return render_template(template, form=form, record=record, cancel=cancel), 422 if form.is_submitted() else 200


def _fill_choices(db: Session, form: ProductForm) -> None:
    """The product form's selects: picklists (seeded values translated), types, currencies, taxes."""
    for field, picklist in PICKLISTS.items():
        current = form[field].data
        values = picklists.values(db, picklist)
        if current and current not in values:
            values = [current, *values]  # a value no longer offered stays what it is
        form[field].choices = [("", "—"), *((v, choice(v)) for v in values)]
    form.product_type.choices = [(key, gettext(label)) for key, label in TYPES.items()]
    form.currency.choices = _currencies(db)
    form.taxes.choices = [(str(t.id), f"{t.name} ({t.rate.normalize():f} %)") for t in _taxes(db)]


def _currencies(db: Session) -> list[tuple[str, str]]:
    return [(c.code, f"{c.code} · {c.name}") for c in db.scalars(select(Currency).where(Currency.active)
                                                                  .order_by(Currency.code))]


def _taxes(db: Session) -> list[Tax]:
    return list(db.scalars(select(Tax).order_by(Tax.position, Tax.id)))


def _company_currency(db: Session) -> str:
    return headers.currency(db, None, None).code


def _changed(row: Product, values: dict[str, Any], db: Session) -> dict[str, Any]:
    """Only the fields whose value differs (the store audits what it is given)."""
    current = {"currency": db.scalar(select(Currency.code).where(Currency.id == row.currency_id)),
               "specifications": [(s["name"], s["value"]) for s in row.specifications or ()],
               "taxes": [t.id for t in products.tax_classes(db, row)]}
    changed = {}
    for key, value in values.items():
        before = current[key] if key in current else getattr(row, key)
        if key in ("unit_price", "reorder_level"):
            before, value_cmp = _plain(before), value
        else:
            value_cmp = value
        if before != value_cmp:
            changed[key] = value
    return changed


def _plain(value: Any) -> str | None:
    return None if value is None else f"{value.normalize():f}"
