"""The host side of an ID-003 link: one frame out, one frame back, bounded.

The validator answers every host frame with one frame (reference/protocols.md §3.5),
except the host's ACK to VEND VALID [U: no answer]. `Id003Link.exchange`:

- drops what waits on the line before it sends (the validator speaks only when asked:
  anything there is a late answer to an abandoned exchange, or noise);
- sends the frame and takes the first good frame that comes within ``reply_timeout``;
  noise is counted and skipped;
- a lost answer (silence), a garbled one (bad CRC, a frame that does not decode) or
  COMMUNICATION ERROR (4A: the validator saw a bad CRC) sends the frame again, up to
  ``retries`` more times, then `HalTimeout` / `ChecksumError` / `ProtocolError`;
  ``resend=False`` (the operation commands: stack, return, reset) raises at the first
  such failure instead, and the driver asks the status to find out whether the
  validator took the command: a stack is never sent twice for one note;
- a port that went away is `ConnectionLost`, reopened at the next exchange.

Exchanges never interleave (a lock).
"""

from __future__ import annotations

import asyncio
import logging

from hal.errors import ChecksumError, ConnectionLost, HalTimeout, ProtocolError
from hal.transports.base import Transport
from protocols.id003 import BadFrame, BadFrameReason, Frame, Id003StreamDecoder
from protocols.id003_messages import Command, CommandCode, Reply, Status, StatusCode, parse_reply

__all__ = ["Id003Link"]

log = logging.getLogger(__name__)


class _Garbled(Exception):
    """An answer that came but cannot be used (bad CRC, undecodable, 4A)."""


class Id003Link:
    """Frame exchanges with an ID-003 validator over a transport.

    Args:
        transport: the line (serial in production).
        name: how messages name the validator.
        retries: sends after the first when the answer is lost or garbled.
        reply_timeout: seconds for the answer to one frame.
    """

    def __init__(
        self, transport: Transport, *, name: str, retries: int = 3, reply_timeout: float = 0.5
    ) -> None:
        self.transport = transport
        self.name = name
        self.retries = retries
        self.reply_timeout = reply_timeout
        self._decoder = Id003StreamDecoder()
        self._lock = asyncio.Lock()
        self._lost = False
        self._closed = True
        #: Counters: frames sent again, answers lost, answers garbled, noise bytes.
        self.resent = 0
        self.lost_replies = 0
        self.garbled = 0
        self.noise = 0
        self.reconnects = 0

    async def open(self) -> None:
        await self.transport.open()
        self._closed = False
        self._lost = False
        self._decoder.reset()

    async def close(self) -> None:
        self._closed = True
        await self.transport.close()

    async def send_ack(self) -> None:
        """The host's ACK (to VEND VALID): sent once, no answer awaited [U]."""
        async with self._lock:
            await self._reconnect()
            try:
                await self.transport.write(Command(CommandCode.ACK).to_bytes())
            except ConnectionLost:
                self._lost = True
                raise

    async def exchange(self, command: Command, *, resend: bool = True) -> Reply:
        """Send ``command`` and return the validator's decoded answer.

        Raises:
            HalTimeout: no answer (after every send).
            ChecksumError: only garbled answers.
            ProtocolError: answers that never decoded.
            ConnectionLost: the port went away (and did not come back).
        """
        what = f"{command.code.name} ({int(command.code):02X})"
        frame = command.to_bytes()
        sends = self.retries + 1 if resend else 1
        failures: list[str] = []
        async with self._lock:
            await self._reconnect()
            for attempt in range(sends):
                if attempt:
                    self.resent += 1
                self._discard()
                try:
                    await self.transport.write(frame)
                    return await self._answer()
                except ConnectionLost:
                    self._lost = True
                    raise
                except HalTimeout:
                    self.lost_replies += 1
                    failures.append("no answer")
                except _Garbled as exc:
                    self.garbled += 1
                    failures.append(str(exc))
                log.info(
                    "%s: %s: %s (send %d of %d)", self.name, what, failures[-1], attempt + 1, sends
                )
        summary = f"{self.name}: {what} failed {sends} time(s): {'; '.join(failures)}"
        if all(f == "no answer" for f in failures):
            raise HalTimeout(summary)
        if any("CRC" in f for f in failures):
            raise ChecksumError(summary)
        raise ProtocolError(summary)

    async def _answer(self) -> Reply:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reply_timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise HalTimeout(f"{self.name}: no answer")
            data = await self.transport.read(4096, timeout=remaining)
            for item in self._decoder.feed(data):
                if isinstance(item, BadFrame):
                    if item.reason is BadFrameReason.NOISE:
                        self.noise += len(item.raw)
                        continue
                    raise _Garbled("an answer with a bad CRC")
                return self._decode(item)

    def _decode(self, frame: Frame) -> Reply:
        try:
            reply = parse_reply(frame)
        except ProtocolError as exc:
            raise _Garbled(f"an answer that does not decode: {exc.message}") from None
        if isinstance(reply, Status) and reply.code is StatusCode.COMMUNICATION_ERROR:
            raise _Garbled("COMMUNICATION ERROR (the validator got a bad CRC)")
        return reply

    def _discard(self) -> None:
        stale = self.transport.flush_input() + self._decoder.pending
        self._decoder.reset()
        if stale:
            log.debug("%s: %d stale bytes dropped", self.name, stale)

    async def _reconnect(self) -> None:
        if self._closed:
            raise ConnectionLost(f"{self.name}: the port was closed")
        if not self._lost:
            return
        try:
            await self.transport.reopen()
        except ConnectionLost as exc:
            raise ConnectionLost(
                f"{self.name}: the validator is not connected: {exc.message}"
            ) from exc
        self._lost = False
        self.reconnects += 1
        log.info("%s: the port is back", self.name)
