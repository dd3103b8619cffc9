"""Web-to-lead: the forms on customers' websites and every submission they received."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_store import languages

from .base import Base, intpk, str100, utcnow

OWNER_KINDS = ("user", "team", "round_robin", "none")
SUBMISSION_OUTCOMES = ("new_lead", "added_to_lead", "added_to_contact", "quarantined", "released", "discarded")


class WebForm(Base):
    """A form definition: which lead fields it shows, who gets its leads, where it may be embedded."""

    __tablename__ = "web_forms"
    __table_args__ = (
        CheckConstraint("owner_kind in ('user','team','round_robin','none')", name="owner_kind"),
        CheckConstraint(f"language in ({','.join(repr(c) for c in languages.CODES)})", name="language"),
    )

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    integration_key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str100] = mapped_column(unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(10), default="en")
    # [{name, label, required, type, choices}] in display order; `message` is the inquiry text.
    fields: Mapped[list] = mapped_column(JSON, default=list)
    # Lead values every submission gets, e.g. {"lead_source": "Web Site", "campaign_id": 3}.
    hidden: Mapped[dict] = mapped_column(JSON, default=dict)
    owner_kind: Mapped[str] = mapped_column(String(12), default="none")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # Position in `assignees` of the last user handed a lead; moved under a row lock.
    round_robin_pointer: Mapped[int] = mapped_column(Integer, default=-1)
    return_url: Mapped[str | None] = mapped_column(String(500))
    allowed_origins: Mapped[list] = mapped_column(JSON, default=list)
    consent_text: Mapped[str | None] = mapped_column(Text)
    notify_owner: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    thank_you: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    assignees: Mapped[list[WebFormAssignee]] = relationship(
        back_populates="form", cascade="all, delete-orphan", order_by="WebFormAssignee.position"
    )


class WebFormAssignee(Base):
    """One user's place in a form's round-robin list."""

    __tablename__ = "web_form_assignees"
    __table_args__ = (
        UniqueConstraint("form_id", "user_id", name="uq_web_form_assignees_form_user"),
        UniqueConstraint("form_id", "position", name="uq_web_form_assignees_form_position"),
    )

    id: Mapped[intpk]
    form_id: Mapped[int] = mapped_column(ForeignKey("web_forms.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    form: Mapped[WebForm] = relationship(back_populates="assignees")


class WebSubmission(Base):
    """One accepted request to a form, stored before anything else is done with it."""

    __tablename__ = "web_submissions"
    __table_args__ = (
        UniqueConstraint("form_id", "client_key", name="uq_web_submissions_form_client_key"),
        UniqueConstraint("token_nonce", name="uq_web_submissions_token_nonce"),
        Index("ix_web_submissions_quarantine", "outcome", "received_at"),
    )

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("web_forms.id"), index=True)
    # The submission id the browser sent (a retry or double click repeats it).
    client_key: Mapped[str] = mapped_column(String(64))
    # The render token's nonce: one accepted submission per token (a replay is stored without it, quarantined).
    token_nonce: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    clean: Mapped[dict] = mapped_column(JSON, default=dict)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    first_touch: Mapped[dict] = mapped_column(JSON, default=dict)
    last_touch: Mapped[dict] = mapped_column(JSON, default=dict)
    consent_text: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(String(20))
    spam_reason: Mapped[str | None] = mapped_column(String(200))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    processed_at: Mapped[dt.datetime | None]
