"""The host side of the CRT-310 link: one command exchange at a time over a transport.

One exchange (reference/protocols.md §2.1)::

    host: command frame  ->  reader: ACK (NAK: bad BCC, send it again)
    host: ENQ            ->  reader: reply frame (bad BCC: the host sends NAK, the
                                     reader sends the reply again)

`Crt310Link.exchange` does that with bounded retries and per-step timeouts:

- a NAK, or no ACK within ``ack_timeout``, sends the command again, up to ``retries``
  more times (the reader executes only at ENQ, so a repeat is harmless); then
  `ChecksumError` (NAKs) or `HalTimeout` (silence);
- a reply with a bad BCC is NAKed up to ``retries`` times; then `ChecksumError`; no
  reply within ``reply_timeout`` is `HalTimeout`;
- garbage on the line is skipped: the stream decoder resynchronises on the next frame
  or control byte, and bytes waiting before an exchange starts are stale and dropped;
- an exchange that ended abnormally (timeout, cancellation, a lost port) leaves the
  link *dirty*: the next one first sends EOT and waits for its echo, which drops
  whatever the reader still had acknowledged (the reader answers a command it was
  already executing first, then the EOT);
- a port that went away (`ConnectionLost`) is reopened at the next exchange; if it is
  still gone, that exchange raises `ConnectionLost` at once.

Exchanges never interleave: a lock serialises the driver's commands, its status polls
and its background watcher. The engine (retries, timeouts, noise, reconnection) is
`drivers.card_reader.creator_link.CreatorLink`, shared with the CRT-591; this module
adds the CRT-310's ENQ, its reply check and its EOT echo.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from drivers.card_reader.creator_link import CreatorLink, shielded
from hal.errors import HalTimeout
from hal.transports.base import Transport
from protocols.crt310 import (
    Command,
    Control,
    Crt310StreamDecoder,
    Frame,
    Item,
    Reply,
    decode_reply,
)

__all__ = ["Crt310Link", "shielded"]

log = logging.getLogger(__name__)

_ENQ, _EOT = bytes((Control.ENQ,)), bytes((Control.EOT,))


class Crt310Link(CreatorLink):
    """Command exchanges with a CRT-310 over a transport.

    Args:
        transport: the link to the reader (serial in production).
        name: how messages name the reader.
        retries: sends after the first, at a NAK or a missing ACK; NAKs of a bad reply.
        ack_timeout: seconds for the ACK of a command and the echo of an EOT.
        reply_timeout: seconds for the reply after ENQ (a card movement takes a while).
        on_lost: called when the port goes away.
        on_back: called when a reopen found it again.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str = "crt310",
        retries: int = 3,
        ack_timeout: float = 0.5,
        reply_timeout: float = 5.0,
        on_lost: Callable[[], None] | None = None,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            transport,
            decoder=Crt310StreamDecoder(),
            ack=Control.ACK,
            nak=Control.NAK,
            name=name,
            party="reader",
            retries=retries,
            ack_timeout=ack_timeout,
            reply_timeout=reply_timeout,
            on_lost=on_lost,
            on_back=on_back,
        )

    async def exchange(
        self, frame: bytes, request: Command, *, reply_timeout: float | None = None
    ) -> Reply:
        """Send a command frame and return the reader's decoded reply.

        Args:
            frame: the encoded command (``protocols.crt310.build_*``).
            request: the command it is, to check the reply's echo.
            reply_timeout: seconds for the reply; the link's default if ``None``.

        Raises:
            HalTimeout: no ACK after every retry, or no reply in time.
            ChecksumError: NAKs after every retry, or replies whose BCC never matched.
            ConnectionLost: the port went away (and did not come back).
            ProtocolError: a reply that does not decode as the answer to ``request``.
        """
        reply = await self._transact(
            frame, request.name, reply_timeout or self.reply_timeout, _ENQ, _first_frame
        )
        return decode_reply(reply, request)

    async def _resync(self) -> None:
        """EOT, then wait for its echo: the reader holds nothing acknowledged after it."""
        self._discard()
        await self.transport.write(_EOT)
        deadline = asyncio.get_running_loop().time() + self.reply_timeout
        try:
            while await self._next(deadline) is not Control.EOT:
                pass
        except HalTimeout:
            raise HalTimeout(
                f"{self.name}: the reader did not echo EOT within {self.reply_timeout} s"
            ) from None
        self._dirty = False
        self.resyncs += 1
        log.debug("%s: resynchronised with EOT", self.name)


async def _first_frame(item: Item) -> Frame | None:
    # Control bytes here (a repeated ACK, an EOT echo) answer nothing we asked.
    return item if isinstance(item, Frame) else None
