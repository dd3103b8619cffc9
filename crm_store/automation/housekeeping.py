"""The nightly housekeeping: the backup, and the cleanup of what the CRM need not keep.

backup: `crm backup` into `$CRM_DATA_DIR/backups/` (`crm_store.ops.backup`, the deployment settings read at
call time), then the backups there named by time (`leadline-<UTC time>.tar.gz`) beyond the newest
`backup_keep` are deleted — only after a backup succeeded, and never another file (a backup taken before a
migration, one named by hand). Each run writes a fresh backup: running it by hand is "back up now". A backup
that fails fails the run (the admins' banner names the flow) and every active admin gets `backup_failed`
once per company day (its idempotency key), whatever the reruns. Counted: `backups`, `deleted`.

cleanup, the store's part (`flows.housekeeping.cleanup` adds Prefect's own runs): the `flow_runs` rows that
started more than `flow_run_days` before `as_of` (each flow's latest run is kept however old, so its status
and the banner still say how it last went), the recycle bin's rows deleted more than `recycle_bin_days` ago
(purged for good, audited by the automation `cleanup`), and the visitors' IP addresses of web submissions
received more than `ip_retention_days` ago. Counted: `flow_runs`, `purged`, `ips_forgotten`.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_store.actor import Actor
from crm_store.automation.runs import CHUNK, Outcome
from crm_store.automation.sla_escalation import Staff, shown_time
from crm_store.capture.quarantine import prune_ips
from crm_store.db.engine import affected
from crm_store.errors import CrmError
from crm_store.mail import outbox
from crm_store.models import FlowRun, utcnow
from crm_store.ops import backup as backups
from crm_store.records import recycle_bin
from crm_store.settings import company

log = logging.getLogger("leadline.automation")
AUTOMATION = "cleanup"  # who the recycle bin's purge is audited as


# -- backup ---------------------------------------------------------------------------------------------

def backup(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The backup job: back up into the backups folder and keep the newest `backup_keep` there."""
    from crm_store.config import load_config

    config = load_config()
    with factory() as session:
        keep = int(company.get(session, "backup_keep"))
    folder = backups.backups_dir(config)
    try:
        written = backups.create_backup(config)
    except Exception as exc:
        tell_admins(factory, as_of, folder, describe(exc))
        raise
    log.info("backup written to %s", written)
    outcome.add("backups", 1)
    outcome.add("deleted", len(backups.prune(folder, keep)))


def describe(exc: BaseException) -> str:
    """A failure in one line as an admin reads it: our errors as they are, others with their kind."""
    text = " ".join(str(exc).split())
    if isinstance(exc, CrmError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def tell_admins(factory: sessionmaker[Session], as_of: dt.datetime, folder: Path, error: str) -> int:
    """Queue `backup_failed` to every active admin, once per company day of `as_of`; return how many were queued."""
    newest = backups.timed_backups(folder) if folder.is_dir() else []
    failed_at = utcnow()
    with factory.begin() as session:
        zone = company.zone(session)
        day = as_of.astimezone(zone).date().isoformat()
        admins = [u for u in Staff.load(session).users.values() if u.role == "admin" and u.active]
        queued = 0
        for admin in admins:
            context = {"recipient_name": admin.name, "failed_at": shown_time(failed_at, admin, zone),
                       "folder": str(folder), "error": error, "newest": newest[0].name if newest else None}
            queued += outbox.enqueue(session, "backup_failed", admin.email, key=f"backup-failed:{day}:{admin.id}",
                                     context=context, language=admin.language, recipient_name=admin.name,
                                     to_staff=True)
    return queued


# -- cleanup --------------------------------------------------------------------------------------------

def cleanup_store(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The store's part of the cleanup: old flow runs, the expired recycle bin, old IP addresses."""
    with factory() as session:
        days = int(company.get(session, "flow_run_days"))
    outcome.add("flow_runs", forget_flow_runs(factory, as_of - dt.timedelta(days=days)))
    with factory.begin() as session:
        purged = recycle_bin.purge(session, Actor.system(AUTOMATION), now=as_of)
    outcome.add("purged", sum(purged.values()))
    with factory.begin() as session:
        outcome.add("ips_forgotten", prune_ips(session, now=as_of))


def forget_flow_runs(factory: sessionmaker[Session], before: dt.datetime) -> int:
    """Delete the flow runs started before `before`, but each flow's latest; in chunks; return how many."""
    with factory() as session:
        latest = dict(session.execute(select(FlowRun.flow, func.max(FlowRun.id)).group_by(FlowRun.flow)).all())
    deleted = 0
    for flow, keep_id in sorted(latest.items()):
        while True:
            with factory.begin() as session:
                ids = session.scalars(old_runs(flow, before, keep_id)).all()
                if ids:
                    deleted += affected(session.execute(delete(FlowRun).where(FlowRun.id.in_(ids))))
            if len(ids) < CHUNK:
                break
    return deleted


def old_runs(flow: str, before: dt.datetime, keep_id: int) -> Select[int]:
    """The ids of a flow's runs started before `before`, but `keep_id` (its latest), oldest first (through
    `ix_flow_runs_flow_started`)."""
    return (select(FlowRun.id).where(FlowRun.flow == flow, FlowRun.started_at < before, FlowRun.id != keep_id)
            .order_by(FlowRun.started_at).limit(CHUNK))
