"""Every URL the CRM hands out, from one map of routes.

The web app registers its routes from `ROUTES`; emails, the CLI and the pages build links with `url()`,
so no route is spelled twice. Patterns use Flask's `<name>` placeholders; `<module:module>` is a module's
url path (leads, accounts, contacts, opportunities), the web app's `module` converter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

ROUTES: dict[str, str] = {
    "home": "/",
    "records": "/<module:module>",  # a module's list: module is the registry's url_path (leads, accounts, ...)
    "record": "/<module:module>/<number>",
    "record_new": "/<module:module>/new",
    "record_edit": "/<module:module>/<number>/edit",
    "record_owner": "/<module:module>/<number>/owner",
    "record_stage": "/<module:module>/<number>/stage",  # opportunities
    "record_delete": "/<module:module>/<number>/delete",  # to the recycle bin, after a confirmation
    "call_log": "/<module:module>/<number>/calls",
    "follow_up": "/<module:module>/<number>/follow-ups",
    "lead_take": "/leads/<number>/take",  # from the unassigned pool
    "lead_convert": "/leads/<number>/convert",
    "task_complete": "/tasks/<activity_id>/complete",
    "reminder_dismiss": "/reminders/<note_id>/dismiss",
    "set_password": "/auth/set-password/<token>",  # the welcome email's link: the first password
    "reset_password": "/auth/reset-password/<token>",  # the password_reset email's one-time link
    "sign_in": "/auth/sign-in",
    "sign_out": "/auth/sign-out",
    "forgot_password": "/auth/forgot-password",
    "language": "/language",  # switch the pages' language (the user's own, or the visitor's before sign-in)
    "profile": "/profile",
    "change_password": "/profile/password",
    "search": "/search",  # the header's search box
    "search_suggest": "/search/suggest",  # results as you type: an HTML fragment
    "users": "/users",  # admins: staff accounts
    "user_add": "/users/new",
    "user_deactivate": "/users/<user_id>/deactivate",
    "user_welcome": "/users/<user_id>/welcome",  # send the welcome email again
    "automation": "/automation",  # admins: the flows' last runs and mail delivery's health
    "report": "/reports/<name>",
    "hosted_form": "/forms/<public_id>",
    "form_thanks": "/forms/<public_id>/thanks",
    "embed_js": "/forms/<public_id>/embed.js",
    "form_token": "/forms/<public_id>/token",  # a fresh render token for the embedded form's next submission
    "form_api": "/api/forms/<public_id>/submissions",
    "healthz": "/healthz",
}
_PLACEHOLDER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def path(route: str, **values: Any) -> str:
    """Return the path of a route with its placeholders filled (each value quoted); fail on a missing one."""
    pattern = ROUTES[route]
    wanted = set(_PLACEHOLDER.findall(pattern))
    if wanted != set(values):
        raise ValueError(f"route {route!r} takes {sorted(wanted)}, not {sorted(values)}")
    return _PLACEHOLDER.sub(lambda m: quote(str(values[m[1]]), safe=""), pattern)


def url(base_url: str, route: str, **values: Any) -> str:
    """Return the absolute URL of a route on the deployment at `base_url`."""
    return base_url.rstrip("/") + path(route, **values)


def record_url(base_url: str, module: str, number: str) -> str:
    """Return the address of a record's page (module as in the registry, e.g. `leads`)."""
    from crm_store.records import registry

    return url(base_url, "record", module=registry.get(module).path, number=number)


class Links:
    """URLs on one deployment, for templates: `link("hosted_form", public_id=...)`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def __call__(self, route: str, **values: Any) -> str:
        """Return the absolute URL of a route."""
        return url(self.base_url, route, **values)
