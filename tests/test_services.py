"""`crm up`: services run, a crashed one is restarted with a backoff, all stop together."""

from __future__ import annotations

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
