"""`crm demo`: the counts of every table, contiguous stage histories, nothing dated in the future."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from crm_store.models import (
    Account,
    Activity,
    Batch,
    Campaign,
    Contact,
    Lead,
    Note,
    Opportunity,
    SalesStage,
    StageHistory,
    Team,
    TeamMember,
    User,
)
from crm_store.ops.demo import SIZES
from crm_store.pipeline.leads import open_leads

# Event timestamps: none may be later than the moment the demo finished.
EVENT_COLUMNS = {
    "leads": ("created_at", "updated_at", "assigned_at", "converted_at", "last_touch_at"),
    "accounts": ("created_at", "updated_at", "last_touch_at"),
    "contacts": ("created_at", "updated_at", "last_touch_at"),
    "opportunities": ("created_at", "updated_at", "closed_at", "stage_entered_at", "last_touch_at"),
    "campaigns": ("created_at",),
    "stage_history": ("entered_at", "left_at"),
    "activities": ("created_at", "start_at", "end_at", "completed_at", "due_date"),
    "notes": ("created_at",),
    "users": ("created_at",),
}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_small_demo(crm, session: Session, engine: Engine) -> None:  # noqa: ANN001
    out = crm("demo").output
    finished = dt.datetime.now(dt.UTC)
    assert "Loaded the small demo" in out
    size = SIZES["small"]
    assert count(session, User) == 1 + 1 + size.reps
    assert session.scalar(select(func.count()).where(User.role == "admin")) == 1
    assert session.scalar(select(func.count()).where(User.role == "manager")) == 1
    assert count(session, Lead) == size.leads
    assert count(session, Account) == size.accounts
    assert count(session, Contact) == size.contacts
    assert count(session, Opportunity) == size.opportunities
    assert count(session, Campaign) == size.campaigns
    assert count(session, Team) == 1 and count(session, TeamMember) == size.reps
    assert count(session, StageHistory) >= size.opportunities * 2
    assert count(session, Activity) >= size.leads // 2
    assert count(session, Note) >= size.leads // 20
    assert session.scalar(select(func.count()).where(Lead.batch_id.is_(None))) == 0
    assert count(session, Batch) == 1

    # both languages
    names = list(session.scalars(select(Lead.last_name).limit(300)))
    assert any("\u4e00" <= n[0] <= "\u9fff" for n in names) and any(n.isascii() for n in names)

    # stage histories are contiguous and end at the opportunity's current stage
    rows = session.execute(
        select(StageHistory.opportunity_id, StageHistory.stage_id, StageHistory.entered_at, StageHistory.left_at)
        .order_by(StageHistory.opportunity_id, StageHistory.entered_at, StageHistory.id)
    ).all()
    by_opp: dict[int, list] = {}
    for r in rows:
        by_opp.setdefault(r.opportunity_id, []).append(r)
    assert len(by_opp) == size.opportunities
    current = dict(session.execute(select(Opportunity.id, Opportunity.stage_id)).all())
    for opp_id, hist in by_opp.items():
        for prev, nxt in zip(hist, hist[1:], strict=False):
            assert prev.left_at == nxt.entered_at
        assert hist[-1].left_at is None
        assert hist[-1].stage_id == current[opp_id]

    # closed opportunities carry closed_at, open ones do not
    closed_stage = select(SalesStage.id).where(SalesStage.is_won | SalesStage.is_lost)
    assert session.scalar(
        select(func.count()).where(Opportunity.stage_id.in_(closed_stage), Opportunity.closed_at.is_(None))
    ) == 0
    assert session.scalar(
        select(func.count()).where(Opportunity.stage_id.not_in(closed_stage), Opportunity.closed_at.is_not(None))
    ) == 0

    # nothing dated in the future
    session.commit()  # end the read transaction: on SQLite every transaction holds the write lock
    with engine.connect() as conn:
        for table, columns in EVENT_COLUMNS.items():
            for column in columns:
                latest = conn.execute(text(f"select max({column}) from {table}")).scalar()
                if latest is None:
                    continue
                if isinstance(latest, str):
                    latest = dt.datetime.fromisoformat(latest)
                if isinstance(latest, dt.datetime):
                    latest = latest if latest.tzinfo else latest.replace(tzinfo=dt.UTC)
                    assert latest <= finished, f"{table}.{column} is in the future: {latest}"
                else:
                    assert latest <= finished.date(), f"{table}.{column} is in the future: {latest}"

    # time is consistent: assigned after created, converted after created, touched after created
    for lead in session.scalars(select(Lead).where(Lead.assigned_at.is_not(None))):
        assert lead.assigned_at >= lead.created_at
        if lead.converted_at:
            assert lead.converted_at >= lead.created_at and lead.converted_account_id is not None
        if lead.last_touch_at:
            assert lead.last_touch_at >= lead.created_at
    assert session.scalar(select(func.min(Lead.created_at))) >= finished - dt.timedelta(days=549)
    assert 0 < len(session.scalars(open_leads()).all()) < size.leads

    # a second run leaves everything as it is
    session.commit()
    again = crm("demo").output
    assert "already loaded" in again
    assert count(session, Lead) == size.leads
