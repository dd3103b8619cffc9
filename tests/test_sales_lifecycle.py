"""The generic record paths treat quotes, orders and invoices as their own save does: bulk delete and status, the
lifecycle's create and update, undo (of a delete, an update, a merge), the recycle bin's restore and purge."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import AuditEntry, Invoice, LineItem, PriceBookPrice, Product, ProductTax, User
from crm_store.records import lifecycle, merge, recycle_bin
from crm_store.sales import documents, payments
from crm_store.staff import bulk_actions
from tests.sales_support import Shop, count, make_shop
from tests.staff_support import make_staff

ACTOR = Actor.system("test")


@pytest.fixture
def shop(session: Session) -> Shop:
    return make_shop(session)


@pytest.fixture
def admin(session: Session) -> User:
    user: User = make_staff(session)["admin"]
    session.commit()
    return user


def invoice(session: Session, shop: Shop, quantity: int = 3, **values: Any) -> Invoice:
    head = {"subject": "Widgets", "account_id": shop.account.id, **values}
    doc: Invoice = documents.create(session, "invoices", head, [{"product": "WID-1", "quantity": quantity}],
                                    ACTOR).document
    return doc


def stock(session: Session, shop: Shop) -> D:
    session.flush()
    value: D = session.scalar(select(Product.qty_in_stock).where(Product.id == shop.widget.id))
    return value


def last_entry(session: Session, module: str, record_id: int, action: str) -> AuditEntry:
    stmt = select(AuditEntry).where(AuditEntry.module == module, AuditEntry.record_id == record_id,
                                    AuditEntry.action == action).order_by(AuditEntry.id.desc())
    return session.scalars(stmt).first()  # type: ignore[return-value]  # the test made it


# -- bulk actions ------------------------------------------------------------------------------------------------

def test_bulk_delete_gives_the_invoices_stock_back_and_restore_or_undo_take_it_again(
    session: Session, shop: Shop, admin: User
) -> None:
    first, second = invoice(session, shop, 3), invoice(session, shop, 2)
    quote = documents.create(session, "quotes", {"subject": "Q", "account_id": shop.account.id},
                             [{"product": "WID-1", "quantity": 50}], ACTOR).document
    assert stock(session, shop) == D("95")
    assert bulk_actions.delete(session, admin, "invoices", [first.id, second.id]) == 2
    assert bulk_actions.delete(session, admin, "quotes", [quote.id]) == 1  # a quote never touched stock
    assert stock(session, shop) == D("100")
    session.expire_all()
    assert [session.get_one(Invoice, i).stock_deducted for i in (first.id, second.id)] == [False, False]
    lifecycle.restore(session, session.get_one(Invoice, first.id), ACTOR)
    assert stock(session, shop) == D("97")
    merge.undo(session, last_entry(session, "invoices", second.id, "delete").id, ACTOR)
    assert stock(session, shop) == D("95") and session.get_one(Invoice, second.id).deleted_at is None
    session.commit()


def test_bulk_status_is_each_invoice_s_own_save(session: Session, shop: Shop, admin: User) -> None:
    doc = invoice(session, shop, 4)
    assert bulk_actions.change_status(session, admin, "invoices", [doc.id], "Cancel") == 1
    assert stock(session, shop) == D("100") and doc.stock_deducted is False  # Cancel gives it back
    assert bulk_actions.change_status(session, admin, "invoices", [doc.id], "Approved") == 1
    assert stock(session, shop) == D("96")
    session.commit()
    with pytest.raises(ValidationError) as refused:
        bulk_actions.change_status(session, admin, "invoices", [doc.id], "Paid")  # only payments make it Paid
    assert refused.value.field == "status"
    session.rollback()
    assert session.get_one(Invoice, doc.id).status == "Approved"


# -- the lifecycle's create, update and undo -------------------------------------------------------------------

def test_the_generic_create_and_update_hand_documents_to_their_own_save(session: Session, shop: Shop) -> None:
    doc = lifecycle.create(session, "invoices", {"subject": "Generic", "account_id": shop.account.id,
                                                 "lines": [{"product": "WID-1", "quantity": 2}]})
    assert (doc.grand_total, doc.stock_deducted, stock(session, shop)) == (D("2625"), True, D("98"))  # 2500 + 5 %
    assert count(session, LineItem) == 1
    lifecycle.update(session, doc, {"status": "Cancel"})
    assert stock(session, shop) == D("100")
    lifecycle.update(session, doc, {"status": "Approved"})
    lifecycle.update(session, doc, {"lines": [{"product": "WID-1", "quantity": 5}]})
    assert (doc.grand_total, stock(session, shop)) == (D("6563"), D("95"))  # 6250 + 312.5 rounded half up (TWD)
    with pytest.raises(ValidationError) as missing:
        lifecycle.create(session, "quotes", {"subject": "No lines", "account_id": shop.account.id})
    assert missing.value.field == "lines"


def test_undoing_an_invoice_change_goes_through_its_save(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop, 3)
    documents.update(session, doc, {"status": "Cancel"}, actor=ACTOR)
    assert stock(session, shop) == D("100")
    merge.undo(session, last_entry(session, "invoices", doc.id, "update").id, ACTOR)
    assert (doc.status, doc.stock_deducted, stock(session, shop)) == ("Created", True, D("97"))
    documents.update(session, doc, {}, [{"product": "WID-1", "quantity": 1}], ACTOR)
    with pytest.raises(ValidationError, match="lines"):
        merge.undo(session, last_entry(session, "invoices", doc.id, "update").id, ACTOR)
    assert stock(session, shop) == D("99")


def test_undoing_an_account_merge_takes_its_documents_back(session: Session, shop: Shop) -> None:
    other = lifecycle.create_account(session, {"name": "台北貿易"})
    theirs = invoice(session, shop, 1, account_id=other.id)
    ours = invoice(session, shop, 1)
    entry = merge.merge(session, shop.account, [other], ACTOR)
    session.expire_all()
    assert session.get_one(Invoice, theirs.id).account_id == shop.account.id
    merge.undo(session, entry.id, ACTOR)
    session.expire_all()
    assert session.get_one(Invoice, theirs.id).account_id == other.id
    assert session.get_one(Invoice, ours.id).account_id == shop.account.id
    assert stock(session, shop) == D("98")  # a merge moves documents, never stock


# -- purging ------------------------------------------------------------------------------------------------------

def test_a_product_on_document_lines_is_not_purged_until_they_are(session: Session, shop: Shop) -> None:
    doc = invoice(session, shop, 1)
    payments.add_payment(session, doc, {"paid_on": "2026-03-01", "amount": "100"}, ACTOR)
    lifecycle.delete(session, shop.widget, ACTOR)
    with pytest.raises(ValidationError) as refused:
        recycle_bin.purge_records(session, "products", [shop.widget.id], ACTOR)
    assert refused.value.field == "id"
    assert refused.value.message.startswith("PRO1 cannot be purged while other records refer to it (line_items 1)")
    assert recycle_bin.purge(session, ACTOR, older_than_days=0) == {}  # the daily purge leaves it in the bin
    assert session.get(Product, shop.widget.id) is not None
    lifecycle.delete(session, doc, ACTOR)
    assert recycle_bin.purge(session, ACTOR, older_than_days=0) == {"invoices": 1, "products": 1}
    session.commit()
    assert count(session, Invoice) == count(session, LineItem) == 0
    assert session.scalars(select(ProductTax).where(ProductTax.product_id == shop.widget.id)).all() == []
    assert session.scalars(select(PriceBookPrice).where(PriceBookPrice.product_id == shop.widget.id)).all() == []


def test_an_account_with_documents_is_not_purged_and_a_price_book_takes_its_prices(
    session: Session, shop: Shop
) -> None:
    invoice(session, shop, 1)
    lifecycle.delete(session, shop.account, ACTOR)
    with pytest.raises(ValidationError, match=r"refer to it \(invoices 1\)"):
        recycle_bin.purge_records(session, "accounts", [shop.account.id], ACTOR)
    lifecycle.delete(session, shop.book, ACTOR)
    assert recycle_bin.purge_records(session, "price_books", [shop.book.id], ACTOR) == 1
    session.commit()
    assert count(session, PriceBookPrice) == 1  # the other book's price stays
