"""lead-aging: idle days of open leads and opportunities — aging, stale, cold, rotting (nightly)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(name="lead-aging", description="Idle days of open leads and opportunities: aging, stale, cold, rotting.")
def lead_aging(as_of: str | None = None) -> dict[str, Any]:
    """Count idle days and age leads and opportunities as of `as_of` (crm_store.automation.lead_aging)."""
    return run_flow("lead-aging", as_of)
