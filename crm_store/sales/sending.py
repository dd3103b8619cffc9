"""Send a quote, sales order or invoice to the customer: its PDF kept on the document, queued in the outbox, logged.

`send` prints the document (`print_view` → `printing`), keeps the PDF as a document attached to it (the copy of
what was sent, in the documents store the mail worker attaches from), queues a `sales_document` message to the
contact — or to the address given — and logs a completed `email` activity on the document, its account and
the contact it went to. Rendering and delivery are the mail worker's (`emails/`); the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.mail import outbox
from crm_store.models import Account, Activity, Contact, Document, User, utcnow
from crm_store.pipeline import activities
from crm_store.records import registry
from crm_store.records.contact_points import clean_email
from crm_store.records.documents import add_document, blob_path
from crm_store.records.names import display_name
from crm_store.sales import documents, printing
from crm_store.sales.print_view import view_of
from crm_store.settings import company

TEMPLATE = "sales_document"
PDF = "application/pdf"
KINDS = {"quotes": "quote", "sales_orders": "sales_order", "invoices": "invoice"}
SUBJECTS = {"quotes": N_("Sent quote %(number)s to %(recipient)s"),
            "sales_orders": N_("Sent sales order %(number)s to %(recipient)s"),
            "invoices": N_("Sent invoice %(number)s to %(recipient)s")}


@dataclass(frozen=True)
class Sent:
    """What a send wrote: the PDF kept on the document, the address it is queued to, the activity logged."""

    recipient: str
    pdf: Document
    activity: Activity


def recipient_of(session: Session, record: Any, to: str | None) -> tuple[str, Contact | None]:
    """The address to send to — `to`, else the document's contact's — and the contact it belongs to, if any."""
    contact = session.get(Contact, record.contact_id) if record.contact_id else None
    if to is not None and to.strip():
        address = clean_email("to", to.strip())
        mine = contact is not None and (contact.email or "").lower() == address.lower()
        return address, contact if mine else None
    if contact is None or not contact.email:
        raise ValidationError("to", N_("%(number)s has no contact with an email address: give the address to send "
                                       "it to"), number=number_of(record))
    return clean_email("to", contact.email), contact


def sender_of(session: Session, record: Any, actor: Actor) -> User:
    """Who the email goes out for and its activity belongs to: the acting user, else the document's owner."""
    user_id = actor.user_id or record.owner_id
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise ValidationError("owner_id", N_("%(number)s has no owner: say who sends it"), number=number_of(record))
    return user


def send(
    session: Session, data_dir: Path, record: Any, *, to: str | None, language: str, actor: Actor,
    at: dt.datetime | None = None,
) -> Sent:
    """Print `record` as a PDF in `language`, keep it on the record, queue it to the customer and log the email."""
    module = documents.module_of(record)
    if record.deleted_at is not None:
        raise ValidationError("number", N_("%(number)s is in the recycle bin"), number=number_of(record))
    address, contact = recipient_of(session, record, to)
    sender = sender_of(session, record, actor)
    at = at or utcnow()
    view = view_of(session, record, language)
    pdf_bytes = printing.write_pdf(printing.render_html(view))
    filename = printing.file_name(view, "pdf")
    pdf = add_document(session, data_dir, record, pdf_bytes, filename=filename, actor=actor,
                       title=languages.translate(language, SUBJECTS[module], number=view.number, recipient=address))
    account = session.get_one(Account, record.account_id)
    recipient_name = display_name(contact.first_name, contact.last_name) if contact else account.name
    reference = outbox.AttachmentRef(blob_path(data_dir, pdf.sha256).relative_to(data_dir).as_posix(), filename, PDF)
    outbox.enqueue(
        session, TEMPLATE, address, key=f"{TEMPLATE}:{module}:{record.id}:{pdf.document_no}",
        context=email_context(session, record, view, sender, recipient_name, language),
        language=language, recipient_name=recipient_name, reply_to=_reply_to(sender),
        attachments=[reference], record_module=module, record_id=record.id,
    )
    activity = _log(session, record, module, address, contact, sender, pdf, actor, at)
    return Sent(address, pdf, activity)


def email_context(
    session: Session, record: Any, view: printing.PrintedDocument, sender: User, recipient_name: str, language: str,
) -> dict[str, Any]:
    """The `sales_document` template's context (see `emails.catalog.CONTEXT`)."""
    module = view.kind
    due = record.valid_till if module == "quotes" else record.due_date
    amount = view.after_total[-1].value if view.after_total else view.grand_total.value
    settings = company.all_settings(session)
    return {
        "recipient_name": recipient_name, "kind": KINDS[module], "document_number": view.number,
        "document_subject": view.subject, "account_name": view.buyer.name, "amount": amount,
        "due": languages.format_date(due, language) if due else None,
        "pdf_filename": printing.file_name(view, "pdf"), "sender_name": sender.name,
        "company_phone": settings["company_phone"] or None, "company_email": settings["company_email"] or None,
        "company_address": settings["company_address"] or None,
    }


def number_of(record: Any) -> str:
    """A document's number: QUO12."""
    return str(getattr(record, registry.of_record(record).number_field))


def _reply_to(sender: User) -> str:
    """Answers go to the person who sent it."""
    return outbox.mailbox("reply_to", str(Address(display_name=sender.name, addr_spec=sender.email)))


def _log(
    session: Session, record: Any, module: str, address: str, contact: Contact | None, sender: User, pdf: Document,
    actor: Actor, at: dt.datetime,
) -> Activity:
    """A completed email activity on the document, its account and the contact it went to."""
    staff_language = str(company.get(session, "default_language"))
    subject = languages.translate(staff_language, SUBJECTS[module], number=number_of(record), recipient=address)
    values = {
        "type": "email", "subject": subject[:255], "owner_id": sender.id, "start_at": at, "end_at": at,
        "description": f"{pdf.document_no} {pdf.filename}", "account_id": record.account_id,
        registry.get(module).link_column or "": record.id,
    }
    if contact is not None:
        values["contact_id"] = contact.id
    activity = activities.create_activity(session, values, actor)
    return activities.complete_activity(session, activity, actor, at=at)
