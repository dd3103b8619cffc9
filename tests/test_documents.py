"""Documents: stored once by content hash, typed by their bytes, safe names, served only as downloads."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.models import Document, DocumentLink, Lead, RecordCounter, User, utcnow
from crm_store.records import lifecycle as records
from crm_store.records.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentTooLarge,
    add_document,
    blob_path,
    content_disposition,
    documents_of,
    download_headers,
    name_for_type,
    open_document,
    sanitize_filename,
    sniff_content_type,
)
from crm_store.staff.users import add_user
from tests.fifo import run_beside

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
TEXT = "Meeting notes: 報價 NT$12,000 for 3 units\nnext call Friday\n".encode()
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
OOXML = "application/vnd.openxmlformats-officedocument"
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


def _ooxml(part: str) -> bytes:
    kind = f"application/vnd.openxmlformats-officedocument.{part}"
    types = f'<Types><Override PartName="/x.xml" ContentType="{kind}"/></Types>'
    return _zip({"[Content_Types].xml": types.encode(), "x.xml": b"<x/>"})


def _ole(stream: str) -> bytes:
    entry = (stream + "\0").encode("utf-16-le").ljust(64, b"\0") + struct.pack("<H", 2 * len(stream) + 2)
    root = "Root Entry\0".encode("utf-16-le").ljust(128, b"\0")
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + root + entry.ljust(128, b"\0")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (_ooxml("wordprocessingml.document.main+xml"), f"{OOXML}.wordprocessingml.document"),
        (_ooxml("spreadsheetml.sheet.main+xml"), f"{OOXML}.spreadsheetml.sheet"),
        (_ooxml("presentationml.presentation.main+xml"), f"{OOXML}.presentationml.presentation"),
        (_zip({"a.txt": b"hello"}), "application/zip"),
        (b"PK\x03\x04 not really a zip", "application/octet-stream"),
        (_ole("WordDocument"), "application/msword"),
        (_ole("Workbook"), "application/vnd.ms-excel"),
        (_ole("PowerPoint Document"), "application/vnd.ms-powerpoint"),
        (_ole("Something"), "application/x-ole-storage"),
        (TEXT, "text/plain"),
        ("name,city\n王小明,台北\n\"Lee, Ann\",Taichung\n".encode(), "text/csv"),
        (b"\xef\xbb\xbfname;city\nA;B\n", "text/plain"),
        (HTML, "text/plain"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "text/plain"),
        (ELF, "application/octet-stream"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "application/octet-stream"),
        (b"\xff\xfe\x00\x00latin-1 \xe9t\xe9", "application/octet-stream"),
    ],
)
def test_content_type_comes_from_the_bytes(content: bytes, expected: str) -> None:
    assert sniff_content_type(content) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("a\x00b.txt", "ab.txt"),
        (".htaccess", "htaccess"),
        ("報價單 2026.pdf", "報價單 2026.pdf"),
        ("  report\t\nQ3 .pdf  ", "report Q3.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a right-to-left override cannot disguise the type
        ('a<b>:"c"|?*.txt', "a_b___c____.txt"),
        ("CON.txt", "_CON.txt"),
        ("..", "document"),
        ("", "document"),
    ],
)
def test_file_names_are_sanitised(given: str, expected: str) -> None:
    assert sanitize_filename(given) == expected


@pytest.mark.parametrize("char", ["x", "報"])
def test_long_names_are_cut_keeping_the_extension(char: str) -> None:
    name = sanitize_filename(char * 300 + ".pdf")
    assert name.endswith(".pdf") and name.startswith(char * 10)
    assert len(name.encode()) <= 200


def test_content_disposition_is_an_attachment_with_rfc5987_name_for_chinese() -> None:
    value = content_disposition("報價單 2026.pdf")
    assert value == "attachment; filename=\"2026.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%83%B9%E5%96%AE%202026.pdf"
    assert unquote(value.split("filename*=UTF-8''")[1]) == "報價單 2026.pdf"
    assert content_disposition("報價單.pdf").startswith('attachment; filename="download.pdf"; filename*=')
    assert content_disposition("report.pdf") == 'attachment; filename="report.pdf"'
    assert content_disposition('a"b\r\n.pdf') == 'attachment; filename="a_b.pdf"'
    assert content_disposition("Café.pdf") == "attachment; filename=\"Cafe.pdf\"; filename*=UTF-8''Caf%C3%A9.pdf"


@pytest.fixture
def data_dir(env: dict[str, str]) -> Path:
    return Path(env["CRM_DATA_DIR"])


@pytest.fixture
def rep(session: Session, env: dict[str, str]) -> User:
    user = add_user(session, "rep@example.com", "Rep One")
    session.commit()
    return user


def _stored_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "documents").rglob("*") if p.is_file()]


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_add_documents_by_bytes(session: Session, data_dir: Path, rep: User) -> None:
    lead = records.create_lead(session, {"last_name": "王"})
    actor = Actor.user(rep.id)
    pdf = add_document(session, data_dir, lead, PDF, filename="quote.pdf", title="Quote v1", actor=actor)
    png = add_document(session, data_dir, lead, PNG, filename="logo.png", actor=actor)
    txt = add_document(session, data_dir, lead, TEXT, filename="notes.txt", actor=actor)
    session.commit()
    assert [d.document_no for d in (pdf, png, txt)] == ["DOC1", "DOC2", "DOC3"]
    assert [d.content_type for d in (pdf, png, txt)] == ["application/pdf", "image/png", "text/plain"]
    assert (pdf.title, png.title, pdf.size) == ("Quote v1", "logo.png", len(PDF))
    assert pdf.sha256 == hashlib.sha256(PDF).hexdigest()
    assert pdf.created_by_id == rep.id and pdf.owner_id == rep.id
    assert list(session.scalars(documents_of(lead))) == [pdf, png, txt]
    path = data_dir / "documents" / pdf.sha256[:2] / pdf.sha256
    assert path.read_bytes() == PDF
    assert open_document(data_dir, pdf) == (path, "quote.pdf", "application/pdf")


def test_same_content_is_stored_once(session: Session, data_dir: Path) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    account = records.create_account(session, {"name": "Acme"})
    first = add_document(session, data_dir, lead, PDF, filename="a.pdf", actor=Actor.system("test"))
    second = add_document(session, data_dir, account, PDF, filename="b.pdf", actor=Actor.system("test"))
    session.commit()
    assert first.id != second.id and first.sha256 == second.sha256
    assert _stored_files(data_dir) == [blob_path(data_dir, first.sha256)]
    assert list(session.scalars(documents_of(account))) == [second]
    assert first.created_by_id is None


def test_a_lying_extension_does_not_change_the_type_and_is_replaced(session: Session, data_dir: Path) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    doc = add_document(session, data_dir, lead, PNG, filename="contract.pdf", actor=Actor.system("test"))
    assert doc.content_type == "image/png"
    assert (doc.filename, doc.title) == ("contract.png", "contract.png")
    assert open_document(data_dir, doc)[1:] == ("contract.png", "image/png")


@pytest.mark.parametrize(
    ("name", "content_type", "stored"),
    [
        ("contract.pdf", "image/png", "contract.png"),
        ("logo", "image/png", "logo.png"),
        ("Photo.JPEG", "image/jpeg", "Photo.JPEG"),
        ("photo.png", "image/jpeg", "photo.jpg"),
        ("scan.pdf", "image/gif", "scan.gif"),
        ("quote.docx", "application/pdf", "quote.pdf"),
        ("report.pdf", f"{OOXML}.wordprocessingml.document", "report.docx"),
        ("sheet.docx", f"{OOXML}.spreadsheetml.sheet", "sheet.xlsx"),
        ("old.xls", "application/msword", "old.doc"),
        ("report.docx", "application/zip", "report.zip"),
        ("book.odt", "application/zip", "book.odt"),
        ("chart.png", "text/plain", "chart.txt"),
        ("data.csv", "text/plain", "data.csv"),
        ("notes.txt", "text/csv", "notes.txt"),
        ("notes.md", "text/plain", "notes.md"),
        ("passwd", "text/plain", "passwd"),
        ("invoice.pdf", "application/octet-stream", "invoice.bin"),
        ("setup.exe", "application/octet-stream", "setup.exe"),
        ("mail.msg", "application/x-ole-storage", "mail.msg"),
        ("q" * 300 + ".txt", "application/pdf", "q" * 196 + ".pdf"),
    ],
)
def test_stored_names_end_in_an_extension_that_fits_the_bytes(name: str, content_type: str, stored: str) -> None:
    assert name_for_type(name, content_type) == stored


@pytest.mark.parametrize(
    ("content", "name", "stored"),
    [(HTML, "page.html", "page.html"), (ELF, "invoice.pdf", "invoice.bin"), (b"MZ\x90\x00", "setup.exe", "setup.exe")],
)
def test_html_and_programs_are_never_served_as_html(
    session: Session, data_dir: Path, content: bytes, name: str, stored: str
) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    doc = add_document(session, data_dir, lead, content, filename=name, actor=Actor.system("test"))
    headers = download_headers(open_document(data_dir, doc))
    assert headers["Content-Type"] in ("text/plain", "application/octet-stream")
    assert headers["Content-Disposition"] == f'attachment; filename="{stored}"'
    assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]


def test_a_tampered_content_type_is_served_as_octet_stream(session: Session, data_dir: Path) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    doc = add_document(session, data_dir, lead, HTML, filename="x.html", actor=Actor.system("test"))
    doc.content_type = "text/html"
    assert open_document(data_dir, doc).content_type == "application/octet-stream"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("../../etc/passwd", "passwd"), ("a\x00b.txt", "ab.txt"), (".htaccess", "htaccess"),
     ("報價單 2026.txt", "報價單 2026.txt"), ("報價單 2026.pdf", "報價單 2026.txt")],
)
def test_stored_names_are_sanitised(session: Session, data_dir: Path, given: str, kept: str) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    doc = add_document(session, data_dir, lead, TEXT, filename=given, actor=Actor.system("test"))
    session.commit()
    assert doc.filename == kept == doc.title
    assert _stored_files(data_dir) == [blob_path(data_dir, doc.sha256)]  # stored by hash, never by name


def test_a_300_character_name_is_cut(session: Session, data_dir: Path) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    doc = add_document(session, data_dir, lead, PDF, filename="q" * 300 + ".pdf", actor=Actor.system("test"))
    session.commit()
    assert doc.filename.endswith(".pdf") and len(doc.filename.encode()) <= 200


@pytest.mark.parametrize("as_path", [False, True])
def test_too_large_names_the_file_and_writes_nothing(
    session: Session, data_dir: Path, tmp_path: Path, as_path: bool
) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    session.commit()
    before = session.get(RecordCounter, "documents").next_value
    if as_path:
        source: bytes | Path = tmp_path / "scan.pdf"
        with source.open("wb") as f:
            f.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: nothing is really written
    else:
        source = b"%PDF-" + b"\0" * MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentTooLarge, match=r"^scan\.pdf: the file is 25\.0 MB; documents may be at most 25 MB"):
        add_document(session, data_dir, lead, source, filename="scan.pdf", actor=Actor.system("test"))
    session.commit()
    assert _count(session, Document) == 0 and _count(session, DocumentLink) == 0
    assert session.get(RecordCounter, "documents").next_value == before
    assert _stored_files(data_dir) == []


def test_only_live_sales_records_take_documents(session: Session, data_dir: Path) -> None:
    campaign = records.create_campaign(session, {"name": "Expo"})
    with pytest.raises(ValidationError, match="record"):
        add_document(session, data_dir, campaign, PDF, filename="a.pdf", actor=Actor.system("test"))
    lead = records.create_lead(session, {"last_name": "Lee"})
    records.delete(session, lead)
    with pytest.raises(ValidationError, match="record"):
        add_document(session, data_dir, lead, PDF, filename="a.pdf", actor=Actor.system("test"))


def test_deleted_documents_are_not_listed_and_missing_files_are_named(session: Session, data_dir: Path) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    kept = add_document(session, data_dir, lead, PDF, filename="a.pdf", actor=Actor.system("test"))
    gone = add_document(session, data_dir, lead, PNG, filename="b.png", actor=Actor.system("test"))
    gone.deleted_at = utcnow()
    session.flush()
    assert list(session.scalars(documents_of(lead))) == [kept]
    blob_path(data_dir, kept.sha256).unlink()
    with pytest.raises(NotFound, match="DOC1: the stored file .* is missing"):
        open_document(data_dir, kept)


@pytest.fixture
def cli(crm):  # noqa: ANN001, ANN201 - the shared `crm` runner under the name these tests use
    """Run `crm` in-process against the test database."""
    return crm


def test_cli_adds_and_lists_documents(session: Session, rep: User, cli, tmp_path: Path) -> None:  # noqa: ANN001
    lead = records.create_lead(session, {"last_name": "王"})
    session.commit()
    file = tmp_path / "報價單 2026.pdf"
    file.write_bytes(PDF)
    added = cli("documents", "add", lead.lead_no.lower(), str(file), "--title", "Quote", "--user", rep.email)
    assert added.output == f"Added DOC1 報價單 2026.pdf (application/pdf, {len(PDF)} B) to {lead.lead_no}.\n"
    listed = cli("documents", "list", lead.lead_no).output
    assert "DOC1" in listed and "報價單 2026.pdf" in listed and "“Quote”" in listed and "[application/pdf]" in listed
    session.expire_all()
    assert session.scalar(select(Document.created_by_id)) == rep.id
    session.rollback()  # release SQLite's write lock before the next command
    assert cli("documents", "list", "ACC999", ok=False).stderr == "error: no record numbered 'ACC999'\n"


def test_cli_refuses_a_large_file_in_one_line(session: Session, cli, tmp_path: Path) -> None:  # noqa: ANN001
    lead = records.create_lead(session, {"last_name": "Lee"})
    session.commit()
    big = tmp_path / "scan.tiff"
    with big.open("wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 2**20)
    result = cli("documents", "add", lead.lead_no, str(big), ok=False)
    assert result.stderr == "error: scan.tiff: the file is 26.0 MB; documents may be at most 25 MB\n"
    assert cli("documents", "list", lead.lead_no).output == f"{lead.lead_no} has no documents.\n"
    assert _count(session, Lead) == 1


def _nothing_written(session: Session, data_dir: Path, counter_before: int) -> None:
    session.rollback()
    assert _count(session, Document) == 0 and _count(session, DocumentLink) == 0
    assert _counter(session) == counter_before
    assert _stored_files(data_dir) == []


def _counter(session: Session) -> int:
    row = session.get(RecordCounter, "documents")
    value = row.next_value if row is not None else 1
    session.rollback()  # end the read: on SQLite the CLI would wait on it
    return value


def test_a_symbolic_link_is_refused_naming_it(session: Session, data_dir: Path, tmp_path: Path) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    session.commit()
    before = _counter(session)
    real = tmp_path / "quote.pdf"
    real.write_bytes(PDF)
    link = tmp_path / "link.pdf"
    link.symlink_to(real)
    with pytest.raises(ValidationError, match=r"^file: link\.pdf is a symbolic link; attach a regular file$"):
        add_document(session, data_dir, lead, link, filename=link.name, actor=Actor.system("test"))
    _nothing_written(session, data_dir, before)
    # A link to a folder, a device or a link that leads nowhere is a link too.
    for target in (tmp_path, Path("/dev/null"), tmp_path / "gone.pdf"):
        other = tmp_path / f"to-{target.name}"
        other.symlink_to(target)
        with pytest.raises(ValidationError, match="is a symbolic link"):
            add_document(session, data_dir, lead, other, filename=other.name, actor=Actor.system("test"))
    _nothing_written(session, data_dir, before)


@pytest.mark.parametrize("kind", ["a folder", "a character device"])
def test_anything_but_a_regular_file_is_refused(session: Session, data_dir: Path, tmp_path: Path, kind: str) -> None:
    lead = records.create_lead(session, {"last_name": "Lee"})
    session.commit()
    before = _counter(session)
    source = Path("/dev/null") if kind == "a character device" else tmp_path / "folder"
    if kind == "a folder":
        source.mkdir()
    with pytest.raises(ValidationError, match=f"^file: {source.name} is {kind}; attach a regular file$"):
        add_document(session, data_dir, lead, source, filename=source.name, actor=Actor.system("test"))
    _nothing_written(session, data_dir, before)


def test_cli_refuses_a_fifo_at_once(session: Session, data_dir: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    """A FIFO passes for an existing file; reading it used to wait for a writer for ever."""
    lead_no = records.create_lead(session, {"last_name": "Lee"}).lead_no
    session.commit()
    before = _counter(session)
    fifo = tmp_path / "scan.pdf"
    os.mkfifo(fifo)
    result = run_beside(fifo, lambda: cli("documents", "add", lead_no, str(fifo), ok=False))
    assert result.stderr == "error: file: scan.pdf is a FIFO (named pipe); attach a regular file\n"
    _nothing_written(session, data_dir, before)


def test_cli_refuses_a_symbolic_link_and_names_a_renamed_file(
    session: Session, data_dir: Path, cli, tmp_path: Path  # noqa: ANN001
) -> None:
    lead_no = records.create_lead(session, {"last_name": "Lee"}).lead_no
    session.commit()
    before = _counter(session)
    png = tmp_path / "contract.pdf"
    png.write_bytes(PNG)
    link = tmp_path / "shortcut.pdf"
    link.symlink_to(png)
    refused = cli("documents", "add", lead_no, str(link), ok=False)
    assert refused.stderr == "error: file: shortcut.pdf is a symbolic link; attach a regular file\n"
    _nothing_written(session, data_dir, before)
    session.rollback()
    added = cli("documents", "add", lead_no, str(png))
    assert added.output == f"Added DOC1 contract.png (image/png, {len(PNG)} B) to {lead_no}.\n"
