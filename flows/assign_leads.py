"""assign-leads: unassigned open leads get an owner by the assignment rules (every 10 minutes)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(name="assign-leads", description="Unassigned open leads get an owner by the assignment rules.")
def assign_leads(as_of: str | None = None) -> dict[str, Any]:
    """Assign unassigned open leads by the rules as of `as_of` (crm_store.automation.assign_leads)."""
    return run_flow("assign-leads", as_of)
