"""The host side of a Creator serial link (CRT-310, CRT-591): what both exchanges share.

Both readers speak the same way below their messages: the host sends a command frame,
the reader answers ACK (NAK: bad BCC, send it again), later a reply frame comes (a bad
BCC: the host sends NAK and the reader sends it again). `CreatorLink` is that engine,
with bounded retries and per-step timeouts:

- a NAK, or no ACK within ``ack_timeout``, sends the command again, up to ``retries``
  more times; then `ChecksumError` (NAKs) or `HalTimeout` (silence);
- a reply with a bad BCC is NAKed up to ``retries`` times; then `ChecksumError`; no
  reply within the reply timeout is `HalTimeout`;
- garbage on the line is counted and skipped (the stream decoder resynchronises on the
  next frame or control byte), and bytes waiting before an exchange starts are stale
  and dropped;
- an exchange that ended abnormally (timeout, cancellation, a lost port) leaves the
  link *dirty*: the next one first calls `_resync` (each protocol clears the line its
  own way);
- a port that went away (`ConnectionLost`) is reopened at the next exchange; if it is
  still gone, that exchange raises `ConnectionLost` at once.

Exchanges never interleave: a lock serialises the driver's commands, its status polls
and its background watcher. What differs stays in the subclasses
(`drivers.card_reader.crt310_link.Crt310Link`, `drivers.card_reader.crt591_link.
Crt591Link`): the codec (stream decoder, control bytes), what the host sends after the
ACK (the CRT-310's ENQ), which frame answers a command, and how the line is cleared.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from hal.errors import ChecksumError, ConnectionLost, HalTimeout
from hal.transports.base import Transport
from protocols.creator_frames import BadFrame, BadFrameReason

__all__ = ["CreatorLink", "StreamDecoder", "shielded"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class StreamDecoder(Protocol):
    """What the engine needs of a protocol's stream decoder."""

    @property
    def pending(self) -> int: ...

    def reset(self) -> None: ...

    def feed(self, data: bytes) -> list[Any]: ...


class CreatorLink:
    """Command exchanges with a Creator reader over a transport (the shared engine).

    Args:
        transport: the link to the reader (serial in production).
        decoder: the protocol's stream decoder.
        ack, nak: the protocol's ACK and NAK control items (as the decoder yields them).
        name: how messages name the reader.
        party: what messages call the other side ("reader", "unit").
        retries: sends after the first, at a NAK or a missing ACK; NAKs of a bad reply.
        ack_timeout: seconds for the ACK of a command.
        reply_timeout: seconds for the reply (a card movement takes a while).
        on_lost: called when the port goes away.
        on_back: called when a reopen found it again.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        decoder: StreamDecoder,
        ack: int,
        nak: int,
        name: str,
        party: str,
        retries: int,
        ack_timeout: float,
        reply_timeout: float,
        on_lost: Callable[[], None] | None,
        on_back: Callable[[], None] | None,
    ) -> None:
        self.transport = transport
        self.name = name
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.reply_timeout = reply_timeout
        self._party = party
        self._ack = ack
        self._nak = nak
        self._nak_byte = bytes((nak,))
        self._on_lost = on_lost
        self._on_back = on_back
        self._decoder = decoder
        self._items: deque[Any] = deque()
        self._lock = asyncio.Lock()
        self._dirty = False
        self._lost = False
        self._closed = True  # until open(): nothing reopens a port the driver closed
        #: Counters: commands sent again, NAKs received, replies NAKed, noise bytes
        #: skipped, resynchronisations, reconnections.
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
        self._closed = False
        self._lost = False
        self._dirty = False
        self._discard()

    async def close(self) -> None:
        """Close the transport; exchanges after it fail instead of reopening the port."""
        self._closed = True
        await self.transport.close()

    # --- what each protocol decides -------------------------------------------------------

    async def _resync(self) -> None:
        """Clear the line after an exchange that ended abnormally."""
        raise NotImplementedError

    def _skipped(self, item: Any) -> None:
        """A frame or control byte that came while waiting for an ACK (not one)."""

    # --- the engine ------------------------------------------------------------------------

    async def _transact(
        self,
        frame: bytes,
        what: str,
        timeout: float,
        after_ack: bytes,
        accept: Callable[[Any], Coroutine[Any, Any, T | None]],
    ) -> T:
        """One exchange: send ``frame`` until ACKed, write ``after_ack``, await the reply.

        ``accept`` sees each good frame (and control byte) that comes after the ACK and
        returns the reply, or ``None`` for an item that answers nothing we asked.
        """
        async with self._lock:
            await self._reconnect()
            try:
                if self._dirty:
                    await self._resync()
                self._discard()
                await self._send_command(frame, what)
                if after_ack:
                    await self.transport.write(after_ack)
                return await self._receive_reply(what, timeout, accept)
            except ConnectionLost:
                self._dirty = True
                self._mark_lost()
                raise
            except BaseException:
                self._dirty = True
                raise

    async def _reconnect(self) -> None:
        if self._closed:
            raise ConnectionLost(f"{self.name}: the port was closed")
        if not self._lost:
            return
        try:
            await self.transport.reopen()
        except ConnectionLost as exc:
            raise ConnectionLost(
                f"{self.name}: the {self._party} is not connected: {exc.message}"
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

    async def _next(self, deadline: float) -> Any:
        """The next frame, bad frame or control byte (noise is counted and skipped)."""
        loop = asyncio.get_running_loop()
        while not self._items:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise HalTimeout(f"{self.name}: nothing from the {self._party}")
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
                if item is self._ack:
                    return
                if item is self._nak:
                    self.naks += 1
                    refusals += 1
                    why = "NAK"
                    break
                # A late ACK or reply, an EOT echo, a stray frame: no answer to this one.
                self._skipped(item)
            log.info(
                "%s: %s for %s (send %d of %d)", self.name, why, what, attempt + 1, self.retries + 1
            )
        sends = self.retries + 1
        if refusals == sends:
            raise ChecksumError(
                f"{self.name}: the {self._party} answered {what} with NAK {sends} times "
                "(its BCC check failed: line noise?)"
            )
        raise HalTimeout(
            f"{self.name}: the {self._party} did not acknowledge {what} "
            f"({sends} sends, {self.ack_timeout} s each)"
        )

    async def _receive_reply(
        self,
        what: str,
        timeout: float,
        accept: Callable[[Any], Coroutine[Any, Any, T | None]],
    ) -> T:
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
                    # No BCC values in the message: the expected one is a parity of
                    # the reply's bytes, which may be card data (spy+ masks it too).
                    raise ChecksumError(
                        f"{self.name}: the reply to {what} failed its BCC {refused} times "
                        f"({item.reason.value})"
                    )
                await self.transport.write(self._nak_byte)
                deadline = loop.time() + timeout
                continue
            reply = await accept(item)
            if reply is not None:
                return reply


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
