"""A record's related lists that are not records of their own: activities, notes, the stage history with the
time spent in each stage, and the campaigns it belongs to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session, aliased

from crm_store.models import Activity, Campaign, CampaignMember, Note, SalesStage, StageHistory, User


@dataclass(frozen=True)
class ActivityLine:
    """A task, call, meeting or logged email of the record."""

    id: int
    type: str
    subject: str
    status: str
    priority: str | None
    due_date: dt.date | None
    start_at: dt.datetime | None
    end_at: dt.datetime | None
    completed_at: dt.datetime | None
    outcome: str | None
    owner_id: int
    owner_name: str


@dataclass(frozen=True)
class NoteLine:
    """A note on the record, with its author (None: written by an automation) and memo reminder."""

    id: int
    body: str
    author_name: str | None
    created_at: dt.datetime
    remind_at: dt.datetime | None


@dataclass(frozen=True)
class StageStay:
    """One stage an opportunity was in: since when, until when (None: still there), and for how long."""

    stage: str
    entered_at: dt.datetime
    left_at: dt.datetime | None
    days: int  # whole days spent in the stage (so far, for the current one)
    probability: int | None
    changed_by: str | None


@dataclass(frozen=True)
class CampaignLine:
    """A campaign the record belongs to, with its relation status (Vtiger's campaign member status)."""

    id: int
    number: str
    name: str
    status: str | None
    member_status: str | None


def activities(session: Session, link_column: str | None, record_id: int, limit: int) -> list[ActivityLine]:
    """The record's live activities: open ones first (soonest due), then done ones (latest first)."""
    if link_column is None:
        return []
    owner = aliased(User)
    when = Activity.due_date
    stmt = (
        select(Activity, owner.name).join(owner, owner.id == Activity.owner_id)
        .where(getattr(Activity, link_column) == record_id, Activity.deleted_at.is_(None))
        .order_by(case((Activity.completed_at.is_(None), 0), else_=1), when, Activity.start_at,
                  Activity.completed_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return [
        ActivityLine(a.id, a.type, a.subject, a.status, a.priority, a.due_date, a.start_at, a.end_at, a.completed_at,
                     a.outcome, a.owner_id, name)
        for a, name in session.execute(stmt)
    ]


def notes(session: Session, link_column: str | None, record_id: int, limit: int) -> list[NoteLine]:
    """The record's live notes, newest first."""
    if link_column is None:
        return []
    stmt = (
        select(Note, User.name).outerjoin(User, User.id == Note.author_id)
        .where(getattr(Note, link_column) == record_id, Note.deleted_at.is_(None))
        .order_by(Note.created_at.desc(), Note.id.desc()).limit(limit)
    )
    return [NoteLine(n.id, n.body, name, n.created_at, n.remind_at) for n, name in session.execute(stmt)]


def stage_history(session: Session, opportunity_id: int, now: dt.datetime) -> list[StageStay]:
    """The stages an opportunity went through, oldest first, with the whole days spent in each."""
    stmt = (
        select(StageHistory, SalesStage.name, User.name)
        .join(SalesStage, SalesStage.id == StageHistory.stage_id)
        .outerjoin(User, User.id == StageHistory.changed_by_id)
        .where(StageHistory.opportunity_id == opportunity_id)
        .order_by(StageHistory.entered_at, StageHistory.id)
    )
    return [
        StageStay(stage, row.entered_at, row.left_at, max(((row.left_at or now) - row.entered_at).days, 0),
                  row.probability, by or row.changed_by_automation)
        for row, stage, by in session.execute(stmt)
    ]


def campaigns(session: Session, module: str, record: Any) -> list[CampaignLine]:
    """The live campaigns a record is a member of (with the member status), and the one it came from."""
    found: dict[int, CampaignLine] = {}
    member_column = {"leads": "lead_id", "contacts": "contact_id", "accounts": "account_id"}.get(module)
    if member_column is not None:
        stmt = (
            select(Campaign, CampaignMember.status).join(CampaignMember, CampaignMember.campaign_id == Campaign.id)
            .where(getattr(CampaignMember, member_column) == record.id, Campaign.deleted_at.is_(None))
            .order_by(Campaign.id.desc())
        )
        for campaign, status in session.execute(stmt):
            found[campaign.id] = _campaign_line(campaign, status)
    source = getattr(record, "campaign_id", None)
    if source is not None and source not in found:
        came_from = session.get(Campaign, source)
        if came_from is not None and came_from.deleted_at is None:
            found[came_from.id] = _campaign_line(came_from, None)
    return list(found.values())


def _campaign_line(campaign: Campaign, member_status: str | None) -> CampaignLine:
    return CampaignLine(campaign.id, campaign.campaign_no, campaign.name, campaign.status, member_status)
