"""What the app shares between requests (`WebState`), and the request helpers that read it.

`Leadline` is the extension that binds a `WebState` to an app: `init_app(app, config, engine)` keeps it
in `app.extensions["leadline"]`, so two apps in one process share nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, g, request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from crm_store import languages
from crm_store.capture import forms as webforms
from crm_store.capture import quarantine
from crm_store.config import Config
from crm_store.db import schema
from crm_store.db.engine import read_only, session_factory
from crm_store.errors import CrmError
from crm_store.models import WebForm
from crm_store.records.validation import Validator
from crm_store.settings import company

from .writer import Writer

if TYPE_CHECKING:
    from .intake import Intake

log = logging.getLogger("leadline.web")
EXTENSION = "leadline"
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
    form_classes: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    form_origins: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict)
    intake: Intake | None = None  # set by `crm serve`: submissions are processed in the background
    forms: dict[str, tuple[tuple[int, Any], WebForm]] = field(default_factory=dict)
    _pruned_at: float | None = None

    @classmethod
    def build(cls, config: Config, engine: Engine) -> WebState:
        """Return the state of an app on a deployment's settings and database."""
        proxies = tuple(ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies)
        database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
        lock_path = f"{database}.writers" if database and database != ":memory:" else None
        sessions = session_factory(engine)
        return cls(config, engine, sessions, session_factory(read_only(engine)), proxies, Writer(sessions, lock_path))

    def live_form(self, session: Session, public_id: str) -> WebForm | None:
        """The enabled form behind a public id: a copy kept while the form is unchanged, checked each time."""
        version = webforms.live_version(self.engine, public_id)
        if version is None:
            return None
        hit = self.forms.get(public_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        form = webforms.live_form(session, public_id)
        if form is None:
            return None
        session.expunge(form)  # a detached copy with every column loaded, read by the request threads
        if len(self.forms) > 1000:
            self.forms.clear()
        self.forms[public_id] = (version, form)
        return form

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

    def write(self, work: Callable[[Session], T], *, atomic: bool = False) -> T:
        """Run `work` in a committed transaction (see `webform.writer`); return once it is durable."""
        return self.writer.run(work, atomic=atomic)

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


class Leadline:
    """The extension holding each app's `WebState`; it keeps nothing of its own."""

    def init_app(self, app: Flask, config: Config, engine: Engine) -> None:
        """Give `app` its state on `engine`; refuse a database whose schema is not this version's."""
        # Read without the write lock: a worker booting while a writer holds the database must still boot.
        current, head = schema.current_revision(read_only(engine)), schema.head_revision()
        if current != head:
            raise CrmError(
                f"the database is at schema {current or 'none'} and this version needs {head}; run `crm init`"
            )
        app.extensions[EXTENSION] = WebState.build(config, engine)


def state() -> WebState:
    """The running app's shared state."""
    return current_app.extensions[EXTENSION]


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


def limit_key(address: str) -> str:
    """Whom a rate limit counts: an IPv4 address, or an IPv6 address's /64 (one host is often given a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))  # from the integer: a zone id (%eth0) is dropped


def _in(address: str, networks: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def page_language() -> str:
    """The language of the page being served: a public form's own language, else the default."""
    return str(g.get("language", languages.DEFAULT))
