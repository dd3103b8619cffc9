"""Sales-documents benchmark (issue 16): 200,000 invoices of 1 to 10 lines through the sales bulk path, against one
ORM object at a time (`documents.create` and `payments.add_payment`), measured in the same run.

Data (untimed), in a fresh, migrated and seeded database: a rep, `--accounts` accounts of the large demo's kind
(through `records.bulk`), and the demo company's catalogue (45 products and services, the VAT, a dealer and an
export price book; `crm_store.ops.demo_catalogue`) with stock enough for every invoice. The invoices are generated
before the clock starts by the demo's own generator (`crm_store.ops.demo_sales.SalesGenerator`): NT$ or US$, a
price book or the list price, individual or group tax mode, line and overall discounts, shipping, an adjustment
now and then, and the payments received by today (on time, late, in part, none; a few cancelled).

Timed:

1. baseline: the first `--orm-sample` invoices one at a time, as `crm invoices add` and `crm payments add` save
   them — `documents.create` (the lines checked, priced and taxed, the totals, the stock, the audit row, the
   search document) then `payments.add_payment` for each payment — a commit every `--orm-commit-every`
   invoices; its time per invoice extrapolated to all of them.
2. the bulk path: every invoice (the sample's again) through `sales.bulk.insert_documents` in batches of
   `--batch`, search documents included, and the commit.

Checked afterwards: the counts of invoices, lines and payments, and that the bulk path stored for the sample's
invoices what the baseline stored for them (every total, received, balance, status and line amount).
"CPU s" is this process's CPU time (SQLite runs in it; PostgreSQL's work is the server's and is not counted).
`python -m bench.sales_documents --invoices 5000 --orm-sample 200` is a quick check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from bench.bulk_insert import finish, prepare, run_header
from crm_store.actor import Actor
from crm_store.db.engine import session_factory
from crm_store.models import Currency, Invoice, LineItem, Payment, Product, utcnow
from crm_store.ops.demo_catalogue import load_catalogue
from crm_store.ops.demo_rows import SIZES, DemoGenerator
from crm_store.ops.demo_sales import Deal, SalesGenerator, SalesSize
from crm_store.records import bulk as records_bulk
from crm_store.sales import documents, payments
from crm_store.sales.bulk import NewDocument, NewPayment, insert_documents
from crm_store.staff.users import add_user

RESULTS = Path(__file__).resolve().parent / "results" / "sales_documents.json"
COMPARED = ("subtotal", "overall_discount", "shipping_tax", "pre_tax_total", "tax_total", "grand_total", "received",
            "balance", "status", "stock_deducted")
LINE_COMPARED = ("position", "product_id", "quantity", "list_price", "line_total", "discount", "net", "tax", "total")
ACTOR = Actor.system("bench")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the data ---------------------------------------------------------------------------------------------

def load(engine: Engine, accounts: int, invoices: int, seed: int, now: dt.datetime) -> list[NewDocument]:
    """The rep, the accounts and the catalogue, committed; return the invoices to write (not written)."""
    with session_factory(engine).begin() as session:
        rep = add_user(session, "rep1@example.com", "Rep 1", welcome=False)
        batch = records_bulk.new_batch(session, "import", "bench sales documents")
        ctx = records_bulk.BulkContext.load(session)
        demo = DemoGenerator(SIZES["large"], seed=seed, now=now)
        rows = [row for row, _ in zip(demo.accounts([], [rep.id]), range(accounts), strict=False)]
        ids = records_bulk.insert_records(session, "accounts", rows, ctx, batch=batch)
        shelf = load_catalogue(session, ctx, batch)
        # stock enough for every invoice: no warnings, the same stock path for both
        session.execute(update(Product).where(Product.product_type == "product").values(qty_in_stock=10**9))
        zone = dt.UTC
    gen = SalesGenerator(SalesSize(invoices, invoices), rows, ids, {}, shelf, seed=seed, now=now, zone=zone)
    out = []
    for _ in range(invoices):
        buyer = gen.buyers[gen.rng.randrange(len(gen.buyers))]
        low = max(gen.start, rows[buyer]["created_at"])
        at = low + dt.timedelta(seconds=int((now - low).total_seconds() * gen.rng.random()))
        deal = Deal(buyer, None, None, at)
        head = gen.header(deal)
        values, paid = gen.invoice(deal, head)
        out.append(NewDocument(values, gen.lines(), paid))
    return out


# -- the two paths ----------------------------------------------------------------------------------------

def orm_baseline(engine: Engine, batch: Sequence[NewDocument], commit_every: int) -> dict[str, Any]:
    """Save the invoices one at a time with their payments, as the CLI does; return the time and the ids."""
    made: list[int] = []
    session = session_factory(engine)()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        minor = {c.id: c.minor_unit for c in session.scalars(select(Currency))}
        for n, doc in enumerate(batch, 1):
            values = {k: v for k, v in doc.values.items() if k != "created_at"}
            lines = [{"product": line.product_id, "quantity": line.quantity, "list_price": line.list_price,
                      "discount_kind": line.discount_kind, "discount_value": line.discount_value}
                     for line in doc.lines]
            invoice = documents.create(session, "invoices", values, lines, ACTOR, at=doc.values["created_at"]).document
            for paid in doc.payments:
                payments.add_payment(session, invoice, _payment_values(invoice, paid, minor[invoice.currency_id]),
                                     ACTOR)
            made.append(invoice.id)
            if n % commit_every == 0:
                session.commit()
        session.commit()
    finally:
        session.close()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"ids": made, "seconds": seconds, "cpu_seconds": cpu}


def _payment_values(invoice: Invoice, paid: NewPayment, minor_unit: int) -> dict[str, Any]:
    """A generated payment as `crm payments add` takes it: a share of the grand total worked out, the rest as due."""
    if paid.amount is not None:
        amount = paid.amount
    elif paid.share is not None:
        amount = (invoice.grand_total * paid.share).quantize(Decimal(1).scaleb(-minor_unit), rounding=ROUND_DOWN)
    else:
        amount = invoice.balance
    return {"paid_on": paid.paid_on, "amount": amount, "method": paid.method, "reference": paid.reference}


def bulk_path(engine: Engine, batch: Sequence[NewDocument], size: int) -> dict[str, Any]:
    """Write every invoice through the bulk path in batches of `size`, and commit; return the times and the ids."""
    ids: list[int] = []
    session = session_factory(engine)()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        session.begin()
        for first in range(0, len(batch), size):
            ids += insert_documents(session, "invoices", batch[first:first + size], ACTOR)
            if (first // size) % 10 == 9:
                log(f"  {first + size:,} invoices, {time.perf_counter() - started:.0f} s")
        inserted = time.perf_counter() - started
        session.commit()
    finally:
        session.close()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"ids": ids, "seconds": seconds, "insert_seconds": inserted, "cpu_seconds": cpu}


# -- the checks -------------------------------------------------------------------------------------------

def check(engine: Engine, batch: Sequence[NewDocument], orm_ids: list[int], bulk_ids: list[int]) -> dict[str, Any]:
    """The rows written, and the sample stored alike by both paths."""
    want_lines = sum(len(d.lines) for d in batch) + sum(len(batch[i].lines) for i in range(len(orm_ids)))
    want_payments = sum(len(d.payments) for d in batch) + sum(len(batch[i].payments) for i in range(len(orm_ids)))
    problems = []
    with session_factory(engine)() as s:
        counts = {name: s.scalar(select(func.count()).select_from(model)) or 0
                  for name, model in (("invoices", Invoice), ("line_items", LineItem), ("payments", Payment))}
        for name, want in (("invoices", len(batch) + len(orm_ids)), ("line_items", want_lines),
                           ("payments", want_payments)):
            if counts[name] != want:
                problems.append(f"{counts[name]:,} {name}, expected {want:,}")
        differ = sum(_stored(s, orm_id) != _stored(s, bulk_id)
                     for orm_id, bulk_id in zip(orm_ids, bulk_ids, strict=False))
        paid = s.scalar(select(func.count()).where(Invoice.status == "Paid")) or 0
    if differ:
        problems.append(f"{differ:,} of the sample's {len(orm_ids):,} invoices stored otherwise by the bulk path")
    return {"counts": counts, "paid_invoices": paid, "sample_alike": f"{len(orm_ids) - differ}/{len(orm_ids)}",
            "problems": problems}


def _stored(session: Session, invoice_id: int) -> tuple[Any, ...]:
    invoice = session.get_one(Invoice, invoice_id)
    lines = session.execute(select(*(getattr(LineItem, c) for c in LINE_COMPARED))
                            .where(LineItem.invoice_id == invoice_id).order_by(LineItem.position)).all()
    return tuple(getattr(invoice, c) for c in COMPARED) + (tuple(tuple(r) for r in lines),)


# -- the command ------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sales_documents", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--invoices", type=int, default=200_000, help="invoices the bulk path writes")
    p.add_argument("--accounts", type=int, default=5_000, help="accounts that buy")
    p.add_argument("--orm-sample", type=int, default=1_000, help="invoices the ORM baseline writes (extrapolated)")
    p.add_argument("--orm-commit-every", type=int, default=100, help="the ORM baseline commits every this many")
    p.add_argument("--batch", type=int, default=5_000, help="invoices per call of the bulk path")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the data")
    p.add_argument("--database-url", help="an EMPTY database, e.g. postgresql+psycopg://u@host/db "
                                          "(default: a SQLite file in a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    args = p.parse_args(argv)
    if min(args.invoices, args.accounts, args.orm_sample, args.orm_commit_every, args.batch) < 1:
        p.error("--invoices, --accounts, --orm-sample, --orm-commit-every and --batch must be 1 or more")
    args.orm_sample = min(args.orm_sample, args.invoices)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="leadline-bench-")
    os.environ["CRM_DATA_DIR"] = tmp
    url = args.database_url or f"sqlite:///{tmp}/sales.db"
    engine = prepare(url)
    now = utcnow().replace(microsecond=0)
    started = time.perf_counter()
    log(f"loading {args.accounts:,} accounts and the catalogue, generating {args.invoices:,} invoices...")
    batch = load(engine, args.accounts, args.invoices, args.seed, now)
    load_s = time.perf_counter() - started
    lines = sum(len(d.lines) for d in batch)
    log(f"ready in {load_s:.1f} s (not timed): {lines:,} lines, {sum(len(d.payments) for d in batch):,} payments")
    gc.collect()
    gc.freeze()  # the generated invoices live through the run: keep the collector from scanning them again
    result: dict[str, Any] = {
        **run_header("sales_documents", argv, url, engine),
        "sizes": {"invoices": args.invoices, "lines": lines, "accounts": args.accounts,
                  "lines_per_invoice": round(lines / args.invoices, 2)},
        "seed": args.seed, "load_seconds": round(load_s, 1), "batch": args.batch,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    sample = batch[:args.orm_sample]
    log(f"ORM baseline: {len(sample):,} invoices, a commit every {args.orm_commit_every}...")
    orm = orm_baseline(engine, sample, args.orm_commit_every)
    per_doc = orm["seconds"] / len(sample)
    log(f"  {orm['seconds']:.1f} s; extrapolated to {args.invoices:,}: {per_doc * args.invoices:,.0f} s")
    log(f"bulk path: {args.invoices:,} invoices in batches of {args.batch:,}...")
    done = bulk_path(engine, batch, args.batch)
    log(f"  {done['seconds']:.1f} s ({done['cpu_seconds']:.1f} s of CPU)")
    result["orm_baseline"] = {
        "sample_invoices": len(sample), "commit_every": args.orm_commit_every, "seconds": round(orm["seconds"], 2),
        "cpu_seconds": round(orm["cpu_seconds"], 2), "invoices_per_s": round(len(sample) / orm["seconds"], 1),
        "extrapolated_seconds": round(per_doc * args.invoices, 1),
        "note": "the first invoices of the batch; extrapolated linearly to all of them",
    }
    result["bulk"] = {
        "invoices": args.invoices, "seconds": round(done["seconds"], 2),
        "insert_seconds": round(done["insert_seconds"], 2), "cpu_seconds": round(done["cpu_seconds"], 2),
        "invoices_per_s": round(args.invoices / done["seconds"]), "lines_per_s": round(lines / done["seconds"]),
    }
    result["ratio_bulk_to_orm"] = round(per_doc * args.invoices / done["seconds"], 1)
    result["checks"] = checks = check(engine, batch, orm["ids"], done["ids"])
    finish(result, engine, Path(tmp), args.keep, args.json, ascii_only=False)
    print(markdown(result))
    for problem in checks["problems"]:
        log(f"PROBLEM: {problem}")
    return 1 if checks["problems"] else 0


def markdown(result: dict[str, Any]) -> str:
    """The figures as a small Markdown table, with the ratio and the checks."""
    m, sizes, bulk, orm, checks = (result[k] for k in ("machine", "sizes", "bulk", "orm_baseline", "checks"))
    n = sizes["invoices"]
    return "\n".join([
        f"## Sales documents: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"{result['database']['server']}, SQLAlchemy {m['sqlalchemy']}",
        "",
        f"{n:,} invoices, {sizes['lines']:,} lines ({sizes['lines_per_invoice']} per invoice), "
        f"{checks['counts']['payments']:,} payments; load average {' '.join(map(str, result['load_average_at_start']))}"
        f" at the start, {' '.join(map(str, result['load_average_at_end']))} at the end",
        "",
        "| path | invoices | seconds | CPU s | invoices/s |",
        "|---|--:|--:|--:|--:|",
        f"| bulk path (batches of {result['batch']:,}, commit included) | {n:,} | {bulk['seconds']:.1f} "
        f"| {bulk['cpu_seconds']:.1f} | {bulk['invoices_per_s']:,} |",
        f"| one at a time, a commit every {orm['commit_every']} (measured) | {orm['sample_invoices']:,} "
        f"| {orm['seconds']:.1f} | {orm['cpu_seconds']:.1f} | {orm['invoices_per_s']:,} |",
        f"| one at a time (extrapolated) | {n:,} | {orm['extrapolated_seconds']:,.0f} | | {orm['invoices_per_s']:,} |",
        "",
        f"Ratio bulk / one at a time: {result['ratio_bulk_to_orm']}×. The sample stored alike by both paths: "
        f"{checks['sample_alike']}.",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
