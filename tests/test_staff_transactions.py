"""An account's Transactions tab through the real app (SQLite and PostgreSQL): what it was offered, ordered,
billed and paid, what it still owes and the products it bought — seen by whoever sees the account, and a
document the viewer may not open listed without its link; a busy account's transactions a page at a time (newest
first, "Older" / "Newer"), its summary and its products bought over all of them. Pages are parsed
(`tests/staff_support.py`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Account
from crm_store.sales import documents, payments, purchases

from .sales_support import add_product, make_shop, two_lines
from .staff_support import Page
from .test_staff_records import Crew, make_crew, signed_in

ACTOR = Actor.system("test")
NUMBER = re.compile(r"\b(?:QUO|SO|INV)\d+\b")


@dataclass(frozen=True)
class History:
    """The account's documents, as plain values."""

    account: str
    quote: str
    invoice: str  # the rep's: two lines, 1,000 paid
    invoice_due: D
    other: str  # rep_c's invoice on the same account: one widget, paid in full
    cancelled: str


@pytest.fixture
def crew(session: Session) -> Crew:
    return make_crew(session)


@pytest.fixture
def history(session: Session, crew: Crew) -> History:
    """The rep's account: a quote, the rep's invoice (part paid), rep_c's invoice (paid), a cancelled invoice."""
    shop = make_shop(session)
    account: Account = shop.account
    account.owner_id = crew.ids["rep"]

    def doc(module: str, who: str, lines: list[dict[str, Any]], **values: Any) -> Any:
        header = {"subject": f"{module} of {who}", "account_id": account.id, "owner_id": crew.ids[who], **values}
        return documents.create(session, module, header, lines, ACTOR).document

    quote = doc("quotes", "rep", two_lines(shop))
    invoice = doc("invoices", "rep", two_lines(shop), invoice_date=dt.date(2026, 3, 2))
    payments.add_payment(session, invoice, {"paid_on": "2026-03-05", "amount": "1000", "method": "Cash"}, ACTOR)
    other = doc("invoices", "rep_c", [{"product": "WID-1", "quantity": "1"}], invoice_date=dt.date(2026, 4, 1))
    payments.add_payment(session, other, {"paid_on": "2026-04-02", "amount": str(other.grand_total)}, ACTOR)
    cancelled = doc("invoices", "rep", [{"product": "GAD-2", "quantity": "5"}], invoice_date=dt.date(2026, 4, 3),
                    status="Cancel")
    found = History(account.account_no, quote.quote_no, invoice.invoice_no, invoice.balance, other.invoice_no,
                    cancelled.invoice_no)
    session.commit()
    return found


def rows(page: Page, table_id: str) -> list[list[str]]:
    return [[td.text for td in tr.all("td")] for tr in page.by_id(table_id).find("tbody").all("tr")]


@pytest.mark.parametrize(("role", "seen"), [("rep", True), ("manager", True), ("admin", True), ("rep_b", False),
                                            ("rep_c", False)])
def test_the_tab_is_seen_with_the_account(client: Any, crew: Crew, history: History, role: str, seen: bool) -> None:
    staff = signed_in(client, crew, role)
    staff.get(f"/accounts/{history.account}/transactions")
    assert staff.status == (200 if seen else 404)
    staff.get(f"/accounts/{history.account}")
    assert staff.status == (200 if seen else 404)


def test_the_account_page_has_its_tabs(client: Any, crew: Crew, history: History) -> None:
    staff = signed_in(client, crew, "rep")
    page = staff.get(f"/accounts/{history.account}")
    tabs = page.find("nav", class_="tabs").all("a")
    assert [(a.text, a.attrs["href"], a.attrs.get("aria-current")) for a in tabs] == [
        ("Details", f"/accounts/{history.account}", "page"),
        ("Transactions", f"/accounts/{history.account}/transactions", None)]
    page = staff.get(tabs[1].attrs["href"])
    assert page.find("nav", class_="tabs").find("a", aria_current="page").text == "Transactions"


def test_what_when_how_much_and_paid_or_not(client: Any, crew: Crew, history: History) -> None:
    staff = signed_in(client, crew, "rep")
    page = staff.get(f"/accounts/{history.account}/transactions")
    assert page.find("h1").text == "台北貿易股份有限公司"
    table = page.by_id("transactions").find("tbody").all("tr")
    kinds = [tr.attrs["class"].split("--")[-1] for tr in table]
    assert kinds.count("quote") == 1 and kinds.count("invoice") == 3 and kinds.count("payment") == 2
    by_number = {tr.all("td")[1].find("strong").text + " " + NUMBER.findall(tr.all("td")[1].text)[0]: tr
                 for tr in table if "payment" not in tr.attrs["class"]}
    mine = by_number[f"Invoice {history.invoice}"]
    assert mine.all("td")[0].text == "Mar 2, 2026"
    assert mine.all("td")[2].find(class_="badge").text == "Unpaid"
    assert mine.all("td")[2].find(class_="table__sub").text == f"{history.invoice_due:,.0f} TWD due"
    assert "Widget 小工具 × 3, Gadget × 2" in mine.all("td")[1].text
    assert by_number[f"Invoice {history.other}"].all("td")[2].text == "Paid"
    assert by_number[f"Invoice {history.cancelled}"].all("td")[2].text == "Cancel"
    payment = next(tr for tr in table if "payment" in tr.attrs["class"] and history.invoice in tr.text)
    assert payment.all("td")[0].text == "Mar 5, 2026" and payment.all("td")[3].text == "+1,000 TWD"
    assert "Cash" in payment.all("td")[1].text

    count, *owed = page.find("ul", class_="tiles").all("li")
    assert count.find(class_="tile__value").text == "6" and len(table) == 6
    assert [li.find(class_="tile__value").text for li in owed] == [f"{history.invoice_due:,.0f} TWD"]
    assert owed[0].find(class_="tile__label").text == "Still to pay on 1 invoice"
    assert not page.by_id("transactions").all("nav", class_="pager")  # one page: no paging links


def test_products_bought_on_live_invoices(client: Any, crew: Crew, history: History) -> None:
    staff = signed_in(client, crew, "manager")
    page = staff.get(f"/accounts/{history.account}/transactions")
    # the widget: 3 at 1,250 less 10 % (3,375) and 1 at 1,250; the gadget: 2 at 333 less 66; the cancelled 5 left out
    assert rows(page, "bought") == [
        ["Widget 小工具 PRO1", "4", "4,625 TWD", "Apr 1, 2026 on 2 invoices"],
        ["Gadget PRO2", "2", "600 TWD", "Mar 2, 2026 on 1 invoice"],
    ]
    assert page.by_id("bought").find("a").attrs["href"] == "/products/PRO1"


def test_a_document_the_viewer_may_not_open_is_listed_without_its_link(client: Any, crew: Crew,
                                                                       history: History) -> None:
    rep = signed_in(client, crew, "rep")
    links = {a.text: a.attrs["href"] for a in rep.get(f"/accounts/{history.account}/transactions")
             .by_id("transactions").all("a")}
    assert links[history.invoice] == f"/invoices/{history.invoice}"
    assert links[history.quote] == f"/quotes/{history.quote}"
    assert history.other not in links  # rep_c's invoice: listed, not linked

    admin = signed_in(client.application.test_client(), crew, "admin")
    links = {a.text: a.attrs["href"] for a in admin.get(f"/accounts/{history.account}/transactions")
             .by_id("transactions").all("a")}
    assert links[history.other] == f"/invoices/{history.other}"


def test_an_account_without_transactions(client: Any, session: Session, crew: Crew) -> None:
    from .test_staff_records import record_of

    number = record_of(session, crew, "accounts", "rep", "Quiet Co")
    staff = signed_in(client, crew, "rep")
    page = staff.get(f"/accounts/{number}/transactions")
    assert staff.status == 200 and page.find(class_="empty__title").text == "No transactions yet"


# -- a busy account: its transactions a page at a time -------------------------------------------------------------

@dataclass(frozen=True)
class Busy:
    """An account with 52 invoices (one line each, of 22 products) and 26 payments: 78 transactions."""

    account: str
    newest_first: list[tuple[str, str]]  # (kind, invoice number), in the order the tab must list them
    owed: D  # over all its unpaid invoices
    unpaid: int
    products: list[str]  # product names, the largest amount first


@pytest.fixture
def busy(session: Session, crew: Crew) -> Busy:
    """Invoice i (0..51) dated 2025-01-01 + 3i days, of product i % 22 at 100 + 10i; the even ones paid in full
    two days later (so each payment comes after its invoice and before the next)."""
    shop = make_shop(session)
    account: Account = shop.account
    account.owner_id = crew.ids["rep"]
    made = [add_product(session, f"SKU-{k:02}", f"Part {k:02}", "100", None, [], shop.twd, kind="service")
            for k in range(22)]
    order: list[tuple[str, str]] = []
    owed, unpaid = D(0), 0
    amounts: dict[str, D] = {}
    for i in range(52):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=3 * i)
        product = made[i % 22]
        line = {"product": product.product_no, "quantity": "1", "list_price": str(100 + 10 * i)}
        invoice = documents.create(session, "invoices", {"subject": f"Order {i}", "account_id": account.id,
                                                         "owner_id": crew.ids["rep"], "invoice_date": day},
                                   [line], ACTOR).document
        amounts[product.name] = amounts.get(product.name, D(0)) + invoice.subtotal
        order.append(("invoice", invoice.invoice_no))
        if i % 2 == 0:
            payments.add_payment(session, invoice, {"paid_on": str(day + dt.timedelta(days=2)),
                                                    "amount": str(invoice.grand_total)}, ACTOR)
            order.append(("payment", invoice.invoice_no))
        else:
            owed, unpaid = owed + invoice.balance, unpaid + 1
    session.commit()
    ranked = sorted(amounts, key=lambda name: (-amounts[name], name))
    return Busy(account.account_no, order[::-1], owed, unpaid, ranked)


def listed(page: Page) -> list[tuple[str, str]]:
    """(kind, invoice number) of each row of the transactions table, in order."""
    return [(tr.attrs["class"].split("--")[-1], NUMBER.findall(tr.all("td")[1].text)[0])
            for tr in page.by_id("transactions").find("tbody").all("tr")]


def test_the_newest_page_first_and_the_older_ones_follow_on(client: Any, crew: Crew, busy: Busy) -> None:
    staff = signed_in(client, crew, "rep")
    first = staff.get(f"/accounts/{busy.account}/transactions")
    assert listed(first) == busy.newest_first[:50]
    assert first.find(class_="transactions__range").text == "1–50 of 78, newest first"
    pager = first.by_id("transactions").find("nav", class_="pager")
    assert [(a.text, a.attrs["rel"]) for a in pager.all("a")] == [("Older →", "next")]
    older = pager.find("a", rel="next").attrs["href"]
    assert older == f"/accounts/{busy.account}/transactions?page=2"

    second = staff.get(older)
    assert listed(second) == busy.newest_first[50:]  # no gap, no repeat
    assert second.find(class_="transactions__range").text == "51–78 of 78, newest first"
    pager = second.by_id("transactions").find("nav", class_="pager")
    assert [(a.text, a.attrs["href"]) for a in pager.all("a")] == [
        ("← Newer", f"/accounts/{busy.account}/transactions")]


def test_the_summary_and_products_cover_every_transaction_not_the_page(client: Any, crew: Crew, busy: Busy) -> None:
    staff = signed_in(client, crew, "rep")
    for path in ("", "?page=2"):
        page = staff.get(f"/accounts/{busy.account}/transactions{path}")
        tiles = page.find("ul", class_="tiles").all("li")
        assert tiles[0].find(class_="tile__value").text == "78"
        assert tiles[0].find(class_="tile__label").text == "Transactions in all"
        assert [li.find(class_="tile__value").text for li in tiles[1:]] == [f"{busy.owed:,.0f} TWD"]
        assert tiles[1].find(class_="tile__label").text == f"Still to pay on {busy.unpaid} invoices"
        assert [r[0].rsplit(" ", 1)[0] for r in rows(page, "bought")] == busy.products[:20]
        assert page.find(class_="bought__more").text == (
            "The largest amounts first; 2 more products bought for less are not shown.")


@pytest.mark.parametrize("asked", ["99", "3"])
def test_a_page_past_the_last_shows_the_last(client: Any, crew: Crew, busy: Busy, asked: str) -> None:
    staff = signed_in(client, crew, "rep")
    page = staff.get(f"/accounts/{busy.account}/transactions?page={asked}")
    assert staff.status == 200
    assert listed(page) == busy.newest_first[50:]
    assert page.by_id("transactions").find("a", rel="prev").attrs["href"] == f"/accounts/{busy.account}/transactions"


@pytest.mark.parametrize("asked", ["0", "-1", "two", ""])
def test_a_page_that_is_not_a_page_number_shows_the_first(client: Any, crew: Crew, busy: Busy, asked: str) -> None:
    staff = signed_in(client, crew, "rep")
    page = staff.get(f"/accounts/{busy.account}/transactions?page={asked}")
    assert staff.status == 200 and listed(page) == busy.newest_first[:50]


def test_the_store_pages_in_a_stable_order(session: Session, busy: Busy) -> None:
    account = session.query(Account).filter_by(account_no=busy.account).one()
    seen = []
    for number in range(1, 10):
        got = purchases.transactions_page(session, account, number, per_page=9)
        assert (got.number, got.pages, got.count) == (number, 9, 78)
        seen += [(t.kind, t.number) for t in got.transactions]
    assert seen == busy.newest_first
    assert purchases.transactions_page(session, account, 10, per_page=9).number == 9
    top = purchases.top_purchases(session, account, limit=5)
    assert [p.name for p in top.shown] == busy.products[:5] and top.more == 17
    assert purchases.top_purchases(session, account, limit=22).more == 0


def test_the_tab_in_chinese(client: Any, crew: Crew, busy: Busy) -> None:
    staff = signed_in(client, crew, "rep")
    path = f"/accounts/{busy.account}/transactions?page=2"
    staff.get("/profile")
    staff.post("/language", {"language": "zh_Hant", "next": path})
    page = staff.get(path)
    assert page.find(class_="transactions__range").text == "第 51–78 筆（共 78 筆，最新的在前）"
    assert page.find("ul", class_="tiles").find("li").find(class_="tile__label").text == "交易總數"
    assert page.find(class_="bought__more").text == "依金額由大到小；另有 2 項金額較小的產品未列出。"
    assert page.by_id("transactions").find("a", rel="prev").text == "← 較新"
