"""The ``escpos`` driver's line: writes, and the printer's answers sorted as they come.

An ESC/POS printer answers only what it is asked, and its answers carry no frame: one
status byte for DLE EOT n, ``37 22 d1 d2 d3 d4 00`` for a GS ( H process ID once the
data before it has printed, ``5F text 00`` for GS I n >= 65, ``10 0F p u r x`` for the
Custom full status. `EscPosLink` reads the IN stream in a task of its own and sorts each
answer by what is being waited for: a byte that fits no answer awaited (line noise, a
status nobody asked for) is skipped and counted, with one log line per burst. Every wait
is bounded: an answer that does not come in time is a `HalTimeout` naming the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from hal.errors import ConnectionLost, HalError, HalTimeout
from hal.transports.base import Transport
from hal.transports.serial import WriteTimeout

__all__ = ["EscPosLink"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_STATUS_MASK, _STATUS_BITS = 0x93, 0x12  # bits 1, 4 set; 0, 7 clear
_PID_HEAD = b"\x37\x22"
_ID_HEAD = 0x5F
_FULL_HEAD = b"\x10\x0f"
_MAX_ID = 80


def is_status_byte(byte: int) -> bool:
    """A DLE EOT answer has bits 1 and 4 set, 0 and 7 clear."""
    return byte & _STATUS_MASK == _STATUS_BITS


class EscPosLink:
    """The printer's line (see the module header).

    Args:
        transport: serial, usb (or memory, spy+...).
        name: the device name, for messages.
        on_lost: called once when the line is lost.
    """

    def __init__(
        self, transport: Transport, *, name: str, on_lost: Callable[[], None] | None = None
    ) -> None:
        self.transport = transport
        self.name = name
        self._on_lost = on_lost
        self._buf = bytearray()
        self._reader: asyncio.Task[None] | None = None
        self._status: asyncio.Future[int] | None = None
        self._ident: asyncio.Future[bytes] | None = None
        self._full: asyncio.Future[bytes] | None = None
        self._pids: dict[bytes, asyncio.Event] = {}
        self._lost: HalError | None = None
        #: Bytes skipped as noise since the link opened.
        self.garbage = 0
        self._burst = 0
        self.bytes_sent = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        await self.transport.open()
        self.transport.flush_input()
        self._buf.clear()
        self._lost = None
        self._reader = asyncio.get_running_loop().create_task(
            self._read_loop(), name=f"escpos reader {self.name}"
        )

    async def close(self) -> None:
        task, self._reader = self._reader, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._fail(ConnectionLost(f"{self.name}: the printer's line was closed"))
        await self.transport.close()

    # --- sending -----------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Send ``data``; a write the line did not take in time (`WriteTimeout`) still
        counts the bytes it took in `bytes_sent`."""
        if self._lost is not None:
            raise self._lost
        try:
            await self.transport.write(data)
        except WriteTimeout as exc:
            self.bytes_sent += exc.written
            raise
        self.bytes_sent += len(data)

    async def real_time(self, n: int, timeout: float, retries: int = 0) -> int:
        """Send DLE EOT ``n`` and return the status byte; ask again up to ``retries``
        times when no status byte came in time (a real-time request changes nothing, and
        a garbled answer is skipped as noise)."""
        loop = asyncio.get_running_loop()
        for attempt in range(retries + 1):
            self._status = loop.create_future()
            try:
                await self.write(bytes((0x10, 0x04, n)))
                return await self._wait(self._status, timeout, f"DLE EOT {n} (real-time status)")
            except HalTimeout:
                if attempt == retries:
                    raise
                log.info(
                    "%s: no status byte for DLE EOT %d in %s s; asking again", self.name, n, timeout
                )
            finally:
                self._status = None
        raise AssertionError("unreachable")  # pragma: no cover

    async def identify(self, n: int, timeout: float) -> bytes:
        """Send GS I ``n`` (>= 65) and return the text of ``5F text 00``."""
        self._ident = asyncio.get_running_loop().create_future()
        try:
            await self.write(bytes((0x1D, 0x49, n)))
            return await self._wait(self._ident, timeout, f"GS I {n} (printer information)")
        finally:
            self._ident = None

    async def full_status(self, timeout: float) -> bytes:
        """Send the Custom full status request 10 04 14 and return its 6 bytes."""
        self._full = asyncio.get_running_loop().create_future()
        try:
            await self.write(b"\x10\x04\x14")
            return await self._wait(self._full, timeout, "10 04 14 (full status)")
        finally:
            self._full = None

    def expect_pid(self, ident: bytes) -> None:
        """A process ID is on its way (sent after a block): keep its answer."""
        self._pids[ident] = asyncio.Event()

    def pid_arrived(self, ident: bytes) -> bool:
        """Whether the answer for process ID ``ident`` is already here (no wait)."""
        event = self._pids.get(ident)
        return self._lost is None and event is not None and event.is_set()

    def forget_pids(self) -> None:
        self._pids.clear()

    async def wait_pid(self, ident: bytes, timeout: float) -> bool:
        """Whether the answer for process ID ``ident`` came within ``timeout``."""
        if self._lost is not None:
            raise self._lost
        event = self._pids.get(ident)
        if event is None:
            raise ValueError(f"process ID {ident!r} was not expected")
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            if self._lost is not None:
                raise self._lost from None
            return False
        if self._lost is not None:
            raise self._lost
        self._pids.pop(ident, None)
        return True

    async def _wait(self, future: asyncio.Future[T], timeout: float, what: str) -> T:
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if self._lost is not None:
                raise self._lost from None
            raise HalTimeout(
                f"{self.name}: the printer on {self.transport.name} did not answer "
                f"{what} within {timeout} s: is it connected, powered and (on a serial "
                f"line) at the line's rate?"
            ) from None

    # --- receiving ---------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.transport.read(256, timeout=None)
                self._buf += data
                self._sort()
        except asyncio.CancelledError:
            raise
        except HalError as exc:
            self._fail(exc)
            if self._on_lost is not None:
                self._on_lost()

    def _fail(self, exc: HalError) -> None:
        self._lost = exc
        for future in (self._status, self._ident, self._full):
            if future is not None and not future.done():
                future.set_exception(exc)
        for event in self._pids.values():
            event.set()  # wakes the waiter, which sees the loss

    def _sort(self) -> None:
        buf = self._buf
        while buf:
            taken = self._take(buf)
            if taken is None:  # an answer begun: wait for the rest
                break
            if taken == 0:
                self.garbage += 1
                self._burst += 1
                del buf[0]
                continue
            if self._burst:
                self._noise()
            del buf[:taken]
        if not buf and self._burst:
            self._noise()

    def _noise(self) -> None:
        log.warning(
            "%s: skipped %d byte(s) from the printer that answer nothing asked (noise)",
            self.name,
            self._burst,
        )
        self._burst = 0

    def _take(self, buf: bytearray) -> int | None:
        """Bytes the answer at the head of ``buf`` takes (0: not an answer awaited;
        None: an awaited answer, incomplete)."""
        first = buf[0]
        if self._pids and first == _PID_HEAD[0]:
            if len(buf) < 2:
                return None
            if buf[1] == _PID_HEAD[1]:
                if len(buf) < 7:
                    return None
                ident = bytes(buf[2:6])
                if buf[6] == 0 and ident in self._pids:
                    self._pids[ident].set()
                    return 7
        if self._full is not None and first == _FULL_HEAD[0]:
            if len(buf) < 2:
                return None
            if buf[1] == _FULL_HEAD[1]:
                if len(buf) < 6:
                    return None
                if not self._full.done():
                    self._full.set_result(bytes(buf[:6]))
                return 6
        if self._ident is not None and first == _ID_HEAD:
            end = buf.find(0, 1, _MAX_ID + 2)
            if end < 0:
                return None if len(buf) < _MAX_ID + 2 else 0
            if not self._ident.done():
                self._ident.set_result(bytes(buf[1:end]))
            return end + 1
        if self._status is not None and is_status_byte(first):
            if not self._status.done():
                self._status.set_result(first)
            return 1
        return 0
