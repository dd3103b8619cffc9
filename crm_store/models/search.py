"""The search index: one document per live record and the grams that find it.

A document holds a record's normalised search text; `search_grams` maps every trigram of that
text (and the last two characters of each piece) to the documents holding it, so any substring of
two or more characters is found through a primary-key range or lookup, never a scan.
`search_phone_grams` does the same for the four-digit windows of the record's phone numbers.
Both posting tables are clustered on their primary key (WITHOUT ROWID on SQLite), and document ids
grow with the records' creation time, so a gram's postings read backwards are newest first.
`search_gram_stats` keeps each gram's document count from the last rebuild, to start from the rarest.

A document also carries its record's owner, kept current by the database itself (a trigger on each searched
table's `owner_id`, migration 0014, so bulk reassignments keep it too), with an (owner, module, body) index:
a rep's search for a common term reads that user's own documents as one index range instead of checking
other people's postings one by one (`crm_store.search.query`).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

# Range scans over grams and record numbers need byte order; PostgreSQL's default collation may differ.
BYTE_ORDERED = "C"


def _ordered(length: int) -> String:
    return String(length).with_variant(String(length, collation=BYTE_ORDERED), "postgresql")


class SearchDocument(Base):
    """One searchable lead, account, contact or opportunity (deleted records have none).

    It holds what finding and ranking need, not what a result line shows: that is read from the
    record itself, for the few records found.
    """

    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("module", "record_id", name="uq_search_documents_record"),
        Index("ix_search_documents_number", "number"),
        Index("ix_search_documents_owner", "owner_id", "module", "body"),
    )

    # 32-bit on every backend: the posting tables repeat it once per gram.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(_ordered(20))
    # Normalised pieces (names in both orders, company, emails), each between newlines.
    body: Mapped[str] = mapped_column(Text)
    # National phone digits with the trunk 0 ("0912345678"), each between newlines.
    phones: Mapped[str] = mapped_column(String(100))
    is_open: Mapped[bool] = mapped_column(Boolean)
    owner_id: Mapped[int | None] = mapped_column(Integer)  # the record's; None: unowned (a pool lead)


class SearchGram(Base):
    """A trigram (or a piece's closing bigram) of a document's body."""

    __tablename__ = "search_grams"
    __table_args__ = {"sqlite_with_rowid": False}

    gram: Mapped[str] = mapped_column(_ordered(3), primary_key=True)
    document_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class SearchPhoneGram(Base):
    """Four consecutive digits (as a number, 0-9999) of one of a document's phone numbers."""

    __tablename__ = "search_phone_grams"
    __table_args__ = {"sqlite_with_rowid": False}

    gram: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class SearchGramStat(Base):
    """How many documents held a gram at the last rebuild: a search starts from its term's rarest gram."""

    __tablename__ = "search_gram_stats"

    gram: Mapped[str] = mapped_column(_ordered(3), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)
