"""Upload a document on a record's page, download one as an attachment; the record page's Documents section.

An upload may be as large as a document (`MAX_DOCUMENT_BYTES`, plus the form around it): its route alone gets
that limit, before the CSRF check reads the body; a larger body is refused from its Content-Length, unread,
and answered with the record page and the error beside the file field (not a bare 413 page). The file is
typed by its bytes and named to match (`crm_store.records.documents.add_document`).

A download is within the user's scope (else 404), written to the audit trail before the file is sent, and sent
with the store's headers: `Content-Disposition: attachment`, `X-Content-Type-Options: nosniff` and a
sandboxing policy, so a browser saves it and never renders it.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from flask import Blueprint, abort, flash, g, make_response, redirect, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from crm_store import links
from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Document
from crm_store.records import audit, list_rows
from crm_store.records.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentTooLarge,
    add_document,
    download_headers,
    open_document,
    store_content,
)
from crm_store.staff import scope as scoping

from ...state import state
from ..access import current_user, login_required, signed_in_user
from ..forms import store_message
from ..records.modules import module_of, record_path
from ..records.routes import record as record_view
from ..records.routes import write
from . import files
from .forms import FILE_FIELD, DocumentForm

log = logging.getLogger("leadline.web")
bp = Blueprint("documents", __name__, template_folder="templates")
UPLOAD_BODY = MAX_DOCUMENT_BYTES + 256 * 1024  # the file, its title, the CSRF token and the multipart framing
# links.ROUTES["document_upload"] and ["product_image"] (a product's picture, stored as a document), as the server
# sees them
UPLOAD_PATH = re.compile(r"/[^/]+/[^/]+/documents|/products/[^/]+/image")
SHOWN = 50  # documents listed on a record page (the documents list has them all)
CHOOSE = N_("Choose a file to attach.")
TOO_LARGE = N_("This file is larger than %(most)s MB, the most a document may be. Choose a smaller file.")
ATTACHED = N_("%(name)s is attached.")
RENAMED = N_("Kept as %(name)s to match its contents (%(kind)s).")
EMPTY = N_("This file is empty. Choose another one.")


def body_limit(method: str, path: str, default: int) -> int:
    """The largest body the server reads for a request (`webform.asgi`): an upload's, else `default`."""
    return UPLOAD_BODY if method == "POST" and UPLOAD_PATH.fullmatch(path) else default


@bp.before_app_request
def allow_uploads() -> None:
    """Let an upload's body be as large as a document may be; every other request keeps the app's limit."""
    if request.endpoint == "documents.upload":
        request.max_content_length = UPLOAD_BODY


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """An upload over the limit, refused before it was read: the record page, the error beside the file field."""
    if current_user() is None:
        from ...errors import http_error  # webform.errors imports the staff package: here, not at the top

        return http_error(exc)
    values = request.view_args or {}
    return _again(str(values.get("module", "")), str(values.get("number", "")), _too_large(), 413)


@bp.app_context_processor
def documents_section() -> dict[str, Any]:
    """Give the record page its Documents section's rows, form and error (read only when the page asks)."""
    return {"record_documents": record_documents, "document_form": document_form, "file_kind": files.file_kind,
            "file_size": files.file_size, "max_document_mb": MAX_DOCUMENT_BYTES // 2**20}


def record_documents(module: str, record_id: int) -> list[list_rows.DocumentRow]:
    """The newest documents attached to a record the user sees (its documents are seen with it)."""
    with state().readers() as db:
        return list_rows.attached(db, module, record_id, SHOWN)


def document_form() -> DocumentForm:
    """The upload form, with the error of an upload that failed (`g.document_error`) beside the file field."""
    form = DocumentForm(formdata=None, data={"document_title": g.get("document_title", "")})
    form.file_errors = [g.document_error] if g.get("document_error") else []
    return form


@bp.post(links.ROUTES["document_upload"])
@login_required
def upload(module: str, number: str) -> ResponseReturnValue:
    """Attach the posted file to the record: its page again with the error, or with the file listed."""
    name, user = module_of(module), signed_in_user()
    form = DocumentForm()
    chosen = request.files.get(FILE_FIELD)
    g.document_title = form.document_title.data or ""
    if chosen is None or not chosen.filename:
        return _again(module, number, gettext(CHOOSE), 422)
    content = chosen.stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        return _again(module, number, _too_large(), 413)
    if not content:
        return _again(module, number, gettext(EMPTY), 422)
    if not form.validate():
        return _again(module, number, " ".join(str(e) for e in form.document_title.errors) or gettext(CHOOSE), 422)
    filename, title = chosen.filename, (form.document_title.data or "").strip() or None
    store_content(state().config.data_dir, content)  # before the write: the writer's lock is not held for the disk

    def attach(db: Session) -> tuple[str, str]:
        record = scoping.fetch_by_number(db, user, name, number)
        if record is None:
            raise NotFound(f"no {name} numbered {number}")
        document = add_document(db, state().config.data_dir, record, content, filename=filename, title=title,
                                actor=Actor.user(user.id))
        return document.filename, document.content_type

    try:
        stored, content_type = write(attach)
    except DocumentTooLarge:
        return _again(module, number, _too_large(), 413)
    except ValidationError as exc:
        return _again(module, number, store_message(exc), 422)
    flash(gettext(ATTACHED, name=stored), "success")
    if os.path.splitext(stored)[1].lower() != os.path.splitext(filename)[1].lower():  # typed by its bytes
        flash(gettext(RENAMED, kind=files.file_kind(content_type), name=stored), "info")
    return redirect(record_path(name, number) + "#documents", code=303)


@bp.get(links.ROUTES["document_download"])
@login_required
def download(number: str) -> ResponseReturnValue:
    """Send a document the user may see as an attachment, once its download is in the audit trail (else 404)."""
    user, data_dir = signed_in_user(), state().config.data_dir
    with state().readers() as db:
        found = scoping.fetch_by_number(db, user, "documents", number)
        if found is None:
            abort(404)
        document_id = found.id
        try:
            sent = open_document(data_dir, found)
        except NotFound:
            log.error("%s: the stored file is missing; restore it from a backup", found.document_no)
            abort(404)

    def audited(db: Session) -> None:
        document = db.get(Document, document_id)
        if document is None or document.deleted_at is not None:
            raise NotFound(number)
        audit.log_download(db, document, Actor.user(user.id))

    write(audited)
    response = send_file(sent.path, mimetype=sent.content_type, conditional=False, etag=False, max_age=0)
    response.headers.update(download_headers(sent))
    return response


def _again(module: str, number: str, error: str, status: int) -> ResponseReturnValue:
    """The record's page again, the upload's error beside its file field."""
    g.document_error = error
    response = make_response(record_view(module=module, number=number))
    if response.status_code == 200:
        response.status_code = status
    return response


def _too_large() -> str:
    return gettext(TOO_LARGE, most=MAX_DOCUMENT_BYTES // 2**20)
