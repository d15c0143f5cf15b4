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
and its background watcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hal.errors import ChecksumError, ConnectionLost, HalTimeout
from hal.transports.base import Transport
from protocols.crt310 import (
    BadFrame,
    BadFrameReason,
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

T = TypeVar("T")

_ENQ, _NAK, _EOT = bytes((Control.ENQ,)), bytes((Control.NAK,)), bytes((Control.EOT,))


class Crt310Link:
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
        self.transport = transport
        self.name = name
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.reply_timeout = reply_timeout
        self._on_lost = on_lost
        self._on_back = on_back
        self._decoder = Crt310StreamDecoder()
        self._items: deque[Item] = deque()
        self._lock = asyncio.Lock()
        self._dirty = False
        self._lost = False
        #: Counters: commands sent again, NAKs received, replies NAKed, noise bytes
        #: skipped, EOT resynchronisations, reconnections.
        self.resent = 0
        self.naks = 0
        self.bad_replies = 0
        self.noise = 0
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
        async with self._lock:
            await self._reconnect()
            try:
                if self._dirty:
                    await self._resync()
                self._discard()
                await self._send_command(frame, request)
                await self.transport.write(_ENQ)
                reply = await self._receive_reply(request, reply_timeout or self.reply_timeout)
            except ConnectionLost:
                self._dirty = True
                self._mark_lost()
                raise
            except BaseException:
                self._dirty = True
                raise
        return decode_reply(reply, request)

    async def _reconnect(self) -> None:
        if not self._lost:
            return
        try:
            await self.transport.reopen()
        except ConnectionLost as exc:
            raise ConnectionLost(
                f"{self.name}: the reader is not connected: {exc.message}"
            ) from exc
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
        """Drop what came unasked: the reader only speaks when spoken to."""
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
                raise HalTimeout(f"{self.name}: nothing from the reader")
            data = await self.transport.read(4096, timeout=remaining)
            for item in self._decoder.feed(data):
                if isinstance(item, BadFrame) and item.reason is BadFrameReason.NOISE:
                    self.noise += len(item.raw)
                    log.debug("%s: skipped %s", self.name, item.detail)
                    continue
                self._items.append(item)
        return self._items.popleft()

    async def _send_command(self, frame: bytes, request: Command) -> None:
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
                # A late ACK, an EOT echo, a stray frame: not the answer to this frame.
            log.info(
                "%s: %s for %s (send %d of %d)",
                self.name,
                why,
                request.name,
                attempt + 1,
                self.retries + 1,
            )
        sends = self.retries + 1
        if refusals == sends:
            raise ChecksumError(
                f"{self.name}: the reader answered {request.name} with NAK {sends} times "
                "(its BCC check failed: line noise?)"
            )
        raise HalTimeout(
            f"{self.name}: the reader did not acknowledge {request.name} "
            f"({sends} sends, {self.ack_timeout} s each)"
        )

    async def _receive_reply(self, request: Command, timeout: float) -> Frame:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        refused = 0
        while True:
            try:
                item = await self._next(deadline)
            except HalTimeout:
                raise HalTimeout(
                    f"{self.name}: no reply to {request.name} within {timeout} s"
                ) from None
            if isinstance(item, Frame):
                return item
            if isinstance(item, BadFrame):
                refused += 1
                self.bad_replies += 1
                if refused > self.retries:
                    raise ChecksumError(
                        f"{self.name}: the reply to {request.name} failed its BCC "
                        f"{refused} times ({item.detail})"
                    )
                await self.transport.write(_NAK)
                deadline = loop.time() + timeout
            # Control bytes here (a repeated ACK, an EOT echo) answer nothing we asked.

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


async def shielded(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end even if the caller is cancelled (again) meanwhile.

    For the exchanges that put the reader back in a defined state after a cancel
    (shutting the entry): the caller re-raises its `asyncio.CancelledError` after.
    """
    task = asyncio.ensure_future(coro)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
