"""Documents: files attached to records, stored once by content hash, served only as downloads."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import CrmError, NotFound, ValidationError
from crm_store.mail.outbox import ATTACHMENT_STORE
from crm_store.models import Document, DocumentLink
from crm_store.records import numbering, registry

MAX_DOCUMENT_BYTES = 25 * 1024 * 1024
MAX_FILENAME_BYTES = 200  # UTF-8 bytes: leaves room under the usual 255-byte file-name limit
OCTET_STREAM = "application/octet-stream"
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"),
)
_OOXML = {
    "wordprocessingml.document.main+xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "spreadsheetml.sheet.main+xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "presentationml.presentation.main+xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_STREAMS = (  # directory-entry names that tell the legacy Office formats apart
    ("WordDocument", "application/msword"), ("Workbook", "application/vnd.ms-excel"),
    ("Book", "application/vnd.ms-excel"), ("PowerPoint Document", "application/vnd.ms-powerpoint"),
)
# A directory entry: the NUL-terminated UTF-16LE name padded to 64 bytes, then its length in bytes.
_OLE_ENTRIES = tuple(
    ((n + "\0").encode("utf-16-le").ljust(64, b"\0") + struct.pack("<H", 2 * len(n) + 2), t) for n, t in _OLE_STREAMS
)
SNIFFED_TYPES = frozenset(
    {t for _, t in _SIGNATURES} | set(_OOXML.values()) | {t for _, t in _OLE_STREAMS}
    | {"image/webp", "application/zip", "application/x-ole-storage", "text/plain", "text/csv", OCTET_STREAM}
)
# The extensions that fit each type the bytes can show, the usual one first. Text and CSV are one family:
# a one-column or semicolon-separated .csv reads as plain text.
_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",), "image/png": (".png",), "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/gif": (".gif",), "image/webp": (".webp",),
    _OOXML["wordprocessingml.document.main+xml"]: (".docx",), _OOXML["spreadsheetml.sheet.main+xml"]: (".xlsx",),
    _OOXML["presentationml.presentation.main+xml"]: (".pptx",), "application/msword": (".doc",),
    "application/vnd.ms-excel": (".xls",), "application/vnd.ms-powerpoint": (".ppt",),
    "application/zip": (".zip",), "text/plain": (".txt", ".csv"), "text/csv": (".csv", ".txt"),
}
# Kinds of bytes that many formats share (.odt and .epub are zips, .md and .html text, .msg OLE): a name's
# extension is kept unless it claims one of the types above.
_GENERAL_TYPES = frozenset({"application/zip", "text/plain", "text/csv", "application/x-ole-storage", OCTET_STREAM})
_CLAIMED = frozenset(e for extensions in _EXTENSIONS.values() for e in extensions)
UNKNOWN_EXTENSION = ".bin"
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


class DocumentTooLarge(CrmError):
    """A file over the size limit for documents."""


class Download(NamedTuple):
    """What a web edge needs to send a stored document as a download."""

    path: Path
    filename: str
    content_type: str


def sniff_content_type(content: bytes) -> str:
    """Return the media type the bytes themselves show; never trust a name or a client."""
    for magic, media_type in _SIGNATURES:
        if content.startswith(magic):
            return media_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith(b"PK\x03\x04"):
        return _sniff_zip(content)
    if content.startswith(_OLE_MAGIC):
        return next((t for entry, t in _OLE_ENTRIES if entry in content), "application/x-ole-storage")
    return _sniff_text(content)


def _sniff_zip(content: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if "[Content_Types].xml" not in archive.namelist():
                return "application/zip"
            with archive.open("[Content_Types].xml") as f:
                types = f.read(256 * 1024).decode("utf-8", "replace")  # bounded: a zip bomb stays small
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError):
        return OCTET_STREAM  # damaged or encrypted: just bytes
    return next((t for marker, t in _OOXML.items() if marker in types), "application/zip")


def _sniff_text(content: bytes) -> str:
    try:
        text = content.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return OCTET_STREAM
    if re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", text):
        return OCTET_STREAM
    # Anything that decodes as text (HTML, SVG, scripts included) is plain text: it is never rendered.
    sample = text[:65536]
    lines = [line for line in sample.splitlines() if line.strip()]
    lines = (lines[:-1] if len(text) > len(sample) else lines)[:20]  # the last sampled line may be cut
    try:
        widths = {len(row) for row in csv.reader(lines)}
    except csv.Error:
        return "text/plain"
    return "text/csv" if len(lines) >= 2 and len(widths) == 1 and widths.pop() >= 2 else "text/plain"


def sanitize_filename(name: str) -> str:
    """Return a safe file name: no folders, control or reserved characters, leading dots; length-limited."""
    name = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    name = re.sub(r"\s+", " ", name)  # before control characters go: a tab or newline becomes a space
    name = "".join("_" if c in '<>:"|?*' else c for c in name if not unicodedata.category(c).startswith("C"))
    name = name.strip(" .")
    if not name:
        return "document"
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 16:
        stem, dot, suffix = name, "", ""
    if stem.upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    ending = f"{dot}{suffix}"
    stem = stem[:MAX_FILENAME_BYTES]
    while len((stem + ending).encode()) > MAX_FILENAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") or "document") + ending


def name_for_type(filename: str, content_type: str) -> str:
    """Return the safe file name with an extension that fits the type the bytes show.

    An extension that fits is kept (.jpeg for a JPEG, .csv or .txt for text). Bytes of a specific type
    (PDF, PNG, JPEG, GIF, WebP, Office) otherwise get their type's own extension: a PNG named contract.pdf
    is stored as contract.png, one named logo as logo.png. Bytes of a general kind (text, a zip, OLE
    storage, unrecognised) keep an extension that claims none of those types (.md, .odt, .msg, .exe) and
    lose one that does: text named chart.png is stored as chart.txt, a zip named report.docx as
    report.zip, and bytes nothing recognises under a name that claims a type (a program named invoice.pdf)
    as invoice.bin. So no stored name promises a type its bytes are not.
    """
    name = sanitize_filename(filename)
    stem, suffix = os.path.splitext(name)
    fitting = _EXTENSIONS.get(content_type, ())
    if suffix.lower() in fitting or (content_type in _GENERAL_TYPES and suffix.lower() not in _CLAIMED):
        return name
    return sanitize_filename(stem + (fitting[0] if fitting else UNKNOWN_EXTENSION))


def content_disposition(filename: str) -> str:
    """Return a `Content-Disposition: attachment` value with an RFC 5987 `filename*` for non-ASCII names."""
    name = sanitize_filename(filename)
    stem, suffix = os.path.splitext(name)
    fallback = (_ascii(stem) or "download") + (f".{_ascii(suffix)}" if _ascii(suffix) else "")
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='!#$&+^`|')}"


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", plain.replace('"', "_").replace("\\", "_")).strip(" .")


def download_headers(download: Download) -> dict[str, str]:
    """Return the response headers that make a browser save the file and never render it."""
    return {
        "Content-Type": download.content_type,
        "Content-Disposition": content_disposition(download.filename),
        "Content-Length": str(download.path.stat().st_size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }


def documents_dir(data_dir: Path) -> Path:
    """Return the folder under the data dir that holds document contents (`outbox.ATTACHMENT_STORE`)."""
    return data_dir / ATTACHMENT_STORE


def blob_path(data_dir: Path, sha256: str) -> Path:
    """Return where the content with this SHA-256 is stored."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return documents_dir(data_dir) / sha256[:2] / sha256


def store_content(data_dir: Path, content: bytes) -> str:
    """Write the content once under its hash (atomically) and return the hash."""
    sha256 = hashlib.sha256(content).hexdigest()
    target = blob_path(data_dir, sha256)
    if target.is_file() and target.stat().st_size == len(content):
        return sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha256


def add_document(
    session: Session, data_dir: Path, record: Any, source: bytes | Path, *,
    filename: str, title: str | None = None, actor: Actor,
) -> Document:
    """Store a file and attach it to a lead, account, contact or opportunity as a new document.

    A path must name a regular file, not a symbolic link (nor a FIFO, a device or a folder). The file is
    typed by its bytes and named to match (see `name_for_type`): a PNG named contract.pdf is stored as
    contract.png.
    """
    column = _link_column(record)
    content = _read_limited(source, sanitize_filename(filename))
    content_type = sniff_content_type(content)
    name = name_for_type(filename, content_type)
    doc_title = _clean_title(title) or name
    document = Document(
        document_no=numbering.allocate(session, "documents")[0], title=doc_title, filename=name,
        content_type=content_type, size=len(content), sha256=store_content(data_dir, content),
        owner_id=actor.user_id, created_by_id=actor.user_id,
    )
    session.add(document)
    session.flush()
    session.add(DocumentLink(document_id=document.id, **{column: record.id}))
    session.flush()
    return document


def documents_of(record: Any) -> Select[Document]:
    """Select the live documents attached to a record, oldest first."""
    column = getattr(DocumentLink, _link_column(record))
    return (
        select(Document).join(DocumentLink, DocumentLink.document_id == Document.id)
        .where(column == record.id, Document.deleted_at.is_(None))
        .order_by(Document.created_at, Document.id)
    )


def find_document(session: Session, document_no: str) -> Document:
    """Return the live document with this number (DOC12)."""
    found = session.scalar(
        select(Document).where(Document.document_no == document_no.upper(), Document.deleted_at.is_(None))
    )
    if found is None:
        raise NotFound(f"no document numbered {document_no!r}")
    return found


def open_document(data_dir: Path, document: Document) -> Download:
    """Return the stored file, its download name and a content type that is safe to send."""
    path = blob_path(data_dir, document.sha256)
    if not path.is_file():
        raise NotFound(f"{document.document_no}: the stored file {path} is missing; restore it from a backup")
    media_type = document.content_type if document.content_type in SNIFFED_TYPES else OCTET_STREAM
    return Download(path, sanitize_filename(document.filename), media_type)


def _link_column(record: Any) -> str:
    column = next((m.link_column for m in registry.modules() if m.model is type(record)), None)
    if column is None:
        raise ValidationError("record", "documents attach to a lead, account, contact or opportunity")
    if record.id is None or record.deleted_at is not None:
        raise ValidationError("record", "documents attach only to saved records that are not deleted")
    return column


def read_content(source: bytes | Path, filename: str) -> bytes:
    """Read what `add_document` would store, with its limits (a regular file, at most MAX_DOCUMENT_BYTES)."""
    return _read_limited(source, sanitize_filename(filename))


def _read_limited(source: bytes | Path, name: str) -> bytes:
    content = bytes(source) if isinstance(source, (bytes, bytearray)) else _read_file(source, name)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise _too_large(name, len(content))
    return content


def _read_file(path: Path, name: str) -> bytes:
    """Read a regular file, never through a symbolic link, and never wait on a FIFO or a device."""
    try:
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            raise ValidationError("file", f"{path.name} is {_kind(mode)}; attach a regular file")
        # O_NONBLOCK: should the path become a FIFO after the check, opening it does not wait for a writer.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        with os.fdopen(os.open(path, flags), "rb") as f:
            opened = os.fstat(f.fileno())
            if not stat.S_ISREG(opened.st_mode):
                raise ValidationError("file", f"{path.name} is {_kind(opened.st_mode)}; attach a regular file")
            if opened.st_size > MAX_DOCUMENT_BYTES:
                raise _too_large(name, opened.st_size)
            return f.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise CrmError(f"{name}: cannot be read ({exc.strerror})") from exc


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    kinds = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((words for test, words in kinds if test(mode)), "not a regular file")


def _too_large(name: str, size: int) -> DocumentTooLarge:
    limit = MAX_DOCUMENT_BYTES // 2**20
    return DocumentTooLarge(f"{name}: the file is {size / 2**20:.1f} MB; documents may be at most {limit} MB")


def _clean_title(title: str | None) -> str:
    if title is None:
        return ""
    kept = "".join(c for c in title if not unicodedata.category(c).startswith("C"))
    return re.sub(r"\s+", " ", kept).strip()[:255]
