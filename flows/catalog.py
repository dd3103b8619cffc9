"""Which job each scheduled flow runs, and the Prefect flow that wraps it, looked up by the flow's name.

The names and cron schedules are the store's (`crm_store.automation.SCHEDULES`); this module adds where
each one's plain job lives ("module:function", imported when it is asked for, so `crm flows list` works
without importing any of them) and the flow file of `flows/` that runs it under Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from crm_store.automation import SCHEDULES, Schedule
from crm_store.errors import CrmError

if TYPE_CHECKING:
    from crm_store.automation.runs import Job


@dataclass(frozen=True)
class Entry:
    """A scheduled flow: its schedule, its plain job and its Prefect flow, each as "module:function"."""

    schedule: Schedule
    job: str
    flow: str

    @property
    def name(self) -> str:
        """The flow's name, as `crm flows` and Prefect know it (`assign-leads`)."""
        return self.schedule.name

    @property
    def entrypoint(self) -> str:
        """The flow as `prefect.yaml` names it: `flows/assign_leads.py:assign_leads`."""
        module, function = self.flow.split(":")
        return f"{module.replace('.', '/')}.py:{function}"


JOBS = {
    "assign-leads": "crm_store.automation.assign_leads:assign_leads",
    "sla-escalation": "crm_store.automation.sla_escalation:sla_escalation",
    "lead-aging": "crm_store.automation.lead_aging:lead_aging",
    "deliver-email": "flows.delivery:send_due_mail",
    "stage-playbooks": "crm_store.automation.stage_playbooks:stage_playbooks",
    "reminders": "crm_store.automation.reminders:reminders",
    "daily-digest": "crm_store.automation.daily_digest:daily_digest",
    "backup": "crm_store.automation.housekeeping:backup",
    "cleanup": "flows.housekeeping:cleanup",
    "refresh-analytics": "analytics.warehouse:refresh_job",
    "report-emails": "flows.scheduled_reports:report_emails",
}


def _flow_path(name: str) -> str:
    function = name.replace("-", "_")
    return f"flows.{function}:{function}"


CATALOG: dict[str, Entry] = {s.name: Entry(s, JOBS[s.name], _flow_path(s.name)) for s in SCHEDULES}


def names() -> list[str]:
    """The flows' names, in the order of the schedules."""
    return list(CATALOG)


def entry(name: str) -> Entry:
    """The flow called `name`; an unknown name is a one-line error listing the known ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise CrmError(f"unknown flow {name!r}; the flows are {', '.join(CATALOG)}") from None


def job(name: str) -> Job:
    """The plain function the flow `name` runs (imported now): `job(factory, as_of, outcome)`."""
    return _load(entry(name).job, f"the job of flow {name!r}")


def flow(name: str) -> Any:
    """The Prefect flow of `name` (imported now, with Prefect)."""
    return _load(entry(name).flow, f"the Prefect flow {name!r}")


def _load(path: str, what: str) -> Any:
    module_name, function = path.split(":")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name == exc.name or module_name.startswith(f"{exc.name}.")):
            raise  # the module exists but something it imports is missing: that is a bug, not a missing job
        raise CrmError(f"{what} is not installed: module {module_name} is missing") from None
    found = getattr(module, function, None)
    if found is None:
        raise CrmError(f"{what} is not installed: {module_name} has no {function}")
    return found
