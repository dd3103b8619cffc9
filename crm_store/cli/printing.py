"""`crm print` and `crm send`: a quote, sales order or invoice as a printable page or PDF, and emailed as one."""

from __future__ import annotations

from pathlib import Path

import click

LANGUAGE_HELP = "Language of the page: en or zh_Hant (default: the company's default_language)."


@click.command("print")
@click.argument("number")
@click.option("--format", "output_format", default="pdf", show_default=True, metavar="html|pdf",
              help="html: one self-contained page for a browser; pdf: an A4 PDF.")
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The file to write (replaced if it exists).")
@click.option("--language", metavar="en|zh_Hant", help=LANGUAGE_HELP)
def print_document(number: str, output_format: str, output: Path, language: str | None) -> None:
    """Print the quote, sales order or invoice NUMBER (QUO12, SO12, INV12) with the company's letterhead."""
    from crm_store.db.engine import session_scope
    from crm_store.errors import ValidationError
    from crm_store.sales import print_view, printing

    chosen = output_format.strip().lower()
    if chosen not in printing.FORMATS:
        raise ValidationError("--format", f"{output_format!r} is not one of {', '.join(printing.FORMATS)}")
    with session_scope() as session:
        record = print_view.find_printable(session, number)
        view = print_view.view_of(session, record, print_view.language_for(session, language))
    html = printing.render_html(view)
    content = printing.write_pdf(html) if chosen == "pdf" else html.encode("utf-8")
    _write(output, content)
    click.echo(f"Printed {view.number} to {output} ({chosen.upper()}, {len(content):,} bytes).")


@click.command("send")
@click.argument("number")
@click.option("--to", "to", metavar="EMAIL", help="Send to this address (default: the document's contact's email).")
@click.option("--language", metavar="en|zh_Hant", help="Language of the email and the PDF (default: the company's "
                                                      "default_language).")
def send(number: str, to: str | None, language: str | None) -> None:
    """Email the quote, sales order or invoice NUMBER as a PDF to the customer, through the outbox."""
    from crm_store.cli import work
    from crm_store.config import load_config
    from crm_store.errors import ValidationError
    from crm_store.models import Contact
    from crm_store.sales import print_view, sending

    config = load_config()
    with work.transaction(config) as session:
        record = print_view.find_printable(session, number)
        code = print_view.language_for(session, language)
        contact = session.get(Contact, record.contact_id) if record.contact_id else None
        if not to and (contact is None or not contact.email):
            raise ValidationError("--to", f"{record_number(record)} has no contact with an email address: "
                                          "give the address with --to EMAIL")
        actor = work.actor(session)
        if actor.user_id is None and record.owner_id is None:
            raise ValidationError("--as", f"{record_number(record)} has no owner: say who sends it with "
                                          "`crm --as EMAIL send …`")
        sent = sending.send(session, config.data_dir, record, to=to, language=code, actor=actor)
        click.echo(f"Queued {sent.pdf.filename} to {sent.recipient} ({sent.pdf.document_no} kept on "
                   f"{record_number(record)}); `crm mail send` delivers it now, the mail worker within seconds.")


def record_number(record: object) -> str:
    """The number of a sales document."""
    from crm_store.sales.sending import number_of

    return number_of(record)


def _write(output: Path, content: bytes) -> None:
    """Write the file whole: to a temporary file beside it, then moved into place."""
    import os
    import tempfile

    from crm_store.errors import ValidationError

    folder = output.resolve().parent
    if not folder.is_dir():
        raise ValidationError("--output", f"the folder {folder} does not exist")
    fd, draft = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(draft, 0o644)
        os.replace(draft, output)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise
