"""The public capture path against input strangers can send: text no database stores, deep JSON,
a blank honeypot, `Origin: null`, web addresses, IPv6 clients and the render tokens embed.js hands out.

Every test runs on SQLite and PostgreSQL. JSON bodies holding a lone surrogate are written with
`json.dumps` (ASCII escapes: `"\\ud800"`), as a script would send them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm_store.models import Lead, WebForm, WebSubmission
from tests.conftest import ALLOWED_ORIGIN
from tests.test_webform_api import (
    add_form,
    api,
    count,
    nothing_stored,
    one,
    page,
    token_from,
    visitor,
)

LONE = "S\ud800"  # half of a surrogate pair: JSON can carry it, UTF-8 (and so the database) cannot


def post_json(client: Any, public_id: str, data: Any, **kwargs: Any) -> Any:
    return client.post(api(public_id), data=json.dumps(data), content_type="application/json", **kwargs)


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]


@pytest.fixture
def limited(env: dict[str, str], web_form: WebForm, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A test client of an app allowing `rate` submissions per address: `limited("2/minute")`."""
    from crm_store.config import load_config
    from webform import create_app

    built = []

    def build(rate: str) -> Any:
        monkeypatch.setenv("CRM_RATELIMIT_PER_IP", rate)
        monkeypatch.setenv("CRM_RATELIMIT_PER_FORM", "100000/minute")
        built.append(create_app(load_config()))
        built[-1].testing = True
        return built[-1].test_client()

    yield build
    for application in built:
        application.extensions["leadline"].engine.dispose()


# -- 1. text that cannot be stored -------------------------------------------------------------

UNSTORABLE = [
    pytest.param({"last_name": LONE}, "last_name", id="visitor-field"),
    pytest.param({"message": "Hello " + LONE}, "message", id="message"),
    pytest.param({"utm_source": LONE}, "utm_source", id="attribution"),
    pytest.param({"referrer": LONE}, "referrer", id="hidden-referrer"),
    pytest.param({"_first_touch": {"utm_source": LONE}}, "_first_touch", id="first-touch-value"),
    pytest.param({"_first_touch": {LONE: "x"}}, "_first_touch", id="first-touch-key"),
    pytest.param({"_token": LONE}, "_token", id="token"),
    pytest.param({"homepage": LONE}, "homepage", id="honeypot"),
    pytest.param({"favourite": LONE}, "favourite", id="unknown-key-kept-raw"),
    pytest.param({"extra": {"deep": [1, LONE]}}, "extra", id="unknown-nested"),
]


@pytest.mark.parametrize(("changes", "field"), UNSTORABLE)
def test_text_that_cannot_be_stored_is_422_naming_the_field(
    client, session, web_form, render_token, caplog, changes, field
) -> None:
    caplog.set_level(logging.INFO)
    response = post_json(client, web_form.public_id, visitor(render_token(), **changes))
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert set(errors) == {field} and errors[field] and all(isinstance(e, str) and e for e in errors[field])
    nothing_stored(session)
    no_traceback(caplog)


def test_a_key_that_cannot_be_stored_is_named_readably(client, session, web_form, render_token, caplog) -> None:
    response = post_json(client, web_form.public_id, {**visitor(render_token()), LONE: "x"})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["S\\ud800"]
    nothing_stored(session)
    no_traceback(caplog)


def test_an_unreadable_user_agent_does_not_cost_the_submission(client, session, web_form, render_token) -> None:
    response = post_json(client, web_form.public_id, visitor(render_token()), headers={"User-Agent": "Bot\x00/1.0"})
    assert response.status_code == 201
    assert one(session, WebSubmission).user_agent == "Bot/1.0"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_json_cannot_carry_are_400(client, session, web_form, render_token, caplog, number) -> None:
    body = json.dumps(visitor(render_token()))[:-1] + f', "extra": {number}}}'
    response = client.post(api(web_form.public_id), data=body, content_type="application/json")
    assert response.status_code == 400 and "_body" in response.get_json()["errors"]
    nothing_stored(session)
    no_traceback(caplog)


def test_hosted_form_with_undecodable_bytes_is_never_a_500(client, session, web_form, caplog) -> None:
    """Form fields never decode to a lone surrogate (werkzeug keeps or drops bad bytes), and never crash."""
    client.application.testing = False
    token = token_from(client.get(page(web_form.public_id)).get_data(as_text=True))
    for body in (b"last_name=S%ED%A0%80&email=a%40example.com", b"last_name=S\xed\xa0\x80&email=a%40example.com"):
        response = client.post(
            page(web_form.public_id), data=body + f"&_token={token}".encode(),
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code in (303, 422), response.status_code
    no_traceback(caplog)


# -- 2. rows stored before: readable, never a traceback ----------------------------------------


def _stored_with_a_lone_surrogate(session: Session, form: WebForm) -> str:
    """A quarantined row as an older version stored it: the JSON columns hold a lone surrogate."""
    public_id = uuid.uuid4().hex[:24]
    session.add(WebSubmission(
        public_id=public_id, form_id=form.id, client_key=uuid.uuid4().hex, email="mei@example.com",
        raw={"last_name": LONE, "email": "mei@example.com", "note": "Hi " + LONE},
        clean={"last_name": LONE, "email": "mei@example.com"},
        first_touch={"utm_source": LONE}, last_touch={"utm_source": LONE},
        outcome="quarantined", spam_reason="no render token",
    ))
    session.commit()
    session.expunge_all()
    return public_id


def test_quarantine_list_prints_a_stored_lone_surrogate_replaced(crm, session, web_form) -> None:
    held = _stored_with_a_lone_surrogate(session, web_form)
    out = crm("forms", "quarantine", "list").output
    assert held in out and "S?" in out
    lines = crm("forms", "quarantine", "list", "--json").output.splitlines()
    item = json.loads(lines[0])
    assert item["id"] == held and item["values"]["last_name"] == "S?" and item["raw"]["note"] == "Hi S?"


def test_release_of_a_row_that_cannot_be_stored_is_refused_in_one_line(crm, session, web_form) -> None:
    held = _stored_with_a_lone_surrogate(session, web_form)
    result = crm("forms", "quarantine", "release", "--", held, ok=False)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "last_name" in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert one(session, WebSubmission).outcome == "quarantined"
    assert count(session, Lead) == 0


def test_person_export_prints_a_stored_lone_surrogate_replaced(crm, session, web_form, tmp_path) -> None:
    _stored_with_a_lone_surrogate(session, web_form)
    data = json.loads(crm("person", "export", "mei@example.com").stdout)
    assert data["web_submissions"][0]["clean"]["last_name"] == "S?"
    out = tmp_path / "mei.json"
    crm("person", "export", "mei@example.com", "--out", str(out))
    assert json.loads(out.read_text(encoding="utf-8"))["web_submissions"][0]["raw"]["note"] == "Hi S?"


# -- 3. JSON nested too deep -------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["array", "object", "in-a-field"])
def test_json_nested_too_deep_is_400_without_a_traceback(
    client, session, web_form, render_token, caplog, shape
) -> None:
    client.application.testing = False
    deep = 5000
    if shape == "array":
        body = "[" * deep + "]" * deep
    elif shape == "object":
        body = '{"a":' * deep + "1" + "}" * deep
    else:
        body = json.dumps(visitor(render_token()))[:-1] + ', "extra": ' + "[" * deep + "]" * deep + "}"
    response = client.post(api(web_form.public_id), data=body, content_type="application/json")
    assert response.status_code == 400 and response.is_json
    assert "_body" in response.get_json()["errors"]
    nothing_stored(session)
    no_traceback(caplog)


def test_json_just_within_the_depth_limit_and_brackets_in_text_are_fine(
    client, session, web_form, render_token
) -> None:
    nested: Any = "end"
    for _ in range(6):
        nested = [nested]
    data = visitor(render_token(), extra=nested, message="[[[[[[[[[[ {{{{{{{{{{ \" \\\" [[[[ quoted")
    response = post_json(client, web_form.public_id, data)
    assert response.status_code == 201
    assert one(session, WebSubmission).raw["extra"] == nested


# -- 4. a blank honeypot is still filled in ----------------------------------------------------


@pytest.mark.parametrize("value", [" ", "\t", "\n  "])
def test_a_honeypot_holding_only_whitespace_is_quarantined(client, session, web_form, render_token, value) -> None:
    response = post_json(client, web_form.public_id, visitor(render_token(), homepage=value))
    assert response.status_code == 201 and set(response.get_json()) == {"submission", "status"}
    sub = one(session, WebSubmission)
    assert sub.outcome == "quarantined" and sub.spam_reason == "honeypot filled in"
    assert count(session, Lead) == 0


def test_an_empty_honeypot_is_not_spam(client, session, web_form, render_token) -> None:
    post_json(client, web_form.public_id, visitor(render_token(), homepage=""))
    assert one(session, WebSubmission).outcome == "new_lead"


# -- 5. Origin: null ---------------------------------------------------------------------------


def test_origin_null_is_foreign_on_the_api_and_the_hosted_form(client, session, web_form, render_token) -> None:
    api_answer = client.post(api(web_form.public_id), json=visitor(render_token()), headers={"Origin": "null"})
    assert api_answer.status_code == 403 and "Access-Control-Allow-Origin" not in api_answer.headers
    hosted = client.post(page(web_form.public_id), data=visitor(render_token()), headers={"Origin": "null"})
    assert hosted.status_code == 403
    nothing_stored(session)


def test_origin_null_may_be_allowed_explicitly(client, session, reps, app) -> None:
    from webform.public.spam import render_token as make

    form = add_form(session, {"name": "Sandboxed", "allowed_origins": [ALLOWED_ORIGIN, "NULL"]})
    assert form.allowed_origins == [ALLOWED_ORIGIN, "null"]
    token = make(app.extensions["leadline"].config.secret_key, form.public_id)
    preflight = client.options(
        api(form.public_id), headers={"Origin": "null", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "null"
    answer = client.post(api(form.public_id), json=visitor(token), headers={"Origin": "null"})
    assert answer.status_code == 201 and answer.headers["Access-Control-Allow-Origin"] == "null"
    hosted = client.get(page(form.public_id))
    assert "null" not in hosted.headers["Content-Security-Policy"]  # not a source frame-ancestors knows


# -- 6. a website is an http(s) address --------------------------------------------------------


@pytest.fixture
def site_form(session: Session, reps: list, app: Any) -> tuple[WebForm, str]:
    from webform.public.spam import render_token as make

    form = add_form(session, {"name": "With website", "fields": ["last_name", "email", "website"]})
    return form, make(app.extensions["leadline"].config.secret_key, form.public_id)


@pytest.mark.parametrize("value", ["javascript:alert(1)", "ftp://x.example", "javascript://x.y", "data:text/html,x.y",
                                   "mailto:a@b.example", "https://", "https:///x.example"])
def test_website_must_be_http_or_https(client, session, site_form, value) -> None:
    form, token = site_form
    response = client.post(api(form.public_id), json={"last_name": "Lin", "email": "lin@example.com",
                                                      "website": value, "_token": token})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["website"]
    nothing_stored(session)


@pytest.mark.parametrize(("value", "stored"), [
    ("https://example.com", "https://example.com"),
    ("http://example.com/about?x=1", "http://example.com/about?x=1"),
    ("www.example.com", "https://www.example.com"),
    ("example.com.tw:8080/shop", "https://example.com.tw:8080/shop"),
])
def test_website_http_https_or_bare_is_accepted(client, session, site_form, value, stored) -> None:
    form, token = site_form
    response = client.post(api(form.public_id), json={"last_name": "Lin", "email": "lin@example.com",
                                                      "website": value, "_token": token})
    assert response.status_code == 201, response.get_json()
    assert one(session, Lead).website == stored


# -- 7. one IPv6 /64 is one client -------------------------------------------------------------


def _codes(client: Any, public_id: str, token: str, addresses: list[str]) -> list[int]:
    return [
        post_json(client, public_id, visitor(token, email=f"v{i}@example.com"), environ_base={"REMOTE_ADDR": a})
        .status_code
        for i, a in enumerate(addresses)
    ]


def test_rate_limit_counts_an_ipv6_64_as_one_client(limited, session, web_form, render_token) -> None:
    client = limited("2/minute")
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"]
    assert _codes(client, web_form.public_id, render_token(), same_64) == [201, 201, 429]
    assert _codes(client, web_form.public_id, render_token(), ["2001:db8:1:3::1"]) == [201]  # the next /64


def test_rate_limit_counts_ipv4_per_address_and_mapped_ipv6_as_ipv4(limited, session, web_form, render_token) -> None:
    client = limited("2/minute")
    token = render_token()
    assert _codes(client, web_form.public_id, token, ["198.51.100.7", "198.51.100.8"]) == [201, 201]
    assert _codes(client, web_form.public_id, token, ["::ffff:198.51.100.7", "198.51.100.7"]) == [201, 429]


def test_limit_key_of_addresses(app) -> None:
    from webform.state import limit_key

    assert limit_key("192.0.2.1") == "192.0.2.1"
    assert limit_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert limit_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert limit_key("fe80::1%eth0") == "fe80::/64"
    assert limit_key("not an address") == "not an address"


# -- 8. render tokens are handed out at a per-address rate -------------------------------------


def test_embed_js_is_limited_per_address_apart_from_submissions(limited, session, web_form, render_token) -> None:
    from webform.public.routes import TOKENS_PER_SUBMISSION

    client = limited("1/minute")
    script = page(web_form.public_id) + "/embed.js"
    codes = [client.get(script).status_code for _ in range(TOKENS_PER_SUBMISSION + 1)]
    assert codes == [200] * TOKENS_PER_SUBMISSION + [429]
    limited = client.get(script)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert client.get(script, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    assert client.get(page(web_form.public_id)).status_code == 200  # the hosted page is not limited
    assert post_json(client, web_form.public_id, visitor(render_token())).status_code == 201  # nor submissions
