"""The header's search finds quotes, sales orders and invoices, in the app's scope, through the real app (SQLite
and PostgreSQL): a rep finds their own documents by number and by subject, never another rep's.

Pages are parsed (`tests/staff_support.py`); the documents are made by the store, which indexes them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.records import registry
from crm_store.sales import documents
from crm_store.search import query

from .sales_support import Shop, make_shop, two_lines
from .test_staff_records import Crew, make_crew, signed_in


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; the manager "Boss"; rep (Rep A, Boss's report) and rep_b in the team North; rep_c on their own."""
    return make_crew(session)


@pytest.fixture
def shop(session: Session, crew: Crew) -> Shop:
    return make_shop(session)


def document(session: Session, crew: Crew, shop: Shop, module: str, who: str, subject: str) -> str:
    """A document of the shop's two lines owned by `who` (a crew key), committed; its number."""
    values: dict[str, Any] = {"subject": subject, "account_id": shop.account.id, "owner_id": crew.ids[who]}
    if module == "invoices":
        values["invoice_date"] = dt.date(2026, 4, 1)
    saved = documents.create(session, module, values, two_lines(shop), Actor.user(crew.ids[who]))
    number = str(getattr(saved.document, registry.get(module).number_field))
    session.commit()
    return number


def result_links(page: Any) -> dict[str, str]:
    """The results table's rows: each record's link text (its title) -> its path."""
    return {a.text: a.attrs["href"] for row in page.all("tr") for a in row.all("a")}


@pytest.fixture(params=["postings", "own documents"])
def search_path(request: Any, monkeypatch: Any) -> str:
    """Both ways the store answers a rep's search: through the index's postings, or reading the rep's own documents."""
    if request.param == "own documents":
        monkeypatch.setattr(query, "SCOPE_FIRST", 0)
        monkeypatch.setattr(query, "OWN_DOCUMENTS", 10**9)
    else:
        monkeypatch.setattr(query, "SCOPE_FIRST", 10**9)
    return str(request.param)


def test_a_rep_finds_their_own_invoice_by_number_and_subject_and_not_another_rep_s(
        client: Any, session: Session, crew: Crew, shop: Shop, search_path: str) -> None:
    mine = document(session, crew, shop, "invoices", "rep", "Kestrel gearbox retrofit")
    theirs = document(session, crew, shop, "invoices", "rep_c", "Kestrel spare parts")
    staff = signed_in(client, crew, "rep")

    page = staff.get("/search?q=Kestrel")
    assert result_links(page) == {"Kestrel gearbox retrofit": f"/invoices/{mine}"}
    row = next(r for r in page.all("tr") if r.all("a"))
    assert [td.text.strip() for td in row.all("td")][1:] == ["Invoice", shop.account.name, "Rep A"]

    assert result_links(staff.get(f"/search?q={mine}")) == {"Kestrel gearbox retrofit": f"/invoices/{mine}"}
    assert result_links(staff.get(f"/search?q={theirs}")) == {}
    assert result_links(staff.get("/search?q=spare parts")) == {}
    fragment = staff.get("/search/suggest?q=Kestrel")
    assert [a.attrs["href"] for a in fragment.all("a")] == [f"/invoices/{mine}", "/search?q=Kestrel"]

    everyone = signed_in(client.application.test_client(), crew, "admin").get("/search?q=Kestrel")
    assert result_links(everyone) == {"Kestrel gearbox retrofit": f"/invoices/{mine}",
                                      "Kestrel spare parts": f"/invoices/{theirs}"}


def test_a_rep_finds_their_quotes_and_sales_orders_and_their_manager_does_too(
        client: Any, session: Session, crew: Crew, shop: Shop, search_path: str) -> None:
    quote = document(session, crew, shop, "quotes", "rep", "Osprey conveyor quote")
    order = document(session, crew, shop, "sales_orders", "rep", "Osprey conveyor order")
    document(session, crew, shop, "quotes", "rep_c", "Osprey rival quote")
    expected = {"Osprey conveyor quote": f"/quotes/{quote}", "Osprey conveyor order": f"/sales-orders/{order}"}

    assert result_links(signed_in(client, crew, "rep").get("/search?q=Osprey")) == expected
    manager = signed_in(client.application.test_client(), crew, "manager")
    assert result_links(manager.get("/search?q=Osprey")) == expected  # Rep A's manager; rep_c is on their own
    assert result_links(manager.get(f"/search?q={order}")) == {"Osprey conveyor order": f"/sales-orders/{order}"}
    assert manager.get(f"/sales-orders/{order}").find("h1").text.strip().startswith("Osprey conveyor order")
