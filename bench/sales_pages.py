"""Sales pages benchmark (issue 17): an invoice page, the line editor's totals and an account's Transactions tab of
500 documents, on the large demo, as a rep, against `/healthz` in the same run.

The data is a COPY of a data dir that `crm demo --size large` filled (`--source DIR`: its SQLite file, and its
write-ahead log when there is one, copied with `cp --reflink=auto` into the work dir — `--keep DIR`, reused by a
later run with the same `--keep`, else a temporary one deleted at the end); the source is only read. The copy is
brought to this version's schema (`crm init`'s upgrade). Then, untimed, in the copy:

- the account of the rep (`--rep`, rep1@example.com) with the most quotes, sales orders and invoices is topped up
  to `--documents` (500) through the store's bulk path (`crm_store.sales.bulk.insert_documents`: numbered,
  computed, audited and indexed as the demo's are): half invoices (most of them paid, some in part), three in ten
  quotes, two in ten orders, dated over the last 18 months, lines of the demo's catalogue (an invoice's services
  only: no stock is taken);
- up to 200 of the rep's invoices are drawn for the invoice pages, and 50 of their open ones (not Paid, not
  Cancel) for the totals: each one's form as its edit page fills it (header, lines typed by product code).

The app is served by `crm serve`'s own command line (`bench.webform_load.Server`: gunicorn, uvicorn workers) and
`--clients` (8) clients in one process (`bench.staff_pages.Client`: aiohttp, keep-alive, each signed in through
the sign-in form with its own session) ask, one page at a time, in a closed loop for `--warmup` + `--seconds`
(2 + 30) s:

- `/healthz` — the baseline: the same server, loop and clients, a `select 1`;
- an invoice page (`/invoices/<number>`: header, lines, totals, payments), one of the drawn invoices at random;
- the line editor's totals (`POST /invoices/totals`: the unsaved form's totals block computed by the store, what
  the editor's script asks for as lines change), one of the drawn forms at random, with the session's CSRF token;
- the account's Transactions tab (`/accounts/<number>/transactions`: the newest 50 of its quotes, orders, invoices
  and payments, the count and what it owes over all of them, the 20 products it bought for the most), what opening
  the tab shows;
- the tab's older pages (`?page=2` to the last), one at random.

Before the clock starts every totals form is asked once: its answer must be a totals block, with the invoice's stored
grand total for an invoice without shipping, overall discount or adjustment (which the editor's form does not
carry); and the Transactions tab, followed page by page by its "Older" links, must list every document of the
account, no transaction twice. Every answer
must then be a 200. A latency runs from the start of a request to the last byte of its answer; p50 / p95 / p99
per page and their ratio to `/healthz`'s. Goal (issue): p95 < 150 ms on each page.

SQLite only (the demo's data dir). Run `python -m bench.sales_pages --help`; `--seconds 5` is a quick check.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.staff_pages import (
    HEALTHZ,
    BenchError,
    Client,
    Page,
    Recorded,
    _ms,
    _ratio,
    log,
    phase,
    server_env,
    sign_in_all,
    source_commit,
    summarise_page,
)
from bench.webform_load import Server
from crm_store import links

GOAL_P95_MS = 150
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sales_pages.json"
STATE_FILE = "bench_sales_pages.json"  # in a kept work dir: where the copy came from, what the setup added
DATABASE = "leadline.db"
REP = "rep1@example.com"
DOCUMENTS = 500
INVOICES_PICKED, FORMS_PICKED = 200, 50
SHARES = (("invoices", 5), ("quotes", 3), ("sales_orders", 2))  # how the added documents split, in tenths
PASSWORD_LINE = re.compile(r"Password of each of them: (\S+)")
OLDER_LINK = re.compile(r'<a class="btn" rel="next" href="([^"]+)"')  # the tab's pager (`ui.pager`)
TAB_ROW = re.compile(r'<tr class="transactions__row transactions__row--(\w+)">')  # a row of the tab: its kind
TAB_COUNT = re.compile(r'<li class="tile tile--count"><span class="tile__value">([\d,]+)</span>')  # "in all"


# -- the copy ----------------------------------------------------------------------------------------

def copy_demo(source: Path, work: Path) -> dict[str, Any]:
    """Copy the source data dir's database (and its write-ahead log) into the work dir; the source is only read."""
    started = dt.datetime.now(dt.UTC)
    database = source / DATABASE
    if not database.exists():
        raise BenchError(f"{source} holds no {DATABASE}: pass the data dir `crm demo --size large` filled")
    if (source / f"{DATABASE}-wal").exists() and (source / f"{DATABASE}-shm").exists():
        log(f"note: {source} has a write-ahead log: nothing must be writing to it while it is copied")
    copied = []
    for name in (DATABASE, f"{DATABASE}-wal"):
        if (source / name).exists():
            subprocess.run(["cp", "--reflink=auto", str(source / name), str(work / name)], check=True)
            copied.append(name)
    size = sum((work / name).stat().st_size for name in copied)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    log(f"copied {', '.join(copied)} ({size / 2**30:.1f} GiB) from {source} in {seconds:.0f} s")
    return {"source": str(source), "files": copied, "bytes": size, "seconds": round(seconds, 1)}


def upgrade_copy(env: dict[str, str]) -> str:
    """Bring the copy to this version's schema (as `crm init` does); return its revision."""
    from crm_store.config import load_config
    from crm_store.db.engine import make_engine
    from crm_store.db.schema import upgrade

    engine = make_engine(load_config(env).database_url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before != after:
        log(f"the copy migrated {before} -> {after}")
    return str(after)


def password_of(source: Path | None, given: str | None) -> str:
    """The demo users' password: given, or the line `crm demo` printed into the source's demo.log."""
    if given:
        return given
    for logged in sorted(source.glob("*.log")) if source else []:
        found = PASSWORD_LINE.search(logged.read_text(errors="replace"))
        if found:
            return found.group(1)
    raise BenchError("pass --password: the one `crm demo` printed")


# -- the setup (untimed) -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Picks:
    """What the clients ask for, drawn from the rep's own documents in the copy."""

    invoices: list[str]
    forms: list[dict[str, str]]
    expected_totals: list[list[str]]  # each form's stored grand total as the page may show it (en, zh_Hant), or []
    account: str
    account_documents: dict[str, int]
    added_documents: dict[str, int]
    document_numbers: list[str]  # the account's documents, each listed on its Transactions tab
    database: str


def setup(env: dict[str, str], rep_email: str, documents_wanted: int, seed: int) -> Picks:
    """Top the rep's busiest account up to `documents_wanted` documents; draw the invoices and the totals' forms."""
    from sqlalchemy import select

    from crm_store.config import load_config
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.models import Account, Currency, Invoice, User

    rng = random.Random(seed)
    engine = make_engine(load_config(env).database_url)
    try:
        with session_factory(engine)() as session:
            rep = session.scalar(select(User).where(User.email == rep_email))
            if rep is None or rep.role != "rep" or not rep.active:
                raise BenchError(f"{rep_email} is not an active rep of the demo in this database")
            account_id, counts = busiest_account(session, rep.id)
            added = top_up(session, rep.id, account_id, counts, documents_wanted, random.Random(seed + 1))
            session.commit()
            account = session.get_one(Account, account_id)
            counts = documents_of(session, account_id)
            numbers = document_numbers(session, account_id)
            ids = list(session.scalars(select(Invoice.id).where(
                Invoice.owner_id == rep.id, Invoice.deleted_at.is_(None)).order_by(Invoice.id)))
            if not ids:
                raise BenchError(f"{rep_email} owns no invoices in this database")
            drawn = sorted(rng.sample(ids, min(len(ids), INVOICES_PICKED)))
            invoices = list(session.scalars(select(Invoice).where(Invoice.id.in_(drawn)).order_by(Invoice.id)))
            currencies = {c.id: c for c in session.scalars(select(Currency))}
            open_ones = [i for i in invoices if i.status not in ("Paid", "Cancel")] or invoices
            forms, expected = [], []
            for invoice in rng.sample(open_ones, min(len(open_ones), FORMS_PICKED)):
                forms.append(edit_form(session, invoice))
                # The editor's form has no shipping, overall discount or adjustment: its totals are the stored ones
                # only for an invoice without them (the others are checked for an error-free totals block).
                plain = not (invoice.shipping_amount or invoice.discount_percent or invoice.discount_amount
                             or invoice.adjustment)
                expected.append(shown_totals(invoice.grand_total, currencies[invoice.currency_id]) if plain else [])
            server = engine.dialect.name + " " + ".".join(map(str, engine.dialect.server_version_info or ()))
            return Picks([i.invoice_no for i in invoices], forms, expected, account.account_no, counts, added,
                         numbers, server.strip())
    finally:
        engine.dispose()


def busiest_account(session: Any, rep_id: int) -> tuple[int, dict[str, int]]:
    """The rep's account with the most live quotes, orders and invoices (the newest account when none has any)."""
    from sqlalchemy import func, select, union_all

    from crm_store.models import Account, Invoice, Quote, SalesOrder

    mine = select(Account.id).where(Account.owner_id == rep_id, Account.deleted_at.is_(None))
    held = union_all(*(select(model.account_id.label("account_id")).where(
        model.account_id.in_(mine), model.deleted_at.is_(None)) for model in (Quote, SalesOrder, Invoice))).subquery()
    top = session.execute(select(held.c.account_id, func.count()).group_by(held.c.account_id)
                          .order_by(func.count().desc(), held.c.account_id).limit(1)).first()
    account_id = top[0] if top else session.scalar(mine.order_by(Account.id.desc()).limit(1))
    if account_id is None:
        raise BenchError("the rep owns no accounts in this database")
    return int(account_id), documents_of(session, int(account_id))


def documents_of(session: Any, account_id: int) -> dict[str, int]:
    """How many live quotes, sales orders and invoices the account has."""
    from sqlalchemy import func, select

    from crm_store.records import registry

    return {module: int(session.scalar(select(func.count()).select_from(registry.get(module).model).where(
        registry.get(module).model.account_id == account_id, registry.get(module).model.deleted_at.is_(None))) or 0)
        for module in ("quotes", "sales_orders", "invoices")}


def document_numbers(session: Any, account_id: int) -> list[str]:
    """The numbers of the account's live documents."""
    from sqlalchemy import select

    from crm_store.records import registry

    found: list[str] = []
    for module in ("quotes", "sales_orders", "invoices"):
        spec = registry.get(module)
        found += session.scalars(select(getattr(spec.model, spec.number_field)).where(
            spec.model.account_id == account_id, spec.model.deleted_at.is_(None)))
    return found


def top_up(session: Any, rep_id: int, account_id: int, counts: dict[str, int], wanted: int,
           rng: random.Random) -> dict[str, int]:
    """Add documents to the account until it has `wanted`, through the store's bulk path; how many of each."""
    from sqlalchemy import select

    from crm_store.actor import Actor
    from crm_store.models import Product
    from crm_store.sales.bulk import NewDocument, NewLine, NewPayment, insert_documents

    missing = wanted - sum(counts.values())
    if missing <= 0:
        return {}
    products = list(session.execute(select(Product.id, Product.product_type).where(
        Product.deleted_at.is_(None), Product.active, Product.unit_price.is_not(None)).order_by(Product.id)))
    services = [p.id for p in products if p.product_type == "service"]
    if not products or not services:
        raise BenchError("the catalogue has no priced products and services to make documents of")
    now = dt.datetime.now(dt.UTC)
    split = {module: missing * tenths // 10 for module, tenths in SHARES}
    split["invoices"] += missing - sum(split.values())
    added: dict[str, int] = {}
    for module, count in split.items():
        batch = []
        for n in range(count):
            made = now - dt.timedelta(days=rng.uniform(1, 548))
            pool = services if module == "invoices" else [p.id for p in products]
            lines = [NewLine(pid, Decimal(rng.randint(1, 5))) for pid in rng.sample(pool, min(len(pool),
                                                                                              rng.randint(1, 6)))]
            values: dict[str, Any] = {"subject": f"Bench {module} {n + 1} 效能測試", "account_id": account_id,
                                      "owner_id": rep_id, "created_at": made}
            payments: list[NewPayment] = []
            if module == "invoices":
                values["invoice_date"] = made.date()
                way, paid_on = rng.random(), min(made.date() + dt.timedelta(days=20), now.date())
                if way < 0.6:
                    payments = [NewPayment(paid_on, share=Decimal(1))]
                elif way < 0.8:
                    payments = [NewPayment(paid_on, share=Decimal("0.4"))]
            batch.append(NewDocument(values, lines, payments))
        insert_documents(session, module, batch, Actor.system("bench.sales_pages"), at=now)
        added[module] = count
    log(f"added {', '.join(f'{n} {m}' for m, n in added.items())} to the account (it had {sum(counts.values())})")
    return added


def edit_form(session: Any, invoice: Any) -> dict[str, str]:
    """The invoice's form as its edit page fills it (what the editor posts for its totals)."""
    from crm_store.sales import documents

    def plain(value: Any) -> str:
        return "" if value is None else f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)

    form = {field: plain(getattr(invoice, field)) for field in (
        "subject", "account_id", "contact_id", "status", "owner_id", "price_book_id", "tax_mode", "terms",
        "description", "invoice_date", "due_date")}
    form["number"] = invoice.invoice_no
    for i, (item, product) in enumerate(documents.lines_of(session, invoice)):
        form |= {f"lines-{i}-product": product.product_code or product.product_no,
                 f"lines-{i}-quantity": plain(item.quantity), f"lines-{i}-list_price": plain(item.list_price),
                 f"lines-{i}-discount_kind": item.discount_kind or "",
                 f"lines-{i}-discount_value": plain(item.discount_value), f"lines-{i}-comment": item.comment or ""}
    return form


def shown_totals(amount: Decimal, currency: Any) -> list[str]:
    """An amount as the totals block may show it, in English and in Chinese."""
    from crm_store import languages

    return [languages.format_money(amount, currency.code, currency.minor_unit, code) for code in ("en", "zh_Hant")]


def pages(picks: Picks, older: Sequence[str] = ()) -> list[Page]:
    """The rows of the report (after /healthz); `older`: the tab's pages after the first."""
    totals = links.path("sales_totals", module="invoices")
    tab = links.path("account_transactions", number=picks.account)
    documents = sum(picks.account_documents.values())
    return [
        Page("invoice", "invoice page", "/invoices/<number>",
             tuple(links.path("sales_document", module="invoices", number=n) for n in picks.invoices), roles=("rep",)),
        Page("totals", "line editor's totals", f"POST {totals}", (totals,), roles=("rep",), method="POST",
             forms=tuple(picks.forms)),
        Page("transactions", f"Transactions tab, {documents:,} documents", tab, (tab,), roles=("rep",)),
        *([Page("transactions_older", f"its older pages (2–{len(older) + 1})", f"{tab}?page=N", tuple(older),
                roles=("rep",))] if older else []),
    ]


# -- the run -------------------------------------------------------------------------------------------

async def check(client: Client, picks: Picks) -> dict[str, Any]:
    """Before the clock: each totals form shows its invoice's grand total; the tab lists every document."""
    totals = client.base + links.path("sales_totals", module="invoices")
    for form, expected in zip(picks.forms, picks.expected_totals, strict=True):
        async with client.http.post(totals, data={**form, "csrf_token": client.csrf}, allow_redirects=False) as resp:
            body = await resp.text()
        computed = resp.status == 200 and "totals-lines" in body and "totals__error" not in body
        if not computed or (expected and not any(shown in body for shown in expected)):
            raise BenchError(f"the totals of {form['number']} answered {resp.status} without "
                             f"{expected[0] if expected else 'its totals'}: {body[:300]}")
    tab: str | None = links.path("account_transactions", number=picks.account)
    bodies: list[str] = []
    older: list[str] = []
    while tab is not None:
        async with client.http.get(client.base + tab, allow_redirects=False) as resp:
            body = await resp.text()
            if resp.status != 200:
                raise BenchError(f"the Transactions tab's {tab} answered {resp.status}")
        if bodies:
            older.append(tab)
        bodies.append(body)
        following = OLDER_LINK.search(body)
        tab = following.group(1).replace("&amp;", "&") if following else None
        if len(bodies) > 1000:
            raise BenchError("the Transactions tab's Older links do not end")
    rows = [kind for body in bodies for kind in TAB_ROW.findall(body)]
    whole = "".join(bodies)
    missing = [n for n in picks.document_numbers if n not in whole]
    if missing:
        raise BenchError(f"the Transactions tab's pages do not list {len(missing)} of the account's documents, "
                         f"e.g. {missing[:3]}")
    in_all = TAB_COUNT.search(bodies[0])
    documents = sum(1 for kind in rows if kind != "payment")
    if in_all is None or int(in_all.group(1).replace(",", "")) != len(rows) or documents != len(picks.document_numbers):
        raise BenchError(f"the Transactions tab's pages list {len(rows)} rows ({documents} documents) where it "
                         f"counts {in_all and in_all.group(1)} ({len(picks.document_numbers)} documents)")
    return {"totals_forms_checked": len(picks.forms),
            "totals_equal_to_stored": sum(1 for expected in picks.expected_totals if expected),
            "tab_documents_listed": len(picks.document_numbers), "tab_rows": len(rows), "tab_pages": len(bodies),
            "tab_kb": round(len(bodies[0].encode()) / 1024, 1), "older_pages": older}


async def drive(base: str, password: str, picks: Picks, args: argparse.Namespace,
                server: Server) -> tuple[dict[str, Recorded], dict[str, Any]]:
    """/healthz, then each page, all as the rep."""
    clients = await sign_in_all(base, args.clients, args.rep, password, args.seed)
    log(f"{args.clients} clients signed in as {args.rep}")
    try:
        new_invoice = links.path("sales_document_new", module="invoices")
        for client in clients:
            await client.fetch_csrf(new_invoice)
        checked = await check(clients[0], picks)
        older = checked["older_pages"]
        log(f"checked: { {k: v for k, v in checked.items() if k != 'older_pages'} }")
        out: dict[str, Recorded] = {}
        for page in [HEALTHZ, *pages(picks, older)]:
            out[page.key] = rec = await phase(clients, page, args, server)
            window = summarise_page(page, rec, args)
            log(f"  {page.key}: {window['requests']:,} requests, p50 {_ms(window['latency_ms']['p50'])} ms, "
                f"p95 {_ms(window['latency_ms']['p95'])} ms, non-200 {window['non_200']:,}")
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    return out, checked


def summarise(recorded: dict[str, Recorded], picks: Picks, args: argparse.Namespace,
              older: Sequence[str] = ()) -> dict[str, Any]:
    every = {HEALTHZ.key: HEALTHZ, **{p.key: p for p in pages(picks, older)}}
    rows = {key: summarise_page(every[key], rec, args) for key, rec in recorded.items()}
    health = rows[HEALTHZ.key]["latency_ms"]
    for key, row in rows.items():
        lat = row["latency_ms"]
        row["ratio_to_healthz"] = {q: round(lat[q] / health[q], 1) if lat[q] and health[q] else None
                                   for q in ("p50", "p95", "p99")}
        if key != HEALTHZ.key:
            row["goal_ms"] = GOAL_P95_MS
            row["goal_met"] = lat["p95"] is not None and lat["p95"] < GOAL_P95_MS
    return rows


def markdown(r: dict[str, Any]) -> str:
    m, picks = r["machine"], r["picks"]
    counts = picks["account_documents"]
    lines = [
        f"## Sales pages: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, {r['database']}, "
        f"gunicorn {m['gunicorn']} with {r['workers']} uvicorn workers",
        "",
        f"Source: {(r['source_commit'] or 'unknown')[:12]} (with the working tree's local changes, if any). "
        f"Data: a copy of {r['copy']['source']} ({r['copy']['bytes'] / 2**30:.1f} GiB). "
        f"{r['clients']} clients as {r['rep']} (one process, asyncio + aiohttp, one keep-alive connection and "
        f"session each, loopback), closed loop, {r['seconds']:g} s measured per page after {r['warmup']:g} s of "
        "warm-up; the clients share the machine's cores with the server.",
        "",
        f"Invoice pages: {picks['invoices']} of the rep's invoices; totals: {picks['forms']} of their open invoices' "
        f"edit forms (each checked first: {r['checked']['totals_equal_to_stored']} show their stored grand total); "
        "Transactions tab: "
        f"{picks['account']} with {counts.get('quotes', 0):,} quotes, {counts.get('sales_orders', 0):,} orders and "
        f"{counts.get('invoices', 0):,} invoices"
        + (f" ({', '.join(f'{n:,} {k}' for k, n in picks['added_documents'].items())} added by the setup)"
           if picks["added_documents"] else "")
        + f"; {r['checked']['tab_rows']:,} transactions on {r['checked']['tab_pages']} pages (the first "
        f"{r['checked']['tab_kb']:,} KB).",
        "",
        "| page | requests/s | p50 ms | p95 ms | p99 ms | ÷ /healthz p50 · p95 · p99 | non-200 | KB | "
        "server CPU ms/req | clients CPU s | other CPU s | goal (p95) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for key, row in r["pages"].items():
        lat, cpu, ratio = row["latency_ms"], row["cpu"], row["ratio_to_healthz"]
        cells = [f"{row['label']} `{row['shown']}`", f"{row['requests_per_s']:,.0f}", _ms(lat["p50"]),
                 _ms(lat["p95"]), _ms(lat["p99"]),
                 f"{_ratio(ratio['p50'])} · {_ratio(ratio['p95'])} · {_ratio(ratio['p99'])}",
                 f"{row['non_200']:,}", f"{row['mean_kb']:,.1f}", f"{cpu.get('server_cpu_ms_per_request', 0):.2f}",
                 f"{cpu.get('clients_cpu_seconds', 0):,.1f}",
                 f"{cpu.get('other_processes_cpu_seconds', 0):,.1f} of "
                 f"{cpu.get('machine_cpu_seconds_available', 0):,.0f}",
                 "" if key == HEALTHZ.key else f"< {GOAL_P95_MS} ms: " + ("met" if row["goal_met"] else "**NOT met**")]
        lines.append("| " + " | ".join(cells) + " |")
    failed = [(key, row) for key, row in r["pages"].items() if row["non_200"]]
    lines.append("")
    if failed:
        lines.append("**Failures** (every request counted, the warm-up too):")
        for key, row in failed:
            examples = "; ".join(f"{f['status']} {f['path']}" for f in row["failure_examples"][:3])
            lines.append(f"- {key}: {row['non_200']:,} non-200 answers {row['status']}"
                         + (f", errors {row['errors']}" if row["errors"] else "") + f" — e.g. {examples}")
    else:
        lines.append("Every answer was a 200.")
    logs = {k: v for k, v in r["server_log"].items() if v}
    if logs:
        lines.append(f"Server log: {', '.join(f'{k} {v:,}' for k, v in logs.items())}.")
    lines.append(f"Goal p95 < {GOAL_P95_MS} ms on each page: {'met' if r['goal_met'] else 'NOT met'}.")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.sales_pages",
        description="p50/p95/p99 of an invoice page, the line editor's totals and an account's Transactions tab of "
                    "500 documents, on a copy of the large demo under `crm serve`, 8 signed-in clients as a rep, "
                    "against /healthz (goal p95 < 150 ms).",
    )
    p.add_argument("--source", type=Path, help="the data dir `crm demo --size large` filled: its database is copied "
                   "(never written); not needed when --keep DIR holds a copy already")
    p.add_argument("--keep", metavar="DIR", type=Path,
                   help="the work dir to copy into and keep, or to reuse when a run copied into it before; default: "
                        "a temporary one, deleted at the end")
    p.add_argument("--password", help="the demo users' password (default: read from the source's demo.log)")
    p.add_argument("--rep", default=REP, help=f"the rep to sign in as (default {REP})")
    p.add_argument("--documents", type=int, default=DOCUMENTS,
                   help=f"the documents the rep's busiest account is topped up to (default {DOCUMENTS})")
    p.add_argument("--seconds", type=float, default=30, help="measured seconds per page (default 30)")
    p.add_argument("--warmup", type=float, default=2, help="seconds of load before each page's window (default 2)")
    p.add_argument("--clients", type=int, default=8, help="concurrent signed-in clients (default 8)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the picks and the added documents")
    p.add_argument("--json", metavar="PATH", type=Path, default=RESULTS,
                   help="where to write the JSON result (default bench/results/sales_pages.json)")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.clients < 1 or args.workers < 1 or args.documents < 0:
        p.error("--seconds, --clients and --workers must be positive, --warmup and --documents at least 0")
    args.depth = 2  # `phase` asks it of deep pages; these are not
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="leadline-sales-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "benchmark": "sales_pages",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.sales_pages " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": describe(("gunicorn", "uvicorn", "flask", "sqlalchemy", "aiohttp")),
        "source_commit": source_commit(),
        "seconds": args.seconds, "warmup": args.warmup, "clients": args.clients, "workers": args.workers,
        "rep": args.rep, "goal_p95_ms": GOAL_P95_MS, "load_average_at_start": list(os.getloadavg()),
    }
    state_path = work / STATE_FILE
    try:
        if state_path.exists():
            kept = json.loads(state_path.read_text())
            log(f"reusing the copy in {work} (of {kept['copy']['source']})")
        else:
            if args.source is None:
                raise BenchError("pass --source DIR (the demo's data dir to copy), or a --keep DIR that holds a copy")
            if args.source.resolve() == work:
                raise BenchError("the work dir must not be the source: the copy is written to")
            kept = {"copy": copy_demo(args.source.resolve(), work)}
            state_path.write_text(json.dumps(kept, indent=2) + "\n")
        result["copy"] = kept["copy"]
        password = password_of(args.source or Path(kept["copy"]["source"]), args.password)
        env = server_env(work, None)
        result["schema"] = upgrade_copy(env)
        picks = setup(env, args.rep, args.documents, args.seed)
        result["database"] = picks.database
        result["picks"] = {"invoices": len(picks.invoices), "forms": len(picks.forms), "account": picks.account,
                           "account_documents": picks.account_documents, "added_documents": picks.added_documents,
                           "example_invoices": picks.invoices[:5]}
        server = Server("webform.asgi:app", env, work / "server.log", args.workers)
        server.env["CRM_BASE_URL"] = server.base
        log(f"serving {work} on {server.base} ({args.workers} workers)")
        with server:
            recorded, result["checked"] = asyncio.run(drive(server.base, password, picks, args, server))
        result["server_log"] = server.log_summary()
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        if args.keep:
            log(f"work dir kept in {work} (reuse it with --keep {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["pages"] = summarise(recorded, picks, args, result["checked"].pop("older_pages"))
    result["load_average_at_end"] = list(os.getloadavg())
    result["goal_met"] = all(row.get("goal_met", True) for row in result["pages"].values())
    result["failures"] = sum(row["non_200"] for row in result["pages"].values())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))
    log(f"results written to {args.json}")
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
