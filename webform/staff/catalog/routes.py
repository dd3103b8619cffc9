"""The products list, a product's page and image, the low-stock list, and the stock adjustment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import AuditEntry, Currency, Document, PriceBook, Product, User
from crm_store.records import audit
from crm_store.records.documents import MAX_DOCUMENT_BYTES, DocumentTooLarge, open_document
from crm_store.sales import price_books, products, stock
from crm_store.settings import company, picklists
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..documents.routes import TOO_LARGE, UPLOAD_BODY
from ..forms import place_error, store_message
from ..page import number
from ..records import list_tools
from ..records.routes import write
from .forms import IMAGE_FIELD, ImageForm, PriceForm, StockForm

bp = Blueprint("catalog", __name__, template_folder="templates")
F = TypeVar("F", bound=Callable[..., Any])
PAGE_SIZE = 50
STOCK_HISTORY = 10  # the latest stock changes shown on a product's page
KEEPERS = ("admin", "manager")  # who changes the catalogue, its prices and its stock
ADJUSTED = N_("The stock of %(product)s is now %(quantity)s.")
BELOW_ZERO = N_("The stock of %(product)s is now %(quantity)s, below zero: check the count.")
TYPES = {"product": N_("Product"), "service": N_("Service")}
CHOOSE_IMAGE = N_("Choose a picture: PNG, JPEG, GIF or WebP.")
IMAGE_SAVED = N_("The picture of %(product)s is saved.")


@bp.app_template_filter("quantity")
def quantity(value: Decimal | int | None) -> str:
    """A quantity with the decimals it has (3, 2.5, 0.125), grouped the user's way."""
    return "" if value is None else number(value, _places(value))


@bp.app_template_filter("money")
def money(value: Decimal | int | None, minor_unit: int = 2) -> str:
    """An amount to its currency's minor unit, or more when it has them (a unit price of 0.0125)."""
    return "" if value is None else number(value, max(minor_unit, _places(value)))


def _places(value: Decimal | int) -> int:
    exponent = Decimal(value).normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def keeps_catalog(user: User) -> bool:
    """Whether the user changes products, price books, prices and stock."""
    return user.role in KEEPERS


def keeper_required(view: F) -> F:
    """Like `login_required`, and 403 for a rep: the catalogue is changed by managers and admins."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not keeps_catalog(signed_in_user()):
            abort(403)
        return view(*args, **kwargs)

    return login_required(cast(F, guarded))


def product_by_number(db: Session, number: str) -> Product:
    """The live product numbered `number` (every user sees the catalogue), else 404."""
    found = db.scalar(select(Product).where(Product.product_no == number.strip().upper(), Product.deleted_at.is_(None)))
    if found is None:
        abort(404)
    return found


def currencies(db: Session) -> dict[int, Currency]:
    """The currencies by id (prices are shown with their code, to their minor unit)."""
    return {c.id: c for c in db.scalars(select(Currency))}


@bp.get(links.ROUTES["products"])
@login_required
def products_list() -> ResponseReturnValue:
    """Products and services by name: a term in the name, code or number; category, type, active or not; my saved
    filters and the CSV export (the lists' tools; no bulk actions: the catalogue is changed a product at a time)."""
    args, user = request.args, signed_in_user()
    active_filter = list_tools.active_filter("products", user, args.get("saved"))  # someone else's: 404
    if active_filter is not None and not list_tools.params_of(args):
        return redirect(list_tools.with_query("products", {**active_filter[1], "saved": active_filter[0]}), code=303)
    page = max(int(args["page"]), 1) if args.get("page", "").isdigit() else 1
    with state().readers() as db:
        stmt = products.listed(**product_filter(args), limit=PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
        rows = list(db.scalars(stmt))
        currency_of = currencies(db)
        categories = picklists.values(db, "product_category")
        shown_tools = product_tools(db, user, args, active_filter[0] if active_filter else None)
    filtered = any(args.get(key) for key in ("q", "category", "type", "active"))
    return render_template(
        "staff/catalog/products.html", rows=rows[:PAGE_SIZE], currency_of=currency_of, args=args, categories=categories,
        filtered=filtered, types=TYPES, can_change=keeps_catalog(user), tools=shown_tools,
        previous=_here(args, page - 1) if page > 1 else None,
        next=_here(args, page + 1) if len(rows) > PAGE_SIZE else None,
    )


def product_tools(db: Session, user: User, args: Any, active_id: int | None) -> list_tools.ListTools:
    """The products list's tools: my saved filters and the export; no row to select (no bulk actions)."""
    shown = list_tools.tools(db, user, "products", args, scoping.scope_of(db, user), [], active_id)
    return replace(shown, can_reassign=False, statuses=[], can_delete=False)


def product_filter(args: Any) -> dict[str, Any]:
    """The products list's filter from its query (the page, its export and saved filters read it alike): what
    `products.listed` narrows by; values that are not offered are left out."""
    return {"category": args.get("category") or None,
            "active": {"yes": True, "no": False}.get(args.get("active", "")),
            "search": args.get("q"),
            "product_type": args.get("type") if args.get("type") in products.PRODUCT_TYPES else None}


def _here(args: Any, page: int) -> str:
    query = {key: value for key, value in args.items() if value and key != "page"}
    if page > 1:
        query["page"] = str(page)
    return links.path("products") + (f"?{urlencode(query)}" if query else "")


@bp.get(links.ROUTES["product"])
@login_required
def product(number: str) -> ResponseReturnValue:
    """A product's page: image, price, stock and its latest changes, taxes, specifications, price-book prices."""
    return product_page(number)


def product_page(number: str, stock_form: StockForm | None = None, price_form: PriceForm | None = None,
                 image_error: str | None = None) -> str:
    """The product's page, with a form that failed (its errors beside its fields)."""
    user = signed_in_user()
    with state().readers() as db:
        found = product_by_number(db, number)
        currency_of = currencies(db)
        context = {
            "taxes": products.tax_classes(db, found),
            "prices": list(db.execute(price_books.prices_of_product(found))),
            "history": stock_history(db, found) if found.product_type == "product" else [],
            "image": db.get(Document, found.image_document_id) if found.image_document_id else None,
            "negative_allowed": company.get(db, "allow_negative_stock"),
            "books": [(str(b.id), b.name) for b in db.scalars(select(PriceBook).where(PriceBook.deleted_at.is_(None))
                                                               .order_by(PriceBook.name, PriceBook.id))],
        }
    here = links.path("product", number=found.product_no)
    stock_form = stock_form or StockForm(formdata=None, prefix=stock_prefix(found.product_no), data={"next": here})
    price_form = price_form or PriceForm(formdata=None)
    price_form.price_book.choices = [("", "—"), *context["books"]]
    return render_template("staff/catalog/product.html", product=found,
                           currency=currency_of[found.currency_id],
                           types=TYPES, stock_form=stock_form, price_form=price_form, can_change=keeps_catalog(user),
                           image_form=ImageForm(formdata=None), image_error=image_error,
                           max_image_mb=MAX_DOCUMENT_BYTES // 2**20, **context)


@dataclass(frozen=True)
class StockChange:
    """One change of a product's stock, from its audit trail."""

    at: dt.datetime
    before: Decimal
    after: Decimal
    reason: str | None
    who: str | None


def stock_history(db: Session, product: Product) -> list[StockChange]:
    """The product's latest stock changes (before → after, the reason) with who made them, newest first."""
    stmt = (audit.history("products", product.id).outerjoin(User, User.id == AuditEntry.user_id)
            .add_columns(User.name).order_by(None).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    found = []
    for entry, name in db.execute(stmt.limit(200)):
        change = (entry.changes or {}).get("qty_in_stock")
        if change:
            before, after = (Decimal(str(v)) if v is not None else Decimal(0) for v in change)
            found.append(StockChange(entry.at, before, after, entry.changes.get("reason"), name or entry.automation))
            if len(found) == STOCK_HISTORY:
                break
    return found


def stock_prefix(number: str) -> str:
    """The stock form's field prefix: one form per product on the low-stock list, each with its own ids."""
    return f"{number.lower()}-"


@bp.get(links.ROUTES["product_image"])
@login_required
def product_image(number: str) -> ResponseReturnValue:
    """The product's image, shown inline (it is typed by its bytes: PNG, JPEG, GIF or WebP only)."""
    with state().readers() as db:
        found = product_by_number(db, number)
        document = db.get(Document, found.image_document_id) if found.image_document_id else None
        if document is None or document.deleted_at is not None or document.content_type not in products.IMAGE_TYPES:
            abort(404)
        try:
            sent = open_document(state().config.data_dir, document)
        except NotFound:
            abort(404)
    response = send_file(sent.path, mimetype=sent.content_type, conditional=True, max_age=0)
    response.headers.update({"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'",
                             "Cache-Control": "private, no-cache"})
    return response


@bp.before_app_request
def allow_image_uploads() -> None:
    """Let a product's image be as large as a document may be (the server lets its body through: documents' limit)."""
    if request.endpoint == "catalog.product_image_upload":
        request.max_content_length = UPLOAD_BODY


@bp.post(links.ROUTES["product_image"])
@keeper_required
def product_image_upload(number: str) -> ResponseReturnValue:
    """Store the posted picture as the product's image (PNG, JPEG, GIF or WebP, told by its bytes)."""
    user = signed_in_user()
    form = ImageForm()
    chosen = request.files.get(IMAGE_FIELD)
    if not form.validate():
        return product_page(number, image_error=gettext(CHOOSE_IMAGE)), 422
    if chosen is None or not chosen.filename:
        return product_page(number, image_error=gettext(CHOOSE_IMAGE)), 422
    content = chosen.stream.read(MAX_DOCUMENT_BYTES + 1)
    filename, data_dir = chosen.filename, state().config.data_dir

    def store(db: Session) -> str:
        found = db.scalar(select(Product).where(Product.product_no == number.strip().upper(),
                                                Product.deleted_at.is_(None)))
        if found is None:
            raise NotFound(number)
        products.set_image(db, data_dir, found, content, filename=filename, actor=Actor.user(user.id))
        return found.product_no

    try:
        product_no = write(store)
    except (ValidationError, DocumentTooLarge) as exc:
        message = store_message(exc) if isinstance(exc, ValidationError) else gettext(
            TOO_LARGE, most=MAX_DOCUMENT_BYTES // 2**20)
        return product_page(number, image_error=message), 422
    flash(gettext(IMAGE_SAVED, product=product_no), "success")
    return redirect(links.path("product", number=product_no), code=303)


@bp.get(links.ROUTES["low_stock"])
@login_required
def low_stock() -> ResponseReturnValue:
    """The products below their reorder level, the furthest below first; managers adjust the stock here."""
    return low_stock_page()


def low_stock_page(failed: tuple[str, StockForm] | None = None) -> str:
    """The low-stock list, with a row's adjustment that failed (its errors beside its fields)."""
    user = signed_in_user()
    with state().readers() as db:
        rows = list(db.scalars(stock.low_stock().limit(500)))
        negative_allowed = company.get(db, "allow_negative_stock")
    here = links.path("low_stock")
    forms = {p.product_no: StockForm(formdata=None, prefix=stock_prefix(p.product_no), data={"next": here})
             for p in rows}
    if failed is not None:
        forms[failed[0]] = failed[1]
    return render_template("staff/catalog/low_stock.html", rows=rows, forms=forms, can_change=keeps_catalog(user),
                           negative_allowed=negative_allowed)


@bp.post(links.ROUTES["product_stock"])
@keeper_required
def product_stock(number: str) -> ResponseReturnValue:
    """Adjust a product's stock by a quantity, with the reason (audited); below zero only if the company allows."""
    user = signed_in_user()
    form = StockForm(prefix=stock_prefix(number.strip().upper()))
    back_to_list = form.next.data == links.path("low_stock")
    if form.validate():

        def adjust(db: Session) -> tuple[str, str, bool]:
            found = db.scalar(select(Product).where(Product.product_no == number.strip().upper(),
                                                    Product.deleted_at.is_(None)))
            if found is None:
                raise NotFound(number)
            planned = stock.adjust_stock(db, found, form.by.data, form.reason.data or "", Actor.user(user.id))
            return found.product_no, quantity(found.qty_in_stock or Decimal(0)), bool(planned.warnings)

        try:
            product_no, now, below = write(adjust)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            if below:
                flash(gettext(BELOW_ZERO, product=product_no, quantity=now), "warning")
            else:
                flash(gettext(ADJUSTED, product=product_no, quantity=now), "success")
            return redirect(links.path("low_stock") if back_to_list else links.path("product", number=product_no),
                            code=303)
    if back_to_list:
        return low_stock_page(failed=(number.strip().upper(), form)), 422
    return product_page(number, stock_form=form), 422


from . import editing as _editing  # noqa: E402, F401 - adding and editing join this blueprint
from . import price_books as _price_books  # noqa: E402, F401 - so do the price books' pages
from . import tools as _tools  # noqa: E402, F401 - and the products list's saved filters and export
