"""The audit trail: who changed what, when; and documents attached to records."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, str255, utcnow
from .work import RelatedTo

AUDIT_ACTIONS = ("create", "update", "delete", "restore", "merge", "convert", "assign", "purge", "erase", "undo",
                 "download")


class AuditEntry(Base):
    """One change to one record by a user or an automation; `changes` maps field -> [old, new]."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_record", "module", "record_id", "at"),)

    id: Mapped[intpk]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    automation: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(12))
    module: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer().with_variant(BigInteger, "postgresql"))
    record_no: Mapped[str | None] = mapped_column(String(20), index=True)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("audit_log.id"))


class Document(Base):
    """A file stored under the data dir by its content hash, attached to one or more records."""

    __tablename__ = "documents"
    __table_args__ = (  # the documents list, newest first
        Index("ix_documents_created", "created_at", "id"),
        Index("ix_documents_owner_created", "owner_id", "created_at", "id"),
    )

    id: Mapped[intpk]
    document_no: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str255]
    filename: Mapped[str255]
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer().with_variant(BigInteger, "postgresql"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deleted_at: Mapped[dt.datetime | None]
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)


class DocumentLink(RelatedTo, Base):
    """A document attached to a lead, account, contact or opportunity."""

    __tablename__ = "document_links"

    id: Mapped[intpk]
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
