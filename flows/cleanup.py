"""cleanup: deletes old automation runs, purges the expired recycle bin, forgets old IP addresses."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(
    name="cleanup",
    description="Deletes old automation runs, purges the expired recycle bin, forgets old IP addresses.",
)
def cleanup(as_of: str | None = None) -> dict[str, Any]:
    """Delete old automation runs, purge the expired recycle bin, forget old IP addresses (as of `as_of`)."""
    return run_flow("cleanup", as_of)
