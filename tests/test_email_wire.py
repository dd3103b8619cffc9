"""The worker's fast MIME layout carries exactly what `render()` shows a person."""

from __future__ import annotations

import email
import email.policy

import pytest

from emails.catalog import SAMPLE_ATTACHMENTS, SAMPLES
from emails.render import KNOWN_TEMPLATES, MessageArgs, render
from emails.wire import render_wire


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
@pytest.mark.parametrize("template", KNOWN_TEMPLATES)
def test_wire_bytes_match_the_rendered_message(template: str, language: str) -> None:
    kwargs: MessageArgs = {
        "language": language, "context": SAMPLES[template], "sender": "Leadline 業務部 <sales@example.com>",
        "recipient": "王小明 <ming@example.com>", "message_id": "<m1@crm.example.com>",
        "base_url": "https://crm.example.com", "company_name": "好運貿易股份有限公司",
        "attachments": SAMPLE_ATTACHMENTS.get(template, ()), "headers": {"Reply-To": "業務 <sales@example.com>"},
    }
    expected = render(template, **kwargs)
    wire = render_wire(template, **kwargs)
    got = email.message_from_bytes(wire.data, policy=email.policy.default)
    assert wire.data.isascii()  # 7-bit on the wire: any relay takes it
    assert (wire.sender, wire.recipient) == ("sales@example.com", "ming@example.com")
    for header in ("From", "To", "Subject", "Message-ID", "Content-Language", "Auto-Submitted", "Reply-To"):
        assert str(got[header]) == str(expected[header]), header
    assert got.get_content_type() == expected.get_content_type()
    for kind in ("plain", "html"):
        assert got.get_body((kind,)).get_content() == expected.get_body((kind,)).get_content()
    assert [(p.get_filename(), p.get_content_type(), p.get_content()) for p in got.iter_attachments()] == [
        (p.get_filename(), p.get_content_type(), p.get_content()) for p in expected.iter_attachments()
    ]
    def layout(message: email.message.EmailMessage) -> list[tuple[str, str | None]]:
        return [(p.get_content_type(), p.get("Content-ID")) for p in message.walk()]

    assert layout(got) == layout(expected)  # the same tree: mixed / alternative / related / parts
