"""Error answers: a page, or JSON on the API, in the language of the page; a 429 says when to retry.

The public capture pages use `error.html`; the back office `staff/error.html`, in the staff layout. Neither
tells more than the status: no path, no exception, nothing about what exists.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from crm_store.languages import N_

from .staff.access import is_staff_request
from .writer import DatabaseBusy

log = logging.getLogger("leadline.web")
ERROR_TITLE = N_("Something went wrong")
ERROR = N_("We could not take your message just now. Please try again in a moment.")
NOT_FOUND_TITLE = N_("Form not found")
NOT_FOUND = N_("This form does not exist or is no longer available.")
TOO_MANY_TITLE = N_("Too many submissions")
TOO_MANY = N_("Too many submissions from your network. Please wait a minute and try again.")
TOO_LARGE = N_("The message is too long to be sent.")
FORBIDDEN_TITLE = N_("Not allowed")
FORBIDDEN = N_("This form may not be submitted from this site.")
NOT_JSON = N_("Send the submission as a JSON object (Content-Type: application/json).")
BAD_REQUEST = N_("The request could not be read.")
BUSY_TITLE = N_("Busy right now")
BUSY = N_("We are receiving many messages right now. Please send yours again in a few seconds.")
# The title and the message of each error page (other codes: ERROR_TITLE and ERROR).
WORDING: dict[int, tuple[str, str]] = {
    400: (ERROR_TITLE, BAD_REQUEST),
    403: (FORBIDDEN_TITLE, FORBIDDEN),
    404: (NOT_FOUND_TITLE, NOT_FOUND),
    413: (ERROR_TITLE, TOO_LARGE),
    415: (ERROR_TITLE, NOT_JSON),
    429: (TOO_MANY_TITLE, TOO_MANY),
}
# The back office's pages (signed in or not): the same for a page that does not exist and one the user may
# not see, so a 404 tells nothing about what is there (other codes: ERROR_TITLE and STAFF_ERROR).
PAGE_NOT_FOUND_TITLE = N_("Page not found")
PAGE_NOT_FOUND = N_("This page does not exist, or you do not have access to it.")
NO_ACCESS = N_("You do not have access to this page. Ask an administrator if you need it.")
STAFF_ERROR = N_("The error has been noted. Please try again in a moment.")
FORM_EXPIRED_TITLE = N_("This form has expired")
FORM_EXPIRED = N_("Go back, reload the page and send the form again.")
TOO_LARGE_PAGE = N_("What you sent is too large.")
STAFF_BUSY = N_("Leadline is very busy right now. Please try again in a few seconds.")
STAFF_WORDING: dict[int, tuple[str, str]] = {
    400: (ERROR_TITLE, BAD_REQUEST),
    403: (FORBIDDEN_TITLE, NO_ACCESS),
    404: (PAGE_NOT_FOUND_TITLE, PAGE_NOT_FOUND),
    405: (ERROR_TITLE, BAD_REQUEST),
    413: (ERROR_TITLE, TOO_LARGE_PAGE),
}


def init_app(app: Flask) -> None:
    """Answer every error of `app` in the page's language, without a traceback."""
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(DatabaseBusy, busy)
    app.register_error_handler(Exception, crash)


def wants_json() -> bool:
    """Whether the caller is the JSON API (errors then come as JSON)."""
    return request.path.startswith("/api/")


def http_error(exc: HTTPException) -> ResponseReturnValue:
    """Answer an HTTP error with its page, or JSON on the API."""
    code = exc.code or 500
    title, message = WORDING.get(code, (ERROR_TITLE, ERROR))
    headers = {"Retry-After": str(getattr(exc, "seconds", 60))} if code == 429 else {}
    if wants_json():
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=gettext(message)), code, headers
    if is_staff_request():
        title, message = STAFF_WORDING.get(code, (ERROR_TITLE, STAFF_ERROR))
        if isinstance(exc, CSRFError):
            title, message = FORM_EXPIRED_TITLE, FORM_EXPIRED
        return _staff_page(code, title, message), code, headers
    return _page(title, message), code, headers


def busy(exc: DatabaseBusy) -> ResponseReturnValue:
    """Answer 503 with Retry-After when the database did not take a write within the bounded wait."""
    log.warning("answered 503: %s on %s %s", exc, request.method, request.path)
    headers = {"Retry-After": str(DatabaseBusy.retry_after)}
    if wants_json():
        return jsonify(error="busy", message=gettext(BUSY)), 503, headers
    if is_staff_request():
        return _staff_page(503, BUSY_TITLE, STAFF_BUSY), 503, headers
    return _page(BUSY_TITLE, BUSY), 503, headers


def crash(exc: Exception) -> ResponseReturnValue:
    """Log an unexpected error and answer 500 without telling what went wrong."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    if wants_json():
        return jsonify(error="internal_error", message=gettext(ERROR)), 500
    if is_staff_request():
        return _staff_page(500, ERROR_TITLE, STAFF_ERROR), 500
    return _page(ERROR_TITLE, ERROR), 500


def _page(title: str, message: str) -> str:
    return render_template("error.html", title=gettext(title), message=gettext(message))


def _staff_page(code: int, title: str, message: str) -> str:
    """The error in the staff layout (with the navigation when signed in); the plain page if that fails too."""
    try:
        return render_template("staff/error.html", code=code, title=gettext(title), message=gettext(message))
    except Exception:  # noqa: BLE001 - the error page must not fail: what broke may be what the layout needs
        log.exception("the staff error page failed; answered with the plain one")
        return _page(title, message)
