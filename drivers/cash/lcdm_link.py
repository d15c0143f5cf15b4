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
  answers the same command code]. That wait is bounded: a line that does not go quiet
  within ``resync_timeout`` ends the exchange, unsent, with `LineNotQuiet` (a
  `HalTimeout`), the lock released; the next exchange waits for quiet again.

- a command that moves notes is sent again only when nothing but silence or a clean NAK
  (one followed by ``settle`` seconds of silence) came back. Any other answer while the
  ACK is awaited (the reply itself, a frame with a bad BCC, the start of a frame still
  incomplete at the ACK deadline, an ACK after a NAK) means the dispenser got the
  command and may be carrying it out, so the link goes on to the reply (NAKing a broken
  one) instead of sending it again. Noise that swallowed the ACK, or a noise byte 15h
  before it, was found to run a dispense twice otherwise.

A resend after an ACK lost without a trace can still run a command twice on a real unit
(the LCDM does not number its frames); nobody can tell.
"""

from __future__ import annotations

import asyncio
import logging

from drivers.card_reader.creator_link import CreatorLink
from hal.errors import ChecksumError, ConnectionLost, HalTimeout, ProtocolError
from hal.transports.base import Transport
from protocols.lcdm import BadFrame, Control, Direction, Frame, Item, LcdmStreamDecoder, Model
from protocols.lcdm_commands import CODES, Command, Op
from protocols.lcdm_replies import Reply, parse_reply

__all__ = ["LcdmLink", "LineNotQuiet"]

log = logging.getLogger(__name__)

_ACK, _NAK = bytes((Control.ACK,)), bytes((Control.NAK,))
#: The commands that move notes (never sent again once the dispenser may have them).
_MOVING_OPS = frozenset(
    {
        Op.PURGE,
        Op.DISPENSE,
        Op.UPPER_DISPENSE,
        Op.LOWER_DISPENSE,
        Op.UPPER_LOWER_DISPENSE,
        Op.TEST_DISPENSE,
        Op.UPPER_TEST_DISPENSE,
        Op.LOWER_TEST_DISPENSE,
    }
)


class LineNotQuiet(HalTimeout):
    """The line never went quiet before an exchange, so its command was not sent.

    A `HalTimeout` (a remote client sees one): the wait for quiet has a deadline
    (`LcdmLink` ``resync_timeout``) so that a babbling line cannot hold the link.
    """


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
        resync_timeout: seconds the wait for that quiet may take before the exchange
            fails with `LineNotQuiet` (nothing sent); by default ``ack_timeout`` x
            (``retries`` + 1), what the sends of one command may wait for their ACK.
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
        resync_timeout: float | None = None,
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
        self.resync_timeout = (
            ack_timeout * (retries + 1) if resync_timeout is None else resync_timeout
        )
        #: Waits for a quiet line that hit ``resync_timeout``.
        self.noisy_resyncs = 0
        #: Frames skipped as late answers to something else; replies NAKed because
        #: their DATA did not decode.
        self.stale = 0
        self.undecodable = 0
        #: Moving commands whose receipt was inferred from an answer other than ACK.
        self.taken_as_ack = 0
        self._moving = frozenset(code for op, code in CODES[model].items() if op in _MOVING_OPS)

    async def exchange(self, command: Command, *, reply_timeout: float | None = None) -> Reply:
        """Send ``command`` and return the dispenser's decoded reply.

        Raises:
            HalTimeout: no ACK after every send, or no reply in time.
            LineNotQuiet: (a `HalTimeout`) after an abnormal exchange the line did not
                go quiet within ``resync_timeout``; the command was not sent.
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

    async def _send_command(self, frame: bytes, what: str) -> None:
        """Send ``frame`` until ACKed; a moving command only while it surely was not
        received (see the module header)."""
        code = frame[3]
        if code not in self._moving:
            await super()._send_command(frame, what)
            return
        loop = asyncio.get_running_loop()
        refusals = 0
        sends = self.retries + 1
        for attempt in range(sends):
            if attempt:
                self.resent += 1
            await self.transport.write(frame)
            deadline = loop.time() + self.ack_timeout
            refused = False
            while True:
                try:
                    item = await self._next(deadline)
                except HalTimeout:
                    if self._decoder.pending:  # it began to answer: it has the command
                        self.taken_as_ack += 1
                        return
                    self._discard()
                    break
                if item is self._ack:
                    return
                if item is self._nak:
                    self.naks += 1
                    # A NAK then an ACK or a reply: the NAK was noise, the command is in.
                    deadline = min(deadline, loop.time() + self.settle)
                    refused = True
                    continue
                if isinstance(item, BadFrame) or (isinstance(item, Frame) and item.cmd == code):
                    self._items.appendleft(item)  # the reply phase takes it (or NAKs it)
                    self.taken_as_ack += 1
                    log.info("%s: %s taken as received (an answer came, no ACK)", self.name, what)
                    return
                self._skipped(item)
            refusals += refused
            why = "NAK" if refused else "no ACK"
            log.info("%s: %s for %s (send %d of %d)", self.name, why, what, attempt + 1, sends)
        if refusals == sends:
            raise ChecksumError(
                f"{self.name}: the dispenser answered {what} with NAK {sends} times "
                "(its BCC check failed: line noise?)"
            )
        raise HalTimeout(
            f"{self.name}: the dispenser did not acknowledge {what} "
            f"({sends} sends, {self.ack_timeout} s each)"
        )

    def _skipped(self, item: object) -> None:
        if isinstance(item, Frame):
            self.stale += 1

    async def settle_line(self) -> None:
        """Clear the line now if the last exchange ended abnormally (else nothing).

        For a caller that must know a command was not sent because of the line (a
        `LineNotQuiet` here) rather than lost on the way (the same error from
        `exchange`, which a caller cannot tell from its other timeouts by the moment).

        Raises:
            LineNotQuiet: the line did not go quiet within ``resync_timeout``.
            ConnectionLost: the port went away meanwhile.
        """
        async with self._lock:
            if self._dirty and not (self._lost or self._closed):  # else the exchange says
                try:
                    await self._resync()
                except ConnectionLost:
                    self._mark_lost()
                    raise

    async def _resync(self) -> None:
        """Wait for a quiet line, then drop what came (the LCDM has no clear byte).

        Bounded: a line that never stays quiet for ``settle`` seconds (a babbling
        port, a dispenser that keeps sending) ends it after ``resync_timeout``
        seconds, plus at most one last ``settle`` wait, with `LineNotQuiet`. The
        link stays dirty, so the next exchange waits for quiet again.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resync_timeout
        dropped = 0
        while True:
            if loop.time() >= deadline:
                self.noisy_resyncs += 1
                self._discard()
                raise LineNotQuiet(
                    f"{self.name}: the line did not go quiet for {self.settle} s within "
                    f"{self.resync_timeout} s ({dropped} bytes dropped); nothing was sent"
                )
            try:
                data = await self.transport.read(4096, timeout=self.settle)
            except HalTimeout:
                break
            dropped += len(data)
        self._discard()
        self._dirty = False
        self.resyncs += 1
