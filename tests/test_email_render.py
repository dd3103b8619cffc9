"""Email rendering: every template in both languages, read back from bytes as a mail client would."""

from __future__ import annotations

import email
import email.policy
import gettext
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formataddr
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import pytest

import emails.render as render_module
from crm_store import languages
from crm_store.records import registry
from emails import catalog
from emails.ics import event_ics
from emails.render import KNOWN_TEMPLATES, Attachment, render

BASE_URL = "https://crm.goodfortune.example"
COMPANY = "好運貿易 Good Fortune"
SENT_AT = datetime(2025, 3, 14, 1, 0, tzinfo=UTC)
LANGUAGES = ("en", "zh_Hant")
CJK = re.compile(r"[\u3400-\u9fff]")
URL = re.compile(r"https?://[^\s<>\"']+")
NOT_SHOWN = {"module", "kind", "cid", "event_uid", "event_start_utc", "event_end_utc"}  # used, but not as text
TEMPLATE_DIR = Path(catalog.__file__).parent / "templates"


def send(template: str = "welcome", *, language: str = "en", context: dict[str, Any] | None = None,
         **overrides: Any) -> EmailMessage:
    """Render a template (its sample unless told) and parse the bytes back."""
    args: dict[str, Any] = {
        "language": language,
        "context": catalog.SAMPLES[template] if context is None else context,
        "sender": "Leadline <crm@goodfortune.example>",
        "recipient": "林怡君 <yijun@goodfortune.example>",
        "message_id": "<20250314.1@goodfortune.example>",
        "base_url": BASE_URL + "/",
        "company_name": COMPANY,
        "attachments": catalog.SAMPLE_ATTACHMENTS.get(template, ()),
        "sent_at": SENT_AT,
    }
    msg = render(template, **{**args, **overrides})
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def _plain_args(**overrides: Any) -> dict[str, Any]:
    """Arguments for calling render() directly, without parsing the result."""
    return {
        "language": "zh_Hant", "context": catalog.SAMPLES["welcome"], "sender": "crm@goodfortune.example",
        "recipient": "ming@example.com", "message_id": "<1@goodfortune.example>", "base_url": BASE_URL,
        "company_name": COMPANY, "sent_at": SENT_AT, **overrides,
    }


def with_changes(template: str, **changes: Any) -> dict[str, Any]:
    """Return the sample context of a template with some keys replaced."""
    return {**catalog.SAMPLES[template], **changes}


class Page(HTMLParser):
    """The visible text, attributes and language of an HTML body."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.lang: str | None = None
        self.title = ""
        self._in_title = False
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "img":
            self.srcs.append(values.get("src") or "")
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        if self._in_title:
            self.title += data

    @property
    def text(self) -> str:
        return "\n".join(self.chunks)


def bodies(msg: EmailMessage) -> tuple[str, str]:
    """Return the decoded text and HTML parts."""
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def shown_strings(value: Any, key: str = "") -> Iterator[str]:
    """Yield every non-empty line of every string a template is expected to show."""
    if key in NOT_SHOWN:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from shown_strings(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from shown_strings(item, key)
    elif isinstance(value, str):
        yield from (line.strip() for line in value.splitlines() if line.strip())


def module_of(number: str) -> str:
    """Return the URL segment of a record's module from its number (LEA12 -> leads)."""
    module = registry.by_number(number)
    assert module is not None, number
    return module.path


def record_links(value: Any) -> Iterator[str]:
    """Yield the absolute link expected for every record (anything with a number) in a context."""
    if isinstance(value, dict):
        if "number" in value:
            module = value.get("module") or module_of(value["number"])
            yield f"{BASE_URL}/{module}/{value['number']}"
        for item in value.values():
            yield from record_links(item)
    elif isinstance(value, list):
        for item in value:
            yield from record_links(item)


every_template = pytest.mark.parametrize("template", KNOWN_TEMPLATES)
every_language = pytest.mark.parametrize("language", LANGUAGES)


def test_catalog_documents_every_template_and_key() -> None:
    assert set(catalog.CONTEXT) == set(catalog.SAMPLES) == set(KNOWN_TEMPLATES)
    for template in KNOWN_TEMPLATES:
        assert set(catalog.SAMPLES[template]) == set(catalog.CONTEXT[template]), template


def test_template_files_match_known_templates() -> None:
    """One template pair per message, in the source language; the rest is shared (`_` files, base.html)."""
    names = {p.name for p in TEMPLATE_DIR.iterdir()}
    assert not {language for language in LANGUAGES if (TEMPLATE_DIR / language).exists()}
    for template in KNOWN_TEMPLATES:
        assert (TEMPLATE_DIR / f"{template}.txt").is_file(), template
        assert (TEMPLATE_DIR / f"{template}.html").is_file(), template
    pairs = {f"{template}{suffix}" for template in KNOWN_TEMPLATES for suffix in (".txt", ".html")}
    shared = {name for name in names - pairs if name.startswith("_") or name == "base.html"}
    assert names == pairs | shared
    assert all((TEMPLATE_DIR / name).is_file() for name in names)


@every_template
@every_language
def test_sample_renders_into_text_and_html(template: str, language: str) -> None:
    msg = send(template, language=language)
    assert msg.get_content_type() in {"multipart/alternative", "multipart/mixed"}
    alternative = next(p for p in msg.walk() if p.get_content_type() == "multipart/alternative")
    first, second = alternative.get_payload()
    assert first.get_content_type() == "text/plain"
    assert second.get_content_type() in {"text/html", "multipart/related"}
    for part in (msg.get_body(("plain",)), msg.get_body(("html",))):
        assert part is not None and part.get_content_charset() == "utf-8"
    assert msg["Content-Language"] == {"en": "en", "zh_Hant": "zh-Hant"}[language]
    assert msg["Message-ID"] == "<20250314.1@goodfortune.example>"
    assert msg["Date"].datetime == SENT_AT
    assert msg["From"].addresses[0].addr_spec == "crm@goodfortune.example"


@every_template
@every_language
def test_subject_is_in_the_language(template: str, language: str) -> None:
    subject = str(send(template, language=language)["Subject"])
    assert subject.strip()
    wording = subject.replace(COMPANY, "")
    for value in sorted(shown_strings(catalog.SAMPLES[template]), key=len, reverse=True):
        wording = wording.replace(value, "")
    if language == "zh_Hant":
        assert CJK.search(wording), subject
    else:
        assert not CJK.search(wording) and re.search(r"[A-Za-z]{3}", wording), subject


@every_template
@every_language
def test_context_values_appear_in_both_parts(template: str, language: str) -> None:
    text, html = bodies(send(template, language=language))
    page = Page(html)
    html_visible = page.text + "\n" + "\n".join(page.hrefs)
    for value in shown_strings(catalog.SAMPLES[template]):
        assert value in text, f"{value!r} missing from the text part"
        assert value in html_visible, f"{value!r} missing from the HTML part"
    assert COMPANY in page.text


@every_template
@every_language
def test_links_are_absolute(template: str, language: str) -> None:
    text, html = bodies(send(template, language=language))
    page = Page(html)
    text_links = URL.findall(text)
    for link in text_links + page.hrefs:
        assert link.startswith(BASE_URL + "/") or link.startswith(("mailto:", "tel:")), link
    for expected in record_links(catalog.SAMPLES[template]):
        assert expected in text_links, f"{expected} missing from the text part"
        assert expected in page.hrefs, f"{expected} missing from the HTML part"
    if template in ("visitor_auto_reply", "sales_document"):  # a visitor or a customer must not see links into the CRM
        assert not text_links and not page.hrefs
    else:
        assert any(link.startswith(BASE_URL + "/") for link in page.hrefs)


@every_template
@every_language
def test_html_is_escaped_and_text_is_not(template: str, language: str) -> None:
    name_key = "visitor_name" if template == "visitor_auto_reply" else "recipient_name"
    hostile = "<script>alert('x')</script>"
    text, html = bodies(send(template, language=language, context=with_changes(template, **{name_key: hostile})))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert hostile in Page(html).text
    assert hostile in text


@every_template
@every_language
def test_html_declares_language_and_title(template: str, language: str) -> None:
    msg = send(template, language=language)
    page = Page(bodies(msg)[1])
    assert page.lang == {"en": "en", "zh_Hant": "zh-Hant"}[language]
    assert page.title == str(msg["Subject"])
    assert "max-width:600px" in bodies(msg)[1]


@every_template
@every_language
def test_every_documented_key_is_required(template: str, language: str) -> None:
    for key in catalog.CONTEXT[template]:
        context = {k: v for k, v in catalog.SAMPLES[template].items() if k != key}
        with pytest.raises(jinja2.UndefinedError):
            render(template, **_plain_args(language=language, context=context,
                                           attachments=catalog.SAMPLE_ATTACHMENTS.get(template, ())))


def test_missing_nested_key_raises() -> None:
    lead = {k: v for k, v in catalog.SAMPLES["stale_lead"]["lead"].items() if k != "number"}
    with pytest.raises(jinja2.UndefinedError, match="number"):
        send("stale_lead", context=with_changes("stale_lead", lead=lead))


@pytest.mark.parametrize("field", ["sender", "recipient"])
@pytest.mark.parametrize("value", ["ming@example.com\r\nBcc: all@example.com", "王小明 <ming@example.com>\n"])
def test_line_breaks_in_addresses_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        send(**{field: value})


def test_line_breaks_in_the_subject_are_refused() -> None:
    lead = {**catalog.SAMPLES["leads_assigned"]["leads"][0], "name": "陳志明\r\nBcc: all@example.com"}
    with pytest.raises(ValueError, match="subject"):
        send("leads_assigned", context=with_changes("leads_assigned", leads=[lead]))


@pytest.mark.parametrize(
    "value", ["", "not an address", "a@", "a@example.com, b@example.com", "Team: a@example.com;"]
)
def test_recipient_must_be_one_address(value: str) -> None:
    with pytest.raises(ValueError, match="recipient"):
        send(recipient=value)


@pytest.mark.parametrize(
    "recipient",
    ["王小明 <ming@example.com>", '"王小明" <ming@example.com>', formataddr(("王小明", "ming@example.com"))],
)
def test_chinese_display_names_round_trip(recipient: str) -> None:
    msg = send(recipient=recipient, sender="好運貿易 業務部 <sales@goodfortune.example>")
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("王小明", "ming@example.com")
    assert msg["From"].addresses[0].display_name == "好運貿易 業務部"
    raw_headers = bytes(render("welcome", **_plain_args(recipient=recipient)))
    raw_headers = raw_headers.split(b"\n\n", 1)[0]
    assert raw_headers.isascii()  # non-ASCII names travel as RFC 2047 encoded words


def test_display_name_with_a_comma_stays_one_address() -> None:
    (to,) = send(recipient='"Wu, Kevin" <kevin@example.com>')["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Wu, Kevin", "kevin@example.com")


def test_unknown_language_falls_back_to_english() -> None:
    msg = send("welcome", language="fr")
    assert msg["Content-Language"] == "en"
    assert msg["Subject"] == send("welcome", language="en")["Subject"]


@pytest.fixture
def empty_catalogue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Traditional Chinese with a catalogue that translates nothing."""
    monkeypatch.setattr(languages, "translations", lambda code: gettext.NullTranslations())
    render_module._environment.cache_clear()
    yield
    render_module._environment.cache_clear()


@every_template
@pytest.mark.usefixtures("empty_catalogue")
def test_a_message_without_translation_stays_in_english(template: str) -> None:
    chinese, english = send(template, language="zh_Hant"), send(template, language="en")
    assert str(chinese["Subject"]) == str(english["Subject"])
    text, html = bodies(chinese)
    assert text == bodies(english)[0]
    assert html.replace('<html lang="zh-Hant">', '<html lang="en">') == bodies(english)[1]


def test_traditional_chinese_comes_from_the_catalogue() -> None:
    translated = languages.translate("zh_Hant", "Welcome to Leadline at %(company)s", company=COMPANY)
    assert "歡迎" in translated
    msg = send("welcome", language="zh_Hant")
    assert msg["Subject"] == translated
    assert msg["Content-Language"] == "zh-Hant"
    assert "Welcome" not in bodies(msg)[0]


def test_arguments_are_checked_as_a_signature_would() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'lang'"):
        render("welcome", **_plain_args(lang="en"))
    args = _plain_args()
    del args["sender"]
    with pytest.raises(TypeError, match="missing required keyword argument 'sender'"):
        render("welcome", **args)


def test_extra_headers_are_added_and_checked() -> None:
    msg = send(headers={"Reply-To": "sales@goodfortune.example", "Auto-Submitted": "no"})
    assert msg["Reply-To"] == "sales@goodfortune.example"
    assert msg.get_all("Auto-Submitted") == ["no"]
    with pytest.raises(ValueError, match="X-Note"):
        send(headers={"X-Note": "a\r\nBcc: all@example.com"})
    with pytest.raises(ValueError, match="set by render"):
        send(headers={"Subject": "other"})


def test_context_may_not_override_what_render_adds() -> None:
    with pytest.raises(ValueError, match="base_url"):
        send(context=with_changes("welcome", base_url="https://evil.example"))


def test_scheduled_report_images_are_related_parts_of_the_html() -> None:
    msg = send("scheduled_report")
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    page = Page(html_part.get_content())
    for chart in catalog.SAMPLES["scheduled_report"]["charts"]:
        assert f"cid:{chart['cid']}" in page.srcs
        image = next(i for i in images if i["Content-ID"] == f"<{chart['cid']}>")
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
        assert image.get_content().startswith(b"\x89PNG")


def test_scheduled_report_carries_the_csv() -> None:
    msg = send("scheduled_report")
    (csv,) = [p for p in msg.iter_attachments() if p.get_filename().endswith(".csv")]
    sample_csv = next(a for a in catalog.SAMPLE_ATTACHMENTS["scheduled_report"] if a.inline_cid is None)
    assert csv.get_filename() == catalog.SAMPLES["scheduled_report"]["csv_filename"]
    assert csv.get_content_type() == "text/csv"
    assert csv.get_payload(decode=True) == sample_csv.data
    assert "NT$8,250,000" in sample_csv.data.decode("utf-8-sig")


def test_scheduled_report_refuses_what_it_cannot_show() -> None:
    chart, csv = catalog.SAMPLE_ATTACHMENTS["scheduled_report"]
    with pytest.raises(ValueError, match="cid:pipeline-chart@leadline"):
        send("scheduled_report", attachments=[csv])
    with pytest.raises(ValueError, match="not attached"):
        send("scheduled_report", attachments=[chart])


def test_attachment_fields_cannot_break_headers() -> None:
    bad = Attachment("notes.txt\r\nBcc: all@example.com", "text/plain", b"x")
    with pytest.raises(ValueError, match="filename"):
        send(attachments=[bad])


# --- calendar files -----------------------------------------------------------------------------


def unfold(raw: bytes) -> list[tuple[str, dict[str, str], str]]:
    """Parse iCalendar bytes into (name, params, value) content lines, checking the framing."""
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    for physical in raw.split(b"\r\n"):
        assert len(physical) <= 75, physical
        physical.decode("utf-8")  # folding never splits a character
    lines = []
    for line in raw.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")[:-1]:
        head, value = re.match(r'((?:[^:"]|"[^"]*")*):(.*)', line).groups()  # type: ignore[union-attr]  # a header line always matches
        name, *params = head.split(";")
        lines.append((name, dict(p.split("=", 1) for p in params), value))
    return lines


def unescape(value: str) -> str:
    """Undo RFC 5545 TEXT escaping."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def props(raw: bytes) -> dict[str, str]:
    """Return the properties of a one-event calendar by name."""
    return {name: value for name, _, value in unfold(raw)}


@every_language
def test_event_reminder_attaches_an_ics_in_utc(language: str) -> None:
    msg = send("event_reminder", language=language)
    (invite,) = [p for p in msg.iter_attachments() if p.get_filename() == "invite.ics"]
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "PUBLISH"
    found = props(invite.get_payload(decode=True))
    sample = catalog.SAMPLES["event_reminder"]
    assert found["DTSTART"] == "20250320T020000Z" and found["DTEND"] == "20250320T030000Z"
    assert found["DTSTAMP"] == "20250314T010000Z"
    assert found["UID"] == sample["event_uid"]
    assert unescape(found["SUMMARY"]) == sample["subject"]
    assert unescape(found["LOCATION"]) == sample["location"]
    assert unescape(found["DESCRIPTION"]) == sample["description"]
    assert found["ORGANIZER"] == "mailto:manager.chang@goodfortune.com.tw"
    assert found["METHOD"] == "PUBLISH" and "ATTENDEE" not in found  # a reminder asks nobody to answer


def test_event_reminder_without_optional_details() -> None:
    context = with_changes("event_reminder", location=None, description=None, organizer=None, related=None,
                           kind="call")
    msg = send("event_reminder", context=context)
    text, html = bodies(msg)
    assert "call" in text and not URL.findall(text) and not Page(html).hrefs
    invite = next(p for p in msg.iter_attachments() if p.get_filename() == "invite.ics")
    assert not {"LOCATION", "DESCRIPTION", "ORGANIZER"} & props(invite.get_payload(decode=True)).keys()


INVITED = {"en": ("Invitation: 季度檢討會議 Q1 review — 2025-03-20 (Thu) 10:00", "You are invited to this meeting:",
                   "Guests"),
           "zh_Hant": ("邀請：季度檢討會議 Q1 review（2025-03-20 (Thu) 10:00）", "邀請您參加以下會議：", "受邀者")}


def attendees_of(raw: bytes) -> dict[str, dict[str, str]]:
    """The ATTENDEE lines of a calendar: mailto address -> parameters."""
    return {value.removeprefix("mailto:"): params for name, params, value in unfold(raw) if name == "ATTENDEE"}


def invite_of(msg: EmailMessage) -> bytes:
    """The bytes of a message's invite.ics."""
    part = next(p for p in msg.iter_attachments() if p.get_filename() == "invite.ics")
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


@every_language
def test_event_invitation_reads_as_an_invitation_in_both_parts(language: str) -> None:
    msg = send("event_invitation", language=language)
    subject, intro, guests_label = INVITED[language]
    assert str(msg["Subject"]) == subject
    text, html = bodies(msg)
    page = Page(html)
    assert intro in text and intro in page.text
    assert guests_label in page.text and guests_label in text
    sample = catalog.SAMPLES["event_invitation"]
    for guest in sample["invitees"]:
        assert guest["email"] in text and f"mailto:{guest['email']}" in page.hrefs
    assert "陳志明 <chen.zhiming@htprecision.example>" in text  # a named guest: the name, then the address
    assert f"{BASE_URL}/accounts/ACC208" in page.hrefs  # the related record, for a user
    assert "invite.ics" in text and "invite.ics" in page.text


@every_language
def test_event_invitation_attaches_a_request_naming_the_recipient(language: str) -> None:
    msg = send("event_invitation", language=language, recipient="Kevin Wu <kevin.wu@goodfortune.com.tw>")
    (invite,) = [p for p in msg.iter_attachments() if p.get_filename() == "invite.ics"]
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    raw = invite_of(msg)
    found = props(raw)
    sample = catalog.SAMPLES["event_invitation"]
    assert found["METHOD"] == "REQUEST"
    assert found["UID"] == sample["event_uid"] == catalog.SAMPLES["event_reminder"]["event_uid"]
    assert found["DTSTART"] == "20250320T020000Z" and found["DTEND"] == "20250320T030000Z"  # UTC, from +00:00
    assert found["SEQUENCE"] == "0" and found["DTSTAMP"] == "20250314T010000Z"
    assert found["ORGANIZER"] == "mailto:manager.chang@goodfortune.com.tw"
    attendees = attendees_of(raw)
    assert list(attendees) == [g["email"] for g in sample["invitees"]]  # everyone invited, the recipient once
    mine = attendees["kevin.wu@goodfortune.com.tw"]
    assert (mine["PARTSTAT"], mine["RSVP"], mine["ROLE"], mine["CN"]) == \
        ("NEEDS-ACTION", "TRUE", "REQ-PARTICIPANT", '"Kevin Wu"')
    assert "CN" not in attendees["purchasing@htprecision.example"]  # no name, no CN


def test_an_invitation_to_someone_left_off_the_list_still_asks_them() -> None:
    attendees = attendees_of(invite_of(send("event_invitation", recipient="林怡君 <yijun@goodfortune.example>")))
    assert attendees["yijun@goodfortune.example"]["CN"] == '"林怡君"'
    assert len(attendees) == len(catalog.SAMPLES["event_invitation"]["invitees"]) + 1


@every_language
def test_a_revised_invitation_says_it_changed_and_raises_the_sequence(language: str) -> None:
    context = with_changes("event_invitation", event_sequence=3, start="2025-03-21 (Fri) 14:00",
                           end="2025-03-21 (Fri) 15:00", event_start_utc="2025-03-21T06:00:00+00:00",
                           event_end_utc="2025-03-21T07:00:00+00:00")
    msg = send("event_invitation", language=language, context=context)
    updated = {"en": ("Updated invitation: 季度檢討會議 Q1 review — 2025-03-21 (Fri) 14:00", "has changed"),
               "zh_Hant": ("邀請已更新：季度檢討會議 Q1 review（2025-03-21 (Fri) 14:00）", "有所變更")}[language]
    assert str(msg["Subject"]) == updated[0]
    text, html = bodies(msg)
    assert updated[1] in text and updated[1] in Page(html).text
    found = props(invite_of(msg))
    assert (found["SEQUENCE"], found["DTSTART"], found["UID"]) == ("3", "20250321T060000Z",
                                                                  catalog.SAMPLES["event_invitation"]["event_uid"])


def test_event_invitation_for_an_outside_guest_without_optional_details() -> None:
    context = with_changes("event_invitation", location=None, description=None, related=None, kind="call")
    text, html = bodies(send("event_invitation", context=context))
    assert "You are invited to this call:" in text
    assert not [h for h in Page(html).hrefs if not h.startswith("mailto:")]  # no link into the CRM
    assert not URL.findall(text) and "None" not in text and "None" not in Page(html).text


def test_event_invitation_needs_an_organizer_to_answer() -> None:
    with pytest.raises(ValueError, match="organizer"):
        send("event_invitation", context=with_changes("event_invitation", organizer=None))


def test_ics_requests_and_publications_are_told_apart() -> None:
    times = {"start": datetime(2025, 3, 20, 2, tzinfo=UTC), "end": datetime(2025, 3, 20, 3, tzinfo=UTC)}
    common: dict[str, Any] = {"uid": "u@x", "summary": "s", "location": None, "description": None, **times}
    guest = [("", "mei@example.com")]
    with pytest.raises(ValueError, match="PUBLISH names no attendees"):
        event_ics(**common, organizer="a@example.com", attendees=guest)
    with pytest.raises(ValueError, match="needs an organizer"):
        event_ics(**common, organizer=None, method="REQUEST", attendees=guest)
    with pytest.raises(ValueError, match="at least one attendee"):
        event_ics(**common, organizer="a@example.com", method="REQUEST")
    with pytest.raises(ValueError, match="method"):
        event_ics(**common, organizer="a@example.com", method="CANCEL", attendees=guest)
    with pytest.raises(ValueError, match="attendee"):
        event_ics(**common, organizer="a@example.com", method="REQUEST", attendees=[("", "mei@example.com\r\nX:1")])
    raw = event_ics(**common, organizer="a@example.com", method="REQUEST",
                    attendees=[('Mei "M" Lin', "mei@example.com")])
    assert attendees_of(raw)["mei@example.com"]["CN"] == '"Mei M Lin"'


def test_ics_folds_long_lines_and_escapes_text() -> None:
    taipei = timezone(timedelta(hours=8))
    description = "議程：" + "年度採購合約、交期與付款條件；" * 8 + "\nBring samples, price list; Q2 plan"
    raw = event_ics(
        uid="act-1@leadline", summary="季度檢討, Q1; review", start=datetime(2025, 3, 20, 10, tzinfo=taipei),
        end=datetime(2025, 3, 20, 11, tzinfo=taipei), location=None, description=description,
        organizer='張 "經理" <chang@example.com>', sequence=2, stamp=SENT_AT,
    )
    lines = unfold(raw)
    assert [n for n, _, _ in lines][:6] == ["BEGIN", "VERSION", "PRODID", "CALSCALE", "METHOD", "BEGIN"]
    found = {name: (params, value) for name, params, value in lines}
    assert found["DTSTART"][1] == "20250320T020000Z"
    assert found["SUMMARY"][1] == "季度檢討\\, Q1\\; review"
    assert unescape(found["DESCRIPTION"][1]) == description
    assert found["SEQUENCE"][1] == "2"
    assert found["ORGANIZER"] == ({"CN": '"張 經理"'}, "mailto:chang@example.com")
    assert raw.count(b"\r\n ") >= 3  # the description was folded


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2025, 3, 20, 2), datetime(2025, 3, 20, 3, tzinfo=UTC), "time zone"),
        (datetime(2025, 3, 20, 3, tzinfo=UTC), datetime(2025, 3, 20, 2, tzinfo=UTC), "after start"),
    ],
)
def test_ics_refuses_bad_times(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        event_ics(uid="u@x", summary="s", start=start, end=end, location=None, description=None, organizer=None)


# --- wording of edge cases ------------------------------------------------------------------------

EMPTY_DIGEST = {"en": "Nothing needs your attention today", "zh_Hant": "今天沒有需要處理的事項"}


@every_language
def test_empty_digest_says_all_clear(language: str) -> None:
    nothing = {"lines": [], "total": 0}
    context = with_changes("daily_digest", team=[], **dict.fromkeys(
        ("overdue", "due_today", "events", "new_leads", "stale", "rotting", "closing"), nothing))
    msg = send("daily_digest", language=language, context=context)
    text, html = bodies(msg)
    assert EMPTY_DIGEST[language] in text and EMPTY_DIGEST[language] in Page(html).text
    assert not any("/leads/" in link for link in Page(html).hrefs)


@every_language
def test_one_lead_assigned_by_the_rules(language: str) -> None:
    lead = catalog.SAMPLES["leads_assigned"]["leads"][0]
    msg = send("leads_assigned", language=language,
               context=with_changes("leads_assigned", leads=[lead], assigned_by=None))
    assert lead["name"] in msg["Subject"] and lead["number"] in msg["Subject"]
    assert {"en": "assignment rules", "zh_Hant": "分派規則"}[language] in bodies(msg)[0]


@pytest.mark.parametrize(
    ("minutes", "en", "zh"),
    [(45, "45 min", "45 分鐘"), (95, "1 h 35 min", "1 小時 35 分鐘"), (1500, "1 d 1 h", "1 天 1 小時")],
)
def test_minutes_read_naturally(minutes: int, en: str, zh: str) -> None:
    context = with_changes("sla_escalation", minutes_late=minutes)
    assert en in bodies(send("sla_escalation", language="en", context=context))[0]
    assert zh in bodies(send("sla_escalation", language="zh_Hant", context=context))[0]


@every_language
@pytest.mark.parametrize(
    ("phone", "dials"),
    [("0912 345 678", "tel:0912345678"), ("+81 3-1234-5678", "tel:+813-1234-5678"),
     ("02 2345 6789 ext. 12", "tel:0223456789,12")],
)
def test_a_phone_number_links_to_dialling_it(language: str, phone: str, dials: str) -> None:
    for template, key in (("new_web_lead", "phone"), ("new_inquiry", "contact_phone")):
        text, html = bodies(send(template, language=language, context=with_changes(template, **{key: phone})))
        assert phone in text
        assert dials in Page(html).hrefs, template


@every_language
def test_a_web_lead_without_company_phone_or_message_leaves_them_out(language: str) -> None:
    lead = {**catalog.SAMPLES["new_web_lead"]["lead"], "company": None}
    context = with_changes("new_web_lead", lead=lead, email=None, phone=None, message="")
    text, html = bodies(send("new_web_lead", language=language, context=context))
    assert not any(h.startswith(("mailto:", "tel:")) for h in Page(html).hrefs)
    assert {"en": "They left no message.", "zh_Hant": "客戶沒有留言。"}[language] in text
    assert "None" not in text and "None" not in Page(html).text
