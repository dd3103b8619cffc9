"""gunicorn hooks of `crm serve` (`--config python:webform.serve_hooks`): the intake in a process of its own.

gunicorn's master starts `python -m webform.intake` when it is ready, before its workers, and stops it
when it exits, after the workers: that process drains what is pending, so every 201 a worker gave is a
lead before the server is gone. If it dies, the workers' own intake threads take the intake lock.
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
from typing import Any

from webform.intake import PROCESS_ENV, READY_WAIT

log = logging.getLogger("leadline.web")
STOP_WAIT = 40.0  # seconds the intake gets to drain when the server stops
_intake: list[subprocess.Popen[bytes]] = []


def when_ready(_server: Any) -> None:
    """Start the intake process and wait until it holds the intake lock; the workers are started next."""
    os.environ[PROCESS_ENV] = "1"  # their intake threads stand by
    process = subprocess.Popen([sys.executable, "-m", "webform.intake"], stdout=subprocess.PIPE)
    _intake.append(process)
    assert process.stdout is not None  # a pipe, asked for above
    ready, _, _ = select.select([process.stdout], [], [], READY_WAIT)
    if not ready or process.stdout.readline().strip() != b"ready":
        log.error("the intake process did not start; the workers' intake threads take its place")


def on_exit(_server: Any) -> None:
    """Stop the intake process once the workers are gone; it drains what they left pending."""
    for process in _intake:
        process.terminate()
        try:
            process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            log.error("the intake did not stop in time; what it left pending is processed at the next start")
            process.kill()
            process.wait()
    _intake.clear()
