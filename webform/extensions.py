"""The app's extensions, built unbound: `create_app` binds each to its app with `init_app`.

- `limiter`: the capture path's rate limits (`webform.ratelimit`), counted where `RATELIMIT_STORAGE_URI` says.
- `csrf`: Flask-WTF's CSRF protection for the staff forms (the public capture blueprint is exempt).
- `babel`: Flask-Babel, translating through Leadline's own catalogues (`crm_store.languages`).
- `leadline`: the app's shared state (`webform.state.WebState`) in `app.extensions["leadline"]`.
"""

from __future__ import annotations

import gettext

import flask_babel
from flask_wtf import CSRFProtect

from crm_store import languages

from .ratelimit import Limiter
from .state import Leadline


class Catalogues(flask_babel.Domain):
    """Flask-Babel's translations read from Leadline's `.po` catalogues (there are no compiled `.mo` files)."""

    def get_translations(self) -> gettext.NullTranslations:
        """Return the translations of the current page's language."""
        return languages.translations(str(flask_babel.get_locale() or languages.DEFAULT))


class Babel(flask_babel.Babel):
    """Flask-Babel translating through `Catalogues`."""

    domain_instance = Catalogues()


limiter = Limiter()
csrf = CSRFProtect()
babel = Babel()
leadline = Leadline()
