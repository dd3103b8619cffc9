"""Staff: users, teams and team membership."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_store import languages

from .base import Base, intpk, str100, str255, utcnow

ROLES = ("admin", "manager", "rep")
LANGUAGES = languages.CODES
ASSIGNMENT_STRATEGIES = ("round_robin", "weighted", "least_loaded")
DIGEST_TIME = "08:00"  # a user's digest time when they have not chosen one


class User(Base):
    """A member of staff who logs in, owns records and receives mail."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role in ('admin','manager','rep')", name="role"),)

    id: Mapped[intpk]
    email: Mapped[str255] = mapped_column(unique=True)
    name: Mapped[str100]
    role: Mapped[str] = mapped_column(String(10), default="rep")
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(10), default="en")
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # The morning digest: local time it is sent after on working days ("HH:MM"; empty: DIGEST_TIME), whether
    # it is sent at all, and the local date of the last one (a digest claims its date by a conditional UPDATE).
    digest_time: Mapped[str | None] = mapped_column(String(5))
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_digest_on: Mapped[dt.date | None] = mapped_column(Date)
    # A manager's report emails (flows/scheduled_reports.py): whether they are sent, and the Monday of the last
    # weekly pipeline email's week and the 1st of the last monthly customer-value email's month, each claimed by
    # a conditional UPDATE as `last_digest_on` is.
    report_emails_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_pipeline_report_week: Mapped[dt.date | None] = mapped_column(Date)
    last_customer_value_report_month: Mapped[dt.date | None] = mapped_column(Date)
    out_of_office_from: Mapped[dt.datetime | None]
    out_of_office_to: Mapped[dt.datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Failed sign-ins in a row (`crm_store.staff.sign_in`): a growing delay, then a lock until `locked_until`.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failed_sign_in_at: Mapped[dt.datetime | None]
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[dt.datetime | None]

    manager: Mapped[User | None] = relationship(remote_side="User.id")


class Team(Base):
    """A group of users that leads are shared out to."""

    __tablename__ = "teams"

    id: Mapped[intpk]
    name: Mapped[str100] = mapped_column(unique=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignment_strategy: Mapped[str] = mapped_column(String(20), default="round_robin")
    round_robin_pointer: Mapped[int] = mapped_column(Integer, default=0)

    members: Mapped[list[TeamMember]] = relationship(back_populates="team", cascade="all, delete-orphan")


class TeamMember(Base):
    """A user's place in a team: a weight for weighted round-robin and a cap of open leads."""

    __tablename__ = "team_members"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        CheckConstraint("weight >= 1", name="weight_positive"),
    )

    id: Mapped[intpk]
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    open_lead_cap: Mapped[int | None] = mapped_column(Integer)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class SignInFailure(Base):
    """Failed sign-ins from one network address (an IPv4 address or an IPv6 /64), counted like a user's own."""

    __tablename__ = "sign_in_failures"

    id: Mapped[intpk]
    address: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[dt.datetime] = mapped_column(index=True)
    locked_until: Mapped[dt.datetime | None]
