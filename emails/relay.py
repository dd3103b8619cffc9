"""The SMTP relay named by CRM_SMTP_URL: host, port, TLS mode, credentials (never logged)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from crm_store.errors import CrmError

TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Relay:
    """Where and how to hand mail to an SMTP server."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    concurrency: int = 4
    cafile: str | None = None
    verify: bool = True

    def describe(self) -> str:
        """Say where mail goes, without the password."""
        mode = "implicit TLS" if self.implicit_tls else "STARTTLS" if self.starttls else "plain"
        who = f" as {self.username}" if self.username else ""
        return f"SMTP {self.host}:{self.port} ({mode}){who}"

    def tls_context(self) -> ssl.SSLContext:
        """Return the TLS context used for STARTTLS or implicit TLS."""
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def parse_relay(url: str) -> Relay:
    """Parse smtp://user:pass@host:587?starttls=1 or smtps://user:pass@host:465; fail naming CRM_SMTP_URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise CrmError("CRM_SMTP_URL: use smtp://[user:pass@]host[:port][?starttls=1] or smtps://…")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout", "concurrency", "cafile", "verify"}
    if unknown:
        raise CrmError(f"CRM_SMTP_URL: unknown option {sorted(unknown)[0]!r}")
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
        timeout = float(query.get("timeout", 30))
        concurrency = int(query.get("concurrency", 4))
    except ValueError:
        raise CrmError("CRM_SMTP_URL: port, timeout and concurrency must be numbers") from None
    if not 1 <= concurrency <= 32 or timeout <= 0:
        raise CrmError("CRM_SMTP_URL: concurrency must be 1 to 32 and timeout positive")
    return Relay(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit,
        starttls=not implicit and query.get("starttls", "0").lower() in TRUE,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
        concurrency=concurrency,
        cafile=query.get("cafile"),
        verify=query.get("verify", "1").lower() in TRUE,
    )
