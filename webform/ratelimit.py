"""Rate limits on the capture path: `Limiter` checks a view's moving windows, `LocalStorage` counts them.

`LocalStorage` is a lean in-process counter store (`local://`, used for the default `memory://`).
The `limits` library's own memory storage starts a timer thread to expire keys, about once per
request under load, which cost more than the rest of a web-form submission. This store expires
lazily instead, swept when the table grows. It keeps fixed-window counters and moving windows
(the app's strategy: the last N seconds, so a limit admits no burst at a window boundary). Counts
live in one worker process, like `memory://`; use Redis (`CRM_RATELIMIT_STORAGE_URL=redis://…`) to
share them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, cast

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

SWEEP_EVERY = 10_000  # keys before expired ones are dropped
EXTENSION = "leadline.limits"
# Set in a request's WSGI environ by `Limiter.admit` (the server counted the request before the app ran):
COUNTED = "leadline.limits.counted"  # True: admitted, the view does not count it again
LIMITED = "leadline.limits.limited"  # seconds until the window lets one more in: the view answers 429
LIMITS = "__leadline_limits__"  # attribute of a limited view: its (rate, key) pairs, in the order checked
PREFIX = "leadline"  # of every key, so a shared Redis tells our counters from others'
View = Callable[..., Any]


class LocalStorage(Storage, MovingWindowSupport):
    """Counters and moving windows in dicts, guarded by one lock."""

    STORAGE_SCHEME = ["local"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._counts: dict[str, list[float]] = {}  # key -> [count, expires_at]
        self._windows: dict[str, deque[float]] = {}  # key -> times of the entries, oldest first
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
            n = len(self._counts) + len(self._windows)
            self._counts.clear()
            self._windows.clear()
        return n

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._windows.pop(key, None)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= SWEEP_EVERY:
                    self._sweep(now)
                window = self._windows[key] = deque()
            while window and window[0] <= now - expiry:
                window.popleft()
            if len(window) + amount > limit:
                return False
            window.extend([now] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        with self._lock:
            window = self._windows.get(key)
            if not window:
                return now, 0
            live = [t for t in window if t > now - expiry]
            return (live[0], len(live)) if live else (now, 0)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (_, exp) in self._counts.items() if exp <= now]:
            del self._counts[key]
        # a window whose newest entry is older than a day can go (no limit here is longer)
        for key in [k for k, w in self._windows.items() if not w or w[-1] <= now - 86400]:
            del self._windows[key]


class Limited(TooManyRequests):
    """A request over a rate limit: answered 429 with the seconds until the window lets one more in."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.seconds = retry_after


class Limiter:
    """Rate limits for views: moving windows counted in the app's own storage (`local://` or Redis).

    A lean stand-in for Flask-Limiter on the capture path: a limit costs one `hit` on the storage, with
    no per-request bookkeeping beyond it (Flask-Limiter's cost more than the rest of a refused request).
    Built unbound; `init_app` gives each app counters of its own, from `RATELIMIT_STORAGE_URI`.
    """

    def init_app(self, app: Flask) -> None:
        """Bind to `app`: open its storage (each app counts on its own)."""
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        app.extensions[EXTENSION] = MovingWindowRateLimiter(storage)

    def limit(self, rate: Callable[[], str], key: Callable[[], str]) -> Callable[[View], View]:
        """Limit a view to `rate()` (e.g. "20/minute"; ";" between several) requests per `key()`.

        Stacked limits are checked outermost first. A request the server already counted (`admit`) is
        not counted again; one it found over a limit is answered 429 at once.
        """

        def decorate(view: View) -> View:
            @wraps(view)
            def limited(*args: Any, **kwargs: Any) -> Any:
                seconds = request.environ.get(LIMITED)
                if seconds is not None:
                    raise Limited(int(seconds))
                if not request.environ.get(COUNTED):
                    self.hit(rate(), key())
                return view(*args, **kwargs)

            setattr(limited, LIMITS, [(rate, key), *getattr(view, LIMITS, [])])
            return cast(View, limited)

        return decorate

    def admit(self, app: Flask, environ: dict[str, Any]) -> int | None:
        """Count a request against its view's limits before the app runs it: None, or the seconds to wait.

        The server calls this in its event loop, so a request over a limit is told so without waiting for
        one of the threads that run the app (they may all be busy with admitted work). The request is
        marked in `environ` so that its view does not count it twice. Only counters in this process
        (`local://`) are counted here: a shared store (Redis) is a network call, made in the app's threads.
        """
        if not isinstance(app.extensions[EXTENSION].storage, LocalStorage):
            return None
        try:
            endpoint, _args = app.url_map.bind_to_environ(environ).match()
        except Exception:  # noqa: BLE001 - not found, wrong method, a redirect: the app answers it
            return None
        view = app.view_functions.get(str(endpoint))
        limits = getattr(view, LIMITS, None)
        if not limits:
            return None
        with app.request_context(environ):
            try:
                for rate, key in limits:
                    self.hit(rate(), key())
            except Limited as exc:
                environ[LIMITED] = exc.seconds
                return exc.seconds
        environ[COUNTED] = True
        return None

    def hit(self, rate: str, key: str) -> None:
        """Count one request against every window of `rate`; raise Limited when one is full."""
        strategy: MovingWindowRateLimiter = current_app.extensions[EXTENSION]
        for item in _parsed(rate):
            if not strategy.hit(item, PREFIX, key):
                reset = strategy.get_window_stats(item, PREFIX, key).reset_time
                raise Limited(max(1, math.ceil(reset - time.time())))


@lru_cache(maxsize=64)
def _parsed(rate: str) -> list[RateLimitItem]:
    return parse_many(rate)
