"""Stage changes write a contiguous history; staff actions move last_touch_at, automation does not."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import SalesStage, StageHistory, User
from crm_store.pipeline import activities, stages
from crm_store.records import lifecycle as records
from crm_store.staff.users import add_user

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(session: Session) -> User:
    return add_user(session, "rep@example.com", "Rep One")


def history(session: Session, opp_id: int) -> list[StageHistory]:
    stmt = select(StageHistory).where(StageHistory.opportunity_id == opp_id).order_by(StageHistory.entered_at)
    return list(session.scalars(stmt))


def test_stage_changes_build_a_contiguous_history(session: Session, rep: User) -> None:
    staff = Actor.user(rep.id)
    opp = records.create_opportunity(
        session, {"name": "Deal", "expected_close_date": "2026-06-30", "amount": 1000}, staff, at=T0
    )
    stages.change_stage(session, opp, "Qualification", staff, at=T0 + dt.timedelta(days=3))
    stages.change_stage(session, opp, "Negotiation or Review", staff, at=T0 + dt.timedelta(days=10))
    assert stages.change_stage(session, opp, "Negotiation or Review", staff) is None  # same stage: no row
    stages.change_stage(session, opp, "Closed Won", staff, at=T0 + dt.timedelta(days=20))
    session.commit()
    rows = history(session, opp.id)
    names = [session.get(SalesStage, r.stage_id).name for r in rows]
    assert names == ["Prospecting", "Qualification", "Negotiation or Review", "Closed Won"]
    for prev, nxt in zip(rows, rows[1:], strict=False):
        assert prev.left_at == nxt.entered_at
    assert rows[-1].left_at is None
    assert [r.probability for r in rows] == [10, 20, 80, 100]
    assert all(r.changed_by_id == rep.id for r in rows)
    assert opp.closed_at == T0 + dt.timedelta(days=20)
    assert opp.probability == 100
    assert opp.last_touch_at == T0 + dt.timedelta(days=20)


def test_reopening_clears_closed_at(session: Session) -> None:
    opp = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-06-30"}, at=T0)
    stages.change_stage(session, opp, "Closed Lost", Actor.system("import"), at=T0 + dt.timedelta(days=1))
    assert opp.closed_at is not None and opp.probability == 0
    stages.change_stage(session, opp, "Qualification", Actor.system("import"), at=T0 + dt.timedelta(days=2))
    assert opp.closed_at is None


def test_stage_must_belong_to_the_process_and_time_must_not_go_back(session: Session) -> None:
    opp = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-06-30"}, at=T0)
    with pytest.raises(ValidationError, match="stage"):
        stages.change_stage(session, opp, "Bidding / Competition", Actor.system("t"))  # a Project Sales stage
    with pytest.raises(ValidationError, match="at"):
        stages.change_stage(session, opp, "Qualification", Actor.system("t"), at=T0 - dt.timedelta(days=1))
    assert len(history(session, opp.id)) == 1


def test_update_with_stage_goes_through_the_history(session: Session, rep: User) -> None:
    opp = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-06-30"}, at=T0)
    records.update(session, opp, {"stage": "Needs Analysis", "next_step": "Send quote"}, Actor.user(rep.id))
    rows = history(session, opp.id)
    assert len(rows) == 2 and rows[0].left_at == rows[1].entered_at
    assert opp.probability == 25


def test_automation_does_not_touch(session: Session) -> None:
    bot = Actor.system("lead_aging", "run-7")
    opp = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-06-30"}, at=T0)
    stages.change_stage(session, opp, "Qualification", bot, at=T0 + dt.timedelta(days=1))
    assert opp.last_touch_at is None
    assert history(session, opp.id)[-1].changed_by_automation == "lead_aging:run-7"
    lead = records.create_lead(session, {"last_name": "Lee"})
    records.update(session, lead, {"status": "Cold"}, bot)
    assert lead.last_touch_at is None


def test_staff_actions_touch_the_record(session: Session, rep: User) -> None:
    staff = Actor.user(rep.id)
    lead = records.create_lead(session, {"last_name": "Lee"})
    records.update(session, lead, {"status": "Contacted"}, staff)
    first_touch = lead.last_touch_at
    assert first_touch is not None

    lead2 = records.create_lead(session, {"last_name": "Chen"})
    activities.add_note(session, "Called twice", Actor.system("dropbox"), lead_id=lead2.id)
    assert lead2.last_touch_at is None  # an automation's note is not a staff action
    activities.add_note(session, "客戶想要報價", staff, lead_id=lead2.id, at=T0)
    assert lead2.last_touch_at == T0

    account = records.create_account(session, {"name": "Acme"})
    call = activities.create_activity(
        session, {"type": "call", "subject": "Intro call", "start_at": T0, "account_id": account.id}, staff
    )
    assert account.last_touch_at is None  # planning a call is not a touch
    done_at = T0 + dt.timedelta(hours=1)
    activities.complete_activity(session, call, staff, outcome="Wants a demo", at=done_at)
    assert account.last_touch_at == done_at
    assert call.status == "Held" and call.completed_by_id == rep.id


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"type": "chat", "subject": "x"}, "type"),
        ({"type": "task", "subject": "x"}, "due_date"),
        ({"type": "meeting", "subject": "x"}, "start_at"),
        ({"type": "task", "subject": "", "due_date": "2026-01-01"}, "subject"),
        ({"type": "task", "subject": "x", "due_date": "2026-01-01", "status": "Held"}, "status"),
        ({"type": "call", "subject": "x", "start_at": T0, "end_at": T0 - dt.timedelta(minutes=5)}, "end_at"),
        ({"type": "task", "subject": "x", "due_date": "2026-01-01", "lead_id": 12345}, "lead_id"),
        ({"type": "task", "subject": "x", "due_date": "2026-01-01", "priority": "Urgent!!"}, "priority"),
        ({"type": "call", "subject": "x", "start_at": "2026-01-01T10:00"}, "start_at"),
    ],
)
def test_bad_activities_name_the_field(session: Session, rep: User, values: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        activities.create_activity(session, values, Actor.user(rep.id))
    assert err.value.field == field


def test_notes_need_a_body_and_a_record(session: Session, rep: User) -> None:
    with pytest.raises(ValidationError, match="body"):
        activities.add_note(session, "  ", Actor.user(rep.id), lead_id=1)
    with pytest.raises(ValidationError, match="record"):
        activities.add_note(session, "hello", Actor.user(rep.id))
