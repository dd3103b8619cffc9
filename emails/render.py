"""Render a named email template into a ready-to-send EmailMessage, without I/O or Flask.

Each message is one template pair, `templates/<name>.txt` and `.html`, written in English: its wording goes
through gettext (Jinja's i18n extension, `{% trans %}` and `_()`), so the catalogues of `crm_store.languages`
translate it; a message without a translation stays in English. The `.txt` file holds the one source of
truth for the subject (`{% block subject %}`) and for the footer sentence saying why the recipient got the
mail (`{% block reason %}`); both are handed to the `.html` file as `email_subject` and `email_reason`.
The pair extends `_layout.txt` / `_layout.html` (and that `base.html`); `_components.html` holds the HTML
building blocks, `_records.txt` / `_records.html` the pieces that show CRM records.

`base_url`, `company_name`, `language` and `link` are added to every context: `link(route, **values)` is a
`crm_store.links.Links`, and templates build their URLs with it (`link("record", module=..., number=...)`).
Each language has its own Jinja environment: its catalogue, the `duration` filter in its words, and
`language_tag` (BCP 47, for `<html lang>`). The context keys of each template are listed in
`emails.catalog.CONTEXT`.
"""

# No `from __future__ import annotations`: MessageArgs needs real NotRequired[...] annotations for
# TypedDict to know its optional keys at run time.

import gettext
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from functools import cache, lru_cache, partial
from typing import Any, NotRequired, TypedDict, Unpack

import jinja2

from crm_store import languages
from crm_store.links import Links

from .ics import event_ics

KNOWN_TEMPLATES: tuple[str, ...] = (
    "welcome",
    "password_reset",
    "test_message",
    "leads_assigned",
    "new_inquiry",
    "new_web_lead",
    "follow_up_due",
    "follow_up_overdue",
    "stale_lead",
    "sla_reminder",
    "sla_escalation",
    "daily_digest",
    "stage_playbook",
    "memo_reminder",
    "event_reminder",
    "event_invitation",
    "visitor_auto_reply",
    "scheduled_report",
    "quarantine_summary",
    "sales_document",
    "backup_failed",
)
# The messages that carry their event's invite.ics, and its METHOD: a reminder publishes the event, an
# invitation asks its recipient to answer (RFC 5546).
CALENDAR_METHODS = {"event_reminder": "PUBLISH", "event_invitation": "REQUEST"}
ADDED_KEYS = frozenset({"base_url", "company_name", "language", "link", "email_subject", "email_reason"})
# Headers render() owns; `headers=` may add others (Reply-To, List-Unsubscribe, ...).
_OWN_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "mime-version"})
# Parts are 7-bit on the wire (quoted-printable or base64), so no relay needs 8BITMIME.
_POLICY = default_policy.clone(cte_type="7bit")
_CID_REF = re.compile(r"""cid:([^"'\s<>)]+)""")


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message; `inline_cid` marks an image shown inside the HTML body."""

    filename: str
    content_type: str
    data: bytes
    inline_cid: str | None = None


class MessageArgs(TypedDict):
    """What `render()` and `compose()` take besides the template's name."""

    language: str
    context: dict[str, Any]
    sender: str
    recipient: str
    message_id: str
    base_url: str
    company_name: str
    attachments: NotRequired[Sequence[Attachment]]
    headers: NotRequired[Mapping[str, str] | None]
    sent_at: NotRequired[datetime | None]


class _Catalogue:
    """A language's translations as the templates use them.

    A catalogue's plural rule wants an integer: a count that is None (a caller's missing value) takes
    the form of 0, so it reads "None days" / "None 天" as it always did instead of failing.
    """

    def __init__(self, translations: gettext.NullTranslations) -> None:
        self._translations = translations

    def gettext(self, message: str) -> str:
        """Translate a message."""
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int | None) -> str:
        """Translate a message whose wording depends on the count `n`."""
        if isinstance(n, jinja2.Undefined):
            n._fail_with_undefined_error()  # a count missing from the context fails as any missing value does
        return self._translations.ngettext(singular, plural, 0 if n is None else n)


@cache
def _environment(code: str) -> jinja2.Environment:
    """The Jinja environment of one language: its catalogue, its duration format and its BCP 47 tag."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("emails", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    catalogue = _Catalogue(languages.translations(code))
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]  # added by the i18n ext
    env.filters["duration"] = partial(languages.format_duration, code=code)
    env.globals["language_tag"] = languages.get(code).tag
    return env


@dataclass(frozen=True)
class Composed:
    """A rendered message before it is laid out as MIME: what both builders below need."""

    sender: Address
    recipient: Address
    subject: str
    date: str
    message_id: str
    auto_submitted: str
    language_tag: str
    text: str
    html: str
    attachments: list[Attachment]
    headers: list[tuple[str, str]]


def render(template: str, **args: Unpack[MessageArgs]) -> EmailMessage:
    """Render `template` in `language` (else English) into a multipart message.

    Raises jinja2.UndefinedError when the context lacks a key the template uses, and ValueError
    for a header that would carry CR/LF, an address that is not one address, or a bad argument.
    """
    c = compose(template, **args)
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = c.sender
    msg["To"] = c.recipient
    msg["Subject"] = c.subject
    msg["Date"] = c.date
    msg["Message-ID"] = c.message_id
    msg["Auto-Submitted"] = c.auto_submitted
    _add_body(msg, c.text, c.html, c.attachments)
    # Set after the body: turning a part into a multipart moves Content-* headers into it.
    msg["Content-Language"] = c.language_tag
    for name, value in c.headers:
        del msg[name]  # a caller's value replaces a default such as Auto-Submitted
        msg[name] = value
    return msg


def compose(template: str, **args: Unpack[MessageArgs]) -> Composed:
    """Render the template and check every header-bound value; lay nothing out yet."""
    _check_arguments(args)
    if template not in KNOWN_TEMPLATES:
        raise ValueError(f"unknown email template {template!r}")
    language = languages.get(args["language"]).code  # an unknown language falls back to the default
    sent_at = args.get("sent_at") or datetime.now(UTC)
    if sent_at.utcoffset() is None:
        raise ValueError("sent_at needs a time zone")
    ctx = _context(args, language)
    subject, text, html = _render(template, language, ctx)
    recipient = _address("recipient", args["recipient"])

    attachments = list(args.get("attachments", ()))
    if template in CALENDAR_METHODS:
        attachments.append(_invite(ctx, sent_at, CALENDAR_METHODS[template], recipient))
    _check_attachments(template, ctx, html, attachments)

    for item in attachments:
        _content_type(item)
    return Composed(
        sender=_address("sender", args["sender"]),
        recipient=recipient,
        subject=subject,
        date=format_datetime(sent_at.astimezone(UTC), usegmt=True),
        message_id=_message_id(args["message_id"]),
        auto_submitted="auto-replied" if template == "visitor_auto_reply" else "auto-generated",
        language_tag=languages.get(language).tag,
        text=text,
        html=html,
        attachments=attachments,
        headers=[_extra_header(name, value) for name, value in (args.get("headers") or {}).items()],
    )


def _check_arguments(args: Mapping[str, Any]) -> None:
    """Refuse a missing or unknown argument, as a signature naming each one would."""
    missing = sorted(MessageArgs.__required_keys__ - args.keys())
    if missing:
        raise TypeError(f"missing required keyword argument {missing[0]!r}")
    unknown = sorted(args.keys() - MessageArgs.__required_keys__ - MessageArgs.__optional_keys__)
    if unknown:
        raise TypeError(f"got an unexpected keyword argument {unknown[0]!r}")


def _context(args: MessageArgs, language: str) -> dict[str, Any]:
    """The caller's context and what render() adds to it."""
    context = args["context"]
    clashes = ADDED_KEYS & context.keys()
    if clashes:
        raise ValueError(f"context may not set {', '.join(sorted(clashes))}: render() adds them")
    base_url = _base_url(args["base_url"])
    added = {"base_url": base_url, "company_name": args["company_name"], "language": language, "link": Links(base_url)}
    return {**context, **added}


def _render(template: str, language: str, ctx: dict[str, Any]) -> tuple[str, str, str]:
    """Render the subject, the text and the HTML of a message."""
    env = _environment(language)
    text_template = env.get_template(f"{template}.txt")
    subject = _block(text_template, "subject", ctx)
    reason = _block(text_template, "reason", ctx)
    _one_line("subject", subject)
    if not subject:
        raise ValueError(f"template {template!r} rendered an empty subject")
    text = text_template.render(ctx)
    html = env.get_template(f"{template}.html").render({**ctx, "email_subject": subject, "email_reason": reason})
    return subject, text, html


def _block(template: jinja2.Template, name: str, ctx: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(ctx))).strip()


def _one_line(what: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} contains a line break (CR or LF)")


def _base_url(base_url: str) -> str:
    _one_line("base_url", base_url)
    if not re.match(r"https?://[^/\s]+", base_url):
        raise ValueError(f"base_url {base_url!r} is not an absolute http(s) URL")
    return base_url.rstrip("/")


@lru_cache(maxsize=4096)
def _address(what: str, value: str) -> Address:
    """Parse one mailbox such as `王小明 <ming@example.com>` (or its RFC 2047 form); refuse lists."""
    _one_line(what, value)
    try:
        header = default_policy.header_factory("to", value)
    except (HeaderParseError, IndexError, ValueError):  # the stdlib parser raises IndexError on "a@"
        raise ValueError(f"{what} {value!r} is not an email address") from None
    if header.defects or len(header.groups) != 1 or header.groups[0].display_name is not None:
        raise ValueError(f"{what} {value!r} is not a single email address")
    (mailbox,) = header.addresses
    if not mailbox.username or not mailbox.domain:
        raise ValueError(f"{what} {value!r} is not an email address")
    try:
        domain = mailbox.domain.encode("idna").decode("ascii")  # 例子.台灣 -> xn--fsqu00a.xn--kpry57d
    except UnicodeError:
        raise ValueError(f"{what} {value!r} has an invalid domain") from None
    return Address(display_name=mailbox.display_name, username=mailbox.username, domain=domain)


def _message_id(message_id: str) -> str:
    _one_line("message_id", message_id)
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    if not re.fullmatch(r"[^<>@\s]+@[^<>@\s]+", bare):
        raise ValueError(f"message_id {message_id!r} is not of the form <left@right>")
    return f"<{bare}>"


def _extra_header(name: str, value: str) -> tuple[str, str]:
    _one_line(f"header {name!r}", name)
    _one_line(f"header {name!r}", value)
    if not re.fullmatch(r"[!-9;-~]+", name):
        raise ValueError(f"header name {name!r} is not valid")
    if name.lower() in _OWN_HEADERS or name.lower().startswith("content-"):
        raise ValueError(f"header {name!r} is set by render()")
    return name, value


def _invite(ctx: dict[str, Any], sent_at: datetime, method: str, recipient: Address) -> Attachment:
    """Build the .ics of an event_reminder (published) or an event_invitation (a request) from its context."""
    data = event_ics(
        uid=_need(ctx, "event_uid"),
        summary=_need(ctx, "subject"),
        start=datetime.fromisoformat(_need(ctx, "event_start_utc")),
        end=datetime.fromisoformat(_need(ctx, "event_end_utc")),
        location=_need(ctx, "location"),
        description=_need(ctx, "description"),
        organizer=_need(ctx, "organizer"),
        sequence=_need(ctx, "event_sequence"),
        stamp=sent_at,
        method=method,
        attendees=_attendees(_need(ctx, "invitees"), recipient) if method == "REQUEST" else (),
    )
    return Attachment("invite.ics", f"text/calendar; method={method}; charset=utf-8", data)


def _attendees(invitees: Sequence[Mapping[str, Any]], recipient: Address) -> list[tuple[str, str]]:
    """Everyone invited as (name, address), the recipient among them: their calendar answers as that attendee."""
    found = [(guest["name"] or "", _address("invitee", guest["email"]).addr_spec) for guest in invitees]
    if recipient.addr_spec.lower() not in {address.lower() for _, address in found}:
        found.append((recipient.display_name, recipient.addr_spec))
    return found


def _need(ctx: dict[str, Any], key: str) -> Any:
    if key not in ctx:
        raise jinja2.UndefinedError(f"{key!r} is undefined")
    return ctx[key]


def _check_attachments(template: str, ctx: dict[str, Any], html: str, attachments: list[Attachment]) -> None:
    """Refuse a message whose HTML shows an image, or whose text promises a file, not attached."""
    inline = {a.inline_cid for a in attachments if a.inline_cid}
    missing = sorted(set(_CID_REF.findall(html)) - inline)
    if missing:
        raise ValueError(f"the HTML shows cid:{', cid:'.join(missing)} but no attachment has that inline_cid")
    promised = {"scheduled_report": "csv_filename", "sales_document": "pdf_filename"}.get(template)
    if promised is not None and ctx[promised] not in {a.filename for a in attachments}:
        raise ValueError(f"{template} promises {ctx[promised]!r} but it is not attached")


def _add_body(msg: EmailMessage, text: str, html: str, attachments: list[Attachment]) -> None:
    """Lay out mixed( alternative( text, related( html, images ) ), files )."""
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    html_part = list(msg.iter_parts())[1]
    for item in attachments:
        if item.inline_cid:
            maintype, subtype, params = _content_type(item)
            html_part.add_related(
                item.data, maintype, subtype, cid=f"<{item.inline_cid}>", disposition="inline",
                filename=item.filename, params=params,
            )
    for item in attachments:
        if not item.inline_cid:
            maintype, subtype, params = _content_type(item)
            msg.add_attachment(item.data, maintype, subtype, filename=item.filename, params=params)


def _content_type(item: Attachment) -> tuple[str, str, dict[str, str]]:
    """Split an attachment's content type, after checking its header-bound fields."""
    for what, value in (("filename", item.filename), ("content_type", item.content_type),
                        ("inline_cid", item.inline_cid or "")):
        _one_line(f"attachment {what}", value)
    if item.inline_cid and not re.fullmatch(r"[^<>\s]+", item.inline_cid):
        raise ValueError(f"inline_cid {item.inline_cid!r} must not hold spaces or angle brackets")
    header = default_policy.header_factory("content-type", item.content_type)
    if header.defects or "/" not in item.content_type:
        raise ValueError(f"content type {item.content_type!r} is not valid")
    return header.maintype, header.subtype, dict(header.params)
