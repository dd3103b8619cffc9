"""The catalogue's forms: a product, a price book, a price in a book, a stock adjustment.

Fields are named as the store names them (`crm_store.sales.products`, `price_books`, `stock`), so its errors
land beside the field that is wrong (`place_error`). Values go to the store as typed: it checks them.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import TOO_LONG

REQUIRED = lazy_gettext("This field is required.")
DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}
TEXT_FIELDS = ("name", "product_code", "category", "manufacturer", "usage_unit", "description")


class ProductForm(FlaskForm):
    """A product or service; its stock only when it is added (later changes are adjustments, with a reason)."""

    name = StringField(lazy_gettext("Product name"),
                       validators=[DataRequired(REQUIRED), Length(max=255, message=TOO_LONG)])
    product_code = StringField(lazy_gettext("Product code"), validators=[Optional(), Length(max=100, message=TOO_LONG)])
    product_type = SelectField(lazy_gettext("Type"), validate_choice=False)
    category = SelectField(lazy_gettext("Category"), validate_choice=False)
    manufacturer = SelectField(lazy_gettext("Manufacturer"), validate_choice=False)
    unit_price = StringField(lazy_gettext("Unit price"), render_kw=DECIMAL)
    currency = SelectField(lazy_gettext("Currency"), validate_choice=False)
    usage_unit = SelectField(lazy_gettext("Usage unit"), validate_choice=False)
    qty_in_stock = StringField(lazy_gettext("Quantity in stock"), render_kw=DECIMAL)
    reorder_level = StringField(lazy_gettext("Reorder level"), render_kw=DECIMAL)
    taxes = SelectMultipleField(lazy_gettext("Taxes"), validate_choice=False, widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())
    active = BooleanField(lazy_gettext("Active: documents may use it"))
    specifications = TextAreaField(lazy_gettext("Specifications"), render_kw={"rows": 4},
                                   validators=[Length(max=60_000, message=TOO_LONG)])
    description = TextAreaField(lazy_gettext("Description"), render_kw={"rows": 4},
                                validators=[Length(max=20_000, message=TOO_LONG)])

    def values(self, *, adding: bool) -> dict[str, Any]:
        """The values as the store takes them: empty text as None, the taxes by id, specifications as pairs."""
        found: dict[str, Any] = {key: _text(self._fields[key].data) for key in TEXT_FIELDS}
        found |= {"unit_price": _text(self.unit_price.data), "reorder_level": _text(self.reorder_level.data),
                  "product_type": self.product_type.data, "currency": self.currency.data or None,
                  "active": bool(self.active.data),
                  "taxes": [int(t) for t in self.taxes.data or () if str(t).isdigit()],
                  "specifications": specification_pairs(self.specifications.data or "")}
        if adding:
            found["qty_in_stock"] = _text(self.qty_in_stock.data)
        return found


class PriceBookForm(FlaskForm):
    """A price book: its name, currency, whether documents may use it."""

    name = StringField(lazy_gettext("Price book name"),
                       validators=[DataRequired(REQUIRED), Length(max=255, message=TOO_LONG)])
    currency = SelectField(lazy_gettext("Currency"), validate_choice=False)
    active = BooleanField(lazy_gettext("Active: documents may use it"))
    description = TextAreaField(lazy_gettext("Description"), render_kw={"rows": 3},
                                validators=[Length(max=20_000, message=TOO_LONG)])

    def values(self) -> dict[str, Any]:
        """The values as the store takes them."""
        found = {"name": _text(self.name.data), "active": bool(self.active.data),
                 "description": _text(self.description.data)}
        if "currency" in self._fields:  # chosen when the book is added, never changed
            found["currency"] = self._fields["currency"].data or None
        return found


class PriceForm(FlaskForm):
    """Set a product's list price in a price book: the product by number or code (on a product's page, the book)."""

    product = StringField(lazy_gettext("Product (number or code)"), validators=[Length(max=100, message=TOO_LONG)])
    price_book = SelectField(lazy_gettext("Price book"), validate_choice=False)
    list_price = StringField(lazy_gettext("List price"), render_kw=DECIMAL)


class StockForm(FlaskForm):
    """Add stock received (a positive quantity) or take out stock counted missing (a negative one), with why."""

    by = StringField(lazy_gettext("Change by"), render_kw={**DECIMAL, "inputmode": "text"})
    reason = StringField(lazy_gettext("Reason"), validators=[Length(max=255, message=TOO_LONG)])
    next = HiddenField()


IMAGE_FIELD = "image"  # the file input, drawn by the template (`request.files[IMAGE_FIELD]`)


class ImageForm(FlaskForm):
    """A product's picture: only its CSRF token is a field; the file is `request.files[IMAGE_FIELD]`."""


def specification_pairs(text: str) -> list[tuple[str, str]]:
    """"Name: value" lines as pairs, in order (blank lines skipped; a line without a colon is a name, no value)."""
    pairs = []
    for line in text.splitlines():
        if line.strip():
            name, _, value = line.partition(":")
            pairs.append((name.strip(), value.strip()))
    return pairs


def specification_text(specifications: list[dict[str, Any]] | None) -> str:
    """Stored specifications as the form's "Name: value" lines."""
    return "\n".join(f"{s['name']}: {s['value']}" for s in specifications or ())


def _text(value: Any) -> str | None:
    text = (value or "").strip() if isinstance(value, str) else value
    return text or None
