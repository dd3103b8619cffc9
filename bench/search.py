"""Search benchmark (issue 3): `crm_store.search` against a plain LIKE '%term%' scan, on the large demo.

The large demo (or a share of it, --scale) is loaded through the bulk path, as `crm demo --size large`
does (which builds the index once at its end), into a fresh SQLite file, or into --database-url when
that holds no records yet (otherwise the records already there are used).
Then the index is rebuilt (timed, with its size), 100 terms are drawn from the data (25 Latin
fragments, 25 two-character Chinese name fragments, 25 phone fragments of 4-6 digits, 25 record
numbers) and each is timed through `query.search` (the median of three runs, after one warm-up
pass), through `query.search` made for one rep of the demo (--as: only the records that rep may see,
the scope checked on every candidate), and through a LIKE scan over the same columns (one run, after
a warm-up scan). The goal is a p95 under 50 ms, scoped or not. Run `python -m bench.search --help`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, String, func, literal, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.bulk_insert import machine, server_version
from crm_store.db.engine import make_engine, session_factory
from crm_store.db.schema import upgrade
from crm_store.models import Account, Contact, Lead, Opportunity, SearchDocument, User
from crm_store.ops.demo import SIZES, DemoSize, load_demo
from crm_store.ops.demo_rows import DEMO_DOMAIN
from crm_store.records.names import CJK
from crm_store.search import index as search_index
from crm_store.search import query
from crm_store.search.terms import SEP
from crm_store.settings.seed import seed_all

GOAL_P95_MS = 50
SCOPED_AS = f"rep1@{DEMO_DOMAIN}"  # a rep of the demo: sees their own records, about 1 in 50
RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
KINDS = ("latin", "chinese", "phone", "number")
INDEX_TABLES = ("search_documents", "search_grams", "search_phone_grams")
Term = tuple[str, str]  # (kind, term)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data ----------------------------------------------------------------------------------------------

def load(engine: Engine, scale: float, seed: int) -> dict[str, Any]:
    """Load the large demo, or `scale` of it, through the bulk path; return counts and seconds."""
    large = SIZES["large"]
    name = "large" if scale == 1 else f"large x{scale:g}"
    SIZES[name] = DemoSize(  # load_demo takes a size by name: register the scaled one for this process
        large.reps, round(large.leads * scale), round(large.accounts * scale), round(large.contacts * scale),
        round(large.opportunities * scale), large.campaigns, large.lead_activity_rate, large.note_rate,
    )
    started = time.perf_counter()
    with session_factory(engine).begin() as session:
        seed_all(session)
        counts = load_demo(session, name, seed=seed, progress=_ticker())
    return {"size": name, "seconds": round(time.perf_counter() - started, 1), "counts": counts}


def _ticker() -> Callable[[str, int], None]:
    done: dict[str, int] = {}

    def tick(stage: str, n: int) -> None:
        before = done.get(stage, 0)
        done[stage] = before + n
        if done[stage] // 100_000 != before // 100_000:
            log(f"  {stage}: {done[stage]:,}")

    return tick


def rebuild(engine: Engine) -> dict[str, Any]:
    """Rebuild the index in one transaction; time the documents and the grams apart."""
    marks: dict[str, float] = {}

    def mark(stage: str, _n: int) -> None:
        marks.setdefault(stage, time.perf_counter())

    started = time.perf_counter()
    with session_factory(engine).begin() as session:
        stats = search_index.rebuild_index(session, progress=mark)
        marks["committing"] = time.perf_counter()
    done = time.perf_counter()
    grams_at = marks.get("grams", done)
    return {
        "documents": stats.documents, "grams": stats.grams, "phone_grams": stats.phone_grams,
        "grams_per_document": round(stats.grams / max(stats.documents, 1), 1),
        "phone_grams_per_document": round(stats.phone_grams / max(stats.documents, 1), 1),
        "seconds": round(done - started, 1), "documents_seconds": round(grams_at - started, 1),
        "grams_seconds": round(marks["committing"] - grams_at, 1),
        "commit_seconds": round(done - marks["committing"], 1),
    }


def table_sizes(engine: Engine) -> dict[str, int]:
    """Bytes per table (with its indexes) of the search index and of the whole database."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("select name, sum(pgsize) from dbstat group by name").all()
            rows: dict[str, int] = dict(pages)
            sizes = {t: sum(v for k, v in rows.items() if k == t or k.startswith(("ix_" + t, "uq_" + t,
                                                                                   f"sqlite_autoindex_{t}")))
                     for t in INDEX_TABLES}
            return {**sizes, "database": sum(rows.values())}
        size = text("select pg_total_relation_size(:t)")
        sizes = {t: conn.execute(size, {"t": t}).scalar_one() for t in INDEX_TABLES}
        return {**sizes, "database": conn.execute(text("select pg_database_size(current_database())")).scalar_one()}


# -- terms ---------------------------------------------------------------------------------------------

def pick_terms(session: Session, seed: int, per_kind: int) -> list[Term]:
    """Draw terms from the indexed data: what people type into a CRM's search box."""
    rng = random.Random(seed)
    doc = SearchDocument
    sample = list(session.execute(
        select(doc.module, doc.body, doc.phones, doc.number).where(doc.id % 97 == seed % 97).limit(20_000)
    ))
    rng.shuffle(sample)
    drawn: dict[str, list[str]] = {k: [] for k in KINDS}
    for module, body, phones, number in sample:
        pieces = [p for p in body.split(SEP) if p]
        name = pieces[0] if pieces else ""  # a person's name comes first
        latin = [p for p in pieces if p.isascii() and any(c.isalpha() for c in p)]
        if latin and len(drawn["latin"]) < per_kind:
            piece = rng.choice(latin)
            size = rng.randint(3, min(8, len(piece)))
            start = rng.randrange(len(piece) - size + 1)
            fragment = piece[start : start + size].strip()
            if len(fragment) >= 3:
                drawn["latin"].append(fragment)
        chinese = module in ("leads", "contacts") and len(name) >= 3 and all(CJK.match(c) for c in name)
        if chinese and len(drawn["chinese"]) < per_kind:  # a family name and a given name: 王小明
            drawn["chinese"].append(name[:2] if rng.random() < 0.5 else name[1:3])
        phone_list = [p for p in phones.split(SEP) if p]
        if phone_list and len(drawn["phone"]) < per_kind:
            digits = rng.choice(phone_list)
            size = rng.randint(4, 6)
            start = rng.randrange(len(digits) - size + 1)
            drawn["phone"].append(digits[start : start + size])
        if len(drawn["number"]) < per_kind:
            drawn["number"].append(number if rng.random() < 0.5 else number.lower())
    return [(kind, t) for kind in KINDS for t in drawn[kind]]


# -- the two ways of searching -------------------------------------------------------------------------

def like_scan(term: str) -> list[Select[Any]]:
    """The plain way: LIKE '%term%' over the record columns the index holds, every match, no ranking.

    It is kept plain, so it reads each table once: a contact's or opportunity's account name (which
    the index holds too) would need a join, and phone fragments are matched in the E.164 columns.
    """
    pattern = f"%{term}%"

    def name(model: Any) -> Any:
        first = func.coalesce(model.first_name, literal("", String))
        return or_((model.last_name + first).like(pattern), (first + " " + model.last_name).like(pattern))

    def live(model: Any, *conditions: Any) -> Select[Any]:
        return select(model.id).where(model.deleted_at.is_(None), or_(*conditions))

    return [
        live(Lead, name(Lead), Lead.company.like(pattern), Lead.email.like(pattern), Lead.phone_e164.like(pattern),
             Lead.mobile_e164.like(pattern), Lead.lead_no.like(pattern)),
        live(Account, Account.name.like(pattern), Account.email.like(pattern), Account.phone_e164.like(pattern),
             Account.account_no.like(pattern)),
        live(Contact, name(Contact), Contact.email.like(pattern), Contact.phone_e164.like(pattern),
             Contact.mobile_e164.like(pattern), Contact.contact_no.like(pattern)),
        live(Opportunity, Opportunity.name.like(pattern), Opportunity.opportunity_no.like(pattern)),
    ]


def time_search(session: Session, term: str, runs: int, user: User | None = None) -> tuple[float, int]:
    """Median seconds of `runs` searches (made for `user`, if given), and how many results the last one had."""
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = len(query.search(session, term, user=user))
        times.append(time.perf_counter() - started)
    return statistics.median(times), found


def time_like(session: Session, term: str) -> tuple[float, int]:
    started = time.perf_counter()
    found = sum(len(session.execute(stmt).all()) for stmt in like_scan(term))
    return time.perf_counter() - started, found


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def at(q: float) -> float:  # nearest rank
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]

    return {"p50_ms": round(at(0.50) * 1000, 2), "p95_ms": round(at(0.95) * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2), "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


def measure(engine: Engine, terms: list[Term], runs: int, skip_like: bool, scoped_as: str) -> list[dict[str, Any]]:
    rows = []
    with session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.email == scoped_as)) if scoped_as else None
        if scoped_as and user is None:
            log(f"no user {scoped_as}: the scoped searches are left out")
        for _, term in terms:  # warm-up: the pages both ways read come into the cache
            query.search(session, term)
            if user is not None:
                query.search(session, term, user=user)
        if not skip_like:
            time_like(session, terms[0][1])
        for i, (kind, term) in enumerate(terms, 1):
            s, s_found = time_search(session, term, runs)
            row = {"kind": kind, "term": term, "search_ms": round(s * 1000, 2), "search_found": s_found}
            if user is not None:
                scoped_s, scoped_found = time_search(session, term, runs, user)
                row |= {"scoped_ms": round(scoped_s * 1000, 2), "scoped_found": scoped_found}
            if not skip_like:
                like_s, like_found = time_like(session, term)
                row |= {"like_ms": round(like_s * 1000, 2), "like_found": like_found}
            rows.append(row)
            if i % 10 == 0:
                log(f"  {i}/{len(terms)} terms")
        session.rollback()
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in (*KINDS, "all"):
        chosen = [r for r in rows if kind in ("all", r["kind"])]
        entry: dict[str, Any] = {"terms": len(chosen), "search": percentiles([r["search_ms"] / 1000 for r in chosen]),
                 "terms_with_results": sum(1 for r in chosen if r["search_found"])}
        if "scoped_ms" in chosen[0]:
            entry["scoped"] = percentiles([r["scoped_ms"] / 1000 for r in chosen])
            entry["terms_with_scoped_results"] = sum(1 for r in chosen if r["scoped_found"])
        if "like_ms" in chosen[0]:
            entry["like"] = percentiles([r["like_ms"] / 1000 for r in chosen])
            entry["like_over_search_p50"] = round(entry["like"]["p50_ms"] / entry["search"]["p50_ms"], 1)
        out[kind] = entry
    return out


# -- report ----------------------------------------------------------------------------------------------

def markdown(result: dict[str, Any]) -> str:
    like, scoped = "like" in result["summary"]["all"], "scoped" in result["summary"]["all"]
    lines = ["| terms | n | search p50 ms | search p95 ms | search max ms |"
             + (" scoped p50 ms | scoped p95 ms | scoped max ms |" if scoped else "")
             + (" LIKE p50 ms | LIKE p95 ms | LIKE/search (p50) |" if like else ""),
             "|---|--:|--:|--:|--:|" + ("--:|--:|--:|" if scoped else "") + ("--:|--:|--:|" if like else "")]
    for kind, s in result["summary"].items():
        cells = [kind, str(s["terms"]), f"{s['search']['p50_ms']:.1f}", f"{s['search']['p95_ms']:.1f}",
                 f"{s['search']['max_ms']:.1f}"]
        if scoped:
            cells += [f"{s['scoped']['p50_ms']:.1f}", f"{s['scoped']['p95_ms']:.1f}", f"{s['scoped']['max_ms']:.1f}"]
        if like:
            cells += [f"{s['like']['p50_ms']:.0f}", f"{s['like']['p95_ms']:.0f}", f"{s['like_over_search_p50']:,.0f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.search",
        description="Time crm_store.search against a plain LIKE scan over 100 terms drawn from the large demo.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--database-url", help="the database to use: its records (e.g. after `crm demo --size large`), or "
                   "the demo loaded into it when it has none; default: a fresh SQLite file in a temporary directory")
    p.add_argument("--scale", type=float, default=1.0, help="share of the large demo to load (0.1 for a quick run)")
    p.add_argument("--terms", type=int, default=25, help="terms of each kind (Latin, Chinese, phone, number)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each search (the median counts)")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the demo and of the terms")
    p.add_argument("--skip-like", action="store_true", help="do not time the LIKE scans (they take ~1 s each)")
    p.add_argument("--as", dest="scoped_as", metavar="EMAIL", default=SCOPED_AS,
                   help="also time each search made for this user (only what they may see); '' to skip")
    p.add_argument("--keep", action="store_true", help="keep the temporary SQLite file")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    args = p.parse_args(argv)
    if not 0 < args.scale <= 1:
        p.error("--scale must be in (0, 1]")
    return args


def run(engine: Engine, url: str, args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, Any]:
    """Load the demo when the database is empty, rebuild the index, time the terms; return the result."""
    upgrade(engine)
    result: dict[str, Any] = {
        "benchmark": "search",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.search " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "database": {"url": make_url(url).render_as_string(), "server": server_version(engine)},
        "goal_p95_ms": GOAL_P95_MS,
    }
    with session_factory(engine)() as session:
        empty = session.scalar(select(Lead.id).limit(1)) is None
    if empty:
        log(f"loading the demo ({args.scale:g} of large) into {make_url(url).render_as_string()}...")
        result["demo"] = load(engine, args.scale, args.seed)
        log(f"demo loaded in {result['demo']['seconds']} s")
    log("rebuilding the search index...")
    result["index"] = rebuild(engine)
    result["sizes_bytes"] = table_sizes(engine)
    log(f"index rebuilt in {result['index']['seconds']} s: {result['index']}")
    with session_factory(engine)() as session:
        terms = pick_terms(session, args.seed, args.terms)
    log(f"timing {len(terms)} terms...")
    rows = measure(engine, terms, args.runs, args.skip_like, args.scoped_as)
    result["summary"] = summarise(rows)
    result["terms"] = rows
    if "scoped_ms" in rows[0]:
        result["scoped_as"] = args.scoped_as
    result["goal_met"] = all(result["summary"]["all"][way]["p95_ms"] < GOAL_P95_MS
                             for way in ("search", "scoped") if way in result["summary"]["all"])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="leadline-bench-")
    os.environ["CRM_DATA_DIR"] = tmp  # demo users queue welcome mail signed with the data dir's key
    url = args.database_url or f"sqlite:///{tmp}/search.db"
    engine = make_engine(url)
    try:
        result = run(engine, url, args, argv)
    finally:  # a failed run must not leave gigabytes behind in the temporary directory
        engine.dispose()
        if args.keep:
            log(f"database kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    m, idx, sizes = result["machine"], result["index"], result["sizes_bytes"]
    print(f"## Search: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, {result['database']['server']}\n")
    print(markdown(result))
    print()
    print(f"Index: {idx['documents']:,} documents, {idx['grams']:,} grams ({idx['grams_per_document']}/document), "
          f"{idx['phone_grams']:,} phone grams; rebuilt in {idx['seconds']} s (documents {idx['documents_seconds']} s, "
          f"grams {idx['grams_seconds']} s, commit {idx['commit_seconds']} s).")
    index_mb = sum(sizes[t] for t in INDEX_TABLES) / 1e6
    print(f"Size: index {index_mb:,.0f} MB ({', '.join(f'{t} {sizes[t] / 1e6:,.0f} MB' for t in INDEX_TABLES)}) "
          f"of {sizes['database'] / 1e6:,.0f} MB in all.")
    overall = result["summary"]["all"]
    p95 = f"{overall['search']['p95_ms']:.1f} ms"
    if "scoped" in overall:
        p95 += f" (made for {result['scoped_as']}: {overall['scoped']['p95_ms']:.1f} ms)"
    print(f"Goal p95 < {GOAL_P95_MS} ms: {p95}, {'met' if result['goal_met'] else 'NOT met'}.")
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
