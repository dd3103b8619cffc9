"""The module registry: one declaration per kind of record, read by every part that treats records alike.

Numbering, validation, search, duplicates, personal-data requests, the recycle bin, merge, links and the
CLI look modules up here instead of keeping lists of their own, so a new module (quotes, products, …)
is one `register(Module(...))` beside its model. Importing this file is cheap: models are named, and
loaded on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from crm_store.errors import ValidationError
from crm_store.languages import N_, translate


@dataclass(frozen=True)
class Searchable:
    """What a module's search documents are made of (column names of its model)."""

    name: str  # the name, or a person's family name
    first_name: str | None = None  # people: found in both orders; in Chinese family name first
    company: str | None = None  # a column holding the company's name …
    company_from: str | None = None  # … or a reference whose record's `name` is the company (account_id)
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # E.164 columns, at most two


@dataclass(frozen=True)
class DuplicateKeys:
    """What makes two live records of a module likely the same: shared emails, phones or company key."""

    emails: tuple[str, ...] = ("email",)
    phones: tuple[str, ...] = ()  # E.164 columns
    company_key: str | None = None  # a normalised company name column (accounts.name_key)


# Every field of a person's own record (a lead, a contact) that says who they are or how to reach them.
PERSON_FIELDS = (
    "salutation", "first_name", "email", "secondary_email", "phone", "phone_e164", "mobile", "mobile_e164", "fax",
    "home_phone", "other_phone", "assistant", "assistant_phone", "birthday", "designation", "title", "description",
    "company", "street", "city", "state", "postal_code", "po_box", "mailing_street", "mailing_city", "mailing_state",
    "mailing_postal_code", "mailing_po_box", "website", "email_key", "referrer", "landing_page", "gclid", "fbclid",
)


@dataclass(frozen=True)
class Tie:
    """How a module's record belongs to a person whose own record (a lead, a contact) is elsewhere.

    By default `module.column` points at this module's record: leads.converted_account_id, the account
    made from their lead. With `here`, this module's `column` points at a record of `module`: an
    invoice's contact_id. `module` is a person's module, or one declared earlier whose records are tied
    to the person (an invoice's account_id: the account made from their lead). `when` narrows the tie
    with a SQL condition over both models (the account was created by that conversion, not matched to
    one that existed).
    """

    module: str
    column: str
    here: bool = False
    when: Callable[[], Any] | None = field(default=None, compare=False)


# The parts of an address that locate a person (the country alone says nothing of them: it stays).
ADDRESS_PARTS = ("street", "city", "state", "postal_code", "po_box")


@dataclass(frozen=True)
class Personal:
    """A module's part in personal-data requests: which fields hold a person's data, and how a record is
    tied to a person.

    A person's own record (`Module.person`) is found by its email and loses every field listed; a tied
    record loses the fields listed and keeps the rest (an invoice keeps its amounts), its title losing
    only the person's name (an account named after them becomes "[erased]"; "Acme" stays). A tie from
    this module to a person's own record (an invoice's contact_id) is cleared.

    Addresses are address blocks, named by their columns' prefix ("bill_" for bill_street, bill_city, …;
    "" for street, city, …). `addresses` are the person's own: read from their records and the records
    tied to them. `copied_addresses` may hold a copy of one (a document's, copied from its account when
    saved, or typed): a block whose street or PO box is one of the person's loses its ADDRESS_PARTS, and
    another (the company's) stays. `scrubbed` are free texts that keep everything but the person's name,
    email and phones.
    """

    fields: tuple[str, ...] = PERSON_FIELDS
    ties: tuple[Tie, ...] = ()
    title_key: str | None = None  # a column derived from the title (accounts.name_key): cleared when it changes
    addresses: tuple[str, ...] = ()
    copied_addresses: tuple[str, ...] = ()
    scrubbed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Module:
    """One kind of record: its model, number, names, rules and the roles it plays."""

    name: str  # plural, as the audit trail, the CLI and the URL know it: "leads"
    model_ref: type | str  # the model class, or its name in `crm_store.models`
    prefix: str  # of record numbers: LEA1, ACC1, …
    singular: str  # "lead"; the number column is `<singular>_no`
    label: str  # English names, translated when shown
    label_plural: str
    title: str  # the column a record is listed by (name, last_name, title)
    url_path: str = ""  # the record pages' path segment: /leads/LEA12 (default: the name)
    required: tuple[str, ...] = ()
    picklists: Mapping[str, str] = field(default_factory=dict)  # field -> picklist
    references: Mapping[str, type | str] = field(default_factory=dict)  # field -> model (class or name)
    editable: bool = True  # created and changed through records.lifecycle (documents have their own path)
    searchable: Searchable | None = None
    duplicates: DuplicateKeys | None = None
    person: bool = False  # a person: found and erased by email in personal-data requests
    personal: Personal | None = None  # where its records hold a person's data (a person's module: PERSON_FIELDS)
    link_column: str | None = None  # how activities, notes and documents point at it (lead_id)
    mergeable: bool = False
    # A SQL condition on the model for an open record (an open lead, an open deal); None: always open.
    open_when: Callable[[], Any] | None = field(default=None, compare=False)
    # Live records that duplicate detection leaves out besides deleted ones (converted leads).
    settled_when: Callable[[], Any] | None = field(default=None, compare=False)

    @cached_property
    def model(self) -> Any:
        """The SQLAlchemy model (loaded on first use)."""
        if isinstance(self.model_ref, str):
            return _model(self.model_ref)
        return self.model_ref

    @property
    def number_field(self) -> str:
        """The column holding the record number: lead_no, account_no, …"""
        return f"{self.singular}_no"

    @property
    def path(self) -> str:
        """The URL path segment of the module's record pages."""
        return self.url_path or self.name

    def reference_models(self) -> dict[str, Any]:
        """Field -> model of the references checked before a write."""
        return {f: _model(m) if isinstance(m, str) else m for f, m in self.references.items()}

    def personal_data(self) -> Personal | None:
        """Its part in personal-data requests: declared, or every person field for a module of people."""
        if self.personal is not None:
            return self.personal
        return Personal() if self.person else None

    def display_label(self, language: str, plural: bool = False) -> str:
        """The module's name in a language: "lead" / "潛在客戶"."""
        return translate(language, self.label_plural if plural else self.label)


def _model(name: str) -> Any:
    from crm_store import models

    return getattr(models, name)


_MODULES: dict[str, Module] = {}


def register(module: Module) -> Module:
    """Add a module (or replace one of the same name); return it."""
    clash = next((m for m in _MODULES.values() if m.prefix == module.prefix and m.name != module.name), None)
    if clash is not None:
        raise ValueError(f"prefix {module.prefix} is taken by {clash.name}")
    _MODULES[module.name] = module
    return module


def unregister(name: str) -> None:
    """Remove a module (tests that declare a throwaway one)."""
    _MODULES.pop(name, None)


def get(name: str) -> Module:
    """Return a module by name; fail naming the field for an unknown one."""
    try:
        return _MODULES[name]
    except KeyError:
        raise ValidationError("module", f"unknown module {name!r}") from None


def modules() -> list[Module]:
    """Every module, in the order they were declared."""
    return list(_MODULES.values())


def names(**role: bool) -> list[str]:
    """Names of the modules that play a role: names(searchable=True), names(editable=True), names()."""
    return [m.name for m in _select(**role)]


def _select(**role: bool) -> Iterator[Module]:
    for module in _MODULES.values():
        if all(bool(getattr(module, key)) == wanted for key, wanted in role.items()):
            yield module


def of_model(model: type) -> Module:
    """Return the module of a model class (or of a record's class)."""
    for module in _MODULES.values():
        if module.model is model:
            return module
    raise ValidationError("module", f"{model.__name__} is not a registered module")


def of_record(record: Any) -> Module:
    """Return the module a record belongs to."""
    return of_model(type(record))


def by_number(number: str) -> Module | None:
    """Return the module whose prefix a record number carries (LEA12 -> leads), or None."""
    text = number.strip().upper()
    for module in sorted(_MODULES.values(), key=lambda m: -len(m.prefix)):
        if text.startswith(module.prefix) and text[len(module.prefix):].isdigit():
            return module
    return None


def _open_lead() -> Any:
    from crm_store.pipeline.leads import open_lead_condition

    return open_lead_condition()


def _open_deal() -> Any:
    from crm_store.models import Opportunity

    return Opportunity.closed_at.is_(None)


def _converted_lead() -> Any:
    from crm_store.models import Lead

    return Lead.converted_at.is_not(None)


def _made_by_conversion() -> Any:
    """The account was created by the lead's conversion (both carry its time), not matched to one that existed."""
    from crm_store.models import Account, Lead

    return Account.created_at == Lead.converted_at


ACCOUNT_PERSONAL_FIELDS = (  # what conversion copies from a lead (crm_store/pipeline/conversion.py TO_ACCOUNT)
    "email", "secondary_email", "phone", "phone_e164", "other_phone", "fax", "website", "description",
    "bill_street", "bill_city", "bill_state", "bill_postal_code", "bill_po_box",
    "ship_street", "ship_city", "ship_state", "ship_postal_code", "ship_po_box",
)


register(Module(
    "leads", "Lead", "LEA", "lead", N_("lead"), N_("leads"), title="last_name",
    required=("last_name",),
    picklists={"salutation": "salutation", "lead_source": "lead_source", "industry": "industry",
               "status": "lead_status", "rating": "rating"},
    references={"campaign_id": "Campaign", "web_form_id": "WebForm"},
    searchable=Searchable("last_name", first_name="first_name", company="company",
                          emails=("email", "secondary_email"), phones=("phone_e164", "mobile_e164")),
    duplicates=DuplicateKeys(phones=("phone_e164", "mobile_e164")),
    person=True, personal=Personal(PERSON_FIELDS, addresses=("",)), link_column="lead_id", mergeable=True,
    open_when=_open_lead,
    settled_when=_converted_lead,
))
register(Module(
    "accounts", "Account", "ACC", "account", N_("account"), N_("accounts"), title="name",
    required=("name",),
    picklists={"rating": "rating", "industry": "industry", "account_type": "account_type"},
    references={"parent_id": "Account"},
    searchable=Searchable("name", emails=("email", "secondary_email"), phones=("phone_e164",)),
    duplicates=DuplicateKeys(phones=("phone_e164",), company_key="name_key"),
    personal=Personal(ACCOUNT_PERSONAL_FIELDS, ties=(Tie("leads", "converted_account_id", when=_made_by_conversion),),
                      title_key="name_key", addresses=("bill_", "ship_")),
    link_column="account_id", mergeable=True,
))
register(Module(
    "contacts", "Contact", "CON", "contact", N_("contact"), N_("contacts"), title="last_name",
    required=("last_name",),
    picklists={"salutation": "salutation", "lead_source": "lead_source"},
    references={"account_id": "Account", "reports_to_id": "Contact", "campaign_id": "Campaign"},
    searchable=Searchable("last_name", first_name="first_name", company_from="account_id",
                          emails=("email", "secondary_email"), phones=("phone_e164", "mobile_e164")),
    duplicates=DuplicateKeys(phones=("phone_e164", "mobile_e164")),
    person=True,
    personal=Personal(PERSON_FIELDS, ties=(Tie("leads", "converted_contact_id"),), addresses=("mailing_",)),
    link_column="contact_id", mergeable=True,
))
register(Module(
    "opportunities", "Opportunity", "POT", "opportunity", N_("opportunity"), N_("opportunities"), title="name",
    required=("name", "expected_close_date"),
    picklists={"opportunity_type": "opportunity_type", "lead_source": "lead_source", "lost_reason": "lost_reason"},
    references={"account_id": "Account", "contact_id": "Contact", "campaign_id": "Campaign"},
    searchable=Searchable("name", company_from="account_id"),
    link_column="opportunity_id", mergeable=True, open_when=_open_deal,
))
register(Module(
    "campaigns", "Campaign", "CAM", "campaign", N_("campaign"), N_("campaigns"), title="name",
    required=("name",),
    picklists={"campaign_type": "campaign_type", "status": "campaign_status",
               "expected_response": "expected_response"},
))
register(Module(
    "documents", "Document", "DOC", "document", N_("document"), N_("documents"), title="title", editable=False,
))
register(Module(
    "products", "Product", "PRO", "product", N_("product"), N_("products"), title="name",
    required=("name",),
    picklists={"category": "product_category", "manufacturer": "manufacturer", "usage_unit": "usage_unit"},
    references={"image_document_id": "Document"},
    searchable=Searchable("name", company="product_code"),  # the code shows as the result's second line
    link_column="product_id",
))
register(Module(
    "price_books", "PriceBook", "PB", "price_book", N_("price book"), N_("price books"), title="name",
    url_path="price-books", required=("name",),
    searchable=Searchable("name"),  # the catalogue is everyone's: found by any user (`staff.scope.EVERYONE`)
))
# Quotes, sales orders and invoices: their lines, totals and stock are crm_store.sales's. A document naming the
# person as its contact, or made out to the account made from their lead, is kept (invoices must be, by law; quotes
# and orders are the company's sales history and the chain to its invoices) with its numbers, dates, amounts and
# lines, and loses the person: the contact link, the addresses copied from them, their name in its texts.
_SALES_DOCUMENT = Personal(
    fields=(), ties=(Tie("contacts", "contact_id", here=True), Tie("accounts", "account_id", here=True)),
    copied_addresses=("bill_", "ship_"), scrubbed=("description", "terms"),
)
register(Module(
    "quotes", "Quote", "QUO", "quote", N_("quote"), N_("quotes"), title="subject",
    required=("subject", "account_id"),
    picklists={"status": "quote_stage", "carrier": "carrier"},
    references={"account_id": "Account", "contact_id": "Contact", "opportunity_id": "Opportunity",
                "price_book_id": "PriceBook"},
    searchable=Searchable("subject", company_from="account_id"),
    personal=_SALES_DOCUMENT, link_column="quote_id",
))
register(Module(
    "sales_orders", "SalesOrder", "SO", "sales_order", N_("sales order"), N_("sales orders"), title="subject",
    url_path="sales-orders", required=("subject", "account_id"),
    picklists={"status": "sales_order_status", "carrier": "carrier"},
    references={"account_id": "Account", "contact_id": "Contact", "opportunity_id": "Opportunity",
                "price_book_id": "PriceBook", "quote_id": "Quote"},
    searchable=Searchable("subject", company_from="account_id"),
    personal=_SALES_DOCUMENT, link_column="sales_order_id",
))
register(Module(
    "invoices", "Invoice", "INV", "invoice", N_("invoice"), N_("invoices"), title="subject",
    required=("subject", "account_id", "invoice_date"),
    picklists={"status": "invoice_status"},
    references={"account_id": "Account", "contact_id": "Contact", "opportunity_id": "Opportunity",
                "price_book_id": "PriceBook", "sales_order_id": "SalesOrder", "quote_id": "Quote"},
    searchable=Searchable("subject", company_from="account_id"),
    personal=_SALES_DOCUMENT, link_column="invoice_id",
))
