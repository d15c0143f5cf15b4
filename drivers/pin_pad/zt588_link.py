"""The host side of the ZT588 link: command exchanges, and key presses between them.

The ZT588 has no ACK or NAK (docs/zt588.md): the host sends a command frame and the pad
answers with a reply frame; key presses come as bare bytes outside frames, at any time
while input is enabled. `Zt588Link` reads one byte stream with the codec's stream
decoder (`protocols.zt588.Zt588Decoder`) and separates the two:

- `Zt588Link.exchange` sends a command and returns the decoded reply; key presses that
  arrive meanwhile are kept, in order, for `Zt588Link.next_key`;
- a reply that does not come within ``reply_timeout``, or comes broken (a bad CHK, a
  bad LEN, no ETX), is asked for again by sending the command again, up to ``retries``
  more times, for the commands that may be repeated; '7' (get PIN block) is not
  repeated, because the pad erases the PIN once it has made the block. Then
  `HalTimeout` (silence) or the bad frame's typed `ChecksumError` / `FramingError`;
- bytes outside frames that are no key are noise: counted and skipped (the decoder
  resynchronises at the next STX);
- a port that went away (`ConnectionLost`) is opened again at the next exchange (the
  same path: a udev link, the simulator's pty symlink); still gone: `ConnectionLost`;
- after an exchange that ended abnormally (a timeout, a bad reply, a cancellation) the
  link is *dirty*: a late reply to it could be taken for the answer to the next
  command, so the next exchange first lets the line go quiet for ``settle`` seconds and
  drops the frames that came (keys are kept).

Nothing here hangs: every wait has a deadline. Exchanges and key waits never
interleave (a lock); the driver calls one at a time anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from hal.errors import ConnectionLost, HalTimeout, ProtocolError
from hal.transports.base import Transport
from protocols import zt588

__all__ = ["Zt588Link"]

log = logging.getLogger(__name__)

#: Commands whose repeat does no harm: everything but '7', which spends the PIN.
_NOT_REPEATABLE = frozenset({zt588.CommandCode.GET_PIN_BLOCK})


class Zt588Link:
    """Command exchanges and key presses with a ZT588 over a transport.

    Args:
        transport: the link to the pad (serial in production).
        name: how messages name the pad.
        retries: sends of a command after the first when its reply is missing or broken.
        reply_timeout: seconds for a reply.
        settle: seconds of quiet awaited before the exchange after an abnormal one.
        mask: the byte the pad sends for a digit in PIN mode.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str = "zt588",
        retries: int = 2,
        reply_timeout: float = 2.0,
        settle: float = 0.05,
        mask: int = zt588.MASK_CHAR,
    ) -> None:
        self.transport = transport
        self.name = name
        self.retries = retries
        self.reply_timeout = reply_timeout
        self.settle = settle
        self._decoder = zt588.Zt588Decoder(mask=mask)
        self._frames: deque[zt588.Frame | zt588.BadFrame] = deque()
        self._keys: deque[zt588.KeyPress] = deque()
        self._lock = asyncio.Lock()
        self._dirty = False
        self._lost = False
        #: Counters: commands sent again, broken replies, noise bytes, stale frames
        #: dropped, reopens of a port that went away.
        self.resent = 0
        self.bad_replies = 0
        self.noise = 0
        self.stale = 0
        self.reconnects = 0

    async def open(self) -> None:
        """Open the transport and forget anything from before."""
        await self.transport.open()
        self.transport.flush_input()
        self._decoder.reset()
        self._frames.clear()
        self._keys.clear()
        self._dirty = False
        self._lost = False

    async def close(self) -> None:
        await self.transport.close()

    # --- key presses ---------------------------------------------------------------------

    def drop_keys(self) -> int:
        """Forget key presses received and not taken (before an entry starts)."""
        count = len(self._keys)
        self._keys.clear()
        return count

    async def next_key(self, timeout: float | None = None) -> zt588.KeyPress:
        """The next key press (frames arriving meanwhile answer nothing and are dropped).

        Raises:
            HalTimeout: no key within ``timeout`` seconds (``None``: wait for ever).
            ConnectionLost: the port went away.
        """
        async with self._lock:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while not self._keys:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    raise HalTimeout(f"{self.name}: no key pressed within {timeout} s")
                try:
                    await self._receive(remaining)
                except ConnectionLost:
                    self._dirty = self._lost = True
                    raise
                self._drop_frames("while waiting for a key")
            return self._keys.popleft()

    # --- commands ------------------------------------------------------------------------

    async def exchange(
        self, command: zt588.Command, *, reply_timeout: float | None = None
    ) -> zt588.Reply:
        """Send ``command`` and return the pad's reply to it (an `ErrorReply` included:
        the driver decides what a refusal means).

        Raises:
            HalTimeout: no reply after every send.
            ChecksumError, FramingError: the reply came broken every time (or, for '7',
                once).
            ProtocolError: a reply that does not decode as the answer to ``command``.
            ConnectionLost: the port went away.
        """
        frame = zt588.build_command(command)
        what = f"command '{command.command_code.value}'"
        timeout = self.reply_timeout if reply_timeout is None else reply_timeout
        sends = 1 if command.command_code in _NOT_REPEATABLE else self.retries + 1
        async with self._lock:
            try:
                await self._reconnect()
                if self._dirty:
                    await self._quiet()
                await self._take_pending()
                self._drop_frames("before a command")
                reply = await self._attempts(command, frame, what, timeout, sends)
            except ConnectionLost:
                self._dirty = self._lost = True
                raise
            except BaseException:
                self._dirty = True
                raise
            self._dirty = False
            return reply

    async def _reconnect(self) -> None:
        """A port that went away is opened again (same path: a udev link, the
        simulator's pty symlink) before the next exchange.

        Raises:
            ConnectionLost: it is still gone.
        """
        if not self._lost:
            return
        await self.transport.reopen()
        self._lost = False
        self._decoder.reset()
        self._frames.clear()
        self._keys.clear()
        self.reconnects += 1
        log.info("%s: the port is back (%s)", self.name, self.transport.name)

    async def _attempts(
        self, command: zt588.Command, frame: bytes, what: str, timeout: float, sends: int
    ) -> zt588.Reply:
        failure: ProtocolError | HalTimeout | None = None
        for attempt in range(sends):
            if attempt:
                self.resent += 1
                log.info(
                    "%s: %s sent again (%d of %d): %s", self.name, what, attempt + 1, sends, failure
                )
            await self.transport.write(frame)
            item = await self._reply(timeout)
            if isinstance(item, zt588.Frame):
                return zt588.decode_reply(item, command)
            if item is None:
                failure = HalTimeout(f"{self.name}: no reply to {what} within {timeout} s")
            else:
                self.bad_replies += 1
                error = item.error
                failure = type(error)(f"{self.name}: the reply to {what} was broken: {item.detail}")
                # What is left of a broken reply must not pass for the next one.
                await self._quiet()
        assert failure is not None
        if sends > 1:
            failure = type(failure)(f"{failure.message} ({sends} sends)")
        raise failure

    async def _reply(self, timeout: float) -> zt588.Frame | zt588.BadFrame | None:
        """The next frame or broken frame within ``timeout``; None at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._frames:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                await self._receive(remaining)
            except HalTimeout:
                return None
        return self._frames.popleft()

    async def _receive(self, timeout: float | None) -> None:
        """Read once (waiting up to ``timeout``) and sort what came."""
        data = await self.transport.read(4096, timeout=timeout)
        self._sort(self._decoder.feed(data))

    def _sort(self, items: list[zt588.Item]) -> None:
        for item in items:
            if isinstance(item, zt588.KeyPress):
                self._keys.append(item)
            elif isinstance(item, zt588.BadFrame) and item.reason is zt588.BadFrameReason.NOISE:
                self.noise += len(item.raw)
                log.debug("%s: skipped %s", self.name, item.detail)
            else:
                self._frames.append(item)

    async def _take_pending(self) -> None:
        """Decode what already arrived, without waiting (keys are kept for the entry)."""
        while True:
            try:
                await self._receive(0)
            except HalTimeout:
                return

    def _drop_frames(self, when: str) -> None:
        while self._frames:
            item = self._frames.popleft()
            self.stale += 1
            log.info("%s: dropped an unexpected %r %s", self.name, item, when)

    async def _quiet(self) -> None:
        """Read until the line has been quiet for ``settle`` seconds; drop the frames."""
        while True:
            try:
                await self._receive(self.settle)
            except HalTimeout:
                break
        self._drop_frames("after an abnormal exchange")
