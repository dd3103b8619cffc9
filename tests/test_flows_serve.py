"""`crm flows serve` for real: it starts its own Prefect server, a one-minute schedule runs, SIGTERM stops both.

The serve runs as `crm up` runs it: a subprocess with only CRM_DATA_DIR set (no PREFECT_API_URL, no
PREFECT_HOME), on a SQLite database `crm init` made in that data dir. deliver-email is served alone, on
`* * * * *`, with one message queued; the test waits until `crm flows status` shows a run of it made by
Prefect, then stops the serve with SIGTERM and checks that the Prefect server it started is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_store.db.engine import make_engine, session_factory
from crm_store.mail import outbox
from crm_store.models import FlowRun
from emails.catalog import SAMPLES

pytestmark = pytest.mark.slow
CRM = str(Path(sys.executable).parent / "crm")
SERVER_START = 300.0  # seconds for the local Prefect server to come up (importing it is slow on a busy machine)
FIRST_RUN = 150.0  # seconds from serving to a finished run on a one-minute schedule


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[-1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    return []


def _wait(what: str, done: Callable[[], bool], seconds: float, serve: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert serve.poll() is None, f"crm flows serve exited ({serve.returncode}) before {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s:\n{log.read_text()}"
        time.sleep(2)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def data_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a fresh deployment in tmp_path/data (`crm init` run), with one message queued."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "PREFECT_"))}
    env.update(CRM_DATA_DIR=str(tmp_path / "data"), CRM_LOG_LEVEL="INFO")
    subprocess.run([CRM, "init"], env=env, check=True, capture_output=True, timeout=300)
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'leadline.db'}")
    with session_factory(engine).begin() as session:
        outbox.enqueue(session, "test_message", "amy@example.com", key="serve-test", context=SAMPLES["test_message"],
                       to_staff=True)
    engine.dispose()
    yield env


def test_serve_runs_a_one_minute_schedule_and_stops_its_prefect_server(
    data_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    argv = [CRM, "flows", "serve", "--only", "deliver-email", "--cron", "deliver-email=* * * * *"]
    with log.open("wb") as out:
        serve = subprocess.Popen(argv, env=data_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    server_pid = None
    try:
        serving = "Serving deliver-email (* * * * *)"
        _wait("Prefect server", lambda: serving in log.read_text(), SERVER_START, serve, log)
        (server_pid,) = [p for p in _children(serve.pid) if _cmdline(p)[1:5] == ["-m", "prefect", "server", "start"]]
        port = int(_cmdline(server_pid)[_cmdline(server_pid).index("--port") + 1])
        assert _cmdline(server_pid)[_cmdline(server_pid).index("--host") + 1] == "127.0.0.1"
        assert (Path(data_env["CRM_DATA_DIR"]) / "prefect" / "prefect.db").is_file()  # its home is in the data dir

        def ran() -> bool:
            status = subprocess.run([CRM, "flows", "status"], env=data_env, capture_output=True, text=True, timeout=120)
            row = next(line for line in status.stdout.splitlines() if line.startswith("deliver-email"))
            return row.split()[1] == "completed" and " prefect " in row

        _wait("scheduled run of deliver-email in `crm flows status`", ran, FIRST_RUN, serve, log)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(60) == 0, log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()
    text = log.read_text()
    assert text.rstrip().endswith("Scheduler stopped."), text
    deadline = time.monotonic() + 30
    while server_pid is not None and _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _alive(server_pid), "the Prefect server outlived crm flows serve"
    assert not _listening(port)
    engine = make_engine(f"sqlite:///{data_env['CRM_DATA_DIR']}/leadline.db")
    with session_factory(engine)() as session:
        run = session.scalars(select(FlowRun).where(FlowRun.trigger == "prefect")).first()
        assert run is not None and (run.flow, run.status, run.counts["sent"]) == ("deliver-email", "completed", 1)
    engine.dispose()
    assert len(list(Path(data_env["CRM_DATA_DIR"], "outbox").glob("*.eml"))) == 1  # the scheduled run delivered it
