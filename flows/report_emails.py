"""report-emails: managers' weekly pipeline and monthly customer-value emails, each of their team."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(
    name="report-emails",
    description="Managers' weekly pipeline email (Mondays from 08:00) and monthly customer value email (the 1st "
                "from 08:00), each of their team, with charts and the CSV.",
)
def report_emails(as_of: str | None = None) -> dict[str, Any]:
    """Queue the report emails that are due as of `as_of` (default now) to the managers who have not had them."""
    return run_flow("report-emails", as_of)
