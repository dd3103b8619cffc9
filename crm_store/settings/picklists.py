"""Picklists: Vtiger's default values, seeded once and editable; validation of picked values."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.models import PicklistValue

DEFAULTS: dict[str, tuple[str, ...]] = {
    "lead_status": (
        "Attempted to Contact", "Cold", "Contact in Future", "Contacted", "Hot", "Junk Lead",
        "Lost Lead", "Not Contacted", "Pre Qualified", "Qualified", "Warm",
    ),
    "lead_source": (
        "Cold Call", "Existing Customer", "Self Generated", "Employee", "Partner", "Public Relations",
        "Direct Mail", "Conference", "Trade Show", "Web Site", "Word of mouth", "Other",
    ),
    "industry": (
        "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
        "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment",
        "Environmental", "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality",
        "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail",
        "Shipping", "Technology", "Telecommunications", "Transportation", "Utilities", "Other",
    ),
    "rating": ("Acquired", "Active", "Market Failed", "Project Cancelled", "Shutdown"),
    "account_type": (
        "Analyst", "Competitor", "Customer", "Integrator", "Investor", "Partner", "Press", "Prospect",
        "Reseller", "Other",
    ),
    "opportunity_type": ("Existing Business", "New Business"),
    "salutation": ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."),
    "task_status": ("Not Started", "In Progress", "Completed", "Pending Input", "Deferred", "Planned"),
    "task_priority": ("High", "Medium", "Low"),
    "event_status": ("Planned", "Held", "Not Held"),
    "campaign_type": (
        "Conference", "Webinar", "Trade Show", "Public Relations", "Partners", "Referral Program",
        "Advertisement", "Banner Ads", "Direct Mail", "Email", "Telemarketing", "Others",
    ),
    "campaign_status": ("Planning", "Active", "Inactive", "Completed", "Cancelled"),
    "expected_response": ("Excellent", "Good", "Average", "Poor"),
    "campaign_member_status": (
        "Contacted - Successful", "Contacted - Unsuccessful", "Contacted - Never Contact Again",
    ),
    "lost_reason": (
        "Price", "Competitor", "No Budget", "No Decision", "Timing", "Product Fit", "Went Silent", "Other",
    ),
}

# Values the product's rules depend on: they can be renamed in labels, never removed.
LOCKED: dict[str, frozenset[str]] = {
    "lead_status": frozenset({"Junk Lead", "Lost Lead", "Cold", "Not Contacted"}),
    "task_status": frozenset({"Not Started", "Completed"}),
    "event_status": frozenset({"Planned", "Held", "Not Held"}),
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
        raise ValidationError(field, f"{value!r} is not a value of the {picklist} picklist")


def add_value(session: Session, picklist: str, value: str) -> PicklistValue:
    """Append a value to a picklist."""
    value = value.strip()
    if not value or len(value) > 100:
        raise ValidationError("value", "must be 1 to 100 characters")
    if picklist not in DEFAULTS:
        raise ValidationError("picklist", f"unknown picklist {picklist!r}")
    if value in values(session, picklist):
        raise ValidationError("value", f"{value!r} is already in {picklist}")
    last = session.scalar(select(func.max(PicklistValue.position)).where(PicklistValue.picklist == picklist))
    row = PicklistValue(picklist=picklist, value=value, position=(last or 0) + 1)
    session.add(row)
    return row
