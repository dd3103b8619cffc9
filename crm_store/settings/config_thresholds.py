"""The `thresholds` section of the configuration file: the automation's company settings and the stages' rotting days.

Each setting is parsed by its own parser in `crm_store.settings.company`, as `crm settings set` parses it;
`unassigned_pool` must name a user (by email) or a team that exists. Rotting days are given per process and
open stage (empty: the stage never rots); a closed stage never rots. The settings and stages the file leaves
out keep their values.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.models import SalesProcess, SalesStage
from crm_store.settings import company
from crm_store.settings.config_checks import Checker, FlowList, Path, by_name, set_changed

THRESHOLDS = ("lead_aging_days", "lead_stale_days", "lead_cold_days", "idle_days_mode", "sla_hours", "sla_reassign",
              "unassigned_pool", "backup_keep", "flow_run_days", "recycle_bin_days", "ip_retention_days",
              "working_days", "working_hours", "holidays", "extra_working_days")
LISTS = ("working_days", "holidays", "extra_working_days")  # a list (or comma-separated text)
EMPTY_ALLOWED = ("unassigned_pool", "holidays", "extra_working_days")  # empty: no pool, no holidays
ROTTING = "rotting_days"
MAX_ROTTING_DAYS = 3650


def read_thresholds(session: Session) -> dict[str, Any]:
    """The settings by key, then each open stage's rotting days (none: never rots) by process and stage."""
    values = company.all_settings(session)
    out: dict[str, Any] = {key: FlowList(values[key]) if key in LISTS else values[key] for key in THRESHOLDS}
    rows = session.execute(
        select(SalesProcess.name, SalesStage.name.label("stage"), SalesStage.rotting_days)
        .join(SalesStage, SalesStage.sales_process_id == SalesProcess.id)
        .where(~SalesStage.is_won, ~SalesStage.is_lost).order_by(SalesStage.position)
    )
    rotting: dict[str, dict[str, int | None]] = {}
    for process, stage, days in rows:
        rotting.setdefault(process, {})[stage] = days
    return {**out, ROTTING: by_name(rotting)}


def check_thresholds(c: Checker, raw: Any, at: Path) -> dict[str, Any] | None:
    """The settings a file gives, parsed as `crm settings set` parses them, and the stages' rotting days."""
    body = c.mapping(raw, at, (*THRESHOLDS, ROTTING))
    if body is None:
        return None
    before = len(c.problems)
    out: dict[str, Any] = {}
    for key in THRESHOLDS:
        if key in body:
            out[key] = _setting(c, key, body[key], (*at, key))
    if ROTTING in body:
        out[ROTTING] = _rotting(c, body[ROTTING], (*at, ROTTING))
    return out if len(c.problems) == before else None


def _setting(c: Checker, key: str, raw: Any, at: Path) -> Any:
    if raw is None and key in EMPTY_ALLOWED:
        raw = [] if key in LISTS else ""
    if raw is None:
        c.problem(at, "needs a value (leave the key out to keep the current one)")
        return None
    if isinstance(raw, dict) or (isinstance(raw, list) and (key not in LISTS or any(
            isinstance(item, dict | list) for item in raw))):
        c.problem(at, "must be a list of values" if key in LISTS else "must be one value")
        return None
    try:
        value = company.BY_KEY[key].parse(key, [str(item) for item in raw] if isinstance(raw, list) else raw)
    except ValidationError as exc:
        c.problem(at, exc.message)
        return None
    if key == "unassigned_pool" and value:  # a user's email or a team's name, as the assignment reads it
        return c.user(value, at) if "@" in value else c.team(value, at)
    return FlowList(value) if key in LISTS else value


def _rotting(c: Checker, raw: Any, at: Path) -> dict[str, dict[str, int | None]]:
    out: dict[str, dict[str, int | None]] = {}
    for process, raw_stages in (c.named(raw, at, "sales processes to their stages' rotting days") or {}).items():
        stages = c.process(process, (*at, process))
        named = c.named(raw_stages, (*at, process), "stage names to days (empty: never rots)")
        if stages is None or named is None:
            continue
        out[process] = {}
        for name, days in named.items():
            here = (*at, process, name)
            stage = c.stage(stages, name, here)
            if stage is not None and stage.closed:
                c.problem(here, "a closed (won or lost) stage does not rot; leave it out")
            elif stage is not None:
                out[process][name] = None if days is None else c.whole(days, here, 1, MAX_ROTTING_DAYS)
    return out


def threshold_entries(thresholds: dict[str, Any]) -> dict[Hashable, Any]:
    entries: dict[Hashable, Any] = {key: value for key, value in thresholds.items() if key != ROTTING}
    for process, stages in thresholds.get(ROTTING, {}).items():
        entries.update({(ROTTING, process, stage): days for stage, days in stages.items()})
    return entries


def write_thresholds(session: Session, wanted: dict[str, Any]) -> None:
    """Set the settings and rotting days a file gives."""
    current = company.all_settings(session)
    for key in THRESHOLDS:
        if key in wanted and wanted[key] != current[key]:
            company.set_value(session, key, list(wanted[key]) if key in LISTS else wanted[key])
    for process, stages in wanted.get(ROTTING, {}).items():
        rows = session.scalars(select(SalesStage).join(SalesProcess).where(SalesProcess.name == process))
        for stage in rows:
            if stage.name in stages:
                set_changed(stage, rotting_days=stages[stage.name])
    session.flush()
