"""The Flask application: `create_app()` wires the store, rate limits, error pages and blueprints."""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_limiter import Limiter
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from crm_store.capture import quarantine
from crm_store.config import Config, load_config
from crm_store.db import schema
from crm_store.db.engine import make_engine, read_only, session_factory
from crm_store.errors import CrmError
from crm_store.records.validation import Validator
from crm_store.settings import company

from . import i18n
from .writer import Writer

log = logging.getLogger("leadline.web")
MAX_BODY = 64 * 1024  # a generous inquiry is a few kilobytes
T = TypeVar("T")


@dataclass
class WebState:
    """What the app shares between requests: settings, the engine, caches."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    proxies: tuple[Any, ...]
    writer: Writer
    settings_ttl: float = 5.0
    _cached: dict[str, tuple[float, Any]] = field(default_factory=dict)
    form_classes: dict[tuple[int, Any], Any] = field(default_factory=dict)
    _pruned_at: float | None = None

    def company_settings(self, session: Session) -> dict[str, Any]:
        """Company settings, re-read at most every few seconds."""
        return self._fresh("settings", lambda: company.all_settings(session))

    def validator(self, session: Session) -> Validator:
        """The store's validation context (picklists, phone region), re-read at most every few seconds."""
        return self._fresh("validator", lambda: Validator.for_session(session))

    def _fresh(self, name: str, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._cached.get(name)
        if hit is None or now - hit[0] > self.settings_ttl:
            hit = self._cached[name] = (now, load())
        return hit[1]

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a committed transaction (see `webform.writer`); return once it is durable."""
        return self.writer.run(work)

    def maybe_prune(self, every: float = 3600.0) -> None:
        """Forget old visitors' IP addresses (`ip_retention_days`), at most once an hour per worker."""
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < every:
            return
        self._pruned_at = now
        try:
            cleared = self.write(quarantine.prune_ips)
        except Exception:  # noqa: BLE001 - pruning must never fail a visitor's request
            log.exception("pruning IP addresses failed")
            return
        if cleared:
            log.info("cleared the IP address of %d old web submissions", cleared)


def state() -> WebState:
    """The running app's shared state."""
    return current_app.extensions["leadline"]


def client_ip() -> str:
    """The visitor's address: the connecting peer, or behind a trusted proxy the last untrusted hop."""
    peer = request.remote_addr or "0.0.0.0"
    proxies = state().proxies
    if not proxies or not _in(peer, proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, proxies):
            return hop
    return hops[0] if hops else peer


def _in(address: str, networks: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def wants_json() -> bool:
    """Whether the caller is the JSON API (errors then come as JSON)."""
    return request.path.startswith("/api/")


def create_app(config: Config | None = None, *, engine: Engine | None = None) -> Flask:
    """Build the web app for a deployment (its settings from the environment by default)."""
    config = config or load_config()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY,
        SECRET_KEY=config.secret_key,
        JSON_SORT_KEYS=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    engine = engine or make_engine(config.database_url)
    current, head = schema.current_revision(engine), schema.head_revision()
    if current != head:
        raise CrmError(f"the database is at schema {current or 'none'} and this version needs {head}; run `crm init`")
    proxies = tuple(ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies)
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    sessions = session_factory(engine)
    lock_path = f"{database}.writers" if database and database != ":memory:" else None
    app.extensions["leadline"] = WebState(
        config, engine, sessions, session_factory(read_only(engine)), proxies, Writer(sessions, lock_path)
    )
    from . import ratelimit  # noqa: F401 - registers the local:// storage

    storage = config.ratelimit_storage_url
    limiter = Limiter(
        key_func=client_ip, app=app, storage_uri="local://" if storage.startswith("memory://") else storage,
        headers_enabled=False, strategy="moving-window", key_prefix="leadline",  # Retry-After set in the 429 page
    )
    app.extensions["leadline.limiter"] = limiter

    from .public import make_blueprint

    app.register_blueprint(make_blueprint(limiter, config))
    _errors(app)

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            with state().engine.connect() as conn:
                conn.execute(sql("select 1"))
        except Exception:  # noqa: BLE001 - any failure means unhealthy
            log.exception("health check failed")
            return jsonify(status="unavailable", database="down"), 503  # type: ignore[return-value]
        return jsonify(status="ok", database="up")

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'",
            )
        return response

    return app


def _errors(app: Flask) -> None:
    titles = {
        404: ("not_found_title", "not_found"), 405: ("error_title", "error"), 413: ("error_title", "too_large"),
        429: ("too_many_title", "too_many"), 403: ("forbidden_title", "forbidden"), 415: ("error_title", "not_json"),
        400: ("error_title", "bad_request"),
    }

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        lang = getattr(g, "language", "en")
        title_key, text_key = titles.get(code, ("error_title", "error"))
        headers = _retry_after(exc) if code == 429 else {}
        if wants_json():
            body = {"error": exc.name.lower().replace(" ", "_"), "message": i18n.text(lang, text_key)}
            return jsonify(body), code, headers
        page = render_template(
            "error.html", lang=lang, html_lang=i18n.HTML_LANG.get(lang, "en"),
            title=i18n.text(lang, title_key), message=i18n.text(lang, text_key),
        )
        return page, code, headers

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        lang = getattr(g, "language", "en")
        if wants_json():
            return jsonify(error="internal_error", message=i18n.text(lang, "error")), 500
        page = render_template(
            "error.html", lang=lang, html_lang=i18n.HTML_LANG.get(lang, "en"),
            title=i18n.text(lang, "error_title"), message=i18n.text(lang, "error"),
        )
        return page, 500


def _retry_after(exc: HTTPException) -> dict[str, str]:
    """Seconds until the breached window resets, at least 1 (never the `0` a rounding down would give)."""
    seconds = 60
    try:
        current = current_app.extensions["leadline.limiter"].current_limit
        if current is not None:
            seconds = math.ceil(current.reset_at - time.time())
    except Exception:  # noqa: BLE001 - a missing figure falls back to a minute
        log.debug("no rate-limit window for Retry-After", exc_info=True)
    return {"Retry-After": str(max(1, seconds))}
