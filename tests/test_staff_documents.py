"""Documents on record pages through the real app (SQLite and PostgreSQL): upload (the store's size limit with
the error beside the field, the type sniffed from the bytes), download as an attachment with the store's
headers and an audit row, and nothing outside the viewer's scope.

Pages are parsed (`tests/staff_support.py`); what a request did is read back from the database and the data dir.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from crm_store.actor import Actor
from crm_store.models import AuditEntry, Document, DocumentLink, Lead, utcnow
from crm_store.records.documents import MAX_DOCUMENT_BYTES, add_document, blob_path
from webform.app import MAX_BODY
from webform.asgi import WholeRequests
from webform.staff.documents.routes import UPLOAD_BODY, body_limit

from .staff_support import Page, Staff
from .test_staff_records import Crew, make_crew, record_of, signed_in

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
TOO_LARGE = "This file is larger than 25 MB, the most a document may be. Choose a smaller file."


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; a manager; rep (a report of the manager); rep_b; rep_c on their own."""
    return make_crew(session)


def upload(staff: Staff, number: str, content: bytes, filename: str, title: str = "") -> Any:
    """Post a file from the lead's page, as its form does."""
    staff.get(f"/leads/{number}")
    return staff.post(f"/leads/{number}/documents",
                      {"document_file": (io.BytesIO(content), filename), "document_title": title})


def documents(session: Session) -> list[tuple[str, str, str, int | None]]:
    found = [(d.document_no, d.filename, d.content_type, d.owner_id)
             for d in session.scalars(select(Document).order_by(Document.id))]
    session.rollback()
    return found


def downloads(session: Session) -> list[tuple[str | None, int | None, str]]:
    found = [(e.record_no, e.user_id, e.module) for e in
             session.scalars(select(AuditEntry).where(AuditEntry.action == "download").order_by(AuditEntry.id))]
    session.rollback()
    return found


def fetch(client: Any, path: str) -> Any:
    """GET a path and close the answer (a download streams its file); the answer, its body read."""
    with client.get(path) as answer:
        answer.get_data()
    return answer


def attach(session: Session, env: dict, number: str, owner_id: int, content: bytes, filename: str) -> str:
    """Attach a file to a lead through the store, uploaded by `owner_id`; its document number."""
    lead = session.scalars(select(Lead).where(Lead.lead_no == number)).one()
    doc = add_document(session, Path(env["CRM_DATA_DIR"]), lead, content, filename=filename,
                       actor=Actor.user(owner_id))
    session.commit()
    return doc.document_no


def test_an_upload_is_typed_by_its_bytes_and_listed_on_the_record_page(client: Any, session: Session, crew: Crew,
                                                                       env: dict) -> None:
    number = record_of(session, crew, "leads", "rep", "Lin")
    staff = signed_in(client, crew, "rep")
    empty = staff.get(f"/leads/{number}").by_id("documents")
    assert empty.find("h2").text == "Documents" and not empty.all("table")
    assert empty.find("form").attrs["enctype"] == "multipart/form-data"

    upload(staff, number, PNG, "contract.pdf", "Signed contract")
    assert staff.status == 303 and staff.location == f"/leads/{number}#documents"
    [(doc_no, filename, content_type, owner)] = documents(session)
    assert (filename, content_type, owner) == ("contract.png", "image/png", crew.ids["rep"])  # PNG bytes, .pdf name
    page = staff.get(f"/leads/{number}")
    assert page.flashes() == ["contract.png is attached.",
                              "Kept as contract.png to match its contents (PNG image)."]
    row = page.by_id("documents").find("tbody").find("tr")
    cells = [td.text for td in row.all("td")]
    assert cells[:4] == ["Signed contract contract.png", "PNG image", f"{len(PNG)} bytes", "Rep A"]
    assert row.find("a").attrs["href"] == f"/documents/{doc_no}/download"
    stored = blob_path(Path(env["CRM_DATA_DIR"]), hashlib.sha256(PNG).hexdigest())
    assert stored.read_bytes() == PNG

    upload(staff, number, b"", "empty.txt")
    assert staff.status == 422 and staff.last is not None
    assert staff.last.field_error("document_file") == "This file is empty. Choose another one."
    staff.get(f"/leads/{number}")
    page = staff.post(f"/leads/{number}/documents", {"document_title": "nothing chosen"})
    assert staff.status == 422 and page.find("h1").text == "Lin"
    assert page.field_error("document_file") == "Choose a file to attach."
    assert page.by_id("document_title").attrs["value"] == "nothing chosen"  # what was typed stays
    staff.post(f"/leads/{number}/documents", {"document_file": (io.BytesIO(PDF), "a.pdf")}, csrf=False)
    assert staff.status == 400  # no CSRF token
    assert len(documents(session)) == 1


def test_a_download_is_an_audited_attachment_with_the_store_s_headers(app: Any, client: Any, session: Session,
                                                                      crew: Crew, env: dict) -> None:
    number = record_of(session, crew, "leads", "rep", "Lin")
    doc_no = attach(session, env, number, crew.ids["rep"], PDF, "報價單 2026.pdf")
    staff = signed_in(client, crew, "rep")
    link = staff.get(f"/leads/{number}").by_id("documents").find("a", download="")
    before = utcnow()

    answer = fetch(client, link.attrs["href"])
    assert answer.status_code == 200 and answer.data == PDF
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"2026.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%83%B9%E5%96%AE%202026.pdf")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert answer.headers["Content-Length"] == str(len(PDF))
    assert downloads(session) == [(doc_no, crew.ids["rep"], "documents")]
    at = session.scalar(select(AuditEntry.at).where(AuditEntry.action == "download"))
    session.rollback()
    assert at is not None and at >= before.replace(microsecond=0)

    boss = signed_in(app.test_client(), crew, "manager")  # the rep's manager sees the rep's lead, so its files
    assert fetch(boss.client, link.attrs["href"]).data == PDF
    assert downloads(session)[-1] == (doc_no, crew.ids["manager"], "documents")


def test_documents_outside_the_scope_are_not_found(app: Any, client: Any, session: Session, crew: Crew,
                                                   env: dict) -> None:
    mine = record_of(session, crew, "leads", "rep", "Lin")
    theirs = record_of(session, crew, "leads", "rep_c", "Chen")
    private = attach(session, env, theirs, crew.ids["rep_c"], PDF, "private.pdf")
    shared = attach(session, env, mine, crew.ids["rep_c"], PNG, "photo.png")  # rep_c's file on the rep's lead
    staff = signed_in(client, crew, "rep")

    assert fetch(client, f"/documents/{private}/download").status_code == 404
    assert fetch(client, "/documents/DOC999/download").status_code == 404
    assert fetch(client, f"/documents/{shared}/download").data == PNG  # attached to a record the rep sees
    assert downloads(session) == [(shared, crew.ids["rep"], "documents")]  # the refused ones left no row

    outsider = app.test_client()
    assert fetch(outsider, f"/documents/{shared}/download").status_code == 302  # signed out: to the sign-in page
    staff.get(f"/leads/{mine}")
    staff.post(f"/leads/{theirs}/documents", {"document_file": (io.BytesIO(PDF), "sneak.pdf")})
    assert staff.status == 404
    assert [d[1] for d in documents(session)] == ["private.pdf", "photo.png"]

    session.execute(Document.__table__.update().where(Document.document_no == shared).values(deleted_at=utcnow()))
    session.commit()
    assert fetch(client, f"/documents/{shared}/download").status_code == 404
    assert "photo.png" not in staff.get(f"/leads/{mine}").by_id("documents").text


class Unread(io.RawIOBase):
    """A request body that must never be read."""

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer: Any) -> int:
        raise AssertionError("the body of an upload over the limit was read")


def test_an_upload_over_the_limit_is_refused_unread_with_the_error_beside_the_field(client: Any, session: Session,
                                                                                    crew: Crew) -> None:
    number = record_of(session, crew, "leads", "rep", "Lin")
    staff = signed_in(client, crew, "rep")
    staff.get(f"/leads/{number}")

    answer = client.post(f"/leads/{number}/documents", data=b"", content_type="multipart/form-data; boundary=x",
                         environ_overrides={"wsgi.input": Unread(), "CONTENT_LENGTH": str(UPLOAD_BODY + 1)})
    assert answer.status_code == 413
    page = Page(answer.get_data(as_text=True))
    assert page.find("h1").text == "Lin"  # the record page, not a bare error page
    assert page.field_error("document_file") == TOO_LARGE
    assert page.by_id("document_file").attrs["aria-invalid"] == "true"

    form = staff.get(f"/leads/{number}")  # one byte too many: under the body's limit, over the document's
    big = FileStorage(io.BytesIO(b"\0" * (MAX_DOCUMENT_BYTES + 1)), "big.bin")
    boundary, body = encode_multipart({"csrf_token": form.csrf(), "document_file": big})
    with client.post(f"/leads/{number}/documents", input_stream=io.BytesIO(body),
                     content_type=f"multipart/form-data; boundary={boundary}") as answer:
        over = Page(answer.get_data(as_text=True))
    assert (answer.status_code, over.field_error("document_file")) == (413, TOO_LARGE)
    assert documents(session) == []

    staff.get(f"/leads/{number}")
    staff.post(f"/leads/{number}/calls", {"outcome": "x" * (MAX_BODY + 1), "status": "reached"})
    assert staff.status == 413  # every other form keeps the app's limit


def test_the_server_reads_a_whole_upload_and_cuts_other_bodies_at_the_app_s_limit() -> None:
    assert body_limit("POST", "/leads/LEA1/documents", MAX_BODY) == UPLOAD_BODY > MAX_DOCUMENT_BYTES
    assert body_limit("GET", "/leads/LEA1/documents", MAX_BODY) == MAX_BODY
    assert body_limit("POST", "/leads/LEA1/calls", MAX_BODY) == MAX_BODY
    seen: dict[str, int] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen[environ["PATH_INFO"]] = len(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = WholeRequests(wsgi, max_body=lambda scope: body_limit(scope["method"], scope["path"], MAX_BODY))

    async def post(path: str, size: int) -> None:
        chunks = [b"x" * 65536] * (size // 65536) + [b"x" * (size % 65536)]
        messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
        await server(scope, receive, send)
        assert sent[0]["status"] == 200

    size = 3 * MAX_BODY + 5
    asyncio.run(post("/leads/LEA1/documents", size))
    asyncio.run(post("/leads/LEA1/calls", size))
    server.threads.shutdown()
    server.refusals.shutdown()
    assert seen == {"/leads/LEA1/documents": size, "/leads/LEA1/calls": MAX_BODY + 1}


def test_a_document_attached_to_two_records_shows_on_both_pages(client: Any, session: Session, crew: Crew,
                                                                 env: dict) -> None:
    first = record_of(session, crew, "leads", "rep", "Lin")
    second = record_of(session, crew, "leads", "rep", "Wang")
    doc_no = attach(session, env, first, crew.ids["rep"], PDF, "terms.pdf")
    doc_id = session.scalar(select(Document.id).where(Document.document_no == doc_no))
    lead_id = session.scalar(select(Lead.id).where(Lead.lead_no == second))
    session.add(DocumentLink(document_id=doc_id, lead_id=lead_id))
    session.commit()
    staff = signed_in(client, crew, "rep")
    for number in (first, second):
        assert staff.get(f"/leads/{number}").by_id("documents").find("tbody").find("a").text == "terms.pdf"
    assert session.scalar(select(func.count()).select_from(Document)) == 1
    session.rollback()
