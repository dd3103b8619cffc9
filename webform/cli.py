"""`crm serve`: run the web app (public forms now, the back office later) with gunicorn."""

from __future__ import annotations

import os
import sys

import click

APP = "webform.asgi:app"


def gunicorn_argv(host: str, port: int, workers: int, app: str = APP) -> list[str]:
    """The gunicorn command line for the app: uvicorn workers that hand the app whole requests only."""
    return [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"{host}:{port}", "--workers", str(workers), "--worker-class", "webform.asgi.Worker",
        "--backlog", "2048", "--timeout", "30", "--graceful-timeout", "20", "--keep-alive", "5",
        "--reuse-port",  # each worker listens on its own socket too: the kernel shares connections out
        "--no-control-socket",  # gunicorn's control socket is one path per user, shared by every instance
        *(["--config", "python:webform.serve_hooks"] if app == APP else []),  # the intake's own process
    ]


@click.command("serve")
@click.option("--host", help="Address to listen on, 0.0.0.0 for every interface [default: CRM_WEB_HOST, 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on [default: CRM_WEB_PORT, 8000].")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes [default: CRM_WEB_WORKERS, 2].")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web app: hosted forms, embed.js, the JSON API and /healthz.

    Rate limits are counted per worker process unless CRM_RATELIMIT_STORAGE_URL points at Redis.
    """
    from crm_store.config import load_config

    config = load_config()
    host, port = host or config.web_host, port or config.web_port
    argv = gunicorn_argv(host, port, workers or config.web_workers)
    click.echo(f"Serving on http://{host}:{port} ({workers or config.web_workers} workers); Ctrl-C stops.")
    sys.stdout.flush()
    os.execv(argv[0], argv)


def web_service() -> list[str]:
    """The command `crm up` runs for the web app."""
    return [sys.executable, "-m", "crm_store", "serve"]
