"""The flows: `crm flows list/run/status`, each flow once for real under Prefect, failures recorded, prefect.yaml.

The jobs themselves (assign-leads, sla-escalation, lead-aging) are tested without Prefect in their own
test files; here every flow of the catalog runs once through `crm flows run` (no Prefect) and once as a
Prefect flow against a temporary Prefect server (`prefect_test_harness`), and deliver-email delivers for
real: to the outbox's .eml files and to an aiosmtpd server.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.automation import SCHEDULES
from crm_store.automation.runs import Outcome
from crm_store.mail import outbox
from crm_store.models import FlowRun, OutboxMessage
from crm_store.ops.supervisor import declared_services
from crm_store.settings import company
from emails.catalog import SAMPLES
from flows import catalog
from tests.smtp_server import RecordingHandler, SmtpServer

ROOT = Path(__file__).resolve().parent.parent
NAMES = [s.name for s in SCHEDULES]
BROKEN = "tests.test_flows:broken_job"


def broken_job(factory: Any, as_of: dt.datetime, outcome: Outcome) -> None:
    """A job that counts something, then fails as a job with a bug would."""
    outcome.add("looked_at", 3)
    raise RuntimeError("the relay is on fire")


@pytest.fixture
def broken_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """deliver-email's job replaced by one that fails."""
    entry = catalog.CATALOG["deliver-email"]
    monkeypatch.setitem(catalog.CATALOG, "deliver-email", catalog.Entry(entry.schedule, BROKEN, entry.flow))


def runs_of(session: Session, name: str) -> list[FlowRun]:
    """The flow's runs, oldest first (read afresh, the read ended)."""
    session.expire_all()
    found = list(session.scalars(select(FlowRun).where(FlowRun.flow == name).order_by(FlowRun.id)))
    session.commit()
    return found


def queue_mail(session: Session, n: int = 2) -> None:
    for i in range(n):
        outbox.enqueue(session, "test_message", f"rep{i}@example.com", key=f"flows-test:{i}",
                       context=SAMPLES["test_message"], to_staff=True)
    session.commit()


def eml_files(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["CRM_DATA_DIR"], "outbox").glob("*.eml"))


# -- the catalog -------------------------------------------------------------------------------------


def test_every_schedule_has_a_job_and_a_flow_file() -> None:
    assert catalog.names() == NAMES
    for name in NAMES:
        entry = catalog.entry(name)
        module = name.replace("-", "_")
        assert entry.flow == f"flows.{module}:{module}"
        assert entry.entrypoint == f"flows/{module}.py:{module}"
        assert (ROOT / entry.entrypoint.split(":")[0]).is_file()


def test_a_missing_job_module_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = catalog.CATALOG["lead-aging"]
    monkeypatch.setitem(catalog.CATALOG, "lead-aging",
                        catalog.Entry(entry.schedule, "crm_store.automation.no_such_job:lead_aging", entry.flow))
    with pytest.raises(catalog.CrmError, match="the job of flow 'lead-aging' is not installed: module "
                                               "crm_store.automation.no_such_job is missing"):
        catalog.job("lead-aging")


def test_a_job_module_that_fails_to_import_is_not_called_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "half_written_job.py").write_text("import not_installed_anywhere\n\ndef job(*args): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = catalog.CATALOG["lead-aging"]
    half_written = catalog.Entry(entry.schedule, "half_written_job:job", entry.flow)
    monkeypatch.setitem(catalog.CATALOG, "lead-aging", half_written)
    with pytest.raises(ModuleNotFoundError, match="not_installed_anywhere"):
        catalog.job("lead-aging")


def test_the_scheduler_hears_when_its_prefect_server_dies(tmp_path: Path) -> None:
    from flows.server import LocalServer

    dying = LocalServer(tmp_path, 1)
    dying.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    heard = threading.Event()
    dying.watch(heard.set, every=0.05)
    assert heard.wait(30) and dying.died()
    stopped = LocalServer(tmp_path, 1)
    stopped.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    told = threading.Event()
    watcher = stopped.watch(told.set, every=0.05)
    stopped.stop()  # asked to stop: that is no death
    watcher.join(10)
    assert not watcher.is_alive() and not told.is_set() and not stopped.died()
    assert stopped.process.returncode == -signal.SIGTERM


def test_crm_up_runs_the_scheduler() -> None:
    assert declared_services()["scheduler"] == [sys.executable, "-m", "crm_store", "flows", "serve"]


# -- crm flows list / run / status -------------------------------------------------------------------


def test_list_names_schedules_zone_and_what_each_does(crm) -> None:  # noqa: ANN001
    crm("settings", "set", "time_zone", "Asia/Taipei")
    lines = crm("flows", "list").output.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "ZONE", "WHAT", "IT", "DOES"]
    for schedule, line in zip(SCHEDULES, lines[1:], strict=False):
        assert line.startswith(schedule.name)
        assert f"  {schedule.cron}  " in line and "Asia/Taipei" in line and line.endswith(schedule.description)
    assert "(Asia/Taipei)" in lines[-1] and "restart `crm flows serve`" in lines[-1]


def test_run_delivers_due_mail_once_and_records_the_run(crm, env: dict[str, str], session: Session) -> None:  # noqa: ANN001
    queue_mail(session)
    result = crm("flows", "run", "deliver-email")
    assert re.search(r"^deliver-email completed in [\d.]+ s \(run \d+\): sent 2, retrying 0, failed 0, suppressed 0\.$",
                     result.output, re.M), result.output
    assert len(eml_files(env)) == 2
    (run,) = runs_of(session, "deliver-email")
    assert (run.status, run.trigger, run.counts, run.errors) == ("completed", "cli", {
        "sent": 2, "retrying": 0, "failed": 0, "suppressed": 0}, None)
    assert run.finished_at is not None and run.started_at <= run.finished_at
    assert "sent 0," in crm("flows", "run", "deliver-email").output  # a second run sends nothing more
    assert len(eml_files(env)) == 2


def test_run_delivers_through_a_real_smtp_server(crm, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    queue_mail(session, 3)
    handler = RecordingHandler()
    with SmtpServer(handler) as server:
        monkeypatch.setenv("CRM_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
        assert "sent 3," in crm("flows", "run", "deliver-email").output
    assert sorted(r.rcpt_tos[0] for r in handler.received) == [f"rep{i}@example.com" for i in range(3)]
    session.expire_all()
    assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}
    session.commit()


def test_run_does_not_import_prefect(env: dict[str, str]) -> None:
    code = ("import sys; from crm_store.cli import main\n"
            "main(['flows', 'run', 'deliver-email'], standalone_mode=False)\n"
            "assert 'prefect' not in sys.modules, 'crm flows run imported Prefect'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "deliver-email completed" in done.stdout


def test_a_naive_as_of_is_company_time(crm, session: Session) -> None:  # noqa: ANN001
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.commit()
    crm("flows", "run", "deliver-email", "--as-of", "2026-09-07T08:30")
    crm("flows", "run", "deliver-email", "--as-of", "2026-09-07T08:30-04:00")
    first, second = runs_of(session, "deliver-email")
    assert first.as_of == dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.UTC)  # Taipei is UTC+8
    assert second.as_of == dt.datetime(2026, 9, 7, 12, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(("args", "message"), [
    (("flows", "run", "no-such-flow"),
     "error: unknown flow 'no-such-flow'; the flows are assign-leads, sla-escalation, lead-aging, deliver-email"),
    (("flows", "run", "deliver-email", "--as-of", "next tuesday"),
     "error: as_of: 'next tuesday' is not a date-time like 2026-09-07T08:30"),
    (("flows", "serve", "--cron", "deliver-email=every minute"),
     "error: --cron: 'every minute' is not a cron expression for deliver-email"),
    (("flows", "serve", "--cron", "deliver-email"), "error: --cron: 'deliver-email' is not NAME=EXPRESSION"),
    (("flows", "serve", "--only", "lead-ageing"), "error: unknown flow 'lead-ageing'; the flows are"),
])
def test_mistakes_are_one_line(crm, session: Session, args: tuple[str, ...], message: str) -> None:  # noqa: ANN001
    result = crm(*args, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert runs_of(session, "deliver-email") == []  # nothing ran, and serve started no server


@pytest.mark.usefixtures("broken_delivery")
def test_a_failing_job_is_recorded_failed_and_status_shows_it(crm, session: Session) -> None:  # noqa: ANN001
    queue_mail(session, 1)
    result = crm("flows", "run", "deliver-email", ok=False)
    assert result.exit_code == 1
    assert "deliver-email failed" in result.output and "looked at 3" in result.output
    assert result.stderr.splitlines()[-1] == "error: deliver-email: RuntimeError: the relay is on fire"
    (run,) = runs_of(session, "deliver-email")
    assert (run.status, run.counts, run.errors) == ("failed", {"looked_at": 3}, "RuntimeError: the relay is on fire")
    status = crm("flows", "status")
    assert status.exit_code == 0
    rows = {line.split()[0]: line for line in status.output.splitlines()[1:1 + len(NAMES)]}
    assert rows.keys() == set(NAMES)
    assert rows["deliver-email"].split()[1] == "FAILED" and "the relay is on fire" in rows["deliver-email"]
    assert all(rows[name].split()[1:3] == ["never", "run"] for name in NAMES if name != "deliver-email")
    assert f"deliver-email failed (run {run.id}, " in status.output
    assert session.scalar(select(OutboxMessage.status)) == "queued"  # the broken job sent nothing
    session.commit()


def test_status_shows_the_last_run_of_each(crm, session: Session) -> None:  # noqa: ANN001
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.commit()
    crm("flows", "run", "deliver-email", "--as-of", "2026-09-07T08:30")
    queue_mail(session, 1)
    crm("flows", "run", "deliver-email")
    lines = crm("flows", "status").output.splitlines()
    row = next(line for line in lines if line.startswith("deliver-email"))
    assert row.split()[1] == "completed" and "sent 1, retrying 0, failed 0, suppressed 0" in row
    started, finished = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d CST", row)  # in company time (Taipei's CST)
    assert started <= finished and "cli" in row.split()
    assert not any("failed (run" in line for line in lines)


# -- the flows under Prefect -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_flow_runs_for_real_under_prefect(
    prefect_api: str, env: dict[str, str], session: Session, name: str
) -> None:
    if name == "deliver-email":
        queue_mail(session, 2)
    state = catalog.flow(name)(as_of="2026-09-07T08:30:00+00:00", return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    (run,) = runs_of(session, name)
    assert (run.status, run.trigger, run.errors) == ("completed", "prefect", None)
    assert run.as_of == dt.datetime(2026, 9, 7, 8, 30, tzinfo=dt.UTC)
    assert result == {"run": run.id, "as_of": "2026-09-07T08:30:00+00:00", "counts": run.counts}
    if name == "deliver-email":
        assert run.counts["sent"] == 2 and len(eml_files(env)) == 2


def test_stage_playbooks_fire_once_under_prefect(prefect_api: str, env: dict[str, str], session: Session) -> None:
    from sqlalchemy import update

    from crm_store.models import StageHistory
    from crm_store.records import bulk
    from crm_store.staff.users import add_user

    rep = add_user(session, "rep@example.com", "Rep", welcome=False)
    entered = dt.datetime(2026, 9, 7, 8, tzinfo=dt.UTC)
    bulk.insert_records(session, "opportunities", [{
        "name": "Deal", "expected_close_date": "2026-09-30", "owner_id": rep.id,
        "history": [("Qualification", entered, rep.id)],
    }], bulk.BulkContext.load(session))
    session.execute(update(StageHistory).values(playbook_fired_at=None))  # an entry left unfired
    session.commit()
    for _ in range(2):
        state = catalog.flow("stage-playbooks")(as_of="2026-09-07T08:30:00+00:00", return_state=True)
        assert state.is_completed(), state.message
    first, again = runs_of(session, "stage-playbooks")
    assert first.counts == {"fired": 1, "tasks": 2, "emails": 1}
    assert again.counts == {"fired": 0, "tasks": 0, "emails": 0}
    assert [m.template for m in session.scalars(select(OutboxMessage))] == ["stage_playbook"]


@pytest.mark.usefixtures("broken_delivery")
def test_a_failing_job_fails_the_prefect_flow_run(prefect_api: str, crm, session: Session) -> None:  # noqa: ANN001
    from flows.deliver_email import deliver_email
    from flows.runs import FlowRunFailed

    state = deliver_email(return_state=True)
    assert state.is_failed()
    with pytest.raises(FlowRunFailed, match=r"deliver-email failed \(run \d+\): RuntimeError: the relay is on fire"):
        state.result()
    (run,) = runs_of(session, "deliver-email")
    assert (run.status, run.trigger) == ("failed", "prefect")
    assert "deliver-email failed" in crm("flows", "status").output


# -- prefect.yaml ------------------------------------------------------------------------------------


def _prefect_yaml() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def test_prefect_yaml_has_one_deployment_per_flow_on_its_cron() -> None:
    from prefect.flows import load_flow_from_entrypoint

    deployments = _prefect_yaml()["deployments"]
    assert sorted(d["name"] for d in deployments) == sorted(NAMES)  # each flow exactly once
    for deployment in deployments:
        entry = catalog.entry(deployment["name"])
        assert deployment["entrypoint"] == entry.entrypoint
        assert deployment["description"] == entry.schedule.description
        assert deployment["schedules"] == [{"cron": entry.schedule.cron, "timezone": "{{ $CRM_TIME_ZONE }}"}]
        assert deployment["work_pool"]["name"] == "crm"
        flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        assert flow.name == entry.name


def test_prefect_yaml_shares_its_parts_and_keeps_only_references_to_secrets() -> None:
    text = (ROOT / "prefect.yaml").read_text()
    deployments = _prefect_yaml()["deployments"]
    pools = {id(d["work_pool"]) for d in deployments}
    assert len(pools) == 1, "every deployment uses the one work pool definition (a YAML alias)"
    assert text.count("*crm_pool") == len(deployments) and text.count("&crm_pool") == 1
    env = deployments[0]["work_pool"]["job_variables"]["env"]
    assert env and all(re.fullmatch(r"\{\{ prefect\.blocks\.secret\.[a-z-]+ \}\}", v) for v in env.values())
    assert not re.search(r"(postgresql|sqlite|smtps?)(\+\w+)?://", yaml.safe_dump(_prefect_yaml()))  # no value


def test_prefect_deploy_all_registers_the_file_as_written(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`prefect deploy --all` (Prefect's own command) against a server: pool, schedules, zone, secrets resolved."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    secrets = {"crm-database-url": "postgresql+psycopg://crm@db.example/crm", "crm-secret-key": "k" * 40,
               "crm-smtp-url": "smtp://relay.example:587?starttls=1"}
    for name, value in secrets.items():
        Secret(value=value).save(name, overwrite=True)
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name="crm", type="process"))
        except Exception as exc:  # noqa: BLE001 - already there from an earlier run against this server
            assert "already exists" in str(exc)
    project = tmp_path / "project"
    shutil.copytree(ROOT / "flows", project / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "prefect.yaml", project)
    environ = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_HOME": str(tmp_path / "home"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "CRM_TIME_ZONE": "Asia/Taipei"}
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"], cwd=project,
                          env=environ, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    with get_client(sync_client=True) as client:
        for entry in catalog.CATALOG.values():
            deployment = client.read_deployment_by_name(f"{entry.name}/{entry.name}")
            assert deployment.work_pool_name == "crm"
            assert deployment.entrypoint == entry.entrypoint
            (schedule,) = deployment.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone) == (entry.schedule.cron, "Asia/Taipei")
            assert deployment.job_variables["env"] == {
                "CRM_DATABASE_URL": secrets["crm-database-url"], "CRM_SECRET_KEY": secrets["crm-secret-key"],
                "CRM_SMTP_URL": secrets["crm-smtp-url"]}
