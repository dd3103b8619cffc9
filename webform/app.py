"""The Flask application: `create_app()` binds the extensions, the blueprints and the app-wide pages."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine

from crm_store import languages, links
from crm_store.config import Config, load_config
from crm_store.db.engine import make_engine, read_only

from . import errors, staff
from .extensions import babel, csrf, leadline, limiter
from .public.routes import bp as public_bp
from .staff.access import is_staff_request
from .state import page_language, state

log = logging.getLogger("leadline.web")
MAX_BODY = 64 * 1024  # a generous inquiry is a few kilobytes
POOL_SIZE = 20  # connections kept open: one per app thread (webform.asgi.THREADS), the intake's and spare ones
WRITE_WAIT_MS = 2000  # one statement's wait for a lock; the writer retries within its own bounded wait
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# The back office: its own scripts (no inline script, no other origin), and fetches to itself.
STAFF_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(config: Config | None = None, *, engine: Engine | None = None) -> Flask:
    """Build the web app for a deployment (its settings from the environment by default)."""
    config = config or load_config()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY,
        SECRET_KEY=config.secret_key,
        JSON_SORT_KEYS=False,
        TEMPLATES_AUTO_RELOAD=False,
        RATELIMIT_STORAGE_URI=ratelimit_storage(config.ratelimit_storage_url),
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Flask's default JSON provider has it
    leadline.init_app(app, config, engine or _engine(config))
    staff.init_app(app, https=config.base_url.startswith("https://"))  # before CSRF: the user is known to its page
    limiter.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=page_language)
    app.register_blueprint(public_bp)
    errors.init_app(app)
    app.add_url_rule(links.ROUTES["healthz"], view_func=healthz, methods=["GET"])
    app.after_request(security_headers)
    app.context_processor(page_tag)
    return app


def _engine(config: Config) -> Engine:
    """The app's engine: short lock waits, and a pool as large as the threads that use it (a connection
    opened beyond the pool is closed after its request, and opening one costs more than the request)."""
    return make_engine(config.database_url, lock_wait_ms=WRITE_WAIT_MS, pool_size=POOL_SIZE, max_overflow=4)


def ratelimit_storage(url: str) -> str:
    """The `limits` storage of a `CRM_RATELIMIT_STORAGE_URL`: `memory://` is our lean `local://`."""
    return "local://" if url.startswith("memory://") else url


def healthz() -> ResponseReturnValue:
    """Answer whether the app reaches its database."""
    try:
        with read_only(state().engine).connect() as conn:  # a read: never waits for a writer's lock
            conn.execute(sql("select 1"))
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        log.exception("health check failed")
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="up")


def security_headers(response: Response) -> Response:
    """Add the headers every answer carries (a page keeps a policy of its own if it set one).

    Back-office pages are never framed nor kept in a shared cache, and run only the app's own scripts.
    """
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    staff_page = is_staff_request()
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", STAFF_POLICY if staff_page else PAGE_POLICY)
    if staff_page:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def page_tag() -> dict[str, str]:
    """Give templates `html_lang`: the lang attribute of the page's language (zh-Hant-TW for pages)."""
    return {"html_lang": languages.get(str(get_locale())).page_tag}
