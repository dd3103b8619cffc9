"""`crm mail …`: see the outbox, retry, send, run the worker, preview templates."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from crm_store.cli.output import Column, echo_table
from crm_store.cli.params import LazyChoice, language_choice


def _templates() -> tuple[str, ...]:
    from emails.render import KNOWN_TEMPLATES

    return KNOWN_TEMPLATES


@click.group()
def mail() -> None:
    """Outgoing mail: status, retries, delivery and template previews."""


@mail.command()
@click.option("--failed", is_flag=True, help="List failed and retrying messages with the server's reply.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many to list.")
def status(failed: bool, limit: int) -> None:
    """Show how many messages are queued, sent, retrying, failed and suppressed."""
    from crm_store.config import load_config
    from crm_store.db.engine import session_scope
    from crm_store.mail import outbox
    from emails.worker import destination

    config = load_config()
    click.echo(f"Mail goes to {destination(config)}.")
    with session_scope(config) as session:
        counts = outbox.counts(session)
        click.echo("  ".join(f"{k}: {v}" for k, v in counts.items()))
        rows = list(session.scalars(outbox.listing(failed_only=failed, limit=limit)))
    columns = [Column("ID", right=True), Column("STATUS"), Column("TEMPLATE"), Column("RECIPIENT"),
               Column("WHEN (UTC)"), Column("TRIES", right=True), *([Column("SERVER'S REPLY")] if failed else [])]
    if rows:
        echo_table(columns, [(row.id, row.status, row.template, row.recipient,
                              f"{row.sent_at or row.next_attempt_at:%Y-%m-%d %H:%M}", row.attempts,
                              *([row.last_error] if failed else [])) for row in rows])


@mail.command()
@click.argument("message_id", type=int)
def retry(message_id: int) -> None:
    """Queue failed message MESSAGE_ID again, now."""
    from crm_store.db.engine import session_scope
    from crm_store.mail import outbox

    with session_scope() as session:
        row = outbox.retry(session, message_id)
        click.echo(f"Message {row.id} to {row.recipient} is queued again.")


@mail.command()
def send() -> None:
    """Deliver what is due now, once, and report."""
    from crm_store.config import load_config
    from emails.worker import destination, send_all_due

    config = load_config()
    tally = send_all_due(config)
    summary = ", ".join(f"{v} {k}" for k, v in sorted(tally.items()) if v) or "nothing was due"
    click.echo(f"Mail to {destination(config)}: {summary}.")


@mail.command()
@click.option("--poll", type=click.FloatRange(0.1, 60), default=1.0, show_default=True,
              help="Seconds between looks at the outbox when it is empty.")
def worker(poll: float) -> None:
    """Deliver mail within seconds until stopped (Ctrl-C or SIGTERM)."""
    from crm_store.config import load_config
    from emails.worker import run_worker

    config = load_config()
    logging.getLogger("leadline").setLevel(config.log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_worker(config, poll_seconds=poll, stop=stop)


@mail.command()
@click.argument("template", type=LazyChoice(_templates))
@click.option("--lang", "language", type=language_choice(), default="en", show_default=True,
              help="Language of the message.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: <template>.<lang>.eml).")
def preview(template: str, language: str, out: Path | None) -> None:
    """Render TEMPLATE with sample data to an .eml file (open it in a mail program) and an .html file."""
    from crm_store.config import load_config
    from emails.catalog import SAMPLE_ATTACHMENTS, SAMPLES
    from emails.render import render

    config = load_config()
    message = render(
        template, language=language, context=SAMPLES[template], sender=config.mail_from,
        recipient="王小明 <ming.wang@example.com>", message_id=f"<preview-{template}@leadline.invalid>",
        base_url=config.base_url, company_name="Leadline Demo 股份有限公司",
        attachments=SAMPLE_ATTACHMENTS.get(template, ()),
    )
    out = out or Path(f"{template}.{language}.eml")
    out.write_bytes(bytes(message))
    html = message.get_body(("html",))
    if html is not None:
        out.with_suffix(".html").write_text(html.get_content())
    click.echo(f"Wrote {out} and {out.with_suffix('.html')} ({message['Subject']}).")


@mail.command("test")
@click.argument("email")
def test_message(email: str) -> None:
    """Queue a test message to EMAIL and deliver it now."""
    from crm_store.config import load_config
    from crm_store.db.engine import session_scope
    from crm_store.mail import outbox
    from crm_store.models import utcnow
    from crm_store.settings import company
    from emails.worker import destination, send_all_due

    config = load_config()
    now = utcnow()
    with session_scope(config) as session:
        context = {"recipient_name": email, "sent_at": company.show_time(now, company.zone(session)),
                   "smtp_server": destination(config)}
        outbox.enqueue(session, "test_message", email, key=f"test:{email}:{now.isoformat()}",
                       context=context, to_staff=True)
    tally = send_all_due(config)
    click.echo(f"Test message to {email}: {dict(tally) or 'nothing sent'} via {destination(config)}.")
    if tally["sent"] == 0:
        sys.exit(1)


def worker_service() -> list[str]:
    """The command `crm up` runs for the mail worker."""
    return [sys.executable, "-m", "crm_store", "mail", "worker"]
