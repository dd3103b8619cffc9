"""refresh-analytics: copies the store into the analytics warehouse that the reports read (nightly)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(name="refresh-analytics", description="Copies the store into the analytics warehouse that the reports read.")
def refresh_analytics(as_of: str | None = None) -> dict[str, Any]:
    """Rebuild the analytics warehouse from the store (analytics.warehouse.refresh_job); `as_of` is recorded only."""
    return run_flow("refresh-analytics", as_of)
