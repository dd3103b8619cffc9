"""Who is signed in, in what language and zone: the session, `current_user`, `login_required`, `admin_required`.

The session is Flask's signed cookie. It holds the user's id and `passwords.fingerprint` of their
password hash: a new password (or a deactivated account) ends every session made before it. Before
sign-in it may hold the visitor's chosen `language`. Each staff request loads the user once
(`load_user`, before any other `before_request`), and sets `g.user`, `g.language` and `g.zone`.
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import refresh

from crm_store import languages
from crm_store.models import User
from crm_store.staff.passwords import fingerprint

from ..state import state

F = TypeVar("F", bound=Callable[..., Any])
USER_KEY, STAMP_KEY, LANGUAGE_KEY = "uid", "key", "language"
PUBLIC_PREFIXES = ("/forms/", "/api/")  # the capture paths: no staff session is read or written there
UNSTAFFED_ENDPOINTS = ("healthz", "static")


def is_staff_request() -> bool:
    """Whether this request is the back office's (not the public capture, /healthz or a static file)."""
    if request.blueprint == "public" or request.path.startswith(PUBLIC_PREFIXES):
        return False
    return request.endpoint not in UNSTAFFED_ENDPOINTS


def current_user() -> User | None:
    """The signed-in user of this request (a detached row: read its columns, not its relationships), or None."""
    return cast(User | None, g.get("user"))


def signed_in_user() -> User:
    """The signed-in user, in a view behind `login_required`."""
    user = current_user()
    if user is None:
        raise RuntimeError("signed_in_user() outside a login_required view")
    return user


def login_required(view: F) -> F:
    """Send a visitor who is not signed in to the sign-in page, and back here afterwards."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("auth.sign_in", next=back))
        return view(*args, **kwargs)

    return cast(F, guarded)


def admin_required(view: F) -> F:
    """Like `login_required`, and 403 for anyone but an admin."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is not None and user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return login_required(cast(F, guarded))


def start_session(user: User) -> None:
    """Sign `user` in with a fresh session: nothing the visitor's session held is kept."""
    session.clear()
    session.permanent = True
    session[USER_KEY] = user.id
    session[STAMP_KEY] = fingerprint(user.password_hash)
    g.user = user


def end_session() -> None:
    """Sign out: forget everything the session held but the language the pages were in."""
    user = current_user()
    session.clear()
    if user is not None:
        session[LANGUAGE_KEY] = user.language
    g.user = None


def load_user() -> None:
    """Set `g.user`, `g.language` and `g.zone` for a staff request (the public capture keeps its own)."""
    if not is_staff_request():
        return
    app_state = state()
    with app_state.readers() as db:
        user = _session_user(db)
        settings = app_state.company_settings(db)
    g.user = user
    g.language = user.language if user is not None else visitor_language(settings["default_language"])
    g.zone = zoneinfo.ZoneInfo((user.time_zone if user is not None else None) or settings["time_zone"])
    refresh()  # the page's language is known from here on


def _session_user(db: Any) -> User | None:
    user_id = session.get(USER_KEY)
    if user_id is None:
        return None
    user = db.get(User, user_id)
    if user is None or not user.active or session.get(STAMP_KEY) != fingerprint(user.password_hash):
        session.clear()  # deactivated, or the password changed since: this session is over
        return None
    db.expunge(user)
    return cast(User, user)


def visitor_language(default: str) -> str:
    """The language of a visitor who is not signed in: the one they chose, else their browser's, else `default`."""
    chosen = languages.parse(session.get(LANGUAGE_KEY))
    if chosen is not None:
        return chosen
    by_subtag = {language.tag.split("-")[0]: language.code for language in languages.LANGUAGES.values()}
    for tag, _quality in request.accept_languages:  # best first
        code = languages.parse(tag) or by_subtag.get(tag.split("-")[0].lower())
        if code is not None:
            return code
    return languages.parse(default) or languages.DEFAULT


def remember_language(code: str) -> None:
    """Keep a visitor's language choice in their session (a signed-in user's is saved on their row)."""
    session[LANGUAGE_KEY] = code
    g.language = code
    refresh()


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site (where to go after sign-in), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def via_https() -> bool:
    """Whether the browser reached us over https: directly, or says so through a trusted proxy."""
    if request.is_secure:
        return True
    proxies = state().proxies
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return bool(proxies) and forwarded == "https" and _from(request.remote_addr, proxies)


def _from(address: str | None, networks: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


class Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure also when the request came over https through a trusted proxy."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or via_https()
