"""The outbox: mail queued in the same transaction as the change that caused it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, utcnow

OUTBOX_STATUSES = ("queued", "sending", "retrying", "sent", "failed", "suppressed")  # in the order mail moves on


class OutboxMessage(Base):
    """One message to send: rendered at delivery from a template, a language and a JSON context."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(
            "status in ('queued','sending','sent','retrying','failed','suppressed')", name="status"
        ),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_record", "record_module", "record_id"),
    )

    id: Mapped[intpk]
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Given by the mail worker when it first claims the message, so every attempt carries the same one.
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    template: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    recipient_name: Mapped[str | None] = mapped_column(String(100))
    reply_to: Mapped[str | None] = mapped_column(String(254))  # where answers go, when not to the sender
    language: Mapped[str] = mapped_column(String(10), default="en")
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    to_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sending_since: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # The record the message is about (a lead's notice and auto-reply): its timeline lists the message.
    record_module: Mapped[str | None] = mapped_column(String(20))
    record_id: Mapped[int | None] = mapped_column(Integer().with_variant(BigInteger, "postgresql"))
