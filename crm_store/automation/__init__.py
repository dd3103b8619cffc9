"""The sales automation: plain, tested functions that the Prefect flows in `flows/` run on a schedule.

    runs.py           running one automation: its `as_of`, its `flow_runs` row, its summary
    calendar.py       working days and hours: holidays, make-up working days, arithmetic across DST
    assign_leads.py   unassigned open leads get an owner by the assignment rules (and the cadence's first task)
    cadence.py        the follow-up cadence: the next touch when one is completed
    sla_escalation.py speed-to-lead: remind the owner, tell the manager, reassign
    lead_aging.py     idle days, aging / stale / cold leads, rotting opportunities

Each function is named after its flow (`assign-leads` → `assign_leads`), takes a session factory, the
`as_of` moment and an `Outcome` to count in, and is idempotent. `SCHEDULES` lists the flows, their cron
schedules (in the company's time zone) and what they do: `crm flows list`, the deployments of
`prefect.yaml` and the admins' Automation page read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_store.languages import N_


@dataclass(frozen=True)
class Schedule:
    """A flow's name, its cron schedule in company time, and what it does (English; translated where shown)."""

    name: str
    cron: str
    description: str


SCHEDULES: tuple[Schedule, ...] = (
    Schedule("assign-leads", "*/10 * * * *",
             N_("Unassigned open leads get an owner by the assignment rules; new owners are told by email.")),
    Schedule("sla-escalation", "*/10 * * * *",
             N_("Leads without a first response: remind the owner, tell the manager, reassign if set.")),
    Schedule("lead-aging", "30 1 * * *",
             N_("Idle days of open leads and opportunities: aging, stale (owner and manager told), cold.")),
    Schedule("deliver-email", "*/5 * * * *", N_("Sends queued email: the safety net behind the mail worker.")),
)
BY_NAME = {s.name: s for s in SCHEDULES}
