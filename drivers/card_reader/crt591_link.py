"""The host side of the CRT-591 link: one command exchange at a time over a transport.

One exchange (reference/protocols.md §2.2)::

    host: command frame  ->  reader: ACK (NAK: bad BCC, send it again)
                             reader: reply frame (positive or negative)
    host: ACK            (a reply with a bad BCC: NAK, and the reader sends it again)

`Crt591Link.exchange` does that with bounded retries and per-step timeouts:

- a NAK, or no ACK within ``ack_timeout`` (the reference says 300 ms), sends the
  command again, up to ``retries`` more times; then `ChecksumError` (NAKs) or
  `HalTimeout` (silence). A resend after a lost ACK can run a command twice on a real
  unit; the CRT-591 does not number its frames, so nobody can tell [limit];
- a reply with a bad BCC is NAKed up to ``retries`` times [assumption: the unit sends
  it again]; then `ChecksumError`; no reply within ``reply_timeout`` is `HalTimeout`;
- garbage on the line is skipped: the stream decoder resynchronises on the next frame
  or control byte; bytes waiting before an exchange starts are stale and dropped;
- a reply must echo the command's CM PM and come from the link's address: any other
  frame is the late answer to an exchange that was abandoned, or another unit's, and is
  skipped (counted in ``stale``);
- an exchange that ended abnormally (timeout, cancellation, a lost port) leaves the
  link *dirty*: the next one first sends EOT ("clear the line"); the unit does not echo
  it [assumption], so a late reply can still come and is skipped by its echo;
- a port that went away (`ConnectionLost`) is reopened at the next exchange; if it is
  still gone, that exchange raises `ConnectionLost` at once.

Exchanges never interleave: a lock serialises the driver's commands, its status polls
and its background watcher. The engine (retries, timeouts, noise, reconnection) is
`drivers.card_reader.creator_link.CreatorLink`, shared with the CRT-310; this module
adds the CRT-591's address, its reply check and ACK, and its unechoed EOT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.card_reader.creator_link import CreatorLink
from hal.transports.base import Transport
from protocols.crt591 import (
    Control,
    Crt591StreamDecoder,
    Frame,
    Item,
    Refusal,
    Reply,
    Request,
    build_frame,
    decode_text,
    encode_text,
)

__all__ = ["Crt591Link"]

log = logging.getLogger(__name__)

_ACK, _EOT = bytes((Control.ACK,)), bytes((Control.EOT,))


class Crt591Link(CreatorLink):
    """Command exchanges with a CRT-591 over a transport.

    Args:
        transport: the link to the unit (serial in production).
        address: the unit's bus address (0..15).
        name: how messages name the unit.
        retries: sends after the first, at a NAK or a missing ACK; NAKs of a bad reply.
        ack_timeout: seconds for the ACK of a command.
        reply_timeout: seconds for the reply after the ACK (a card movement takes a while).
        on_lost: called when the port goes away.
        on_back: called when a reopen found it again.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        address: int = 0,
        name: str = "crt591",
        retries: int = 3,
        ack_timeout: float = 0.3,
        reply_timeout: float = 5.0,
        on_lost: Callable[[], None] | None = None,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            transport,
            decoder=Crt591StreamDecoder(),
            ack=Control.ACK,
            nak=Control.NAK,
            name=name,
            party="unit",
            retries=retries,
            ack_timeout=ack_timeout,
            reply_timeout=reply_timeout,
            on_lost=on_lost,
            on_back=on_back,
        )
        self.address = address
        #: Frames skipped as stale or foreign (the other counters are the engine's;
        #: ``resyncs`` counts EOTs sent).
        self.stale = 0

    async def exchange(
        self, request: Request, *, what: str, reply_timeout: float | None = None
    ) -> Reply | Refusal:
        """Send a command and return the unit's decoded reply.

        Args:
            request: the command.
            what: its name, for messages.
            reply_timeout: seconds for the reply; the link's default if ``None``.

        Raises:
            HalTimeout: no ACK after every retry, or no reply in time.
            ChecksumError: NAKs after every retry, or replies whose BCC never matched.
            ConnectionLost: the port went away (and did not come back).
            ProtocolError: a reply that does not decode.
        """
        frame = build_frame(encode_text(request), self.address)

        async def accept(item: Item) -> Reply | Refusal | None:
            if not isinstance(item, Frame):
                return None  # a repeated ACK answers nothing we asked
            if item.address != self.address:
                self.stale += 1
                return None
            message = decode_text(item.text)
            if isinstance(message, Request) or (message.cm, message.pm) != (
                request.cm,
                request.pm,
            ):
                self.stale += 1
                log.debug("%s: skipped a frame that does not answer %s", self.name, what)
                return None
            await self.transport.write(_ACK)
            return message

        return await self._transact(frame, what, reply_timeout or self.reply_timeout, b"", accept)

    def _skipped(self, item: Item) -> None:
        # A late reply to an abandoned exchange: not the answer to this frame.
        if isinstance(item, Frame):
            self.stale += 1

    async def _resync(self) -> None:
        """EOT: the unit drops what it held for us (it sends nothing back)."""
        self._discard()
        await self.transport.write(_EOT)
        self._dirty = False
        self.resyncs += 1
        log.debug("%s: cleared the line with EOT", self.name)
