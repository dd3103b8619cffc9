"""The line editor's form read as the store takes it (`documents.prepare`/`create`/`update`), the store's totals of
the unsaved form, and a store error put beside the field — on its line — that it names."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, User
from crm_store.sales import documents, headers, line_items
from crm_store.sales.totals import Totals

from ..forms import place_error, store_message
from .forms import CHARGES, DATES, DocumentForm

HEADER = ("subject", "account_id", "contact_id", "status", "owner_id", "price_book_id", "tax_mode", "terms",
          "description")
IDS = ("account_id", "contact_id", "owner_id", "price_book_id")
LINE_FIELDS = ("product", "quantity", "list_price", "discount_kind", "discount_value", "comment")
ALIASES = {"discount": "discount_value", "lines": "product", "currency": "price_book_id", "taxes": "tax_mode",
           "invoice": "subject"}
NOT_OFFERED = N_("Choose one from the list.")
ON_LINE = N_("Line %(line)s, %(field)s: %(message)s")


@dataclass(frozen=True)
class Preview:
    """The store's totals of an unsaved form (None while it has an error), the currency to show them in."""

    totals: Totals | None
    currency: str
    minor_unit: int
    lines: list[dict[str, Any]]  # each line's description beside its computed amounts
    error: str | None = None
    tax_mode: str = "individual"
    prices_include_tax: bool = False


def header_values(form: DocumentForm, module: str) -> dict[str, Any]:
    """The header as the store takes it: text stripped, empty as None, ids as numbers; the overall discount,
    shipping and adjustment as typed (the store checks them; an empty adjustment is 0)."""
    values: dict[str, Any] = {}
    for name in (*HEADER, *DATES[module], *CHARGES):
        raw = form[name].data
        value = raw.strip() if isinstance(raw, str) else raw
        if value in ("", None):
            value = None
        elif name in IDS and str(value).isdigit():
            value = int(value)
        values[name] = value
    return values


def entered_lines(form: DocumentForm) -> tuple[list[dict[str, Any]], list[int]]:
    """The lines typed (blank ones left out) as the store takes them, and each one's index in the form."""
    lines, where = [], []
    for index, entry in enumerate(form.lines.entries):
        line = entry.form
        if line.is_blank():
            continue
        lines.append({name: (line[name].data or "").strip() or None for name in LINE_FIELDS})
        where.append(index)
    return lines, where


def place(form: DocumentForm, exc: ValidationError, where: list[int]) -> str:
    """Put a store error beside its field: on its line when it names one (`row`, counted from 1), else the header's.
    Return it in words for the totals block, naming the field (and the line)."""
    name = ALIASES.get(exc.field, exc.field)
    message = store_message(exc)
    if exc.row is not None and 0 < exc.row <= len(where):
        line = form.lines.entries[where[exc.row - 1]].form
        field = line._fields.get(name) or line.product
        field.errors = [*field.errors, message]
        return gettext(ON_LINE, line=where[exc.row - 1] + 1, field=field.label.text, message=message)
    if exc.field == "lines" and form.lines.entries:
        first = form.lines.entries[0].form.product
        first.errors = [*first.errors, message]
        return message
    place_error(form, exc, ALIASES)
    field = form._fields.get(name)
    return f"{field.label.text}: {message}" if field is not None else message


def preview(db: Session, module: str, form: DocumentForm, record: Any | None) -> Preview:
    """The totals the store computes for the form as it stands (an edited document keeps its tax setting)."""
    values = header_values(form, module)
    if record is not None:
        values["currency"] = record.currency_id
    values["subject"] = values["subject"] or "—"  # the totals do not depend on it (saving asks for it)
    lines, where = entered_lines(form)
    if not lines:
        return Preview(None, *_currency(db, values, record), [])
    include = bool(record.prices_include_tax) if record is not None else None
    try:
        clean, draft = documents.prepare(db, module, values, lines, prices_include_tax=include)
        if record is not None:
            draft = _own_rates(record, clean, draft)
        totals = documents.compute_totals(db, clean, draft)
    except ValidationError as exc:
        return Preview(None, *_currency(db, values, record), [], place(form, exc, where))
    currency = db.get_one(Currency, clean["currency_id"])
    shown = [{"description": e.description, "quantity": e.line.quantity, "list_price": e.line.list_price,
              "amounts": t} for e, t in zip(draft.entries, totals.lines, strict=True)]
    return Preview(totals, currency.code, currency.minor_unit, shown, tax_mode=clean["tax_mode"],
                   prices_include_tax=bool(clean["prices_include_tax"]))


def _own_rates(record: Any, clean: dict[str, Any], draft: documents.Draft) -> documents.Draft:
    """An edited document's rates as `documents.update` applies them: the shipping taxes it was saved with and,
    while it stays in group tax mode, its group taxes (the editor does not choose them)."""
    group = draft.group_taxes
    if clean["tax_mode"] == "group" and record.tax_mode == "group":
        group = line_items.rates_of(record.taxes)
    return replace(draft, group_taxes=group, shipping_taxes=line_items.rates_of(record.shipping_taxes))


def _currency(db: Session, values: dict[str, Any], record: Any | None) -> tuple[str, int]:
    """The currency the totals would be in, for an empty block (the company's when nothing says otherwise)."""
    found: Currency | None
    try:
        found = headers.currency(db, record.currency_id if record else None, values.get("price_book_id"))
    except ValidationError:
        found = db.scalar(select(Currency).order_by(Currency.id))
    return (found.code, found.minor_unit) if found else ("", 2)


def choices_kept(form: DocumentForm, user: User) -> bool:
    """Whether the owner, account and contact picked are among those offered (the user sees them); else say so."""
    ok = True
    for field in (form.owner_id, form.account_id, form.contact_id):
        picked = field.data or (str(user.id) if field is form.owner_id else "")
        if picked and picked not in {key for key, _ in field.choices or ()}:
            field.errors = [*field.errors, gettext(NOT_OFFERED)]
            ok = False
    return ok
