"""The transport contract: an async byte stream between a driver and its device.

A transport is the part of an address after ``+`` (``crt310+serial:///dev/ttyUSB0``):
the driver speaks its protocol, the transport only moves bytes. Each transport module
documents its own URL format in its header, as pyserial's URL handlers do:

- ``serial`` (`hal.transports.serial`): ``DRIVER+serial:///dev/ttyUSB0?baud=9600``;
- ``memory`` (`hal.transports.memory`): ``DRIVER+memory://NAME``, one end of an
  in-process pair, with a fault manipulator (tests);
- ``spy+`` (`hal.transports.spy`): ``spy+DRIVER+TRANSPORT://...``, wraps any other
  transport and logs its traffic as hex, masking card data.

The contract every transport keeps (`Transport`):

- ``open()`` and ``close()`` are idempotent; ``reopen()`` closes and opens the same
  path again (a serial adapter that was unplugged and came back under the same name).
- ``write(data)`` hands every byte over (to the OS, or to the other end) or raises.
- ``read(max_bytes, timeout=...)`` returns as soon as at least one byte is there (at
  most ``max_bytes``); ``read_exactly(size, timeout=...)`` waits for exactly ``size``.
  A timeout of ``None`` waits for ever. Bytes that arrive while nobody reads are kept.
- ``flush_input()`` drops what was received and not yet read.
- Errors: `ConnectionLost` once the device or port has gone away (a pty whose other
  end closed gives EIO, an unplugged USB adapter ENXIO/EOF), after the bytes received
  before have been read; `HalTimeout` when nothing came within the timeout (a
  ``read_exactly`` that times out consumes nothing); `TransportError` for the rest
  (a port that cannot be opened, a transport that is not open).

`ReceiveBuffer` is the receiving half every transport here shares: the OS (or the other
end) feeds it, readers wait on it, and nobody polls. `BufferedTransport` is what the
transports that own a link (``serial``, ``usb``) build on: reads from the buffer, and
``close``/``reopen`` around their own ``_release_link``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from hal.errors import ConnectionLost, HalError, HalTimeout, TransportError

__all__ = ["DEFAULT_LIMIT", "BufferedTransport", "ReceiveBuffer", "Transport", "require_open"]

#: Bytes a `ReceiveBuffer` keeps unread before it drops the oldest.
DEFAULT_LIMIT = 1 << 20


@runtime_checkable
class Transport(Protocol):
    """An async byte stream to one device (see the module header for the contract)."""

    @property
    def name(self) -> str:
        """What the transport reaches, for messages (``serial:///dev/ttyUSB0``)."""
        ...

    @property
    def is_open(self) -> bool:
        """True between a successful `open()` and `close()`."""
        ...

    async def open(self) -> None:
        """Open the link; idempotent.

        Raises:
            ConnectionLost: the device or port is not there.
            TransportError: it is there but cannot be opened (busy, no permission).
        """
        ...

    async def close(self) -> None:
        """Close the link; idempotent. Pending reads end with `ConnectionLost`."""
        ...

    async def reopen(self) -> None:
        """Close and open the same path again, e.g. after the device came back.

        Raises:
            ConnectionLost: it is still not there.
        """
        ...

    async def write(self, data: bytes) -> None:
        """Send ``data``, all of it.

        Raises:
            ConnectionLost: the link is gone.
            TransportError: the transport is not open.
        """
        ...

    async def read(self, max_bytes: int = 4096, *, timeout: float | None = None) -> bytes:
        """Between 1 and ``max_bytes`` bytes, as soon as there are some.

        Raises:
            HalTimeout: nothing came within ``timeout`` seconds.
            ConnectionLost: the link is gone and nothing is left to read.
        """
        ...

    async def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        """Exactly ``size`` bytes.

        Raises:
            HalTimeout: fewer came within ``timeout`` seconds (none is consumed).
            ConnectionLost: the link went away first.
        """
        ...

    def flush_input(self) -> int:
        """Drop the bytes received and not read; return how many were dropped."""
        ...


class ReceiveBuffer:
    """Bytes received and not yet read, and the readers waiting for them.

    The receiving side calls `feed()` with what arrived and `lose()` when the link goes
    away; readers call `read()` / `read_exactly()`. Each waiting reader is woken by the
    next `feed()` or `lose()`: nothing polls.

    Args:
        name: the transport's name, for messages.
        limit: bytes kept unread before the oldest are dropped (a device that talks to
            nobody must not eat the memory); the count dropped is in ``overflowed``.
    """

    def __init__(self, name: str, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"a buffer limit is at least 1 byte, got {limit}")
        self.name = name
        self.limit = limit
        self.overflowed = 0
        self._data = bytearray()
        self._lost: ConnectionLost | None = None
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def pending(self) -> int:
        """Bytes received and not read."""
        return len(self._data)

    @property
    def lost(self) -> ConnectionLost | None:
        """Why the link went away, or ``None`` while it is up."""
        return self._lost

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes arrived."""
        if not data:
            return
        self._data += data
        excess = len(self._data) - self.limit
        if excess > 0:
            del self._data[:excess]
            self.overflowed += excess
        self._wake()

    def lose(self, error: ConnectionLost) -> None:
        """The link went away; readers get ``error`` once the buffer is drained."""
        if self._lost is None:
            self._lost = error
        self._wake()

    def restore(self) -> None:
        """The link is back: forget the loss (bytes from before it are kept)."""
        self._lost = None

    def clear(self) -> int:
        """Drop the unread bytes; return how many."""
        dropped = len(self._data)
        self._data.clear()
        return dropped

    def reset(self) -> None:
        """Start afresh (after a reopen): no bytes, no loss."""
        self._data.clear()
        self._lost = None

    async def read(self, max_bytes: int = 4096, *, timeout: float | None = None) -> bytes:
        """Between 1 and ``max_bytes`` bytes; see `Transport.read`."""
        if max_bytes < 1:
            raise ValueError(f"max_bytes is at least 1, got {max_bytes}")
        if not self._data:
            await self._wait(lambda: bool(self._data), timeout, lambda: "nothing")
        chunk = bytes(self._data[:max_bytes])
        del self._data[:max_bytes]
        return chunk

    async def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        """Exactly ``size`` bytes; see `Transport.read_exactly`."""
        if size < 0:
            raise ValueError(f"size is at least 0, got {size}")
        if len(self._data) < size:
            await self._wait(
                lambda: len(self._data) >= size,
                timeout,
                lambda: f"{len(self._data)} of {size} bytes",
            )
        chunk = bytes(self._data[:size])
        del self._data[:size]
        return chunk

    async def _wait(
        self, ready: Callable[[], bool], timeout: float | None, got: Callable[[], str]
    ) -> None:
        if timeout is not None and timeout < 0:
            raise ValueError(f"a timeout is >= 0 seconds or None, got {timeout}")
        try:
            async with asyncio.timeout(timeout):
                while not ready():
                    if self._lost is not None:
                        raise ConnectionLost(self._lost.message) from self._lost
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.add(waiter)
                    try:
                        await waiter
                    finally:
                        self._waiters.discard(waiter)
        except TimeoutError as exc:
            if isinstance(exc, HalTimeout):
                raise
            raise HalTimeout(f"{self.name}: {got()} received within {timeout} s") from None

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def require_open(is_open: bool, name: str) -> None:
    """Raise `TransportError` unless the transport is open."""
    if not is_open:
        raise TransportError(f"{name} is not open; call open() first")


class BufferedTransport:
    """A transport whose link feeds a `ReceiveBuffer`: the parts ``serial`` and ``usb``
    share (see `Transport` for the contract of each method).

    A subclass sets ``_buffer`` and ``_closed`` (true until the first ``open()``) in its
    ``__init__``, and defines ``name``, ``open()`` and ``_release_link()``, which lets go
    of the link (port, device) and never raises.
    """

    _buffer: ReceiveBuffer
    _closed: bool
    _closes: int = 0  # close() calls so far: a reopen tells a close made meanwhile

    @property
    def name(self) -> str:
        raise NotImplementedError

    async def open(self) -> None:
        raise NotImplementedError

    async def _release_link(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self._closes += 1
        await self._release_link()
        self._closed = True
        self._buffer.lose(ConnectionLost(f"{self.name} was closed"))

    async def reopen(self) -> None:
        closes = self._closes
        await self._release_link()
        self._buffer.reset()
        try:
            await self.open()
        except HalError as exc:
            if self._closes != closes:
                raise  # closed meanwhile: it stays closed, not merely lost
            self._closed = False  # still gone, not closed: reads say so
            if isinstance(exc, ConnectionLost):
                self._buffer.lose(exc)
            else:
                # Refused (busy, no permission): the link is down all the same, and a
                # read must say so rather than wait for ever for bytes that cannot come.
                self._buffer.lose(ConnectionLost(f"{exc.message} (reopening failed)"))
            raise

    def _check(self) -> None:
        # A link that went away still lets the bytes received before be read; the
        # buffer raises ConnectionLost once they are.
        require_open(not self._closed, self.name)

    async def read(self, max_bytes: int = 4096, *, timeout: float | None = None) -> bytes:
        self._check()
        return await self._buffer.read(max_bytes, timeout=timeout)

    async def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        self._check()
        return await self._buffer.read_exactly(size, timeout=timeout)

    def flush_input(self) -> int:
        return self._buffer.clear()
