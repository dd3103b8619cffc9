"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can misbehave."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    """Accepts mail and records it; optional faults: 421s, a rejected recipient, a dropped connection."""

    refuse_first_mails: int = 0  # answer 421 to this many MAIL commands, then accept
    reject_recipients: frozenset[str] = frozenset()  # answer 550 to these RCPT TO addresses
    drop_at_mail: int | None = None  # close the connection at this (1-based) MAIL command, once
    received: list[Received] = field(default_factory=list)
    mails: int = 0
    connections_dropped: int = 0

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:  # noqa: N802
        self.mails += 1
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
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]  # aiosmtpd types mail_from loosely
        return "250 Message accepted"

    def message_ids(self) -> list[str]:
        """Return the Message-ID of every received message, in order."""
        return [r.message["Message-ID"] for r in self.received]


class SmtpServer:
    """aiosmtpd's Controller on a free loopback port, optionally with STARTTLS and AUTH required."""

    def __init__(self, handler: RecordingHandler, *, tls: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
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

            kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls is not None)
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="localhost", **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
