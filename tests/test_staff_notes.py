"""The Notes card of record pages through the real app (SQLite and PostgreSQL): a note with a memo reminder on an
invoice, a product, a quote and a lead, read in the writer's time zone; nothing for whoever does not see the
record; errors beside their fields with nothing written; who deletes a note; My day's link to the note's record;
and a memo written on a quote's page emailed by the reminders job when its time comes.

Pages are parsed (`tests/staff_support.py`); what a request did is read back from the database.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.models import Lead, Note, User, utcnow
from crm_store.pipeline import activities
from crm_store.sales import documents

from .sales_support import Shop, make_shop, two_lines
from .staff_support import Page
from .test_reminders import delivered, mails, run, text_of
from .test_staff_records import Crew, make_crew, record_of, signed_in

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
HOST = "crm.goodfortune.example"


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; a manager; rep (the manager's report, in Taipei's zone); rep_b; rep_c on their own."""
    made = make_crew(session)
    session.get_one(User, made.ids["rep"]).time_zone = "Asia/Taipei"
    session.commit()
    return made


@pytest.fixture
def shop(session: Session, crew: Crew) -> Shop:
    """The sales tests' shop; its account is the rep's."""
    made = make_shop(session)
    made.account.owner_id = crew.ids["rep"]
    session.commit()
    return made


def document_of(session: Session, crew: Crew, shop: Shop, module: str, who: str = "rep") -> str:
    """A quote or an invoice of the shop's two lines owned by `who`; its number."""
    values: dict[str, Any] = {"subject": "Widgets for Taipei 台北", "account_id": shop.account.id,
                              "owner_id": crew.ids[who]}
    if module == "invoices":
        values["invoice_date"] = dt.date(2026, 3, 2)
    saved = documents.create(session, module, values, two_lines(shop), Actor.user(crew.ids[who]))
    number = str(getattr(saved.document, "quote_no" if module == "quotes" else "invoice_no"))
    session.commit()
    return number


def notes_of(session: Session) -> list[tuple[str, int | None, dt.datetime | None, dt.datetime | None]]:
    """Every note (deleted ones too): its text, author, remind-at (UTC) and when it was deleted."""
    found = [(n.body, n.author_id, n.remind_at and n.remind_at.astimezone(dt.UTC), n.deleted_at)
             for n in session.scalars(select(Note).order_by(Note.id))]
    session.rollback()
    return found


def tomorrow_in_taipei(at: dt.time) -> tuple[dt.datetime, dict[str, str]]:
    """Tomorrow at `at` in Taipei, and the form's fields that mean it."""
    day = dt.datetime.now(TAIPEI).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, at, TAIPEI), {"note_remind_on": day.isoformat(),
                                                  "note_remind_time": at.strftime("%H:%M")}


def shown(moment: dt.datetime, language: str = "en", width: languages.Width = "short") -> str:
    """A moment as the rep's pages show it, in Taipei's zone (its spaces squeezed, as `Element.text` reads)."""
    return " ".join(languages.format_datetime(moment, language, TAIPEI, width).split())


def card(page: Page) -> Any:
    return page.by_id("notes")


def items(page: Page) -> list[Any]:
    return card(page).all("li")


def test_a_rep_writes_a_memo_on_an_invoice_and_sees_it_with_its_reminder(client: Any, session: Session, crew: Crew,
                                                                          shop: Shop) -> None:
    number = document_of(session, crew, shop, "invoices")
    rep = signed_in(client, crew, "rep")
    page = rep.get(f"/invoices/{number}")
    assert card(page).find("h2").text == "Notes" and not items(page)
    form = card(page).find("form")
    assert form.attrs["action"] == f"/invoices/{number}/notes#notes" and form.attrs["method"] == "post"
    assert "Asia/Taipei" in card(page).find(id="note-remind-hint").text  # the reminder is read in the rep's zone

    remind_at, when_fields = tomorrow_in_taipei(dt.time(9, 30))
    body = "Call about the payment\n<b>second</b> line"
    rep.post(f"/invoices/{number}/notes", {"note_body": body, **when_fields})
    assert rep.status == 303 and rep.location == f"/invoices/{number}#notes"
    [(stored, author, at, deleted)] = notes_of(session)
    assert (stored, author, at, deleted) == (body, crew.ids["rep"], remind_at.astimezone(dt.UTC), None)

    page = rep.get(f"/invoices/{number}")
    assert page.flashes() == [f"Your note is saved. You will be reminded on {shown(remind_at, width='medium')}."]
    [item] = items(page)
    assert item.find("p", class_="timeline__detail").text == "Call about the payment <b>second</b> line"
    raw = rep.response.get_data(as_text=True)
    assert "Call about the payment\n&lt;b&gt;second&lt;/b&gt; line" in raw  # escaped, its line break kept
    assert item.find("span", class_="badge").text == f"Reminder set for {shown(remind_at)}"
    assert "Rep A" in item.text
    assert item.find("form").attrs["action"].endswith("/delete")  # the author deletes their own


def test_a_memo_on_a_product_is_on_its_page_and_my_day_links_to_it(client: Any, session: Session, crew: Crew,
                                                                   shop: Shop) -> None:
    product = shop.widget.product_no
    rep = signed_in(client, crew, "rep")
    remind_at, when_fields = tomorrow_in_taipei(dt.time(8, 0))
    rep.get(f"/products/{product}")
    rep.post(f"/products/{product}/notes", {"note_body": "Ask the supplier about the new model", **when_fields})
    assert rep.status == 303 and rep.location == f"/products/{product}#notes"
    [item] = items(rep.get(f"/products/{product}"))
    assert item.find("p", class_="timeline__detail").text == "Ask the supplier about the new model"
    assert item.find("span", class_="badge").text == f"Reminder set for {shown(remind_at)}"

    invoice = document_of(session, crew, shop, "invoices")
    rep.get(f"/invoices/{invoice}")
    rep.post(f"/invoices/{invoice}/notes", {"note_body": "Invoice memo\nsecond line", **when_fields})
    assert rep.status == 303
    session.execute(update(Note).values(remind_at=utcnow() - dt.timedelta(minutes=1)))  # due now: on My day
    session.commit()
    reminders = rep.get("/").find("section", **{"aria-labelledby": "reminders-title"})
    links = {a.text: a.attrs["href"] for a in reminders.all("a")}
    assert links == {"Widget 小工具": f"/products/{product}", "Widgets for Taipei 台北": f"/invoices/{invoice}"}
    for href in links.values():
        page = rep.get(href)
        assert rep.status == 200 and len(items(page)) == 1


def test_nothing_for_whoever_does_not_see_the_record(app: Any, client: Any, session: Session, crew: Crew,
                                                     shop: Shop) -> None:
    invoice = document_of(session, crew, shop, "invoices")
    quote = document_of(session, crew, shop, "quotes")
    lead = record_of(session, crew, "leads", "rep", "Lin")
    gadget = shop.gadget.product_no
    activities.add_note(session, "Private memo", Actor.user(crew.ids["rep"]), lead_id=_lead_id(session, lead))
    session.commit()
    other = signed_in(client, crew, "rep_c")
    other.get("/")
    for path in (f"/invoices/{invoice}", f"/quotes/{quote}", f"/leads/{lead}"):
        assert other.client.get(path).status_code == 404
        other.post(f"{path}/notes", {"note_body": "Sneaky"})
        assert other.status == 404, path
    for path in ("/price-books/PB1/notes", "/campaigns/CAM1/notes", "/users/1/notes", "/invoices/INV999/notes"):
        other.post(path, {"note_body": "Nowhere"})
        assert other.status == 404, path
    assert [n[0] for n in notes_of(session)] == ["Private memo"]

    boss = signed_in(app.test_client(), crew, "manager")  # the rep's manager sees the rep's records, and notes
    [item] = items(boss.get(f"/leads/{lead}"))
    assert item.find("p", class_="timeline__detail").text == "Private memo"
    other.post(f"/products/{gadget}/notes", {"note_body": "Everyone sees the catalogue"})
    assert other.status == 303
    signed_out = app.test_client()
    assert signed_out.post(f"/quotes/{quote}/notes", data={"note_body": "x"}).status_code in (302, 400)


def _lead_id(session: Session, number: str) -> int:
    return int(session.scalars(select(Lead.id).where(Lead.lead_no == number)).one())


@pytest.mark.parametrize(("fields", "field", "error"), [
    ({"note_body": "  \n "}, "note_body", "Write the note."),
    ({"note_body": "x" * 5001}, "note_body", "Use at most 5000 characters."),
    ({"note_remind_on": "2020-01-01", "note_remind_time": "09:00"}, "note_remind_on",
     "The reminder must be in the future."),
    ({"note_remind_on": "2026-13-45", "note_remind_time": "09:00"}, "note_remind_on", "Enter a date like 2026-03-14."),
    ({"note_remind_on": "2030-01-02", "note_remind_time": "25:99"}, "note_remind_time", "Enter a time like 14:30."),
    ({"note_remind_on": "2030-01-02", "note_remind_time": ""}, "note_remind_time",
     "Pick the time to be reminded at, or clear the date."),
    ({"note_remind_on": "", "note_remind_time": "09:00"}, "note_remind_on",
     "Pick the day to be reminded on, or clear the time."),
])
def test_bad_input_is_refused_beside_its_field_with_nothing_written(client: Any, session: Session, crew: Crew,
                                                                    shop: Shop, fields: dict[str, str], field: str,
                                                                    error: str) -> None:
    quote = document_of(session, crew, shop, "quotes")
    rep = signed_in(client, crew, "rep")
    rep.get(f"/quotes/{quote}")
    page = rep.post(f"/quotes/{quote}/notes", {"note_body": "Keep this text", **fields})
    assert rep.status == 422
    assert page.find("h1").text == "Widgets for Taipei 台北"  # the quote's page again
    assert page.field_error(field) == error
    assert page.by_id(field).attrs["aria-invalid"] == "true"
    if field != "note_body":
        assert page.by_id("note_body").text == "Keep this text"  # what was typed stays
    assert notes_of(session) == []


def test_bad_input_on_a_product_and_a_lead_is_their_page_again(client: Any, session: Session, crew: Crew,
                                                               shop: Shop) -> None:
    lead = record_of(session, crew, "leads", "rep", "Lin")
    rep = signed_in(client, crew, "rep")
    for path, title in ((f"/products/{shop.widget.product_no}", "Widget 小工具"), (f"/leads/{lead}", "Lin")):
        rep.get(path)
        page = rep.post(f"{path}/notes", {"note_body": ""})
        assert (rep.status, page.find("h1").text, page.field_error("note_body")) == (422, title, "Write the note.")
    rep.get(f"/leads/{lead}")
    rep.post(f"/leads/{lead}/notes", {"note_body": "no token"}, csrf=False)
    assert rep.status == 400
    assert notes_of(session) == []


def test_who_deletes_a_note(app: Any, client: Any, session: Session, crew: Crew) -> None:
    lead = record_of(session, crew, "leads", "rep", "Lin")
    lead_id = _lead_id(session, lead)
    mine = activities.add_note(session, "Rep's own", Actor.user(crew.ids["rep"]), lead_id=lead_id).id
    bosses = activities.add_note(session, "The manager's", Actor.user(crew.ids["manager"]), lead_id=lead_id).id
    session.commit()
    rep = signed_in(client, crew, "rep")
    page = rep.get(f"/leads/{lead}")
    deletes = {li.attrs["id"]: bool(li.all("form")) for li in items(page)}
    assert deletes == {f"note-{bosses}": False, f"note-{mine}": True}  # newest first; only their own

    rep.post(f"/notes/{bosses}/delete")
    assert rep.status == 403
    other = signed_in(app.test_client(), crew, "rep_c")
    other.get("/")
    other.post(f"/notes/{mine}/delete")
    assert other.status == 404  # a note on a record they do not see
    other.post("/notes/999999/delete")
    assert other.status == 404
    assert [n[3] for n in notes_of(session)] == [None, None]

    rep.get(f"/leads/{lead}")
    rep.post(f"/notes/{mine}/delete")
    assert rep.status == 303 and rep.location == f"/leads/{lead}#notes"
    boss = signed_in(app.test_client(), crew, "manager")
    boss.get(f"/leads/{lead}")
    boss.post(f"/notes/{bosses}/delete")
    assert boss.status == 303
    assert [n[3] is not None for n in notes_of(session)] == [True, True]
    assert items(rep.get(f"/leads/{lead}")) == []
    rep.post(f"/notes/{mine}/delete")
    assert rep.status == 404  # already deleted


def test_the_card_in_traditional_chinese(client: Any, session: Session, crew: Crew, shop: Shop) -> None:
    session.get_one(User, crew.ids["rep"]).language = "zh_Hant"
    session.commit()
    quote = document_of(session, crew, shop, "quotes")
    rep = signed_in(client, crew, "rep")
    remind_at, when_fields = tomorrow_in_taipei(dt.time(14, 0))
    rep.get(f"/quotes/{quote}")
    rep.post(f"/quotes/{quote}/notes", {"note_body": "報價有效期限要確認", **when_fields})
    page = rep.get(f"/quotes/{quote}")
    assert card(page).find("h2").text.startswith("備忘錄")
    assert card(page).find("button", type="submit").text == "新增備忘"
    assert items(page)[0].find("span", class_="badge").text == f"提醒時間：{shown(remind_at, 'zh_Hant')}"
    page = rep.post(f"/quotes/{quote}/notes", {"note_body": ""})
    assert page.field_error("note_body") == "請寫下備忘內容。"


def test_a_memo_written_on_a_quote_s_page_is_emailed_when_due(client: Any, session: Session, engine: Engine,
                                                              env: dict[str, str], crew: Crew, shop: Shop,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_BASE_URL", f"https://{HOST}")
    quote = document_of(session, crew, shop, "quotes")
    rep = signed_in(client, crew, "rep")
    remind_at, when_fields = tomorrow_in_taipei(dt.time(10, 15))
    rep.get(f"/quotes/{quote}")
    rep.post(f"/quotes/{quote}/notes", {"note_body": "Ask if the discount works for them\n確認折扣", **when_fields})
    assert rep.status == 303

    assert run(session, engine, remind_at - dt.timedelta(minutes=1))["memos"] == 0
    assert run(session, engine, remind_at)["memos"] == 1
    (row,) = mails(session, "memo_reminder")
    assert (row.recipient, row.context["note"]) == ("a@example.com", "Ask if the discount works for them\n確認折扣")
    assert row.context["related"] == {"module": "quotes", "number": quote, "name": "Widgets for Taipei 台北"}
    assert run(session, engine, remind_at + dt.timedelta(hours=1))["memos"] == 0  # once
    (message,) = delivered(session, env, "memo_reminder")
    assert message["To"] == "Rep A <a@example.com>"
    assert "確認折扣" in text_of(message) and f"https://{HOST}/quotes/{quote}" in text_of(message)

    [item] = items(rep.get(f"/quotes/{quote}"))  # the page says it was sent
    assert item.find("span", class_="badge").text == "Reminded"


def test_the_author_edits_a_note_and_a_new_reminder_time_is_reminded_anew(app: Any, client: Any, session: Session,
                                                                         crew: Crew) -> None:
    lead = record_of(session, crew, "leads", "rep", "Lin")
    sent_at = dt.datetime(2026, 1, 5, 1, 30, tzinfo=dt.UTC)  # 09:30 in Taipei, long past
    note = activities.add_note(session, "Old text", Actor.user(crew.ids["rep"]), lead_id=_lead_id(session, lead),
                               remind_at=sent_at)
    note.reminded_at = sent_at
    note_id = note.id
    session.commit()
    rep = signed_in(client, crew, "rep")
    [item] = items(rep.get(f"/leads/{lead}"))
    assert item.find("a", class_="btn").attrs["href"] == f"/notes/{note_id}/edit"
    page = rep.get(f"/notes/{note_id}/edit")
    assert rep.status == 200 and page.find("h1").text == "Edit note"
    assert page.by_id("note_body").text == "Old text"
    assert (page.by_id("note_remind_on").attrs["value"], page.by_id("note_remind_time").attrs["value"]) == (
        "2026-01-05", "09:30")  # in the rep's zone

    rep.post(f"/notes/{note_id}/edit", {"note_body": "New text\nline two", "note_remind_on": "2026-01-05",
                                        "note_remind_time": "09:30"})  # the past reminder kept as it was
    assert rep.status == 303 and rep.location == f"/leads/{lead}#notes"
    session.expire_all()
    stored = session.get_one(Note, note_id)
    assert (stored.body, stored.remind_at, stored.reminded_at) == ("New text\nline two", sent_at, sent_at)
    session.rollback()

    page = rep.post(f"/notes/{note_id}/edit", {"note_body": "x", "note_remind_on": "2026-01-04",
                                               "note_remind_time": "09:30"})
    assert (rep.status, page.field_error("note_remind_on")) == (422, "The reminder must be in the future.")
    page = rep.post(f"/notes/{note_id}/edit", {"note_body": " "})
    assert (rep.status, page.field_error("note_body")) == (422, "Write the note.")
    remind_at, when_fields = tomorrow_in_taipei(dt.time(11, 0))
    rep.post(f"/notes/{note_id}/edit", {"note_body": "Newer", **when_fields})
    assert rep.status == 303
    session.expire_all()
    stored = session.get_one(Note, note_id)
    assert (stored.body, stored.remind_at, stored.reminded_at) == ("Newer", remind_at, None)  # to be reminded
    session.rollback()

    boss = signed_in(app.test_client(), crew, "manager")  # sees the note, deletes it, but does not rewrite it
    boss.get(f"/notes/{note_id}/edit")
    assert boss.status == 403
    other = signed_in(app.test_client(), crew, "rep_c")
    other.get(f"/notes/{note_id}/edit")
    assert other.status == 404
    other.post(f"/notes/{note_id}/edit", {"note_body": "Hijack"})
    assert other.status == 404
    assert notes_of(session)[0][0] == "Newer"
