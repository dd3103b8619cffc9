"""Deployment settings: read from the environment at call time into one typed object.

Each setting is declared once, by its parser: `@setting(variable, default as shown, help)` on a function
named after the `Config` field it fills, which checks the text or supplies the default when unset.
`Config` and the README's table (`markdown_table()`) both come from these declarations.
Only the edges (a command, the web app, a worker) call `load_config()`; the store's functions get what
they need as arguments.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from crm_store.errors import CrmError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_RATE = re.compile(r"[1-9][0-9]{0,6}\s*(/|per)\s*(second|minute|hour|day)", re.IGNORECASE)
Parser = Callable[[str, Mapping[str, Any]], Any]  # (text or "" when unset, fields read so far) -> value


@dataclass(frozen=True)
class Setting:
    """A deployment setting: its variable, the Config field, a parser, the default as shown, a one-line help."""

    env: str
    field: str
    parse: Parser
    default: str
    help: str


SETTINGS: list[Setting] = []


def setting(env: str, default: str, help: str) -> Callable[[Parser], Parser]:
    """Declare a setting by its parser: the function's name is the Config field; a ValueError names no variable."""

    def declare(parse: Parser) -> Parser:
        SETTINGS.append(Setting(env, parse.__name__, parse, default, help))
        return parse

    return declare


@setting("CRM_DATA_DIR", "`./var`", "Folder for the SQLite database, the secret key, documents and the mail outbox.")
def data_dir(text: str, _read: Mapping[str, Any]) -> Path:
    return Path(text or "./var").expanduser().resolve()


@setting("CRM_DATABASE_URL", "`sqlite:///$CRM_DATA_DIR/leadline.db`",
         "SQLAlchemy URL of the database, e.g. `postgresql+psycopg://crm@db.example/crm`.")
def database_url(text: str, read: Mapping[str, Any]) -> str:
    url = text or f"sqlite:///{read['data_dir'] / 'leadline.db'}"
    if "://" not in url:
        raise ValueError(f"{url!r} is not a database URL (sqlite:///… or postgresql+psycopg://…)")
    return url


@setting("CRM_SECRET_KEY", "generated once into `$CRM_DATA_DIR/secret_key`",
         "Key that signs sessions and links; keep it secret and the same on every machine.")
def secret_key_env(text: str, _read: Mapping[str, Any]) -> str | None:
    return text or None


@setting("CRM_BASE_URL", "`http://127.0.0.1:8000`", "Public address of the web app, used for links in emails.")
def base_url(text: str, _read: Mapping[str, Any]) -> str:
    url = (text or "http://127.0.0.1:8000").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} must start with http:// or https://")
    return url


@setting("CRM_LOG_LEVEL", "`INFO`", "Log level: DEBUG, INFO, WARNING or ERROR.")
def log_level(text: str, _read: Mapping[str, Any]) -> str:
    level = (text or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


@setting("CRM_SMTP_URL", "unset: mail goes to `.eml` files in `$CRM_DATA_DIR/outbox/`",
         "SMTP relay: `smtp://user:pass@mail.example.com:587?starttls=1` or `smtps://user:pass@host:465`.")
def smtp_url(text: str, _read: Mapping[str, Any]) -> str | None:
    if text and not text.startswith(("smtp://", "smtps://")):
        raise ValueError("must start with smtp:// or smtps://")
    return text or None


@setting("CRM_MAIL_FROM", "`Leadline <noreply@localhost>`", "Sender address of every message the CRM sends.")
def mail_from(text: str, _read: Mapping[str, Any]) -> str:
    sender = text or "Leadline <noreply@localhost>"
    if "\r" in sender or "\n" in sender or "@" not in sender:
        raise ValueError(f"{sender!r} is not an address like 'Sales <sales@example.com>'")
    return sender


@setting("CRM_RATELIMIT_STORAGE_URL", "`memory://` (per web worker process)",
         "Where web-form rate limits are counted; `redis://host:6379` shares them between workers and machines.")
def ratelimit_storage_url(text: str, _read: Mapping[str, Any]) -> str:
    url = text or "memory://"
    if "://" not in url:
        raise ValueError(f"{url!r} is not a URL like memory:// or redis://host:6379")
    return url


@setting("CRM_RATELIMIT_PER_IP", "`20/minute`", "Web-form submissions one client IP may make, e.g. `20/minute`.")
def ratelimit_per_ip(text: str, _read: Mapping[str, Any]) -> str:
    return _rate(text or "20/minute")


@setting("CRM_RATELIMIT_PER_FORM", "`600/minute`", "Submissions one web form accepts in total, e.g. `600/minute`.")
def ratelimit_per_form(text: str, _read: Mapping[str, Any]) -> str:
    return _rate(text or "600/minute")


def _rate(rate: str) -> str:
    if not _RATE.fullmatch(rate):
        raise ValueError(f"{rate!r} is not a rate like 20/minute (second, minute, hour or day)")
    return rate


@setting("CRM_TRUSTED_PROXIES", "unset: the connecting address is the client",
         "Comma-separated proxy addresses or networks whose `X-Forwarded-For` is believed, "
         "e.g. `127.0.0.1,10.0.0.0/8`.")
def trusted_proxies(text: str, _read: Mapping[str, Any]) -> tuple[str, ...]:
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return items


@setting("CRM_WEB_WORKERS", "`2`", "Gunicorn worker processes for `crm serve` and `crm up`.")
def web_workers(text: str, _read: Mapping[str, Any]) -> int:
    value = text or "2"
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise ValueError(f"{value!r} is not a number of processes from 1 to 64")
    return int(value)


@setting("CRM_WEB_HOST", "`127.0.0.1`",
         "Address `crm serve` and `crm up` listen on (`0.0.0.0` for every interface, behind a firewall or proxy).")
def web_host(text: str, _read: Mapping[str, Any]) -> str:
    value = text or "127.0.0.1"
    if not re.fullmatch(r"[A-Za-z0-9.:\-\[\]]+", value):
        raise ValueError(f"{value!r} is not an address or host name")
    return value


@setting("CRM_WEB_PORT", "`8000`", "Port `crm serve` and `crm up` listen on.")
def web_port(text: str, _read: Mapping[str, Any]) -> int:
    value = text or "8000"
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError(f"{value!r} is not a port number from 1 to 65535")
    return int(value)


@setting("CRM_USER", "unset: changes are recorded as made by `cli`",
         "Email of the active user the `crm` commands act as (`crm --as EMAIL` overrides it); "
         "their changes are audited under their name.")
def acting_user(text: str, _read: Mapping[str, Any]) -> str | None:
    if text and "@" not in text:
        raise ValueError(f"{text!r} is not an email address")
    return text.lower() or None


@dataclass(frozen=True)
class Config:
    """The deployment settings in force for one call (see `SETTINGS` for each one's variable and default)."""

    data_dir: Path
    database_url: str
    secret_key_env: str | None = field(repr=False)
    base_url: str
    log_level: str
    smtp_url: str | None = field(repr=False)
    mail_from: str
    ratelimit_storage_url: str
    ratelimit_per_ip: str
    ratelimit_per_form: str
    trusted_proxies: tuple[str, ...]
    web_workers: int
    web_host: str
    web_port: int
    acting_user: str | None

    @cached_property
    def secret_key(self) -> str:
        """Return CRM_SECRET_KEY, or the key generated once into the data dir (read once per Config)."""
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
    read: dict[str, Any] = {}
    for declared in SETTINGS:
        try:
            read[declared.field] = declared.parse(env.get(declared.env, "").strip(), read)
        except ValueError as exc:
            raise CrmError(f"{declared.env}: {exc}") from None
    return Config(**read)


def markdown_table() -> str:
    """The README's table of deployment settings, made from `SETTINGS`."""
    rows = ["| variable | default | what it is |", "|---|---|---|"]
    rows += [f"| `{s.env}` | {s.default} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)


assert [s.field for s in SETTINGS] == [f.name for f in fields(Config)], "SETTINGS and Config must agree"


def _stored_secret_key(data_dir: Path) -> str:
    """The data dir's secret key, made on first use; processes starting together all get the one that won.

    The key is written whole to a file of its own, then linked into place (`link` fails if another process
    got there first): nobody reads a half-written key, and a loser reads the winner's.
    """
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd, draft = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        os.unlink(draft)
    return key
