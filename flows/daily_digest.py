"""daily-digest: each rep's morning digest of the day's work, after their digest time on working days."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(
    name="daily-digest",
    description="Each rep's morning digest of the day's work, after their digest time on working days.",
)
def daily_digest(as_of: str | None = None) -> dict[str, Any]:
    """Queue each rep's morning digest once their digest time has passed (as of `as_of`, default now)."""
    return run_flow("daily-digest", as_of)
