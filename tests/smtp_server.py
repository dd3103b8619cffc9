"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can misbehave.

It also counts connections (a connection counts once its client says EHLO or HELO, so the probe the
controller makes while starting is left out) and the most that were open at once, and it can take
its time over each message. `SilentServer` accepts TCP connections and never says a word.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tls_pair(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1 and localhost, and the CA file a client trusts it by."""
    ca = trustme.CA()  # a CA and its leaf made on the spot (with `cryptography`), trusted by nothing else
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    cafile = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return server_context, cafile


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    encrypted: bool  # whether it came over TLS (implicit, or after STARTTLS)


@dataclass
class RecordingHandler:
    """Accepts mail and records it; optional faults: 421s, a rejected recipient, a dropped connection, slowness."""

    refuse_first_mails: int = 0  # answer 421 to this many MAIL commands, then accept
    reject_recipients: frozenset[str] = frozenset()  # answer 550 to these RCPT TO addresses
    drop_at_mail: int | None = None  # close the connection at this (1-based) MAIL command, once
    data_delay: float = 0.0  # seconds to wait before accepting each message
    require_auth: bool = False  # answer 530 to MAIL before a successful AUTH (set by SmtpServer)
    received: list[Received] = field(default_factory=list)
    mails: int = 0
    connections_dropped: int = 0
    connections: int = 0  # every client connection so far
    most_open: int = 0  # the most client connections open at the same time
    open_now: set[int] = field(default_factory=set)

    async def handle_EHLO(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.connection_opened(server)
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:  # noqa: N802
        session.host_name = hostname
        self.connection_opened(server)
        return f"250 {server.hostname}"

    def connection_opened(self, server: Any) -> None:
        """Count a client connection the first time it greets (again after STARTTLS counts once)."""
        if id(server) not in self.open_now:
            self.open_now.add(id(server))
            self.connections += 1
            self.most_open = max(self.most_open, len(self.open_now))

    def connection_closed(self, server: Any) -> None:
        """Forget a closed client connection."""
        self.open_now.discard(id(server))

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:  # noqa: N802
        self.mails += 1
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.mails <= self.refuse_first_mails:
            return "421 4.3.2 Service not available, try again later"
        if self.drop_at_mail is not None and self.mails == self.drop_at_mail:
            self.connections_dropped += 1
            server.transport.close()
            return "421 4.4.2 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:  # noqa: N802
        if address.lower() in self.reject_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, encrypted))
        return "250 Message accepted"

    def message_ids(self) -> list[str]:
        """Return the Message-ID of every received message, in order."""
        return [r.message["Message-ID"] for r in self.received]


class _CountingSMTP(SMTP):
    """aiosmtpd's protocol, telling the handler when a connection closes."""

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self.event_handler.connection_closed(self)


class _CountingController(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """aiosmtpd's Controller on a free loopback port: STARTTLS (`tls`) or implicit TLS, AUTH optionally required."""

    def __init__(self, handler: RecordingHandler, *, tls: ssl.SSLContext | None = None,
                 implicit_tls: ssl.SSLContext | None = None, credentials: tuple[str, str] | None = None) -> None:
        self.handler = handler
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        if credentials is not None:
            user, password = credentials

            def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = (isinstance(data, LoginPassword)
                      and data.login.decode() == user and data.password.decode() == password)
                return AuthResult(success=ok, handled=False)

            if implicit_tls is None:
                kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls is not None)
            else:
                # aiosmtpd counts only STARTTLS as TLS (and warns when AUTH is required without it), though
                # here the whole connection is encrypted: offer AUTH and let the handler require it
                kwargs.update(authenticator=authenticate, auth_require_tls=False)
                handler.require_auth = True
        self.controller = _CountingController(handler, hostname="127.0.0.1", port=self.port,
                                              server_hostname="localhost", ssl_context=implicit_tls, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts TCP connections on a free loopback port and never answers (nor closes them) until stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.05)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append(conn)
            self.accepted += 1

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._listener.close()
