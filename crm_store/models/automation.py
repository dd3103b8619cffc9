"""The automation's own tables: flow runs, assignment rules, follow-up cadences and stage playbooks.

The state the flows keep on records lives on the records themselves (`Lead.assignment_reason`,
`Lead.cadence_step`, `Lead.sla_step`, `Lead.aging_state`, `Opportunity.rotting_since`, ...): a flow's
second run for the same `as_of` reads it and does nothing more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, str100, utcnow

FLOW_RUN_STATUSES = ("running", "completed", "failed")
RULE_OPERATORS = ("equals", "in", "contains", "starts_with", "is_empty")


class FlowRun(Base):
    """One run of a flow: when, for which `as_of`, what it counted and what failed."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        CheckConstraint("status in ('running','completed','failed')", name="status"),
        Index("ix_flow_runs_flow_started", "flow", "started_at"),
    )

    id: Mapped[intpk]
    flow: Mapped[str] = mapped_column(String(50))
    as_of: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(10), default="running")
    # What the run did, by name ({"assigned": 12, "emails": 3}); shown by `crm flows status`.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    errors: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(20), default="cli")  # cli, prefect, event


class AssignmentRule(Base):
    """An ordered rule giving unassigned leads an owner: first match wins.

    `conditions` is a list of {"field": lead field, "op": one of RULE_OPERATORS, "value": ...}, all of
    which must hold (an empty list matches every lead). The target is a user or a team, never both.
    """

    __tablename__ = "assignment_rules"
    __table_args__ = (
        CheckConstraint("(user_id is null) <> (team_id is null)", name="one_target"),
    )

    id: Mapped[intpk]
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str100] = mapped_column(unique=True)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Cadence(Base):
    """The follow-up touches of an assigned lead: offsets in working days from `assigned_at`."""

    __tablename__ = "cadences"

    id: Mapped[intpk]
    name: Mapped[str100] = mapped_column(unique=True)
    offsets: Mapped[list[int]] = mapped_column(JSON, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StagePlaybook(Base):
    """What a sales stage needs: the tasks its owner gets on entering it, and a short "what to do now".

    `guidance` is the "what to do now" text keyed by language code (the codes of crm_store.languages); `tasks`
    is a list of {"subject": <text by language code>, "offset_days": working days after entering the stage
    (0 = the same day), "priority": "High" | "Medium" | "Low" (optional)}. One playbook per stage; a stage
    without one (or with `active` off) fires nothing. Seeded for every stage of both seeded processes;
    `crm config export/import` carries them.
    """

    __tablename__ = "stage_playbooks"

    id: Mapped[intpk]
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stages.id", ondelete="CASCADE"), unique=True)
    guidance: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
