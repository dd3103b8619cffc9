"""`crm demo`: the counts of every table, contiguous stage histories, nothing dated in the future."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from crm_store.models import (
    Account,
    Activity,
    AuditEntry,
    Batch,
    Campaign,
    Contact,
    Currency,
    Invoice,
    Lead,
    LineItem,
    Note,
    Opportunity,
    Payment,
    PriceBook,
    Product,
    Quote,
    SalesOrder,
    SalesStage,
    StageHistory,
    Team,
    TeamMember,
    User,
)
from crm_store.ops.demo import SIZES
from crm_store.ops.demo_catalogue import CATALOGUE, Shelf
from crm_store.ops.demo_sales import RECEIVED, SALES_SIZES, SalesGenerator
from crm_store.pipeline.leads import open_leads
from crm_store.settings import company
from tests.sales_support import recomputed

# Event timestamps: none may be later than the moment the demo finished.
EVENT_COLUMNS = {
    "leads": ("created_at", "updated_at", "assigned_at", "converted_at", "last_touch_at"),
    "accounts": ("created_at", "updated_at", "last_touch_at"),
    "contacts": ("created_at", "updated_at", "last_touch_at"),
    "opportunities": ("created_at", "updated_at", "closed_at", "stage_entered_at", "last_touch_at"),
    "campaigns": ("created_at",),
    "stage_history": ("entered_at", "left_at"),
    "activities": ("created_at", "start_at", "end_at", "completed_at", "due_date"),
    "notes": ("created_at",),
    "users": ("created_at",),
    "quotes": ("created_at", "updated_at"),
    "sales_orders": ("created_at", "updated_at"),
    "invoices": ("created_at", "updated_at"),
    "payments": ("created_at",),
}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_small_demo(crm, session: Session, engine: Engine) -> None:  # noqa: ANN001
    out = crm("demo").output
    finished = dt.datetime.now(dt.UTC)
    assert "Loaded the small demo" in out
    size = SIZES["small"]
    assert count(session, User) == 1 + 1 + size.reps
    assert session.scalar(select(func.count()).where(User.role == "admin")) == 1
    assert session.scalar(select(func.count()).where(User.role == "manager")) == 1
    assert count(session, Lead) == size.leads
    assert count(session, Account) == size.accounts
    assert count(session, Contact) == size.contacts
    assert count(session, Opportunity) == size.opportunities
    assert count(session, Campaign) == size.campaigns
    assert count(session, Team) == 1 and count(session, TeamMember) == size.reps
    assert count(session, StageHistory) >= size.opportunities * 2
    assert count(session, Activity) >= size.leads // 2
    assert count(session, Note) >= size.leads // 20
    assert session.scalar(select(func.count()).where(Lead.batch_id.is_(None))) == 0
    assert count(session, Batch) == 1
    check_sales(session, finished)

    # both languages
    names = list(session.scalars(select(Lead.last_name).limit(300)))
    assert any("\u4e00" <= n[0] <= "\u9fff" for n in names) and any(n.isascii() for n in names)

    # stage histories are contiguous and end at the opportunity's current stage
    rows = session.execute(
        select(StageHistory.opportunity_id, StageHistory.stage_id, StageHistory.entered_at, StageHistory.left_at)
        .order_by(StageHistory.opportunity_id, StageHistory.entered_at, StageHistory.id)
    ).all()
    by_opp: dict[int, list] = {}
    for r in rows:
        by_opp.setdefault(r.opportunity_id, []).append(r)
    assert len(by_opp) == size.opportunities
    current = dict(session.execute(select(Opportunity.id, Opportunity.stage_id)).all())
    for opp_id, hist in by_opp.items():
        for prev, nxt in zip(hist, hist[1:], strict=False):
            assert prev.left_at == nxt.entered_at
        assert hist[-1].left_at is None
        assert hist[-1].stage_id == current[opp_id]

    # closed opportunities carry closed_at, open ones do not
    closed_stage = select(SalesStage.id).where(SalesStage.is_won | SalesStage.is_lost)
    assert session.scalar(
        select(func.count()).where(Opportunity.stage_id.in_(closed_stage), Opportunity.closed_at.is_(None))
    ) == 0
    assert session.scalar(
        select(func.count()).where(Opportunity.stage_id.not_in(closed_stage), Opportunity.closed_at.is_not(None))
    ) == 0

    # nothing dated in the future
    session.commit()  # end the read transaction: on SQLite every transaction holds the write lock
    with engine.connect() as conn:
        for table, columns in EVENT_COLUMNS.items():
            for column in columns:
                latest = conn.execute(text(f"select max({column}) from {table}")).scalar()
                if latest is None:
                    continue
                if isinstance(latest, str):
                    latest = dt.datetime.fromisoformat(latest)
                if isinstance(latest, dt.datetime):
                    latest = latest if latest.tzinfo else latest.replace(tzinfo=dt.UTC)
                    assert latest <= finished, f"{table}.{column} is in the future: {latest}"
                else:
                    assert latest <= finished.date(), f"{table}.{column} is in the future: {latest}"

    # time is consistent: assigned after created, converted after created, touched after created
    for lead in session.scalars(select(Lead).where(Lead.assigned_at.is_not(None))):
        assert lead.assigned_at >= lead.created_at
        if lead.converted_at:
            assert lead.converted_at >= lead.created_at and lead.converted_account_id is not None
        if lead.last_touch_at:
            assert lead.last_touch_at >= lead.created_at
    assert session.scalar(select(func.min(Lead.created_at))) >= finished - dt.timedelta(days=549)
    assert 0 < len(session.scalars(open_leads()).all()) < size.leads

    # a second run leaves everything as it is
    session.commit()
    again = crm("demo").output
    assert "already loaded" in again
    assert count(session, Lead) == size.leads


def check_sales(session: Session, finished: dt.datetime) -> None:
    """The demo's sales: the store's totals, conversions that keep them, payments, statuses and stock that agree."""
    assert count(session, Product) == len(CATALOGUE) and count(session, PriceBook) == 2
    assert count(session, Invoice) == SALES_SIZES["small"].invoices
    assert count(session, Quote) > 100 and count(session, SalesOrder) > 50 and count(session, Payment) > 50
    # Taiwanese buyers have a 統一編號 whose check digit holds; the others have none
    for country, tax_id in session.execute(select(Account.bill_country, Account.tax_id)):
        assert (tax_id is not None) == (country == "台灣")
        if tax_id is not None:
            digits = [int(c) for c in tax_id]
            assert len(digits) == 8 and sum(sum(divmod(d * w, 10)) for d, w in zip(digits, (1, 2, 1, 2, 1, 2, 4, 1),
                                                                                strict=True)) % 5 == 0
    minor = {i: m for i, m in session.execute(select(Currency.id, Currency.minor_unit))}
    lines: dict[tuple[str, int], list[LineItem]] = {}
    for line in session.scalars(select(LineItem).order_by(LineItem.position)):
        column = next(k for k in ("quote_id", "sales_order_id", "invoice_id") if getattr(line, k) is not None)
        lines.setdefault((column, getattr(line, column)), []).append(line)
    totals: dict[tuple[str, int], D] = {}
    models: tuple[tuple[Any, str], ...] = ((Quote, "quote_id"), (SalesOrder, "sales_order_id"), (Invoice, "invoice_id"))
    for model, column in models:
        for doc in session.scalars(select(model)):
            got = recomputed(doc, lines[column, doc.id], minor[doc.currency_id])
            assert doc.grand_total == got.grand_total and doc.tax_total == got.tax_total, doc
            assert [i.total for i in lines[column, doc.id]] == [t.total for t in got.lines]
            assert 1 <= len(lines[column, doc.id]) <= 10
            totals[column, doc.id] = doc.grand_total
    # conversions keep the totals
    for order in session.scalars(select(SalesOrder)):
        if order.quote_id is not None:
            assert order.grand_total == totals["quote_id", order.quote_id]
    paid = {i: amount for i, amount in session.execute(
        select(Payment.invoice_id, func.sum(Payment.amount)).group_by(Payment.invoice_id))}
    today = finished.astimezone(company.zone(session)).date()
    kinds = set()
    for inv in session.scalars(select(Invoice)):
        if inv.sales_order_id is not None:
            assert inv.grand_total == totals["sales_order_id", inv.sales_order_id]
        elif inv.quote_id is not None:
            assert inv.grand_total == totals["quote_id", inv.quote_id]
        assert inv.received == paid.get(inv.id, 0) <= inv.grand_total
        assert inv.balance == inv.grand_total - inv.received
        assert (inv.status == "Paid") == (inv.balance == 0), inv.invoice_no
        assert inv.stock_deducted == (inv.status != "Cancel")
        assert inv.due_date is not None and inv.invoice_date <= today < inv.due_date + dt.timedelta(days=600)
        assert inv.due_date > inv.invoice_date
        if inv.status == "Cancel":
            assert inv.received == 0
        kinds.add("paid" if inv.balance == 0 else "overdue" if inv.due_date < today
                  else "part" if inv.received else "open")
    assert {"paid", "overdue", "open"} <= kinds and any(0 < i.received < i.grand_total
                                                         for i in session.scalars(select(Invoice)))
    assert max(p.paid_on for p in session.scalars(select(Payment))) <= today
    assert session.scalar(select(func.count()).where(Payment.paid_on < Invoice.invoice_date,
                                                     Payment.invoice_id == Invoice.id)) == 0
    # stock: the opening stock + goods received − what live invoices took
    taken = {i: quantity for i, quantity in session.execute(
        select(LineItem.product_id, func.sum(LineItem.quantity)).join(Invoice, Invoice.id == LineItem.invoice_id)
        .where(Invoice.status != "Cancel").group_by(LineItem.product_id))}
    received: dict[int, D] = {}
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.module == "products")):
        if entry.changes.get("reason") == RECEIVED:
            before, after = entry.changes["qty_in_stock"]
            received[entry.record_id] = received.get(entry.record_id, D(0)) + D(after) - D(before)
    for item in CATALOGUE:
        product = session.scalars(select(Product).where(Product.product_code == item.code)).one()
        if item.is_service:
            assert product.qty_in_stock is None and product.product_type == "service"
            continue
        expected = D(item.stock or 0) + received.get(product.id, D(0)) - taken.get(product.id, D(0))
        assert product.qty_in_stock == expected >= 0, item.code


def test_the_sales_generator_is_deterministic_for_a_seed() -> None:
    accounts = [{"created_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=i),
                 "account_type": "Customer", "bill_country": "台灣" if i % 3 else "United States", "owner_id": 1}
                for i in range(50)]
    shelf = Shelf(list(range(1, len(CATALOGUE) + 1)), 1, Currency(id=1), Currency(id=2), 1, 2)

    def made(seed: int) -> list:
        gen = SalesGenerator(SALES_SIZES["small"], accounts, list(range(1, 51)), {}, shelf, seed=seed,
                             now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), zone=dt.UTC)
        docs = gen.round(gen.deals())
        return [docs.quotes, docs.orders, docs.invoices]

    first = made(7)
    assert first == made(7) and first != made(8)
    assert len(first[2]) == SALES_SIZES["small"].invoices
