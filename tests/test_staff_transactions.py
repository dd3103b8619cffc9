"""An account's Transactions tab through the real app (SQLite and PostgreSQL): what it was offered, ordered,
billed and paid, what it still owes and the products it bought — seen by whoever sees the account, and a
document the viewer may not open listed without its link. Pages are parsed (`tests/staff_support.py`).
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
from crm_store.sales import documents, payments

from .sales_support import make_shop, two_lines
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

    owed = page.find("ul", class_="tiles").all("li")
    assert [li.find(class_="tile__value").text for li in owed] == [f"{history.invoice_due:,.0f} TWD"]
    assert owed[0].find(class_="tile__label").text == "Still to pay on 1 invoice"


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
