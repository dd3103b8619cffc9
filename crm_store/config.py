"""Deployment settings: read from the environment at call time into one typed object."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from crm_store.errors import CrmError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_RATE = re.compile(r"[1-9][0-9]{0,6}\s*(/|per)\s*(second|minute|hour|day)", re.IGNORECASE)


@dataclass(frozen=True)
class Setting:
    """A deployment setting: its environment variable, default (as text) and a one-line help."""

    env: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("CRM_DATA_DIR", "./var", "Folder for the SQLite database, the secret key, documents and the mail outbox."),
    Setting(
        "CRM_DATABASE_URL",
        "sqlite:///$CRM_DATA_DIR/leadline.db",
        "SQLAlchemy URL of the database, e.g. postgresql+psycopg://crm@db.example/crm.",
    ),
    Setting(
        "CRM_SECRET_KEY",
        "generated once into $CRM_DATA_DIR/secret_key",
        "Key that signs sessions and links; keep it secret and the same on every machine.",
    ),
    Setting("CRM_BASE_URL", "http://127.0.0.1:8000", "Public address of the web app, used for links in emails."),
    Setting("CRM_LOG_LEVEL", "INFO", "Log level: DEBUG, INFO, WARNING or ERROR."),
    Setting(
        "CRM_SMTP_URL",
        "unset: mail is written as .eml files to $CRM_DATA_DIR/outbox/",
        "SMTP relay, e.g. smtp://user:pass@mail.example.com:587?starttls=1 or smtps://user:pass@host:465.",
    ),
    Setting("CRM_MAIL_FROM", "Leadline <noreply@localhost>", "Sender address of every message the CRM sends."),
    Setting(
        "CRM_RATELIMIT_STORAGE_URL",
        "memory:// (per web worker process)",
        "Where web-form rate limits are counted; redis://host:6379 shares them between workers and machines.",
    ),
    Setting("CRM_RATELIMIT_PER_IP", "20/minute", "Web-form submissions one client IP may make, e.g. 20/minute."),
    Setting("CRM_RATELIMIT_PER_FORM", "600/minute", "Submissions one web form accepts in total, e.g. 600/minute."),
    Setting(
        "CRM_TRUSTED_PROXIES",
        "unset: the connecting address is the client",
        "Comma-separated proxy addresses or networks whose X-Forwarded-For is believed, e.g. 127.0.0.1,10.0.0.0/8.",
    ),
    Setting("CRM_WEB_WORKERS", "2", "Gunicorn worker processes for `crm serve` and `crm up`."),
)


@dataclass(frozen=True)
class Config:
    """The deployment settings in force for one call."""

    data_dir: Path
    database_url: str
    base_url: str
    log_level: str
    secret_key_env: str | None = field(default=None, repr=False)
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = "Leadline <noreply@localhost>"
    ratelimit_storage_url: str = "memory://"
    ratelimit_per_ip: str = "20/minute"
    ratelimit_per_form: str = "600/minute"
    trusted_proxies: tuple[str, ...] = ()
    web_workers: int = 2

    @property
    def secret_key(self) -> str:
        """Return CRM_SECRET_KEY, or the key generated once into the data dir."""
        if self.secret_key_env:
            return self.secret_key_env
        return _stored_secret_key(self.data_dir)

    @property
    def outbox_dir(self) -> Path:
        """Folder where mail is written as .eml files when no SMTP relay is set."""
        return self.data_dir / "outbox"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read the deployment settings from the environment; fail naming the bad variable."""
    env = os.environ if environ is None else environ
    get: Callable[[str], str] = lambda name: env.get(name, "").strip()  # noqa: E731
    data_dir = Path(get("CRM_DATA_DIR") or "./var").expanduser().resolve()
    database_url = get("CRM_DATABASE_URL") or f"sqlite:///{data_dir / 'leadline.db'}"
    if "://" not in database_url:
        raise CrmError(f"CRM_DATABASE_URL: {database_url!r} is not a database URL (sqlite:///… or postgresql+psycopg://…)")
    base_url = (get("CRM_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise CrmError(f"CRM_BASE_URL: {base_url!r} must start with http:// or https://")
    log_level = (get("CRM_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise CrmError(f"CRM_LOG_LEVEL: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    mail_from = get("CRM_MAIL_FROM") or "Leadline <noreply@localhost>"
    if "\r" in mail_from or "\n" in mail_from or "@" not in mail_from:
        raise CrmError(f"CRM_MAIL_FROM: {mail_from!r} is not an address like 'Sales <sales@example.com>'")
    smtp_url = get("CRM_SMTP_URL") or None
    if smtp_url is not None and not smtp_url.startswith(("smtp://", "smtps://")):
        raise CrmError("CRM_SMTP_URL: must start with smtp:// or smtps://")
    storage = get("CRM_RATELIMIT_STORAGE_URL") or "memory://"
    if "://" not in storage:
        raise CrmError(f"CRM_RATELIMIT_STORAGE_URL: {storage!r} is not a URL like memory:// or redis://host:6379")
    limits = {}
    for name, default in (("CRM_RATELIMIT_PER_IP", "20/minute"), ("CRM_RATELIMIT_PER_FORM", "600/minute")):
        limits[name] = get(name) or default
        if not _RATE.fullmatch(limits[name]):
            raise CrmError(f"{name}: {limits[name]!r} is not a rate like 20/minute (second, minute, hour or day)")
    proxies = tuple(p.strip() for p in get("CRM_TRUSTED_PROXIES").split(",") if p.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise CrmError(f"CRM_TRUSTED_PROXIES: {proxy!r} is not an IP address or network") from None
    workers_text = get("CRM_WEB_WORKERS") or "2"
    if not workers_text.isdigit() or not 1 <= int(workers_text) <= 64:
        raise CrmError(f"CRM_WEB_WORKERS: {workers_text!r} is not a number of processes from 1 to 64")
    return Config(
        data_dir, database_url, base_url, log_level, get("CRM_SECRET_KEY") or None, smtp_url, mail_from,
        storage, limits["CRM_RATELIMIT_PER_IP"], limits["CRM_RATELIMIT_PER_FORM"], proxies, int(workers_text),
    )


def _stored_secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
