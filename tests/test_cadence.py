"""The follow-up cadence: touch 1 due within `sla_hours`, each completion plans the next until the eighth,
closed and converted leads stop, history gets none, the capture path starts it in the lead's own transaction,
and the first response is stored once in working minutes.

The company works Monday to Friday, 09:00-18:00 in Taipei; Monday 22 June 2026 is a holiday.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation import cadence
from crm_store.capture import intake
from crm_store.capture import submissions as capture
from crm_store.errors import ValidationError
from crm_store.models import Activity, Batch, Cadence, Lead, User, WebForm
from crm_store.pipeline import activities
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.settings.seed import seed_all
from crm_store.staff import actions, follow_ups
from crm_store.staff.users import add_user
from tests.test_webform_api import api, count, one, rows, visitor

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
HOLIDAY = dt.date(2026, 6, 22)


def taipei(day: int, hour: int, minute: int = 0, month: int = 6) -> dt.datetime:
    """A moment of 2026 on Taipei's clocks, in UTC."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TAIPEI).astimezone(dt.UTC)


def working_day(start: dt.date, n: int) -> dt.date:
    """The test's own count: the first weekday on or after `start` that is no holiday, then n more."""
    day = start
    while day.weekday() >= 5 or day == HOLIDAY:
        day += dt.timedelta(days=1)
    for _ in range(n):
        day += dt.timedelta(days=1)
        while day.weekday() >= 5 or day == HOLIDAY:
            day += dt.timedelta(days=1)
    return day


@pytest.fixture
def rep(session: Session) -> User:
    """An English-speaking rep, in a company working 09:00-18:00 in Taipei with `sla_hours` 4."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    company.set_value(session, "holidays", [HOLIDAY.isoformat()])
    company.set_value(session, "sla_hours", 4)
    return add_user(session, "rep@example.com", "Rep", language="en", welcome=False)


def assigned_lead(session: Session, owner: User, at: dt.datetime, *, start: bool = True, **values: Any) -> Lead:
    """A lead given to `owner` at `at`, its cadence started as the assignment module starts it."""
    lead = records.create(session, "leads", {"first_name": "Mei", "last_name": "Chen", "owner_id": owner.id,
                                             **values}, at=at)
    assert lead.assigned_at == at
    if start:
        cadence.start(session, [(lead.id, owner.id, at)], cadence.calendar_for(session))
    return lead


def touches(session: Session, lead_id: int) -> list[Activity]:
    """The lead's cadence tasks, touch 1 first."""
    return list(session.scalars(
        select(Activity).where(Activity.lead_id == lead_id, Activity.cadence_step.is_not(None))
        .order_by(Activity.cadence_step)
    ))


def complete(session: Session, user: User, task: Activity, at: dt.datetime) -> None:
    follow_ups.complete_task(session, user, task.id, at=at)


# -- reference data -----------------------------------------------------------------------------------


def test_the_default_cadence_is_seeded_once(session: Session) -> None:
    stored = session.scalars(select(Cadence)).one()
    assert (stored.name, stored.offsets, stored.is_default) == ("Default", [0, 1, 3, 7, 14, 21, 30, 45], True)
    assert cadence.seed(session) == 0 and seed_all(session).cadences == 0


def test_without_a_stored_cadence_the_default_offsets_apply(session: Session, rep: User) -> None:
    session.execute(delete(Cadence))
    lead = assigned_lead(session, rep, taipei(1, 10))
    (first,) = touches(session, lead.id)
    assert lead.cadence_id is None and lead.cadence_step == 1 and first.subject == "Follow-up 1 of 8: Mei Chen"
    complete(session, rep, first, taipei(2, 11))
    assert [t.cadence_step for t in touches(session, lead.id)] == [1, 2]
    assert cadence.seed(session) == 1


# -- touch 1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("holidays", "due"), [
    ([], dt.date(2026, 6, 22)),  # Friday 16:00 + 4 working hours: 2 on Friday, 2 on Monday
    ([HOLIDAY.isoformat()], dt.date(2026, 6, 23)),  # Monday is a holiday: Tuesday
])
def test_touch_1_is_due_within_sla_hours_across_a_weekend_and_a_holiday(
    session: Session, rep: User, holidays: list[str], due: dt.date
) -> None:
    company.set_value(session, "holidays", holidays)
    lead = assigned_lead(session, rep, taipei(19, 16))
    (first,) = touches(session, lead.id)
    assert first.due_date == due
    assert (first.type, first.status, first.owner_id, first.cadence_step) == ("task", "Not Started", rep.id, 1)
    assert first.created_by_automation == "cadence" and first.completed_at is None
    assert first.subject == "Follow-up 1 of 8: Mei Chen"
    default_id = session.scalar(select(Cadence.id).where(Cadence.is_default))
    assert (lead.cadence_id, lead.cadence_step) == (default_id, 1)


def test_touch_1_reaches_a_close_that_ends_the_sla_on_the_same_day(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(19, 14))  # 14:00 + 4 h = 18:00, the close: still Friday
    assert touches(session, lead.id)[0].due_date == dt.date(2026, 6, 19)


def test_the_subject_is_in_the_owner_s_language(session: Session, rep: User) -> None:
    other = add_user(session, "lin@example.com", "Lin", language="zh_Hant", welcome=False)
    lead = assigned_lead(session, other, taipei(1, 10), first_name="美玲", last_name="林")
    assert touches(session, lead.id)[0].subject == "第 1 次跟進（共 8 次）：林美玲"


def test_starting_twice_creates_one_task(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(1, 10))
    again = cadence.start(session, [(lead.id, rep.id, taipei(1, 10)), (lead.id, rep.id, taipei(1, 10))],
                          cadence.calendar_for(session))
    assert again == 0 and len(touches(session, lead.id)) == 1 and lead.cadence_step == 1


def test_many_leads_start_with_one_call(session: Session, rep: User) -> None:
    leads = [assigned_lead(session, rep, taipei(1, 10), start=False, last_name=f"Lead {i}") for i in range(30)]
    created = cadence.start(session, [(lead.id, rep.id, taipei(1, 10)) for lead in leads],
                            cadence.calendar_for(session))
    assert created == 30
    assert session.scalar(select(func.count()).select_from(Activity).where(Activity.cadence_step == 1)) == 30
    assert {session.get_one(Lead, lead.id).cadence_step for lead in leads} == {1}


@pytest.mark.parametrize("closed", ["Junk Lead", "Lost Lead", "Cold", "converted", "deleted", "no owner"])
def test_a_closed_lead_does_not_start(session: Session, rep: User, closed: str) -> None:
    lead = assigned_lead(session, rep, taipei(1, 10), start=False)
    _close(lead, closed)
    session.flush()
    assert cadence.start(session, [(lead.id, rep.id, taipei(1, 10))], cadence.calendar_for(session)) == 0
    assert touches(session, lead.id) == [] and lead.cadence_step is None


def test_an_assignment_that_is_batch_history_gets_no_task(session: Session, rep: User) -> None:
    loaded = taipei(10, 9)
    batch = Batch(kind="import", name="leads.csv", created_at=loaded)
    session.add(batch)
    session.flush()
    history = records.create(session, "leads", {"last_name": "Old", "owner_id": rep.id},
                             at=loaded - dt.timedelta(days=20), batch_id=batch.id)
    pooled = records.create(session, "leads", {"last_name": "Pooled"}, at=loaded - dt.timedelta(days=20),
                            batch_id=batch.id)
    pooled.owner_id, pooled.assigned_at = rep.id, taipei(10, 11)  # an unassigned lead of the batch, assigned now
    session.flush()
    assert history.assigned_at is not None and history.assigned_at < loaded
    created = cadence.start(session, [(history.id, rep.id, history.assigned_at), (pooled.id, rep.id, taipei(10, 11))],
                            cadence.calendar_for(session))
    assert created == 1
    assert touches(session, history.id) == [] and history.cadence_step is None
    assert [t.cadence_step for t in touches(session, pooled.id)] == [1]


# -- the next touches -----------------------------------------------------------------------------------


def test_completing_a_touch_plans_the_next_at_the_later_of_the_two_rules(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(1, 10))  # Monday 1 June
    first = touches(session, lead.id)[0]
    assert first.due_date == dt.date(2026, 6, 1)
    complete(session, rep, first, taipei(1, 15))
    second = touches(session, lead.id)[1]
    assert (second.cadence_step, second.due_date, second.owner_id) == (2, dt.date(2026, 6, 2), rep.id)
    assert second.subject == "Follow-up 2 of 8: Mei Chen" and second.created_by_automation == "cadence"
    complete(session, rep, second, taipei(2, 11))
    third = touches(session, lead.id)[2]
    assert third.due_date == dt.date(2026, 6, 4)  # assigned + 3 working days is later than Wednesday
    complete(session, rep, third, taipei(15, 10))  # late: Monday 15 June
    fourth = touches(session, lead.id)[3]
    assert fourth.due_date == dt.date(2026, 6, 16)  # the working day after the completion, not 10 June
    assert session.get_one(Lead, lead.id).cadence_step == 4


def test_a_completion_late_on_friday_plans_the_next_for_monday(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(3, 10))  # Wednesday 3 June
    first = touches(session, lead.id)[0]
    complete(session, rep, first, taipei(5, 23, 30))  # Friday 23:30 in Taipei (15:30 UTC)
    assert touches(session, lead.id)[1].due_date == dt.date(2026, 6, 8)


def test_the_eighth_touch_is_the_last(session: Session, rep: User) -> None:
    assigned = taipei(1, 10)
    lead = assigned_lead(session, rep, assigned)
    expected = [dt.date(2026, 6, 1)]
    for step, offset in enumerate(cadence.DEFAULT_OFFSETS[1:], 1):
        task = touches(session, lead.id)[step - 1]
        assert task.due_date == expected[-1]
        done_on = task.due_date
        complete(session, rep, task, dt.datetime.combine(done_on, dt.time(10), TAIPEI).astimezone(dt.UTC))
        expected.append(max(working_day(dt.date(2026, 6, 1), offset), working_day(done_on + dt.timedelta(days=1), 0)))
    planned = touches(session, lead.id)
    assert [t.cadence_step for t in planned] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [t.due_date for t in planned] == expected
    assert expected[5] == dt.date(2026, 7, 1)  # touch 6: 21 working days, one of them lost to the holiday
    complete(session, rep, planned[-1], taipei(20, 10, month=7))
    assert len(touches(session, lead.id)) == 8 and session.get_one(Lead, lead.id).cadence_step == 8


@pytest.mark.parametrize("closed", ["Junk Lead", "Lost Lead", "Cold", "converted"])
def test_a_closed_or_converted_lead_gets_no_next_touch(session: Session, rep: User, closed: str) -> None:
    lead = assigned_lead(session, rep, taipei(1, 10))
    _close(lead, closed)
    session.flush()
    complete(session, rep, touches(session, lead.id)[0], taipei(1, 15))
    assert [t.cadence_step for t in touches(session, lead.id)] == [1]
    assert session.get_one(Lead, lead.id).cadence_step == 1


def test_completing_the_same_touch_twice_plans_one_next_touch(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(1, 10))
    first = touches(session, lead.id)[0]
    complete(session, rep, first, taipei(1, 15))
    with pytest.raises(ValidationError):
        complete(session, rep, first, taipei(1, 16))
    cadence.on_activity_completed(session, first, taipei(1, 17))  # the hook heard twice
    assert [t.cadence_step for t in touches(session, lead.id)] == [1, 2]


def test_the_next_touch_goes_to_the_lead_s_owner_of_the_day(session: Session, rep: User) -> None:
    admin = add_user(session, "admin@example.com", "Admin", role="admin", welcome=False)
    other = add_user(session, "other@example.com", "Other", welcome=False)
    lead = assigned_lead(session, rep, taipei(1, 10))
    actions.change_owner(session, admin, "leads", lead.id, other.id)
    assert len(touches(session, lead.id)) == 1  # the cadence runs on; it does not start again
    activities.complete_activity(session, touches(session, lead.id)[0], Actor.user(rep.id), at=taipei(1, 15))
    assert touches(session, lead.id)[1].owner_id == other.id


def test_a_lead_given_its_first_owner_on_its_page_starts_its_cadence(session: Session, rep: User) -> None:
    admin = add_user(session, "admin@example.com", "Admin", role="admin", welcome=False)
    lead = records.create(session, "leads", {"last_name": "Wang"})
    actions.change_owner(session, admin, "leads", lead.id, rep.id)
    (first,) = touches(session, lead.id)
    assert first.owner_id == rep.id and lead.cadence_step == 1


def test_a_lead_taken_from_the_pool_starts_its_cadence(session: Session, rep: User) -> None:
    from tests.staff_support import make_staff

    taker = make_staff(session)["rep_a"]  # a member of team North
    company.set_value(session, "unassigned_pool", "North")
    lead = records.create(session, "leads", {"last_name": "Wang"})
    actions.take_lead(session, taker, lead.id, at=taipei(1, 10))
    (first,) = touches(session, lead.id)
    assert (first.owner_id, first.due_date, lead.cadence_step) == (taker.id, dt.date(2026, 6, 1), 1)


def test_a_logged_call_does_not_complete_the_open_touch(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(1, 10))
    follow_ups.log_call(session, rep, "leads", lead.id, outcome="Left a message", at=taipei(1, 11))
    (first,) = touches(session, lead.id)
    assert first.completed_at is None and lead.cadence_step == 1


# -- the first response ------------------------------------------------------------------------------


def test_the_first_response_is_stored_once_in_working_minutes(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(1, 17))  # Monday 17:00: one working hour left that day
    follow_ups.log_call(session, rep, "leads", lead.id, at=taipei(2, 10))  # Tuesday 10:00
    assert (lead.first_response_at, lead.first_response_minutes) == (taipei(2, 10), 120)
    complete(session, rep, touches(session, lead.id)[0], taipei(2, 11))
    stored = session.get_one(Lead, lead.id, populate_existing=True)
    assert (stored.first_response_at, stored.first_response_minutes) == (taipei(2, 10), 120)


def test_an_automation_task_completed_by_no_person_is_no_response(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(1, 10))
    activities.complete_activity(session, touches(session, lead.id)[0], Actor.system("cleanup"), at=taipei(1, 11))
    assert session.get_one(Lead, lead.id).first_response_at is None
    complete(session, rep, touches(session, lead.id)[1], taipei(2, 9, 30))
    stored = session.get_one(Lead, lead.id)
    assert (stored.first_response_at, stored.first_response_minutes) == (taipei(2, 9, 30), 8 * 60 + 30)


def test_an_activity_completed_before_the_assignment_is_no_response(session: Session, rep: User) -> None:
    lead = assigned_lead(session, rep, taipei(2, 10))
    follow_ups.log_call(session, rep, "leads", lead.id, at=taipei(1, 10))
    assert lead.first_response_at is None and lead.first_response_minutes is None


# -- the capture path ----------------------------------------------------------------------------------


def test_a_web_lead_with_an_owner_gets_touch_1_with_it(
    client: Any, session: Session, web_form: Any, reps: list[User], render_token: Any
) -> None:
    assert client.post(api(web_form.public_id), json=visitor(render_token())).status_code == 201
    lead = one(session, Lead)
    task = one(session, Activity)
    assert lead.owner_id == reps[0].id and lead.cadence_step == 1 and lead.cadence_id is not None
    assert (task.lead_id, task.owner_id, task.cadence_step, task.type) == (lead.id, reps[0].id, 1, "task")
    assert task.created_by_automation == "cadence" and task.subject == "Follow-up 1 of 8: Mei Chen"
    assert task.created_at == lead.created_at == lead.assigned_at
    assert task.due_date == cadence.Plan.load(session).first_due(lead.assigned_at)


def test_a_web_lead_without_an_owner_gets_no_task(
    client: Any, session: Session, web_form: Any, render_token: Any
) -> None:
    public_id = web_form.public_id
    web_form.owner_kind = "none"
    session.commit()
    session.expunge_all()
    assert client.post(api(public_id), json=visitor(render_token(public_id))).status_code == 201
    assert one(session, Lead).owner_id is None
    assert count(session, Activity) == 0


@pytest.mark.parametrize("path", ["receive", "intake"])
def test_capture_writes_touch_1_in_the_lead_s_transaction(
    session: Session, web_form: Any, reps: list[User], path: str
) -> None:
    form_id, rep_ids = web_form.id, [r.id for r in reps]

    def submit() -> None:
        form = session.get_one(WebForm, form_id)  # the rollback below leaves nothing loaded
        for i in range(3):
            inbound = capture.Inbound(form=form, client_key=f"key-{i}", raw={},
                                      values={"last_name": f"Chen {i}", "email": f"chen{i}@example.com"})
            (capture.receive if path == "receive" else capture.accept)(session, inbound)
        if path == "intake":
            assert intake.process_pending(session) == 3

    submit()
    session.rollback()
    assert count(session, Lead) == 0 and count(session, Activity) == 0
    submit()
    session.commit()
    leads = rows(session, Lead)
    tasks = {t.lead_id: t for t in rows(session, Activity)}
    assert [lead.owner_id for lead in leads] == rep_ids
    assert all(lead.cadence_step == 1 for lead in leads) and set(tasks) == {lead.id for lead in leads}
    assert all(tasks[lead.id].owner_id == lead.owner_id and tasks[lead.id].cadence_step == 1 for lead in leads)
    assert {tasks[lead.id].subject for lead in leads} == {f"Follow-up 1 of 8: Chen {i}" for i in range(3)}


def test_an_inquiry_assigning_a_pooled_lead_makes_its_reply_task_touch_1(
    client: Any, session: Session, web_form: Any, reps: list[User], render_token: Any
) -> None:
    lead = records.create(session, "leads", {"last_name": "Wang", "email": "mary@example.com"})
    session.commit()
    client.post(api(web_form.public_id), json=visitor(render_token(), email="mary@example.com"))
    task = one(session, Activity)
    assert task.cadence_step == 1 and task.owner_id == reps[0].id and task.lead_id == lead.id
    stored = one(session, Lead)
    assert stored.cadence_step == 1 and stored.cadence_id is not None


def _close(lead: Lead, how: str) -> None:
    if how == "converted":
        lead.converted_at = taipei(1, 12)
    elif how == "deleted":
        lead.deleted_at = taipei(1, 12)
    elif how == "no owner":
        lead.owner_id = None
    else:
        lead.status = how
