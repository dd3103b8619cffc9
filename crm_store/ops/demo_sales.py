"""Eighteen months of the demo company's sales: quotes, sales orders, invoices and their payments.

Deals are dated first (each after its account was created, more of them recent), put in date order and written
a round at a time through the sales bulk path (`crm_store.sales.bulk`). A deal is a quote converted to an order
and then an invoice, or straight to an invoice; an order or an invoice without a quote (a repeat order); or a
quote that was lost or is still open. A step that would fall after now has not happened yet. A converted
document copies its source's header and lines, as `crm convert` does, so its totals are the source's; every
amount is the store's (`totals.compute`, inside the bulk path). Invoices are paid on time, late, in part or not
yet, a few are cancelled; the store sets Paid when the payments cover the grand total. Before a round of invoices
would take a product below zero, the goods received are entered as a stock adjustment (audited): a product's
stock is its opening stock + what was received − what live invoices took.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Batch, Product
from crm_store.ops.demo_catalogue import CATALOGUE, Shelf, load_catalogue
from crm_store.records import bulk
from crm_store.sales import stock
from crm_store.sales.bulk import NewDocument, NewLine, NewPayment, insert_documents
from crm_store.settings import company

ADDRESS = ("street", "city", "state", "postal_code", "country")
SUBJECTS = ("Production line upgrade 產線升級", "Spare parts 備品採購", "Vision inspection 視覺檢測專案",
            "Warehouse RFID 倉儲 RFID 導入", "Control panel retrofit 控制盤改造", "Sensor replacement 感測器汰換",
            "Network upgrade 工廠網路升級", "Pilot order 試產訂單", "Repeat order 重複訂購", "Maintenance 年度維護")
LINE_COUNTS = (30, 22, 15, 10, 7, 5, 4, 3, 2, 2)  # weights of 1 to 10 lines
METHODS = (("Bank Transfer", 70), ("Check", 15), ("Credit Card", 10), ("Cash", 5))
RECEIVED = "Goods received 進貨入庫 (demo)"


@dataclass(frozen=True)
class SalesSize:
    """How many invoices the demo makes (quotes and orders follow from the deals), in rounds of `chunk` deals."""

    invoices: int
    chunk: int


SALES_SIZES = {"small": SalesSize(150, 1_000), "large": SalesSize(200_000, 5_000)}


@dataclass(frozen=True)
class Deal:
    """A buyer's deal and when each of its documents was made (None: not made, or not yet)."""

    buyer: int  # an index of the accounts
    quote_at: dt.datetime | None
    order_at: dt.datetime | None
    invoice_at: dt.datetime | None
    order_cancelled: bool = False

    @property
    def first(self) -> dt.datetime:
        """When the deal's first document was made."""
        return next(t for t in (self.quote_at, self.order_at, self.invoice_at) if t is not None)


@dataclass
class Round:
    """One round's documents, waiting for the ids of the documents they were converted from."""

    quotes: list[tuple[int, dict[str, Any], list[NewLine]]] = field(default_factory=list)
    orders: list[tuple[int, dict[str, Any], list[NewLine]]] = field(default_factory=list)
    invoices: list[tuple[int, dict[str, Any], list[NewLine], list[NewPayment]]] = field(default_factory=list)


def progress_total(size_name: str) -> int:
    """What the sales stages add to the demo's progress bar: the products and the invoices."""
    return len(CATALOGUE) + SALES_SIZES[size_name].invoices


def tax_ids(accounts: Sequence[dict[str, Any]], seed: int) -> None:
    """Give Taiwanese accounts a 統一編號 whose check digit holds (weights 1 2 1 2 1 2 4 1, sum of digits % 10)."""
    rng = random.Random(seed * 31 + 7)
    for row in accounts:
        if row.get("bill_country") != "台灣":
            continue
        digits = [rng.randrange(10) for _ in range(6)] + [rng.choice((0, 1, 2, 3, 4, 5, 6, 8, 9))]
        total = sum(sum(divmod(d * w, 10)) for d, w in zip(digits, (1, 2, 1, 2, 1, 2, 4), strict=True))
        row["tax_id"] = "".join(map(str, digits)) + str(-total % 10)


class SalesGenerator:
    """Makes the deals and their documents for the demo accounts, deterministically for a seed."""

    def __init__(self, size: SalesSize, accounts: Sequence[dict[str, Any]], account_ids: Sequence[int],
                 contact_of: dict[int, int], shelf: Shelf, *, seed: int, now: dt.datetime,
                 zone: Any) -> None:
        self.size, self.accounts, self.account_ids, self.contact_of = size, accounts, account_ids, contact_of
        self.shelf, self.now, self.zone = shelf, now, zone
        self.today = now.astimezone(zone).date()
        self.rng = random.Random(seed * 7919 + 16)
        self.buyers = [i for i, row in enumerate(accounts) if row.get("account_type") != "Prospect"] or [0]
        self.start = now - dt.timedelta(days=548)
        self.weights = [item.popularity for item in CATALOGUE]
        self.serial = 0

    # -- deals --------------------------------------------------------------------------------------------
    def deals(self) -> list[Deal]:
        """Deals until they hold the size's invoices, in the order of their first document."""
        made: list[Deal] = []
        invoices = 0
        while invoices < self.size.invoices:
            deal = self.deal()
            invoices += deal.invoice_at is not None
            made.append(deal)
        return sorted(made, key=lambda d: d.first)

    def deal(self) -> Deal:
        """One deal: which documents it has, and when each was made (none after now)."""
        r = self.rng
        buyer = self.buyers[int(len(self.buyers) * r.random() ** 1.6)]  # some customers buy far more
        low = max(self.start, self.accounts[buyer]["created_at"])
        at = low + dt.timedelta(seconds=int((self.now - low).total_seconds() * r.random() ** 0.7))
        kind = r.random()
        quote = at if kind < 0.60 or kind >= 0.80 else None
        if kind >= 0.80:
            return Deal(buyer, quote, None, None)
        order = None
        if kind < 0.50 or 0.60 <= kind < 0.72:
            order = at + dt.timedelta(days=r.expovariate(1 / 6) + 0.5) if quote else at
        invoice = (order or at) + dt.timedelta(days=r.uniform(2, 21) if order or quote else 0)
        cancelled = order is not None and r.random() < 0.03
        order, invoice = self._until_now(order), self._until_now(invoice)
        if order is None and quote is not None and kind < 0.50:
            invoice = None  # the order it waits for has not come yet
        return Deal(buyer, quote, order, None if cancelled else invoice, cancelled)

    def _until_now(self, at: dt.datetime | None) -> dt.datetime | None:
        return at if at is not None and at <= self.now else None

    # -- documents ----------------------------------------------------------------------------------------
    def round(self, deals: Sequence[Deal]) -> Round:
        """The documents of some deals: each document's values and lines, an invoice's payments."""
        out = Round()
        for n, deal in enumerate(deals):
            head = self.header(deal)
            lines = self.lines()
            if deal.quote_at is not None:
                out.quotes.append((n, self.quote(deal, head), lines))
            if deal.order_at is not None:
                order = self.order(deal, head)
                out.orders.append((n, order, lines))
                head = {**head, "purchase_order": order["purchase_order"]}  # an invoice copies its order's
            if deal.invoice_at is not None:
                values, payments = self.invoice(deal, head)
                out.invoices.append((n, values, lines, payments))
        return out

    def header(self, deal: Deal) -> dict[str, Any]:
        """What a deal's documents share: subject, parties, currency, price book, taxes, discount, charges."""
        r, account = self.rng, self.accounts[deal.buyer]
        account_id = self.account_ids[deal.buyer]
        usd = account.get("bill_country") != "台灣" or r.random() < 0.08
        dealer = account.get("account_type") in ("Reseller", "Partner")
        head: dict[str, Any] = {
            "subject": f"{r.choice(SUBJECTS)} {deal.first.astimezone(self.zone):%Y-%m}",
            "account_id": account_id, "contact_id": self.contact_of.get(account_id),
            "owner_id": account.get("owner_id"),
            "currency_id": self.shelf.usd.id if usd else self.shelf.twd.id,
            "price_book_id": self.shelf.export_book if usd else self.shelf.dealer_book if dealer else None,
            "tax_mode": "group" if not usd and r.random() < 0.25 else "individual",
            "terms": "T/T 30 days after invoice" if usd else r.choice(("月結 30 天", "月結 60 天", "貨到 30 天付款")),
            **{f"{side}_{part}": account.get(f"bill_{part}") for side in ("bill", "ship") for part in ADDRESS},
        }
        if r.random() < 0.15:
            head["discount_percent"] = Decimal(r.choice((3, 5, 8, 10)))
        if r.random() < 0.4:
            head["shipping_amount"] = Decimal(r.choice((35, 80, 150)) if usd else r.choice((150, 300, 600, 1200)))
        if not usd and r.random() < 0.03:
            head["adjustment"] = Decimal(-r.randint(1, 49))  # the odd dollars waived
        return head

    def lines(self) -> list[NewLine]:
        """One to ten lines of different products, a few with a discount, in usual quantities."""
        r = self.rng
        count = r.choices(range(1, 11), LINE_COUNTS)[0]
        picked = list(dict.fromkeys(r.choices(range(len(CATALOGUE)), self.weights, k=count)))
        out = []
        for i in picked:
            low, high = CATALOGUE[i].quantity
            quantity = low + int((high - low + 1) * r.random() ** 2)
            discount = Decimal(r.choice((5, 10, 15, 20))) if r.random() < 0.15 else None
            out.append(NewLine(self.shelf.product_ids[i], Decimal(quantity), None,
                               "percent" if discount is not None else None, discount))
        return out

    def quote(self, deal: Deal, head: dict[str, Any]) -> dict[str, Any]:
        """A quote: accepted when converted, else open while recent and rejected or left as sent after."""
        assert deal.quote_at is not None
        r = self.rng
        recent, later = r.choice(("Created", "Delivered", "Reviewed")), "Rejected" if r.random() < 0.75 else "Delivered"
        if deal.order_at is not None or deal.invoice_at is not None:
            status = "Accepted"
        else:
            status = recent if (self.now - deal.quote_at).days <= 30 else later
        return {**head, "status": status, "created_at": deal.quote_at,
                "valid_till": self._date(deal.quote_at) + dt.timedelta(days=30),
                "carrier": r.choice(("DHL", "FedEx", "UPS")) if head["currency_id"] == self.shelf.usd.id else None}

    def order(self, deal: Deal, head: dict[str, Any]) -> dict[str, Any]:
        """A sales order: delivered when invoiced, cancelled, or approved and waiting."""
        assert deal.order_at is not None
        self.serial += 1
        if deal.order_cancelled:
            status = "Cancelled"
        elif deal.invoice_at is not None:
            status = "Delivered"
        else:
            status = "Created" if (self.now - deal.order_at).days < 2 else "Approved"
        return {**head, "status": status, "created_at": deal.order_at,
                "due_date": self._date(deal.order_at) + dt.timedelta(days=14),
                "purchase_order": f"PO-{deal.order_at:%Y%m}-{self.serial:05d}"}

    def invoice(self, deal: Deal, head: dict[str, Any]) -> tuple[dict[str, Any], list[NewPayment]]:
        """An invoice and the payments received by today: on time, late, in part, not yet; a few cancelled."""
        assert deal.invoice_at is not None
        r = self.rng
        issued = self._date(deal.invoice_at)
        terms = 60 if "60" in (head["terms"] or "") else 30
        due = issued + dt.timedelta(days=terms)
        age = (self.today - issued).days
        values = {**head, "created_at": deal.invoice_at, "invoice_date": issued, "due_date": due}
        # as many draws whatever the day: the same seed makes the same documents at any time of day
        cancelled, kind = r.random() < 0.02, r.random()
        plan: list[tuple[dt.date, Decimal | None]]
        if kind < 0.72:  # on time
            plan = [(issued + dt.timedelta(days=r.randint(5, terms + 5)), None)]
        elif kind < 0.86:  # late
            plan = [(due + dt.timedelta(days=r.randint(10, 90)), None)]
        elif kind < 0.94:  # a part first, the rest much later
            plan = [(issued + dt.timedelta(days=r.randint(7, 30)), Decimal(r.choice(("0.3", "0.4", "0.5")))),
                    (due + dt.timedelta(days=r.randint(30, 150)), None)]
        else:  # not paid (yet): overdue once past its due date
            plan = []
        payments = [p for p in (self.payment(day, share) for day, share in plan) if p.paid_on <= self.today]
        if cancelled and age > 7:
            return {**values, "status": "Cancel"}, []
        status = "Created" if age < 2 else "Approved" if age < 5 else "Sent"  # the store sets Paid
        return {**values, "status": status}, payments

    def payment(self, day: dt.date, share: Decimal | None) -> NewPayment:
        """A payment on `day`: a share of the grand total, or what is left of it."""
        r = self.rng
        method = r.choices([m for m, _ in METHODS], [w for _, w in METHODS])[0]
        reference = {"Bank Transfer": f"TT{day:%Y%m%d}{r.randint(0, 9999):04d}",
                     "Check": f"CHK{r.randint(100000, 999999)}"}.get(method)
        return NewPayment(day, None, method, reference, share)

    def _date(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.zone).date()


def load_sales(
    session: Session, size_name: str, ctx: bulk.BulkContext, batch: Batch, *, seed: int, now: dt.datetime,
    accounts: Sequence[dict[str, Any]], account_ids: Sequence[int], contact_of: dict[int, int],
    tick: Callable[[str, int], None],
) -> None:
    """The catalogue, then the deals' documents round by round (stock received first when needed)."""
    shelf = load_catalogue(session, ctx, batch)
    tick("products", len(CATALOGUE))
    gen = SalesGenerator(SALES_SIZES[size_name], accounts, account_ids, contact_of, shelf, seed=seed, now=now,
                         zone=company.zone(session))
    actor = Actor.system("demo", str(batch.id))
    on_hand = {pid: Decimal(item.stock) for pid, item in zip(shelf.product_ids, CATALOGUE, strict=True)
               if item.stock is not None}
    counts = dict.fromkeys(("quotes", "sales_orders", "invoices", "payments"), 0)
    deals = gen.deals()
    for first in range(0, len(deals), gen.size.chunk):
        docs = gen.round(deals[first:first + gen.size.chunk])
        quote_ids = dict(zip([n for n, *_ in docs.quotes], insert_documents(
            session, "quotes", [NewDocument(v, lines) for _, v, lines in docs.quotes], actor, index=False),
            strict=True))
        orders = [NewDocument({**v, "quote_id": quote_ids.get(n)}, lines) for n, v, lines in docs.orders]
        order_ids = dict(zip([n for n, *_ in docs.orders], insert_documents(
            session, "sales_orders", orders, actor, index=False), strict=True))
        invoices = [NewDocument({**v, "quote_id": quote_ids.get(n), "sales_order_id": order_ids.get(n)}, lines, paid)
                    for n, v, lines, paid in docs.invoices]
        receive(session, gen, on_hand, invoices, actor)
        insert_documents(session, "invoices", invoices, actor, index=False)
        counts["quotes"] += len(docs.quotes)
        counts["sales_orders"] += len(orders)
        counts["invoices"] += len(invoices)
        counts["payments"] += sum(len(doc.payments) for doc in invoices)
        tick("invoices", len(invoices))
    ctx.counts.update(counts)


def receive(session: Session, gen: SalesGenerator, on_hand: dict[int, Decimal], invoices: Sequence[NewDocument],
            actor: Actor) -> None:
    """Enter the goods received before a round of invoices would take a product's stock below zero."""
    taken: dict[int, Decimal] = {}
    for doc in invoices:
        if doc.values.get("status") != stock.CANCELLED:
            for line in doc.lines:
                if line.product_id in on_hand:
                    taken[line.product_id] = taken.get(line.product_id, Decimal(0)) + line.quantity
    reorder = {pid: item.reorder or 0 for pid, item in zip(gen.shelf.product_ids, CATALOGUE, strict=True)}
    for product_id, quantity in sorted(taken.items()):
        short = quantity - on_hand[product_id]
        if short >= 0:
            lot = short + reorder[product_id] * gen.rng.randint(1, 4) + 10
            stock.adjust_stock(session, session.get_one(Product, product_id), lot, RECEIVED, actor)
            on_hand[product_id] += lot
        on_hand[product_id] -= quantity
