"""The device side of a wire, and the pacing of a UART.

A wire emulator (`simulator.wire.crt310`) speaks a vendor protocol to a host it cannot
see; it only needs a `WireLink`: bytes from the host, bytes to the host, and a
``generation`` that changes when the wire is plugged again (so the emulator forgets a
half-received frame). Two links exist:

- `simulator.wire.pty.PtyBridge`: the master side of a pty, for a real driver on a
  real serial transport;
- `MemoryLink`: the device end of a `hal.transports.memory` pair, for driver tests
  with fault injection and no pty.

A pty moves bytes as fast as the kernel copies them; a UART moves 10 bits per byte
(start, 8 data, stop) at its baud rate. `WirePacer` holds bytes back until a UART
would have delivered them, so timings measured against an emulator mean something.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

from hal.errors import ConnectionLost
from hal.transports.memory import MemoryTransport

__all__ = ["BITS_PER_BYTE", "MemoryLink", "WireLink", "WirePacer"]

#: Bits a UART sends per byte at 8N1: start bit, 8 data bits, stop bit.
BITS_PER_BYTE = 10

# asyncio's timers wake in whole milliseconds (epoll); precise pacing spends the last
# 2 ms of a wait in time.sleep, and the last 100 us (more than the 50 us timer slack
# Linux adds to a sleep) spinning.
_SPIN = 0.002
_SLACK = 0.0001


class WireLink(Protocol):
    """The device side of a wire."""

    @property
    def generation(self) -> int:
        """Changes each time the wire is plugged (again): forget half-received bytes."""
        ...

    async def receive(self) -> bytes:
        """The next bytes from the host; waits (across unplugs) until there are some."""
        ...

    async def send(self, data: bytes) -> None:
        """Send bytes to the host; dropped while the wire is unplugged."""
        ...


class MemoryLink:
    """The device end of a `hal.transports.memory` pair as a `WireLink`.

    The host end closing is an unplug: ``receive`` waits for it to open again, and the
    generation changes when it does.

    Args:
        end: the device end, open (``await end.open()``) so the host can write at once.

    Raises:
        ValueError: the end is not open.
    """

    def __init__(self, end: MemoryTransport) -> None:
        if not end.is_open:
            raise ValueError(f"open {end.name} before making a link of it")
        self.end = end
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    async def receive(self) -> bytes:
        while True:
            try:
                return await self.end.read(65536)
            except ConnectionLost:
                await self.end.wait_peer_open()
                self._generation += 1

    async def send(self, data: bytes) -> None:
        # Nobody on the other end: the bytes fall on the floor, as on a wire.
        with contextlib.suppress(ConnectionLost):
            await self.end.write(data)


class WirePacer:
    """When the bytes of each direction would have crossed a UART at ``baud``.

    Each direction is busy until its last byte is through: bytes received at ``t``
    finish arriving at ``max(t, busy) + n * 10 / baud``, and the same holds for bytes
    sent. ``None`` as the baud rate paces nothing.

    Args:
        baud: the line's bits per second, or ``None`` for no pacing.
        precise: spend the last 2 ms of each wait blocking the loop (`time.sleep`, then
            a spin for the last 100 us): asyncio wakes in whole milliseconds, 11 bytes'
            worth at 115200 baud, and a sleep overshoots by ~50 us of timer slack.
            Only for a bench, where the host is waiting for these bytes anyway.
    """

    def __init__(self, baud: int | None = None, *, precise: bool = False) -> None:
        if baud is not None and baud <= 0:
            raise ValueError(f"a baud rate is > 0, got {baud}")
        self.baud = baud
        self.precise = precise
        self._busy = {"rx": 0.0, "tx": 0.0}

    def byte_time(self) -> float:
        """Seconds one byte takes on the wire (0 without pacing)."""
        return BITS_PER_BYTE / self.baud if self.baud else 0.0

    async def received(self, size: int) -> None:
        """Wait until ``size`` bytes that just arrived would have finished arriving."""
        await self._through("rx", size)

    async def sending(self, size: int) -> None:
        """Wait until ``size`` bytes about to be sent would have reached the host."""
        await self._through("tx", size)

    def reset(self) -> None:
        """Both directions idle (the wire was plugged again)."""
        self._busy = {"rx": 0.0, "tx": 0.0}

    async def _through(self, direction: str, size: int) -> None:
        if not self.baud or size <= 0:
            return
        now = time.perf_counter()
        done = max(now, self._busy[direction]) + size * self.byte_time()
        self._busy[direction] = done
        await self._until(done)

    async def _until(self, deadline: float) -> None:
        remaining = deadline - time.perf_counter()
        if not self.precise:
            if remaining > 0:
                await asyncio.sleep(remaining)
            return
        if remaining > _SPIN:
            await asyncio.sleep(remaining - _SPIN)
        remaining = deadline - time.perf_counter()
        if remaining > _SLACK:
            # Sub-millisecond precision, on purpose: a bench's emulator, the host waiting.
            time.sleep(remaining - _SLACK)  # noqa: ASYNC251
        while time.perf_counter() < deadline:
            pass  # the last tens of microseconds: time.sleep overshoots by its timer slack
