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


def layout(module: str) -> tuple[Block, ...]:
    """The blocks of a module's record page (none for a module without one)."""
    return LAYOUTS.get(module, ())


def label(module: str, field: str, language: str = "en") -> str:
    """A field's label in a language; a field on no page is named by its column ("phone_e164" -> "phone e164")."""
    for block in layout(module):
        for f in block.fields:
            if f.name == field:
                return translate(language, f.label)
    return field.replace("_", " ")
