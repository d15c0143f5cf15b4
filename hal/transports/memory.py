"""The ``memory`` transport: an in-process pair of connected ends, with a fault manipulator.

URL format::

    DRIVER+memory://NAME

``NAME`` is a pair made by ``memory_pair(NAME)``; the address reaches its first end (the
host's), and the code under test (a wire emulator, a script of device bytes) holds the
second. No options. Used by driver tests: a driver runs over it exactly as over a
serial port, with no pty and no timing of its own.

Each end has a `Manipulator` (``end.faults``) for the bytes it *sends*, as pymodbus'
``NullModem`` does: split writes into chunks delivered one loop turn (or ``delay``
seconds) apart, delay them, corrupt a byte, drop bytes. Faults address bytes by their
position in the stream from now (``corrupt(0)`` is the next byte sent).

Closing one end is an unplug for the other: its reads end with `ConnectionLost` once
drained, its writes raise it; when the closed end opens again, the other end's
``reopen()`` (or its reads, for the end that did not close) works again.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost
from hal.registry import TransportSpec
from hal.transports.base import DEFAULT_LIMIT, ReceiveBuffer, require_open

__all__ = [
    "MEMORY_TRANSPORT",
    "Manipulator",
    "MemoryOptions",
    "MemoryTransport",
    "memory_pair",
    "open_memory_transport",
]

_pairs: weakref.WeakValueDictionary[str, MemoryTransport] = weakref.WeakValueDictionary()
_unnamed = itertools.count(1)


class Manipulator:
    """What happens to the bytes one end sends before the other end receives them.

    Faults stay set until changed (``split``, ``delay``) or until used (``corrupt``,
    ``drop``). Deliveries are loop callbacks, not tasks: closing an end cancels them.
    """

    def __init__(self) -> None:
        self.chunk_size: int | None = None
        self.delay_s = 0.0
        self._position = 0
        self._corrupt: dict[int, int] = {}
        self._drop: set[int] = set()
        self._queue: deque[bytes] = deque()
        self._handle: asyncio.Handle | None = None
        self._deliver: Callable[[bytes], None] | None = None

    @property
    def sent(self) -> int:
        """Bytes written through this manipulator so far (before drops)."""
        return self._position

    def split(self, size: int | None) -> None:
        """Deliver each write in chunks of ``size`` bytes, one loop turn apart."""
        if size is not None and size < 1:
            raise ValueError(f"a chunk is at least 1 byte, got {size}")
        self.chunk_size = size

    def delay(self, seconds: float) -> None:
        """Deliver each chunk ``seconds`` after the previous one (0: no delay)."""
        if not seconds >= 0:
            raise ValueError(f"a delay is >= 0 seconds, got {seconds!r}")
        self.delay_s = float(seconds)

    def corrupt(self, offset: int = 0, mask: int = 0xFF) -> None:
        """XOR the byte ``offset`` bytes after the next one sent with ``mask``."""
        if offset < 0 or not 1 <= mask <= 0xFF:
            raise ValueError(f"offset >= 0 and mask 1..255, got {offset}, {mask}")
        self._corrupt[self._position + offset] = mask

    def drop(self, offset: int = 0, count: int = 1) -> None:
        """Lose ``count`` bytes, starting ``offset`` bytes after the next one sent."""
        if offset < 0 or count < 1:
            raise ValueError(f"offset >= 0 and count >= 1, got {offset}, {count}")
        start = self._position + offset
        self._drop.update(range(start, start + count))

    def clear(self) -> None:
        """Remove every fault (bytes already on their way still arrive)."""
        self.chunk_size = None
        self.delay_s = 0.0
        self._corrupt.clear()
        self._drop.clear()

    def send(self, data: bytes, deliver: Callable[[bytes], None]) -> None:
        """Apply the faults to ``data`` and hand the result to ``deliver``, in order."""
        data = self._apply(data)
        self._deliver = deliver
        if not data:
            return
        if self.chunk_size is None and not self.delay_s and not self._queue:
            deliver(data)
            return
        size = self.chunk_size or len(data)
        self._queue.extend(data[i : i + size] for i in range(0, len(data), size))
        if self._handle is None:
            self._schedule()

    def cancel(self) -> None:
        """Forget bytes not yet delivered (the sending end closed)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._queue.clear()

    def _apply(self, data: bytes) -> bytes:
        start = self._position
        self._position += len(data)
        if not self._corrupt and not self._drop:
            return bytes(data)
        out = bytearray()
        for index, byte in enumerate(data, start):
            if index in self._drop:
                self._drop.discard(index)
                continue
            out.append(byte ^ self._corrupt.pop(index, 0))
        return bytes(out)

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        if self.delay_s:
            self._handle = loop.call_later(self.delay_s, self._pump)
        else:
            self._handle = loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._handle = None
        if not self._queue or self._deliver is None:
            return
        self._deliver(self._queue.popleft())
        if self._queue:
            self._schedule()


class MemoryTransport:
    """One end of an in-process pair (make pairs with `memory_pair`).

    Args:
        name: the end's name, for messages.
        limit: bytes kept unread before the oldest are dropped.
    """

    def __init__(self, name: str, *, limit: int = DEFAULT_LIMIT) -> None:
        self._name = name
        self.faults = Manipulator()
        self._peer: MemoryTransport | None = None
        self._open = False
        self._buffer = ReceiveBuffer(name, limit)
        self._peer_waiters: set[asyncio.Future[None]] = set()

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def peer(self) -> MemoryTransport:
        """The other end."""
        assert self._peer is not None, "a MemoryTransport is made in pairs by memory_pair()"
        return self._peer

    async def open(self) -> None:
        if self._open:
            return
        self._open = True
        self._buffer.reset()
        self.peer._peer_opened()

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self.faults.cancel()
        self._buffer.lose(ConnectionLost(f"{self._name} was closed"))
        self.peer._peer_closed()

    async def reopen(self) -> None:
        await self.close()
        if not self.peer.is_open:
            self._open = False
            raise ConnectionLost(f"{self._name}: the other end ({self.peer.name}) is closed")
        await self.open()

    async def wait_peer_open(self) -> None:
        """Return once the other end is open."""
        while not self.peer.is_open:
            waiter = asyncio.get_running_loop().create_future()
            self._peer_waiters.add(waiter)
            try:
                await waiter
            finally:
                self._peer_waiters.discard(waiter)

    def _peer_opened(self) -> None:
        self._buffer.restore()
        waiters, self._peer_waiters = self._peer_waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _peer_closed(self) -> None:
        self._buffer.lose(ConnectionLost(f"{self._name}: the other end ({self.peer.name}) closed"))

    def _receive(self, data: bytes) -> None:
        if self._open:
            self._buffer.feed(data)

    async def write(self, data: bytes) -> None:
        require_open(self._open, self._name)
        peer = self.peer
        if not peer.is_open:
            raise ConnectionLost(f"{self._name}: the other end ({peer.name}) is closed")
        self.faults.send(bytes(data), peer._receive)

    async def read(self, max_bytes: int = 4096, *, timeout: float | None = None) -> bytes:
        require_open(self._open, self._name)
        return await self._buffer.read(max_bytes, timeout=timeout)

    async def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        require_open(self._open, self._name)
        return await self._buffer.read_exactly(size, timeout=timeout)

    def flush_input(self) -> int:
        return self._buffer.clear()

    def __repr__(self) -> str:
        return f"MemoryTransport({self._name!r}, {'open' if self._open else 'closed'})"


def memory_pair(name: str | None = None) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends, both closed: (host end, device end).

    Args:
        name: if given, ``DRIVER+memory://NAME`` reaches the host end (for as long as
            something else holds a reference to it).

    Raises:
        ConfigurationError: a live pair already has that name.
    """
    label = name or f"pair-{next(_unnamed)}"
    if name is not None and name in _pairs:
        raise ConfigurationError(f"a memory pair named {name!r} exists already")
    host = MemoryTransport(f"memory://{label}#host")
    device = MemoryTransport(f"memory://{label}#device")
    host._peer, device._peer = device, host
    if name is not None:
        _pairs[name] = host
    return host, device


@dataclass(frozen=True)
class MemoryOptions:
    """The ``memory`` transport has no options."""


def open_memory_transport(address: DeviceAddress, options: MemoryOptions) -> MemoryTransport:
    """The host end of the pair an address names (the registry factory).

    Raises:
        ConfigurationError: no live pair has that name.
    """
    name = address.authority or address.path.strip("/")
    host = _pairs.get(name)
    if host is None:
        raise ConfigurationError(
            f"{address.location}: no memory pair named {name!r}; make one with "
            "hal.transports.memory.memory_pair(name)"
        )
    return host


MEMORY_TRANSPORT = TransportSpec(
    name="memory",
    options=MemoryOptions,
    factory=open_memory_transport,
    description="an in-process pair with fault injection (tests), e.g. memory://NAME",
)
"""The ``memory`` transport, registered through the ``tellerhal.transports`` entry point."""
