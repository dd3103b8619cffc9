"""The outbox rows: idempotent queuing, states, backoff, stuck rows, suppression."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.config import load_config
from crm_store.errors import ValidationError
from crm_store.mail import outbox
from crm_store.models import OutboxMessage, utcnow
from crm_store.records import lifecycle as records
from crm_store.staff.tokens import SIGN_LATER, verify_token
from crm_store.staff.users import add_user
from emails.worker import send_all_due

NOW = dt.datetime(2099, 1, 1, 8, 0, tzinfo=dt.UTC)  # after anything the test queues


def queue(session: Session, key: str = "k1", to: str = "amy@example.com", **kw) -> bool:  # noqa: ANN003
    return outbox.enqueue(session, "test_message", to, key=key, context={"n": 1}, **kw)


def test_queuing_a_key_twice_is_a_no_op(session: Session) -> None:
    assert queue(session, "digest:7:2026-11-27") is True
    assert queue(session, "digest:7:2026-11-27") is False
    session.commit()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    row = session.scalar(select(OutboxMessage))
    assert row.status == "queued" and row.message_id is None  # given when the worker first claims it
    (claimed,), _ = outbox.claim_due(session, now=NOW, domain="crm.example.com")
    assert claimed.message_id.startswith("<") and claimed.message_id.endswith("@crm.example.com>")


def test_queuing_rolls_back_with_the_business_change(session: Session) -> None:
    records.create_lead(session, {"last_name": "Lee"})
    queue(session, "lead:1")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"to": "not an address"}, "recipient"),
        ({"to": "a@example.com\r\nBcc: x@example.com"}, "recipient"),
        ({"recipient_name": "Amy\r\nBcc: evil@example.com"}, "recipient_name"),
        ({"language": "fr"}, "language"),
        ({"key": ""}, "key"),
    ],
)
def test_bad_messages_are_refused(session: Session, kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        queue(session, **kwargs)
    assert err.value.field == field


def test_claim_marks_sending_and_transient_failures_back_off_then_fail(session: Session) -> None:
    queue(session)
    (row,) = outbox.claim_due(session, now=NOW)[0]
    assert row.status == "sending" and row.attempts == 1
    assert outbox.claim_due(session, now=NOW)[0] == []  # not claimed twice
    waits = []
    at = NOW
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        status = outbox.mark_transient(session, row.id, "421 try later", at)
        if attempt < outbox.MAX_ATTEMPTS:
            assert status == "retrying"
            waits.append(row.next_attempt_at - at)
            assert outbox.claim_due(session, now=row.next_attempt_at - dt.timedelta(seconds=1))[0] == []
            at = row.next_attempt_at
            assert outbox.claim_due(session, now=at)[0] == [row]
        else:
            assert status == "failed"
    assert row.attempts == outbox.MAX_ATTEMPTS
    assert all(b > a for a, b in zip(waits, waits[1:], strict=False))  # exponential
    total = sum(waits, dt.timedelta())
    assert dt.timedelta(hours=18) < total < dt.timedelta(hours=26)  # about a day
    assert row.last_error == "421 try later"


def test_stuck_sending_goes_back_to_retrying(session: Session) -> None:
    queue(session)
    (row,) = outbox.claim_due(session, now=NOW)[0]
    assert outbox.claim_due(session, now=NOW + dt.timedelta(minutes=9))[0] == []
    again = outbox.claim_due(session, now=NOW + dt.timedelta(minutes=11))[0]
    assert again == [row] and row.attempts == 2


def test_opted_out_recipients_are_suppressed_but_staff_mail_is_not(session: Session) -> None:
    records.create_lead(session, {"last_name": "Lee", "email": "Lee@Example.com", "email_opt_out": True})
    queue(session, "visitor", to="lee@example.com")
    queue(session, "staff", to="lee@example.com", to_staff=True)
    claimed, suppressed = outbox.claim_due(session, now=NOW)
    assert [r.idempotency_key for r in claimed] == ["staff"] and suppressed == 1
    suppressed = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == "visitor"))
    assert suppressed.status == "suppressed"


def test_retry_and_counts(session: Session) -> None:
    queue(session)
    (row,) = outbox.claim_due(session, now=NOW)[0]
    outbox.mark_failed(session, row.id, "550 no such user")
    session.refresh(row)
    assert outbox.counts(session)["failed"] == 1
    outbox.retry(session, row.id)
    assert row.status == "queued" and row.attempts == 0
    with pytest.raises(ValidationError):
        outbox.retry(session, row.id)


def test_the_welcome_link_is_signed_at_delivery_and_the_outbox_keeps_no_credential(env, session: Session) -> None:  # noqa: ANN001
    user = add_user(session, "amy@example.com", "Amy")
    session.commit()
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.template == "welcome"))
    assert set(row.context["token"]) == {SIGN_LATER}  # a placeholder, not a working link
    session.commit()  # end the read (SQLite writers queue behind an open transaction)
    config = load_config()
    assert send_all_due(config)["sent"] == 1
    eml = next(Path(env["CRM_DATA_DIR"], "outbox").glob("*-welcome.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    token = re.search(r"/auth/set-password/(\S+)", message.get_body(("plain",)).get_content())[1]
    assert verify_token(config.secret_key, "set_password", token, utcnow()) == str(user.id)
    session.refresh(row)
    assert message["Message-ID"] == row.message_id and row.message_id.endswith("@127.0.0.1>")
