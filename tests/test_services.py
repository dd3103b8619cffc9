"""`crm up`: services run, a crashed one is restarted with a backoff, all stop together."""

from __future__ import annotations

import http.client
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crm_store.ops import supervisor as services
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_crashed_service_is_restarted_and_all_stop(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(services, "MAX_BACKOFF", 0.2)
    starts = tmp_path / "starts"
    crashing = [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"]
    steady_marker = tmp_path / "steady"
    steady = [sys.executable, "-c",
              f"import time, pathlib; pathlib.Path({str(steady_marker)!r}).write_text('up'); time.sleep(60)"]
    stop = threading.Event()
    runner = threading.Thread(target=services.run_services, args=({"crashy": crashing, "steady": steady}, stop, 0.05))
    runner.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not starts.exists() or len(starts.read_text()) < 3):
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert len(starts.read_text()) >= 3  # started, crashed, restarted, ...
    assert steady_marker.read_text() == "up"


def test_the_mail_worker_is_a_declared_service() -> None:
    declared = services.declared_services()
    assert "mail-worker" in declared
    assert declared["mail-worker"][-2:] == ["mail", "worker"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return status not in ("Z", "X")  # a zombie has exited


def test_stopping_leaves_none_of_a_service_s_children_running(tmp_path: Path) -> None:
    """A service whose own child outlives it (as a web server's worker might) is stopped with that child."""
    child_pid = tmp_path / "child"
    code = (
        "import signal, subprocess, sys, time, pathlib\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        f"pathlib.Path({str(child_pid)!r}).write_text(str(child.pid))\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "time.sleep(600)\n"
    )
    stop = threading.Event()
    runner = threading.Thread(target=services.run_services, args=({"leaky": [sys.executable, "-c", code]}, stop, 0.05))
    runner.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (child_pid.exists() and child_pid.read_text()):
        time.sleep(0.05)
    pid = int(child_pid.read_text())
    assert _alive(pid)
    stop.set()
    runner.join(timeout=40)
    assert not runner.is_alive()
    gone_by = time.monotonic() + 5  # a SIGKILL takes a moment to land
    while _alive(pid) and time.monotonic() < gone_by:
        time.sleep(0.05)
    try:
        assert not _alive(pid), "the service's child was left running after crm up stopped"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_crashing_service_waits_1_2_4_up_to_60_s_and_1_s_again_after_a_good_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="leadline.up")
    service = services.Service("crashy", [sys.executable, "-c", "raise SystemExit(3)"])
    clock = 1000.0  # the supervisor's clock, driven by the test; the processes are real
    service.start(clock)
    waits: list[float] = []
    try:
        for _ in range(9):
            assert service.process is not None
            service.process.wait(10)
            clock += 0.5
            service.check(clock)  # notices the crash
            assert service.process is None
            waits.append(service.restart_at - clock)
            service.check(service.restart_at - 0.01)
            assert service.process is None  # not before its time
            clock = service.restart_at
            service.check(clock)  # restarts it
        assert waits == pytest.approx([1, 2, 4, 8, 16, 32, 60, 60, 60])
        assert service.restarts == 9 and service.process is not None
        service.process.wait(10)
        service.check(clock + services.HEALTHY_AFTER + 1)  # this time it ran for over a minute first
        assert service.restart_at - (clock + services.HEALTHY_AFTER + 1) == pytest.approx(1)
    finally:
        service.stop(grace=5)
    messages = [r.getMessage() for r in caplog.records if r.name == "leadline.up"]
    assert sum("crashy exited with status 3; restarting in" in m for m in messages) == 10
    restarts = [m for m in messages if "restarting (restart" in m]
    assert restarts == [f"crashy restarting (restart {n})" for n in range(1, 10)]


def _descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by `pid` (walked through /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("template", ["sqlite"], indirect=True)  # the processes, not the database, are tested
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_crm_up_stops_every_process_it_started_on_sigint_and_sigterm(
    env: dict[str, str], tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    environ = {**os.environ, **env, "CRM_WEB_PORT": str(port), "CRM_WEB_WORKERS": "2"}
    out = (tmp_path / "up.log").open("w+")

    def output() -> str:
        out.seek(0)
        return out.read()

    up = subprocess.Popen([sys.executable, "-m", "crm_store", "up"], cwd=ROOT, env=environ, stdout=out,
                          stderr=subprocess.STDOUT, start_new_session=True)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        # the web app's master and 2 workers, and the mail worker, all up
        while not (len(started := _descendants(up.pid)) >= 4 and _healthy(port)):
            assert up.poll() is None and time.monotonic() < deadline, output()
            time.sleep(0.1)
        started = _descendants(up.pid)
        assert all(_alive(pid) for pid in started)
        os.kill(up.pid, sig)
        assert up.wait(timeout=60) == 0
        gone_by = time.monotonic() + 5  # a process reparented to init is reaped a moment later
        while any(_alive(pid) for pid in started) and time.monotonic() < gone_by:
            time.sleep(0.05)
        log = output()
        assert not [pid for pid in started if _alive(pid)], log
        assert "All services stopped." in log
        assert "did not stop within" not in log  # each stopped on the signal, none had to be killed
    finally:
        for pid in [up.pid, *started]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        up.wait(timeout=10)
        out.close()
