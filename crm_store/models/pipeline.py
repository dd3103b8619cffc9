"""Sales processes, their ordered stages, and the stage history of opportunities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, intpk, str100


class SalesProcess(Base):
    """A named sequence of stages an opportunity moves through; one is the default."""

    __tablename__ = "sales_processes"

    id: Mapped[intpk]
    name: Mapped[str100] = mapped_column(unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)

    stages: Mapped[list[SalesStage]] = relationship(
        back_populates="process", order_by="SalesStage.position", cascade="all, delete-orphan"
    )


class SalesStage(Base):
    """A stage of a sales process with its default probability and rotting threshold."""

    __tablename__ = "sales_stages"
    __table_args__ = (
        UniqueConstraint("sales_process_id", "name"),
        CheckConstraint("probability between 0 and 100", name="probability"),
        CheckConstraint("not (is_won and is_lost)", name="won_or_lost"),
    )

    id: Mapped[intpk]
    sales_process_id: Mapped[int] = mapped_column(ForeignKey("sales_processes.id", ondelete="CASCADE"))
    name: Mapped[str100]
    position: Mapped[int] = mapped_column(Integer)
    probability: Mapped[int] = mapped_column(Integer)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    is_lost: Mapped[bool] = mapped_column(Boolean, default=False)
    rotting_days: Mapped[int | None] = mapped_column(Integer)

    process: Mapped[SalesProcess] = relationship(back_populates="stages")

    @property
    def is_closed(self) -> bool:
        """Whether an opportunity at this stage is closed (won or lost)."""
        return self.is_won or self.is_lost


class StageHistory(Base):
    """One row per stage an opportunity entered; the current stage has no `left_at`."""

    __tablename__ = "stage_history"
    __table_args__ = (
        Index("ix_stage_history_opportunity", "opportunity_id", "entered_at"),
        # stage-playbooks' catch-up: live stage entries whose playbook has not fired yet
        Index("ix_stage_history_playbook", "entered_at", sqlite_where=text("playbook_fired_at is null"),
              postgresql_where=text("playbook_fired_at is null")),
    )

    id: Mapped[intpk]
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stages.id"), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    probability: Mapped[int | None] = mapped_column(Integer)
    expected_close_date: Mapped[dt.date | None] = mapped_column(Date)
    entered_at: Mapped[dt.datetime]
    left_at: Mapped[dt.datetime | None]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_by_automation: Mapped[str | None] = mapped_column(String(100))
    # When the stage's playbook fired for this entry (its tasks created, its email queued), or when it was
    # decided that it never will (history from an import or the demo): set once, by a conditional UPDATE.
    playbook_fired_at: Mapped[dt.datetime | None]
