"""Query builders over the sales records; callers execute them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select

from crm_store.models import OPEN_LEAD_EXCLUDED_STATUSES, Lead


def open_lead_condition() -> ColumnElement[bool]:
    """An open lead: not converted, not deleted, and not Junk Lead, Lost Lead or Cold."""
    return (
        Lead.converted_at.is_(None)
        & Lead.deleted_at.is_(None)
        & or_(Lead.status.is_(None), Lead.status.not_in(OPEN_LEAD_EXCLUDED_STATUSES))
    )


def open_leads() -> Select[Lead]:
    """Select the open leads."""
    return select(Lead).where(open_lead_condition())


def is_open_lead(get: Callable[[str], Any]) -> bool:
    """The same rule in Python, for a lead's values (`get(field)`) not yet read back from the database."""
    status = get("status")
    return (
        get("converted_at") is None and get("deleted_at") is None
        and (status is None or status not in OPEN_LEAD_EXCLUDED_STATUSES)
    )
