"""Helpers for the real-browser tests: a WSGI app served from a thread, a customer's web site, Chromium.

The browser is Debian's Chromium (`/usr/bin/chromium`, installed by `.ci/system-deps.sh`), driven by
Playwright; Playwright's own browser downloads are never used. `LEADLINE_CHROMIUM` points elsewhere.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

CHROMIUM = os.environ.get("LEADLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_MS = 5_000  # every wait in the browser tests: pages are local, a few seconds is plenty


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (the tests print what matters)."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class LiveServer:
    """A WSGI app served on 127.0.0.1 at a free port from a daemon thread; `close()` stops it."""

    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1") -> None:
        self._server: BaseWSGIServer = make_server(
            host=host, port=0, app=app, threaded=True, request_handler=_QuietHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"live-server-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def url(self, path: str = "", host: str = "127.0.0.1") -> str:
        """An absolute URL on this server (`host` may be `localhost`: the same server, another origin)."""
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class CustomerSite:
    """The customer's own web site on another origin: HTML pages the test puts at paths, plus a request log.

    By default it is reached as `http://localhost:<port>`, an origin different from the CRM's
    `http://127.0.0.1:<port>` twice over (host and port).
    """

    def __init__(self, host: str = "localhost") -> None:
        self.pages: dict[str, str] = {}
        self.host = host
        self._server = LiveServer(self._wsgi)
        self.origin = f"http://{host}:{self._server.port}"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        body = self.pages.get(request.path)
        if body is None:
            response = Response("not found", status=404, mimetype="text/plain")
        else:
            response = Response(body, mimetype="text/html")
        return response(environ, start_response)

    def put(self, path: str, body: str) -> str:
        """Serve `body` at `path`; returns the page's URL."""
        self.pages[path] = body
        return self.origin + path

    def close(self) -> None:
        self._server.close()


def html_page(title: str, *body: str) -> str:
    """A small but complete page of a customer's site."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def embed_tag(crm: LiveServer, public_id: str, *, mode: str | None = None) -> str:
    """The one `<script>` tag a customer pastes (with `data-mode="track"` on pages without the form)."""
    extra = f' data-mode="{mode}"' if mode else ""
    return f'<script src="{crm.url(f"/forms/{public_id}/embed.js")}"{extra} async></script>'


def iframe_tag(src: str, *, name: str = "leadline") -> str:
    """An iframe of the hosted page; `window.frameLoaded` turns true when it has loaded (or failed to)."""
    return (
        f'<iframe name="{name}" title="Contact form" src="{html.escape(src)}" width="640" height="900" '
        'onload="window.frameLoaded = true"></iframe>'
    )
