"""sla-escalation: leads without a first response — remind the owner, tell the manager, reassign (every 10 minutes)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(name="sla-escalation", description="Leads without a first response: remind, escalate, reassign.")
def sla_escalation(as_of: str | None = None) -> dict[str, Any]:
    """Take the next speed-to-lead step on leads still waiting as of `as_of` (crm_store.automation.sla_escalation)."""
    return run_flow("sla-escalation", as_of)
