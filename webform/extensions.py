"""The app's extensions, built unbound: `create_app` binds each to its app with `init_app`.

- `limiter`: Flask-Limiter; its settings come from the app's `RATELIMIT_*` config keys.
- `csrf`: Flask-WTF's CSRF protection for the staff forms (the public capture blueprint is exempt).
- `babel`: Flask-Babel, translating through Leadline's own catalogues (`crm_store.languages`).
- `leadline`: the app's shared state (`webform.state.WebState`) in `app.extensions["leadline"]`.
"""

from __future__ import annotations

import gettext
from typing import Any

import flask_babel
import flask_limiter
from flask import Flask, current_app, has_app_context
from flask_wtf import CSRFProtect
from limits.storage import Storage
from limits.strategies import RateLimiter

from crm_store import languages

from . import ratelimit  # noqa: F401 - registers the local:// storage that `memory://` stands for
from .state import Leadline, client_ip

COUNTERS = "leadline.ratelimit"


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter whose counters belong to each app it is bound to.

    Flask-Limiter keeps one storage per extension object, so a module-level limiter bound to a second
    app would count the first app's requests there too; here each app keeps its own in `app.extensions`.
    """

    def init_app(self, app: Flask) -> None:
        """Bind the limiter to `app` with counters of its own."""
        super().init_app(app)
        app.extensions[COUNTERS] = (self._storage, self._limiter)

    @property
    def storage(self) -> Storage:
        """The current app's counters."""
        return self._counters()[0]

    @property
    def limiter(self) -> RateLimiter:
        """The current app's rate-limiting strategy over its counters."""
        return self._counters()[1]

    def _counters(self) -> tuple[Any, Any]:
        if has_app_context() and COUNTERS in current_app.extensions:
            return current_app.extensions[COUNTERS]
        return super().storage, super().limiter


class Catalogues(flask_babel.Domain):
    """Flask-Babel's translations read from Leadline's `.po` catalogues (there are no compiled `.mo` files)."""

    def get_translations(self) -> gettext.NullTranslations:
        """Return the translations of the current page's language."""
        return languages.translations(str(flask_babel.get_locale() or languages.DEFAULT))


class Babel(flask_babel.Babel):
    """Flask-Babel translating through `Catalogues`."""

    domain_instance = Catalogues()


limiter = Limiter(key_func=client_ip)
csrf = CSRFProtect()
babel = Babel()
leadline = Leadline()
