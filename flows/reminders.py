"""reminders: reminders of events and memo notes whose time has come: one email each, once."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(name="reminders", description="Reminders of events and memo notes whose time has come: one email each, once.")
def reminders(as_of: str | None = None) -> dict[str, Any]:
    """Send the reminders of events and memo notes whose time has come (as of `as_of`, default now)."""
    return run_flow("reminders", as_of)
