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
MAX_BACKOFF = 30.0
HEALTHY_AFTER = 60.0
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
    """A child process kept running with a growing pause between restarts."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = 1.0
    restart_at: float = 0.0
    restarts: int = field(default=0)

    def start(self) -> None:
        """Start the process."""
        # its own process group: stopping it reaches its children too (a web server's workers)
        self.process = subprocess.Popen(self.argv, start_new_session=True)
        self.started_at = time.monotonic()
        log.info("%s started (pid %s)", self.name, self.process.pid)

    def check(self, now: float) -> None:
        """Restart the process if it has exited, after its backoff."""
        if self.process is None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
            return
        code = self.process.poll()
        if code is None:
            if now - self.started_at > HEALTHY_AFTER:
                self.backoff = 1.0
            return
        log.warning("%s exited with status %s; restarting in %.0f s", self.name, code, self.backoff)
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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything of its group left behind
        log.info("%s stopped", self.name)


def run_services(services: dict[str, list[str]], stop: threading.Event | None = None, tick: float = 0.5) -> None:
    """Run the services until `stop` is set (SIGINT/SIGTERM set it when called from the main thread)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    running = [Service(name, argv) for name, argv in services.items()]
    for service in running:
        service.start()
    try:
        while not stop.wait(tick):
            now = time.monotonic()
            for service in running:
                service.check(now)
    finally:
        for service in running:  # all at once: each drains its own work
            service.terminate()
        for service in running:
            service.stop()
