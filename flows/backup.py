"""backup: backs up the database and documents, keeping the newest backup_keep."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(name="backup", description="Backs up the database and documents, keeping the newest backup_keep.")
def backup(as_of: str | None = None) -> dict[str, Any]:
    """Back up the database and documents, keeping the newest backup_keep (as of `as_of`, default now)."""
    return run_flow("backup", as_of)
