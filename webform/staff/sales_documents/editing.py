"""New and edit with the line editor; the totals block the store computes on the unsaved form; product suggestions.

A POST is one of: "Add a line" (the form again with an empty line), "Recalculate" (the form again with the
store's totals: the no-script way), or "Save" (`documents.create`/`update`: an error goes beside the field — on
its line — and nothing is written). The script asks `/quotes/totals` for the totals block as the form changes.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Contact, PriceBook, Product, User
from crm_store.records import registry
from crm_store.records.names import display_name
from crm_store.sales import documents
from crm_store.settings import picklists
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..records import pickers
from ..records.routes import visible, with_current, write
from . import editor
from .forms import CHARGES, NEW_LINES, DocumentForm
from .modules import document_path, module_of, module_path
from .routes import bp

SAVED = N_("%(number)s is saved.")
STATUS_PICKLISTS = {"quotes": "quote_stage", "sales_orders": "sales_order_status", "invoices": "invoice_status"}
CONTACT_LIMIT = 500
SUGGEST_LIMIT = 8
NONE_WHEN_ZERO = ("shipping_amount", "adjustment")  # shown empty when nothing is charged


@bp.route(links.ROUTES["sales_document_new"], methods=["GET", "POST"])
@login_required
def sales_document_new(module: str) -> ResponseReturnValue:
    """A new quote, order or invoice: its header and lines, the store's totals shown before saving."""
    name, user = module_of(module), signed_in_user()
    form = DocumentForm(data={"owner_id": str(user.id), "status": "Created", "tax_mode": "individual",
                              "lines": [{}] * NEW_LINES})
    return _editor(name, user, form, None)


@bp.route(links.ROUTES["sales_document_edit"], methods=["GET", "POST"])
@login_required
def sales_document_edit(module: str, number: str) -> ResponseReturnValue:
    """Change a document's header and lines (a Paid invoice is refused by the store, beside its status)."""
    name, user = module_of(module), signed_in_user()
    with state().readers() as db:
        found = visible(db, user, name, number)
        lines = [{"product": product.product_code or product.product_no, "quantity": _plain(item.quantity),
                  "list_price": _plain(item.list_price), "discount_kind": item.discount_kind or "",
                  "discount_value": _plain(item.discount_value), "comment": item.comment or ""}
                 for item, product in documents.lines_of(db, found)]
        data = {field: _text(getattr(found, field)) for field in (*editor.HEADER, "valid_till", "invoice_date",
                                                                   "due_date") if hasattr(found, field)}
        charges = {field: getattr(found, field) for field in CHARGES}
        data |= {field: "" if field in NONE_WHEN_ZERO and not value else _plain(value)
                 for field, value in charges.items()}
    form = DocumentForm(data={**data, "lines": [*lines, {}], "number": number})
    return _editor(name, user, form, number)


def _editor(module: str, user: User, form: DocumentForm, number: str | None) -> ResponseReturnValue:
    """The editor's GET and POST, for a new document (`number` None) or an existing one."""
    submitted = form.is_submitted()
    saving = submitted and not ({"add_line", "recalculate"} & set(request.form))
    valid = form.validate_on_submit() if saving else True  # first: validating clears the errors placed below
    with state().readers() as db:
        record = visible(db, user, module, number) if number else None
        _fill(db, user, module, form, record)
        record_id = record.id if record is not None else None
        result = editor.preview(db, module, form, record) if submitted or record is not None else None
        kept = editor.choices_kept(form, user) if saving else True
    if submitted and "add_line" in request.form:
        form.lines.append_entry()
    elif saving and valid and kept and result is not None and result.totals is not None:
        saved = _save(module, user, form, record_id)
        if saved is not None:
            flash(gettext(SAVED, number=saved), "success")
            return redirect(document_path(module, saved), code=303)
    status = 422 if submitted and (form.errors or (result is not None and result.error)) else 200
    cancel = document_path(module, number) if number else module_path(module)
    return render_template("staff/sales_documents/edit.html", module=module, spec=registry.get(module), form=form,
                           number=number, preview=result, cancel=cancel,
                           totals_path=module_path(module, "sales_totals"),
                           suggest_path=links.path("sales_products"), money=_money(result)), status


def _save(module: str, user: User, form: DocumentForm, record_id: int | None) -> str | None:
    """Create or update through the store; its error beside the field (None: nothing was written)."""
    values = editor.header_values(form, module)
    lines, where = editor.entered_lines(form)
    actor = Actor.user(user.id)

    def save(db: Session) -> str:
        if record_id is None:
            made = documents.create(db, module, values, lines, actor).document
        else:
            found = scoping.fetch(db, user, module, record_id)
            if found is None:
                raise NotFound(str(record_id))
            made = documents.update(db, found, values, lines, actor).document
        return str(getattr(made, registry.get(module).number_field))

    try:
        return write(save)
    except ValidationError as exc:
        editor.place(form, exc, where)
        return None


@bp.post(links.ROUTES["sales_totals"])
@login_required
def sales_totals(module: str) -> ResponseReturnValue:
    """The totals block of the unsaved form, computed by the store (an HTML fragment for the editor's script)."""
    name, user = module_of(module), signed_in_user()
    form = DocumentForm()
    if not form.validate_on_submit() and "csrf_token" in form.errors:
        return "", 400
    number = (form.number.data or "").strip() or None
    with state().readers() as db:  # no select's choices: the block shows none (the accounts and contacts took 2/3)
        record = visible(db, user, name, number) if number else None
        result = editor.preview(db, name, form, record)
    return render_template("staff/sales_documents/_totals.html", preview=result, money=_money(result), form=form,
                           fragment=True)


@bp.get(links.ROUTES["sales_products"])
@login_required
def sales_products() -> ResponseReturnValue:
    """The active products whose name or code holds what is typed (at most a few), as an HTML fragment."""
    term = (request.args.get("q") or "").strip()[:100]
    found: list[Product] = []
    if term:
        like = f"%{term.lower().replace('%', '').replace('_', '')}%"
        stmt = (select(Product).where(Product.deleted_at.is_(None), Product.active, or_(
            func.lower(Product.name).like(like), func.lower(Product.product_code).like(like),
            func.upper(Product.product_no) == term.upper())).order_by(Product.name, Product.id).limit(SUGGEST_LIMIT))
        with state().readers() as db:
            found = list(db.scalars(stmt))
            db.expunge_all()
    return render_template("staff/sales_documents/_products.html", products=found, term=term)


def _fill(db: Session, user: User, module: str, form: DocumentForm, record: Any | None) -> None:
    """Give the form's selects their choices (users, accounts and contacts the user sees; the module's statuses)."""
    owners = pickers.owners(db, user)
    if record is not None:
        owners = with_current(owners, record.owner_id, None)
    form.owner_id.choices = owners
    account_id = record.account_id if record is not None else None
    form.account_id.choices = [("", "—"), *pickers.accounts(db, user, account_id)]
    form.contact_id.choices = [("", "—"), *_contacts(db, user, record.contact_id if record is not None else None)]
    statuses = picklists.values(db, STATUS_PICKLISTS[module])
    form.status.choices = [(value, languages.translate_value(_language(), value)) for value in statuses]
    books = db.execute(select(PriceBook.id, PriceBook.name, PriceBook.price_book_no).where(
        PriceBook.deleted_at.is_(None), PriceBook.active).order_by(PriceBook.name))
    form.price_book_id.choices = [("", gettext("None: the products' prices")),
                                  *((str(i), f"{n} ({no})") for i, n, no in books)]


def _contacts(db: Session, user: User, keep: int | None) -> list[tuple[str, str]]:
    """The contacts the user may see (newest first, at most CONTACT_LIMIT; `keep`: always this one)."""
    stmt = select(Contact.id, Contact.first_name, Contact.last_name, Contact.email).where(
        Contact.deleted_at.is_(None), or_(scoping.visible(db, user, "contacts"), Contact.id == keep))
    rows = list(db.execute(stmt.order_by(Contact.id.desc()).limit(CONTACT_LIMIT)))
    return [(str(r.id), display_name(r.first_name, r.last_name) + (f" <{r.email}>" if r.email else ""))
            for r in rows]


def _money(result: editor.Preview | None) -> Any:
    """Format an amount in the totals' currency, the page's way."""
    code, unit = (result.currency, result.minor_unit) if result is not None else ("", 2)
    return lambda amount: languages.format_money(amount, code, unit, _language()) if code else str(amount)


def _language() -> str:
    return str(g.get("language", "en"))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _plain(value: Any) -> str:
    """A stored decimal as typed: 3 rather than 3.000."""
    return "" if value is None else f"{value.normalize():f}"
