"""What a visitor of a public form may read, written in English and translated through the catalogue.

Each message has a key: embed.js reads its messages by key (`CONFIG.messages.submit`), and `texts()`
gives every message by key in a language. The templates write the same English in `_("…")`.
"""

from __future__ import annotations

from flask_babel import gettext

from crm_store.languages import N_, translate

from .. import errors

SEND = N_("Send")
SENDING = N_("Sending…")
FIX_ERRORS = N_("Please correct the fields marked below.")
OPTIONAL = N_("optional")
NETWORK_ERROR = N_("The message could not be sent. Check your connection and try again.")
THANKS_TITLE = N_("Thank you")
THANKS = N_("Thank you — we have received your message and will get back to you soon.")
CONSENT = N_("Please tick the box to agree.")
# What the visitor typed, field by field.
REQUIRED = N_("This field is required.")
TOO_LONG = N_("Use at most %(max)s characters.")
EMAIL = N_("Enter an email address like name@example.com.")
PHONE = N_("Enter a phone number, e.g. +886 2 2345 6789.")
ONE_LINE = N_("Keep this on one line.")
CHOICE = N_("Choose one of the listed values.")
NUMBER = N_("Enter a whole number.")
URL = N_("Enter a web address like https://example.com.")
UNSTORABLE = N_("This text contains characters that cannot be stored. Please type it again.")

BY_KEY: dict[str, str] = {
    "submit": SEND, "sending": SENDING, "required": REQUIRED, "too_long": TOO_LONG, "email": EMAIL,
    "phone": PHONE, "one_line": ONE_LINE, "choice": CHOICE, "number": NUMBER, "url": URL, "unstorable": UNSTORABLE,
    "consent": CONSENT,
    "thanks_title": THANKS_TITLE, "thanks": THANKS, "fix_errors": FIX_ERRORS, "optional": OPTIONAL,
    "network_error": NETWORK_ERROR,
    "not_found_title": errors.NOT_FOUND_TITLE, "not_found": errors.NOT_FOUND,
    "too_many_title": errors.TOO_MANY_TITLE, "too_many": errors.TOO_MANY, "too_large": errors.TOO_LARGE,
    "error_title": errors.ERROR_TITLE, "error": errors.ERROR,
    "forbidden_title": errors.FORBIDDEN_TITLE, "forbidden": errors.FORBIDDEN,
    "not_json": errors.NOT_JSON, "bad_request": errors.BAD_REQUEST,
}
SCRIPT_KEYS = ("submit", "sending", "fix_errors", "too_many", "too_large", "network_error")  # what embed.js shows


def texts(language: str) -> dict[str, str]:
    """Return every message a visitor may read, by key, in a language (placeholders left as they are)."""
    return {key: translate(language, message) for key, message in BY_KEY.items()}


def script_texts() -> dict[str, str]:
    """Return the messages embed.js shows, by the keys it reads, in the page's language."""
    return {key: gettext(BY_KEY[key]) for key in SCRIPT_KEYS}
