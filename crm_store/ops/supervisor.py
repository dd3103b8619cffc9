"""`crm up`: run every long-running service in the foreground, restart crashed ones, stop all on Ctrl-C.

Services are declared by the packages that own them under the `leadline.services` entry point
group (a callable returning the command line), so this module imports none of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

log = logging.getLogger("leadline.up")
MAX_BACKOFF = 60.0  # seconds between restarts of a service that keeps crashing, at most
HEALTHY_AFTER = 60.0  # seconds a service must run for its next crash to wait 1 s again
# Seconds a service has to stop after SIGTERM before its whole process group is killed: longer than the
# web server's own graceful shutdown (gunicorn --graceful-timeout 20 in webform/cli.py).
STOP_GRACE = 30.0


def declared_services() -> dict[str, list[str]]:
    """Return each declared service's name and command line."""
    found: dict[str, list[str]] = {}
    for ep in sorted(entry_points(group="leadline.services"), key=lambda e: e.name):
        command: Callable[[], list[str]] = ep.load()
        found[ep.name] = command()
    return found


@dataclass
class Service:
    """A child process kept running: restarted 1, 2, 4 … up to 60 s after each crash, 1 s again after a good run."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = 1.0
    restart_at: float = 0.0
    restarts: int = field(default=0)

    def start(self, now: float | None = None) -> None:
        """Start the process."""
        # its own process group: stopping it reaches its children too (a web server's workers)
        self.process = subprocess.Popen(self.argv, start_new_session=True)
        self.started_at = time.monotonic() if now is None else now
        log.info("%s started (pid %s)", self.name, self.process.pid)

    def check(self, now: float) -> None:
        """Restart the process if it has exited, after its backoff."""
        if self.process is None:
            if now >= self.restart_at:
                self.restarts += 1
                log.info("%s restarting (restart %d)", self.name, self.restarts)
                self.start(now)
            return
        code = self.process.poll()
        if code is None:
            return
        if now - self.started_at >= HEALTHY_AFTER:  # it ran well for a while: this is a new failure
            self.backoff = 1.0
        log.warning("%s exited with status %s; restarting in %.0f s", self.name, code, self.backoff)
        _kill_group(self.process.pid)  # what it started and left behind would hold its port or its work
        self.process = None
        self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM); it finishes its work first."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Ask the process to stop; after the grace period kill it and whatever it started."""
        if self.process is None:
            return
        self.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", self.name, grace)
            self.process.kill()
            self.process.wait()
        _kill_group(self.process.pid)  # anything of its group left behind
        log.info("%s stopped", self.name)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_services(services: dict[str, list[str]], stop: threading.Event | None = None, tick: float = 0.5) -> None:
    """Run the services until `stop` is set (SIGINT/SIGTERM set it when called from the main thread)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    running = [Service(name, argv) for name, argv in services.items()]
    try:
        for service in running:  # inside the try: one that cannot start stops those already started
            service.start()
        while not stop.wait(tick):
            now = time.monotonic()
            for service in running:
                service.check(now)
    finally:
        for service in running:  # all at once: each drains its own work
            service.terminate()
        for service in running:
            service.stop()
