"""The nightly housekeeping: the backup (keeping the newest `backup_keep`, admins told once a day of a failure) and
the cleanup (old flow runs here and in Prefect, the expired recycle bin, old IP addresses)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_store.automation import housekeeping, runs
from crm_store.automation.runs import Outcome
from crm_store.config import load_config
from crm_store.db.engine import session_factory
from crm_store.models import AuditEntry, FlowRun, Lead, OutboxMessage, WebSubmission, utcnow
from crm_store.ops import backup as backups
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff.users import add_user
from emails.worker import send_all_due
from flows import catalog
from flows import housekeeping as flow_housekeeping
from tests.test_flows import runs_of
from webform.staff.automation.health import alert

UTC = dt.UTC
AS_OF = dt.datetime(2026, 9, 7, 6, 30, tzinfo=UTC)  # 02:30 in New York


def folder(env: dict[str, str]) -> Path:
    return Path(env["CRM_DATA_DIR"], "backups")


def fake_backups(env: dict[str, str], *names: str) -> list[Path]:
    """Files in the backups folder with these names (not real archives: pruning goes by the name)."""
    where = folder(env)
    where.mkdir(parents=True, exist_ok=True)
    paths = [where / name for name in names]
    for path in paths:
        path.write_bytes(b"old")
    return paths


def run_backup(engine: Engine, as_of: dt.datetime = AS_OF) -> runs.RunReport:
    return runs.run(session_factory(engine), "backup", housekeeping.backup, as_of)


def mails(session: Session, template: str) -> list[OutboxMessage]:
    session.expire_all()
    found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                                 .order_by(OutboxMessage.id)))
    session.commit()
    return found


# -- backup ---------------------------------------------------------------------------------------------

def test_a_backup_keeps_the_newest_backup_keep_and_leaves_other_files(
    session: Session, engine: Engine, env: dict[str, str]
) -> None:
    company.set_value(session, "backup_keep", 3)
    session.commit()
    old = fake_backups(env, *(f"leadline-202609{day:02d}T020000Z.tar.gz" for day in (1, 2, 3, 4)),
                       "leadline-20260904T020000Z-2.tar.gz")  # a second backup in the same second: newer
    others = fake_backups(env, "leadline-20250101T000000Z-before-0017.tar.gz", "leadline-by-hand.tar.gz",
                          "README.txt", "leadline-20260905T020000Z.tar.gz.partial")
    report = run_backup(engine)
    assert (report.status, report.counts) == ("completed", {"backups": 1, "deleted": 3})
    (written,) = set(folder(env).iterdir()) - set(old) - set(others)
    assert backups.TIMED_NAME.fullmatch(written.name)
    assert sorted(p.name for p in backups.timed_backups(folder(env))) == sorted(
        [written.name, "leadline-20260904T020000Z.tar.gz", "leadline-20260904T020000Z-2.tar.gz"])
    assert all(path.read_bytes() == b"old" for path in others)  # never another file
    with tarfile.open(written) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["format"] == "leadline-backup" and manifest["tables"]["leads"] == 0
    assert run_backup(engine).counts == {"backups": 1, "deleted": 1}  # each run a fresh one, still 3 kept
    assert len(backups.timed_backups(folder(env))) == 3
    assert mails(session, "backup_failed") == []


def test_a_failed_backup_fails_the_run_and_tells_each_admin_once_a_day(
    session: Session, engine: Engine, env: dict[str, str]
) -> None:
    company.set_value(session, "time_zone", "America/New_York")
    add_user(session, "root@example.com", "Root Admin", role="admin", welcome=False)
    add_user(session, "it@example.com", "資訊部", role="admin", language="zh_Hant", time_zone="Asia/Taipei",
             welcome=False)
    add_user(session, "gone@example.com", "Gone", role="admin", welcome=False).active = False
    add_user(session, "rep@example.com", "Rep", welcome=False)
    session.commit()
    Path(env["CRM_DATA_DIR"]).mkdir(parents=True)
    folder(env).write_text("a file where the backups folder should be")

    report = run_backup(engine)
    assert report.status == "failed" and "FileExistsError" in report.errors[0]
    assert alert(session).failing_flows == ["backup"]  # the admins' banner
    told = mails(session, "backup_failed")
    assert sorted(m.recipient for m in told) == ["it@example.com", "root@example.com"]
    it = next(m for m in told if m.recipient == "it@example.com")
    assert it.language == "zh_Hant" and it.context["folder"] == str(folder(env))
    assert it.context["error"].startswith("FileExistsError: [Errno 17] File exists")
    assert it.context["failed_at"].endswith(" CST") and it.context["newest"] is None

    assert run_backup(engine, AS_OF + dt.timedelta(hours=1)).status == "failed"  # the same company day
    assert len(mails(session, "backup_failed")) == 2
    assert run_backup(engine, AS_OF + dt.timedelta(days=1)).status == "failed"  # the next night: told again
    assert len(mails(session, "backup_failed")) == 4

    send_all_due(load_config())
    eml = sorted(Path(env["CRM_DATA_DIR"], "outbox").glob("*-backup_failed.eml"))[0]
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert str(message["Subject"]).startswith("Backup failed: ")
    assert "crm backup" in body and "FileExistsError" in body and "/automation" in body

    folder(env).unlink()
    assert run_backup(engine).status == "completed"
    assert alert(session).failing_flows == []


def test_crm_backup_keeps_the_newest_n_when_asked(crm: Callable[..., Result], env: dict[str, str]) -> None:
    fake_backups(env, "leadline-20260101T020000Z.tar.gz", "leadline-20260102T020000Z.tar.gz", "notes.txt")
    result = crm("backup", "--keep", "2")
    assert f"Deleted 1 older backup(s) in {folder(env)}, keeping the newest 2." in result.output
    names = sorted(p.name for p in folder(env).iterdir())
    assert names[0] == "leadline-20260102T020000Z.tar.gz" and names[-1] == "notes.txt" and len(names) == 3
    assert "'--keep': 0 is not in the range x>=1" in crm("backup", "--keep", "0", ok=False).output


# -- cleanup: the store -----------------------------------------------------------------------------------

def flow_run(session: Session, flow: str, days_ago: float, status: str = "completed") -> FlowRun:
    started = AS_OF - dt.timedelta(days=days_ago)
    row = FlowRun(flow=flow, as_of=started, started_at=started, finished_at=started, status=status, counts={})
    session.add(row)
    session.flush()
    return row


def test_cleanup_deletes_old_flow_runs_but_each_flows_latest(session: Session, engine: Engine) -> None:
    old = [flow_run(session, "assign-leads", 45), flow_run(session, "assign-leads", 31, "failed")]
    kept = [flow_run(session, "assign-leads", 29), flow_run(session, "assign-leads", 1)]
    only = flow_run(session, "backup", 200, "failed")  # its latest run: the banner still says so
    session.commit()
    outcome = Outcome()
    housekeeping.cleanup_store(session_factory(engine), AS_OF, outcome)
    assert outcome.counts == {"flow_runs": 2, "purged": 0, "ips_forgotten": 0}
    left = set(session.scalars(select(FlowRun.id)))
    assert left == {row.id for row in [*kept, only]} and not left & {row.id for row in old}
    session.commit()


def test_cleanup_purges_only_the_expired_recycle_bin(session: Session, engine: Engine) -> None:
    expired, waiting, live = (records.create_lead(session, {"last_name": name}) for name in ("Old", "New", "Live"))
    for lead, days in ((expired, 31), (waiting, 29)):
        records.delete(session, lead)
        lead.deleted_at = AS_OF - dt.timedelta(days=days)
    session.commit()
    expired_id = expired.id
    outcome = Outcome()
    housekeeping.cleanup_store(session_factory(engine), AS_OF, outcome)
    assert outcome.counts["purged"] == 1
    session.expire_all()
    assert set(session.scalars(select(Lead.last_name))) == {"New", "Live"}
    purge = session.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
    assert (purge.record_id, purge.automation) == (expired_id, "cleanup")
    session.commit()


def test_cleanup_forgets_only_old_ip_addresses(session: Session, engine: Engine, web_form: Any) -> None:
    def submission(days_ago: int) -> WebSubmission:
        row = WebSubmission(public_id=uuid.uuid4().hex, form_id=web_form.id, client_key=uuid.uuid4().hex,
                            received_at=AS_OF - dt.timedelta(days=days_ago), ip="203.0.113.0", outcome="new_lead")
        session.add(row)
        return row

    old, recent = submission(91), submission(89)  # ip_retention_days is 90
    session.commit()
    old_id, recent_id = old.id, recent.id
    outcome = Outcome()
    housekeeping.cleanup_store(session_factory(engine), AS_OF, outcome)
    assert outcome.counts["ips_forgotten"] == 1
    session.expire_all()
    ips: dict[int, str | None] = {i: ip for i, ip in session.execute(select(WebSubmission.id, WebSubmission.ip))}
    assert (ips[old_id], ips[recent_id]) == (None, "203.0.113.0")
    session.commit()


def test_crm_flows_run_cleanup_without_a_prefect_server(env: dict[str, str], session: Session) -> None:
    flow_run(session, "assign-leads", 400)
    flow_run(session, "assign-leads", 1)
    session.commit()
    code = ("import sys; from crm_store.cli import main\n"
            "main(['flows', 'run', 'cleanup'], standalone_mode=False)\n"
            "assert 'prefect' not in sys.modules, 'cleanup imported Prefect with no server to clean'")
    environ = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=environ)
    assert done.returncode == 0, done.stderr
    assert "cleanup completed" in done.stdout and "flow runs 1, purged 0, ips forgotten 0." in done.stdout
    assert "prefect" not in done.stdout  # nothing counted of a server there is not


# -- under Prefect ------------------------------------------------------------------------------------------

def prefect_runs(names: list[str]) -> list[Any]:
    """The flow runs of these flows on the Prefect server, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=names)),
                                     sort=FlowRunSort.START_TIME_ASC, limit=200)


@pytest.mark.usefixtures("prefect_api")
def test_cleanup_deletes_our_old_prefect_runs_only(session: Session, engine: Engine, env: dict[str, str]) -> None:
    from prefect import flow

    @flow(name="someone-elses-flow")
    def foreign() -> int:
        return 1

    older = catalog.flow("reminders")(as_of=AS_OF.isoformat(), return_state=True)
    theirs = foreign(return_state=True)
    assert older.is_completed() and theirs.is_completed()
    cutoff = utcnow()
    newer = catalog.flow("reminders")(as_of=AS_OF.isoformat(), return_state=True)
    assert newer.is_completed()
    ours_before = {r.id for r in prefect_runs(catalog.names()) if r.start_time and r.start_time < cutoff}
    assert older.state_details.flow_run_id in ours_before

    outcome = Outcome()
    flow_housekeeping.cleanup(session_factory(engine), cutoff + dt.timedelta(days=30), outcome)  # flow_run_days 30
    assert outcome.counts["prefect_runs"] == len(ours_before)
    left = {r.id for r in prefect_runs([*catalog.names(), "someone-elses-flow"])}
    assert not left & ours_before
    assert newer.state_details.flow_run_id in left  # started after the cut-off
    assert theirs.state_details.flow_run_id in left  # another's runs are not ours to delete


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize("name", ["backup", "cleanup"])
def test_each_flow_runs_for_real_under_prefect(session: Session, env: dict[str, str], name: str) -> None:
    state = catalog.flow(name)(as_of=AS_OF.isoformat(), return_state=True)
    assert state.is_completed(), state.message
    (found,) = runs_of(session, name)
    assert (found.status, found.trigger) == ("completed", "prefect")
    assert state.result()["counts"] == found.counts
    if name == "backup":
        assert found.counts == {"backups": 1, "deleted": 0} and len(backups.timed_backups(folder(env))) == 1
    else:
        assert set(found.counts) == {"flow_runs", "purged", "ips_forgotten", "prefect_runs"}
