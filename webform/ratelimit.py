"""A lean in-process counter store for Flask-Limiter (`local://`, used for the default `memory://`).

The `limits` library's own memory storage starts a timer thread to expire keys, about once per
request under load, which cost more than the rest of a web-form submission. This store expires
lazily instead: a fixed-window counter per key, swept when the table grows. Counts live in one
worker process, like `memory://`; use Redis (`CRM_RATELIMIT_STORAGE_URL=redis://…`) to share them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from limits.storage import Storage

SWEEP_EVERY = 10_000  # keys before expired ones are dropped


class LocalStorage(Storage):
    """Fixed-window counters in a dict, guarded by one lock."""

    STORAGE_SCHEME = ["local"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._counts: dict[str, list[float]] = {}  # key -> [count, expires_at]
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            entry = self._counts.get(key)
            if entry is None or entry[1] <= now:
                if len(self._counts) >= SWEEP_EVERY:
                    self._sweep(now)
                entry = self._counts[key] = [0, now + expiry]
            entry[0] += amount
            return int(entry[0])

    def get(self, key: str) -> int:
        entry = self._counts.get(key)
        return int(entry[0]) if entry is not None and entry[1] > time.time() else 0

    def get_expiry(self, key: str) -> float:
        entry = self._counts.get(key)
        return entry[1] if entry is not None else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            n = len(self._counts)
            self._counts.clear()
        return n

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (_, exp) in self._counts.items() if exp <= now]:
            del self._counts[key]
