"""How a record's fields are laid out on its page: Vtiger's blocks, in Vtiger's order, with their labels.

Labels are English and translated where they are shown (`label(…, language)`); a field's `kind` tells the page
how to show its value: an email as a mailto: link, a phone as a tel: link, a reference by the name of what it
points at, an amount in its currency.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_store.languages import N_, translate

KINDS = ("text", "textarea", "email", "phone", "url", "date", "datetime", "money", "number", "percent", "bool",
         "picklist", "reference", "owner")


@dataclass(frozen=True)
class Field:
    """A field on a record page."""

    name: str
    label: str
    kind: str = "text"


@dataclass(frozen=True)
class Block:
    """A titled group of fields."""

    title: str
    fields: tuple[Field, ...]


def _f(name: str, label: str, kind: str = "text") -> Field:
    return Field(name, label, kind)


NUMBER = N_("Number")
OWNER = _f("owner_id", N_("Assigned to"), "owner")
SYSTEM = (_f("created_at", N_("Created"), "datetime"), _f("updated_at", N_("Modified"), "datetime"),
          _f("source", N_("Source")))
DESCRIPTION = Block(N_("Description Details"), (_f("description", N_("Description"), "textarea"),))
PERSON = (_f("salutation", N_("Salutation"), "picklist"), _f("first_name", N_("First name")),
          _f("last_name", N_("Last name")))
REACH = (_f("email", N_("Email"), "email"), _f("secondary_email", N_("Other email"), "email"),
         _f("phone", N_("Phone"), "phone"), _f("mobile", N_("Mobile"), "phone"), _f("fax", N_("Fax"), "phone"))
SOURCE = _f("lead_source", N_("Lead source"), "picklist")
CAMPAIGN = _f("campaign_id", N_("Campaign"), "reference")
OPT_OUT = _f("email_opt_out", N_("Email opt-out"), "bool")


def _address(prefix: str, labels: tuple[str, str, str, str, str, str]) -> tuple[Field, ...]:
    names = ("street", "po_box", "city", "state", "postal_code", "country")
    return tuple(_f(f"{prefix}{name}", label, "textarea" if name == "street" else "text")
                 for name, label in zip(names, labels, strict=True))


LAYOUTS: dict[str, tuple[Block, ...]] = {
    "leads": (
        Block(N_("Lead Details"), (
            *PERSON, _f("lead_no", NUMBER), _f("company", N_("Company")), _f("designation", N_("Job title")),
            SOURCE, _f("industry", N_("Industry"), "picklist"),
            _f("annual_revenue", N_("Annual revenue"), "money"), _f("employees", N_("Employees"), "number"),
            *REACH, _f("website", N_("Website"), "url"), _f("status", N_("Lead status"), "picklist"),
            _f("rating", N_("Rating"), "picklist"), OPT_OUT, CAMPAIGN, OWNER, *SYSTEM,
        )),
        Block(N_("Address Details"), _address("", (
            N_("Street"), N_("PO box"), N_("City"), N_("State / province"), N_("Postal code"), N_("Country")))),
        DESCRIPTION,
        Block(N_("Web Form Details"), (
            _f("web_form_id", N_("Web form"), "reference"), _f("utm_source", N_("UTM source")),
            _f("utm_medium", N_("UTM medium")), _f("utm_campaign", N_("UTM campaign")),
            _f("utm_term", N_("UTM term")), _f("utm_content", N_("UTM content")),
            _f("gclid", N_("Google click ID")), _f("fbclid", N_("Facebook click ID")),
            _f("referrer", N_("Referrer"), "url"), _f("landing_page", N_("Landing page"), "url"),
            _f("consent_text", N_("Consent"), "textarea"), _f("consent_at", N_("Consent given"), "datetime"),
        )),
    ),
    "accounts": (
        Block(N_("Organization Details"), (
            _f("name", N_("Organization name")), _f("account_no", NUMBER), _f("website", N_("Website"), "url"),
            _f("phone", N_("Phone"), "phone"), _f("ticker_symbol", N_("Ticker symbol")),
            _f("fax", N_("Fax"), "phone"), _f("parent_id", N_("Member of"), "reference"),
            _f("other_phone", N_("Other phone"), "phone"), _f("employees", N_("Employees"), "number"),
            _f("email", N_("Email"), "email"), _f("secondary_email", N_("Other email"), "email"),
            _f("ownership", N_("Ownership")), _f("industry", N_("Industry"), "picklist"),
            _f("rating", N_("Rating"), "picklist"), _f("account_type", N_("Type"), "picklist"),
            _f("sic_code", N_("SIC code")), OPT_OUT, _f("annual_revenue", N_("Annual revenue"), "money"), OWNER,
            _f("notify_owner", N_("Notify owner"), "bool"), *SYSTEM,
        )),
        Block(N_("Address Details"), (
            *_address("bill_", (N_("Billing street"), N_("Billing PO box"), N_("Billing city"),
                                N_("Billing state / province"), N_("Billing postal code"), N_("Billing country"))),
            *_address("ship_", (N_("Shipping street"), N_("Shipping PO box"), N_("Shipping city"),
                                N_("Shipping state / province"), N_("Shipping postal code"),
                                N_("Shipping country"))),
        )),
        DESCRIPTION,
    ),
    "contacts": (
        Block(N_("Contact Details"), (
            *PERSON, _f("contact_no", NUMBER), _f("phone", N_("Office phone"), "phone"),
            _f("account_id", N_("Organization name"), "reference"), _f("mobile", N_("Mobile"), "phone"), SOURCE,
            _f("home_phone", N_("Home phone"), "phone"), _f("title", N_("Job title")),
            _f("other_phone", N_("Other phone"), "phone"), _f("department", N_("Department")),
            _f("fax", N_("Fax"), "phone"), _f("email", N_("Email"), "email"),
            _f("birthday", N_("Birthday"), "date"), _f("assistant", N_("Assistant")),
            _f("reports_to_id", N_("Reports to"), "reference"),
            _f("assistant_phone", N_("Assistant phone"), "phone"),
            _f("secondary_email", N_("Other email"), "email"), _f("do_not_call", N_("Do not call"), "bool"),
            OPT_OUT, CAMPAIGN, OWNER, *SYSTEM,
        )),
        Block(N_("Address Details"), _address("mailing_", (
            N_("Mailing street"), N_("Mailing PO box"), N_("Mailing city"), N_("Mailing state / province"),
            N_("Mailing postal code"), N_("Mailing country")))),
        DESCRIPTION,
    ),
    "opportunities": (
        Block(N_("Opportunity Details"), (
            _f("name", N_("Opportunity name")), _f("opportunity_no", NUMBER), _f("amount", N_("Amount"), "money"),
            _f("account_id", N_("Organization name"), "reference"),
            _f("contact_id", N_("Contact name"), "reference"),
            _f("expected_close_date", N_("Expected close date"), "date"),
            _f("opportunity_type", N_("Type"), "picklist"), _f("next_step", N_("Next step")), SOURCE,
            _f("stage_id", N_("Sales stage"), "reference"), OWNER,
            _f("probability", N_("Probability (%)"), "percent"), CAMPAIGN,
            _f("sales_process_id", N_("Sales process"), "reference"),
            _f("lost_reason", N_("Lost reason"), "picklist"),
            _f("lost_reason_detail", N_("Lost reason details"), "textarea"), *SYSTEM,
        )),
        DESCRIPTION,
    ),
}



def _document(title: str, number: str, status: str, own: tuple[Field, ...]) -> tuple[Block, ...]:
    """A quote's, order's or invoice's blocks (Vtiger's): details, addresses, terms, description, totals."""
    return (
        Block(title, (
            _f("subject", N_("Subject")), _f(number, NUMBER), _f("status", status, "picklist"), *own,
            _f("opportunity_id", N_("Opportunity name"), "reference"),
            _f("contact_id", N_("Contact name"), "reference"), _f("account_id", N_("Organization name"), "reference"),
            _f("currency_id", N_("Currency"), "reference"), _f("conversion_rate", N_("Conversion rate"), "number"),
            _f("price_book_id", N_("Price book"), "reference"), _f("tax_mode", N_("Tax mode")),
            _f("prices_include_tax", N_("Prices include tax"), "bool"), OWNER, *SYSTEM,
        )),
        LAYOUTS["accounts"][1],  # billing and shipping address, labelled as an account's
        Block(N_("Terms & Conditions"), (_f("terms", N_("Terms & conditions"), "textarea"),)),
        DESCRIPTION,
        Block(N_("Totals"), (
            _f("subtotal", N_("Items total"), "money"), _f("discount_percent", N_("Discount (%)"), "percent"),
            _f("discount_amount", N_("Discount amount"), "money"), _f("overall_discount", N_("Discount"), "money"),
            _f("shipping_amount", N_("Shipping & handling"), "money"),
            _f("shipping_tax", N_("Tax on shipping"), "money"), _f("pre_tax_total", N_("Pre-tax total"), "money"),
            _f("tax_total", N_("Tax"), "money"), _f("adjustment", N_("Adjustment"), "money"),
            _f("grand_total", N_("Grand total"), "money"), _f("taxes", N_("Taxes")),
            _f("shipping_taxes", N_("Taxes on shipping")),
        )),
    )


CARRIER = _f("carrier", N_("Carrier"), "picklist")
ORDER_REFERENCES = (_f("purchase_order", N_("Purchase order")), _f("customer_no", N_("Customer no.")))
# Products, price books and the sales documents: their fields' labels (in the audit trail, the timeline), in
# Vtiger's blocks, for their pages to come (issue 16 part 2 moves them into LAYOUTS).
COMING: dict[str, tuple[Block, ...]] = {
    "products": (
        Block(N_("Product Details"), (
            _f("name", N_("Product name")), _f("product_no", NUMBER), _f("product_code", N_("Part number")),
            _f("product_type", N_("Product type")), _f("active", N_("Product active"), "bool"),
            _f("category", N_("Product category"), "picklist"), _f("manufacturer", N_("Manufacturer"), "picklist"),
            _f("image_document_id", N_("Product image"), "reference"), OWNER, *SYSTEM,
        )),
        Block(N_("Pricing Information"), (
            _f("unit_price", N_("Unit price"), "money"), _f("currency_id", N_("Currency"), "reference"),
        )),
        Block(N_("Stock Information"), (
            _f("usage_unit", N_("Usage unit"), "picklist"), _f("qty_in_stock", N_("Qty in stock"), "number"),
            _f("reorder_level", N_("Reorder level"), "number"),
        )),
        Block(N_("Specifications"), (_f("specifications", N_("Specifications")),)),
        DESCRIPTION,
    ),
    "price_books": (
        Block(N_("Price Book Details"), (
            _f("name", N_("Price book name")), _f("price_book_no", NUMBER), _f("active", N_("Active"), "bool"),
            _f("currency_id", N_("Currency"), "reference"), OWNER, *SYSTEM,
        )),
        DESCRIPTION,
    ),
    "quotes": _document(N_("Quote Details"), "quote_no", N_("Quote stage"), (
        _f("valid_till", N_("Valid till"), "date"), CARRIER)),
    "sales_orders": _document(N_("Sales Order Details"), "sales_order_no", N_("Status"), (
        _f("quote_id", N_("Quote"), "reference"), _f("due_date", N_("Due date"), "date"), CARRIER,
        *ORDER_REFERENCES)),
    "invoices": _document(N_("Invoice Details"), "invoice_no", N_("Status"), (
        _f("invoice_date", N_("Invoice date"), "date"), _f("due_date", N_("Due date"), "date"),
        _f("sales_order_id", N_("Sales order"), "reference"), _f("quote_id", N_("Quote"), "reference"),
        *ORDER_REFERENCES, _f("received", N_("Amount received"), "money"), _f("balance", N_("Balance"), "money"),
        _f("stock_deducted", N_("Stock deducted"), "bool"))),
}


LAYOUTS |= {name: COMING.pop(name) for name in ("quotes", "sales_orders", "invoices")}  # their pages (issue 17)


def layout(module: str) -> tuple[Block, ...]:
    """The blocks of a module's record page (none for a module without one)."""
    return LAYOUTS.get(module, ())


def label(module: str, field: str, language: str = "en") -> str:
    """A field's label in a language; a field on no page is named by its column ("phone_e164" -> "phone e164")."""
    for block in (*layout(module), *COMING.get(module, ())):
        for f in block.fields:
            if f.name == field:
                return translate(language, f.label)
    return field.replace("_", " ")
