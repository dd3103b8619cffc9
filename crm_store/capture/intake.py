"""Processing the intake: submissions stored and answered, not yet turned into leads, oldest first.

The web app stores a submission with `submissions.accept` and answers 201; a single consumer (the
`crm serve` worker holding the intake lock, see `webform.intake`) then calls `process_pending` in a loop.
One consumer, taking submissions in the order they arrived, makes duplicate checks and round-robin turns
exact. Functions take the caller's session and never commit.
"""

from __future__ import annotations

import logging

from sqlalchemy import Select, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crm_store.capture import submissions
from crm_store.errors import ValidationError
from crm_store.models import WebForm, WebSubmission
from crm_store.records.validation import Validator
from crm_store.settings import company

log = logging.getLogger("leadline.intake")
PENDING = submissions.PENDING


def pending(limit: int) -> Select[WebSubmission]:
    """Select the oldest submissions waiting to be processed."""
    return (
        select(WebSubmission).where(WebSubmission.outcome == PENDING).order_by(WebSubmission.id).limit(limit)
    )


def process_pending(session: Session, limit: int = 200) -> int:
    """Turn up to `limit` pending submissions into leads (or inquiries on known ones); return how many."""
    rows = list(session.scalars(pending(limit)))
    if not rows:
        return 0
    forms: dict[int, WebForm] = {}
    validator = Validator.for_session(session)
    settings = company.all_settings(session)
    for row in rows:
        form = forms.get(row.form_id) or forms.setdefault(row.form_id, session.get_one(WebForm, row.form_id))
        try:
            with session.begin_nested():
                submissions.process(session, form, row.id, submissions.stored_values(row), row.received_at,
                                    validator=validator, settings=settings)
        except ValidationError as exc:  # e.g. a picklist value removed since the visitor sent it: held, not lost
            hold(session, row.id, f"could not be processed: {exc}")
        except SQLAlchemyError:
            raise  # the database's trouble, not this submission's: the batch is tried again
        except Exception:  # a bug met by this one submission must not stop the others behind it
            log.exception("web submission %s could not be processed; it is held in the quarantine", row.public_id)
            hold(session, row.id, "could not be processed (the error is in the log)")
    return len(rows)


def hold(session: Session, submission_id: int, reason: str) -> None:
    """Put a submission that cannot be processed in the quarantine, with why, for an admin to look at."""
    session.execute(
        update(WebSubmission).where(WebSubmission.id == submission_id)
        .values(outcome="quarantined", spam_reason=reason[:200])
    )
