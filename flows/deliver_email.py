"""deliver-email: send the queued mail that is due — the safety net behind `crm mail worker` (every 5 minutes).

The job itself is `flows.delivery.send_due_mail` (plain, so `crm flows run deliver-email` needs no Prefect).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runs import run_flow


@flow(name="deliver-email", description="Send the queued mail that is due (the mail worker's safety net).")
def deliver_email(as_of: str | None = None) -> dict[str, Any]:
    """Deliver the mail due now; `as_of` is recorded on the run (mail always goes out now)."""
    return run_flow("deliver-email", as_of)
