"""The price books list, a price book's page with its prices, and setting a product's price in a book."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, PriceBook, PriceBookPrice, Product
from crm_store.sales import price_books, products

from ...state import state
from ..access import login_required, signed_in_user
from ..forms import place_error
from ..records.routes import write
from .forms import PriceForm
from .routes import bp, currencies, keeper_required, keeps_catalog, product_page

PRICE_SET = N_("%(product)s costs %(price)s %(currency)s in %(book)s.")
UNCHANGED = N_("%(product)s already costs %(price)s %(currency)s in %(book)s.")
CHOOSE_BOOK = N_("Choose a price book.")


def book_by_number(db: Session, number: str) -> PriceBook:
    """The live price book numbered `number` (every user sees them), else 404."""
    found = db.scalar(select(PriceBook).where(PriceBook.price_book_no == number.strip().upper(),
                                              PriceBook.deleted_at.is_(None)))
    if found is None:
        abort(404)
    return found


@bp.get(links.ROUTES["price_books"])
@login_required
def price_books_list() -> ResponseReturnValue:
    """The live price books by name, each with its currency and how many prices it holds."""
    with state().readers() as db:
        rows = list(db.execute(price_books.listed(limit=500)))
    return render_template("staff/catalog/price_books.html", rows=rows, can_change=keeps_catalog(signed_in_user()))


@bp.get(links.ROUTES["price_book"])
@login_required
def price_book(number: str) -> ResponseReturnValue:
    """A price book's page: its currency, its prices by product name (and the product's own price); set one."""
    return price_book_page(number)


def price_book_page(number: str, price_form: PriceForm | None = None) -> str:
    """The price book's page, with a price form that failed (its errors beside its fields)."""
    with state().readers() as db:
        book = book_by_number(db, number)
        currency = db.get(Currency, book.currency_id)
        rows = list(db.execute(
            select(Product, PriceBookPrice.list_price).join(PriceBookPrice, PriceBookPrice.product_id == Product.id)
            .where(PriceBookPrice.price_book_id == book.id, Product.deleted_at.is_(None))
            .order_by(Product.name, Product.id)))
        currency_of = currencies(db)
    form = price_form or PriceForm(formdata=None)
    return render_template("staff/catalog/price_book.html", book=book, currency=currency, rows=rows,
                           currency_of=currency_of, price_form=form, can_change=keeps_catalog(signed_in_user()))


@bp.post(links.ROUTES["price_book_price"])
@keeper_required
def price_book_price(number: str) -> ResponseReturnValue:
    """Set (or replace) the list price of the product named (by number or code) in this book."""
    form = PriceForm()
    done = _set_price(form, number, form.product.data or "")
    if done is not None:
        return redirect(links.path("price_book", number=number.strip().upper()), code=303)
    return price_book_page(number, price_form=form), 422


@bp.post(links.ROUTES["product_price"])
@keeper_required
def product_price(number: str) -> ResponseReturnValue:
    """Set (or replace) the product's list price in the price book chosen on its page."""
    form = PriceForm()
    with state().readers() as db:
        book_no = db.scalar(select(PriceBook.price_book_no).where(
            PriceBook.id == int(form.price_book.data), PriceBook.deleted_at.is_(None))) \
            if (form.price_book.data or "").isdigit() else None
    if book_no is None:
        form.price_book.errors = [gettext(CHOOSE_BOOK)]
    elif _set_price(form, book_no, number) is not None:
        return redirect(links.path("product", number=number.strip().upper()), code=303)
    return product_page(number, price_form=form), 422


def _set_price(form: PriceForm, book_no: str, product_text: str) -> str | None:
    """Set the price the form gives; the product's number when done, None with the error beside its field."""
    user = signed_in_user()
    if not form.validate():
        return None

    def set_price(db: Session) -> tuple[str, str, str, str, bool]:
        book = db.scalar(select(PriceBook).where(PriceBook.price_book_no == book_no.strip().upper(),
                                                 PriceBook.deleted_at.is_(None)))
        if book is None:
            raise NotFound(book_no)
        found = products.find(db, product_text)
        done = price_books.set_price(db, book, found, form.list_price.data, Actor.user(user.id))
        code = db.scalar(select(Currency.code).where(Currency.id == book.currency_id)) or ""
        return found.product_no, book.name, f"{done.price.list_price.normalize():f}", code, done.changed

    try:
        product_no, book_name, price, code, changed = write(set_price)
    except ValidationError as exc:
        place_error(form, exc)
        return None
    flash(gettext(PRICE_SET if changed else UNCHANGED, product=product_no, price=price, currency=code,
                  book=book_name), "success")
    return product_no
