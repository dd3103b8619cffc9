"""`crm up`: services run, a crashed one is restarted with a backoff, all stop together."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from crm_store.ops import supervisor as services


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
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    return status != "Z"  # a zombie has exited


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
