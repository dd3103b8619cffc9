"""The staff web app's access: sign in and out, delays and lockouts, password links, CSRF, cookies, languages, errors.

Every test drives the real app (`create_app` on a migrated database, SQLite and PostgreSQL) through Flask's
test client and reads pages by parsing them (`tests/staff_support.py`); the mail goes through the real
outbox and worker, and the links are read from the delivered messages.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.config import load_config
from crm_store.models import OutboxMessage, User, utcnow
from crm_store.models.people import SignInFailure
from crm_store.staff import passwords, users
from crm_store.staff import sign_in as signing_in
from crm_store.staff.tokens import make_token
from emails.worker import send_all_due

from .staff_support import PASSWORD, Page, Person, Staff

ZH_TITLE = "登入"  # the sign-in page's title in Traditional Chinese


@pytest.fixture
def people(session: Session, reps: list) -> SimpleNamespace:
    """An admin and a rep (rep1) who have chosen their password; rep2 and rep3 have not."""
    admin = users.add_user(session, "admin@leadline.test", "Alice Admin", role="admin", welcome=False)
    rep = session.get(User, reps[0].id)
    for user in (admin, rep):
        passwords.set_password(session, user, PASSWORD)
    session.commit()
    return SimpleNamespace(admin=Person.of(admin), rep=Person.of(rep), others=[Person.of(r) for r in reps[1:]])


@pytest.fixture
def staff(client: Any) -> Staff:
    return Staff(client)


class Clock:
    """The sign-in module's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(signing_in, "utcnow", moved)
    return moved


def delivered_link(data_dir: Path, template: str, route: str) -> str:
    """Deliver the queued mail (to .eml files) and return the path of the last `template` message's link."""
    send_all_due(load_config())
    newest = sorted(Path(data_dir, "outbox").glob(f"*-{template}.eml"), key=lambda p: p.stat().st_mtime_ns)[-1]
    message = email.message_from_bytes(newest.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return re.search(rf"https?://[^/\s]+(/auth/{route}/\S+)", body)[1]  # type: ignore[index]


def signed_in(staff: Staff) -> bool:
    staff.get("/")
    return staff.status == 200


# -- signing in and out ----------------------------------------------------------------------------


def test_my_day_sends_a_visitor_to_sign_in_and_back(staff: Staff, people) -> None:
    staff.get("/profile")
    assert staff.status == 302 and staff.location == "/auth/sign-in?next=/profile"
    page = staff.get(staff.location)
    assert page.find("main").find("input", name="next").attrs["value"] == "/profile"
    staff.post("/auth/sign-in", {"email": "REP1@leadline.test ", "password": PASSWORD, "next": "/profile"})
    assert staff.status == 303 and staff.location == "/profile"


def test_sign_in_shows_my_day_and_sign_out_ends_the_session(staff: Staff, people) -> None:
    staff.sign_in(people.rep.email)
    assert staff.status == 303 and staff.location == "/"
    page = staff.get("/")
    assert staff.status == 200 and page.title == "My day · Leadline"
    assert people.rep.name in page.find("h1").text
    nav = page.find("nav", class_="mainnav")
    bar = [li.find("a").text for li in nav.all("li") if not li.attrs.get("class")]
    assert bar == ["My day", "Leads", "Accounts", "Contacts", "Opportunities", "Board", "Agenda", "Reports"]
    more = [a.text for a in nav.find("details").all("a")]
    assert more == ["Activities", "Campaigns", "Documents", "Quotes", "Sales orders", "Invoices", "Products",
                    "Price books", "Low stock", "Duplicates", "Recycle bin"]  # no Users for a rep
    assert page.find("a", aria_current="page").text == "My day"
    assert page.find("form", role="search").find("input", type="search").attrs["name"] == "q"
    assert people.rep.email in page.find("details", class_="usermenu").text

    page = staff.sign_out()
    assert staff.status == 303 and staff.location == "/auth/sign-in"
    page = staff.get("/auth/sign-in")
    assert page.flashes() == ["You are signed out."]
    assert not signed_in(staff)


def test_a_signed_in_user_on_the_sign_in_page_goes_home_and_no_next_leaves_the_site(staff: Staff, people) -> None:
    staff.get("/auth/sign-in")
    staff.post("/auth/sign-in", {"email": people.rep.email, "password": PASSWORD, "next": "//evil.example/x"})
    assert staff.location == "/"
    staff.get("/auth/sign-in?next=https://evil.example/")
    assert staff.status == 302 and staff.location == "/"
    staff.get("/auth/forgot-password")
    assert staff.status == 302 and staff.location == "/profile"  # signed in: change it there


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(staff: Staff, people, clock: Clock) -> None:
    wrong = staff.sign_in(people.rep.email, "not the password")
    assert staff.status == 401
    clock.advance(60)
    unknown = staff.sign_in("nobody@leadline.test", PASSWORD)
    assert staff.status == 401
    clock.advance(60)
    no_password_yet = staff.sign_in(people.others[0].email, "")  # rep2 has none: refused by the form first
    assert staff.status == 422 and no_password_yet.field_error("password") == "Enter your password."
    assert wrong.alert() == unknown.alert() == "The email address or password is not right."
    assert wrong.find("input", name="email").attrs["value"] == people.rep.email  # kept, the password is not
    assert wrong.find("input", name="password").attrs.get("value", "") == ""
    assert not signed_in(staff)


def test_each_failure_makes_the_account_wait_longer_then_locks_it(staff: Staff, people, clock: Clock,
                                                                   session: Session) -> None:
    for n, delay in enumerate(("1 second", "2 seconds", "4 seconds", "8 seconds"), start=1):
        staff.sign_in(people.rep.email, f"wrong {n}")
        assert staff.status == 401, n
        page = staff.sign_in(people.rep.email, PASSWORD)  # at once: refused unchecked, even with the right one
        assert staff.status == 429 and page.alert() == f"Too many failed sign-ins. Wait {delay}, then try again."
        clock.advance(2 ** (n - 1))
    page = staff.sign_in(people.rep.email, "wrong 5")
    assert staff.status == 429 and page.alert() == "Too many failed sign-ins. Try again in 15 minutes."
    clock.advance(14 * 60)
    page = staff.sign_in(people.rep.email, PASSWORD)
    assert staff.status == 429 and page.alert() == "Too many failed sign-ins. Try again in 1 minute."
    staff.sign_in(people.admin.email, PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert staff.status == 303  # another account is not locked
    staff.sign_out()

    clock.advance(60)
    staff.sign_in(people.rep.email, PASSWORD)
    assert staff.status == 303 and signed_in(staff)
    session.expire_all()
    row = session.get(User, people.rep.id)
    assert (row.failed_sign_ins, row.last_failed_sign_in_at, row.locked_until) == (0, None, None)


def test_an_address_locks_after_twenty_failures_whatever_the_accounts(staff: Staff, people, clock: Clock,
                                                                        session: Session) -> None:
    here = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    for n in range(1, 21):
        staff.sign_in(f"guess{n}@leadline.test", PASSWORD, **here)
        assert staff.status == (429 if n == 20 else 401), n
        clock.advance(31)  # past the longest delay, well inside the 15 minutes that forget failures
    page = staff.sign_in(people.rep.email, PASSWORD, **here)
    assert staff.status == 429 and page.alert().startswith("Too many failed sign-ins. Try again in")
    staff.sign_in(people.rep.email, PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert staff.status == 303  # the account itself is fine, from elsewhere
    session.expire_all()
    assert session.scalar(select(SignInFailure.failures).where(SignInFailure.address == "203.0.113.7")) == 20


# -- password links ---------------------------------------------------------------------------------


def test_the_welcome_link_sets_the_first_password_once(staff: Staff, people, env, session: Session) -> None:
    newcomer = users.add_user(session, "mei@leadline.test", "林美玲")
    session.commit()
    link = delivered_link(env["CRM_DATA_DIR"], "welcome", "set-password")
    page = staff.get(link)
    assert staff.status == 200 and page.find("h1").text == "Choose your password"
    assert "mei@leadline.test" in page.text
    assert staff.response.headers["Referrer-Policy"] == "no-referrer"

    page = staff.post(link, {"password": "short", "password_again": "short"})
    assert staff.status == 422 and page.field_error("password") == "Use at least 10 characters."
    page = staff.post(link, {"password": "a good long one", "password_again": "a good long One"})
    assert page.field_error("password_again") == "The two passwords are not the same."
    page = staff.post(link, {"password": "mei@leadline.test", "password_again": "mei@leadline.test"})
    assert page.field_error("password") == "Do not use your email address as your password."
    staff.post(link, {"password": "a good long one", "password_again": "a good long one"})
    assert staff.status == 303 and staff.location == "/"
    assert staff.get("/").flashes() == ["Your password is set. Welcome to Leadline!"]

    again = Staff(staff.client.application.test_client())
    page = again.get(link)
    assert again.status == 410 and "not valid, or it has already been used" in page.text
    session.expire_all()
    assert passwords.verify_password("a good long one", session.get(User, newcomer.id).password_hash)


def test_a_forged_or_expired_password_link_is_refused(staff: Staff, people, app, session: Session) -> None:
    secret = app.extensions["leadline"].config.secret_key
    later = utcnow() + dt.timedelta(days=1)
    forged = make_token("not the secret", "set_password", str(people.others[0].id), later)
    wrong_purpose = make_token(secret, "reset_password", str(people.others[0].id), later)
    expired = make_token(secret, "set_password", str(people.others[0].id), utcnow() - dt.timedelta(minutes=1))
    for token, words in ((forged, "not valid"), (wrong_purpose, "not valid"), ("garbage", "not valid"),
                         (expired, "has expired")):
        page = staff.get(f"/auth/set-password/{token}")
        assert staff.status == 410 and words in page.find("main").text, token
    staff.get("/auth/sign-in")
    staff.post(f"/auth/set-password/{forged}", {"password": "a good long one", "password_again": "a good long one"})
    assert staff.status == 410
    session.expire_all()
    assert session.get(User, people.others[0].id).password_hash is None


def test_forgot_password_emails_a_link_that_works_once(staff: Staff, people, env, session: Session,
                                                      clock: Clock) -> None:
    staff.get("/auth/forgot-password")
    known = staff.post("/auth/forgot-password", {"email": people.rep.email})
    unknown = staff.post("/auth/forgot-password", {"email": "nobody@leadline.test"})
    assert known.find("h1").text == unknown.find("h1").text == "Check your email"
    assert known.find("main").text.replace(people.rep.email, "X") == unknown.find("main").text.replace(
        "nobody@leadline.test", "X")
    staff.post("/auth/forgot-password", {"email": people.rep.email})  # asked twice: one email
    session.expire_all()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "password_reset")).all()
    assert [r.recipient for r in rows] == [people.rep.email]
    session.commit()

    link = delivered_link(env["CRM_DATA_DIR"], "password_reset", "reset-password")
    page = staff.get(link)
    assert page.find("h1").text == "Choose a new password"
    staff.post(link, {"password": "brand new password", "password_again": "brand new password"})
    assert staff.status == 303 and signed_in(staff)
    staff.sign_out()

    assert staff.get(link).find("h1").text == "This link does not work" and staff.status == 410
    staff.sign_in(people.rep.email, PASSWORD)
    assert staff.status == 401
    clock.advance(1)
    staff.sign_in(people.rep.email, "brand new password")
    assert staff.status == 303


def test_changing_the_password_keeps_this_session_and_ends_the_others(client, app, people) -> None:
    here, elsewhere = Staff(client), Staff(app.test_client())
    here.sign_in(people.rep.email)
    elsewhere.sign_in(people.rep.email, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert signed_in(elsewhere)

    here.get("/profile")
    page = here.post("/profile/password", {"current_password": "nope", "password": "x" * 3, "password_again": "y"})
    assert here.status == 422 and page.field_error("current_password") == "This is not your current password."
    assert page.find("select", name="language")  # the profile form is still there, filled in
    page = here.post("/profile/password", {"current_password": PASSWORD, "password": "another fine one",
                                           "password_again": "another fine one"})
    assert here.status == 303 and here.location == "/profile"
    assert here.get("/profile").flashes() == [
        "Your password is changed. Other devices signed in as you have been signed out."]
    assert signed_in(here) and not signed_in(elsewhere)


# -- CSRF, cookies, headers ------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused(staff: Staff, people, session: Session) -> None:
    page = staff.post("/auth/sign-in", {"email": people.rep.email, "password": PASSWORD}, csrf=False)
    assert staff.status == 400 and page.find("h1").text == "This form has expired"
    assert not signed_in(staff)
    staff.sign_in(people.rep.email)
    for path, data in (("/auth/sign-out", {}), ("/language", {"language": "zh_Hant"}),
                       ("/profile", {"language": "zh_Hant"}),
                       ("/profile/password", {"current_password": PASSWORD, "password": "p" * 12 + "q",
                                              "password_again": "p" * 12 + "q"})):
        staff.post(path, data, csrf=False)
        assert staff.status == 400, path
        staff.post(path, {**data, "csrf_token": "forged"}, csrf=False)
        assert staff.status == 400, path
    assert signed_in(staff)
    session.expire_all()
    row = session.get(User, people.rep.id)
    assert row.language == "en" and passwords.verify_password(PASSWORD, row.password_hash)


def _cookie(response: Any) -> str:
    cookies = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("leadline_session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(staff: Staff, people, env,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    staff.sign_in(people.rep.email)
    flags = [part.strip().lower() for part in _cookie(staff.response).split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags  # an office over plain http

    from webform import create_app

    def app_with(**settings: str) -> Any:
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        application = create_app(load_config())
        return application

    behind_tls = app_with(CRM_BASE_URL="https://crm.example.test")
    try:
        response = behind_tls.test_client().get("/auth/sign-in")
        assert "secure" in [p.strip().lower() for p in _cookie(response).split(";")]
    finally:
        behind_tls.extensions["leadline"].engine.dispose()

    proxied = app_with(CRM_BASE_URL="http://crm.example.test", CRM_TRUSTED_PROXIES="10.0.0.0/8")
    try:
        said = {"X-Forwarded-Proto": "https"}
        via_proxy = proxied.test_client().get("/auth/sign-in", headers=said, environ_base={"REMOTE_ADDR": "10.0.0.5"})
        assert "secure" in [p.strip().lower() for p in _cookie(via_proxy).split(";")]
        spoofed = proxied.test_client().get("/auth/sign-in", headers=said, environ_base={"REMOTE_ADDR": "192.0.2.9"})
        assert "secure" not in [p.strip().lower() for p in _cookie(spoofed).split(";")]
    finally:
        proxied.extensions["leadline"].engine.dispose()


def test_staff_pages_carry_security_headers_and_no_inline_script(staff: Staff, people) -> None:
    for path in ("/auth/sign-in", "/auth/forgot-password"):
        staff.get(path)
        _check_headers_and_markup(staff)
    staff.sign_in(people.admin.email)
    for path in ("/", "/profile", "/users", "/users/new", "/no/such/page"):
        staff.get(path)
        _check_headers_and_markup(staff)


def _check_headers_and_markup(staff: Staff) -> None:
    headers = staff.response.headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    page = staff.last
    assert page is not None
    scripts = page.all("script")
    assert scripts and all(s.attrs.get("src", "").startswith("/static/") and not s.text for s in scripts)
    for element in page.root.walk():
        assert "style" not in element.attrs, element.tag  # style-src 'self': no inline style either
        assert not any(name.startswith("on") for name in element.attrs), element.tag
    for form in page.all("form", method="post"):
        assert form.all("input", name="csrf_token"), form.attrs


def test_the_stylesheet_and_script_are_served_by_the_app(staff: Staff, people) -> None:
    page = staff.get("/auth/sign-in")
    for href in [link.attrs["href"] for link in page.all("link", rel="stylesheet")] + [
            s.attrs["src"] for s in page.all("script")]:
        response = staff.client.get(href)
        assert response.status_code == 200 and response.mimetype in ("text/css", "text/javascript"), href
        response.close()


# -- languages -------------------------------------------------------------------------------------


def test_before_sign_in_the_browser_language_decides_then_the_switch(staff: Staff, people) -> None:
    assert staff.get("/auth/sign-in").lang == "en"
    for header in ("zh-TW,zh;q=0.9,en;q=0.5", "zh-Hant", "zh-HK", "fr-FR, zh;q=0.8"):
        page = staff.get("/auth/sign-in", headers={"Accept-Language": header})
        assert page.lang == "zh-Hant-TW" and page.find("h1").text == "登入 Leadline", header
    assert staff.get("/auth/sign-in", headers={"Accept-Language": "fr, de"}).lang == "en"

    page = staff.get("/auth/sign-in")
    switch = page.find("form", class_="langswitch").find("button")
    assert (switch.attrs["value"], switch.text) == ("zh_Hant", "繁體中文")
    staff.post("/language", {"language": "zh_Hant", "next": "/auth/sign-in"})
    assert staff.status == 303 and staff.location == "/auth/sign-in"
    page = staff.get("/auth/sign-in", headers={"Accept-Language": "en"})
    assert page.lang == "zh-Hant-TW" and page.title.startswith(ZH_TITLE)
    page.find("form", class_="langswitch").find("button", value="en")
    staff.post("/language", {"language": "xx"})
    assert staff.status == 400


def test_a_user_sees_their_own_language_and_the_switch_saves_it(staff: Staff, people, session: Session) -> None:
    staff.sign_in(people.rep.email)
    page = staff.get("/", headers={"Accept-Language": "zh-TW"})
    assert page.lang == "en"  # the user's language wins over the browser's
    staff.post("/language", {"language": "zh_Hant", "next": "/profile"})
    assert staff.status == 303 and staff.location == "/profile"
    page = staff.get("/profile")
    assert page.lang == "zh-Hant-TW" and page.find("h1").text == "個人資料"
    nav = page.find("nav", class_="mainnav")
    assert [li.find("a").text for li in nav.all("li") if not li.attrs.get("class")][:5] == [
        "我的一天", "潛在客戶", "客戶", "聯絡人", "商機"]
    session.expire_all()
    assert session.get(User, people.rep.id).language == "zh_Hant"


# -- profile ---------------------------------------------------------------------------------------


def test_the_profile_saves_language_time_zone_and_out_of_office(staff: Staff, people, session: Session) -> None:
    staff.sign_in(people.rep.email)
    page = staff.get("/profile")
    assert page.find("select", name="time_zone").find("option", selected="").attrs["value"] == ""
    page = staff.post("/profile", {"language": "en", "time_zone": "Europe/Paris", "out_of_office_from": "2026-12-24",
                                   "out_of_office_to": "2026-12-20"})
    assert staff.status == 422 and page.field_error("out_of_office_to") == (
        "The last day must be on or after the first day.")
    page = staff.post("/profile", {"language": "en", "time_zone": "Mars/Olympus", "out_of_office_from": ""})
    assert page.field_error("time_zone") == "Choose a time zone from the list."
    page = staff.post("/profile", {"language": "en", "time_zone": "Europe/Paris", "out_of_office_from": "yesterday"})
    assert page.field_error("out_of_office_from") == "Enter a date like 2026-03-14."

    staff.post("/profile", {"language": "en", "time_zone": "Europe/Paris", "out_of_office_from": "2026-12-24",
                            "out_of_office_to": "2026-12-26"})
    assert staff.status == 303
    session.expire_all()
    row = session.get(User, people.rep.id)
    assert row.time_zone == "Europe/Paris"
    assert row.out_of_office_from == dt.datetime(2026, 12, 23, 23, 0, tzinfo=dt.UTC)  # midnight in Paris
    assert row.out_of_office_to == dt.datetime(2026, 12, 26, 23, 0, tzinfo=dt.UTC)  # the end of the 26th
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    page = staff.get("/profile")
    assert page.flashes() == ["Your profile is saved."]
    assert page.find("input", name="out_of_office_from").attrs["value"] == "2026-12-24"
    assert page.find("input", name="out_of_office_to").attrs["value"] == "2026-12-26"
    assert page.find("select", name="time_zone").find("option", selected="").attrs["value"] == "Europe/Paris"

    staff.post("/profile", {"language": "en", "time_zone": "", "out_of_office_from": "", "out_of_office_to": ""})
    session.expire_all()
    row = session.get(User, people.rep.id)
    assert (row.time_zone, row.out_of_office_from, row.out_of_office_to) == (None, None, None)


def test_the_profile_turns_the_morning_digest_on_and_off_and_sets_its_time(
    staff: Staff, people, session: Session
) -> None:
    staff.sign_in(people.rep.email)
    page = staff.get("/profile")
    assert "checked" in page.find("input", name="digest_enabled").attrs  # on by default, at 08:00
    time = page.find("input", name="digest_time").attrs
    assert (time["type"], time["value"]) == ("time", "08:00")
    for typed in ("25:00", "8.30", "08:60", "soon"):
        page = staff.post("/profile", {"language": "en", "time_zone": "", "digest_time": typed,
                                       "out_of_office_from": "2026-12-24"})
        assert staff.status == 422, typed
        assert page.field_error("digest_time") == "Enter the digest time as hours and minutes, like 08:00."
    session.expire_all()
    row = session.get(User, people.rep.id)
    assert (row.digest_enabled, row.digest_time, row.out_of_office_from) == (True, None, None)  # nothing written
    session.commit()

    staff.post("/profile", {"language": "en", "time_zone": "", "digest_time": " 7:30 "})  # the box left unticked
    assert staff.status == 303
    session.expire_all()
    row = session.get(User, people.rep.id)
    assert (row.digest_enabled, row.digest_time) == (False, "07:30")
    session.commit()
    page = staff.get("/profile")
    assert "checked" not in page.find("input", name="digest_enabled").attrs
    assert page.find("input", name="digest_time").attrs["value"] == "07:30"

    staff.post("/profile", {"language": "zh_Hant", "time_zone": "", "digest_enabled": "y", "digest_time": ""})
    session.expire_all()
    row = session.get(User, people.rep.id)
    assert (row.digest_enabled, row.digest_time) == (True, None)  # empty: the default time
    session.commit()
    page = staff.post("/profile", {"language": "zh_Hant", "time_zone": "", "digest_enabled": "y",
                                   "digest_time": "24:00"})
    assert "每日摘要" in [legend.text for legend in page.all("legend")]
    assert page.field_error("digest_time") == "請以時:分輸入摘要寄送時間，例如 08:00。"


def test_dates_are_shown_in_the_users_language_and_zone(staff: Staff, people, session: Session) -> None:
    row = session.get(User, people.rep.id)
    row.language, row.time_zone = "zh_Hant", "Asia/Taipei"
    session.commit()
    staff.sign_in(people.rep.email)
    today = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    header = staff.get("/").find("div", class_="page-header").text
    assert f"{today.year}年{today.month}月{today.day}日" in header


# -- error pages -----------------------------------------------------------------------------------


def test_a_404_page_leaks_nothing_and_is_in_the_staff_layout(staff: Staff, people) -> None:
    page = staff.get("/no/such/page?q=<script>alert(1)</script>")
    assert staff.status == 404 and page.find("h1").text == "Page not found"
    assert not page.all("nav")  # signed out: no navigation
    assert "<script>alert(1)" not in staff.response.get_data(as_text=True)
    assert "Traceback" not in page.text and "werkzeug" not in page.text.lower()

    staff.sign_in(people.rep.email)
    page = staff.get("/users/999999/deactivate")
    assert staff.status == 403  # a rep: not allowed, whether that user exists or not
    page = staff.get("/no/such/page")
    assert staff.status == 404 and page.find("nav", class_="mainnav")
    assert page.find("main").text == (
        "Error 404 Page not found This page does not exist, or you do not have access to it. Go to My day")


def test_a_crash_is_a_500_page_that_tells_nothing(env, web_form, people, monkeypatch: pytest.MonkeyPatch) -> None:
    from webform import create_app

    application = create_app(load_config())

    def boom() -> str:
        raise RuntimeError("secret detail: password=hunter2")

    application.add_url_rule("/boom", view_func=boom)
    try:
        staff = Staff(application.test_client())
        staff.sign_in(people.rep.email)
        page = staff.get("/boom")
        assert staff.status == 500 and page.find("h1").text == "Something went wrong"
        assert "hunter2" not in staff.response.get_data(as_text=True) and page.find("nav", class_="mainnav")
    finally:
        application.extensions["leadline"].engine.dispose()


def test_the_public_capture_pages_keep_their_own_errors_and_headers(client, web_form) -> None:
    response = client.get("/forms/no-such-form")
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 404 and page.find("h1").text == "Form not found"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "leadline_session" not in response.headers.get("Set-Cookie", "")
    hosted = client.get(f"/forms/{web_form.public_id}")
    assert hosted.status_code == 200 and "X-Frame-Options" not in hosted.headers  # framed by the customer's site
    assert client.get("/healthz").status_code == 200


def test_no_session_table_grows_with_failures_from_long_ago(session: Session, people, clock: Clock) -> None:
    signing_in.sign_in(session, "x@leadline.test", "wrong", "192.0.2.1")
    session.commit()
    clock.advance(2 * 24 * 3600)
    signing_in.sign_in(session, "x@leadline.test", "wrong", "192.0.2.2")
    session.commit()
    assert list(session.scalars(select(SignInFailure.address))) == ["192.0.2.2"]
    assert session.scalar(select(func.count()).select_from(SignInFailure)) == 1
