"""stage-playbooks: stage playbooks: the tasks and email of stages entered that have not had them yet."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(
    name="stage-playbooks",
    description="Stage playbooks: the tasks and email of stages entered that have not had them yet.",
)
def stage_playbooks(as_of: str | None = None) -> dict[str, Any]:
    """Create the tasks and queue the email of stage playbooks that have not fired yet (as of `as_of`, default now)."""
    return run_flow("stage-playbooks", as_of)
