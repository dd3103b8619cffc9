"""Web-to-lead under real concurrency, on SQLite and PostgreSQL.

Threads start together on a barrier. Through the app, each thread has its own Flask test client
of ONE app (one engine, one pool, one writer), like the threads of a gunicorn worker. Directly
through `crm_store.capture`, each thread has its own session and transaction, like separate
worker processes: there only the store's own locks keep the data right.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crm_store.capture import submissions as capture
from crm_store.db.engine import make_engine, session_factory
from crm_store.models import Activity, Lead, Note, OutboxMessage, WebForm, WebSubmission

pytestmark = pytest.mark.slow

JOIN_TIMEOUT = 180


def api(public_id: str) -> str:
    return f"/api/forms/{public_id}/submissions"


def submission(token: str, email: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "first_name": "Mei", "last_name": "Chen", "email": email, "company": "Acme Ltd",
        "message": "Please call me.", "_token": token, "_submission": key or uuid.uuid4().hex, **extra,
    }


def together(n: int, task: Callable[[int], Any]) -> list[Any]:
    """Run task(0..n-1) in n threads released at once; return the results in order (re-raise errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = task(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"visitor-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a submission hung"
    if errors:
        raise errors[0]
    return results


def post_all(app: Any, bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Post each body from its own thread with its own test client of the one app."""
    public_id = app.config["TEST_FORM"]
    clients = [app.test_client() for _ in bodies]

    def send(i: int) -> tuple[int, dict[str, Any]]:
        response = clients[i].post(api(public_id), json=bodies[i])
        return response.status_code, response.get_json()

    return together(len(bodies), send)


def counts(session: Session) -> dict[str, Any]:
    """What is stored, read in one short transaction."""
    out = {
        "leads": session.scalar(select(func.count()).select_from(Lead)),
        "lead_numbers": session.scalar(select(func.count(func.distinct(Lead.lead_no)))),
        "owners": Counter(session.scalars(select(Lead.owner_id))),
        "submissions": session.scalar(select(func.count()).select_from(WebSubmission)),
        "outcomes": Counter(session.scalars(select(WebSubmission.outcome))),
        "lead_ids": set(session.scalars(select(WebSubmission.lead_id))),
        "submission_ids": set(session.scalars(select(WebSubmission.public_id))),
        "notes": session.scalar(select(func.count()).select_from(Note)),
        "tasks": session.scalar(select(func.count()).select_from(Activity).where(Activity.type == "task")),
        "assigned_mail": session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.template == "new_web_lead")),
    }
    session.rollback()
    return out


@pytest.fixture
def live(app: Any, web_form: WebForm, render_token: Callable[..., str]) -> Any:
    """The one app, with the form's public id at hand for the threads."""
    app.config["TEST_FORM"] = web_form.public_id
    return app


# -- through the app: many threads, one app ----------------------------------------------------


def test_32_simultaneous_submissions_of_one_email_make_exactly_one_lead(live, session, render_token) -> None:
    bodies = [submission(render_token(), "same.person@example.com", message=f"try {i}") for i in range(32)]
    answers = post_all(live, bodies)
    assert [status for status, _ in answers] == [201] * 32
    assert len({body["submission"] for _, body in answers}) == 32
    stored = counts(session)
    assert stored["leads"] == 1
    assert stored["submissions"] == 32
    assert stored["outcomes"] == Counter({"new_lead": 1, "added_to_lead": 31})
    assert len(stored["lead_ids"]) == 1 and None not in stored["lead_ids"]
    assert stored["submission_ids"] == {body["submission"] for _, body in answers}
    # one note and one task per extra inquiry, and the new lead's first follow-up of its cadence
    assert stored["notes"] == 31 and stored["tasks"] == 32
    assert stored["assigned_mail"] == 1


def test_60_simultaneous_new_visitors_get_60_leads_split_evenly(live, session, reps, render_token) -> None:
    bodies = [submission(render_token(), f"visitor{i}@example.com") for i in range(60)]
    answers = post_all(live, bodies)
    assert [status for status, _ in answers] == [201] * 60
    stored = counts(session)
    assert stored["leads"] == 60 and stored["lead_numbers"] == 60
    assert stored["submissions"] == 60 and stored["outcomes"] == Counter({"new_lead": 60})
    assert len(stored["lead_ids"]) == 60
    assert stored["owners"] == Counter({reps[0].id: 20, reps[1].id: 20, reps[2].id: 20})
    assert stored["assigned_mail"] == 60


def test_16_simultaneous_retries_of_one_submission_store_it_once(live, session, render_token) -> None:
    body = submission(render_token(), "retry@example.com", key="retry-" + uuid.uuid4().hex)
    answers = post_all(live, [dict(body) for _ in range(16)])
    assert [status for status, _ in answers] == [201] * 16
    ids = {answer["submission"] for _, answer in answers}
    assert len(ids) == 1
    stored = counts(session)
    assert stored["submissions"] == 1 and stored["submission_ids"] == ids
    assert stored["leads"] == 1 and stored["outcomes"] == Counter({"new_lead": 1})
    assert stored["assigned_mail"] == 1


def test_simultaneous_mixed_traffic_keeps_every_rule(live, session, reps, render_token) -> None:
    """New visitors, one returning visitor, double clicks and spam, all at once."""
    returning = [submission(render_token(), "regular@example.com") for _ in range(8)]
    double = submission(render_token(), "double@example.com")
    bodies = (
        [submission(render_token(), f"new{i}@example.com") for i in range(12)]
        + returning
        + [dict(double) for _ in range(6)]
        + [submission("forged", f"bot{i}@example.com") for i in range(6)]
    )
    answers = post_all(live, bodies)
    assert {status for status, _ in answers} == {201}
    stored = counts(session)
    assert stored["leads"] == 12 + 1 + 1
    assert stored["submissions"] == 12 + 8 + 1 + 6
    assert stored["outcomes"] == Counter({"new_lead": 14, "added_to_lead": 7, "quarantined": 6})
    assert sorted(stored["owners"].values()) == [4, 5, 5]  # 14 leads in turn over three reps
    assert set(stored["owners"]) == {r.id for r in reps}


# -- straight into the store: one session per thread -------------------------------------------


@pytest.fixture
def wide_engine(database_url: str) -> Any:
    """An engine whose pool has a connection for every thread."""
    engine = make_engine(database_url, pool_size=70, max_overflow=10)
    yield engine
    engine.dispose()


def receive_all(engine: Engine, form: WebForm, inbounds: list[dict[str, Any]]) -> list[capture.Receipt]:
    """capture.receive for each inbound in its own thread, session and transaction."""
    sessions = session_factory(engine)

    def work(i: int) -> capture.Receipt:
        with sessions() as s:
            receipt = capture.receive(s, capture.Inbound(form=form, **inbounds[i]))
            s.commit()
            return receipt

    return together(len(inbounds), work)


def _loaded_form(session: Session, form_id: int) -> WebForm:
    form = session.get(WebForm, form_id)
    session.expunge(form)
    session.rollback()
    return form


def test_store_level_one_email_from_32_sessions_is_one_lead(wide_engine, session, web_form) -> None:
    form = _loaded_form(session, web_form.id)
    inbounds = [
        {"client_key": uuid.uuid4().hex, "raw": {}, "values": {"last_name": "Chen", "email": "same@example.com"}}
        for _ in range(32)
    ]
    receipts = receive_all(wide_engine, form, inbounds)
    assert Counter(r.outcome for r in receipts) == Counter({"new_lead": 1, "added_to_lead": 31})
    assert len({r.lead_id for r in receipts}) == 1
    stored = counts(session)
    assert stored["leads"] == 1 and stored["submissions"] == 32


def test_store_level_60_new_visitors_from_60_sessions_split_evenly(wide_engine, session, web_form, reps) -> None:
    form = _loaded_form(session, web_form.id)
    inbounds = [
        {"client_key": uuid.uuid4().hex, "raw": {}, "values": {"last_name": f"V{i}", "email": f"v{i}@example.com"}}
        for i in range(60)
    ]
    receipts = receive_all(wide_engine, form, inbounds)
    assert Counter(r.outcome for r in receipts) == Counter({"new_lead": 60})
    stored = counts(session)
    assert stored["leads"] == 60 and stored["lead_numbers"] == 60
    assert stored["owners"] == Counter({reps[0].id: 20, reps[1].id: 20, reps[2].id: 20})


def test_store_level_16_retries_from_16_sessions_are_one_row(wide_engine, session, web_form) -> None:
    form = _loaded_form(session, web_form.id)
    same = {
        "client_key": "retry-" + uuid.uuid4().hex,
        "raw": {},
        "values": {"last_name": "Chen", "email": "r@example.com"},
    }
    receipts = receive_all(wide_engine, form, [dict(same) for _ in range(16)])
    assert len({r.public_id for r in receipts}) == 1
    assert sum(not r.replay for r in receipts) == 1
    stored = counts(session)
    assert stored["submissions"] == 1 and stored["leads"] == 1
