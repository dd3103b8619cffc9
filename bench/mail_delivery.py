"""Mail delivery benchmark (issue 4): the outbox worker's real path against one SMTP connection per message.

An SMTP sink (aiosmtpd on loopback, in its own process so it does not share the client's GIL)
counts what it receives and answers every DATA with 250. Against it, in one run:

* product: N messages queued with `crm_store.outbox.enqueue` (not timed), then `emails.worker.send_due`
  pass after pass until nothing is due — claiming the rows, rendering each one with
  `emails.render.render`, delivering through `emails.delivery.deliver_sync` (aiosmtplib, up to
  `--concurrency` reused connections) and marking the rows sent. That whole loop is timed.
* baseline: the naive worker — for each queued message, render it (`emails.render.render`, the same
  templates and samples) and send it over its own new connection (`aiosmtplib.send`: connect,
  EHLO, MAIL, RCPT, DATA, QUIT), one after another. Rendering and sending are timed, as in the
  product path (the baseline skips the database work, which only flatters it).
* SMTP part only: the product's delivery layer alone, `deliver_sync` on pre-rendered messages, and
  render only (the pre-rendering itself, timed), so the shares of network and render show.

The sink's count is checked after every phase (exactly the messages sent, none lost, none twice)
and every outbox row must end `sent`. Run `python -m bench.mail_delivery --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import json
import multiprocessing as mp
import os
import pstats
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any, TypeVar

from bench.machine import describe

GOAL_MESSAGES_PER_S = 500
RESULTS = Path(__file__).resolve().parent / "results" / "mail_delivery.json"
# Staff notifications a busy CRM sends the most of; all take only their context (no attachments).
TEMPLATES = ("leads_assigned", "test_message", "follow_up_due", "new_inquiry", "sla_reminder")
T = TypeVar("T")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the sink (runs in its own process) --------------------------------------------------------

class _CountingHandler:
    def __init__(self, counter: Any, sizes: Any) -> None:
        self.counter = counter
        self.sizes = sizes

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.counter.get_lock():
            self.counter.value += 1
        with self.sizes.get_lock():
            self.sizes.value += len(envelope.original_content or envelope.content or b"")
        return "250 OK"


def _sink_main(port: int, counter: Any, sizes: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_CountingHandler(counter, sizes), hostname="127.0.0.1", port=port,
                            server_hostname="sink.localhost")  # else socket.getfqdn() per connection
    controller.start()
    ready.set()
    try:
        stop.wait()
    finally:
        controller.stop()


class Sink:
    """aiosmtpd in a spawned process on a free loopback port, with a shared message counter."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.port = _free_port()
        self.counter = ctx.Value("q", 0)
        self.bytes = ctx.Value("q", 0)
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._proc = ctx.Process(
            target=_sink_main, args=(self.port, self.counter, self.bytes, self._ready, self._stop),
            name="smtp-sink", daemon=True,
        )

    def __enter__(self) -> Sink:
        self._proc.start()
        deadline = time.monotonic() + 30
        while not self._ready.wait(0.1):
            if not self._proc.is_alive() or time.monotonic() > deadline:
                self._proc.kill()
                raise RuntimeError("the SMTP sink (aiosmtpd) did not start; see its error above")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def received(self) -> tuple[int, int]:
        return self.counter.value, self.bytes.value


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the product path ----------------------------------------------------------------------------

def recipient(i: int) -> tuple[str, str]:
    return f"rep{i % 50:02d}@goodfortune.example", f"Rep {i % 50:02d}"


def queue_messages(url: str, n: int) -> Counter[str]:
    """A fresh, migrated and seeded database with n staff messages queued (round-robin templates)."""
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.db.schema import upgrade
    from crm_store.mail import outbox
    from crm_store.settings.seed import seed_all
    from emails.catalog import SAMPLES

    engine = make_engine(url)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as s:
            seed_all(s)
        mix: Counter[str] = Counter()
        with session_factory(engine).begin() as s:
            for i in range(n):
                template = TEMPLATES[i % len(TEMPLATES)]
                address, name = recipient(i)
                outbox.enqueue(s, template, address, key=f"bench-{i}", context=SAMPLES[template],
                               to_staff=True, recipient_name=name)
                mix[template] += 1
    finally:
        engine.dispose()
    return mix


def run_product(config: Any, batch: int) -> tuple[Counter[str], int]:
    """send_due until a pass finds less than a full batch, as emails.worker.send_all_due does."""
    from crm_store.db.engine import make_engine
    from emails.worker import send_due

    engine = make_engine(config.database_url)
    total: Counter[str] = Counter()
    passes = 0
    try:
        while True:
            tally = send_due(config, engine=engine, limit=batch)
            passes += 1
            total.update(tally)
            if tally.total() < batch:
                break
    finally:
        engine.dispose()
    return total, passes


def outbox_counts(url: str) -> dict[str, int]:
    from crm_store.db.engine import make_engine, session_factory
    from crm_store.mail import outbox

    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as s:
            return outbox.counts(s)
    finally:
        engine.dispose()


# -- pre-rendered messages for the baseline and the SMTP-only run ------------------------------

def prerender(config: Any, n: int, offset: int = 0) -> list[EmailMessage]:
    """Render n messages the way the worker does (same templates, samples, sender, base URL)."""
    from emails.catalog import SAMPLES
    from emails.render import render

    out = []
    for i in range(offset, offset + n):
        template = TEMPLATES[i % len(TEMPLATES)]
        address, name = recipient(i)
        out.append(render(
            template, language="en", context=SAMPLES[template], sender=config.mail_from,
            recipient=formataddr((name, address)), message_id=f"<bench-{i}@leadline.invalid>",
            base_url=config.base_url, company_name="Good Fortune Trading",
        ))
    return out


def run_baseline(host: str, port: int, config: Any, n: int) -> int:
    """The naive worker: render each message, then send it over a new SMTP connection, one by one."""
    import aiosmtplib

    async def main() -> int:
        for i in range(n):
            (message,) = prerender(config, 1, offset=i)
            await aiosmtplib.send(message, hostname=host, port=port, timeout=30)
        return n

    return asyncio.run(main())


def run_smtp_only(relay: Any, messages: list[EmailMessage]) -> Counter[str]:
    from emails.delivery import deliver_sync
    from emails.wire import Wire

    wires = [Wire(m["From"].addresses[0].addr_spec, m["To"].addresses[0].addr_spec, m.as_bytes()) for m in messages]
    return Counter(o.kind for o in deliver_sync(relay, list(enumerate(wires))))


# -- timing, checks, report ----------------------------------------------------------------------

class Clock:
    """Wall and CPU seconds (this process, all threads; the sink's CPU is not counted) of one phase."""

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = 0.0


def timed(call: Callable[[], T], profile: cProfile.Profile | None = None) -> tuple[T, Clock]:
    gc.collect()
    clock = Clock()
    start, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    try:
        result = call()
    finally:
        if profile is not None:
            profile.disable()
        clock.seconds, clock.cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return result, clock


# Parts of the product path to show from a profile: (label, file suffix, function).
PROFILE_PARTS = (
    ("send_due, all passes", "emails/worker.py", "send_due"),
    ("  outbox.claim_due (select, mark sending)", "crm_store/outbox.py", "claim_due"),
    ("  outbox.counts (twice a pass, for suppressed)", "crm_store/outbox.py", "counts"),
    ("  worker._render → emails.render.render", "emails/worker.py", "_render"),
    ("    jinja2 Template.render (txt + html)", "jinja2/environment.py", "render"),
    ("    EmailMessage.set_content / add_alternative", "email/message.py", "set_content"),
    ("  worker._deliver → deliver_sync (asyncio, aiosmtplib)", "emails/worker.py", "_deliver"),
    ("    aiosmtplib flatten_message (email.generator)", "aiosmtplib/email.py", "flatten_message"),
    ("    socket send", "~", "<method 'send' of '_socket.socket' objects>"),
    ("  outbox.mark_sent (one UPDATE per pass)", "crm_store/outbox.py", "mark_sent"),
    ("email.headerregistry: parse a header (render and flatten)", "email/headerregistry.py", "__call__"),
    ("email.headerregistry: HeaderRegistry.__getitem__ (a new class per header)", "email/headerregistry.py",
     "__getitem__"),
)


def profile_parts(stats: pstats.Stats, total: float) -> list[dict[str, Any]]:
    """Cumulative seconds and share of the timed product path of the parts named in PROFILE_PARTS."""
    table = stats.stats  # type: ignore[attr-defined]  # pstats.Stats has a stream  # {(file, line, func): (cc, nc, tt, ct, callers)}
    out = []
    for label, suffix, func in PROFILE_PARTS:
        found = [v for (file, _line, name), v in table.items() if name == func and file.endswith(suffix)]
        if func == "set_content" and suffix == "email/message.py":  # EmailMessage.set_content, outermost only
            found = [max(found, key=lambda v: v[3])] if found else []
        calls = sum(v[1] for v in found)
        cum = sum(v[3] for v in found)
        out.append({"part": label, "calls": calls, "seconds": round(cum, 3),
                    "share": round(cum / total, 3) if total else None})
    return out


def expect_received(sink: Sink, before: int, n: int, phase: str) -> int:
    # The sink counts in another process; its 250 reply follows the count, so the count is final.
    got = sink.received()[0] - before
    if got != n:
        raise SystemExit(f"{phase}: the sink received {got} messages, expected exactly {n}")
    return got


def machine() -> dict[str, Any]:
    return describe(('aiosmtplib', 'aiosmtpd', 'jinja2', 'sqlalchemy'))


def phase(messages: int, clock: Clock, **extra: Any) -> dict[str, Any]:
    return {"messages": messages, "seconds": round(clock.seconds, 4),
            "messages_per_s": round(messages / clock.seconds, 1) if clock.seconds else None,
            "client_cpu_ms_per_message": round(clock.cpu_seconds / messages * 1000, 3), **extra}


def markdown(result: dict[str, Any]) -> str:
    c = result["concurrency"]
    rows = [(f"**product**: `send_due` passes (claim + render + SMTP over ≤ {c} reused connections + mark sent)",
             result["product"])]
    if result.get("baseline"):
        rows.append(("**baseline**: naive worker — render, then one new connection per message "
                     "(`aiosmtplib.send`), sequential",
                     result["baseline"]))
    if result.get("smtp_only"):
        rows.append((f"product SMTP part only: `deliver_sync`, pre-rendered, ≤ {c} connections", result["smtp_only"]))
    if result.get("render_only"):
        rows.append(("render only: `emails.render.render`, no I/O", result["render_only"]))
    base = (result.get("baseline") or {}).get("messages_per_s")
    lines = ["| path | messages | seconds | messages/s | client CPU ms/message | vs baseline |",
             "|---|--:|--:|--:|--:|--:|"]
    for name, r in rows:
        ratio = f"{r['messages_per_s'] / base:.2f}×" if base else "–"
        lines.append(f"| {name} | {r['messages']:,} | {r['seconds']:.2f} | {r['messages_per_s']:,.0f} | "
                     f"{r['client_cpu_ms_per_message']:.2f} | {ratio} |")
    out = "\n".join(lines)
    goal = result["goal_messages_per_s"]
    out += (f"\n\nproduct / baseline: {result['ratio_product_to_baseline']:.2f}×"
            if result.get("ratio_product_to_baseline") else "")
    out += (f"\ngoal ≥ {goal} messages/s on the product path: "
            f"{'met' if result['goal_met'] else 'NOT met'} ({result['product']['messages_per_s']:,.0f}/s)")
    if result.get("profile"):
        out += "\n\nProduct path under cProfile (cumulative; profiling slows it down):\n\n"
        out += "| part | calls | seconds | share |\n|---|--:|--:|--:|\n"
        out += "\n".join(f"| {p['part'].strip()} | {p['calls']:,} | {p['seconds']:.2f} | {p['share']:.0%} |"
                         for p in result["profile"]["parts"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mail_delivery",
        description="Messages/s of the outbox worker's real delivery path (send_due: claim, render, SMTP over "
                    "reused connections, mark sent) against one SMTP connection per message, both to a "
                    "local aiosmtpd sink running in its own process.",
    )
    parser.add_argument("--messages", type=int, default=10_000, metavar="N",
                        help="messages queued and delivered on the product path (default 10000)")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N",
                        help="SMTP connections the product uses (CRM_SMTP_URL ?concurrency=, 1-32; default 4, "
                             "the product's default)")
    parser.add_argument("--batch", type=int, default=None, metavar="N",
                        help="rows claimed per send_due pass (default: emails.worker.BATCH, 500)")
    parser.add_argument("--baseline-messages", type=int, default=2_000, metavar="N",
                        help="messages sent by the one-connection-per-message baseline (default 2000; 0 skips); "
                             "rates are compared, not totals")
    parser.add_argument("--smtp-only-messages", type=int, default=2_000, metavar="N",
                        help="pre-rendered messages sent through emails.delivery.deliver_sync alone, to show the "
                             "SMTP part of the product path apart from render and database (default 2000; 0 skips)")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the product path and write the stats to FILE (pstats format); "
                             "prints the top functions by cumulative and by own time")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir (database)")
    parser.add_argument("--json", type=Path, default=RESULTS, metavar="FILE",
                        help="where to write the results (default bench/results/mail_delivery.json)")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.baseline_messages < 0 or args.smtp_only_messages < 0:
        parser.error("--messages must be at least 1, --baseline-messages and --smtp-only-messages at least 0")
    if not 1 <= args.concurrency <= 32:
        parser.error("--concurrency must be 1 to 32 (the relay's limit)")
    if args.batch is not None and args.batch < 1:
        parser.error("--batch must be at least 1")

    from crm_store.config import load_config
    from emails import worker
    from emails.relay import parse_relay

    batch = args.batch or worker.BATCH
    tmp = Path(tempfile.mkdtemp(prefix="leadline-mailbench-"))
    url = f"sqlite:///{tmp / 'b.db'}"
    result: dict[str, Any] = {
        "benchmark": "mail_delivery",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.mail_delivery " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "goal_messages_per_s": GOAL_MESSAGES_PER_S,
        "concurrency": args.concurrency,
        "batch": batch,
        "templates": list(TEMPLATES),
        "load_average_at_start": list(os.getloadavg()),
    }
    try:
        with Sink() as sink:
            smtp_url = f"smtp://127.0.0.1:{sink.port}?concurrency={args.concurrency}"
            config = load_config({"CRM_DATABASE_URL": url, "CRM_DATA_DIR": str(tmp), "CRM_SMTP_URL": smtp_url})
            relay = parse_relay(smtp_url)
            log(f"sink: aiosmtpd on 127.0.0.1:{sink.port} (pid of its own); database {url}")

            t0 = time.perf_counter()
            mix = queue_messages(url, args.messages)
            result["queue_seconds"] = round(time.perf_counter() - t0, 2)
            result["template_mix"] = dict(mix)
            log(f"queued {args.messages:,} messages in {result['queue_seconds']:.1f} s (not timed)")
            prerender(config, len(TEMPLATES))  # compile every template once: the worker is long-running

            # product path
            before = sink.received()
            profile = cProfile.Profile() if args.profile else None
            (tally, passes), clock = timed(lambda: run_product(config, batch), profile)
            if tally["sent"] != args.messages or tally.total() != args.messages:
                raise SystemExit(f"product path: expected {args.messages} sent, got {dict(tally)}")
            expect_received(sink, before[0], args.messages, "product path")
            counts = outbox_counts(url)
            if counts["sent"] != args.messages or sum(counts.values()) != args.messages:
                raise SystemExit(f"product path: outbox rows are not all sent: {counts}")
            received_bytes = sink.received()[1] - before[1]
            result["product"] = phase(args.messages, clock, passes=passes, outbox=counts,
                                      sink_received=args.messages, profiled=profile is not None,
                                      avg_message_bytes=round(received_bytes / args.messages))
            log(f"product path: {args.messages:,} in {clock.seconds:.2f} s = {args.messages / clock.seconds:,.0f}/s "
                f"({passes} passes); sink got exactly {args.messages:,}; outbox: all sent")
            if profile is not None:
                profile.dump_stats(args.profile)
                stats = pstats.Stats(profile)
                result["profile"] = {"file": args.profile, "parts": profile_parts(stats, clock.seconds)}
                stats.stream = sys.stderr  # type: ignore[attr-defined]  # pstats.Stats has a stream
                stats.strip_dirs().sort_stats("tottime").print_stats(25)

            # Pre-render for the baseline and the SMTP-only run; timed too, as the render-only rate.
            extra = max(args.baseline_messages, args.smtp_only_messages)
            messages: list[EmailMessage] = []
            if extra:
                messages, clock = timed(lambda: prerender(config, extra))
                result["render_only"] = phase(extra, clock)
                log(f"render only: {extra:,} in {clock.seconds:.2f} s = {extra / clock.seconds:,.0f}/s")

            if args.baseline_messages:
                n = args.baseline_messages
                before = sink.received()
                sent, clock = timed(lambda: run_baseline(relay.host, relay.port, config, n))
                expect_received(sink, before[0], n, "baseline")
                result["baseline"] = phase(sent, clock, connections=sent)
                log(f"baseline: {sent:,} in {clock.seconds:.2f} s = {sent / clock.seconds:,.0f}/s")
                rate = result["baseline"]["messages_per_s"]
                result["ratio_product_to_baseline"] = round(result["product"]["messages_per_s"] / rate, 2)

            if args.smtp_only_messages:
                n = args.smtp_only_messages
                before = sink.received()
                kinds, clock = timed(lambda: run_smtp_only(relay, messages[:n]))
                if kinds["sent"] != n:
                    raise SystemExit(f"SMTP only: expected {n} sent, got {dict(kinds)}")
                expect_received(sink, before[0], n, "SMTP only")
                result["smtp_only"] = phase(n, clock, concurrency=args.concurrency)
                log(f"SMTP only: {n:,} in {clock.seconds:.2f} s = {n / clock.seconds:,.0f}/s")
                if result.get("baseline"):
                    result["ratio_smtp_only_to_baseline"] = round(
                        result["smtp_only"]["messages_per_s"] / result["baseline"]["messages_per_s"], 2)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    result["load_average_at_end"] = list(os.getloadavg())
    result["goal_met"] = result["product"]["messages_per_s"] >= GOAL_MESSAGES_PER_S
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))
    log(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
