"""My day: buckets cut at midnight in the user's zone (Asia/Taipei here, while UTC is still on yesterday), new
leads with how long they waited, memo reminders, a manager's overdue counts, and the one-click actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import NotFound, ValidationError
from crm_store.models import Activity, User
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import follow_ups
from crm_store.staff.my_day import my_day
from crm_store.staff.users import add_user

UTC = dt.UTC
# 00:30 on 2 June in Taipei (UTC+8): still 1 June in UTC.
AS_OF = dt.datetime(2026, 6, 1, 16, 30, tzinfo=UTC)
TODAY = dt.date(2026, 6, 2)


@pytest.fixture(params=["user", "company"])
def rep(request: pytest.FixtureRequest, session: Session) -> User:
    """A rep in Taipei: by their own zone (the company's is UTC), or by the company's (they have none)."""
    own = request.param == "user"
    company.set_value(session, "time_zone", "UTC" if own else "Asia/Taipei")
    boss = add_user(session, "boss@example.com", "Boss", role="manager", time_zone="Asia/Taipei", welcome=False)
    return add_user(session, "rep@example.com", "Rep", manager_email=boss.email,
                    time_zone="Asia/Taipei" if own else None, welcome=False)


def task(session: Session, owner: User, subject: str, due: dt.date, **values: Any) -> Activity:
    return activities.create_activity(session, {"type": "task", "subject": subject, "due_date": due,
                                                "owner_id": owner.id, **values}, Actor.user(owner.id))


def event(session: Session, owner: User, subject: str, start: dt.datetime, kind: str = "call") -> Activity:
    return activities.create_activity(session, {"type": kind, "subject": subject, "start_at": start,
                                                "owner_id": owner.id}, Actor.user(owner.id))


def test_buckets_are_cut_at_midnight_in_taipei(session: Session, rep: User) -> None:
    lead = records.create_lead(session, {"last_name": "王", "first_name": "大明", "owner_id": rep.id},
                               at=AS_OF - dt.timedelta(hours=1))
    task(session, rep, "Yesterday's", dt.date(2026, 6, 1), lead_id=lead.id)  # today in UTC, overdue in Taipei
    task(session, rep, "Today's", TODAY, priority="High")
    task(session, rep, "Tomorrow's", dt.date(2026, 6, 3))
    done = task(session, rep, "Done", dt.date(2026, 5, 30))
    activities.complete_activity(session, done, Actor.user(rep.id))
    event(session, rep, "At midnight", dt.datetime(2026, 6, 1, 16, 0, tzinfo=UTC))  # 00:00 Taipei
    event(session, rep, "Just before", dt.datetime(2026, 6, 1, 15, 59, tzinfo=UTC), "meeting")  # 23:59 yesterday
    event(session, rep, "Last thing", dt.datetime(2026, 6, 2, 15, 59, tzinfo=UTC), "meeting")  # 23:59 today
    event(session, rep, "Tomorrow", dt.datetime(2026, 6, 2, 16, 0, tzinfo=UTC))
    session.commit()

    day = my_day(session, rep, AS_OF)
    assert (day.today, day.zone) == (TODAY, "Asia/Taipei")
    assert [t.subject for t in day.overdue] == ["Yesterday's"]
    assert day.overdue[0].record is not None and day.overdue[0].record.title == "王大明"
    assert [(t.subject, t.priority) for t in day.due_today] == [("Today's", "High")]
    assert [e.subject for e in day.events] == ["At midnight", "Last thing"]
    assert my_day(session, rep, AS_OF - dt.timedelta(hours=1)).today == dt.date(2026, 6, 1)  # 23:30 the day before


def test_new_leads_since_yesterday_newest_first_with_their_wait(session: Session, rep: User) -> None:
    since = dt.datetime(2026, 5, 31, 16, 0, tzinfo=UTC)  # midnight starting yesterday, in Taipei
    records.create_lead(session, {"last_name": "Too old", "owner_id": rep.id}, at=since - dt.timedelta(minutes=1))
    records.create_lead(session, {"last_name": "First", "owner_id": rep.id}, at=since)
    touched = records.create_lead(session, {"last_name": "Touched", "owner_id": rep.id},
                                  at=AS_OF - dt.timedelta(hours=3))
    touched.last_touch_at = AS_OF - dt.timedelta(hours=2, minutes=30)
    session.commit()
    leads = my_day(session, rep, AS_OF).new_leads
    assert [(lead.name, lead.touched) for lead in leads] == [("Touched", True), ("First", False)]
    assert leads[0].waited == dt.timedelta(minutes=30)  # until the first touch
    assert leads[1].waited == AS_OF - since  # still waiting


def test_memo_reminders_due_today(session: Session, rep: User) -> None:
    lead = records.create_lead(session, {"last_name": "Lin", "owner_id": rep.id})
    staff = Actor.user(rep.id)
    due = activities.add_note(session, "Ask about the budget\nafter their board meets", staff,
                              remind_at=dt.datetime(2026, 6, 2, 2, 0, tzinfo=UTC), lead_id=lead.id)
    activities.add_note(session, "Not yet", staff, remind_at=dt.datetime(2026, 6, 2, 16, 0, tzinfo=UTC),
                        lead_id=lead.id)
    seen = activities.add_note(session, "Seen", staff, remind_at=AS_OF - dt.timedelta(days=2), lead_id=lead.id)
    follow_ups.dismiss_reminder(session, rep, seen.id)
    session.commit()
    reminders = my_day(session, rep, AS_OF).reminders
    assert [(r.note_id, r.text) for r in reminders] == [(due.id, "Ask about the budget")]
    assert reminders[0].record is not None and reminders[0].record.module == "leads"


def test_a_manager_sees_each_rep_s_overdue_count(session: Session, rep: User) -> None:
    boss = session.get_one(User, rep.manager_id)
    other = add_user(session, "other@example.com", "Ann Other", manager_email=boss.email, welcome=False)
    for due in (dt.date(2026, 6, 1), dt.date(2026, 5, 20), TODAY):
        task(session, rep, "Rep's", due)
    session.commit()
    counts = my_day(session, boss, AS_OF).team_overdue
    assert [(c.name, c.overdue) for c in counts] == [("Ann Other", 0), ("Rep", 2)]
    assert other.id in {c.user_id for c in counts}
    assert my_day(session, rep, AS_OF).team_overdue == []


def test_one_click_actions(session: Session, rep: User) -> None:
    boss = session.get_one(User, rep.manager_id)
    stranger = add_user(session, "x@example.com", "Stranger", welcome=False)
    lead = records.create_lead(session, {"last_name": "Lin", "owner_id": rep.id})
    overdue = task(session, rep, "Send the quote", dt.date(2026, 6, 1), lead_id=lead.id)
    session.commit()
    with pytest.raises(NotFound):
        follow_ups.complete_task(session, stranger, overdue.id)
    follow_ups.complete_task(session, boss, overdue.id, outcome="Sent", at=AS_OF)  # a manager, for a report
    call = follow_ups.log_call(session, rep, "leads", lead.id, status="Not Held", outcome="Voicemail", at=AS_OF,
                               minutes=5)
    today = follow_ups.today_of(session, rep, AS_OF)
    nxt = follow_ups.schedule_follow_up(session, rep, "leads", lead.id, follow_ups.follow_up_date("tomorrow", today),
                                        as_of=AS_OF)
    session.commit()
    assert overdue.completed_at == AS_OF and overdue.status == "Completed" and overdue.outcome == "Sent"
    assert (call.type, call.status, call.outcome, call.completed_at) == ("call", "Not Held", "Voicemail", AS_OF)
    assert call.end_at == AS_OF + dt.timedelta(minutes=5) and lead.last_touch_at == AS_OF
    assert (nxt.type, nxt.due_date, nxt.owner_id, nxt.lead_id) == ("task", dt.date(2026, 6, 3), rep.id, lead.id)
    assert my_day(session, rep, AS_OF).overdue == []
    assert [t.subject for t in my_day(session, rep, AS_OF + dt.timedelta(days=1)).due_today] == ["Follow up with Lin"]

    with pytest.raises(ValidationError) as err:
        follow_ups.schedule_follow_up(session, rep, "leads", lead.id, dt.date(2026, 6, 1), as_of=AS_OF)
    assert err.value.field == "due_date"
    with pytest.raises(ValidationError) as err:
        follow_ups.log_call(session, rep, "leads", lead.id, status="Planned")
    assert err.value.field == "status"
    with pytest.raises(NotFound):
        follow_ups.log_call(session, stranger, "leads", lead.id)


@pytest.mark.parametrize(("today", "choice", "expected"), [
    (dt.date(2026, 6, 5), "tomorrow", dt.date(2026, 6, 6)),
    (dt.date(2026, 6, 5), "in_3_days", dt.date(2026, 6, 8)),
    (dt.date(2026, 6, 5), "next_week", dt.date(2026, 6, 8)),  # a Friday: next week begins on Monday
    (dt.date(2026, 6, 8), "next_week", dt.date(2026, 6, 15)),  # a Monday: the Monday after
])
def test_follow_up_choices(today: dt.date, choice: str, expected: dt.date) -> None:
    assert follow_ups.follow_up_date(choice, today) == expected
