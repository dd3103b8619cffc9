"""The lists (`/quotes`) and pages (`/quotes/QUO12`) of quotes, sales orders and invoices; convert, payments,
the printable page and the PDF."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, Invoice
from crm_store.records import audit, registry
from crm_store.records.documents import content_disposition
from crm_store.records.listing import PAGE_SIZE, list_records
from crm_store.records.record_page import record_page
from crm_store.sales import conversions, documents, payments, printing
from crm_store.sales.print_view import view_of
from crm_store.sales.sending import PDF
from crm_store.settings import company, picklists
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..forms import place_error, store_message
from ..lists import filters as list_filters
from ..records import list_tools
from ..records.routes import LIST_RESTARTED, _reference_paths, visible, write
from .forms import ConvertForm, PaymentForm
from .modules import document_path, module_of, module_path

bp = Blueprint("sales_documents", __name__, template_folder="templates")
CONVERTED = N_("%(number)s is made from %(source)s.")
PAYMENT_SAVED = N_("The payment of %(amount)s is recorded.")
TAX_MODES = {"individual": N_("Individual (each product's taxes)"),
             "group": N_("Group (taxes on the whole document)")}
TARGETS = {"quotes": ("sales_orders", "invoices"), "sales_orders": ("invoices",), "invoices": ()}


@bp.get(links.ROUTES["sales_documents"])
@login_required
def sales_documents(module: str) -> ResponseReturnValue:
    """A module's list, newest first, a page at a time, within the user's scope: by owner, status and a subject's
    beginning; my saved filters, the CSV export and bulk actions (the lists' tools, `staff/_list.html`)."""
    name, user, args = module_of(module), signed_in_user(), request.args
    active = list_tools.active_filter(name, user, args.get("saved"))  # someone else's: 404
    if active is not None and not list_tools.params_of(args):
        return redirect(list_tools.with_query(name, {**active[1], "saved": active[0]}), code=303)
    with state().readers() as db:
        scope = scoping.scope_of(db, user)
        offered = list_filters.choices(db, user, name, scope)
        shown, sort, descending = list_filters.list_query(name, args, user, offered)
        try:
            page = list_records(db, user, name, shown, sort=sort, descending=descending, cursor=args.get("cursor"),
                                size=PAGE_SIZE, scope=scope)
        except ValidationError:
            flash(gettext(LIST_RESTARTED), "info")
            return redirect(module_path(name), code=303)
        minor = {c.code: c.minor_unit for c in db.query(Currency)}
        tools = list_tools.tools(db, user, name, args, scope, offered["owners"], active[0] if active else None)
    return render_template(
        "staff/sales_documents/list.html", module=name, spec=registry.get(name), page=page, args=args,
        here=lambda **changes: _here(name, args, **changes), filtered=list_filters.is_filtered(args),
        owners=offered["owners"], statuses=offered["statuses"], tools=tools,
        money=lambda amount, code: _money(amount, code, minor.get(code, 2)),
    )


def _export(module: str) -> ResponseReturnValue:
    """The list, as its query filters it, every page, as CSV (the page's filter read alike)."""
    user = signed_in_user()
    with state().readers() as db:
        offered = list_filters.choices(db, user, module, scoping.scope_of(db, user))
    return list_tools.export_list(module, *list_filters.list_query(module, request.args, user, offered))


@bp.post(links.ROUTES["sales_saved_filters"])
@login_required
def sales_saved_filters(module: str) -> ResponseReturnValue:
    """Keep the list's filter under a name, then show the list with it."""
    return list_tools.save_filter(module_of(module))


@bp.post(links.ROUTES["sales_saved_filter_rename"])
@login_required
def sales_saved_filter_rename(module: str, filter_id: str) -> ResponseReturnValue:
    """Give one of my saved filters of the list another name."""
    return list_tools.rename_filter(module_of(module), filter_id)


@bp.post(links.ROUTES["sales_saved_filter_delete"])
@login_required
def sales_saved_filter_delete(module: str, filter_id: str) -> ResponseReturnValue:
    """Delete one of my saved filters of the list; the list stays as it was filtered."""
    return list_tools.delete_filter(module_of(module), filter_id)


@bp.get(links.ROUTES["sales_records_export"])
@login_required
def sales_records_export(module: str) -> ResponseReturnValue:
    """The filtered list, every page of it, as a CSV file (streamed), within the user's scope; audited."""
    return _export(module_of(module))


@bp.post(links.ROUTES["sales_records_bulk"])
@login_required
def sales_records_bulk(module: str) -> ResponseReturnValue:
    """Reassign, change the status of, or delete the selected documents: all of them, or none when one is refused
    (invoices one save each: the Paid and Cancel locks, stock given back)."""
    return list_tools.bulk(module_of(module))


def _here(module: str, args: Any, **changes: Any) -> str:
    query = {key: value for key, value in args.items() if value}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return module_path(module) + (f"?{urlencode(query)}" if query else "")


def _money(amount: Any, code: str, minor_unit: int) -> str:
    """An amount in its currency, the page's way: NT$1,250."""
    return "" if amount is None else languages.format_money(amount, code, minor_unit, str(g.get("language", "en")))


@bp.get(links.ROUTES["sales_document"])
@login_required
def sales_document(module: str, number: str, payment_form: PaymentForm | None = None) -> ResponseReturnValue:
    """A document's page: header fields in blocks, its lines, the totals block; an invoice's payments and balance."""
    name, user = module_of(module), signed_in_user()
    language = str(g.get("language", "en"))
    with state().readers() as db:
        found = visible(db, user, name, number)
        shown = record_page(db, user, name, found.id, language=language)
        if shown is None:
            abort(404)
        lines = documents.lines_of(db, found)
        currency = db.get_one(Currency, found.currency_id)
        paid = list(db.scalars(payments.payments_of(found.id))) if name == "invoices" else []
        methods = picklists.values(db, "payment_method") if name == "invoices" else []
        today = dt.datetime.now(company.zone(db)).date()
        sources = _sources(db, user, found)
        refs = _reference_paths(db, [f.ref for block in shown.blocks for f in block.fields if f.ref])
        refs |= {(module_name, source_id): where for module_name, source_id, _n, where in sources}
    if payment_form is None:
        payment_form = PaymentForm(formdata=None, data={"paid_on": today.isoformat()})
    payment_form.method.choices = [("", "—"), *((m, m) for m in methods)]
    blocks = [replace(b, fields=[_worded(f) for f in b.fields]) for b in shown.blocks
              if b.fields and b.fields[0].name != "subtotal"]  # the totals block is drawn from the record
    return render_template(
        "staff/sales_documents/document.html", module=name, spec=registry.get(name), page=shown, blocks=blocks,
        record=found, lines=lines, payments=paid, payment_form=payment_form, convert_form=ConvertForm(formdata=None),
        targets=TARGETS[name] if not _locked(found) else (), sources=sources,
        money=lambda amount: _money(amount, currency.code, currency.minor_unit),
        refs=refs,
    )


def _worded(field: Any) -> Any:
    """A field as worded on the page: the tax mode in words."""
    if field.name == "tax_mode" and field.value in TAX_MODES:
        return replace(field, value=gettext(TAX_MODES[field.value]))
    return field


def _locked(record: Any) -> bool:
    """A cancelled document converts to nothing."""
    return str(record.status) in ("Cancel", "Cancelled")


def _sources(db: Session, user: Any, record: Any) -> list[tuple[str, int, str, str]]:
    """The documents this one was made from that the user may see: (module, id, number, path)."""
    found = []
    for column, module in (("quote_id", "quotes"), ("sales_order_id", "sales_orders")):
        source_id = getattr(record, column, None)
        if source_id is not None:
            source = scoping.fetch(db, user, module, source_id)
            if source is not None:
                number = getattr(source, registry.get(module).number_field)
                found.append((module, source.id, number, document_path(module, number)))
    return found


@bp.post(links.ROUTES["sales_convert"])
@login_required
def sales_convert(module: str, number: str) -> ResponseReturnValue:
    """Make a sales order or an invoice from this document (one click), then show the new one."""
    name, user = module_of(module), signed_in_user()
    form = ConvertForm()
    to = form.to.data if form.validate_on_submit() else None
    if to not in TARGETS[name]:
        abort(400)
    with state().readers() as db:
        record_id = visible(db, user, name, number).id

    def convert(db: Session) -> str:
        source = scoping.fetch(db, user, name, record_id)
        if source is None:
            raise NotFound(number)
        made = conversions.convert(db, source, str(to), Actor.user(user.id)).document
        return str(getattr(made, registry.get(str(to)).number_field))

    try:
        made = write(convert)
    except ValidationError as exc:
        flash(store_message(exc), "error")
        return redirect(document_path(name, number), code=303)
    flash(gettext(CONVERTED, number=made, source=number), "success")
    return redirect(document_path(str(to), made), code=303)


@bp.post(links.ROUTES["sales_payment"])
@login_required
def sales_payment(number: str) -> ResponseReturnValue:
    """Record a payment on an invoice; its errors beside their fields, nothing written."""
    user = signed_in_user()
    with state().readers() as db:
        found = visible(db, user, "invoices", number)
        record_id, currency = found.id, db.get_one(Currency, found.currency_id)
        methods = picklists.values(db, "payment_method")
    form = PaymentForm()
    form.method.choices = [("", "—"), *((m, m) for m in methods)]
    if form.validate_on_submit():
        values = {"paid_on": form.paid_on.data, "amount": (form.amount.data or "").strip(),
                  "method": form.method.data or None, "reference": (form.reference.data or "").strip() or None}

        def pay(db: Session) -> None:
            invoice = scoping.fetch(db, user, "invoices", record_id)
            if not isinstance(invoice, Invoice):
                raise NotFound(number)
            payments.add_payment(db, invoice, values, Actor.user(user.id))

        try:
            write(pay)
        except ValidationError as exc:
            place_error(form, exc, {"paid_on": "paid_on", "status": "amount", "invoice": "amount"})
        else:
            amount = _money(Decimal(str(values["amount"])), currency.code, currency.minor_unit)
            flash(gettext(PAYMENT_SAVED, amount=amount), "success")
            return redirect(document_path("invoices", number) + "#payments", code=303)
    response = make_response(sales_document(module=registry.get("invoices").path, number=number, payment_form=form))
    response.status_code = 422
    return response


@bp.get(links.ROUTES["sales_print"])
@login_required
def sales_print(module: str, number: str) -> ResponseReturnValue:
    """The document as its printable page (HTML) in the page's language: the browser prints it."""
    name, user = module_of(module), signed_in_user()
    with state().readers() as db:
        found = visible(db, user, name, number)
        html = printing.render_html(view_of(db, found, str(g.get("language", "en"))))
    response = make_response(html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


@bp.get(links.ROUTES["sales_pdf"])
@login_required
def sales_pdf(module: str, number: str) -> ResponseReturnValue:
    """The document as a PDF attachment, once its download is in the audit trail (as a document's download)."""
    name, user = module_of(module), signed_in_user()
    with state().readers() as db:
        found = visible(db, user, name, number)
        record_id = found.id
        view = view_of(db, found, str(g.get("language", "en")))
    pdf = printing.write_pdf(printing.render_html(view))

    def audited(db: Session) -> None:
        record = scoping.fetch(db, user, name, record_id)
        if record is None:
            raise NotFound(number)
        audit.log(db, "download", name, record_id, Actor.user(user.id), record_no=view.number)

    write(audited)
    response = make_response(pdf)
    response.headers.update({
        "Content-Type": PDF, "Content-Disposition": content_disposition(printing.file_name(view, "pdf")),
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
    })
    return response


from . import editing as _editing  # noqa: E402, F401 - new, edit, the totals and product suggestions join this blueprint
from . import sending as _sending  # noqa: E402, F401 - "Send to customer" too
