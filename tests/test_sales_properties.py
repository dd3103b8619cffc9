"""Properties of saved documents, over many generated ones: the grand total is the recomputation of its stored
parts, re-saving changes nothing, conversions keep the totals, and an invoice cancelled gives back all its stock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import AuditEntry, Product
from crm_store.records import lifecycle
from crm_store.sales import conversions, documents
from crm_store.settings import company
from tests.sales_support import Shop, count, make_shop, recomputed

ACTOR = Actor.system("test")
EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TOTALS = ("subtotal", "overall_discount", "shipping_amount", "shipping_tax", "pre_tax_total", "tax_total",
          "adjustment", "grand_total", "taxes", "shipping_taxes")

quantities = st.decimals(min_value=D("0.001"), max_value=D("500"), places=3)
prices = st.none() | st.decimals(min_value=D(0), max_value=D("20000"), places=2)


@st.composite
def lines(draw: Callable[..., Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"product": draw(st.sampled_from(["WID-1", "GAD-2", "SVC-1"])),
                            "quantity": draw(quantities), "list_price": draw(prices)}
    kind = draw(st.sampled_from([None, "percent", "amount"]))
    if kind == "percent":
        line |= {"discount_kind": kind, "discount_value": draw(st.decimals(D(0), D(100), places=3))}
    elif kind == "amount":
        line |= {"discount_kind": kind, "discount_value": draw(st.decimals(D(0), D(50), places=2))}
    return line


@st.composite
def headers(draw: Callable[..., Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"tax_mode": draw(st.sampled_from(["individual", "group"])),
                              "currency": draw(st.sampled_from(["TWD", "USD"])),
                              "shipping_amount": draw(st.decimals(D(0), D(500), places=2)),
                              "adjustment": draw(st.decimals(D(-5), D(500), places=2))}
    if draw(st.booleans()):
        values["discount_percent"] = draw(st.decimals(D(0), D(100), places=3))
    return values


@pytest.fixture
def shop(session: Session) -> Shop:
    return make_shop(session)


@contextmanager
def example(session: Session) -> Iterator[None]:
    """One generated example, undone afterwards (the shop stays as committed)."""
    try:
        yield
    finally:
        session.rollback()


def create(session: Session, shop: Shop, module: str, values: dict[str, Any], entered: list[dict[str, Any]]) -> Any:
    try:
        return documents.create(session, module, {"subject": "Generated", "account_id": shop.account.id, **values},
                                entered, ACTOR).document
    except ValidationError as exc:
        if exc.field in ("discount", "adjustment"):  # more off than there is, or a negative grand total: not a case
            reject()
        raise


def stored(doc: Any) -> dict[str, Any]:
    return {name: getattr(doc, name) for name in TOTALS}


@EXAMPLES
@given(values=headers(), entered=st.lists(lines(), min_size=1, max_size=6), inclusive=st.booleans())
def test_the_grand_total_is_the_recomputation_of_its_stored_parts(
    session: Session, shop: Shop, values: dict[str, Any], entered: list[dict[str, Any]], inclusive: bool,
) -> None:
    with example(session):
        company.set_value(session, "prices_include_tax", inclusive)
        doc = create(session, shop, "invoices", values, entered)
        session.flush()
        session.expire_all()
        items = [item for item, _product in documents.lines_of(session, doc)]
        again = recomputed(doc, items, minor_unit=0 if values["currency"] == "TWD" else 2)
        assert doc.grand_total == again.grand_total
        assert doc.grand_total == (doc.subtotal - doc.overall_discount + doc.shipping_amount + doc.adjustment + (
            0 if doc.prices_include_tax else doc.shipping_tax + (doc.tax_total - doc.shipping_tax
                                                                 if doc.tax_mode == "group" else 0)))
        assert [(x.net, x.tax, x.total) for x in items] == [(x.net, x.tax, x.total) for x in again.lines]
        assert doc.subtotal == sum((x.total for x in items), D(0)) and doc.balance == doc.grand_total


@EXAMPLES
@given(values=headers(), entered=st.lists(lines(), min_size=1, max_size=6))
def test_resaving_an_unchanged_document_changes_nothing(
    session: Session, shop: Shop, values: dict[str, Any], entered: list[dict[str, Any]],
) -> None:
    with example(session):
        doc = create(session, shop, "quotes", values, entered)
        session.flush()
        before, audited = stored(doc), count(session, AuditEntry)
        ids = [item.id for item, _p in documents.lines_of(session, doc)]
        documents.update(session, doc, {}, actor=ACTOR)
        documents.update(session, doc, {k: v for k, v in values.items() if k != "currency"}, entered, ACTOR)
        assert stored(doc) == before and count(session, AuditEntry) == audited
        assert [item.id for item, _p in documents.lines_of(session, doc)] == ids


@EXAMPLES
@given(values=headers(), entered=st.lists(lines(), min_size=1, max_size=6))
def test_conversions_preserve_the_totals(
    session: Session, shop: Shop, values: dict[str, Any], entered: list[dict[str, Any]],
) -> None:
    with example(session):
        quote = create(session, shop, "quotes", values, entered)
        order = conversions.convert(session, quote, "sales_orders", ACTOR).document
        for copy in (order, conversions.convert(session, order, "invoices", ACTOR).document,
                     conversions.convert(session, quote, "invoices", ACTOR).document):
            assert stored(copy) == stored(quote)


@EXAMPLES
@given(entered=st.lists(lines(), min_size=1, max_size=6), then=st.lists(lines(), min_size=1, max_size=4),
       binned=st.booleans())
def test_stock_returns_to_its_start_after_create_and_cancel(
    session: Session, shop: Shop, entered: list[dict[str, Any]], then: list[dict[str, Any]], binned: bool,
) -> None:
    with example(session):
        start = dict(session.execute(select(Product.id, Product.qty_in_stock)).all())
        doc = create(session, shop, "invoices", {}, entered)
        try:
            documents.update(session, doc, {}, then, ACTOR)
        except ValidationError:
            reject()
        if binned:
            lifecycle.delete(session, doc, ACTOR)
            lifecycle.restore(session, doc, ACTOR)
        documents.update(session, doc, {"status": "Cancel"}, actor=ACTOR)
        session.flush()
        assert dict(session.execute(select(Product.id, Product.qty_in_stock)).all()) == start
