"""The server side of the web app: whole requests only reach the Flask app.

`crm serve` runs gunicorn with uvicorn workers (`webform.cli.Worker`). Each worker reads requests in its
event loop; `WholeRequests` waits there until a request's body has arrived in full, and only then hands
the request to a thread that runs the (WSGI) Flask app. A client that sends half a request and waits
holds a coroutine and a socket, never one of the app's threads, so `/healthz`, the form and the API keep
answering while hundreds of such connections are open. A body larger than the app accepts is not read
further: the app answers 413 from what it has. `max_body` may depend on the request (a document upload
may be megabytes; everything else a few kilobytes). Responses are buffered (they are small pages and JSON).

`app` is what gunicorn loads: `webform.asgi:app`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from uvicorn_worker import UvicornWorker

log = logging.getLogger("leadline.web")
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
THREADS = 16  # threads per worker process running the app: what waits on the database, not on clients
REFUSAL_THREADS = 2  # threads answering requests over a rate limit, apart from the admitted ones
Admit = Callable[[dict[str, Any]], "int | None"]
BODY_SECONDS = 30.0  # a body that takes longer to arrive is answered 408 and the connection closed


class WholeRequests:
    """An ASGI app that runs a WSGI app on complete requests, in a pool of threads."""

    def __init__(self, wsgi: WSGIApp, *, max_body: int | Callable[[Scope], int], threads: int = THREADS,
                 admit: Admit | None = None,
                 on_startup: Callable[[], None] | None = None, on_shutdown: Callable[[], None] | None = None) -> None:
        self.wsgi = wsgi
        self.max_body = max_body
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix="web")
        # `admit(environ)` counts a request against its rate limits in the event loop: one over a limit is
        # answered by threads of its own, never queued behind admitted requests waiting for the database.
        self.admit = admit
        self.refusals = ThreadPoolExecutor(REFUSAL_THREADS, thread_name_prefix="web-429")
        self.on_startup, self.on_shutdown = on_startup, on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            limit = self.max_body(scope) if callable(self.max_body) else self.max_body
            body = await asyncio.wait_for(self._body(receive, limit), BODY_SECONDS)
        except TimeoutError:
            await _answer(send, 408, [(b"content-type", b"text/plain"), (b"connection", b"close")],
                          b"The request took too long to arrive.\n")
            return
        if body is None:  # the client went away
            return
        environ = wsgi_environ(scope, body)
        loop = asyncio.get_running_loop()
        refused = self.admit is not None and self.admit(environ) is not None
        pool = self.refusals if refused else self.threads
        status, headers, content = await loop.run_in_executor(pool, run_wsgi, self.wsgi, environ)
        await _answer(send, status, headers, content)

    async def _body(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body (at most one byte more than the app accepts), or None when the client left."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > limit or not message.get("more_body", False):
                return b"".join(chunks)[: limit + 1]

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.on_startup is not None:
                    await loop.run_in_executor(None, self.on_startup)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown is not None:
                    await loop.run_in_executor(None, self.on_shutdown)
                self.threads.shutdown(wait=True)
                self.refusals.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP request whose body has been read (PEP 3333)."""
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0] if client else "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").upper().replace("-", "_"), raw_value.decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif name != "CONTENT_LENGTH":  # the body as read decides the length the app sees
            key = f"HTTP_{name}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def run_wsgi(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Call a WSGI app; return its status, headers and whole body."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        answer["status"], answer["headers"] = status, headers
        return written.append

    written: list[bytes] = []
    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer["headers"]]
    return int(answer["status"].split(" ", 1)[0]), headers, b"".join(written)


class Worker(UvicornWorker):
    """gunicorn's uvicorn worker as `crm serve` runs it: uvloop and httptools; no proxy-header rewriting.

    Which `X-Forwarded-For` to believe is the app's decision (`CRM_TRUSTED_PROXIES`), so the server passes
    the connecting address through untouched.

    Connections are shared out by the kernel. On one inherited listening socket, the worker whose event loop
    wakes first accepts every connection waiting, and keeps it for all its requests (keep-alive): eight
    browsers that connect while both workers are idle all land on one worker, which then runs every page on
    one core while the other idles. So, when gunicorn's socket has SO_REUSEPORT (`--reuse-port`, as `crm
    serve` sets it), each worker also listens on a socket of its own on the same address, and the kernel
    spreads new connections over the group by their addresses; the inherited socket still serves, so a
    worker's restart loses nothing queued on it.
    """

    CONFIG_KWARGS: dict[str, Any] = {"loop": "uvloop", "http": "httptools", "proxy_headers": False, "lifespan": "on"}

    async def _serve(self) -> None:
        inherited: list[Any] = getattr(self, "sockets")  # noqa: B009 - gunicorn's attribute, untyped
        self.sockets = [*inherited, *own_listeners(inherited, self.cfg.backlog)]
        await super()._serve()


def own_listeners(inherited: Iterable[Any], backlog: int) -> list[socket.socket]:
    """A socket of this process's own for each inherited TCP listener that has SO_REUSEPORT, on its address."""
    own = []
    for listener in inherited:
        if listener.family not in (socket.AF_INET, socket.AF_INET6):
            continue
        if not listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
            continue
        sock = socket.socket(listener.family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(listener.getsockname())
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            log.warning("no listening socket of this worker's own on %s (%s): the shared one serves",
                        listener.getsockname(), exc)
            continue
        own.append(sock)
    return own


def _product() -> WholeRequests:
    """The web app with its intake: submissions stored and answered at once, processed in the background."""
    from analytics.charts import warm_up
    from crm_store.config import load_config
    from webform.app import MAX_BODY, create_app
    from webform.extensions import limiter
    from webform.intake import PROCESS_ENV, STANDBY, Intake
    from webform.staff.documents.routes import body_limit

    logging.basicConfig(level=load_config().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    state = app.extensions["leadline"]
    # with the intake in a process of its own (`crm serve`), this worker's thread stands by for it
    state.intake = intake = Intake(state, standby=STANDBY if os.environ.get(PROCESS_ENV) == "1" else 0.0)
    # matplotlib and the CJK font load in seconds: now, beside the first requests, rather than in the first report page
    threading.Thread(target=warm_up, name="charts-warm-up", daemon=True).start()
    return WholeRequests(app, max_body=lambda scope: body_limit(scope["method"], scope["path"], MAX_BODY),
                         admit=partial(limiter.admit, app),
                         on_startup=intake.start, on_shutdown=intake.stop)


def __getattr__(name: str) -> Any:
    """`app` is built when gunicorn first asks for it (importing this module alone loads no Flask app)."""
    if name == "app":
        globals()["app"] = built = _product()
        return built
    raise AttributeError(f"module 'webform.asgi' has no attribute {name!r}")
