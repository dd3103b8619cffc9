"""The follow-up cadence: from the first task of a newly assigned lead to its last touch.

A lead's cadence is `Lead.cadence_id` (the default cadence when it started; with none stored,
`DEFAULT_OFFSETS`) and `Lead.cadence_step`, the touches created so far. Each touch is a task for the
lead's owner carrying its number in `Activity.cadence_step`.

- Touch 1 is created when the lead is assigned (`start`; on the capture path inside the lead's own
  INSERT, through a `Plan`), due on the company date on which `sla_hours` working hours after
  `assigned_at` end. An unowned lead assigned because a web inquiry came in takes the inquiry's reply
  task, due that day, as its touch 1 (`first_touch_of`): one task, not two.
- Completing touch k creates touch k + 1 for the lead's owner at that time, due on the later of
  `assigned_at` + offset[k] working days and the working day after the completion — until the offsets
  run out (eight touches by default) or the lead is converted, closed (Junk Lead, Lost Lead, Cold) or
  deleted.
- Only completing the touch moves the cadence on. A call logged from My day, or a follow-up the rep
  planned by hand, is work on the lead (it may be its first response) but leaves the open touch as it
  is: the rep completes the touch when they count it done, and the next one is planned from then.
- The first response: the first activity on the lead completed at or after `assigned_at`, by a person
  (or one no automation created), stores `first_response_at` and the working minutes it took, once.
- A lead of an import or demo batch assigned before the batch was loaded is history: no cadence.
- Idempotent, and safe when two writers meet: `start` claims a lead with an UPDATE that needs its
  `cadence_step` still empty, and touch k + 1 is created only by the UPDATE moving it from k to k + 1.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm_store import languages
from crm_store.automation.calendar import SETTINGS as CALENDAR_SETTINGS
from crm_store.automation.calendar import WorkingCalendar
from crm_store.db.engine import affected
from crm_store.db.fast_insert import insert_rows
from crm_store.languages import N_
from crm_store.models import OPEN_LEAD_EXCLUDED_STATUSES, Activity, Batch, Cadence, Lead, User
from crm_store.pipeline.leads import open_lead_condition
from crm_store.records.names import display_name
from crm_store.settings import company

DEFAULT_OFFSETS: tuple[int, ...] = (0, 1, 3, 7, 14, 21, 30, 45)  # working days from assigned_at
DEFAULT_NAME = N_("Default")
AUTOMATION = "cadence"  # Activity.created_by_automation of a touch
SUBJECT = N_("Follow-up %(step)s of %(count)s: %(name)s")
CHUNK = 5000  # leads per statement
# Built once: on the capture path, building the statement would cost more than running it.
_DEFAULT_CADENCE = select(Cadence.id, Cadence.offsets).order_by(Cadence.is_default.desc(), Cadence.id).limit(1)
_calendars: dict[str, WorkingCalendar] = {}  # by the settings they were built from (CALENDAR_SETTINGS)


def seed(session: Session) -> int:
    """Store the default cadence when there is no cadence at all; return how many were added."""
    if session.scalar(select(Cadence.id).limit(1)) is not None:
        return 0
    session.add(Cadence(name=DEFAULT_NAME, offsets=list(DEFAULT_OFFSETS), is_default=True))
    return 1


def default_cadence(session: Session) -> tuple[int | None, tuple[int, ...]]:
    """The cadence a lead starts on: its id (None when none is stored) and its offsets."""
    row = session.execute(_DEFAULT_CADENCE).first()
    if row is None or not row.offsets:
        return None, DEFAULT_OFFSETS
    return row.id, tuple(int(n) for n in row.offsets)


def offsets_of(session: Session, cadence_id: int | None) -> tuple[int, ...]:
    """A lead's cadence offsets: its own cadence's, else the default's."""
    if cadence_id is not None:
        offsets = session.scalar(select(Cadence.offsets).where(Cadence.id == cadence_id))
        if offsets:
            return tuple(int(n) for n in offsets)
    return default_cadence(session)[1]


def calendar_for(session: Session, settings: dict[str, Any] | None = None) -> WorkingCalendar:
    """The working calendar, one per process for the same settings (`settings`: the caller's, else read)."""
    values = settings if settings is not None else company.all_settings(session)
    key = json.dumps([values.get(name) for name in CALENDAR_SETTINGS], default=str)
    found = _calendars.get(key)
    if found is None:
        found = WorkingCalendar.from_settings({name: values[name] for name in CALENDAR_SETTINGS if name in values})
        if len(_calendars) >= 16:
            _calendars.clear()
        _calendars[key] = found
    return found


@dataclass(frozen=True)
class Plan:
    """What starting leads' cadences needs, read once: the cadence, its length, the calendar, `sla_hours`."""

    cadence_id: int | None
    touches: int
    calendar: WorkingCalendar
    sla_hours: int

    @classmethod
    def load(cls, session: Session, settings: dict[str, Any] | None = None) -> Plan:
        """Read the default cadence and the settings (from `settings` when the caller keeps them)."""
        cadence_id, offsets = default_cadence(session)
        sla = settings["sla_hours"] if settings is not None else company.get(session, "sla_hours")
        return cls(cadence_id, len(offsets), calendar_for(session, settings), int(sla))

    def applies(self, values: dict[str, Any]) -> bool:
        """Whether a lead about to be inserted with these values starts its cadence: owned and open."""
        return (
            values.get("owner_id") is not None and values.get("cadence_step") is None
            and values.get("status") not in OPEN_LEAD_EXCLUDED_STATUSES
        )

    def lead_columns(self) -> dict[str, Any]:
        """The cadence columns of a lead whose first touch is created."""
        return {"cadence_id": self.cadence_id, "cadence_step": 1}

    def first_due(self, assigned_at: dt.datetime) -> dt.date:
        """The day touch 1 is due: when `sla_hours` working hours after the assignment end."""
        return _first_due(self.calendar, self.sla_hours, assigned_at)

    def first_task(
        self, lead_id: int, name: str, owner_id: int, language: str | None, assigned_at: dt.datetime
    ) -> dict[str, Any]:
        """The row of a lead's touch 1, for `insert_rows`."""
        return touch_row(lead_id, name, owner_id, language, 1, self.touches, self.first_due(assigned_at), assigned_at)


@lru_cache(maxsize=4096)
def _first_due(calendar: WorkingCalendar, sla_hours: int, assigned_at: dt.datetime) -> dt.date:
    """A run assigns thousands of leads at one moment: their first touch's day is worked out once."""
    return calendar.local_date(calendar.add_working_minutes(assigned_at, sla_hours * 60))


def touch_row(
    lead_id: int, name: str, owner_id: int, language: str | None, step: int, touches: int, due: dt.date,
    at: dt.datetime,
) -> dict[str, Any]:
    """The activities row of touch `step` of `touches`: a task for the owner, subject in their language."""
    subject = languages.translate(language or languages.DEFAULT, SUBJECT, step=step, count=touches, name=name)
    return {
        "type": "task", "subject": subject[:255], "owner_id": owner_id, "lead_id": lead_id, "due_date": due,
        "status": "Not Started", "created_by_automation": AUTOMATION, "cadence_step": step,
        "created_at": at, "updated_at": at,
    }


def insert_tasks(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert touch rows with one statement."""
    insert_rows(session, Activity.__table__, rows)


def start(session: Session, leads: Sequence[tuple[int, int, dt.datetime]], calendar: WorkingCalendar) -> int:
    """Create touch 1 for leads just assigned, given as (lead id, owner id, assigned_at); return how many.

    A lead is skipped when its cadence started before, when it is not open, when it has no owner, or when
    its assignment is history (an import or demo batch assigned it before the batch was loaded).
    """
    if not leads:
        return 0
    cadence_id, offsets = default_cadence(session)
    plan = Plan(cadence_id, len(offsets), calendar, int(company.get(session, "sla_hours")))
    return sum(_start(session, plan, leads[i : i + CHUNK]) for i in range(0, len(leads), CHUNK))


def _start(session: Session, plan: Plan, leads: Sequence[tuple[int, int, dt.datetime]]) -> int:
    assigned = {lead_id: at for lead_id, _owner, at in leads}
    found = session.execute(
        select(Lead.id, Lead.first_name, Lead.last_name, Lead.owner_id, Batch.created_at.label("loaded_at"))
        .outerjoin(Batch, Batch.id == Lead.batch_id)
        .where(Lead.id.in_(assigned), Lead.cadence_step.is_(None), Lead.owner_id.is_not(None), open_lead_condition())
    ).all()
    wanted = {row.id: row for row in found if row.loaded_at is None or assigned[row.id] >= row.loaded_at}
    if not wanted:
        return 0
    claimed = session.scalars(
        update(Lead).where(Lead.id.in_(wanted), Lead.cadence_step.is_(None))
        .values(plan.lead_columns()).returning(Lead.id)
        .execution_options(synchronize_session=False)
    ).all()
    _refresh(session, claimed, "cadence_id", "cadence_step")
    owners = {wanted[lead_id].owner_id for lead_id in claimed}
    languages_of = select(User.id, User.language).where(User.id.in_(owners))
    spoken = {row.id: row.language for row in session.execute(languages_of)}
    rows = [
        plan.first_task(lead_id, display_name(row.first_name, row.last_name), row.owner_id, spoken.get(row.owner_id),
                        assigned[lead_id])
        for lead_id in sorted(claimed) for row in (wanted[lead_id],)
    ]
    insert_tasks(session, rows)
    return len(rows)


def first_touch_of(session: Session, lead: Lead) -> int | None:
    """Start an open, owned lead's cadence on a task the caller is creating for it now; return its step (1).

    None when the lead's cadence started before (or the lead is closed, or has no owner): the task is then
    no touch.
    """
    if lead.cadence_step is not None or lead.owner_id is None or not _is_open(lead):
        return None
    cadence_id, _offsets = default_cadence(session)
    claimed = session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.cadence_step.is_(None))
        .values(cadence_id=cadence_id, cadence_step=1).execution_options(synchronize_session=False)
    )
    _refresh(session, [lead.id], "cadence_id", "cadence_step")
    return 1 if affected(claimed) == 1 else None


def on_activity_completed(session: Session, activity: Activity, at: dt.datetime) -> None:
    """React to a completed activity: record the lead's first response; after a touch, create the next."""
    if activity.lead_id is None:
        return
    lead = session.get(Lead, activity.lead_id)
    if lead is None or lead.assigned_at is None:
        return
    calendar: WorkingCalendar | None = None
    by_person = activity.completed_by_id is not None or activity.created_by_automation is None
    if by_person and lead.first_response_at is None and at >= lead.assigned_at:
        calendar = calendar_for(session)
        minutes = calendar.working_minutes_between(lead.assigned_at, at)
        session.execute(
            update(Lead).where(Lead.id == lead.id, Lead.first_response_at.is_(None))
            .values(first_response_at=at, first_response_minutes=minutes)
            .execution_options(synchronize_session=False)
        )
        _refresh(session, [lead.id], "first_response_at", "first_response_minutes")
    if activity.cadence_step is not None:
        _next_touch(session, lead, activity.cadence_step, at, calendar or calendar_for(session))


def next_due(
    calendar: WorkingCalendar, assigned_at: dt.datetime, offset: int, completed_at: dt.datetime
) -> dt.date:
    """When the next touch is due: `assigned_at` + offset working days, but not before the working day after."""
    planned = calendar.add_working_days(calendar.local_date(assigned_at), offset)
    return max(planned, calendar.next_working_day(calendar.local_date(completed_at)))


def _next_touch(session: Session, lead: Lead, step: int, at: dt.datetime, calendar: WorkingCalendar) -> None:
    if not _is_open(lead) or lead.owner_id is None or lead.assigned_at is None:
        return
    offsets = offsets_of(session, lead.cadence_id)
    if step >= len(offsets):
        return  # that was the last touch
    exists = session.scalar(
        select(Activity.id).where(Activity.lead_id == lead.id, Activity.cadence_step == step + 1).limit(1)
    )
    if exists is not None:
        return
    moved = session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.cadence_step == step).values(cadence_step=step + 1)
        .execution_options(synchronize_session=False)
    )
    _refresh(session, [lead.id], "cadence_step")
    if affected(moved) != 1:
        return  # a later touch exists, or another writer created this one
    owner = session.get(User, lead.owner_id)
    due = next_due(calendar, lead.assigned_at, offsets[step], at)
    name = display_name(lead.first_name, lead.last_name)
    insert_tasks(session, [touch_row(lead.id, name, lead.owner_id, owner.language if owner else None, step + 1,
                                     len(offsets), due, at)])


def _refresh(session: Session, lead_ids: Sequence[int], *names: str) -> None:
    """Make leads the session holds read these columns again, after an UPDATE that went past them."""
    for lead_id in lead_ids:
        held = session.identity_map.get(identity_key(Lead, lead_id))
        if held is not None:
            session.expire(held, names)


def _is_open(lead: Lead) -> bool:
    return lead.converted_at is None and lead.deleted_at is None and lead.status not in OPEN_LEAD_EXCLUDED_STATUSES
