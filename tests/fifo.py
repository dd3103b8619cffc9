"""Run something that is handed a FIFO, and fail (instead of hanging the suite) if it waits on it."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def run_beside(fifo: Path, fn: Callable[[], Any], *, seconds: float = 10.0) -> Any:
    """Return `fn()`, run in a thread; if it still waits after `seconds`, release it and fail the test."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the test's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _release(fifo)
        thread.join(seconds)
        pytest.fail(f"still waiting on the FIFO {fifo.name} after {seconds:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _release(fifo: Path) -> None:
    """Open and close the FIFO's writing end, so a reader blocked in open() reads an end of file."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as exc:  # ENXIO: nobody is reading, so nothing waits on it
        if exc.errno != errno.ENXIO:
            raise
