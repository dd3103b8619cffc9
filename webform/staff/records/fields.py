"""Which fields each module's create and edit form has: the ones a rep fills, labelled as on the record page.

Labels are the record page's (`crm_store.records.blocks`), already in the catalogue; a `picklist` field is a
select of that picklist's values (`crm_store.settings.picklists`).
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_store.languages import N_


@dataclass(frozen=True)
class FormField:
    """One field of a record form: its column, English label, kind, and picklist (for a select)."""

    name: str
    label: str
    kind: str = "text"  # text, email, phone, url, textarea, picklist, date, money, account, owner, stage
    picklist: str | None = None
    wide: bool = False


def _pick(name: str, label: str, picklist: str) -> FormField:
    return FormField(name, label, "picklist", picklist)


OWNER = FormField("owner_id", N_("Assigned to"), "owner")
DESCRIPTION = FormField("description", N_("Description"), "textarea", wide=True)
SOURCE = _pick("lead_source", N_("Lead source"), "lead_source")
PERSON = (_pick("salutation", N_("Salutation"), "salutation"), FormField("first_name", N_("First name")),
          FormField("last_name", N_("Last name")))
REACH = (FormField("email", N_("Email"), "email"), FormField("phone", N_("Phone"), "phone"),
         FormField("mobile", N_("Mobile"), "phone"))

FORMS: dict[str, tuple[FormField, ...]] = {
    "leads": (
        *PERSON, FormField("company", N_("Company")), FormField("designation", N_("Job title")), *REACH,
        FormField("website", N_("Website"), "url"), _pick("status", N_("Lead status"), "lead_status"), SOURCE,
        _pick("industry", N_("Industry"), "industry"), OWNER, DESCRIPTION,
    ),
    "accounts": (
        FormField("name", N_("Organization name")), FormField("website", N_("Website"), "url"),
        FormField("phone", N_("Phone"), "phone"), FormField("email", N_("Email"), "email"),
        _pick("industry", N_("Industry"), "industry"), _pick("account_type", N_("Type"), "account_type"),
        FormField("bill_city", N_("Billing city")), OWNER, DESCRIPTION,
    ),
    "contacts": (
        *PERSON, FormField("account_id", N_("Organization name"), "account"), FormField("title", N_("Job title")),
        *REACH, SOURCE, OWNER, DESCRIPTION,
    ),
    "opportunities": (
        FormField("name", N_("Opportunity name")), FormField("account_id", N_("Organization name"), "account"),
        FormField("amount", N_("Amount"), "money"), FormField("expected_close_date", N_("Expected close date"), "date"),
        FormField("stage", N_("Sales stage"), "stage"),
        _pick("opportunity_type", N_("Type"), "opportunity_type"), SOURCE, FormField("next_step", N_("Next step")),
        OWNER, DESCRIPTION,
    ),
}
