"""Web forms and the quarantine (admins): counts, the embed snippet, why each submission was held, release
(the lead it made, linked) and discard, paging, escaping, and everyone else refused.

The real app on a migrated database (SQLite and PostgreSQL) through Flask's test client; pages are parsed
(`tests/staff_support.py`). Submissions are quarantined as the public API does it (a filled honeypot) or stored
with a reason as the spam checks and the intake write it (`capture.receive`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.capture import submissions as capture
from crm_store.config import load_config
from crm_store.models import Lead, WebForm, WebSubmission, utcnow
from crm_store.records import lifecycle as records

from .staff_support import Page, Staff
from .test_staff_records import Crew, make_crew, signed_in

NOW = utcnow().replace(microsecond=0)


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; a manager; rep (rep_a, in the team North with rep_b); rep_c."""
    return make_crew(session)


@pytest.fixture
def admin(client: Any, crew: Crew) -> Staff:
    return signed_in(client, crew, "admin")


@pytest.fixture
def trade_show(session: Session, crew: Crew) -> WebForm:
    """A second form, its leads shared out by the team North, disabled."""
    form = webforms.add_form(session, {"name": "Trade show", "team": "North", "language": "zh_Hant"})
    webforms.disable_form(session, form)
    session.commit()
    return form


def hold(session: Session, form: WebForm, reason: str | None, *, at: dt.datetime | None = None,
         first: str = "Mei", last: str = "Chen", email: str | None = None, message: str | None = None) -> str:
    """Store a submission of `form`: held for `reason` (None: it goes through and makes a lead). Its public id."""
    email = email or f"{uuid.uuid4().hex[:8]}@x.test"
    values: dict[str, Any] = {"first_name": first, "last_name": last, "email": email}
    if message:
        values["message"] = message
    receipt = capture.receive(session, capture.Inbound(
        form=session.get_one(WebForm, form.id), client_key=uuid.uuid4().hex, raw=dict(values), values=values,
        spam_reason=reason,
    ), at=at or NOW)
    session.commit()
    return receipt.public_id


def outcome(session: Session, public_id: str) -> Any:
    """A submission's outcome, reason and lead as stored now (plain values: the test's transaction is ended, as
    SQLite's writers wait on it, and reading them later opens none)."""
    row = session.execute(select(WebSubmission.outcome, WebSubmission.spam_reason, WebSubmission.lead_id)
                          .where(WebSubmission.public_id == public_id)).one()
    session.rollback()
    return row


def rows(page: Page) -> dict[str, Any]:
    """The quarantine's rows by the submission's public id (its row id is `held-<public id>`)."""
    return {r.attrs["id"].removeprefix("held-"): r for r in page.find("tbody").all("tr")}


def api(client: Any, form: WebForm, **values: Any) -> str:
    """Post a submission to the public JSON API (no render token: the admin's test client is no browser)."""
    data = {"first_name": "Mei", "last_name": "Chen", "email": "mei@example.com", "_submission": uuid.uuid4().hex,
            **values}
    response = client.post(f"/api/forms/{form.public_id}/submissions", json=data)
    assert response.status_code == 201
    return str(response.get_json()["submission"])


# -- who may see them ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "rep"])
def test_everyone_but_an_admin_is_refused(client: Any, session: Session, crew: Crew, web_form: WebForm,
                                          role: str) -> None:
    held = hold(session, web_form, "honeypot filled in")
    staff = Staff(client)
    staff.get("/admin/quarantine")
    assert staff.status == 302 and staff.location == "/auth/sign-in?next=/admin/quarantine"

    staff = signed_in(client, crew, role)
    for path in ("/admin/forms", f"/admin/forms/{web_form.public_id}", "/admin/forms/no-such-form",
                 "/admin/quarantine"):
        page = staff.get(path)
        assert staff.status == 403, path
        assert page.find("h1").text == "Not allowed"
        assert "Quarantine" not in page.find("nav", class_="mainnav").text
    staff.get("/")
    for action in ("release", "discard"):
        staff.post(f"/admin/quarantine/{held}/{action}")
        assert staff.status == 403
    assert outcome(session, held).outcome == "quarantined"


def test_the_admin_finds_both_pages_under_more(admin: Staff) -> None:
    page = admin.get("/admin/quarantine")
    more = page.find("details", class_="morenav")
    assert {a.text: a.attrs["href"] for a in more.all("a")}.items() >= {
        "Web forms": "/admin/forms", "Quarantine": "/admin/quarantine"}.items()
    assert more.find("a", aria_current="page").text == "Quarantine"
    assert page.title == "Quarantine · Leadline"


# -- the forms ----------------------------------------------------------------------------------------------


def test_the_forms_list_counts_what_the_database_holds(admin: Staff, session: Session, web_form: WebForm,
                                                       trade_show: WebForm) -> None:
    for i in range(3):
        hold(session, web_form, None, at=NOW - dt.timedelta(hours=i))
    hold(session, web_form, "honeypot filled in")
    hold(session, web_form, "render token expired", at=NOW - dt.timedelta(days=1))
    discarded = hold(session, trade_show, "render token forged", at=NOW - dt.timedelta(days=3))
    hold(session, trade_show, "honeypot filled in", at=NOW - dt.timedelta(days=2))
    admin.get("/admin/quarantine")
    admin.post(f"/admin/quarantine/{discarded}/discard", {"next": "/admin/quarantine"})
    assert admin.status == 303

    page = admin.get("/admin/forms")
    assert admin.status == 200 and page.find("h1").text == "Web forms"
    shown = {}
    for row in page.find("tbody").all("tr"):
        cells = row.all("td")
        shown[cells[0].text] = (cells[1].text, cells[2].text, *(int(c.text) for c in cells[3:6]))
    expected = {}
    for form in (web_form, trade_show):
        outcomes = list(session.scalars(select(WebSubmission.outcome).where(WebSubmission.form_id == form.id)))
        expected[form.name] = (
            sum(o in ("new_lead", "added_to_lead", "added_to_contact") for o in outcomes),
            outcomes.count("quarantined"), len(outcomes))
    session.rollback()
    assert expected == {"Website inquiry": (3, 2, 5), "Trade show": (0, 1, 2)}
    assert shown == {
        "Website inquiry": ("Live", "Round robin of 3 users", *expected["Website inquiry"]),
        "Trade show": ("Disabled", "Team North", *expected["Trade show"]),
    }
    first = page.find("tbody").all("tr")[1]  # by name: Trade show, then Website inquiry
    assert first.find("a").attrs["href"] == f"/admin/forms/{web_form.public_id}"
    assert first.all("td")[4].find("a").attrs["href"] == f"/admin/quarantine?form={web_form.public_id}"
    assert first.all("td")[6].text  # the last submission's time


def test_a_form_page_shows_its_snippet_to_copy_and_its_definition(admin: Staff, session: Session,
                                                                  web_form: WebForm) -> None:
    hold(session, web_form, "honeypot filled in")
    page = admin.get(f"/admin/forms/{web_form.public_id}")
    assert admin.status == 200 and page.find("h1").text == "Website inquiry"
    base = load_config().base_url
    snippet = page.find("textarea", id="embed-snippet")
    assert snippet.text == webforms.embed_snippet(base, web_form.public_id)
    assert snippet.text == f'<script src="{base}/forms/{web_form.public_id}/embed.js" async></script>'
    assert "readonly" in snippet.attrs and page.find("label", **{"for": "embed-snippet"}).text == "Embed snippet"
    copy = page.find("button", data_copy="embed-snippet")
    assert copy.text == "Copy" and "hidden" in copy.attrs  # shown by intake.js; without it the text is selectable
    assert page.find("script", src="/static/intake.js").attrs.get("defer") is not None
    assert page.find("a", target="_blank").attrs["href"] == f"{base}/forms/{web_form.public_id}"
    fields = [(r.all("td")[0].text, r.all("td")[1].text, r.all("td")[2].text) for r in page.all("tbody")[0].all("tr")]
    assert fields == [("First name", "first_name", "Optional"), ("Last name", "last_name", "Required"),
                      ("Email", "email", "Required"), ("Phone", "phone", "Optional"),
                      ("Company", "company", "Optional"), ("How can we help?", "message", "Optional")]
    assert "http://allowed.test" in page.text and "Round robin of 3 users" in page.text
    assert "Rep 1, Rep 2, Rep 3" in page.text
    tiles = {t.find(class_="tile__label").text: t.find(class_="tile__value").text for t in page.all(class_="tile")}
    assert tiles == {"Accepted": "0", "In quarantine": "1", "Total": "1"}
    admin.get("/admin/forms/not-a-form")
    assert admin.status == 404


# -- the quarantine -----------------------------------------------------------------------------------------


def test_the_quarantine_lists_the_held_newest_first_with_why(admin: Staff, client: Any, session: Session,
                                                             web_form: WebForm, trade_show: WebForm) -> None:
    through_api = api(client, web_form, homepage="http://buy-now.example", email="bot@spam.example")
    fast = hold(session, web_form, "filled in 1.2 s (minimum 3 s)", at=NOW - dt.timedelta(hours=1),
                first="美玲", last="林", email="mei@example.tw", message="請報價 " * 60)
    link = hold(session, trade_show, "link or HTML in last_name", at=NOW - dt.timedelta(hours=2))
    broken = hold(session, web_form, "could not be processed: industry: 'Mining' is not one of the choices",
                  at=NOW - dt.timedelta(hours=3))
    hold(session, web_form, None)  # went through: not listed
    odd = hold(session, web_form, "something new", at=NOW - dt.timedelta(hours=4))

    page = admin.get("/admin/quarantine")
    assert list(rows(page)) == [through_api, fast, link, broken, odd]
    assert page.find(id="held-count").text == "5 submissions held"
    reasons = {ref: row.find(class_="held__reason").text for ref, row in rows(page).items()}
    assert reasons == {
        through_api: "Honeypot filled in (a field people never see, which robots fill)",
        fast: "Too fast: filled in 1.2 s (the minimum is 3 s)",
        link: "A link or HTML in the Last name field",
        broken: "Could not be turned into a lead: industry: 'Mining' is not one of the choices",
        odd: "something new",  # a reason this page does not know: as stored
    }
    mei = rows(page)[fast]
    assert mei.find(class_="held__name").text == "林美玲"
    assert mei.find(class_="table__sub").text == "mei@example.tw"
    assert mei.find(class_="held__message").text.endswith("…”")  # the visitor's words, shortened
    assert rows(page)[link].all("td")[3].text == "Trade show"

    page = admin.get(f"/admin/quarantine?form={trade_show.public_id}")
    assert list(rows(page)) == [link] and page.find(id="held-count").text == "1 submission held"
    assert page.find("select", name="form").find("option", selected="").text == "Trade show"

    admin.post("/language", {"language": "zh_Hant", "next": "/admin/quarantine"})
    page = admin.get("/admin/quarantine")
    assert page.find("h1").text == "隔離區"
    assert rows(page)[fast].find(class_="held__reason").text == "填寫太快：1.2 秒就送出（至少需 3 秒）"
    assert rows(page)[link].find(class_="held__reason").text == "「姓氏」欄位含有連結或 HTML"


def test_releasing_makes_the_lead_linked_and_it_leaves_the_list(admin: Staff, client: Any, session: Session,
                                                                web_form: WebForm) -> None:
    held = api(client, web_form, homepage="filled", first_name="Grace", last_name="Lin", email="grace@tea.example")
    again = hold(session, web_form, "render token used before", first="Grace", last="Lin",
                 email="grace@tea.example", at=NOW - dt.timedelta(minutes=5))
    page = admin.get("/admin/quarantine")
    assert set(rows(page)) == {held, again}
    release = rows(page)[held].find("form", action=f"/admin/quarantine/{held}/release")
    assert release.find("input", name="next").attrs["value"] == "/admin/quarantine"

    admin.post(f"/admin/quarantine/{held}/release", {"next": "/admin/quarantine"})
    assert admin.status == 303 and admin.location == "/admin/quarantine"
    session.expire_all()
    lead = session.scalar(select(Lead).where(Lead.email == "grace@tea.example"))
    assert lead is not None and (lead.first_name, lead.last_name) == ("Grace", "Lin")
    number, lead_id = lead.lead_no, lead.id
    session.rollback()
    page = admin.get("/admin/quarantine")
    flash = page.find(class_="flash--success")
    assert "".join(flash.parts) == "Released: it is now the new lead ."  # the link in the gap
    assert (flash.find("a").text, flash.find("a").attrs["href"]) == (f"{number} Grace Lin", f"/leads/{number}")
    assert list(rows(page)) == [again]
    assert (outcome(session, held).outcome, outcome(session, held).lead_id) == ("new_lead", lead_id)

    admin.post(f"/admin/quarantine/{again}/release", {"next": "/admin/quarantine"})
    page = admin.get("/admin/quarantine")
    flash = page.find(class_="flash--success")
    assert "".join(flash.parts) == "Released: it is added to the open lead ."
    assert flash.find("a").attrs["href"] == f"/leads/{number}"
    assert page.find(class_="empty__title").text == "The quarantine is empty"
    admin.get(f"/leads/{number}")
    assert admin.status == 200

    admin.get("/admin/quarantine")
    admin.post(f"/admin/quarantine/{held}/release", {"next": "https://evil.example/"})  # released already
    assert admin.status == 303 and admin.location == "/admin/quarantine"  # only back to the quarantine
    page = admin.get("/admin/quarantine")
    assert "is not in quarantine" in page.find(class_="flash--error").text
    admin.post("/admin/quarantine/no-such-submission/release")
    assert admin.status == 404


def test_discarding_takes_it_off_the_list_without_a_lead(admin: Staff, session: Session, web_form: WebForm) -> None:
    spam = hold(session, web_form, "honeypot filled in", first="Cheap", last="Pills", email="pills@spam.example")
    keep = hold(session, web_form, "honeypot filled in", at=NOW - dt.timedelta(hours=1))
    admin.get("/admin/quarantine")
    admin.post(f"/admin/quarantine/{spam}/discard", {"next": "/admin/quarantine"})
    assert admin.status == 303
    page = admin.get("/admin/quarantine")
    assert page.find(class_="flash--success").text == "Discarded as spam: the submission from Cheap Pills."
    assert list(rows(page)) == [keep]
    assert outcome(session, spam).outcome == "discarded"
    assert session.scalar(select(Lead.id).where(Lead.email == "pills@spam.example")) is None
    session.rollback()


def test_a_post_without_the_csrf_token_changes_nothing(admin: Staff, session: Session, web_form: WebForm) -> None:
    held = hold(session, web_form, "honeypot filled in")
    admin.post(f"/admin/quarantine/{held}/release", {"next": "/admin/quarantine"}, csrf=False)
    assert admin.status == 400
    admin.post(f"/admin/quarantine/{held}/discard", csrf=False)
    assert admin.status == 400
    assert outcome(session, held).outcome == "quarantined"


def test_what_a_visitor_typed_is_shown_escaped(admin: Staff, client: Any, session: Session,
                                               web_form: WebForm) -> None:
    held = api(client, web_form, first_name="<script>alert(1)</script>", last_name="<b>Bold</b>",
               message="<img src=x onerror=alert(2)>", email="xss@spam.example")
    assert outcome(session, held).spam_reason == "link or HTML in first_name"
    page = admin.get("/admin/quarantine")
    assert all(s.attrs.get("src") for s in page.all("script"))  # no script but the page's own files
    assert "<script>alert(1)" not in page.source and "<img src=x" not in page.source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.source
    row = rows(page)[held]
    assert row.find(class_="held__name").text == "<script>alert(1)</script> <b>Bold</b>"
    assert row.find(class_="held__message").text == "“<img src=x onerror=alert(2)>”"
    admin.post(f"/admin/quarantine/{held}/discard", {"next": "/admin/quarantine"})
    page = admin.get("/admin/quarantine")
    assert "<script>alert(1)" not in page.source
    assert page.find(class_="flash--success").text == (
        "Discarded as spam: the submission from <script>alert(1)</script> <b>Bold</b>.")


def test_the_quarantine_pages_by_fifty_newest_first(admin: Staff, session: Session, web_form: WebForm) -> None:
    ids = [hold(session, web_form, "honeypot filled in", at=NOW - dt.timedelta(minutes=i // 3)) for i in range(56)]
    # Three share each minute, the page's edge among them (the 49th-51st): the later row first.
    newest_first = [ref for minute in range(19) for ref in reversed(ids[minute * 3:minute * 3 + 3])]
    first = admin.get("/admin/quarantine")
    assert first.find(id="held-count").text == "56 submissions held"
    on_first = list(rows(first))
    assert len(on_first) == 50 and not first.all("a", rel="prev")
    second = admin.get(first.find("a", rel="next").attrs["href"])
    on_second = list(rows(second))
    assert len(on_second) == 6 and not second.all("a", rel="next")
    assert on_first + on_second == newest_first
    back = admin.get(second.find("a", rel="prev").attrs["href"])
    assert list(rows(back)) == on_first
    page = admin.get("/admin/quarantine?cursor=not-a-cursor")
    assert list(rows(page)) == on_first  # a cursor not ours: the first page


def test_the_empty_quarantine_says_so(admin: Staff, web_form: WebForm) -> None:
    page = admin.get("/admin/quarantine")
    assert page.find(class_="empty__title").text == "The quarantine is empty"
    assert not page.all("table")


def test_a_released_submission_of_a_known_contact_links_the_contact(admin: Staff, session: Session,
                                                                    web_form: WebForm) -> None:
    contact = records.create(session, "contacts", {"first_name": "Kevin", "last_name": "Wu",
                                                   "email": "kevin@wu.example"})
    number = contact.contact_no
    session.commit()
    held = hold(session, web_form, "honeypot filled in", first="Kevin", last="Wu", email="kevin@wu.example")
    admin.get("/admin/quarantine")
    admin.post(f"/admin/quarantine/{held}/release", {"next": "/admin/quarantine"})
    page = admin.get("/admin/quarantine")
    flash = page.find(class_="flash--success")
    assert "".join(flash.parts) == "Released: it is added to the contact ."
    assert (flash.find("a").text, flash.find("a").attrs["href"]) == (f"{number} Kevin Wu", f"/contacts/{number}")
