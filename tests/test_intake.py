"""The intake: a submission stored and answered at once, then processed by one consumer; render tokens used once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.capture import intake
from crm_store.capture import submissions as capture
from crm_store.models import Lead, OutboxMessage, WebSubmission
from crm_store.settings import picklists
from tests.test_webform_api import api, count, done, one, rows, visitor
from webform.intake import Intake


def wait_for(session: Session, model: Any, expected: int, *where: Any, seconds: float = 5.0) -> int:
    """Poll until `expected` rows match (the intake works in another thread); return the last count."""
    deadline = time.monotonic() + seconds
    while True:
        found = count(session, model, *where)
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


@pytest.fixture
def background(app: Any) -> Iterator[Intake]:
    """The app with its intake running, as `crm serve` has it."""
    state = app.extensions["leadline"]
    state.intake = running = Intake(state, poll=0.02)
    running.start()
    yield running
    running.stop()
    state.intake = None


# -- render tokens: one accepted submission each -------------------------------------------------


def test_a_render_token_is_good_for_one_submission(client, session, web_form, render_token) -> None:
    token = render_token()
    first = client.post(api(web_form.public_id), json=visitor(token, email="one@example.com"))
    replay = client.post(api(web_form.public_id), json=visitor(token, email="two@example.com"))
    assert first.status_code == replay.status_code == 201  # a replay is answered like any other
    assert set(first.get_json()) == set(replay.get_json())
    stored = rows(session, WebSubmission)
    assert [s.outcome for s in stored] == ["new_lead", "quarantined"]
    assert stored[1].spam_reason == "render token used before" and stored[1].token_nonce is None
    assert count(session, Lead) == 1


def test_a_retry_of_the_same_submission_is_not_a_replay(client, session, web_form, render_token) -> None:
    data = visitor(render_token())
    answers = [client.post(api(web_form.public_id), json=data).get_json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert [s.outcome for s in rows(session, WebSubmission)] == ["new_lead"]


def test_a_fresh_token_for_the_embedded_form_s_next_submission(client, web_form) -> None:
    answer = client.get(f"/forms/{web_form.public_id}/token")
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Cache-Control"] == "no-store"
    second = client.get(f"/forms/{web_form.public_id}/token").get_json()["token"]
    assert answer.get_json()["token"] != second
    assert client.get("/forms/nonexistent/token").status_code == 404


# -- the store's intake ---------------------------------------------------------------------------


def inbound(web_form: Any, email: str, key: str) -> capture.Inbound:
    return capture.Inbound(form=web_form, client_key=key, raw={}, values={"last_name": "Chen", "email": email})


def test_accepted_submissions_wait_then_are_processed_in_order(session, web_form, reps) -> None:
    receipts = [capture.accept(session, inbound(web_form, e, f"key-{i}")) for i, e in
                enumerate(["a@example.com", "b@example.com", "a@example.com"])]
    session.commit()
    assert [r.outcome for r in receipts] == ["received"] * 3
    assert count(session, Lead) == 0
    assert intake.process_pending(session, limit=2) == 2
    assert intake.process_pending(session, limit=2) == 1
    assert intake.process_pending(session) == 0
    session.commit()
    outcomes = [s.outcome for s in rows(session, WebSubmission)]
    assert outcomes == ["new_lead", "new_lead", "added_to_lead"]  # the second a@ joins the first's lead
    leads = rows(session, Lead)
    assert [lead.owner_id for lead in leads] == [reps[0].id, reps[1].id]  # turns in the order they arrived


def test_a_submission_that_cannot_be_processed_is_held_and_the_others_go_on(session, web_form, reps) -> None:
    bad = capture.Inbound(form=web_form, client_key="bad-one", raw={},
                          values={"last_name": "Lee", "email": "x@example.com", "industry": "Piracy"})
    capture.accept(session, bad)
    capture.accept(session, inbound(web_form, "ok@example.com", "good-one"))
    session.commit()
    assert picklists  # the picklist check is the store's, after the web layer let the value through
    intake.process_pending(session)
    session.commit()
    held, good = rows(session, WebSubmission)
    assert held.outcome == "quarantined" and "industry" in (held.spam_reason or "")
    assert good.outcome == "new_lead"


# -- the intake thread of a web worker -------------------------------------------------------------


def test_the_intake_turns_a_201_into_a_lead_within_a_second(client, session, web_form, render_token,
                                                             background) -> None:
    started = time.monotonic()
    answer = client.post(api(web_form.public_id), json=visitor(render_token()))
    assert answer.status_code == 201
    assert wait_for(session, Lead, 1, seconds=1.0) == 1
    assert time.monotonic() - started < 1.0
    assert one(session, WebSubmission).outcome == "new_lead"
    assert count(session, OutboxMessage, OutboxMessage.template == "new_web_lead") == 1


def test_stopping_drains_what_is_pending(app, session, web_form, reps) -> None:
    for i in range(5):
        capture.accept(session, inbound(web_form, f"d{i}@example.com", f"drain-{i}"))
    session.commit()
    state = app.extensions["leadline"]
    running = Intake(state, poll=10)  # it would not look again for ten seconds on its own
    running.start()
    running.stop()
    assert count(session, WebSubmission, WebSubmission.outcome == "received") == 0
    assert count(session, Lead) == 5


def test_one_consumer_at_a_time(app, session, web_form, reps) -> None:
    state = app.extensions["leadline"]
    first, second = Intake(state), Intake(state)
    try:
        assert first.lock.acquire() is True
        assert second.lock.acquire() is False  # another worker process holds the intake
        first.lock.release()
        assert second.lock.acquire() is True  # and takes over when it goes
    finally:
        first.lock.release()
        second.lock.release()
    done(session)
    assert session.scalar(select(WebSubmission.id)) is None


def _lead_facts(session: Session) -> list[dict[str, Any]]:
    """What a lead, its audit row, its search document and its mail look like, without ids, numbers or times."""
    from crm_store.models import AuditEntry, SearchDocument

    varying = {"id", "lead_no", "created_at", "updated_at", "assigned_at", "consent_at"}
    facts = []
    for lead in rows(session, Lead):
        values = {c.name: getattr(lead, c.name) for c in Lead.__table__.columns if c.name not in varying}
        audit = session.scalars(select(AuditEntry).where(AuditEntry.module == "leads",
                                                         AuditEntry.record_id == lead.id)).one()
        changes = {k: v for k, v in audit.changes.items() if k not in varying}
        doc = session.scalars(select(SearchDocument).where(SearchDocument.record_id == lead.id)).one()
        facts.append({"lead": values, "audit": (audit.action, audit.automation, changes),
                      "search": (doc.body, doc.phones, doc.is_open)})
    mail = sorted((m.template, m.recipient, m.reply_to, m.language, re.sub(r"LEA\d+", "LEA", str(m.context)))
                  for m in rows(session, OutboxMessage))
    done(session)
    return [*facts, {"mail": mail}]


def test_a_batch_makes_the_same_leads_as_one_at_a_time(app, session, web_form, reps) -> None:
    """The intake's set-based path and `receive` (one at a time) store the same lead, audit, search and mail."""
    people = [
        {"last_name": "林", "first_name": "美玲", "email": "mei@example.com", "phone": "0912 345 678",
         "company": "Acme 股份有限公司", "message": "Call me"},
        {"last_name": "Wu", "email": "wu@example.com", "mobile": "+81 3 1234 5678"},
        {"last_name": "NoEmail", "company": "Quiet Ltd"},
    ]

    def submit(accept: bool) -> list[dict[str, Any]]:
        from crm_store.models import Activity, AuditEntry, SearchDocument, SearchGram, SearchPhoneGram

        for i, values in enumerate(people):
            inbound = capture.Inbound(form=web_form, client_key=f"{accept}-{i}", raw={}, values=dict(values),
                                      first_touch={"utm_source": "google"}, consent=False)
            (capture.accept if accept else capture.receive)(session, inbound)
        if accept:
            intake.process_pending(session)
        session.commit()
        facts = _lead_facts(session)
        for model in (SearchPhoneGram, SearchGram, SearchDocument, AuditEntry, OutboxMessage, WebSubmission, Activity,
                      Lead):
            session.query(model).delete()
        session.commit()
        return facts

    one_at_a_time = submit(accept=False)
    web_form.round_robin_pointer = -1
    session.merge(web_form)
    session.commit()
    assert submit(accept=True) == one_at_a_time
