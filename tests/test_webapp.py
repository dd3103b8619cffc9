"""`create_app` binds the extensions built unbound in `webform.extensions`, and apps share no state."""

from __future__ import annotations

from typing import Any

import pytest

from webform.extensions import babel, csrf, limiter
from webform.state import WebState, state


def api(public_id: str) -> str:
    return f"/api/forms/{public_id}/submissions"


@pytest.fixture
def strict_app(env: dict[str, str], web_form: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build another app allowing one submission a minute from one address."""
    from crm_store.config import load_config
    from webform import create_app

    built = []

    def build() -> Any:
        monkeypatch.setenv("CRM_RATELIMIT_PER_IP", "1/minute")
        application = create_app(load_config())
        built.append(application)
        return application

    yield build
    for application in built:
        application.extensions["leadline"].engine.dispose()


def submit(application: Any, web_form: Any, email: str) -> int:
    """Post one good submission from a server holding the form's key; return the status."""
    body = {"last_name": "Chen", "email": email}
    answer = application.test_client().post(
        api(web_form.public_id), json=body, headers={"X-Form-Key": web_form.integration_key}
    )
    return int(answer.status_code)


def test_create_app_binds_every_extension(app) -> None:
    assert "leadline.limits" in app.extensions and limiter.init_app is not None
    assert app.extensions["csrf"] is csrf
    assert app.extensions["babel"].instance is babel
    assert isinstance(app.extensions["leadline"], WebState)
    with app.test_request_context():
        assert state() is app.extensions["leadline"]


def test_a_second_app_shares_no_state_with_the_first(strict_app, web_form) -> None:
    first, second = strict_app(), strict_app()
    one, two = first.extensions["leadline"], second.extensions["leadline"]
    assert one is not two
    assert one.engine is not two.engine and one.writer is not two.writer and one.form_classes is not two.form_classes
    with second.test_request_context():
        assert state() is two

    assert submit(first, web_form, "a@example.com") == 201
    assert submit(first, web_form, "b@example.com") == 429  # one a minute from this address
    assert submit(second, web_form, "c@example.com") == 201  # the second app counts on its own
    assert len(one.form_classes) == len(two.form_classes) == 1
