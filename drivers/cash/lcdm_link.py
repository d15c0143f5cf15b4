"""The host side of the LCDM link: one command exchange at a time over a transport.

One exchange (reference/protocols.md §3.1)::

    host: command frame  ->  dispenser: ACK (NAK: send it again)
                             dispenser: reply frame (60 s for a dispense)
    host: ACK            (a broken reply: NAK, and the dispenser sends it again)

`LcdmLink.exchange` does that on the shared engine
(`drivers.card_reader.creator_link.CreatorLink`, which the Creator readers use for the
same handshake): a NAK or no ACK within ``ack_timeout`` sends the command again, up to
``retries`` more times, then `ChecksumError` (NAKs) or `HalTimeout` (silence); a reply
with a bad BCC is NAKed up to ``retries`` times, then `ChecksumError`; no reply within
the reply timeout is `HalTimeout`; noise is counted and skipped; a port that went away
is `ConnectionLost` and reopened at the next exchange.

What the LCDM adds:

- a reply must be a reply frame (SOH) with the model's ID and the command's code; any
  other good frame is a late answer to an abandoned exchange, skipped (``stale``);
- a reply with a good BCC whose DATA does not decode is NAKed like a bad BCC (the spec
  says a bad reply is NAKed up to 3 times), then `ProtocolError`;
- the LCDM has no "clear the line" byte: after an exchange that ended abnormally the
  next one first waits until the line has been quiet for ``settle`` seconds and drops
  what came [limit: a reply later than that is still skipped by its code, unless it
  answers the same command code].

A resend after a lost ACK can run a command twice on a real unit (the LCDM does not
number its frames); the driver's dispense never resends after the ACK came.
"""

from __future__ import annotations

import logging

from drivers.card_reader.creator_link import CreatorLink
from hal.errors import HalTimeout, ProtocolError
from hal.transports.base import Transport
from protocols.lcdm import Control, Direction, Frame, Item, LcdmStreamDecoder, Model
from protocols.lcdm_commands import Command
from protocols.lcdm_replies import Reply, parse_reply

__all__ = ["LcdmLink"]

log = logging.getLogger(__name__)

_ACK, _NAK = bytes((Control.ACK,)), bytes((Control.NAK,))


class LcdmLink(CreatorLink):
    """Command exchanges with an LCDM over a transport.

    Args:
        transport: the link to the dispenser (serial in production).
        model: the dispenser model (its ID and reply layouts).
        name: how messages name the dispenser.
        retries: sends after the first at a NAK or a missing ACK; NAKs of a bad reply.
        ack_timeout: seconds for the ACK of a command.
        reply_timeout: seconds for the reply after the ACK, by default.
        settle: seconds of quiet awaited before the exchange after an abnormal one.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        model: Model,
        name: str = "lcdm",
        retries: int = 3,
        ack_timeout: float = 0.5,
        reply_timeout: float = 60.0,
        settle: float = 0.05,
    ) -> None:
        super().__init__(
            transport,
            decoder=LcdmStreamDecoder(),
            ack=Control.ACK,
            nak=Control.NAK,
            name=name,
            party="dispenser",
            retries=retries,
            ack_timeout=ack_timeout,
            reply_timeout=reply_timeout,
            on_lost=None,
            on_back=None,
        )
        self.model = model
        self.settle = settle
        #: Frames skipped as late answers to something else; replies NAKed because
        #: their DATA did not decode.
        self.stale = 0
        self.undecodable = 0

    async def exchange(self, command: Command, *, reply_timeout: float | None = None) -> Reply:
        """Send ``command`` and return the dispenser's decoded reply.

        Raises:
            HalTimeout: no ACK after every send, or no reply in time.
            ChecksumError: NAKs after every send, or replies whose BCC never matched.
            ProtocolError: replies that never decoded (after the NAKs).
            ConnectionLost: the port went away (and did not come back).
        """
        what = f"{command.op.value} (0x{command.code:02X})"
        refused = 0

        async def accept(item: Item) -> Reply | None:
            nonlocal refused
            if not isinstance(item, Frame):
                return None  # a repeated ACK answers nothing we asked
            if (
                item.direction is not Direction.REPLY
                or item.frame_id != self.model.frame_id
                or item.cmd != command.code
            ):
                self.stale += 1
                log.debug("%s: skipped a frame that does not answer %s", self.name, what)
                return None
            try:
                reply = parse_reply(item, self.model)
            except ProtocolError as exc:
                refused += 1
                self.undecodable += 1
                if refused > self.retries:
                    raise ProtocolError(
                        f"{self.name}: the reply to {what} did not decode {refused} times: "
                        f"{exc.message}"
                    ) from None
                await self.transport.write(_NAK)
                return None
            await self.transport.write(_ACK)
            return reply

        timeout = self.reply_timeout if reply_timeout is None else reply_timeout
        return await self._transact(command.encode(), what, timeout, b"", accept)

    async def _resync(self) -> None:
        """Wait for a quiet line, then drop what came (the LCDM has no clear byte)."""
        while True:
            try:
                await self.transport.read(4096, timeout=self.settle)
            except HalTimeout:
                break
        self._discard()
        self._dirty = False
        self.resyncs += 1
