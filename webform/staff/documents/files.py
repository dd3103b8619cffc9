"""How a document's file is shown: its kind in words, its size in bytes, KB or MB (template filters)."""

from __future__ import annotations

from flask_babel import gettext, ngettext

from crm_store.languages import N_
from crm_store.records.documents import OCTET_STREAM

from ..page import number

KINDS = {
    "application/pdf": N_("PDF"),
    "image/png": N_("PNG image"),
    "image/jpeg": N_("JPEG image"),
    "image/gif": N_("GIF image"),
    "image/webp": N_("WebP image"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": N_("Word document"),
    "application/msword": N_("Word document"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": N_("Excel workbook"),
    "application/vnd.ms-excel": N_("Excel workbook"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": N_("PowerPoint presentation"),
    "application/vnd.ms-powerpoint": N_("PowerPoint presentation"),
    "application/zip": N_("ZIP archive"),
    "application/x-ole-storage": N_("Office file"),
    "text/plain": N_("Text"),
    "text/csv": N_("CSV table"),
    OCTET_STREAM: N_("Other file"),
}
KB, MB = 1024, 1024 * 1024


def file_kind(content_type: str) -> str:
    """A stored type in words, in the page's language: "PDF", "Word document" (the type itself when unknown)."""
    words = KINDS.get(content_type)
    return gettext(words) if words else content_type


def file_size(size: int) -> str:
    """A size the way people read it: "820 bytes", "12 KB", "1.4 MB"."""
    if size < KB:
        return ngettext("%(num)s byte", "%(num)s bytes", size)
    if size < MB:
        return gettext("%(size)s KB", size=number(round(size / KB)))
    return gettext("%(size)s MB", size=number(size / MB, 1))
