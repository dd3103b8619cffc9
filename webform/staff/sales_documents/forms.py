"""The sales documents' forms: the header with its lines (the editor), a payment, a conversion, a send."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import TOO_LONG

REQUIRED = lazy_gettext("This field is required.")
NEW_LINES = 2  # the empty lines a new document starts with
DATES = {"quotes": ("valid_till",), "sales_orders": ("due_date",), "invoices": ("invoice_date", "due_date")}
CHARGES = ("discount_percent", "discount_amount", "shipping_amount", "adjustment")  # the store's names
DATE_LABELS = {"valid_till": lazy_gettext("Valid till"), "due_date": lazy_gettext("Due date"),
               "invoice_date": lazy_gettext("Invoice date")}


class LineForm(Form):
    """One line: a product by its code or number (the editor's suggestions fill it), quantity, discount, comment."""

    product = StringField(lazy_gettext("Product"), validators=[Length(max=100, message=TOO_LONG)],
                          render_kw={"autocomplete": "off", "placeholder": lazy_gettext("Name or code")})
    quantity = StringField(lazy_gettext("Quantity"), validators=[Length(max=30, message=TOO_LONG)],
                           render_kw={"inputmode": "decimal"})
    list_price = StringField(lazy_gettext("List price"), validators=[Length(max=30, message=TOO_LONG)],
                             render_kw={"inputmode": "decimal", "placeholder": lazy_gettext("Automatic")})
    discount_kind = SelectField(lazy_gettext("Discount"), validate_choice=False, choices=[
        SelectChoice("", lazy_gettext("No discount")), SelectChoice("percent", lazy_gettext("Percent (%)")),
        SelectChoice("amount", lazy_gettext("Amount"))])
    discount_value = StringField(lazy_gettext("Discount"), validators=[Length(max=30, message=TOO_LONG)],
                                 render_kw={"inputmode": "decimal"})
    comment = StringField(lazy_gettext("Comment"), validators=[Length(max=2000, message=TOO_LONG)])

    def is_blank(self) -> bool:
        """A line left empty (the editor's spare rows): not sent to the store."""
        typed = (self.product, self.quantity, self.list_price, self.discount_value, self.comment)
        return not any((f.data or "").strip() for f in typed)


class DocumentForm(FlaskForm):
    """A quote's, order's or invoice's header and lines; its dates are per module (`header_fields`)."""

    subject = StringField(lazy_gettext("Subject"),
                          validators=[DataRequired(REQUIRED), Length(max=255, message=TOO_LONG)])
    account_id = SelectField(lazy_gettext("Organization name"), validators=[DataRequired(REQUIRED)],
                             validate_choice=False)
    contact_id = SelectField(lazy_gettext("Contact name"), validate_choice=False)
    status = SelectField(lazy_gettext("Status"), validate_choice=False)
    owner_id = SelectField(lazy_gettext("Assigned to"), validate_choice=False)
    valid_till = StringField(lazy_gettext("Valid till"), validators=[Optional()], render_kw={"type": "date"})
    invoice_date = StringField(lazy_gettext("Invoice date"), validators=[Optional()], render_kw={"type": "date"})
    due_date = StringField(lazy_gettext("Due date"), validators=[Optional()], render_kw={"type": "date"})
    price_book_id = SelectField(lazy_gettext("Price book"), validate_choice=False)
    tax_mode = SelectField(lazy_gettext("Tax mode"), validate_choice=False, choices=[
        SelectChoice("individual", lazy_gettext("Individual (each product's taxes)")),
        SelectChoice("group", lazy_gettext("Group (taxes on the whole document)"))])
    terms = TextAreaField(lazy_gettext("Terms & conditions"), validators=[Length(max=20_000, message=TOO_LONG)],
                          render_kw={"rows": 3})
    description = TextAreaField(lazy_gettext("Description"), validators=[Length(max=20_000, message=TOO_LONG)],
                                render_kw={"rows": 3})
    discount_percent = StringField(lazy_gettext("Overall discount (%)"),
                                   validators=[Length(max=30, message=TOO_LONG)], render_kw={"inputmode": "decimal"})
    discount_amount = StringField(lazy_gettext("Overall discount (amount)"),
                                  validators=[Length(max=30, message=TOO_LONG)], render_kw={"inputmode": "decimal"})
    shipping_amount = StringField(lazy_gettext("Shipping & handling"), validators=[Length(max=30, message=TOO_LONG)],
                                  render_kw={"inputmode": "decimal", "placeholder": "0"})
    adjustment = StringField(lazy_gettext("Adjustment"), validators=[Length(max=30, message=TOO_LONG)],
                             render_kw={"inputmode": "decimal", "placeholder": "0"})
    lines = FieldList(FormField(LineForm), min_entries=1, max_entries=200)
    number = HiddenField()  # the document being edited: its own tax setting and currency for the totals

    def header_fields(self, module: str) -> list[Any]:
        """The header's fields in the order shown (the module's dates among them)."""
        names = ["subject", "account_id", "contact_id", "status", *DATES[module], "owner_id", "price_book_id",
                 "tax_mode"]
        return [self[name] for name in names]

    def charge_fields(self) -> list[Any]:
        """The document's own amounts beside the totals: overall discount, shipping & handling, adjustment."""
        return [self[name] for name in CHARGES]


class PaymentForm(FlaskForm):
    """A payment received on an invoice."""

    paid_on = StringField(lazy_gettext("Payment date"), validators=[DataRequired(REQUIRED)],
                          render_kw={"type": "date"})
    amount = StringField(lazy_gettext("Amount"), validators=[DataRequired(REQUIRED), Length(max=30, message=TOO_LONG)],
                         render_kw={"inputmode": "decimal"})
    method = SelectField(lazy_gettext("Method"), validate_choice=False)
    reference = StringField(lazy_gettext("Reference"), validators=[Length(max=255, message=TOO_LONG)])


class ConvertForm(FlaskForm):
    """Make a sales order or an invoice from this document."""

    to = HiddenField()


class SendForm(FlaskForm):
    """Email the document's PDF to the customer: to its contact, or the address given."""

    to = StringField(lazy_gettext("Or send it to another address"), validators=[Length(max=320, message=TOO_LONG)],
                     render_kw={"type": "email", "autocomplete": "email"})
