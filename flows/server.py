"""The embedded default: a local Prefect server as a child process of `crm flows serve`.

Prefect will not schedule flows on its ephemeral API ("Cannot schedule flows on an ephemeral server"), so
when no server is named (`PREFECT_API_URL` unset) `crm flows serve` starts `prefect server start` on
127.0.0.1, with its home (its SQLite database, its log) under the data dir and analytics off, waits for
its health endpoint, and stops it when it stops itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crm_store.errors import CrmError

HOST = "127.0.0.1"
START_TIMEOUT = 180.0  # seconds for the server to answer its health check (importing it is slow on a busy machine)
STOP_GRACE = 15.0  # seconds it has to stop after SIGTERM before it is killed
LOG_NAME = "server.log"  # in the Prefect home: what the server prints


def prefect_home(data_dir: Path) -> Path:
    """Prefect's home for `crm flows serve`: `PREFECT_HOME` if set, else `prefect/` in the data dir."""
    return Path(os.environ.get("PREFECT_HOME") or data_dir / "prefect")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before it runs: ask Linux to kill it when its parent dies (even by SIGKILL).

    SIGKILL, not SIGTERM: a parent that stopped normally has already stopped its server gracefully (`stop`); one
    that died without doing so (killed, or ended by Prefect's runner on SIGTERM) leaves nobody to wait for a
    graceful shutdown, which on a loaded machine outlived `crm up`'s own exit. SQLite keeps the server's
    database whole through a kill.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


@dataclass
class LocalServer:
    """`prefect server start` on 127.0.0.1:`port`, its home in `home`."""

    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    stopping: bool = False  # set by `stop`: an exit from now on is expected

    @property
    def api_url(self) -> str:
        """The server's API, as PREFECT_API_URL names it."""
        return f"http://{HOST}:{self.port}/api"

    @property
    def log_path(self) -> Path:
        """Where the server's output goes."""
        return self.home / LOG_NAME

    def argv(self) -> list[str]:
        """The server's command line."""
        return [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        """The server's environment: ours, its home under the data dir, analytics off, no other server named."""
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
        return env

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait until it answers; fail in one line (with the log's last line) if it does not."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # its own session: a Ctrl-C at the terminal reaches `crm flows serve`, which stops the runner
            # before the server it talks to; and it dies with its parent however that one ends
            self.process = subprocess.Popen(self.argv(), env=self.environment(), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if self.process.poll() is not None:
                raise CrmError(f"the local Prefect server exited with status {self.process.returncode}: "
                               f"{self.last_log_line()} (log: {self.log_path})")
            if time.monotonic() > deadline:
                self.stop()
                raise CrmError(f"the local Prefect server did not answer within {timeout:.0f} s (log: {self.log_path})")
            time.sleep(0.5)

    def healthy(self) -> bool:
        """Whether the server answers its health check."""
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def last_log_line(self) -> str:
        """The last line the server wrote (why it stopped, usually)."""
        with contextlib.suppress(OSError):
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
            return lines[-1].strip() if lines else "no output"
        return "no output"

    def died(self) -> bool:
        """Whether the server exited without being asked to."""
        return not self.stopping and self.process is not None and self.process.poll() is not None

    def watch(self, on_death: Callable[[], None], every: float = 2.0) -> threading.Thread:
        """Call `on_death` once, from a daemon thread, if the server exits before `stop` is called."""

        def look() -> None:
            while not self.stopping:
                if self.died():
                    on_death()
                    return
                time.sleep(every)

        watcher = threading.Thread(target=look, name="prefect-server-watch", daemon=True)
        watcher.start()
        return watcher

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `grace` seconds)."""
        self.stopping = True
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def local_server(home: Path, port: int | None = None, timeout: float = START_TIMEOUT) -> Iterator[LocalServer]:
    """Run a local Prefect server for the duration of the block."""
    server = LocalServer(home, port or free_port())
    try:
        server.start(timeout)
        yield server
    finally:
        server.stop()
