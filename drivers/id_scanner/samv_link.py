"""The host side of a SAM_V link: one command out, one reply back, bounded.

The module speaks only when spoken to: one reply per command (reference/protocols.md
§1.2). `SamvLink.exchange`:

- drops what waits on the line before it sends (stale bytes, noise);
- sends the frame and takes the first good reply frame that comes within
  ``reply_timeout``; garbage is skipped by the stream decoder (`protocols.samv.
  SamvDecoder`: it resynchronises on the preamble, the stray ``AA 00`` included);
  no reply in time is `HalTimeout`, naming the command and the timeout;
- a reply with a bad checksum (or an impossible length), or SW3 10/11 (the module got
  our frame garbled), sends the command again up to ``retries`` times (every SAM_V
  command may be repeated: status, SAM ID and the reads are idempotent, a find or a
  select again finds or selects the same card); then `ChecksumError` /
  `ProtocolError`;
- a reply that cannot answer the command (a success with the wrong DATA size, an
  error code with DATA) is a late reply to an earlier command: it is dropped and the
  wait goes on;
- an exchange that ended abnormally (no reply in time, cancelled, the port lost)
  leaves the link *dirty*: the next exchange first waits for the abandoned command's
  reply (until one whole frame came, or one ``reply_timeout`` after the abandonment)
  and drops it, so a late reply is never taken as the next command's;
- a port that went away is `ConnectionLost`; the next exchange reopens it.

Exchanges never interleave (a lock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hal.errors import ChecksumError, ConnectionLost, HalTimeout
from hal.transports.base import Transport
from protocols.samv import (
    FINGERPRINT_SIZE,
    NEWEST_ADDRESS_SIZE,
    PHOTO_SIZE,
    Command,
    ReplyFrame,
    SamvDecoder,
    Sw3,
)
from protocols.samv_text import TEXT_SIZE

__all__ = ["SamvLink", "describe", "fits"]

log = logging.getLogger(__name__)

_BASE = 4 + TEXT_SIZE + PHOTO_SIZE
_SUCCESS_SIZES: dict[Command, frozenset[int]] = {
    Command.RESET_SAM: frozenset({0}),
    Command.SAM_STATUS: frozenset({0}),
    Command.READ_SAM_ID: frozenset({16}),
    Command.SELECT_CARD: frozenset({0, 8}),
    Command.READ_BASE: frozenset({_BASE}),
    Command.READ_BASE_FINGERPRINT: frozenset({_BASE + 2, _BASE + 2 + FINGERPRINT_SIZE}),
    Command.READ_NEWEST_ADDRESS: frozenset({NEWEST_ADDRESS_SIZE}),
}


def describe(command: Command) -> str:
    """``read the base message ... (30 01)``: a command for a message."""
    return f"{command.meaning} ({command.cmd:02X} {command.para:02X})"


def fits(command: Command, reply: ReplyFrame) -> bool:
    """Whether ``reply`` can be the answer to ``command`` (its SW3 and DATA size)."""
    if command is Command.FIND_CARD and reply.sw3 == Sw3.CARD_FOUND:
        return len(reply.data) == 4
    if reply.sw3 == Sw3.SUCCESS:
        sizes = _SUCCESS_SIZES.get(command)
        return sizes is None or len(reply.data) in sizes
    return not reply.data


class _Garbled(Exception):
    """A reply came but cannot be used."""


class SamvLink:
    """Command exchanges with a SAM_V module over a transport.

    Args:
        transport: the line (serial, or a USB module's pipes joined).
        name: how messages name the module.
        reply_timeout: seconds for the reply to one command.
        on_lost: called when the port goes away.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        reply_timeout: float = 3.0,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.transport = transport
        self.name = name
        self.reply_timeout = reply_timeout
        self._on_lost = on_lost
        self._decoder = SamvDecoder("reply")
        self._lock = asyncio.Lock()
        self._closed = True
        self._lost = False
        self._late_until: float | None = None  # dirty: a reply may still come until then
        #: Counters: commands sent again, replies garbled, late replies dropped,
        #: abandoned replies drained, reconnections.
        self.resent = 0
        self.garbled = 0
        self.stale = 0
        self.drained = 0
        self.reconnects = 0

    @property
    def dirty(self) -> bool:
        """An exchange ended abnormally; the next one drains first."""
        return self._late_until is not None

    @property
    def noise(self) -> int:
        """Garbage bytes skipped so far."""
        return self._decoder.skipped

    async def open(self) -> None:
        await self.transport.open()
        self._closed = False
        self._lost = False
        self._late_until = None
        self._discard()

    async def close(self) -> None:
        self._closed = True
        await self.transport.close()

    async def exchange(self, command: Command, *, retries: int = 0) -> ReplyFrame:
        """Send ``command`` and return the module's reply (any SW3: the caller maps it).

        Args:
            command: the command (no DATA: no SAM_V command here has any).
            retries: sends again after a garbled reply or SW3 10/11.

        Raises:
            HalTimeout: no reply within ``reply_timeout``.
            ChecksumError: only garbled replies, every time (a last SW3 10/11 reply is
                returned: the caller says what it means).
            ConnectionLost: the port went away (and did not come back).
        """
        what = describe(command)
        frame = command.frame()
        sends = retries + 1
        failures: list[str] = []
        loop = asyncio.get_running_loop()
        async with self._lock:
            await self._reconnect()
            if self._late_until is not None:
                await self._drain()
            for attempt in range(sends):
                if attempt:
                    self.resent += 1
                self._discard()
                sent_at = loop.time()
                try:
                    await self.transport.write(frame)
                    reply = await self._reply(command, sent_at + self.reply_timeout)
                except _Garbled as exc:
                    self.garbled += 1
                    failures.append(str(exc))
                except HalTimeout:
                    self._late_until = loop.time() + self.reply_timeout
                    raise HalTimeout(
                        f"{self.name}: no reply to {what} within {self.reply_timeout} s"
                    ) from None
                except ConnectionLost:
                    self._late_until = loop.time()
                    self._mark_lost()
                    raise
                except BaseException:  # cancelled: the reply may still come
                    self._late_until = sent_at + self.reply_timeout
                    raise
                else:
                    if reply.sw3 not in (Sw3.CHECKSUM_ERROR, Sw3.LENGTH_ERROR):
                        return reply
                    failures.append(f"the module refused the frame: {reply.meaning}")
                    if attempt + 1 == sends:
                        return reply  # the caller says what 10/11 means
                log.info(
                    "%s: %s: %s (send %d of %d)", self.name, what, failures[-1], attempt + 1, sends
                )
        summary = f"{self.name}: {what} failed {sends} time(s): {'; '.join(failures)}"
        raise ChecksumError(summary)

    async def _reply(self, command: Command, deadline: float) -> ReplyFrame:
        loop = asyncio.get_running_loop()
        decoder = self._decoder
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise HalTimeout(f"{self.name}: no reply")
            data = await self.transport.read(4096, timeout=remaining)
            bad = decoder.bad_frames
            frames = decoder.feed(data)
            if decoder.bad_frames != bad:
                raise _Garbled("a reply with a bad checksum or length")
            for frame in frames:
                assert isinstance(frame, ReplyFrame)
                if fits(command, frame):
                    return frame
                self.stale += 1
                log.info("%s: dropped a reply that does not answer %s", self.name, command.name)

    async def _drain(self) -> None:
        """Wait for the abandoned exchange's reply (bounded) and drop it."""
        loop = asyncio.get_running_loop()
        until = self._late_until or 0.0
        decoder = self._decoder
        bad = decoder.bad_frames
        while True:
            remaining = until - loop.time()
            if remaining <= 0:
                break
            try:
                data = await self.transport.read(4096, timeout=remaining)
            except HalTimeout:
                break
            if decoder.feed(data) or decoder.bad_frames != bad:
                self.drained += 1
                break
        self._late_until = None
        self._discard()

    def _discard(self) -> None:
        stale = self.transport.flush_input() + self._decoder.pending
        self._decoder.reset()
        if stale:
            log.debug("%s: %d stale bytes dropped", self.name, stale)

    def _mark_lost(self) -> None:
        if self._lost:
            return
        self._lost = True
        log.warning("%s: the port went away (%s)", self.name, self.transport.name)
        if self._on_lost is not None:
            self._on_lost()

    async def _reconnect(self) -> None:
        if self._closed:
            raise ConnectionLost(f"{self.name}: the port was closed")
        if not self._lost:
            return
        try:
            await self.transport.reopen()
        except ConnectionLost as exc:
            raise ConnectionLost(
                f"{self.name}: the SAM_V module is not connected: {exc.message}"
            ) from exc
        self._lost = False
        self._late_until = None
        self.reconnects += 1
        self._discard()
        log.info("%s: the port is back", self.name)
