"""The deliver-email job: send the queued mail that is due, as a plain function (no Prefect imported).

It lives in `flows/` rather than in `crm_store/automation/` because delivering is the `emails` package's
work and the store never imports it; `flows/deliver_email.py` wraps it in a Prefect flow, `crm flows run
deliver-email` runs it directly. Mail is sent now whatever `as_of` says: a message cannot be sent in the
past, and sending ahead of its retry time would defeat the backoff. Messages that fail are the outbox's to
report (`crm mail status --failed`); the run itself fails only when delivery cannot be attempted at all.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from crm_store.automation.runs import Outcome

COUNTED = ("sent", "retrying", "failed", "suppressed")  # always in the summary, zeros too


def send_due_mail(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """Deliver every message due now through the configured relay (or to .eml files); count the results."""
    from crm_store.config import load_config
    from emails.worker import send_all_due

    tally = send_all_due(load_config())
    for status in (*COUNTED, *sorted(set(tally) - set(COUNTED))):
        outcome.add(status, tally[status])
