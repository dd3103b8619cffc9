"""The public capture routes: the hosted form, its thanks page, embed.js and the JSON API.

Every accepted submission is stored (raw) and processed in one transaction, committed before the
visitor gets an answer. Good, duplicate and quarantined submissions get the same answer.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, g, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, refresh
from limits import parse_many
from sqlalchemy.orm import Session
from werkzeug.exceptions import UnsupportedMediaType

from crm_store import languages, links
from crm_store.capture import submissions as capture
from crm_store.errors import ValidationError
from crm_store.models import WebForm
from crm_store.records.validation import Validator

from ..extensions import csrf, limiter
from ..state import client_ip, limit_key, page_language, state
from . import cors, messages, payload, spam
from .forms import VisitorForm, strip_controls, visitor_form

ATTRIBUTION = capture.ATTRIBUTION
CLIENT_KEY = re.compile(r"[A-Za-z0-9_\-]{8,64}")
TOUCH_LIMIT = 2000
SCRIPT_FIELD_KEYS = ("name", "label", "required", "type", "choices", "max_length")  # what embed.js draws a field from
# embed.js hands out a render token on every fetch, and sites load it on every page (track mode too): a separate,
# generous limit of this many fetches per submission CRM_RATELIMIT_PER_IP allows, over the same window.
TOKENS_PER_SUBMISSION = 10

bp = Blueprint("public", __name__, template_folder="templates")
# No CSRF token here: a visitor has no session to ride on, the hosted form carries its own signed render
# token (`spam.render_token`), and the JSON API is posted cross-origin by embed.js and by servers.
csrf.exempt(bp)
bp.after_request(cors.allow_origin)


@dataclass(frozen=True)
class Accepted:
    """A submission stored: good, duplicate and quarantined alike."""

    form: WebForm
    receipt: capture.Receipt


@dataclass(frozen=True)
class Rejected:
    """A submission refused for what the visitor typed; nothing was stored."""

    form: WebForm
    settings: Mapping[str, Any]
    clean: dict[str, Any]
    errors: dict[str, list[str]]


def _per_ip_limit() -> str:
    return state().config.ratelimit_per_ip


def _per_form_limit() -> str:
    return state().config.ratelimit_per_form


def _token_limit() -> str:
    return _scaled(state().config.ratelimit_per_ip, TOKENS_PER_SUBMISSION)


@lru_cache(maxsize=8)
def _scaled(rate: str, factor: int) -> str:
    """A rate limit `factor` times as generous over the same windows ("20/minute" -> "200/1 minute")."""
    return ";".join(
        f"{item.amount * factor}/{item.multiples} {item.GRANULARITY.name}" for item in parse_many(rate)
    )


def _ip_key() -> str:
    return f"ip:{limit_key(client_ip())}"


def _token_key() -> str:
    return f"token:{limit_key(client_ip())}"


def _form_key() -> str:
    return f"form:{(request.view_args or {}).get('public_id')}"


# Submissions are limited per visitor address and per form (the deployment's settings, read per request).
# The address is counted first, so one flooding client spends its own allowance and not the form's.
per_ip = limiter.limit(_per_ip_limit, _ip_key)
per_form = limiter.limit(_per_form_limit, _form_key)
token_issue = limiter.limit(_token_limit, _token_key)


@bp.get(links.ROUTES["hosted_form"])
def hosted_form(public_id: str) -> Response:
    """Show the hosted form, remembering where the visitor came from."""
    form = _read_form(public_id)
    touch = {k: request.args.get(k, "")[:TOUCH_LIMIT] for k in ATTRIBUTION if request.args.get(k)}
    touch.setdefault("referrer", (request.referrer or "")[:TOUCH_LIMIT])
    touch.setdefault("landing_page", request.url[:TOUCH_LIMIT])
    return _page(form, {}, {}, touch, status=200)


@bp.post(links.ROUTES["hosted_form"])
@per_ip
@per_form
def submit_hosted_form(public_id: str) -> ResponseReturnValue:
    """Take the hosted form: on to the thanks page, or the form again with the errors beside the fields."""
    data = request.form.to_dict()
    result = _submit(public_id, data)
    if isinstance(result, Rejected):
        touch = {k: data.get(k, "") for k in ATTRIBUTION if data.get(k)}
        return _page(result.form, data, result.errors, touch, status=422)
    target = result.form.return_url or url_for("public.form_thanks", public_id=result.form.public_id)
    return redirect(target, code=303)


@bp.get(links.ROUTES["form_thanks"])
def form_thanks(public_id: str) -> Response:
    """Thank the visitor in the form's own words, or ours."""
    form = _read_form(public_id)
    page = render_template("public/thanks.html", message=form.thank_you or gettext(messages.THANKS))
    response = make_response(page)
    _frame_policy(response, form)
    return response


@bp.get(links.ROUTES["embed_js"])
@token_issue
def embed_js(public_id: str) -> Response:
    """Hand out the script a website pastes: it draws the form and posts it to the JSON API."""
    form = _read_form(public_id)
    response = make_response(render_template("public/embed.js", config=_script_config(form)))
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get(links.ROUTES["form_token"])
@token_issue
def form_token(public_id: str) -> Response:
    """Hand the embedded form a fresh render token after a submission (each token is good for one)."""
    form = _read_form(public_id)
    response = jsonify(token=spam.render_token(state().config.secret_key, form.public_id))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"  # as embed.js itself: a token is no secret
    return response


@bp.route(links.ROUTES["form_api"], methods=["OPTIONS"])
def form_api_preflight(public_id: str) -> Response:
    """Answer a browser's preflight: CORS for the form's allowed origins only."""
    form = _read_form(public_id)
    return cors.preflight(request.headers.get("Origin"), form.allowed_origins)


@bp.post(links.ROUTES["form_api"])
@per_ip
@per_form
def form_api(public_id: str) -> ResponseReturnValue:
    """Take a submission as JSON: 201 with its id, or 422 with the errors by field."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the submission as application/json")
    try:
        data = payload.load(request.get_data())
    except payload.Unreadable as exc:
        return jsonify(errors={"_body": [str(exc)]}), 400
    if not isinstance(data, dict):
        return jsonify(errors={"_body": ["is not a JSON object"]}), 400
    result = _submit(public_id, data)
    if isinstance(result, Rejected):
        return jsonify(errors=result.errors), 422
    return jsonify(submission=result.receipt.public_id, status="received"), 201


def _read_form(public_id: str) -> WebForm:
    """The live form (404 otherwise), read without taking the write lock."""
    with state().readers() as session:
        return _form(session, public_id)


def _read_for_check(public_id: str) -> tuple[WebForm, dict[str, Any], Validator]:
    """The live form (404 otherwise) with the company settings and the validation context."""
    app_state = state()
    with app_state.readers() as session:
        form = _form(session, public_id)
        return form, app_state.company_settings(session), app_state.validator(session)


def _form(session: Session, public_id: str) -> WebForm:
    form = state().live_form(session, public_id)
    if form is None:
        abort(404)
    g.form_origins = tuple(form.allowed_origins)  # a snapshot: the row expires when a transaction ends
    g.language = form.language
    refresh()  # the page's language is known from here on
    return form


def _submit(public_id: str, data: Mapping[str, Any]) -> Accepted | Rejected:
    """Check, store and process one submission.

    The checks read in a transaction that takes no write lock; only the capture itself writes.
    """
    form, settings, validator = _read_for_check(public_id)
    integration = spam.key_matches(request.headers.get("X-Form-Key"), form.integration_key)
    origin = request.headers.get("Origin")
    if origin and not integration and not cors.origin_allowed(origin, form.allowed_origins):
        abort(403)
    unstorable = payload.unstorable_fields(data)
    if unstorable:  # checked first: nothing below may meet text the database (or an answer) cannot encode
        return Rejected(form, settings, {}, {name: [gettext(messages.UNSTORABLE)] for name in unstorable})
    clean, errors = _visitor_form(form, settings).check(data)
    consent = _truthy(data.get("consent"))
    if form.consent_text and not consent:
        errors["consent"] = [gettext(messages.CONSENT)]
    if errors:
        return Rejected(form, settings, clean, errors)
    inbound = capture.Inbound(
        form=form,
        client_key=_client_key(data.get("_submission")),
        raw={k: v for k, v in data.items() if k != "_token"},
        values=clean,
        consent=consent,
        ip=client_ip(),
        user_agent=strip_controls(request.user_agent.string, multiline=False),
        first_touch=_touch(data.get("_first_touch")) or _touch(data),
        last_touch=_touch(data),
        validator=validator,
        settings=settings,
    )
    inbound.spam_reason, inbound.token_nonce = _spam_check(form, settings, data, clean, trusted=integration)
    app_state = state()
    try:
        if app_state.intake is not None:  # `crm serve`: stored and answered now, processed by the intake
            receipt = app_state.write(lambda s: capture.accept(s, inbound), atomic=True)
            app_state.intake.wake()
        else:  # processed at once, in the same transaction
            receipt = app_state.write(lambda s: capture.receive(s, inbound))
    except ValidationError as exc:  # the store's own checks (e.g. a picklist changed meanwhile); nothing kept
        return Rejected(form, settings, clean, {exc.field: [exc.in_language(page_language())]})
    app_state.maybe_prune()
    return Accepted(form, receipt)


def _spam_check(
    form: WebForm, settings: Mapping[str, Any], data: Mapping[str, Any], clean: Mapping[str, Any], *, trusted: bool
) -> tuple[str | None, str | None]:
    """Why a submission looks like spam (or None), and its render token's nonce.

    A server with the integration key skips the render token.
    """
    if trusted:
        return spam.content_problem(data, clean), None
    min_fill = int(settings["form_min_fill_seconds"])
    token = spam.check_token(state().config.secret_key, data.get("_token"), form.public_id, min_fill)
    return spam.content_problem(data, clean) or token.problem, token.nonce


def _visitor_form(form: WebForm, settings: Mapping[str, Any]) -> type[VisitorForm]:
    cache = state().form_classes
    key = (form.id, form.updated_at, settings["phone_region"])
    cls = cache.get(key)
    if cls is None:
        cls = cache[key] = visitor_form(form.fields, settings["phone_region"])
    return cls


def _client_key(given: Any) -> str:
    """The submission's own idempotency key when it sent a sound one, else a new one."""
    key = str(given or "")
    return key if CLIENT_KEY.fullmatch(key) else secrets.token_urlsafe(16)


def _touch(data: Any) -> dict[str, str]:
    if not isinstance(data, Mapping):
        return {}
    return {
        k: str(data[k])[:TOUCH_LIMIT]
        for k in ATTRIBUTION
        if isinstance(data.get(k), (str, int)) and str(data[k]).strip()
    }


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("on", "true", "yes", "1")


def _page(
    form: WebForm, values: Mapping[str, Any], errors: Mapping[str, list[str]], touch: Mapping[str, str], *, status: int,
) -> Response:
    page = render_template(
        "public/form.html", form=form, values=values, errors=errors, touch=touch,
        token=_keep_token(values.get("_token"), form), submission=_client_key(values.get("_submission")),
        honeypot=spam.HONEYPOT, action=url_for("public.submit_hosted_form", public_id=form.public_id),
    )
    response = make_response(page, status)
    _frame_policy(response, form)
    return response


def _keep_token(given: Any, form: WebForm) -> str:
    """On a page shown again with errors, keep the first token so the fill time counts from the start."""
    secret = state().config.secret_key
    problem = spam.token_problem(secret, given, form.public_id, 0)
    return given if problem is None else spam.render_token(secret, form.public_id)


def _script_config(form: WebForm) -> dict[str, Any]:
    """What embed.js needs to draw the form and post it."""
    return {
        "action": url_for("public.form_api", public_id=form.public_id, _external=True),
        "tokenUrl": url_for("public.form_token", public_id=form.public_id, _external=True),
        "form": form.public_id,
        "language": form.language,
        "htmlLang": languages.get(form.language).page_tag,
        "fields": [{k: f[k] for k in SCRIPT_FIELD_KEYS} for f in form.fields],
        "consent": form.consent_text,
        "thankYou": form.thank_you or gettext(messages.THANKS),
        "token": spam.render_token(state().config.secret_key, form.public_id),
        "honeypot": spam.HONEYPOT,
        "messages": messages.script_texts(),
        "attribution": list(ATTRIBUTION),
    }


def _frame_policy(response: Response, form: WebForm) -> None:
    """The hosted page may be framed by the form's allowed origins only."""
    ancestors = " ".join(["'self'", *(o for o in form.allowed_origins if o != "null")])  # no source matches null
    actions = ["'self'"]
    if form.return_url:
        parts = urlsplit(form.return_url)
        actions.append(f"{parts.scheme}://{parts.netloc}")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action {' '.join(actions)}; "
        f"frame-ancestors {ancestors}; base-uri 'none'"
    )
