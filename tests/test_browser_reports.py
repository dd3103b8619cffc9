"""The Reports pages in a real browser (Debian's Chromium via Playwright), in Traditional Chinese: a manager opens the
reports, the sales funnel (its chart drawn, the stages translated), narrows it to one of their reps with the
"Assigned to" select (the page reloads with the filter, the figures that rep's), then the customer-value page (the
RFM segments and the ABC Pareto chart) and downloads it as Excel: Chinese column headings, the manager's customers
only, the amounts as invoiced. Screenshots, at desktop and phone width, are kept in tests/artifacts/. Pages must run
without a script error or a CSP violation (the `page` fixture of tests/test_browser_staff.py).

The crew: the manager 林經理 with the reps Ann and Bob reporting to them; Cho reports to no one (outside the
manager's scope), and owns the most of everything, so that a leak would show. Every expected figure is worked out
here from the records made, never read back from the page.

Only SQLite: tests/test_staff_reports.py covers the pages' scope on both databases.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from decimal import Decimal as D
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, ViewportSize, expect
from sqlalchemy.orm import Session

from analytics.warehouse import refresh, warehouse_path
from crm_store import languages
from crm_store.models import User
from crm_store.settings import company
from crm_store.staff import passwords, users

from .analytics_support import TAIPEI, add_account, add_deal, add_invoice, add_service
from .browser_support import LiveServer
from .test_browser_documents import sign_in
from .test_browser_staff import CHOSEN, browser, crm_server, page, playwright, shoot  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("template", ["sqlite"], indirect=True)
PHONE: ViewportSize = {"width": 390, "height": 844}
WIDE: ViewportSize = {"width": 1280, "height": 800}

# The default process's open stages in order, then its won stage: the funnel's rows (Closed Lost is not one).
STEPS = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
         "Perception Analysis", "Proposal or Price Quote", "Negotiation or Review", "Closed Won")

# Each deal: its owner and the stages it moved through after its first (Prospecting), one day apart.
DEALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Ann 1": ("ann", ("Qualification", "Needs Analysis")),
    "Ann 2": ("ann", ("Qualification", "Needs Analysis", "Proposal or Price Quote", "Closed Won")),
    "Ann 3": ("ann", ("Qualification", "Closed Lost")),
    "Bob 1": ("bob", ()),
    "Bob 2": ("bob", ("Qualification", "Value Proposition", "Negotiation or Review", "Closed Won")),
    "Mgr 1": ("manager", ("Qualification",)),
    "Cho 1": ("cho", ("Qualification", "Needs Analysis", "Closed Won")),
    "Cho 2": ("cho", ("Closed Won",)),
    "Cho 3": ("cho", ("Qualification", "Needs Analysis", "Value Proposition")),
    "Cho 4": ("cho", ()),
}

# Each account: its owner and its invoices (days before today, amount); a service line without tax, so an
# invoice's grand total is its amount.
ACCOUNTS: dict[str, tuple[str, tuple[tuple[int, int], ...]]] = {
    "大明貿易股份有限公司": ("ann", ((10, 3000), (40, 2000), (100, 5000))),
    "新竹科技有限公司": ("manager", ((5, 1500), (60, 3000))),
    "長春企業社": ("bob", ((200, 2400),)),
    "台南食品行": ("manager", ((300, 500), (400, 300))),  # one more than a year back: all history counts
    "高雄鋼鐵股份有限公司": ("cho", ((3, 50000), (20, 40000), (90, 30000))),
}


def zh(msgid: str) -> str:
    return languages.translate("zh_Hant", msgid)


def reached(owners: set[str]) -> list[int]:
    """The funnel's "Deals reached" per row for the deals of `owners`: a deal counts for every row up to its furthest
    (Closed Lost is no row; every deal starts in Prospecting)."""
    furthest = [max(STEPS.index(s) for s in ("Prospecting", *moves) if s in STEPS)
                for owner, moves in DEALS.values() if owner in owners]
    return [sum(1 for f in furthest if f >= step) for step in range(len(STEPS))]


def ntile5(ordered: Sequence[str]) -> dict[str, int]:
    """DuckDB's ntile(5) over rows already in order: buckets of n // 5, the first n % 5 of them one larger."""
    size, extra = divmod(len(ordered), 5)
    tiles: dict[str, int] = {}
    i = 0
    for bucket in range(1, 6):
        for _ in range(size + (1 if bucket <= extra else 0)):
            tiles[ordered[i]] = bucket
            i += 1
    return tiles


def customer_values(owners: set[str], numbers: dict[str, str]) -> dict[str, tuple[D, int, str, str]]:
    """Per account name in `owners`' scope: revenue, purchases, RFM segment and ABC class, per the report's rules."""
    mine = {name: invoices for name, (owner, invoices) in ACCOUNTS.items() if owner in owners}
    revenue = {name: D(sum(amount for _days, amount in invoices)) for name, invoices in mine.items()}
    count = {name: len(invoices) for name, invoices in mine.items()}
    recency = {name: min(days for days, _amount in invoices) for name, invoices in mine.items()}
    r = ntile5(sorted(mine, key=lambda n: (-recency[n], numbers[n])))
    f = ntile5(sorted(mine, key=lambda n: (count[n], numbers[n])))
    m = ntile5(sorted(mine, key=lambda n: (revenue[n], numbers[n])))
    total, before = sum(revenue.values()), D(0)
    abc: dict[str, str] = {}
    for name in sorted(mine, key=lambda n: (-revenue[n], numbers[n])):
        abc[name] = "A" if before * 100 < total * 80 else "B" if before * 100 < total * 95 else "C"
        before += revenue[name]

    def segment(n: str) -> str:
        if r[n] >= 4 and f[n] >= 4 and m[n] >= 4:
            return "Champions"
        if r[n] <= 2 and f[n] >= 4 and m[n] >= 4:
            return "Can't lose"
        if f[n] >= 4:
            return "Loyal"
        if r[n] <= 2 and f[n] >= 3:
            return "At risk"
        if r[n] >= 4 and f[n] == 1:
            return "New"
        if r[n] >= 3:
            return "Potential loyalist"
        return "Lost" if r[n] == 1 else "Hibernating"

    return {n: (revenue[n], count[n], segment(n), abc[n]) for n in mine}


def drawn(tab: Page, figure: str) -> None:
    """The chart in `figure` is an inline SVG with a size on the page."""
    svg = tab.locator(f"{figure} svg").first
    expect(svg).to_be_visible()
    box = svg.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50, (figure, box)


def column(tab: Page, n: int) -> list[str]:
    """The report table's `n`th column (from 0), as shown."""
    return [c.strip() for c in tab.locator(f".report-table tbody tr td:nth-child({n + 1})").all_inner_texts()]


def test_a_manager_reads_the_funnel_and_customer_value_in_chinese_filters_and_downloads_excel(
    page: Page, crm_server: LiveServer, session: Session, env: dict[str, str]  # noqa: F811 - the fixtures
) -> None:
    company.set_value(session, "time_zone", "Asia/Taipei")
    manager = users.add_user(session, "lin@leadline.test", "林經理", role="manager", language="zh_Hant", welcome=False)
    passwords.set_password(session, manager, CHOSEN)
    crew: dict[str, User] = {"manager": manager}
    for key, name in (("ann", "Ann 陳"), ("bob", "Bob 王")):
        crew[key] = users.add_user(session, f"{key}@leadline.test", name, manager_email=manager.email, welcome=False)
    crew["cho"] = users.add_user(session, "cho@leadline.test", "Cho 張", welcome=False)

    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    for name, (owner, moves) in DEALS.items():
        add_deal(session, name, crew[owner], start, [(stage, start + dt.timedelta(days=i)) for i, stage in
                                                      enumerate(moves, 1)], amount="1000")
    service = add_service(session, "SVC-1", "顧問服務 Consulting")
    today = dt.datetime.now(TAIPEI).date()  # the reports' "as of" day: today on the company's clock
    numbers: dict[str, str] = {}
    for name, (owner, invoices) in ACCOUNTS.items():
        account = add_account(session, name, crew[owner])
        numbers[name] = account.account_no
        for days, amount in invoices:
            add_invoice(session, account, today - dt.timedelta(days=days), [(service, "1", str(amount))])
    session.commit()
    ann_id = str(crew["ann"].id)
    session.rollback()
    refresh(env["CRM_DATABASE_URL"], warehouse_path(Path(env["CRM_DATA_DIR"])))
    team = {"manager", "ann", "bob"}

    sign_in(page, crm_server, "lin@leadline.test", "/reports")
    expect(page.locator("h1")).to_have_text("報表")
    cards = page.locator(".report-card__title")
    expect(cards.filter(has_text=zh("Sales funnel"))).to_have_count(1)
    expect(cards.filter(has_text=zh("Customer value"))).to_have_count(1)
    assert all(re.search(r"[\u4e00-\u9fff]", t) for t in cards.all_inner_texts()), cards.all_inner_texts()
    shoot(page, "reports_index_zh_Hant")

    page.locator("a.report-card__link", has_text=zh("Sales funnel")).click()
    page.wait_for_url(crm_server.url("/reports/funnel"))
    expect(page.locator("h1")).to_have_text(zh("Sales funnel"))
    drawn(page, "figure.report-chart#chart-funnel-reached")
    expect(page.locator("figure.report-chart figcaption")).to_have_text(zh("Deals reached by stage"))
    assert column(page, 0) == [zh(s) for s in STEPS]
    assert column(page, 0)[0] == "開發中"
    expect(page.get_by_label(zh("Sales process")).locator("option:checked")).to_have_text(zh("Standard Sales"))
    assert column(page, 1) == [str(n) for n in reached(team)]
    shoot(page, "reports_funnel_zh_Hant")

    with page.expect_navigation():
        page.get_by_label("負責人").select_option(label="Ann 陳")  # reports.js submits the form on change
    assert parse_qs(urlparse(page.url).query).get("owner") == [ann_id], page.url
    expect(page.get_by_label("負責人")).to_have_value(ann_id)
    assert column(page, 1) == [str(n) for n in reached({"ann"})]
    assert column(page, 1)[0] == "3"  # Ann's three deals, not the team's six
    drawn(page, "figure.report-chart#chart-funnel-reached")
    shoot(page, "reports_funnel_ann_zh_Hant")
    page.set_viewport_size(PHONE)
    shoot(page, "reports_funnel_phone_zh_Hant")
    page.set_viewport_size(WIDE)

    page.goto(crm_server.url("/reports/customer-value"))
    expect(page.locator("h1")).to_have_text(zh("Customer value"))
    drawn(page, "figure.report-chart#chart-customer-value-segments")
    drawn(page, "figure.report-chart#chart-customer-value-pareto")
    expect(page.locator("figure.report-chart")).to_have_count(2)
    expected = customer_values(team, numbers)
    expect(page.locator(".report-period")).to_contain_text(zh("Period: all history"))  # no period: all of it
    headings = page.locator(".report-table thead th").all_inner_texts()
    shown = dict(zip(column(page, headings.index(zh("Account"))), column(page, headings.index(zh("RFM segment"))),
                     strict=True))
    assert shown == {name: zh(segment) for name, (_r, _f, segment, _abc) in expected.items()}
    assert "高雄鋼鐵股份有限公司" not in page.locator(".report-table").inner_text()
    shoot(page, "reports_customer_value_zh_Hant")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="下載 Excel").click()
    download = waiting.value
    assert download.suggested_filename == f"customer-value-{today.isoformat()}.xlsx"
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert sheet is not None
    header = [str(c.value) for c in sheet[1]]
    for msgid in ("Customer no.", "Account", "Revenue", "Purchases", "RFM segment", "ABC class"):
        assert zh(msgid) in header, (msgid, header)
    at = {h: i for i, h in enumerate(header)}
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    got = {row[at[zh("Account")]]: (D(str(row[at[zh("Revenue")]])), row[at[zh("Purchases")]],
                                    row[at[zh("RFM segment")]], row[at[zh("ABC class")]]) for row in rows}
    assert set(got) == set(expected)  # the manager's customers only: not Cho's
    for name, (revenue, purchases, segment, abc) in expected.items():
        assert got[name][:2] == (revenue, purchases) and got[name][3] == abc, (name, got[name])
        assert got[name][2] in (segment, zh(segment)), (name, got[name])  # the workbook may keep the English value
    assert sorted(c for *_x, c in expected.values()) == ["A", "A", "B", "C"]  # the data does exercise the classes
    assert {row[at[zh("Customer no.")]] for row in rows} == {numbers[n] for n in expected}

    page.set_viewport_size(PHONE)
    drawn(page, "figure.report-chart#chart-customer-value-pareto")
    shoot(page, "reports_customer_value_phone_zh_Hant")
    page.set_viewport_size(WIDE)
