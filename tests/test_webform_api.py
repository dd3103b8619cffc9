"""Web-to-lead over HTTP: the JSON API, the hosted page, spam, dedupe, attribution, limits and privacy.

Every test runs on SQLite and PostgreSQL. Reads through `session` end their transaction at once
(SQLite transactions begin IMMEDIATE, so an open read would hold up the app's writes).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM
from crm_store.capture import forms as webforms
from crm_store.models import (
    Activity,
    Lead,
    Note,
    OutboxMessage,
    User,
    WebForm,
    WebFormAssignee,
    WebSubmission,
    utcnow,
)
from crm_store.records import lifecycle as records
from crm_store.records import privacy as person
from crm_store.settings import company
from crm_store.staff import users
from tests.conftest import ALLOWED_ORIGIN

MISSING = object()


# -- helpers -----------------------------------------------------------------------------------


def api(public_id: str) -> str:
    return f"/api/forms/{public_id}/submissions"


def page(public_id: str) -> str:
    return f"/forms/{public_id}"


def new_key() -> str:
    return uuid.uuid4().hex


def visitor(token: str | None, **changes: Any) -> dict[str, Any]:
    """A good submission of the default form; `field=MISSING` leaves a field out."""
    data: dict[str, Any] = {
        "first_name": "Mei", "last_name": "Chen", "email": "mei@example.com", "phone": "+886 2 2345 6789",
        "company": "Acme Ltd", "message": "Please call me about pricing.", "_submission": new_key(),
    }
    if token is not None:
        data["_token"] = token
    for name, value in changes.items():
        if value is MISSING:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def done(session: Session) -> None:
    """End the test's read transaction without expiring anything it holds.

    Objects are detached first: an expired fixture object (the form, a rep) would otherwise reload
    on its next attribute access and, on SQLite, open a write-locking transaction the app waits on.
    """
    session.expunge_all()
    session.rollback()


def rows(session: Session, model: Any, *where: Any) -> list[Any]:
    """Rows of a model (detached, loaded), ending the read transaction."""
    found = list(
        session.scalars(select(model).where(*where).order_by(model.id).execution_options(populate_existing=True))
    )
    done(session)
    return found


def count(session: Session, model: Any, *where: Any) -> int:
    n = session.scalar(select(func.count()).select_from(model).where(*where))
    done(session)
    return int(n or 0)


def one(session: Session, model: Any, *where: Any) -> Any:
    found = rows(session, model, *where)
    assert len(found) == 1, found
    return found[0]


def set_setting(session: Session, key: str, value: Any) -> None:
    company.set_value(session, key, value)
    session.commit()


def add_form(session: Session, definition: dict[str, Any]) -> WebForm:
    form = webforms.add_form(session, definition)
    session.commit()
    return form


def token_from(html: str) -> str:
    match = re.search(r'name="_token" value="([^"]+)"', html)
    assert match, "the page carries no render token"
    return match[1]


def nothing_stored(session: Session) -> None:
    assert count(session, WebSubmission) == 0
    assert count(session, Lead) == 0
    assert count(session, OutboxMessage, OutboxMessage.template.in_(("visitor_auto_reply", "new_web_lead"))) == 0


@pytest.fixture
def make_app(env: dict[str, str], web_form: WebForm, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build an extra app after setting environment variables (rate limits high unless given)."""
    from crm_store.config import load_config
    from webform import create_app

    built = []

    def build(**environ: str) -> Any:
        monkeypatch.setenv("CRM_RATELIMIT_PER_IP", "100000/minute")
        monkeypatch.setenv("CRM_RATELIMIT_PER_FORM", "100000/minute")
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        application = create_app(load_config())
        application.testing = True
        built.append(application)
        return application

    yield build
    for application in built:
        application.extensions["leadline"].engine.dispose()


# -- the happy path ----------------------------------------------------------------------------


def test_api_submission_creates_an_assigned_lead_with_the_forms_values(
    client, session, web_form, reps, render_token
) -> None:
    response = client.post(api(web_form.public_id), json=visitor(render_token()))
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"submission", "status"} and body["status"] == "received"
    sub = one(session, WebSubmission)
    assert sub.public_id == body["submission"] and sub.outcome == "new_lead" and sub.processed_at is not None
    assert sub.email == "mei@example.com" and sub.clean["last_name"] == "Chen"
    assert "_token" not in sub.raw and sub.raw["first_name"] == "Mei"
    lead = one(session, Lead)
    assert sub.lead_id == lead.id
    assert (lead.first_name, lead.last_name, lead.company) == ("Mei", "Chen", "Acme Ltd")
    assert lead.phone_e164 == "+886223456789"
    assert lead.description == "Please call me about pricing."
    assert lead.source == "Webform" and lead.web_form_id == web_form.id and lead.lead_source == "Web Site"
    assert lead.owner_id == reps[0].id
    mail = {m.template: m for m in rows(session, OutboxMessage)}
    assert mail["new_web_lead"].recipient == reps[0].email
    assert mail["visitor_auto_reply"].recipient == "mei@example.com"


def test_same_submission_id_twice_is_one_row_one_lead_same_answer(client, session, web_form, render_token) -> None:
    data = visitor(render_token())
    first = client.post(api(web_form.public_id), json=data)
    second = client.post(api(web_form.public_id), json=data)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert count(session, WebSubmission) == 1
    assert count(session, Lead) == 1
    assert count(session, OutboxMessage, OutboxMessage.template == "visitor_auto_reply") == 1


def test_a_bad_submission_id_does_not_merge_different_submissions(client, session, web_form, render_token) -> None:
    for _ in range(2):
        data = visitor(render_token(), _submission="short", email=f"{new_key()[:8]}@example.com")
        assert client.post(api(web_form.public_id), json=data).status_code == 201
    keys = [s.client_key for s in rows(session, WebSubmission)]
    assert len(set(keys)) == 2 and "short" not in keys
    assert count(session, Lead) == 2


def test_control_characters_are_stripped_before_storing(client, session, web_form, render_token) -> None:
    data = visitor(
        render_token(), last_name="Wang\x07", first_name="\x00Mei\x1b", message="Line one\nLine\x0c two\tend"
    )
    assert client.post(api(web_form.public_id), json=data).status_code == 201
    lead = one(session, Lead)
    assert lead.last_name == "Wang" and lead.first_name == "Mei"
    assert lead.description == "Line one\nLine two\tend"
    sub = one(session, WebSubmission)
    assert sub.clean["last_name"] == "Wang"


def test_message_line_breaks_are_normalised_not_rejected(client, session, web_form, render_token) -> None:
    data = visitor(render_token(), message="Hello\r\nWorld\rAgain")
    assert client.post(api(web_form.public_id), json=data).status_code == 201
    assert one(session, Lead).description == "Hello\nWorld\nAgain"


def test_values_at_the_limit_are_stored_whole(client, session, web_form, render_token) -> None:
    data = visitor(render_token(), first_name=MISSING, last_name="L" * 100, company="C" * 100, message="m" * 5000)
    assert client.post(api(web_form.public_id), json=data).status_code == 201
    lead = one(session, Lead)
    assert lead.last_name == "L" * 100 and lead.company == "C" * 100 and lead.description == "m" * 5000


def test_longest_valid_names_do_not_break_the_auto_reply(client, session, web_form, render_token) -> None:
    """First name (40) and last name (100) are each within their limits; together they exceed the
    outbox's recipient_name column (100), which must not cost the visitor their submission."""
    data = visitor(render_token(), first_name="F" * 40, last_name="L" * 100)
    response = client.post(api(web_form.public_id), json=data)
    assert response.status_code == 201
    lead = one(session, Lead)
    assert (lead.first_name, lead.last_name) == ("F" * 40, "L" * 100)
    reply = one(session, OutboxMessage, OutboxMessage.template == "visitor_auto_reply")
    assert reply.recipient == "mei@example.com"
    assert len(reply.recipient_name or "") <= OutboxMessage.__table__.c.recipient_name.type.length


# -- invalid input: 422 naming the field, nothing stored ---------------------------------------

BAD_INPUT = [
    pytest.param({"last_name": MISSING}, "last_name", id="last_name-missing"),
    pytest.param({"last_name": "   "}, "last_name", id="last_name-blank"),
    pytest.param({"email": MISSING}, "email", id="email-missing"),
    pytest.param({"email": "a@"}, "email", id="email-a@"),
    pytest.param({"email": "a@b"}, "email", id="email-a@b"),
    pytest.param({"email": "@b.com"}, "email", id="email-@b.com"),
    pytest.param({"email": "a b@c.com"}, "email", id="email-with-space"),
    pytest.param({"email": "a@b.com\r\nBcc: victim@example.com"}, "email", id="email-header-injection"),
    pytest.param({"phone": "abc"}, "phone", id="phone-abc"),
    pytest.param({"first_name": "Mei\nJane"}, "first_name", id="first_name-LF"),
    pytest.param({"company": "Acme\rLtd"}, "company", id="company-CR"),
    pytest.param({"last_name": "Chen\r\n"}, "last_name", id="last_name-CRLF"),
    pytest.param({"last_name": "L" * 101}, "last_name", id="last_name-101-chars"),
    pytest.param({"first_name": "F" * 41}, "first_name", id="first_name-41-chars"),
    pytest.param({"company": "C" * 101}, "company", id="company-101-chars"),
    pytest.param({"message": "m" * 5001}, "message", id="message-5001-chars"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_INPUT)
def test_invalid_input_is_422_naming_the_field_and_nothing_is_stored(
    client, session, web_form, render_token, changes, field
) -> None:
    response = client.post(api(web_form.public_id), json=visitor(render_token(), **changes))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert field in errors and errors[field] and all(isinstance(e, str) and e for e in errors[field])
    nothing_stored(session)


def test_oversized_value_is_never_truncated_even_with_valid_others(client, session, web_form, render_token) -> None:
    response = client.post(
        api(web_form.public_id), json=visitor(render_token(), last_name="X" * 101, message="m" * 5001)
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"last_name", "message"}
    assert "100" in response.get_json()["errors"]["last_name"][0]
    nothing_stored(session)


def test_form_with_a_picklist_field_accepts_a_listed_value(client, session, app, reps) -> None:
    """A select field must not lean on WTForms' deprecated tuple choices (an error under filterwarnings=error)."""
    from webform.public.spam import render_token as make

    form = add_form(session, {"name": "Industry form", "fields": ["last_name", "email", "industry"]})
    choice = next(f["choices"] for f in form.fields if f["name"] == "industry")[0]
    token = make(app.extensions["leadline"].config.secret_key, form.public_id)
    response = client.post(
        api(form.public_id), json={"last_name": "Lin", "email": "lin@example.com", "industry": choice, "_token": token}
    )
    assert response.status_code == 201
    assert one(session, Lead).industry == choice
    assert client.get(page(form.public_id)).status_code == 200


def test_picklist_value_must_be_one_of_the_choices(client, session, app, reps) -> None:
    from webform.public.spam import render_token as make

    form = add_form(session, {"name": "Industry form", "fields": ["last_name", "email", "industry"]})
    choices = next(f["choices"] for f in form.fields if f["name"] == "industry")
    assert choices
    token = make(app.extensions["leadline"].config.secret_key, form.public_id)
    bad = client.post(
        api(form.public_id),
        json={
            "last_name": "Lin",
            "email": "lin@example.com",
            "industry": "Piracy",
            "_token": token,
            "_submission": new_key(),
        },
    )
    assert bad.status_code == 422 and "industry" in bad.get_json()["errors"]
    nothing_stored(session)
    good = client.post(
        api(form.public_id),
        json={
            "last_name": "Lin",
            "email": "lin@example.com",
            "industry": choices[0],
            "_token": token,
            "_submission": new_key(),
        },
    )
    assert good.status_code == 201
    assert one(session, Lead).industry == choices[0]


def test_errors_come_in_the_forms_language(client, session, app, reps) -> None:
    from webform.public.spam import render_token as make

    form = add_form(session, {"name": "中文表單", "language": "zh_Hant"})
    token = make(app.extensions["leadline"].config.secret_key, form.public_id)
    response = client.post(api(form.public_id), json={"last_name": "", "email": "a@", "_token": token})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors["last_name"] == ["此欄位為必填。"]
    assert "電子郵件" in errors["email"][0]


def test_non_string_values_are_rejected_or_ignored_not_crashing(client, session, web_form, render_token) -> None:
    response = client.post(
        api(web_form.public_id), json=visitor(render_token(), last_name=["a", "b"], first_name={"x": 1})
    )
    assert response.status_code == 422 and "last_name" in response.get_json()["errors"]
    nothing_stored(session)


# -- statuses of the API -----------------------------------------------------------------------


def test_unknown_form_is_404_json_on_the_api(client, session, web_form, render_token) -> None:
    response = client.post(api("no-such-form"), json=visitor(render_token()))
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"] == "not_found"
    nothing_stored(session)


def test_unknown_form_is_404_html_page_on_forms(client, web_form) -> None:
    response = client.get(page("no-such-form"))
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Form not found" in response.get_data(as_text=True)
    assert client.get(page("no-such-form") + "/embed.js").status_code == 404
    assert client.get(page("x" * 65)).status_code == 404


def test_disabled_form_answers_404_everywhere(client, session, web_form, render_token) -> None:
    form = session.get(WebForm, web_form.id)
    webforms.disable_form(session, form)
    session.commit()
    assert client.post(api(web_form.public_id), json=visitor(render_token())).status_code == 404
    assert client.get(page(web_form.public_id)).status_code == 404
    assert client.get(page(web_form.public_id) + "/embed.js").status_code == 404
    assert client.post(page(web_form.public_id), data=visitor(render_token())).status_code == 404
    nothing_stored(session)


def test_body_over_64_kb_is_413_and_nothing_stored(client, session, web_form, render_token) -> None:
    data = visitor(render_token(), message="m" * 4000, padding="p" * (70 * 1024))
    response = client.post(api(web_form.public_id), json=data)
    assert response.status_code == 413 and response.is_json
    hosted = client.post(page(web_form.public_id), data=data)
    assert hosted.status_code == 413
    nothing_stored(session)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_api_wants_json_else_415(client, session, web_form, render_token, content_type) -> None:
    body = "last_name=Chen&email=mei%40example.com" if "multipart" not in content_type else None
    if body is None:
        response = client.post(api(web_form.public_id), data={"last_name": "Chen", "email": "mei@example.com"})
    else:
        response = client.post(api(web_form.public_id), data=body, content_type=content_type)
    assert response.status_code == 415 and response.is_json
    nothing_stored(session)


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "{broken", "null"])
def test_api_json_that_is_not_an_object_is_400(client, session, web_form, body) -> None:
    response = client.post(api(web_form.public_id), data=body, content_type="application/json")
    assert response.status_code == 400
    assert "_body" in response.get_json()["errors"]
    nothing_stored(session)


def test_foreign_origin_is_403_and_nothing_stored(client, session, web_form, render_token) -> None:
    response = client.post(
        api(web_form.public_id), json=visitor(render_token()), headers={"Origin": "http://evil.test"}
    )
    assert response.status_code == 403 and response.is_json
    assert "Access-Control-Allow-Origin" not in response.headers
    nothing_stored(session)


@pytest.mark.parametrize(
    "origin", ["http://allowed.test.evil.test", "https://allowed.test", "http://allowed.test:8080"]
)
def test_lookalike_origins_are_not_allowed(client, session, web_form, render_token, origin) -> None:
    response = client.post(api(web_form.public_id), json=visitor(render_token()), headers={"Origin": origin})
    assert response.status_code == 403
    nothing_stored(session)


def test_allowed_origin_gets_cors_headers_on_success_and_on_errors(client, session, web_form, render_token) -> None:
    ok = client.post(api(web_form.public_id), json=visitor(render_token()), headers={"Origin": ALLOWED_ORIGIN})
    assert ok.status_code == 201
    assert ok.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Origin" in ok.headers.get("Vary", "")
    bad = client.post(
        api(web_form.public_id), json=visitor(render_token(), email="a@"), headers={"Origin": ALLOWED_ORIGIN}
    )
    assert bad.status_code == 422
    assert bad.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN  # the page's script can read the errors
    assert one(session, Lead).email == "mei@example.com"


def test_preflight_is_answered_for_allowed_origins_only(client, web_form) -> None:
    ok = client.options(
        api(web_form.public_id),
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert ok.status_code in (200, 204)
    assert ok.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "content-type" in ok.headers["Access-Control-Allow-Headers"].lower()
    assert "x-form-key" in ok.headers["Access-Control-Allow-Headers"].lower()
    foreign = client.options(
        api(web_form.public_id), headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert client.options(api("no-such-form"), headers={"Origin": ALLOWED_ORIGIN}).status_code == 404


def test_integration_key_lets_a_server_post_without_token_or_allowed_origin(client, session, web_form) -> None:
    data = visitor(None)
    response = client.post(
        api(web_form.public_id),
        json=data,
        headers={"X-Form-Key": web_form.integration_key, "Origin": "http://backend.example"},
    )
    assert response.status_code == 201
    sub = one(session, WebSubmission)
    assert sub.outcome == "new_lead" and sub.spam_reason is None
    assert count(session, Lead) == 1


def test_wrong_integration_key_does_not_bypass_anything(client, session, web_form) -> None:
    foreign = client.post(
        api(web_form.public_id),
        json=visitor(None),
        headers={"X-Form-Key": "wrong-key", "Origin": "http://backend.example"},
    )
    assert foreign.status_code == 403
    no_token = client.post(api(web_form.public_id), json=visitor(None), headers={"X-Form-Key": "wrong-key"})
    assert no_token.status_code == 201
    assert one(session, WebSubmission).outcome == "quarantined"
    assert count(session, Lead) == 0


def test_healthz_reports_the_database(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.is_json
    assert response.get_json() == {"status": "ok", "database": "up"}


def test_a_crash_shows_no_traceback_and_stores_nothing(
    client, app, session, web_form, render_token, monkeypatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals at /srv/leadline")

    monkeypatch.setattr("crm_store.capture.submissions.receive", boom)
    app.testing = False
    for response in (
        client.post(api(web_form.public_id), json=visitor(render_token())),
        client.post(page(web_form.public_id), data=visitor(render_token())),
    ):
        assert response.status_code == 500
        text = response.get_data(as_text=True)
        for leak in ("Traceback", "RuntimeError", "secret internals", "/srv/leadline", 'File "'):
            assert leak not in text
    assert client.post(api(web_form.public_id), json=visitor(render_token())).is_json
    nothing_stored(session)


# -- answers are the same whatever happened ----------------------------------------------------


def test_new_known_and_quarantined_get_identical_answers(client, session, web_form, render_token) -> None:
    answers = [
        client.post(api(web_form.public_id), json=visitor(render_token())),  # new lead
        client.post(api(web_form.public_id), json=visitor(render_token())),  # same email: added to the lead
        client.post(api(web_form.public_id), json=visitor(None)),  # no token: quarantined
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    bodies = [a.get_json() for a in answers]
    assert {tuple(sorted(b)) for b in bodies} == {("status", "submission")}
    assert {b["status"] for b in bodies} == {"received"}
    assert len({len(b["submission"]) for b in bodies}) == 1
    assert len({tuple(sorted(a.headers.keys())) for a in answers}) == 1  # no header tells them apart
    steady = [
        tuple(
            sorted(
                (k, v)
                for k, v in a.headers.items()
                if k not in ("Date", "Content-Length") and not k.startswith(("X-RateLimit", "Retry-After"))
            )
        )
        for a in answers
    ]
    assert len(set(steady)) == 1
    outcomes = [s.outcome for s in rows(session, WebSubmission)]
    assert outcomes == ["new_lead", "added_to_lead", "quarantined"]


# -- dedupe by email ---------------------------------------------------------------------------


def _existing_lead(session: Session, email: str, owner: User) -> Lead:
    lead = records.create(
        session, "leads", {"last_name": "Wang", "first_name": "Mary", "email": email, "owner_id": owner.id}
    )
    session.commit()
    return lead


@pytest.mark.parametrize(
    ("stored", "submitted"),
    [
        ("mary@example.com", "Mary@Example.com"),
        ("Mary@Example.com", "mary@example.com"),
        ("MARY@EXAMPLE.COM", "Mary@Example.com"),
    ],
)
def test_email_of_an_open_lead_adds_the_inquiry_to_it_case_insensitively(
    client, session, web_form, reps, render_token, stored, submitted
) -> None:
    lead = _existing_lead(session, stored, reps[1])
    response = client.post(
        api(web_form.public_id), json=visitor(render_token(), email=submitted, message="Still interested?")
    )
    assert response.status_code == 201
    sub = one(session, WebSubmission)
    assert sub.outcome == "added_to_lead" and sub.lead_id == lead.id
    assert count(session, Lead) == 1


def test_inquiry_on_a_known_lead_gives_note_task_and_email_to_its_owner(
    client, session, web_form, reps, render_token
) -> None:
    lead = _existing_lead(session, "mary@example.com", reps[1])
    response = client.post(
        api(web_form.public_id), json=visitor(render_token(), email="mary@example.com", message="Can you send a quote?")
    )
    assert response.status_code == 201
    note = one(session, Note, Note.lead_id == lead.id)
    assert "Can you send a quote?" in note.body and "Website inquiry" in note.body
    task = one(session, Activity, Activity.lead_id == lead.id)
    assert task.type == "task" and task.owner_id == reps[1].id and task.completed_at is None
    assert task.due_date is not None and task.description == "Can you send a quote?"
    mail = one(session, OutboxMessage, OutboxMessage.template == "new_inquiry")
    assert mail.recipient == reps[1].email and mail.context["message"] == "Can you send a quote?"
    assert mail.context["record"]["number"] == lead.lead_no
    # the known lead keeps its owner and no one else was handed a lead
    assert one(session, Lead).owner_id == reps[1].id
    assert count(session, OutboxMessage, OutboxMessage.template == "new_web_lead") == 0


def test_known_unowned_lead_is_assigned_by_the_form_rule(client, session, web_form, reps, render_token) -> None:
    lead = records.create(session, "leads", {"last_name": "Wang", "email": "mary@example.com"})
    session.commit()
    client.post(api(web_form.public_id), json=visitor(render_token(), email="mary@example.com"))
    assert one(session, Lead).owner_id == reps[0].id
    assert one(session, Activity, Activity.lead_id == lead.id).owner_id == reps[0].id


def test_email_of_a_contact_adds_the_inquiry_to_the_contact(client, session, web_form, reps, render_token) -> None:
    contact = records.create(
        session, "contacts", {"last_name": "Lin", "email": "lin@example.com", "owner_id": reps[2].id}
    )
    session.commit()
    response = client.post(
        api(web_form.public_id), json=visitor(render_token(), email="lin@example.com", message="Reorder")
    )
    assert response.status_code == 201
    sub = one(session, WebSubmission)
    assert sub.outcome == "added_to_contact" and sub.contact_id == contact.id and sub.lead_id is None
    assert count(session, Lead) == 0
    assert "Reorder" in one(session, Note, Note.contact_id == contact.id).body
    assert one(session, Activity, Activity.contact_id == contact.id).owner_id == reps[2].id
    assert one(session, OutboxMessage, OutboxMessage.template == "new_inquiry").recipient == reps[2].email


def test_contact_email_matches_case_insensitively(client, session, web_form, reps, render_token) -> None:
    contact = records.create(session, "contacts", {"last_name": "Lin", "email": "Lin.Hua@Example.com"})
    session.commit()
    client.post(api(web_form.public_id), json=visitor(render_token(), email="lin.hua@example.com"))
    sub = one(session, WebSubmission)
    assert sub.outcome == "added_to_contact" and sub.contact_id == contact.id
    assert count(session, Lead) == 0


def test_closed_leads_do_not_catch_new_inquiries(client, session, web_form, reps, render_token) -> None:
    records.create(session, "leads", {"last_name": "Old", "email": "mary@example.com", "status": "Junk Lead"})
    session.commit()
    client.post(api(web_form.public_id), json=visitor(render_token(), email="mary@example.com"))
    assert one(session, WebSubmission).outcome == "new_lead"
    assert count(session, Lead) == 2


def test_two_submissions_of_one_email_make_one_lead(client, session, web_form, render_token) -> None:
    client.post(api(web_form.public_id), json=visitor(render_token(), message="first"))
    client.post(api(web_form.public_id), json=visitor(render_token(), message="second"))
    lead = one(session, Lead)
    assert lead.description == "first"
    assert [s.outcome for s in rows(session, WebSubmission)] == ["new_lead", "added_to_lead"]
    assert "second" in one(session, Note, Note.lead_id == lead.id).body


# -- spam: answered like anything else, quarantined, no lead ------------------------------------


def _expired_token(secret: str, public_id: str) -> str:
    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 2 * 24 * 3600

    return URLSafeTimedSerializer(secret, salt="leadline.webform.render", signer=Old).dumps({"f": public_id})


SPAM = {
    "honeypot": lambda data, secret, pid: {**data, "homepage": "http://buy-now.example"},
    "no-token": lambda data, secret, pid: {k: v for k, v in data.items() if k != "_token"},
    "empty-token": lambda data, secret, pid: {**data, "_token": ""},
    "forged-token": lambda data, secret, pid: {**data, "_token": "eyJmIjoieCJ9.Zm9v.YmFy"},
    "token-of-another-key": lambda data, secret, pid: {**data, "_token": _sign("not-the-secret", pid)},
    "expired-token": lambda data, secret, pid: {**data, "_token": _expired_token(secret, pid)},
    "link-in-first_name": lambda data, secret, pid: {**data, "first_name": "http://spam.example"},
    "www-in-last_name": lambda data, secret, pid: {**data, "last_name": "www.cheap-pills.example"},
    "html-in-company": lambda data, secret, pid: {**data, "company": "<a href=x>win</a>"},
}


def _sign(secret: str, public_id: str) -> str:
    from webform.public.spam import render_token

    return render_token(secret, public_id)


@pytest.mark.parametrize("kind", list(SPAM))
def test_spam_is_answered_201_but_quarantined_without_lead_or_mail(
    client, app, session, web_form, render_token, kind
) -> None:
    secret = app.extensions["leadline"].config.secret_key
    data = SPAM[kind](visitor(render_token()), secret, web_form.public_id)
    response = client.post(api(web_form.public_id), json=data)
    assert response.status_code == 201
    assert set(response.get_json()) == {"submission", "status"}
    sub = one(session, WebSubmission)
    assert sub.public_id == response.get_json()["submission"]
    assert sub.outcome == "quarantined" and sub.spam_reason and sub.lead_id is None
    assert count(session, Lead) == 0
    assert count(session, OutboxMessage) == 0


def test_token_of_another_form_is_quarantined(client, app, session, web_form, render_token, reps) -> None:
    other = add_form(session, {"name": "Other form"})
    response = client.post(api(web_form.public_id), json=visitor(render_token(other.public_id)))
    assert response.status_code == 201
    sub = one(session, WebSubmission)
    assert sub.outcome == "quarantined" and "another form" in sub.spam_reason
    assert count(session, Lead) == 0


def test_filled_in_too_fast_is_quarantined(client, session, web_form, render_token) -> None:
    set_setting(session, "form_min_fill_seconds", 30)
    response = client.post(api(web_form.public_id), json=visitor(render_token()))
    assert response.status_code == 201
    sub = one(session, WebSubmission)
    assert sub.outcome == "quarantined" and "minimum 30" in sub.spam_reason
    assert count(session, Lead) == 0


def test_integration_key_bypasses_the_token_and_fill_time(client, session, web_form) -> None:
    set_setting(session, "form_min_fill_seconds", 30)
    response = client.post(
        api(web_form.public_id), json=visitor(None), headers={"X-Form-Key": web_form.integration_key}
    )
    assert response.status_code == 201
    assert one(session, WebSubmission).outcome == "new_lead"
    assert count(session, Lead) == 1


def test_integration_key_does_not_bypass_the_honeypot(client, session, web_form) -> None:
    data = visitor(None, homepage="filled")
    client.post(api(web_form.public_id), json=data, headers={"X-Form-Key": web_form.integration_key})
    assert one(session, WebSubmission).outcome == "quarantined"
    assert count(session, Lead) == 0


def test_quarantined_retry_returns_the_same_id(client, session, web_form) -> None:
    data = visitor(None)
    first = client.post(api(web_form.public_id), json=data).get_json()
    second = client.post(api(web_form.public_id), json=data).get_json()
    assert first == second
    assert count(session, WebSubmission) == 1


# -- attribution and consent -------------------------------------------------------------------


def test_attribution_first_touch_on_the_lead_both_touches_on_the_submission(
    client, session, web_form, render_token
) -> None:
    first = {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "gclid": "G-123",
        "landing_page": "https://www.example.com/pricing?utm_source=google",
        "referrer": "https://www.google.com/",
    }
    last = {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "may",
        "utm_term": "crm",
        "utm_content": "button",
        "fbclid": "FB-9",
        "referrer": "https://mail.example/",
        "landing_page": "https://www.example.com/contact",
    }
    data = visitor(render_token(), _first_touch=first, **last)
    assert client.post(api(web_form.public_id), json=data).status_code == 201
    lead = one(session, Lead)
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.gclid) == ("google", "cpc", "spring", "G-123")
    assert lead.landing_page == first["landing_page"] and lead.referrer == "https://www.google.com/"
    assert lead.utm_term is None and lead.fbclid is None  # not in the first touch
    sub = one(session, WebSubmission)
    assert sub.first_touch == first and sub.last_touch == last


def test_without_first_touch_the_last_touch_is_the_first(client, session, web_form, render_token) -> None:
    data = visitor(render_token(), utm_source="bing", utm_campaign="brand")
    client.post(api(web_form.public_id), json=data)
    assert (one(session, Lead).utm_source, one(session, Lead).utm_campaign) == ("bing", "brand")
    sub = one(session, WebSubmission)
    assert sub.first_touch == sub.last_touch == {"utm_source": "bing", "utm_campaign": "brand"}


def test_long_attribution_is_kept_whole_on_the_submission(client, session, web_form, render_token) -> None:
    long_page = "https://www.example.com/" + "p" * 1500
    client.post(api(web_form.public_id), json=visitor(render_token(), landing_page=long_page, utm_source="s" * 300))
    sub = one(session, WebSubmission)
    assert sub.last_touch["landing_page"] == long_page and sub.last_touch["utm_source"] == "s" * 300
    lead = one(session, Lead)
    assert long_page.startswith(lead.landing_page) and lead.utm_source == "s" * 255


@pytest.fixture
def consent_form(session: Session, reps: list) -> WebForm:
    return add_form(
        session, {"name": "Consent form", "consent_text": "I agree that you store my data.", "owner": reps[2].email}
    )


@pytest.mark.parametrize("consent", [MISSING, False, "", "no"])
def test_consent_box_is_required_when_the_form_has_one(client, app, session, consent_form, consent) -> None:
    token = _sign(app.extensions["leadline"].config.secret_key, consent_form.public_id)
    data = visitor(token) if consent is MISSING else visitor(token, consent=consent)
    response = client.post(api(consent_form.public_id), json=data)
    assert response.status_code == 422
    assert "consent" in response.get_json()["errors"]
    nothing_stored(session)


def test_consent_text_and_time_are_stored_on_the_lead(client, app, session, consent_form, reps) -> None:
    token = _sign(app.extensions["leadline"].config.secret_key, consent_form.public_id)
    before = utcnow()
    response = client.post(api(consent_form.public_id), json=visitor(token, consent=True))
    assert response.status_code == 201
    lead = one(session, Lead)
    assert lead.consent_text == "I agree that you store my data."
    assert before - dt.timedelta(seconds=1) <= lead.consent_at <= utcnow() + dt.timedelta(seconds=1)
    assert lead.owner_id == reps[2].id
    sub = one(session, WebSubmission)
    assert sub.consent_text == lead.consent_text and sub.consent_at == lead.consent_at


def test_consent_is_not_recorded_on_forms_without_it(client, session, web_form, render_token) -> None:
    client.post(api(web_form.public_id), json=visitor(render_token(), consent=True))
    lead = one(session, Lead)
    assert lead.consent_text is None and lead.consent_at is None


# -- the hosted page ---------------------------------------------------------------------------


def test_hosted_page_renders_with_frame_ancestors_of_the_allowed_origins(client, web_form) -> None:
    response = client.get(page(web_form.public_id))
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    ancestors = re.search(r"frame-ancestors ([^;]+)", csp)[1].split()
    assert ALLOWED_ORIGIN in ancestors and "'self'" in ancestors and "*" not in ancestors
    html = response.get_data(as_text=True)
    for name in (
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "message",
        "homepage",
        "_token",
        "_submission",
    ):
        assert f'name="{name}"' in html
    token_from(html)


def test_hosted_page_in_traditional_chinese(client, session, reps) -> None:
    form = add_form(session, {"name": "聯絡我們", "language": "zh_Hant"})
    html = client.get(page(form.public_id)).get_data(as_text=True)
    assert 'lang="zh-Hant-TW"' in html and "姓氏" in html and "送出" in html


def test_hosted_page_valid_post_redirects_303_to_thanks_and_stores_the_lead(client, session, web_form) -> None:
    html = client.get(page(web_form.public_id) + "?utm_source=newsletter&utm_campaign=may").get_data(as_text=True)
    data = visitor(token_from(html), utm_source="newsletter", utm_campaign="may")
    response = client.post(page(web_form.public_id), data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/forms/{web_form.public_id}/thanks")
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200 and "Thank you" in thanks.get_data(as_text=True)
    lead = one(session, Lead)
    assert lead.last_name == "Chen" and lead.utm_source == "newsletter" and lead.utm_campaign == "may"
    assert one(session, WebSubmission).outcome == "new_lead"


def test_hosted_page_carries_attribution_from_its_url(client, web_form) -> None:
    html = client.get(page(web_form.public_id) + "?utm_source=newsletter&gclid=abc").get_data(as_text=True)
    assert 'name="utm_source" value="newsletter"' in html and 'name="gclid" value="abc"' in html
    assert 'name="landing_page"' in html


def test_hosted_page_redirects_to_the_configured_return_url_only(client, session, web_form) -> None:
    form = session.get(WebForm, web_form.id)
    webforms.edit_form(session, form, {"return_url": "https://www.example.com/thank-you"})
    session.commit()
    html = client.get(page(web_form.public_id)).get_data(as_text=True)
    data = visitor(token_from(html), return_url="https://evil.example/phish", next="https://evil.example/next")
    response = client.post(page(web_form.public_id), data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "https://www.example.com/thank-you"


def test_hosted_page_ignores_redirect_parameters_in_the_post(client, web_form) -> None:
    html = client.get(page(web_form.public_id)).get_data(as_text=True)
    data = visitor(token_from(html), return_url="https://evil.example/phish", next="//evil.example")
    response = client.post(
        page(web_form.public_id) + "?next=https://evil.example&return_url=https://evil.example", data=data
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "evil" not in location and location.endswith(f"/forms/{web_form.public_id}/thanks")


def test_hosted_page_invalid_post_is_422_with_errors_beside_fields_and_values_kept(client, session, web_form) -> None:
    html = client.get(page(web_form.public_id)).get_data(as_text=True)
    data = visitor(token_from(html), email="a@", last_name="", company="Acme & Sons", message="Hello\nthere")
    response = client.post(page(web_form.public_id), data=data)
    assert response.status_code == 422 and response.mimetype == "text/html"
    out = response.get_data(as_text=True)
    assert 'id="ll-email-error"' in out and 'id="ll-last_name-error"' in out
    assert 'id="ll-first_name-error"' not in out
    email_block = out[out.index('id="ll-email"') : out.index('id="ll-email-error"')]
    assert 'value="a@"' in email_block and 'aria-invalid="true"' in email_block
    assert "Enter an email address" in out and "This field is required." in out
    assert 'value="Mei"' in out and 'value="Acme &amp; Sons"' in out and ">Hello\nthere</textarea>" in out
    assert token_from(out) == data["_token"]  # the fill time still counts from the first render
    assert f'name="_submission" value="{data["_submission"]}"' in out
    assert "frame-ancestors 'self' http://allowed.test" in response.headers["Content-Security-Policy"]
    nothing_stored(session)


def test_hosted_page_escapes_what_the_visitor_typed(client, session, web_form) -> None:
    html = client.get(page(web_form.public_id)).get_data(as_text=True)
    script = "<script>alert(1)</script>"
    data = visitor(token_from(html), first_name=script, company='"><img src=x onerror=alert(2)>', email="")
    response = client.post(page(web_form.public_id), data=data)
    assert response.status_code == 422
    out = response.get_data(as_text=True)
    assert script not in out and "<img src=x" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in out or "&quot;&gt;&lt;img" in out
    nothing_stored(session)


def test_hosted_page_consent_checkbox(client, app, session, consent_form) -> None:
    html = client.get(page(consent_form.public_id)).get_data(as_text=True)
    assert 'name="consent"' in html and "I agree that you store my data." in html
    missing = client.post(page(consent_form.public_id), data=visitor(token_from(html)))
    assert missing.status_code == 422 and 'id="ll-consent-error"' in missing.get_data(as_text=True)
    ok = client.post(page(consent_form.public_id), data=visitor(token_from(html), consent="on"))
    assert ok.status_code == 303
    assert one(session, Lead).consent_text == "I agree that you store my data."


def test_hosted_page_spam_still_redirects_to_thanks(client, session, web_form) -> None:
    html = client.get(page(web_form.public_id)).get_data(as_text=True)
    response = client.post(page(web_form.public_id), data=visitor(token_from(html), homepage="http://x.example"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/thanks")
    assert one(session, WebSubmission).outcome == "quarantined"
    assert count(session, Lead) == 0


def test_hosted_page_from_a_foreign_origin_is_403(client, session, web_form) -> None:
    html = client.get(page(web_form.public_id)).get_data(as_text=True)
    response = client.post(
        page(web_form.public_id), data=visitor(token_from(html)), headers={"Origin": "http://evil.test"}
    )
    assert response.status_code == 403 and response.mimetype == "text/html"
    same_site = client.post(
        page(web_form.public_id), data=visitor(token_from(html)), headers={"Origin": "http://localhost"}
    )
    assert same_site.status_code == 303
    assert count(session, WebSubmission) == 1


def test_embed_js_hands_out_a_token_and_the_fields(client, web_form) -> None:
    response = client.get(page(web_form.public_id) + "/embed.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    config = json.loads(re.search(r"var CONFIG = (\{.*?\});\n", body, re.S)[1])
    assert config["form"] == web_form.public_id and config["honeypot"] == "homepage"
    assert config["action"].endswith(api(web_form.public_id))
    assert [f["name"] for f in config["fields"]] == ["first_name", "last_name", "email", "phone", "company", "message"]
    assert config["token"]


def test_embed_js_token_is_accepted(client, session, web_form) -> None:
    body = client.get(page(web_form.public_id) + "/embed.js").get_data(as_text=True)
    token = json.loads(re.search(r"var CONFIG = (\{.*?\});\n", body, re.S)[1])["token"]
    client.post(api(web_form.public_id), json=visitor(token))
    assert one(session, WebSubmission).outcome == "new_lead"


# -- rate limits and client addresses ----------------------------------------------------------


def test_rate_limit_per_ip_answers_429_with_retry_after(make_app, session, web_form, render_token) -> None:
    client = make_app(CRM_RATELIMIT_PER_IP="3/minute").test_client()
    answers = [
        client.post(api(web_form.public_id), json=visitor(render_token(), email=f"v{i}@example.com")) for i in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    limited = answers[3]
    assert limited.is_json and int(limited.headers["Retry-After"]) > 0
    assert count(session, WebSubmission) == 3
    other = client.post(
        api(web_form.public_id), json=visitor(render_token()), environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert other.status_code == 201  # another address has its own allowance
    assert client.get(page(web_form.public_id)).status_code == 200  # showing the page is not limited


def test_rate_limit_per_form_counts_every_address(make_app, session, web_form, render_token) -> None:
    client = make_app(CRM_RATELIMIT_PER_FORM="3/minute").test_client()
    codes = [
        client.post(
            api(web_form.public_id),
            json=visitor(render_token(), email=f"v{i}@example.com"),
            environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
        ).status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    assert count(session, WebSubmission) == 3


def test_rate_limited_hosted_post_is_an_html_429(make_app, web_form, render_token) -> None:
    client = make_app(CRM_RATELIMIT_PER_IP="1/minute").test_client()
    client.post(page(web_form.public_id), data=visitor(render_token()))
    limited = client.post(page(web_form.public_id), data=visitor(render_token()))
    assert limited.status_code == 429 and limited.mimetype == "text/html"
    assert "Retry-After" in limited.headers and "Too many" in limited.get_data(as_text=True)


def test_ip_is_stored_truncated_to_24_bits(client, session, web_form, render_token) -> None:
    client.post(api(web_form.public_id), json=visitor(render_token()), environ_base={"REMOTE_ADDR": "192.0.2.201"})
    client.post(
        api(web_form.public_id),
        json=visitor(render_token(), email="v6@example.com"),
        environ_base={"REMOTE_ADDR": "2001:db8:1234:5678::1"},
    )
    assert [s.ip for s in rows(session, WebSubmission)] == ["192.0.2.0", "2001:db8:1234::"]


def test_forwarded_for_is_believed_from_trusted_proxies_only(make_app, session, web_form, render_token) -> None:
    untrusted = make_app().test_client()
    untrusted.post(api(web_form.public_id), json=visitor(render_token()), headers={"X-Forwarded-For": "203.0.113.77"})
    trusted = make_app(CRM_TRUSTED_PROXIES="127.0.0.1").test_client()
    trusted.post(
        api(web_form.public_id),
        json=visitor(render_token(), email="b@example.com"),
        headers={"X-Forwarded-For": "203.0.113.77"},
    )
    trusted.post(
        api(web_form.public_id),
        json=visitor(render_token(), email="c@example.com"),
        headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.77"},
    )
    assert [s.ip for s in rows(session, WebSubmission)] == ["127.0.0.0", "203.0.113.0", "203.0.113.0"]


def test_rate_limit_behind_a_trusted_proxy_is_per_visitor(make_app, session, web_form, render_token) -> None:
    client = make_app(CRM_TRUSTED_PROXIES="127.0.0.1", CRM_RATELIMIT_PER_IP="2/minute").test_client()
    codes = [
        client.post(
            api(web_form.public_id),
            json=visitor(render_token(), email=f"v{i}@example.com"),
            headers={"X-Forwarded-For": f"203.0.113.{i % 2 + 1}"},
        ).status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 201, 201]
    again = client.post(
        api(web_form.public_id), json=visitor(render_token()), headers={"X-Forwarded-For": "203.0.113.1"}
    )
    assert again.status_code == 429


# -- round robin -------------------------------------------------------------------------------


def _submit_many(client: Any, web_form: WebForm, render_token: Any, n: int) -> None:
    for i in range(n):
        response = client.post(api(web_form.public_id), json=visitor(render_token(), email=f"rr{i}@example.com"))
        assert response.status_code == 201


def _owners(session: Session, reps: list) -> list[str]:
    names = {r.id: r.email.split("@")[0] for r in reps}
    return [names.get(lead.owner_id, str(lead.owner_id)) for lead in rows(session, Lead)]


def test_round_robin_hands_leads_out_in_turn(client, session, web_form, reps, render_token) -> None:
    _submit_many(client, web_form, render_token, 6)
    assert _owners(session, reps) == ["rep1", "rep2", "rep3", "rep1", "rep2", "rep3"]
    assigned = [m.recipient for m in rows(session, OutboxMessage, OutboxMessage.template == "new_web_lead")]
    assert assigned == [r.email for r in reps] * 2


def test_round_robin_skips_a_rep_out_of_the_office(client, session, web_form, reps, render_token) -> None:
    away = session.get(User, reps[1].id)
    away.out_of_office_from = utcnow() - dt.timedelta(hours=1)
    away.out_of_office_to = utcnow() + dt.timedelta(days=1)
    session.commit()
    _submit_many(client, web_form, render_token, 4)
    assert _owners(session, reps) == ["rep1", "rep3", "rep1", "rep3"]


def test_round_robin_includes_a_rep_whose_absence_is_over_or_ahead(
    client, session, web_form, reps, render_token
) -> None:
    back = session.get(User, reps[1].id)
    back.out_of_office_from = utcnow() - dt.timedelta(days=3)
    back.out_of_office_to = utcnow() - dt.timedelta(days=1)
    later = session.get(User, reps[2].id)
    later.out_of_office_from = utcnow() + dt.timedelta(days=1)
    session.commit()
    _submit_many(client, web_form, render_token, 3)
    assert _owners(session, reps) == ["rep1", "rep2", "rep3"]


def test_round_robin_skips_an_inactive_rep(client, session, web_form, reps, render_token) -> None:
    session.get(User, reps[2].id).active = False
    session.commit()
    _submit_many(client, web_form, render_token, 4)
    assert _owners(session, reps) == ["rep1", "rep2", "rep1", "rep2"]


def test_nobody_available_leaves_the_lead_unassigned(client, session, web_form, reps, render_token) -> None:
    for rep in reps:
        session.get(User, rep.id).out_of_office_from = utcnow() - dt.timedelta(minutes=5)
    session.commit()
    _submit_many(client, web_form, render_token, 1)
    assert one(session, Lead).owner_id is None
    assert count(session, OutboxMessage, OutboxMessage.template == "new_web_lead") == 0


def test_deactivating_a_rep_removes_them_from_round_robin_lists(client, session, web_form, reps, render_token) -> None:
    moved = users.deactivate_user(session, reps[1].email, reassign_to=reps[0].email)
    session.commit()
    assert moved["round_robin_lists"] == 1
    left = [a.user_id for a in rows(session, WebFormAssignee, WebFormAssignee.form_id == web_form.id)]
    assert left == [reps[0].id, reps[2].id]
    _submit_many(client, web_form, render_token, 4)
    assert _owners(session, reps) == ["rep1", "rep3", "rep1", "rep3"]


def test_deactivating_the_single_owner_hands_the_form_on(client, session, reps, render_token) -> None:
    form = add_form(session, {"name": "Owned form", "owner": reps[1].email})
    moved = users.deactivate_user(session, reps[1].email, reassign_to=reps[2].email)
    session.commit()
    assert moved["forms"] == 1
    assert one(session, WebForm, WebForm.id == form.id).owner_user_id == reps[2].id


# -- personal data -----------------------------------------------------------------------------


def test_person_export_includes_web_submissions(client, session, web_form, render_token) -> None:
    client.post(api(web_form.public_id), json=visitor(render_token(), email="Mei@Example.com", utm_source="ads"))
    client.post(api(web_form.public_id), json=visitor(render_token(), email="other@example.com"))
    data = person.export_person(session, "MEI@example.com")
    done(session)
    json.dumps(data)
    assert len(data["web_submissions"]) == 1
    exported = data["web_submissions"][0]
    assert exported["clean"]["last_name"] == "Chen" and exported["last_touch"] == {"utm_source": "ads"}
    assert exported["ip"] == "127.0.0.0" and exported["raw"]["email"] == "Mei@Example.com"


def test_person_erase_deletes_their_web_submissions(client, session, web_form, render_token) -> None:
    client.post(api(web_form.public_id), json=visitor(render_token(), email="mei@example.com"))
    client.post(api(web_form.public_id), json=visitor(None, email="mei@example.com"))  # quarantined, no lead
    client.post(api(web_form.public_id), json=visitor(render_token(), email="other@example.com"))
    counts = person.erase_person(session, "Mei@example.com", SYSTEM)
    session.commit()
    assert counts["web_submissions"] == 2
    left = rows(session, WebSubmission)
    assert [s.email for s in left] == ["other@example.com"]
    dump = json.dumps([[s.raw, s.clean] for s in left])
    assert "mei@example.com" not in dump


def test_app_refuses_a_database_that_is_not_migrated(tmp_path) -> None:
    """Serving an old or empty database would answer 500s to visitors; the app says to run `crm init`."""
    from crm_store.config import load_config
    from crm_store.errors import CrmError
    from webform import create_app

    config = load_config({"CRM_DATA_DIR": str(tmp_path), "CRM_SECRET_KEY": "k" * 40})
    with pytest.raises(CrmError, match="crm init"):
        create_app(config)


def test_group_writer_fails_every_waiting_job_when_the_lock_fails(tmp_path) -> None:
    """If the write lock cannot be taken, each caller gets the error instead of waiting forever."""
    from webform.writer import Writer

    writer = Writer(sessions=None, lock_path=str(tmp_path / "missing-dir" / "db.writers"))  # type: ignore[arg-type]  # the lock fails before a session is needed
    with pytest.raises(FileNotFoundError):
        writer.run(lambda session: 1)
    assert writer._pending == [] and not writer._leading
