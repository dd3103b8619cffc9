"""Picklists: Vtiger's default values, seeded once and editable; validation of picked values."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import PicklistValue

DEFAULTS: dict[str, tuple[str, ...]] = {
    "lead_status": (
        N_("Attempted to Contact"), N_("Cold"), N_("Contact in Future"), N_("Contacted"), N_("Hot"), N_("Junk Lead"),
        N_("Lost Lead"), N_("Not Contacted"), N_("Pre Qualified"), N_("Qualified"), N_("Warm"),
    ),
    "lead_source": (
        N_("Cold Call"), N_("Existing Customer"), N_("Self Generated"), N_("Employee"), N_("Partner"),
        N_("Public Relations"), N_("Direct Mail"), N_("Conference"), N_("Trade Show"), N_("Web Site"),
        N_("Word of mouth"), N_("Other"),
    ),
    "industry": (
        N_("Apparel"), N_("Banking"), N_("Biotechnology"), N_("Chemicals"), N_("Communications"), N_("Construction"),
        N_("Consulting"), N_("Education"), N_("Electronics"), N_("Energy"), N_("Engineering"), N_("Entertainment"),
        N_("Environmental"), N_("Finance"), N_("Food & Beverage"), N_("Government"), N_("Healthcare"),
        N_("Hospitality"), N_("Insurance"), N_("Machinery"), N_("Manufacturing"), N_("Media"), N_("Not For Profit"),
        N_("Recreation"), N_("Retail"), N_("Shipping"), N_("Technology"), N_("Telecommunications"),
        N_("Transportation"), N_("Utilities"), N_("Other"),
    ),
    "rating": (N_("Acquired"), N_("Active"), N_("Market Failed"), N_("Project Cancelled"), N_("Shutdown")),
    "account_type": (
        N_("Analyst"), N_("Competitor"), N_("Customer"), N_("Integrator"), N_("Investor"), N_("Partner"), N_("Press"),
        N_("Prospect"), N_("Reseller"), N_("Other"),
    ),
    "opportunity_type": (N_("Existing Business"), N_("New Business")),
    "salutation": (N_("Mr."), N_("Ms."), N_("Mrs."), N_("Dr."), N_("Prof.")),
    "task_status": (
        N_("Not Started"), N_("In Progress"), N_("Completed"), N_("Pending Input"), N_("Deferred"), N_("Planned"),
    ),
    "task_priority": (N_("High"), N_("Medium"), N_("Low")),
    "event_status": (N_("Planned"), N_("Held"), N_("Not Held")),
    "campaign_type": (
        N_("Conference"), N_("Webinar"), N_("Trade Show"), N_("Public Relations"), N_("Partners"),
        N_("Referral Program"), N_("Advertisement"), N_("Banner Ads"), N_("Direct Mail"), N_("Email"),
        N_("Telemarketing"), N_("Others"),
    ),
    "campaign_status": (N_("Planning"), N_("Active"), N_("Inactive"), N_("Completed"), N_("Cancelled")),
    "expected_response": (N_("Excellent"), N_("Good"), N_("Average"), N_("Poor")),
    "campaign_member_status": (
        N_("Contacted - Successful"), N_("Contacted - Unsuccessful"), N_("Contacted - Never Contact Again"),
    ),
    "lost_reason": (
        N_("Price"), N_("Competitor"), N_("No Budget"), N_("No Decision"), N_("Timing"), N_("Product Fit"),
        N_("Went Silent"), N_("Other"),
    ),
    # products and sales documents (Vtiger's quotestage, sostatus, invoicestatus, carrier, usageunit, ...)
    "quote_stage": (N_("Created"), N_("Delivered"), N_("Reviewed"), N_("Accepted"), N_("Rejected")),
    "sales_order_status": (N_("Created"), N_("Approved"), N_("Delivered"), N_("Cancelled")),
    "invoice_status": (
        N_("AutoCreated"), N_("Created"), N_("Approved"), N_("Sent"), N_("Credit Invoice"), N_("Paid"), N_("Cancel"),
    ),
    "carrier": (N_("FedEx"), N_("UPS"), N_("USPS"), N_("DHL"), N_("BlueDart")),
    "usage_unit": (
        N_("Box"), N_("Carton"), N_("Dozen"), N_("Each"), N_("Hours"), N_("Days"), N_("Incidents"), N_("Impressions"),
        N_("Lb"), N_("M"), N_("Pack"), N_("Pages"), N_("Pieces"), N_("Quantity"), N_("Reams"), N_("Sheet"),
        N_("Spiral Binder"), N_("Sq Ft"),
    ),
    "product_category": (
        N_("Hardware"), N_("Software"), N_("CRM Applications"), N_("Support"), N_("Installation"), N_("Migration"),
        N_("Customization"), N_("Training"),
    ),
    "manufacturer": (N_("AltvetPet Inc."), N_("LexPon Inc."), N_("MetBeat Corp")),
    "payment_method": (N_("Bank Transfer"), N_("Cash"), N_("Check"), N_("Credit Card"), N_("Other")),
}

# Values the product's rules depend on: they can be renamed in labels, never removed.
LOCKED: dict[str, frozenset[str]] = {
    "lead_status": frozenset({"Junk Lead", "Lost Lead", "Cold", "Not Contacted"}),
    "task_status": frozenset({"Not Started", "Completed"}),
    "event_status": frozenset({"Planned", "Held", "Not Held"}),
    "invoice_status": frozenset({"Created", "Paid", "Cancel"}),  # payments set Paid; Cancel gives stock back
    "quote_stage": frozenset({"Created", "Accepted"}),
    "sales_order_status": frozenset({"Created", "Cancelled"}),
}


def seed(session: Session) -> int:
    """Insert the default values of every picklist that has none yet; return how many were added."""
    present = set(session.scalars(select(PicklistValue.picklist).distinct()))
    added = 0
    for name, values in DEFAULTS.items():
        if name in present:
            continue
        locked = LOCKED.get(name, frozenset())
        session.add_all(
            PicklistValue(picklist=name, value=v, position=i, locked=v in locked) for i, v in enumerate(values, 1)
        )
        added += len(values)
    return added


def values(session: Session, picklist: str) -> list[str]:
    """Return the active values of a picklist in display order."""
    stmt = (
        select(PicklistValue.value)
        .where(PicklistValue.picklist == picklist, PicklistValue.active)
        .order_by(PicklistValue.position)
    )
    return list(session.scalars(stmt))


def all_values(session: Session) -> dict[str, frozenset[str]]:
    """Return every picklist's active values, for validating many rows with one query."""
    out: dict[str, set[str]] = {}
    stmt = select(PicklistValue.picklist, PicklistValue.value).where(PicklistValue.active)
    for picklist, value in session.execute(stmt):
        out.setdefault(picklist, set()).add(value)
    return {k: frozenset(v) for k, v in out.items()}


def check(allowed: dict[str, frozenset[str]], picklist: str, field: str, value: str | None) -> None:
    """Raise a ValidationError naming the field when the value is not in the picklist."""
    if value is not None and value not in allowed.get(picklist, frozenset()):
        raise ValidationError(field, N_("%(value)s is not a value of the %(picklist)s picklist"), value=repr(value),
                              picklist=picklist)


def add_value(session: Session, picklist: str, value: str) -> PicklistValue:
    """Append a value to a picklist."""
    value = value.strip()
    if not value or len(value) > 100:
        raise ValidationError("value", N_("must be 1 to 100 characters"))
    if picklist not in DEFAULTS:
        raise ValidationError("picklist", f"unknown picklist {picklist!r}")
    if value in values(session, picklist):
        raise ValidationError("value", f"{value!r} is already in {picklist}")
    last = session.scalar(select(func.max(PicklistValue.position)).where(PicklistValue.picklist == picklist))
    row = PicklistValue(picklist=picklist, value=value, position=(last or 0) + 1)
    session.add(row)
    return row
