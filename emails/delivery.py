"""Delivery over SMTP with aiosmtplib: the only module that talks SMTP.

Messages are shared out to a bounded number of connections; each connection is reused for many
messages. 4xx replies, refused or dropped connections and timeouts are transient; a 5xx for a
recipient fails that message only.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import aiosmtplib

from .relay import Relay
from .wire import Wire

log = logging.getLogger("leadline.mail.delivery")  # under "leadline": CRM_LOG_LEVEL applies

Kind = Literal["sent", "transient", "permanent"]
# Our name in EHLO; a fixed one spares a reverse DNS lookup per connection.
LOCAL_HOSTNAME = "leadline.localdomain"


@dataclass(frozen=True)
class Outcome:
    """What happened to one message."""

    key: int
    kind: Kind
    detail: str = ""


async def _connect(relay: Relay) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(
        hostname=relay.host,
        port=relay.port,
        timeout=relay.timeout,
        use_tls=relay.implicit_tls,
        start_tls=relay.starttls,
        tls_context=relay.tls_context() if (relay.implicit_tls or relay.starttls) else None,
        local_hostname=LOCAL_HOSTNAME,
    )
    await client.connect()
    if relay.username:
        try:
            await client.login(relay.username, relay.password or "")
        except BaseException:
            _drop(client)
            raise
    log.debug("connected to %s", relay.describe())
    return client


def _classify(exc: Exception) -> tuple[Kind, str, bool]:
    """Return (kind, detail, connection still usable) for an exception from one send."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return ("permanent" if all(c >= 500 for c in codes) else "transient"), detail, True
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return "transient", f"connection dropped: {exc}", False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        usable = exc.code != 421  # 421: the server is closing the connection
        refused_sender = isinstance(exc, aiosmtplib.SMTPSenderRefused)
        kind: Kind = "permanent" if exc.code >= 500 and not refused_sender else "transient"
        return kind, f"{exc.code} {exc.message}", usable
    return "transient", f"{type(exc).__name__}: {exc}", False


def _reason(exc: BaseException) -> str:
    """Say why a connection failed, in words: asyncio says "Connect call failed" for a refused one."""
    text = str(exc)
    errno = getattr(exc.__cause__ or exc, "errno", None)
    if isinstance(errno, int) and errno > 0 and os.strerror(errno).lower() not in text.lower():
        text += f" ({os.strerror(errno)})"
    return text


async def _send_over_one_connection(
    relay: Relay, queue: asyncio.Queue[tuple[int, Wire]], outcomes: dict[int, Outcome]
) -> None:
    client: aiosmtplib.SMTP | None = None
    try:
        while not queue.empty():
            key, message = queue.get_nowait()
            if client is None:
                try:
                    client = await _connect(relay)
                except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                    detail = f"cannot connect to {relay.host}:{relay.port}: {_reason(exc)}"
                    outcomes[key] = Outcome(key, "transient", detail)
                    log.debug("outbox %s: %s", key, outcomes[key].detail)
                    return  # the other connections (or the next pass) take the rest
            try:
                await client.sendmail(message.sender, [message.recipient], message.data)
                outcomes[key] = Outcome(key, "sent")
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                kind, detail, usable = _classify(exc)
                outcomes[key] = Outcome(key, kind, detail)
                client = await _reset_or_drop(client, usable)
            log.debug("outbox %s: %s %s", key, outcomes[key].kind, outcomes[key].detail)
    finally:
        if client is not None:
            await _quit(client)
            log.debug("closed the connection to %s", relay.describe())


async def _reset_or_drop(client: aiosmtplib.SMTP, usable: bool) -> aiosmtplib.SMTP | None:
    if usable and client.is_connected:
        try:
            await client.rset()
            return client
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            pass
    _drop(client)
    return None


def _drop(client: aiosmtplib.SMTP, transport: asyncio.BaseTransport | None = None) -> None:
    # abort(), not a graceful close: a TLS close waits for the peer's close_notify, and the event
    # loop may be gone by then, leaving the socket open.
    transport = transport or client.transport
    client.close()
    if transport is not None:
        # aiosmtplib types it BaseTransport but keeps the asyncio.Transport its connection was made with.
        cast(asyncio.Transport, transport).abort()


async def _quit(client: aiosmtplib.SMTP) -> None:
    transport = client.transport  # quit() forgets it while a TLS shutdown may still be pending
    try:
        if client.is_connected:
            await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        pass
    _drop(client, transport)


async def deliver(relay: Relay, messages: Sequence[tuple[int, Wire]]) -> list[Outcome]:
    """Send messages over at most `relay.concurrency` connections; return one outcome per message."""
    queue: asyncio.Queue[tuple[int, Wire]] = asyncio.Queue()
    for item in messages:
        queue.put_nowait(item)
    outcomes: dict[int, Outcome] = {}
    workers = max(1, min(relay.concurrency, len(messages)))
    await asyncio.gather(*(_send_over_one_connection(relay, queue, outcomes) for _ in range(workers)))
    for key, _ in messages:  # left in the queue because every connection failed
        outcomes.setdefault(key, Outcome(key, "transient", f"no connection to {relay.host}:{relay.port}"))
    return [outcomes[key] for key, _ in messages]


def deliver_sync(relay: Relay, messages: Sequence[tuple[int, Wire]]) -> list[Outcome]:
    """Run `deliver` to completion from synchronous code."""
    return asyncio.run(deliver(relay, messages))
