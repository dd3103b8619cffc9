"""The sales automation: plain, tested functions that the Prefect flows in `flows/` run on a schedule.

    runs.py           running one automation: its `as_of`, its `flow_runs` row, its summary
    calendar.py       working days and hours: holidays, make-up working days, arithmetic across DST
    assign_leads.py   unassigned open leads get an owner by the assignment rules (and the cadence's first task)
    cadence.py        the follow-up cadence: the next touch when one is completed
    sla_escalation.py speed-to-lead: remind the owner, tell the manager, reassign
    lead_aging.py     idle days, aging / stale / cold leads, rotting opportunities
    stage_playbooks.py the catch-up of stage playbooks (the store's stage change fires them: crm_store.pipeline)
    reminders.py      events' and memos' reminders, each once, when their time has come
    daily_digest.py   each rep's morning digest (and their managers' team counts)
    housekeeping.py   the nightly backup and cleanup (flow runs, recycle bin, visitors' IP addresses)
    report_emails.py  which managers' weekly pipeline and monthly customer-value emails are due, each claimed once
    (refresh-analytics: the nightly warehouse refresh, and report-emails' reports and mail: their jobs are
    analytics.warehouse.refresh_job and flows/scheduled_reports.py — the store never imports analytics)

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
    Schedule("stage-playbooks", "*/10 * * * *",
             N_("Stage playbooks: the tasks and email of stages entered that have not had them yet.")),
    Schedule("reminders", "*/5 * * * *",
             N_("Reminders of events and memo notes whose time has come: one email each, once.")),
    Schedule("daily-digest", "*/15 * * * *",
             N_("Each rep's morning digest of the day's work, after their digest time on working days.")),
    Schedule("backup", "0 2 * * *", N_("Backs up the database and documents, keeping the newest backup_keep.")),
    Schedule("cleanup", "30 2 * * *",
             N_("Deletes old automation runs, purges the expired recycle bin, forgets old IP addresses.")),
    Schedule("refresh-analytics", "0 3 * * *",
             N_("Copies the store into the analytics warehouse that the reports read.")),
    Schedule("report-emails", "*/15 * * * *",
             N_("Managers' weekly pipeline email (Mondays from 08:00) and monthly customer value email (the 1st "
                "from 08:00), each of their team, with charts and the CSV.")),
)
BY_NAME = {s.name: s for s in SCHEDULES}
