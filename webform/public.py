"""The public capture blueprint: hosted form, embed.js, JSON API.

Every accepted submission is stored (raw) and processed in one transaction, committed before the
visitor gets an answer. Good, duplicate and quarantined submissions get the same answer.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, g, jsonify, make_response, redirect, render_template, request, url_for
from flask_limiter import Limiter
from sqlalchemy.orm import Session
from werkzeug.exceptions import UnsupportedMediaType

from crm_store.capture import forms as webforms
from crm_store.capture import submissions as capture
from crm_store.config import Config
from crm_store.errors import ValidationError
from crm_store.models import WebForm

from . import fields, i18n, spam
from .app import client_ip, state

ATTRIBUTION = capture.ATTRIBUTION
CLIENT_KEY = re.compile(r"[A-Za-z0-9_\-]{8,64}")
TOUCH_LIMIT = 2000


def make_blueprint(limiter: Limiter, config: Config) -> Blueprint:
    """The routes, with the deployment's rate limits."""
    bp = Blueprint("public", __name__)
    per_ip = limiter.limit(lambda: config.ratelimit_per_ip, key_func=lambda: f"ip:{client_ip()}", methods=["POST"])
    per_form = limiter.limit(
        lambda: config.ratelimit_per_form, key_func=lambda: f"form:{request.view_args.get('public_id')}",  # type: ignore[union-attr]
        methods=["POST"],
    )

    @bp.get("/forms/<public_id>")
    def hosted(public_id: str) -> Any:
        form, settings = _read_form(public_id)
        touch = {k: request.args.get(k, "")[:TOUCH_LIMIT] for k in ATTRIBUTION if request.args.get(k)}
        touch.setdefault("referrer", (request.referrer or "")[:TOUCH_LIMIT])
        touch.setdefault("landing_page", request.url[:TOUCH_LIMIT])
        return _page(form, settings, {}, {}, touch, status=200)

    @bp.post("/forms/<public_id>")
    @per_form
    @per_ip
    def hosted_submit(public_id: str) -> Any:
        data = request.form.to_dict()
        result = _submit(public_id, data, data)
        if len(result) == 4:  # invalid: the page again with the errors beside the fields
            form, settings, clean, errors = result
            touch = {k: data.get(k, "") for k in ATTRIBUTION if data.get(k)}
            return _page(form, settings, data, errors, touch, status=422)
        form, receipt = result
        target = form.return_url or url_for("public.thanks", public_id=form.public_id)
        return redirect(target, code=303)

    @bp.get("/forms/<public_id>/thanks")
    def thanks(public_id: str) -> Any:
        form, _settings = _read_form(public_id)
        page = render_template(
            "thanks.html", lang=form.language, html_lang=i18n.HTML_LANG[form.language],
            title=i18n.text(form.language, "thanks_title"),
            message=form.thank_you or i18n.text(form.language, "thanks"),
        )
        response = make_response(page)
        _frame_policy(response, form)
        return response

    @bp.get("/forms/<public_id>/embed.js")
    def embed(public_id: str) -> Any:
        form, _settings = _read_form(public_id)
        config_js = {
            "action": url_for("public.api_submit", public_id=form.public_id, _external=True),
            "form": form.public_id,
            "language": form.language,
            "htmlLang": i18n.HTML_LANG[form.language],
            "fields": [{k: f[k] for k in ("name", "label", "required", "type", "choices", "max_length")} for f in form.fields],
            "consent": form.consent_text,
            "thankYou": form.thank_you or i18n.text(form.language, "thanks"),
            "token": spam.render_token(state().config.secret_key, form.public_id),
            "honeypot": spam.HONEYPOT,
            "messages": i18n.catalogue(form.language),
            "attribution": list(ATTRIBUTION),
        }
        body = render_template("embed.js", config=config_js)
        response = make_response(body)
        response.mimetype = "text/javascript"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @bp.route("/api/forms/<public_id>/submissions", methods=["OPTIONS"])
    def api_preflight(public_id: str) -> Any:
        form, _settings = _read_form(public_id)
        origin = request.headers.get("Origin")
        response = make_response("", 204)
        if origin and _origin_allowed(origin, form.allowed_origins):
            response.headers.update({
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type, X-Form-Key",
                "Access-Control-Max-Age": "600",
            })
        response.headers["Vary"] = "Origin"
        return response

    @bp.post("/api/forms/<public_id>/submissions")
    @per_form
    @per_ip
    def api_submit(public_id: str) -> Any:
        if request.mimetype != "application/json":
            raise UnsupportedMediaType("send the submission as application/json")
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return jsonify(errors={"_body": ["is not a JSON object"]}), 400
        result = _submit(public_id, data, data)
        if len(result) == 4:
            return jsonify(errors=result[3]), 422
        _form_row, receipt = result
        return jsonify(submission=receipt.public_id, status="received"), 201

    @bp.after_request
    def cors(response: Response) -> Response:
        """Every API answer (201, 422, and the 429/413 refused before the view) gets CORS for allowed origins."""
        if request.path.startswith("/api/") and "Access-Control-Allow-Origin" not in response.headers:
            origin = request.headers.get("Origin")
            origins = getattr(g, "form_origins", None)
            if origins is None and origin and request.view_args:  # refused before the view ran (429, 413)
                origins = _origins_of(str(request.view_args.get("public_id", "")))
            if origins is not None and origin and _origin_allowed(origin, origins):
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = "Retry-After"
            response.headers["Vary"] = "Origin"
        return response

    return bp


_ORIGINS: dict[str, tuple[float, tuple[str, ...]]] = {}


def _origins_of(public_id: str, ttl: float = 30.0) -> tuple[str, ...]:
    """A form's allowed origins, cached briefly (for answers refused before the view looked the form up)."""
    now = time.monotonic()
    hit = _ORIGINS.get(public_id)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    session = state().readers()
    try:
        form = webforms.live_form(session, public_id)
        origins = tuple(form.allowed_origins) if form is not None else ()
    finally:
        session.close()
    if len(_ORIGINS) > 1000:
        _ORIGINS.clear()
    _ORIGINS[public_id] = (now, origins)
    return origins


def _read_form(public_id: str, *, with_validator: bool = False) -> Any:
    """The live form (404 otherwise) and the company settings, read without taking the write lock."""
    app_state = state()
    session = app_state.readers()
    try:
        form = _form(session, public_id)
        settings = app_state.company_settings(session)
        if with_validator:
            return form, settings, app_state.validator(session)
        return form, settings
    finally:
        session.close()


def _form(session: Session, public_id: str) -> WebForm:
    form = webforms.live_form(session, public_id)
    if form is None:
        abort(404)
    g.form_origins = tuple(form.allowed_origins)  # a snapshot: the row expires when a transaction ends
    g.language = form.language
    return form


def _own_origin() -> str:
    return f"{request.scheme}://{request.host}".lower()


def _origin_allowed(origin: str, allowed: tuple[str, ...] | list[str]) -> bool:
    normal = webforms.normalise_origin(origin)
    return normal is not None and (normal in allowed or normal == webforms.normalise_origin(_own_origin()))


def _submit(public_id: str, data: Mapping[str, Any], raw: Mapping[str, Any]) -> Any:
    """Check, store and process one submission; return (form, receipt) or (form, settings, clean, errors).

    The checks read in a transaction that takes no write lock; only the capture itself writes.
    """
    app_state = state()
    form, settings, validator = _read_form(public_id, with_validator=True)
    origin = request.headers.get("Origin")
    integration = spam.key_matches(request.headers.get("X-Form-Key"), form.integration_key)
    if origin and origin != "null" and not integration and not _origin_allowed(origin, form.allowed_origins):
        abort(403)
    clean, errors = fields.check(_form_class(form, settings), form.fields, data, form.language)
    consent = _truthy(data.get("consent"))
    if form.consent_text and not consent:
        errors["consent"] = [i18n.text(form.language, "consent")]
    if errors:
        return form, settings, clean, errors
    reason = spam.content_problem(data, clean)
    if reason is None and not integration:
        reason = spam.token_problem(
            app_state.config.secret_key, data.get("_token"), form.public_id, int(settings["form_min_fill_seconds"])
        )
    key = str(data.get("_submission") or "")
    inbound = capture.Inbound(
        form=form,
        client_key=key if CLIENT_KEY.fullmatch(key) else secrets.token_urlsafe(16),
        raw={k: v for k, v in raw.items() if k != "_token"},
        values=clean,
        consent=consent,
        ip=client_ip(),
        user_agent=request.user_agent.string,
        first_touch=_touch(data.get("_first_touch")) or _touch(data),
        last_touch=_touch(data),
        spam_reason=reason,
        validator=validator,
        settings=settings,
    )
    try:
        receipt = app_state.write(lambda s: capture.receive(s, inbound))
    except ValidationError as exc:  # the store's own checks (e.g. a picklist changed meanwhile); nothing kept
        return form, settings, clean, {exc.field: [exc.message]}
    app_state.maybe_prune()
    return form, receipt


def _form_class(form: WebForm, settings: Mapping[str, Any]) -> Any:
    cache = state().form_classes
    key = (form.id, form.updated_at, settings["phone_region"])
    cls = cache.get(key)
    if cls is None:
        cls = cache[key] = fields.form_class(form.fields, form.language, settings["phone_region"])
    return cls


def _touch(data: Any) -> dict[str, str]:
    if not isinstance(data, Mapping):
        return {}
    return {k: str(data[k])[:TOUCH_LIMIT] for k in ATTRIBUTION if isinstance(data.get(k), (str, int)) and str(data[k]).strip()}


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("on", "true", "yes", "1")


def _page(
    form: WebForm, settings: Mapping[str, Any], values: Mapping[str, Any], errors: Mapping[str, list[str]],
    touch: Mapping[str, str], *, status: int,
) -> Response:
    lang = form.language
    page = render_template(
        "form.html", form=form, lang=lang, html_lang=i18n.HTML_LANG[lang], t=lambda k, **kw: i18n.text(lang, k, **kw),
        values=values, errors=errors, touch=touch,
        token=_keep_token(values.get("_token"), form),
        submission=str(values.get("_submission") or "") if CLIENT_KEY.fullmatch(str(values.get("_submission") or "")) else secrets.token_urlsafe(16),
        honeypot=spam.HONEYPOT,
        action=url_for("public.hosted_submit", public_id=form.public_id),
    )
    response = make_response(page, status)
    _frame_policy(response, form)
    return response


def _keep_token(given: Any, form: WebForm) -> str:
    """On a page shown again with errors, keep the first token so the fill time counts from the start."""
    secret = state().config.secret_key
    problem = spam.token_problem(secret, given, form.public_id, 0)
    return given if problem is None else spam.render_token(secret, form.public_id)


def _frame_policy(response: Response, form: WebForm) -> None:
    """The hosted page may be framed by the form's allowed origins only."""
    ancestors = " ".join(["'self'", *form.allowed_origins])
    actions = ["'self'"]
    if form.return_url:
        parts = urlsplit(form.return_url)
        actions.append(f"{parts.scheme}://{parts.netloc}")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action {' '.join(actions)}; "
        f"frame-ancestors {ancestors}; base-uri 'none'"
    )
