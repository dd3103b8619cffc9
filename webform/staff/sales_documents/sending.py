""""Send to customer": a confirmation naming the recipient (the document's contact, or an address typed), then the
PDF emailed through the outbox with an email activity logged (`crm_store.sales.sending`)."""

from __future__ import annotations

from flask import flash, g, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.records import registry
from crm_store.sales import sending
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user
from ..forms import place_error, store_message
from ..records.routes import visible, write
from .forms import SendForm
from .modules import document_path, module_of
from .routes import bp

SEND_TO = N_("Send to")
SENT = N_("%(number)s is on its way to %(recipient)s, with its PDF.")


@bp.route(links.ROUTES["sales_send"], methods=["GET", "POST"])
@login_required
def sales_send(module: str, number: str) -> ResponseReturnValue:
    """Show who the document goes to; on POST, email its PDF (in the page's language) and log it."""
    name, user = module_of(module), signed_in_user()
    form = SendForm()
    with state().readers() as db:
        found = visible(db, user, name, number)
        record_id, title = found.id, found.subject
        recipient: str | None = None
        missing: str | None = None
        try:
            recipient = sending.recipient_of(db, found, None)[0]
        except ValidationError as exc:
            missing = store_message(exc)
    if form.validate_on_submit():
        to = (form.to.data or "").strip() or None
        language, data_dir = str(g.get("language", "en")), state().config.data_dir

        def send(db: Session) -> str:
            record = scoping.fetch(db, user, name, record_id)
            if record is None:
                raise NotFound(number)
            return sending.send(db, data_dir, record, to=to, language=language, actor=Actor.user(user.id)).recipient

        try:
            sent_to = write(send)
        except ValidationError as exc:
            place_error(form, exc)
        else:
            flash(gettext(SENT, number=number, recipient=sent_to), "success")
            return redirect(document_path(name, number), code=303)
    if recipient is None:
        form.to.label.text = gettext(SEND_TO)  # no contact to send to: the address is the one asked for
    status = 422 if form.is_submitted() else 200
    return render_template("staff/sales_documents/send.html", module=name, spec=registry.get(name), form=form,
                           number=number, title=title, recipient=recipient, missing=missing,
                           back=document_path(name, number)), status
