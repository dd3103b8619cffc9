"""What a new web lead looks like: its status, the owner's notice, and the visitor's auto-reply with its Reply-To.

Submissions go through the web app (`client`); the notices are read back from the outbox and, delivered by the
mail worker to .eml files, parsed as a mail program would. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import uuid
from email.message import EmailMessage
from email.utils import parseaddr
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.config import load_config
from crm_store.errors import ValidationError
from crm_store.mail import outbox
from crm_store.models import Lead, OutboxMessage, User, WebForm, utcnow
from crm_store.records import lifecycle as records
from crm_store.records.names import display_name
from crm_store.search.terms import person_name
from crm_store.settings import company
from emails.worker import send_all_due

# -- helpers -----------------------------------------------------------------------------------------------


def submit(client: Any, app: Any, form: WebForm, **values: Any) -> None:
    """Post one good submission to `form` through the JSON API (a fresh render token and submission id)."""
    from webform.public.spam import render_token

    data = {
        "first_name": "Mei", "last_name": "Lin", "email": "mei@example.com", "phone": "0912-345-678",
        "company": "Acme Ltd", "message": "Please call me about pricing.", **values,
        "_submission": uuid.uuid4().hex,
        "_token": render_token(app.extensions["leadline"].config.secret_key, form.public_id),
    }
    response = client.post(f"/api/forms/{form.public_id}/submissions", json=data)
    assert response.status_code == 201, response.get_json()


def queued(session: Session, template: str) -> OutboxMessage:
    """The one queued message of a template, read and detached (the read transaction ends here)."""
    found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))
    session.expunge_all()
    session.rollback()  # on SQLite an open read would hold up the app's and the worker's writes
    assert len(found) == 1, [m.template for m in found]
    return found[0]


def the_lead(session: Session) -> Lead:
    (lead,) = session.scalars(select(Lead))
    session.expunge_all()
    session.rollback()
    return lead


def delivered(env: dict[str, str], template: str) -> tuple[EmailMessage, bytes]:
    """Deliver what is due to .eml files (no relay is set) and parse the one message of a template."""
    assert send_all_due(load_config())["failed"] == 0
    (path,) = Path(env["CRM_DATA_DIR"], "outbox").glob(f"*-{template}.eml")
    raw = path.read_bytes()
    return email.message_from_bytes(raw, policy=email.policy.default), raw  # type: ignore[return-value]  # default policy


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


class Page(HTMLParser):
    """The visible text and the link targets of an HTML body."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        if self._href:
            self.links[data] = self._href

    @property
    def text(self) -> str:
        return "\n".join(self.chunks)


def set_settings(session: Session, **values: str) -> None:
    for key, value in values.items():
        company.set_value(session, key, value)
    session.commit()


def rename(session: Session, user: User, name: str, language: str = "en") -> None:
    row = session.get(User, user.id)
    assert row is not None
    row.name, row.language = name, language
    session.commit()


# -- the lead's status ------------------------------------------------------------------------------------


def test_a_web_lead_is_not_contacted(client, app, session, web_form) -> None:
    submit(client, app, web_form)
    assert the_lead(session).status == "Not Contacted"


def test_a_forms_hidden_status_wins(client, app, session, reps) -> None:
    form = webforms.add_form(session, {
        "name": "Hot leads", "owner": reps[0].email, "hidden": {"status": "Hot"}, "allowed_origins": [],
    })
    session.commit()
    submit(client, app, form)
    assert the_lead(session).status == "Hot"


# -- the owner's notice -----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_the_owner_is_told_who_wrote_how_to_reach_them_and_what_they_wrote(
    client, app, session, env, web_form, reps, language
) -> None:
    rename(session, reps[0], "林怡君", language)
    submit(client, app, web_form, first_name="美玲", last_name="林", company="晨光文具有限公司",
           email="meiling@example.com", phone="0912-345-678", message="想訂 2,000 本筆記本。\n四月中前能交貨嗎？")
    lead = the_lead(session)
    notice = queued(session, "new_web_lead")
    assert (notice.recipient, notice.language, notice.to_staff) == (reps[0].email, language, True)
    assert notice.context == {
        "recipient_name": "林怡君",
        "lead": {"number": lead.lead_no, "name": "林美玲", "company": "晨光文具有限公司"},
        "email": "meiling@example.com",
        "phone": "0912 345 678",
        "message": "想訂 2,000 本筆記本。\n四月中前能交貨嗎？",
        "form_name": "Website inquiry",
        "received_at": notice.context["received_at"],
    }
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} \S+", notice.context["received_at"])

    msg, _ = delivered(env, "new_web_lead")
    assert "林美玲" in str(msg["Subject"]) and lead.lead_no in str(msg["Subject"])
    text, html = bodies(msg)
    page = Page(html)
    for shown in ("林美玲", "晨光文具有限公司", "meiling@example.com", "0912 345 678", "想訂 2,000 本筆記本。",
                  "四月中前能交貨嗎？", "Website inquiry", notice.context["received_at"]):
        assert shown in text and shown in page.text, shown
    assert "美玲 林" not in text + page.text
    assert "想訂 2,000 本筆記本。\n四月中前能交貨嗎？" in page.text  # the line break is kept
    assert page.links["meiling@example.com"] == "mailto:meiling@example.com"
    assert page.links["0912 345 678"] == "tel:0912345678"
    assert f"http://127.0.0.1:8000/leads/{lead.lead_no}" in text
    assert f"http://127.0.0.1:8000/leads/{lead.lead_no}" in page.links.values()
    assert ("New web lead" in str(msg["Subject"])) == (language == "en")  # in the owner's language
    assert ("有訪客填寫了網站表單" in text) == (language == "zh_Hant")


def test_an_english_name_keeps_its_order_and_a_foreign_number_its_country(client, app, session, web_form) -> None:
    submit(client, app, web_form, first_name="Mei", last_name="Lin", phone="+81 3-1234-5678", company="",
           message="")
    context = queued(session, "new_web_lead").context
    assert context["lead"] == {"number": the_lead(session).lead_no, "name": "Mei Lin", "company": None}
    assert context["phone"] == "+81 3-1234-5678" and context["message"] == ""


def test_the_rep_gets_the_notice_in_round_robin_turn(client, app, session, web_form, reps) -> None:
    for n in range(4):
        submit(client, app, web_form, email=f"visitor{n}@example.com")
    found = [m.recipient for m in session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "new_web_lead").order_by(OutboxMessage.id)
    )]
    session.rollback()
    assert found == [r.email for r in reps] + [reps[0].email]
    assert list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.template == "leads_assigned"))) == []


def test_an_inquiry_on_a_known_lead_shows_the_phone_and_the_name_in_order(
    client, app, session, env, web_form, reps
) -> None:
    lead = records.create(session, "leads", {
        "first_name": "美玲", "last_name": "林", "email": "meiling@example.com", "owner_id": reps[1].id,
    })
    session.commit()
    number = lead.lead_no
    submit(client, app, web_form, email="meiling@example.com", phone="02 2345 6789", message="再請教一次報價。")
    notice = queued(session, "new_inquiry")
    assert notice.recipient == reps[1].email
    assert notice.context["record"] == {"module": "leads", "number": number, "name": "林美玲", "company": None}
    assert notice.context["contact_phone"] == "02 2345 6789"
    text, html = bodies(delivered(env, "new_inquiry")[0])
    assert "林美玲" in text and "美玲 林" not in text and "02 2345 6789" in text
    assert Page(html).links["02 2345 6789"] == "tel:0223456789"


def test_an_inquiry_without_a_phone_says_nothing_of_one(client, app, session, env, web_form, reps) -> None:
    records.create(session, "leads", {"last_name": "Wang", "email": "wang@example.com", "owner_id": reps[1].id})
    session.commit()
    submit(client, app, web_form, email="wang@example.com", phone="")
    assert queued(session, "new_inquiry").context["contact_phone"] is None
    text, html = bodies(delivered(env, "new_inquiry")[0])
    assert "Phone" not in text and not any(h.startswith("tel:") for h in Page(html).links.values())


# -- the visitor's auto-reply -----------------------------------------------------------------------------


def test_the_auto_reply_answers_to_the_owner_and_is_signed_by_the_company(
    client, app, session, env, web_form, reps
) -> None:
    rename(session, reps[0], "林怡君")
    set_settings(session, company_name="好運貿易股份有限公司", company_phone="(02) 2345-6789 分機 12",
                 company_email="service@goodfortune.example", company_address="台北市大安區敦化南路二段 99 號 8 樓")
    submit(client, app, web_form, first_name="美玲", last_name="林", email="meiling@example.com")
    reply = queued(session, "visitor_auto_reply")
    assert reply.reply_to == f"林怡君 <{reps[0].email}>"
    assert reply.recipient_name == "林美玲" and reply.context["visitor_name"] == "林美玲"

    msg, raw = delivered(env, "visitor_auto_reply")
    (answer_to,) = msg["Reply-To"].addresses
    assert (answer_to.display_name, answer_to.addr_spec) == ("林怡君", reps[0].email)
    assert msg["From"].addresses[0].addr_spec == parseaddr(load_config().mail_from)[1]  # CRM_MAIL_FROM, as before
    headers = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert headers.isascii() and b"Reply-To: =?utf-8?" in headers  # the Chinese name as an encoded word
    text, html = bodies(msg)
    for shown in ("好運貿易股份有限公司", "(02) 2345-6789 分機 12", "service@goodfortune.example",
                  "台北市大安區敦化南路二段 99 號 8 樓"):
        assert shown in text and shown in Page(html).text, shown
    assert not Page(html).links  # no link into the CRM, nor any other, for a visitor


def test_the_auto_reply_answers_to_the_company_when_nobody_owns_the_lead(
    client, app, session, env, web_form, reps
) -> None:
    for rep in reps:
        row = session.get(User, rep.id)
        assert row is not None
        row.out_of_office_from = utcnow() - dt.timedelta(minutes=5)
    session.commit()
    set_settings(session, company_email="service@goodfortune.example")
    submit(client, app, web_form)
    assert the_lead(session).owner_id is None
    msg, _ = delivered(env, "visitor_auto_reply")
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["service@goodfortune.example"]


def test_without_owner_or_company_email_the_auto_reply_has_no_reply_to(
    client, app, session, env, web_form, reps
) -> None:
    for rep in reps:
        row = session.get(User, rep.id)
        assert row is not None
        row.active = False
    session.commit()
    submit(client, app, web_form)
    assert queued(session, "visitor_auto_reply").reply_to is None
    msg, _ = delivered(env, "visitor_auto_reply")
    assert msg["Reply-To"] is None
    assert "Phone" not in bodies(msg)[0]  # no company phone is set: the signature stays empty


# -- the outbox's reply_to ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("rep@example.com", "rep@example.com"),
        ("林怡君 <Yijun@Example.COM>", "林怡君 <Yijun@example.com>"),
        ('"Wu, Kevin" <kevin@example.com>', '"Wu, Kevin" <kevin@example.com>'),
        ("長" * 300 + " <rep@example.com>", "長" * 235 + "… <rep@example.com>"),
    ],
)
def test_reply_to_is_stored_as_one_checked_mailbox(session: Session, given: str, stored: str) -> None:
    outbox.enqueue(session, "test_message", "amy@example.com", key="k", reply_to=given)
    assert session.scalar(select(OutboxMessage.reply_to)) == stored
    assert len(stored) <= 254


@pytest.mark.parametrize(
    "given", ["not an address", "a@example.com, b@example.com", "Amy <amy@example.com>\r\nBcc: x@example.com"]
)
def test_a_bad_reply_to_is_refused(session: Session, given: str) -> None:
    with pytest.raises(ValidationError) as err:
        outbox.enqueue(session, "test_message", "amy@example.com", key="k", reply_to=given)
    assert err.value.field == "reply_to"


# -- names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [("美玲", "林", "林美玲"), ("Mei", "Lin", "Mei Lin"), (None, "林", "林"), ("", "Lin", "Lin"),
     (" Mei ", "Lin ", "Mei Lin"), ("美玲", "歐陽", "歐陽美玲")],
)
def test_names_are_written_as_people_write_them(first: str | None, last: str, shown: str) -> None:
    assert display_name(first, last) == shown
    assert person_name(first, last)[0] == shown


def test_search_still_finds_an_english_name_in_both_orders() -> None:
    assert person_name("Mei", "Lin") == ("Mei Lin", ["Mei Lin", "Lin Mei"])
    assert person_name("美玲", "林") == ("林美玲", ["林美玲"])


# -- the demo -----------------------------------------------------------------------------------------------


def test_crm_demo_gives_the_company_taiwanese_contact_details(crm, session: Session) -> None:  # noqa: ANN001
    crm("demo")
    values = company.all_settings(session)
    assert values["company_email"] == "service@example.com"  # the demo's domain: mail to it goes nowhere
    assert values["company_phone"].startswith("(02) ")  # a Taipei number
    assert values["company_address"].startswith("106 臺北市")
    tax_id = values["company_tax_id"]  # a 統一編號: eight digits whose check digit holds
    weights = (1, 2, 1, 2, 1, 2, 4, 1)
    assert len(tax_id) == 8 and sum(sum(divmod(int(d) * w, 10)) for d, w in zip(tax_id, weights, strict=True)) % 5 == 0
    for key in ("company_email", "company_phone", "company_address", "company_tax_id"):
        assert company.set_value(session, key, values[key]) == values[key]  # each passes its own checks
    session.rollback()


@pytest.mark.parametrize(
    ("typed", "shown"),
    [("0912-345-678", "0912 345 678"), ("(02)2345-6789", "02 2345 6789"), ("+886 2 2345 6789", "02 2345 6789"),
     ("+81 3 1234 5678", "+81 3-1234-5678"), ("02-2345-6789 #12", "02 2345 6789 ext. 12"), ("call me", "call me")],
)
def test_a_phone_number_is_shown_to_read_and_dial(typed: str, shown: str) -> None:
    from crm_store.capture.notices import shown_phone

    assert shown_phone(typed, "TW") == shown
