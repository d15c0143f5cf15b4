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
and its background watcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from hal.errors import ChecksumError, ConnectionLost, HalTimeout
from hal.transports.base import Transport
from protocols.crt591 import (
    BadFrame,
    BadFrameReason,
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

_ACK, _NAK, _EOT = bytes((Control.ACK,)), bytes((Control.NAK,)), bytes((Control.EOT,))


class Crt591Link:
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
        self.transport = transport
        self.address = address
        self.name = name
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.reply_timeout = reply_timeout
        self._on_lost = on_lost
        self._on_back = on_back
        self._decoder = Crt591StreamDecoder()
        self._items: deque[Item] = deque()
        self._lock = asyncio.Lock()
        self._dirty = False
        self._lost = False
        #: Counters: commands sent again, NAKs received, replies NAKed, noise bytes
        #: skipped, frames skipped as stale or foreign, EOTs sent, reconnections.
        self.resent = 0
        self.naks = 0
        self.bad_replies = 0
        self.noise = 0
        self.stale = 0
        self.resyncs = 0
        self.reconnects = 0

    @property
    def lost(self) -> bool:
        """The port went away and has not been reopened yet."""
        return self._lost

    async def open(self) -> None:
        """Open the transport."""
        await self.transport.open()
        self._lost = False
        self._dirty = False
        self._discard()

    async def close(self) -> None:
        """Close the transport."""
        await self.transport.close()

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
        async with self._lock:
            await self._reconnect()
            try:
                if self._dirty:
                    await self._clear_line()
                self._discard()
                await self._send_command(frame, what)
                reply = await self._receive_reply(
                    request, what, reply_timeout or self.reply_timeout
                )
            except ConnectionLost:
                self._dirty = True
                self._mark_lost()
                raise
            except BaseException:
                self._dirty = True
                raise
        return reply

    async def _reconnect(self) -> None:
        if not self._lost:
            return
        try:
            await self.transport.reopen()
        except ConnectionLost as exc:
            raise ConnectionLost(f"{self.name}: the unit is not connected: {exc.message}") from exc
        self._lost = False
        self._dirty = True
        self.reconnects += 1
        log.info("%s: the port is back (%s)", self.name, self.transport.name)
        if self._on_back is not None:
            self._on_back()

    def _mark_lost(self) -> None:
        if self._lost:
            return
        self._lost = True
        log.warning("%s: the port went away (%s)", self.name, self.transport.name)
        if self._on_lost is not None:
            self._on_lost()

    def _discard(self) -> None:
        """Drop what came unasked: the unit only speaks when spoken to."""
        stale = self.transport.flush_input() + self._decoder.pending + len(self._items)
        self._decoder.reset()
        self._items.clear()
        if stale:
            log.debug("%s: %d stale bytes or items dropped", self.name, stale)

    async def _next(self, deadline: float) -> Item:
        """The next frame, bad frame or control byte (noise is counted and skipped)."""
        loop = asyncio.get_running_loop()
        while not self._items:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise HalTimeout(f"{self.name}: nothing from the unit")
            data = await self.transport.read(4096, timeout=remaining)
            for item in self._decoder.feed(data):
                if isinstance(item, BadFrame) and item.reason is BadFrameReason.NOISE:
                    self.noise += len(item.raw)
                    log.debug("%s: skipped %s", self.name, item.detail)
                    continue
                self._items.append(item)
        return self._items.popleft()

    async def _send_command(self, frame: bytes, what: str) -> None:
        loop = asyncio.get_running_loop()
        refusals = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self.resent += 1
            await self.transport.write(frame)
            deadline = loop.time() + self.ack_timeout
            while True:
                try:
                    item = await self._next(deadline)
                except HalTimeout:
                    why = "no ACK"
                    # Half a frame that never completed is noise (garbage with an STX
                    # in it can hide the ACK behind a plausible length): start afresh.
                    self._discard()
                    break
                if item is Control.ACK:
                    return
                if item is Control.NAK:
                    self.naks += 1
                    refusals += 1
                    why = "NAK"
                    break
                # A late reply to an abandoned exchange: not the answer to this frame.
                if isinstance(item, Frame):
                    self.stale += 1
            log.info(
                "%s: %s for %s (send %d of %d)", self.name, why, what, attempt + 1, self.retries + 1
            )
        sends = self.retries + 1
        if refusals == sends:
            raise ChecksumError(
                f"{self.name}: the unit answered {what} with NAK {sends} times "
                "(its BCC check failed: line noise?)"
            )
        raise HalTimeout(
            f"{self.name}: the unit did not acknowledge {what} "
            f"({sends} sends, {self.ack_timeout} s each)"
        )

    async def _receive_reply(self, request: Request, what: str, timeout: float) -> Reply | Refusal:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        refused = 0
        while True:
            try:
                item = await self._next(deadline)
            except HalTimeout:
                raise HalTimeout(f"{self.name}: no reply to {what} within {timeout} s") from None
            if isinstance(item, BadFrame):
                refused += 1
                self.bad_replies += 1
                if refused > self.retries:
                    raise ChecksumError(
                        f"{self.name}: the reply to {what} failed its BCC "
                        f"{refused} times ({item.detail})"
                    )
                await self.transport.write(_NAK)
                deadline = loop.time() + timeout
                continue
            if not isinstance(item, Frame):
                continue  # a repeated ACK answers nothing we asked
            if item.address != self.address:
                self.stale += 1
                continue
            message = decode_text(item.text)
            if isinstance(message, Request) or (message.cm, message.pm) != (
                request.cm,
                request.pm,
            ):
                self.stale += 1
                log.debug("%s: skipped a frame that does not answer %s", self.name, what)
                continue
            await self.transport.write(_ACK)
            return message

    async def _clear_line(self) -> None:
        """EOT: the unit drops what it held for us (it sends nothing back)."""
        self._discard()
        await self.transport.write(_EOT)
        self._dirty = False
        self.resyncs += 1
        log.debug("%s: cleared the line with EOT", self.name)
