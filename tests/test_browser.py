"""Web-to-lead in a real browser (Chromium via Playwright): what a visitor on a customer's site sees and sends.

The CRM's web app runs on http://127.0.0.1:<port>; the customer's site is another server reached as
http://localhost:<port> (another origin), and a site that may NOT use the form runs on a third
port. Every test reads back the stored rows (leads, web submissions) after the browser acted.

Only SQLite: the browser side does not depend on the database (the capture tests cover both).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, expect, sync_playwright
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.db.engine import session_factory
from crm_store.models import Lead, WebSubmission
from webform.public.messages import texts

from .browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    CustomerSite,
    LiveServer,
    embed_tag,
    html_page,
    iframe_tag,
)

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
expect.set_options(timeout=TIMEOUT_MS)

EN = texts("en")
ZH = texts("zh_Hant")


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One Chromium for the module (each test gets its own context: no shared storage)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `sh .ci/system-deps.sh` as root (or set LEADLINE_CHROMIUM)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
    yield browser
    browser.close()


class Tab:
    """A page in a fresh browser context, with the page's uncaught script errors and console kept."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._log)

    def _log(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")


@pytest.fixture
def new_tab(browser: Browser) -> Iterator[Any]:
    """Open a tab in a new context (`new_tab(java_script_enabled=False)`); all are closed afterwards.

    A tab whose page threw an uncaught script error fails the test.
    """
    tabs: list[Tab] = []

    def open_tab(**options: Any) -> Tab:
        context = browser.new_context(locale="en-US", **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        tabs.append(Tab(context))
        return tabs[-1]

    yield open_tab
    errors = [e for t in tabs for e in t.errors]
    for t in tabs:
        t.context.close()
    assert not errors, f"uncaught script errors in the page: {errors}"


@pytest.fixture
def tab(new_tab: Any) -> Tab:
    return new_tab()


@pytest.fixture
def crm_server(app: Any) -> Iterator[LiveServer]:
    """The CRM's web app (hosted form, embed.js, JSON API) on http://127.0.0.1:<port>."""
    server = LiveServer(app)
    yield server
    server.close()


@pytest.fixture
def site() -> Iterator[CustomerSite]:
    """The customer's web site, on http://localhost:<port>: the origin forms allow."""
    s = CustomerSite("localhost")
    yield s
    s.close()


@pytest.fixture
def other_site() -> Iterator[CustomerSite]:
    """Somebody else's site on http://127.0.0.1:<another port>: an origin no form allows."""
    s = CustomerSite("127.0.0.1")
    yield s
    s.close()


@dataclass(frozen=True)
class FormRef:
    id: int
    public_id: str


@pytest.fixture
def make_form(session: Session, reps: list, app: Any) -> Any:
    """Create (and commit) a form; the test session is left without a transaction so the server can write."""

    def make(name: str, *, allowed: list[str] | tuple[str, ...] = (), language: str = "en", **extra: Any) -> FormRef:
        form = webforms.add_form(session, {
            "name": name, "language": language, "round_robin": [r.email for r in reps],
            "allowed_origins": list(allowed), **extra,
        })
        ref = FormRef(form.id, form.public_id)
        session.commit()
        return ref

    return make


@dataclass
class Stored:
    leads: list[Lead]
    submissions: list[WebSubmission]


def stored(engine: Engine, form: FormRef) -> Stored:
    """The form's leads and submissions, read in a fresh session (closed at once: SQLite has one writer)."""
    with session_factory(engine)() as s:
        leads = list(s.scalars(select(Lead).where(Lead.web_form_id == form.id).order_by(Lead.id)))
        subs = list(s.scalars(select(WebSubmission).where(WebSubmission.form_id == form.id).order_by(WebSubmission.id)))
    return Stored(leads, subs)


def count_all(engine: Engine) -> tuple[int, int]:
    """All leads and all web submissions in the database."""
    with session_factory(engine)() as s:
        leads = s.scalar(select(func.count()).select_from(Lead))
        submissions = s.scalar(select(func.count()).select_from(WebSubmission))
    return leads, submissions  # type: ignore[return-value]  # rows typed loosely by SQLAlchemy


def is_api_post(response: Any) -> bool:
    return "/api/forms/" in response.url and response.request.method == "POST"


def eventually(page: Page, check: Callable[[], bool], what: str) -> None:
    """Wait (a few seconds at most) until `check()` holds; the page's events keep arriving meanwhile."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def embedded(page: Page) -> Any:
    """The form embed.js rendered on the page."""
    form = page.locator(".leadline-form form")
    expect(form).to_be_visible()
    return form


def field(scope: Any, name: str) -> Any:
    """A field's box (label, input, error text) in the embedded or hosted form."""
    page = scope if isinstance(scope, Page) else scope.page
    return scope.locator(".ll-field").filter(has=page.locator(f"[name={name}]"))


# -- embed.js on the customer's site ---------------------------------------------------------------


def test_embed_on_another_origin_stores_lead_with_utm(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Embedded inquiry", allowed=[site.origin])
    url = site.put("/contact", html_page(
        "Contact us", "<p id=\"before\">Tell us what you need:</p>", embed_tag(crm_server, form.public_id),
        "<footer id=\"after\">ACME Ltd.</footer>",
    ))
    page = tab.page
    landing = url + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
    page.goto(landing)

    f = embedded(page)
    # in place: right after its script tag, between the page's own content
    assert page.evaluate(
        "document.querySelector('script[src*=\"/embed.js\"]').nextElementSibling.className"
    ) == "leadline-form"
    expect(field(f, "last_name").locator("label")).to_have_text("Last name *")
    f.locator("[name=first_name]").fill("Mei")
    f.locator("[name=last_name]").fill("Chen")
    f.locator("[name=email]").fill("mei.chen@example.com")
    f.locator("[name=message]").fill("Please send a quote for 20 seats.")
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 201, answer.value.text()

    thanks = page.locator(".leadline-form .ll-thanks")
    expect(thanks).to_have_text(EN["thanks"])
    expect(page.locator(".leadline-form form")).to_have_count(0)
    assert page.url == landing  # no navigation: the answer replaced the form in place
    expect(page.locator("#before")).to_be_visible()
    expect(page.locator("#after")).to_be_visible()

    rows = stored(engine, form)
    assert len(rows.leads) == 1 and len(rows.submissions) == 1
    lead, sub = rows.leads[0], rows.submissions[0]
    assert (lead.first_name, lead.last_name, lead.email) == ("Mei", "Chen", "mei.chen@example.com")
    assert lead.description == "Please send a quote for 20 seats."
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("newsletter", "email", "spring")
    assert lead.web_form_id == form.id
    assert lead.landing_page == landing
    assert lead.owner_id is not None
    assert sub.outcome == "new_lead" and sub.spam_reason is None
    assert sub.lead_id == lead.id
    assert sub.last_touch["utm_campaign"] == "spring"
    assert sub.first_touch["utm_source"] == "newsletter"


def test_first_touch_is_kept_across_pages(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Embedded inquiry", allowed=[site.origin])
    site.put("/", html_page(
        "ACME", "<p>We make anvils.</p>", '<a id="to-contact" href="/contact">Contact us</a>',
        embed_tag(crm_server, form.public_id, mode="track"),
    ))
    site.put("/contact", html_page("Contact us", embed_tag(crm_server, form.public_id)))
    page = tab.page

    landing = site.origin + "/?utm_source=google&gclid=abc"
    page.goto(landing)
    page.wait_for_function("localStorage.getItem('leadline.first_touch') !== null")
    expect(page.locator(".leadline-form")).to_have_count(0)  # track mode renders nothing
    page.click("#to-contact")
    page.wait_for_url(site.origin + "/contact")

    f = embedded(page)
    f.locator("[name=last_name]").fill("Wang")
    f.locator("[name=email]").fill("wang@example.com")
    f.locator("[name=message]").fill("Found you on Google.")
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 201, answer.value.text()
    expect(page.locator(".leadline-form .ll-thanks")).to_be_visible()

    rows = stored(engine, form)
    assert len(rows.leads) == 1 and len(rows.submissions) == 1
    lead, sub = rows.leads[0], rows.submissions[0]
    assert lead.utm_source == "google"
    assert lead.gclid == "abc"
    assert lead.landing_page == landing
    assert sub.first_touch["gclid"] == "abc"
    assert sub.first_touch["landing_page"] == landing
    assert sub.outcome == "new_lead"


def test_first_touch_survives_a_later_campaign_visit(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Embedded inquiry", allowed=[site.origin])
    site.put("/", html_page("ACME", embed_tag(crm_server, form.public_id, mode="track")))
    site.put("/contact", html_page("Contact us", embed_tag(crm_server, form.public_id)))
    page = tab.page

    page.goto(site.origin + "/?utm_source=google&gclid=abc")
    page.wait_for_function("localStorage.getItem('leadline.first_touch') !== null")
    later = site.origin + "/contact?utm_source=bing&utm_medium=cpc"
    page.goto(later)  # days later, from another ad

    f = embedded(page)
    f.locator("[name=last_name]").fill("Lee")
    f.locator("[name=email]").fill("lee@example.com")
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 201, answer.value.text()
    expect(page.locator(".leadline-form .ll-thanks")).to_be_visible()

    rows = stored(engine, form)
    lead, sub = rows.leads[0], rows.submissions[0]
    assert (lead.utm_source, lead.utm_medium, lead.gclid) == ("google", None, "abc")  # the first touch, whole
    assert sub.first_touch["utm_source"] == "google" and sub.first_touch["gclid"] == "abc"
    assert sub.last_touch["utm_source"] == "bing" and sub.last_touch["utm_medium"] == "cpc"
    assert sub.last_touch["landing_page"] == later
    assert "gclid" not in sub.last_touch


def test_embed_shows_field_errors_in_place(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Embedded inquiry", allowed=[site.origin])
    url = site.put("/contact", html_page("Contact us", embed_tag(crm_server, form.public_id)))
    page = tab.page
    page.goto(url)

    f = embedded(page)
    f.locator("[name=email]").fill("lin.example.com")
    f.locator("[name=message]").fill("Do you ship to Tainan?")
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 422
    assert set(answer.value.json()["errors"]) == {"last_name", "email"}

    email_error = field(f, "email").locator(".ll-error")
    expect(email_error).to_be_visible()
    expect(email_error).to_have_text(EN["email"])
    expect(field(f, "last_name").locator(".ll-error")).to_have_text(EN["required"])
    expect(field(f, "message").locator(".ll-error")).to_be_hidden()
    expect(f.locator("[name=email]")).to_have_attribute("aria-invalid", "true")
    expect(f.locator(".ll-alert")).to_have_text(EN["fix_errors"])
    expect(f.locator("[name=message]")).to_have_value("Do you ship to Tainan?")  # nothing typed is lost
    expect(f.locator("[name=last_name]")).to_be_focused()  # the first field in error
    assert count_all(engine) == (0, 0)  # a 422 stores nothing

    f.locator("[name=last_name]").fill("Lin")
    f.locator("[name=email]").fill("lin@example.com")
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 201, answer.value.text()
    expect(page.locator(".leadline-form .ll-thanks")).to_have_text(EN["thanks"])

    rows = stored(engine, form)
    assert [(lead.last_name, lead.email) for lead in rows.leads] == [("Lin", "lin@example.com")]
    assert [s.outcome for s in rows.submissions] == ["new_lead"]


# -- the hosted page -------------------------------------------------------------------------------


def test_hosted_page_in_an_iframe_on_an_allowed_site(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Framed inquiry", allowed=[site.origin])
    src = crm_server.url(f"/forms/{form.public_id}?utm_source=partner&utm_campaign=fair")
    url = site.put("/contact", html_page("Contact us", iframe_tag(src)))
    page = tab.page
    page.goto(url)

    frame = page.frame_locator("iframe[name=leadline]")
    expect(frame.locator("h1")).to_have_text("Framed inquiry")
    frame.locator("[name=last_name]").fill("Huang")
    frame.locator("[name=email]").fill("huang@example.com")
    frame.locator("[name=message]").fill("Booth 12 at the fair.")
    frame.locator("button[type=submit]").click()

    inner = page.frame(name="leadline")
    assert inner is not None
    inner.wait_for_url(re.compile(rf"/forms/{re.escape(form.public_id)}/thanks$"))
    expect(frame.locator(".ll-thanks h1")).to_have_text(EN["thanks_title"])
    expect(frame.locator(".ll-thanks .ll-lead")).to_have_text(EN["thanks"])
    assert page.url == url  # the visitor stays on the customer's page

    rows = stored(engine, form)
    assert len(rows.leads) == 1 and len(rows.submissions) == 1
    lead, sub = rows.leads[0], rows.submissions[0]
    assert (lead.last_name, lead.email, lead.description) == ("Huang", "huang@example.com", "Booth 12 at the fair.")
    assert (lead.utm_source, lead.utm_campaign) == ("partner", "fair")
    assert lead.landing_page == src
    assert lead.referrer is not None and lead.referrer.startswith(site.origin)  # the framing page
    assert sub.outcome == "new_lead" and sub.spam_reason is None


def test_disallowed_site_cannot_frame_the_hosted_page(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, other_site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Framed inquiry", allowed=[site.origin])  # other_site is not allowed
    src = crm_server.url(f"/forms/{form.public_id}")
    url = other_site.put("/contact", html_page("Copycat", iframe_tag(src)))
    page = tab.page
    page.goto(url)
    page.wait_for_function("window.frameLoaded === true")  # the frame has finished (with an error page)

    inner = page.frame(name="leadline")
    assert inner is not None
    assert not inner.url.startswith(crm_server.url()), inner.url  # Chromium shows its error page instead
    assert inner.locator("[name=last_name]").count() == 0
    assert page.frame_locator("iframe[name=leadline]").locator("form").count() == 0
    eventually(page, lambda: any("frame-ancestors" in m for m in tab.console), f"a CSP report in {tab.console}")
    assert count_all(engine) == (0, 0)


def test_disallowed_site_cannot_submit_through_embed_js(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, other_site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Embedded inquiry", allowed=[site.origin])
    url = other_site.put("/contact", html_page("Copycat", embed_tag(crm_server, form.public_id)))
    page = tab.page
    page.goto(url)

    f = embedded(page)  # the script itself is public
    f.locator("[name=last_name]").fill("Mallory")
    f.locator("[name=email]").fill("mallory@example.com")
    f.locator("[name=message]").fill("Buy followers!")
    f.locator("button[type=submit]").click()

    alert = f.locator(".ll-alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_text(EN["network_error"])  # CORS refused the request: the script cannot tell more
    expect(page.locator(".leadline-form .ll-thanks")).to_have_count(0)
    expect(f.locator("button[type=submit]")).to_be_enabled()
    eventually(page, lambda: any("CORS" in m for m in tab.console), f"a CORS error in {tab.console}")
    rows = stored(engine, form)
    assert rows.leads == [] and rows.submissions == []
    assert count_all(engine) == (0, 0)


def test_disallowed_site_cannot_post_a_copied_form(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, other_site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    """A plain cross-site form POST needs no CORS preflight: the server itself must refuse the origin."""
    form = make_form("Copied inquiry", allowed=[site.origin])
    action = crm_server.url(f"/forms/{form.public_id}")
    url = other_site.put("/contact", html_page(
        "Copycat",
        f'<form method="post" action="{action}"><input name="last_name"><input name="email">'
        '<button type="submit">Send</button></form>',
    ))
    page = tab.page
    page.goto(url)
    page.fill("[name=last_name]", "Mallory")
    page.fill("[name=email]", "mallory@example.com")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    response = nav.value
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text(EN["forbidden_title"])
    assert count_all(engine) == (0, 0)


def test_hosted_page_works_without_javascript(
    new_tab: Any, crm_server: LiveServer, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Plain inquiry")
    page = new_tab(java_script_enabled=False).page
    start = crm_server.url(f"/forms/{form.public_id}?utm_source=print&utm_campaign=flyer")
    response = page.goto(start)
    assert response is not None and response.status == 200

    page.fill("[name=first_name]", "Yu-Ting")
    page.fill("[name=last_name]", "Kao")
    page.fill("[name=email]", "kao@@example")
    page.fill("[name=company]", "Kao Trading")
    page.fill("[name=message]", "Line one.\nLine two.")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    assert nav.value is not None and nav.value.status == 422

    # shown again with the error beside the field, everything typed still there
    expect(page.locator(".ll-alert")).to_have_text(EN["fix_errors"])
    expect(field(page, "email").locator(".ll-error")).to_have_text(EN["email"])
    expect(page.locator("[name=email]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[name=first_name]")).to_have_value("Yu-Ting")
    expect(page.locator("[name=last_name]")).to_have_value("Kao")
    expect(page.locator("[name=email]")).to_have_value("kao@@example")
    expect(page.locator("[name=company]")).to_have_value("Kao Trading")
    expect(page.locator("[name=message]")).to_have_value("Line one.\nLine two.")
    expect(page.locator("input[type=hidden][name=utm_source]")).to_have_value("print")
    assert count_all(engine) == (0, 0)

    page.fill("[name=email]", "kao@example.com")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    final = nav.value
    assert final is not None and final.status == 200
    first = final.request.redirected_from
    assert first is not None and first.method == "POST"
    assert first.response() is not None and first.response().status == 303
    assert page.url == crm_server.url(f"/forms/{form.public_id}/thanks")
    expect(page.locator(".ll-thanks h1")).to_have_text(EN["thanks_title"])

    rows = stored(engine, form)
    assert len(rows.leads) == 1 and len(rows.submissions) == 1
    lead, sub = rows.leads[0], rows.submissions[0]
    assert (lead.first_name, lead.last_name, lead.email, lead.company) == (
        "Yu-Ting", "Kao", "kao@example.com", "Kao Trading"
    )
    assert lead.description == "Line one.\nLine two."
    assert (lead.utm_source, lead.utm_campaign) == ("print", "flyer")
    assert sub.outcome == "new_lead" and sub.spam_reason is None


def test_hosted_page_in_traditional_chinese(tab: Tab, crm_server: LiveServer, make_form: Any, engine: Engine) -> None:
    form = make_form("聯絡我們", language="zh_Hant")
    page = tab.page
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(crm_server.url(f"/forms/{form.public_id}"))

    assert page.get_attribute("html", "lang") == "zh-Hant-TW"
    expect(page.locator("h1")).to_have_text("聯絡我們")
    expect(field(page, "last_name").locator("label")).to_contain_text("姓氏")
    expect(field(page, "email").locator("label")).to_contain_text("電子郵件")
    expect(field(page, "company").locator("label")).to_contain_text(f"公司名稱 ({ZH['optional']})")
    expect(page.locator("button[type=submit]")).to_have_text("送出")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "hosted_form_zh_Hant.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists() and shot.stat().st_size > 5 * 1024, shot.stat().st_size

    page.fill("[name=email]", "不是電子郵件")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    assert nav.value is not None and nav.value.status == 422
    expect(page.locator(".ll-alert")).to_have_text(ZH["fix_errors"])
    expect(field(page, "last_name").locator(".ll-error")).to_have_text(ZH["required"])
    expect(field(page, "email").locator(".ll-error")).to_have_text(ZH["email"])
    expect(page.locator("[name=email]")).to_have_value("不是電子郵件")
    page.screenshot(path=str(ARTIFACTS / "hosted_form_zh_Hant_errors.png"), full_page=True)
    assert count_all(engine) == (0, 0)

    page.fill("[name=last_name]", "陳")
    page.fill("[name=first_name]", "美玲")
    page.fill("[name=email]", "meiling@example.com.tw")
    page.fill("[name=message]", "請提供報價，謝謝。")
    with page.expect_navigation():
        page.click("button[type=submit]")
    expect(page.locator(".ll-thanks h1")).to_have_text(ZH["thanks_title"])
    expect(page.locator(".ll-thanks .ll-lead")).to_have_text(ZH["thanks"])

    rows = stored(engine, form)
    assert [(lead.last_name, lead.first_name, lead.description) for lead in rows.leads] == [
        ("陳", "美玲", "請提供報價，謝謝。")
    ]
    assert [s.outcome for s in rows.submissions] == ["new_lead"]


def test_embed_in_traditional_chinese(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("聯絡我們", allowed=[site.origin], language="zh_Hant")
    url = site.put("/contact", html_page("Contact us", embed_tag(crm_server, form.public_id)))
    page = tab.page
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(url)

    f = embedded(page)
    assert page.get_attribute(".leadline-form", "lang") == "zh-Hant-TW"
    expect(field(f, "last_name").locator("label")).to_have_text("姓氏 *")
    expect(field(f, "email").locator("label")).to_have_text("電子郵件 *")
    expect(f.locator("button[type=submit]")).to_have_text("送出")

    f.locator("[name=last_name]").fill("陳")
    f.locator("[name=email]").fill("chen@")
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 422
    expect(field(f, "email").locator(".ll-error")).to_have_text(ZH["email"])
    expect(f.locator(".ll-alert")).to_have_text(ZH["fix_errors"])

    f.locator("[name=email]").fill("chen@example.com")
    f.locator("button[type=submit]").dblclick()  # the button is disabled while sending: one request
    expect(page.locator(".leadline-form .ll-thanks")).to_have_text(ZH["thanks"])
    assert len(posts) == 2, posts
    rows = stored(engine, form)
    assert [(lead.last_name, lead.email) for lead in rows.leads] == [("陳", "chen@example.com")]
    assert len(rows.submissions) == 1


@pytest.fixture
def strict_server(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The web app with the deployment's real kind of limit: two submissions a minute from one address."""
    from crm_store.config import load_config
    from webform import create_app

    monkeypatch.setenv("CRM_RATELIMIT_PER_IP", "2/minute")
    strict = create_app(load_config())
    server = LiveServer(strict)
    yield server
    server.close()
    strict.extensions["leadline"].engine.dispose()


def test_embed_tells_a_rate_limited_visitor_to_wait(
    tab: Tab, strict_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Embedded inquiry", allowed=[site.origin])
    url = site.put("/contact", html_page("Contact us", embed_tag(strict_server, form.public_id)))
    page = tab.page
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if is_api_post(r) else None)
    for i in range(3):
        page.goto(url)
        f = embedded(page)
        f.locator("[name=last_name]").fill(f"Visitor {i}")
        f.locator("[name=email]").fill(f"visitor{i}@example.com")
        f.locator("button[type=submit]").click()
        if i < 2:
            expect(page.locator(".leadline-form .ll-thanks")).to_be_visible()
    alert = page.locator(".leadline-form .ll-alert")
    expect(alert).to_be_visible()
    assert len(stored(engine, form).leads) == 2  # the third was refused
    assert statuses[:2] == [201, 201]
    expect(alert).to_have_text(EN["too_many"], timeout=500)  # the alert's text is final once it shows


def test_embed_asks_for_consent(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    form = make_form("Consent inquiry", allowed=[site.origin], consent_text="You may store my data to answer me.")
    url = site.put("/contact", html_page("Contact us", embed_tag(crm_server, form.public_id)))
    page = tab.page
    page.goto(url)

    f = embedded(page)
    f.locator("[name=last_name]").fill("Tsai")
    f.locator("[name=email]").fill("tsai@example.com")
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 422
    consent = f.locator(".ll-consent")
    expect(consent).to_contain_text("You may store my data to answer me.")
    expect(consent.locator(".ll-error")).to_have_text(EN["consent"])
    assert count_all(engine) == (0, 0)

    consent.locator("[name=consent]").check()
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 201, answer.value.text()
    expect(page.locator(".leadline-form .ll-thanks")).to_be_visible()
    rows = stored(engine, form)
    assert len(rows.leads) == 1
    assert rows.leads[0].consent_text == "You may store my data to answer me."
    assert rows.leads[0].consent_at is not None
    assert rows.submissions[0].consent_text == "You may store my data to answer me."


def test_embed_consent_error_is_tied_to_the_checkbox(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any,
) -> None:
    form = make_form("Consent inquiry", allowed=[site.origin], consent_text="You may store my data to answer me.")
    url = site.put("/contact", html_page("Contact us", embed_tag(crm_server, form.public_id)))
    page = tab.page
    page.goto(url)
    f = embedded(page)
    f.locator("[name=last_name]").fill("Tsai")
    f.locator("[name=email]").fill("tsai@example.com")
    with page.expect_response(is_api_post):
        f.locator("button[type=submit]").click()
    box = f.locator("[name=consent]")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_accessible_description(EN["consent"], timeout=500)  # set with aria-invalid


def test_hosted_page_with_consent_returns_to_the_customer_site(
    new_tab: Any, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine,
) -> None:
    """No JavaScript; the form's return_url is on the customer's site (CSP form-action must let the redirect go)."""
    form = make_form(
        "Consent inquiry", allowed=[site.origin], consent_text="You may store my data to answer me.",
        return_url=site.origin + "/thank-you",
    )
    back = site.put("/thank-you", html_page("Thanks from ACME"))
    tab = new_tab(java_script_enabled=False)
    page = tab.page
    page.goto(crm_server.url(f"/forms/{form.public_id}"))
    page.fill("[name=last_name]", "Tsai")
    page.fill("[name=email]", "tsai@example.com")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    assert nav.value is not None and nav.value.status == 422
    expect(field(page, "consent").locator(".ll-error")).to_have_text(EN["consent"])
    expect(page.locator("[name=last_name]")).to_have_value("Tsai")

    page.check("[name=consent]")
    with page.expect_navigation(url=back):
        page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Thanks from ACME")
    assert not any("form-action" in m for m in tab.console), tab.console

    rows = stored(engine, form)
    assert [(lead.last_name, lead.consent_text) for lead in rows.leads] == [
        ("Tsai", "You may store my data to answer me.")
    ]
    assert [s.outcome for s in rows.submissions] == ["new_lead"]


# -- the error summary and the required marks ------------------------------------------------------


def _above(page: Page, upper: Any, lower: Any) -> bool:
    """Whether `upper` comes before `lower` in the document and is drawn above it."""
    first, second = upper.bounding_box(), lower.bounding_box()
    assert first is not None and second is not None
    before = upper.evaluate("(a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING)",
                            lower.element_handle())
    return before and first["y"] + first["height"] <= second["y"]


CONSENT = {"en": "You may store my data to answer me.", "zh_Hant": "我同意貴公司儲存我的資料以回覆我的詢問。"}


def _required_mark(scope: Any, name: str) -> Any:
    mark = field(scope, name).locator("label .ll-req")
    expect(mark).to_have_text("*")
    expect(mark).to_be_visible()
    return mark.evaluate("el => getComputedStyle(el).color")


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_embed_error_summary_is_above_the_fields_and_consent_is_marked_required(
    tab: Tab, crm_server: LiveServer, site: CustomerSite, make_form: Any, engine: Engine, tmp_path: Any,
    language: str,
) -> None:
    words = EN if language == "en" else ZH
    form = make_form("Consent inquiry", allowed=[site.origin], language=language, consent_text=CONSENT[language])
    url = site.put("/contact", html_page("Contact us", embed_tag(crm_server, form.public_id)))
    page = tab.page
    page.set_viewport_size({"width": 800, "height": 1100})
    page.goto(url)

    f = embedded(page)
    red = _required_mark(f, "last_name")
    assert red == "rgb(200, 30, 30)"
    assert _required_mark(f, "consent") == red
    expect(field(f, "first_name").locator(".ll-req")).to_have_count(0)
    with page.expect_response(is_api_post) as answer:
        f.locator("button[type=submit]").click()
    assert answer.value.status == 422

    alert = f.locator(".ll-alert")
    expect(alert).to_have_text(words["fix_errors"])
    assert _above(page, alert, f.locator(".ll-field").first)
    page.screenshot(path=str(tmp_path / f"embed_{language}_errors.png"), full_page=True)
    assert count_all(engine) == (0, 0)


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_hosted_page_marks_required_consent_like_other_required_fields(
    tab: Tab, crm_server: LiveServer, make_form: Any, engine: Engine, tmp_path: Any, language: str,
) -> None:
    words = EN if language == "en" else ZH
    form = make_form("Consent inquiry", language=language, consent_text=CONSENT[language])
    page = tab.page
    page.set_viewport_size({"width": 800, "height": 1100})
    page.goto(crm_server.url(f"/forms/{form.public_id}"))

    red = _required_mark(page, "last_name")
    assert _required_mark(page, "consent") == red
    with page.expect_navigation():
        page.click("button[type=submit]")
    expect(page.locator(".ll-alert")).to_have_text(words["fix_errors"])
    assert _above(page, page.locator(".ll-alert"), page.locator(".ll-field").first)
    expect(field(page, "consent").locator(".ll-error")).to_have_text(words["consent"])
    page.screenshot(path=str(tmp_path / f"hosted_{language}_errors.png"), full_page=True)
    assert count_all(engine) == (0, 0)
