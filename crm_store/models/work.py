"""Activities (tasks, calls, meetings, emails) and notes, attached to any sales record."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, str255, utcnow

ACTIVITY_TYPES = ("task", "call", "meeting", "email")



class RelatedTo:
    """Links to the record a row is about: a lead, account, contact, opportunity, product or sales document."""

    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), index=True)
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)


class Activity(RelatedTo, Base):
    """A task with a due date, or a call/meeting/email with a start and an end."""

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("type in ('task','call','meeting','email')", name="type"),
        CheckConstraint("end_at is null or start_at is null or end_at >= start_at", name="end_after_start"),
        CheckConstraint("reminder_minutes is null or reminder_minutes >= 0", name="reminder"),
        Index("ix_activities_owner_open", "owner_id", "completed_at", "due_date"),
        Index("ix_activities_owner_start", "owner_id", "start_at"),  # My day: today's calls and meetings
        Index("ix_activities_owner_created", "owner_id", "created_at", "id"),  # the activities list, newest first
        Index("ix_activities_created", "created_at", "id"),
        # reminders: events with a reminder not sent yet, by start
        Index("ix_activities_reminder_due", "start_at",
              sqlite_where=text("reminder_minutes is not null and reminder_sent_at is null and start_at is not null"),
              postgresql_where=text("reminder_minutes is not null and reminder_sent_at is null "
                                    "and start_at is not null")),
    )

    id: Mapped[intpk]
    type: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str255]
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    start_at: Mapped[dt.datetime | None]
    end_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(100))
    priority: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(255))
    reminder_minutes: Mapped[int | None] = mapped_column(Integer)
    reminder_sent_at: Mapped[dt.datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[dt.datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_automation: Mapped[str | None] = mapped_column(String(100))
    deleted_at: Mapped[dt.datetime | None]
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    cadence_step: Mapped[int | None] = mapped_column(Integer)  # a follow-up task's touch in its lead's cadence (1..)


class Note(RelatedTo, Base):
    """A note on a record, optionally with a time to remind its author (a memo reminder)."""

    __tablename__ = "notes"
    __table_args__ = (
        Index("ix_notes_author_remind", "author_id", "remind_at"),  # My day: my reminders due
        Index("ix_notes_remind_due", "remind_at", sqlite_where=text("reminded_at is null"),
              postgresql_where=text("reminded_at is null")),  # reminders: memos due, not sent yet
    )

    id: Mapped[intpk]
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    remind_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    reminded_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
