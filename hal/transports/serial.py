"""The ``serial`` transport: a serial port (RS-232, USB adapter, pty) under asyncio.

URL format::

    DRIVER+serial:///dev/ttyUSB0[?baud=9600&bytesize=8&parity=N&stopbits=1
                                 &xonxoff=false&rtscts=false&exclusive=true
                                 &dtr=true&rts=true&write_timeout=5]
    DRIVER+serial:///tmp/sim/crt310          (a simulator's pty, through its symlink)

The port is the address's path (an authority, if any, goes in front: ``serial://COM3``).
Options (`SerialOptions`): ``baud`` one of the standard rates (``BAUD_RATES``);
``bytesize`` 5-8; ``parity`` N, E, O, M or S; ``stopbits`` 1 or 2; ``xonxoff`` and
``rtscts`` flow control; ``exclusive`` takes an advisory lock (``flock``) so a second
program cannot open the port too; ``dtr`` and ``rts`` the modem lines to assert;
``write_timeout`` the seconds one `SerialTransport.write` may wait for the line to take
its bytes (default 5): with flow control (``rtscts``, ``xonxoff``) a busy or stopped
device may hold the line for ever, and a pty whose other side stops reading fills the
kernel's buffer; on expiry the write raises `WriteTimeout` (a `HalTimeout`) naming the
bytes written of the total, which the device has (or has in its buffer).

pyserial opens and configures the port (termios); the bytes then move through the
port's descriptor in non-blocking mode, woken by the event loop (``add_reader``): no
polling, no thread. Pitfalls handled (reference/ecosystem.md §2):

- a pty has no modem lines: setting DTR/RTS raises ENOTTY there. Those calls are
  guarded: a port without modem lines works, and `SerialTransport.modem_lines` says so;
- a pty whose master closed answers reads with EIO (or end of file) and writes with
  EIO: both become `ConnectionLost`, and the descriptor leaves the loop at once (it
  would otherwise report itself readable for ever);
- an unplugged adapter comes back under the same name (a udev symlink, the simulator's
  pty symlink): `SerialTransport.reopen` opens the path again and resolves it anew.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import select
import time
from dataclasses import dataclass
from typing import Any, Literal

import serial

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost, HalTimeout, TransportError
from hal.registry import TransportSpec
from hal.transports.base import DEFAULT_LIMIT, BufferedTransport, ReceiveBuffer

__all__ = [
    "BAUD_RATES",
    "SERIAL_TRANSPORT",
    "SerialOptions",
    "SerialTransport",
    "WriteTimeout",
    "open_serial_transport",
]

log = logging.getLogger(__name__)

#: The baud rates a port may be opened at (pyserial's standard set).
BAUD_RATES: tuple[int, ...] = tuple(serial.Serial.BAUDRATES)

# errno values that mean "the device is not there (any more)".
_GONE = frozenset({errno.EIO, errno.ENXIO, errno.ENODEV, errno.ENOENT, errno.EBADF})
# errno values of a modem-line ioctl on a port that has no modem lines (a pty).
_NO_MODEM_LINES = frozenset({errno.ENOTTY, errno.EINVAL})
_READ_SIZE = 65536


@dataclass(frozen=True)
class SerialOptions:
    """Line settings of a serial port.

    Attributes:
        baud: bits per second, one of `BAUD_RATES`.
        bytesize: data bits, 5 to 8.
        parity: N (none), E (even), O (odd), M (mark) or S (space).
        stopbits: 1 or 2.
        xonxoff: software flow control.
        rtscts: hardware flow control (RTS/CTS).
        exclusive: lock the port (advisory ``flock``) against a second opener.
        dtr: assert DTR after opening (ignored where there are no modem lines).
        rts: assert RTS after opening, unless ``rtscts`` drives it.
        write_timeout: seconds one write may wait for the line to take its bytes (flow
            control holding it, a full buffer); then `WriteTimeout`. Must be > 0.

    Raises:
        ConfigurationError: a baud rate outside `BAUD_RATES`, a write_timeout <= 0.
    """

    baud: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Literal[1, 2] = 1
    xonxoff: bool = False
    rtscts: bool = False
    exclusive: bool = True
    dtr: bool = True
    rts: bool = True
    write_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.write_timeout > 0:
            raise ConfigurationError(
                f"write_timeout must be > 0 seconds; got {self.write_timeout!r}"
            )
        if isinstance(self.baud, bool) or self.baud not in BAUD_RATES:
            raise ConfigurationError(
                f"baud must be a standard rate ({', '.join(map(str, BAUD_RATES))}); "
                f"got {self.baud!r}"
            )


class WriteTimeout(HalTimeout):
    """A write the line did not take in time (flow control holding it, a full buffer).

    Attributes:
        written: the bytes the line took before the time ran out (they are gone).
        total: the bytes the write was given.
    """

    def __init__(self, message: str, *, written: int, total: int) -> None:
        super().__init__(message)
        self.written = written
        self.total = total


class SerialTransport(BufferedTransport):
    """A serial port as a `hal.transports.base.Transport`.

    Args:
        port: the device path (``/dev/ttyUSB0``, a pty symlink).
        options: the line settings.
        limit: bytes kept unread before the oldest are dropped.
    """

    def __init__(
        self, port: str, options: SerialOptions | None = None, *, limit: int = DEFAULT_LIMIT
    ) -> None:
        if not port:
            raise ConfigurationError("a serial transport needs a port path")
        self.port = port
        self.options = options if options is not None else SerialOptions()
        self._serial: Any = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = ReceiveBuffer(self.name, limit)
        self._modem_lines: bool | None = None
        self._closed = True  # by close(), or never opened: reads are a caller mistake

    @property
    def name(self) -> str:
        return f"serial://{self.port}"

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    @property
    def modem_lines(self) -> bool | None:
        """Whether the port has modem lines (``False`` on a pty); ``None`` until known."""
        return self._modem_lines

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._fd is not None:
            return
        loop = asyncio.get_running_loop()
        port = self._open_port()
        try:
            self._modem_lines = None
            self.set_dtr(self.options.dtr)
            if not self.options.rtscts:
                self.set_rts(self.options.rts)
            fd = int(port.fileno())
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._on_readable)
        except BaseException:
            port.close()
            self._serial = None
            raise
        self._loop = loop
        self._fd = fd
        self._closed = False
        self._buffer.reset()
        log.debug("%s: open at %d baud", self.name, self.options.baud)

    def _open_port(self) -> Any:
        opts = self.options
        port = serial.Serial(
            port=None,
            baudrate=opts.baud,
            bytesize=opts.bytesize,
            parity=opts.parity,
            stopbits=opts.stopbits,
            xonxoff=opts.xonxoff,
            rtscts=opts.rtscts,
            exclusive=opts.exclusive,
            timeout=0,
            write_timeout=0,
        )
        port.port = self.port
        try:
            port.open()
        except serial.SerialException as exc:
            code = exc.errno
            if opts.exclusive and code in _NO_MODEM_LINES:
                # Some pseudo-terminals refuse the lock ioctl; the port itself is fine.
                port.exclusive = False
                return self._retry_open(port)
            raise self._open_error(exc) from exc
        except OSError as exc:
            raise self._open_error(exc) from exc
        self._serial = port
        return port

    def _retry_open(self, port: Any) -> Any:
        try:
            port.open()
        except (serial.SerialException, OSError) as exc:
            raise self._open_error(exc) from exc
        self._serial = port
        return port

    def _open_error(self, exc: OSError) -> TransportError:
        if exc.errno in _GONE:
            return ConnectionLost(f"{self.name}: the port is not there ({_reason(exc)})")
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
            return TransportError(f"{self.name}: the port is in use by another program")
        return TransportError(f"{self.name}: cannot open the port ({_reason(exc)})")

    async def _release_link(self) -> None:
        self._release()

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._loop is not None:
            self._loop.remove_reader(fd)
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except (OSError, serial.SerialException) as exc:
                # A port whose device vanished may fail to restore its settings.
                log.debug("%s: closing: %s", self.name, exc)

    # --- modem lines ---------------------------------------------------------------------

    def set_dtr(self, on: bool) -> bool:
        """Set DTR; returns False (and changes nothing) on a port without modem lines."""
        return self._modem("dtr", on)

    def set_rts(self, on: bool) -> bool:
        """Set RTS; returns False (and changes nothing) on a port without modem lines."""
        return self._modem("rts", on)

    def _modem(self, line: str, on: bool) -> bool:
        if self._serial is None:
            raise TransportError(f"{self.name} is not open; call open() first")
        if self._modem_lines is False:
            return False
        try:
            setattr(self._serial, line, on)
        except OSError as exc:
            if exc.errno not in _NO_MODEM_LINES:
                raise TransportError(f"{self.name}: cannot set {line.upper()}: {exc}") from exc
            if self._modem_lines is None:
                log.debug("%s has no modem lines (a pty?): %s ignored", self.name, line.upper())
            self._modem_lines = False
            return False
        self._modem_lines = True
        return True

    # --- bytes ---------------------------------------------------------------------------

    def _on_readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(f"reading failed: {_reason(exc)}")
            return
        if not data:
            # A tty with VMIN=0 reads 0 bytes when nothing is there: the bytes that woke
            # us were dropped by flush_input meanwhile. Only a hang-up is an end.
            if _hung_up(fd):
                self._lose("the port hung up (end of file)")
            return
        self._buffer.feed(data)

    def _lose(self, why: str) -> None:
        """The device went away: stop watching the descriptor, wake the readers."""
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        if self._buffer.lost is None:
            log.warning("%s: connection lost: %s", self.name, why)
        self._buffer.lose(ConnectionLost(f"{self.name}: connection lost: {why}"))

    def _check(self) -> None:
        super()._check()
        lost = self._buffer.lost
        if self._fd is None and lost is not None:
            raise ConnectionLost(lost.message)

    async def write(self, data: bytes) -> None:
        self._check()
        lost = self._buffer.lost
        if lost is not None:
            raise ConnectionLost(lost.message)
        fd = self._fd
        assert fd is not None
        view = memoryview(bytes(data))
        total = len(view)
        limit = self.options.write_timeout
        deadline = time.monotonic() + limit
        while view:
            try:
                sent = os.write(fd, view)
            except (BlockingIOError, InterruptedError):
                left = deadline - time.monotonic()
                if left <= 0 or not await self._writable(fd, left):
                    written = total - len(view)
                    raise WriteTimeout(
                        f"{self.name}: the line took {written} of {total} bytes within "
                        f"{limit} s (write_timeout): flow control holding it (a busy, "
                        f"stopped or paper-out device?) or nobody reading",
                        written=written,
                        total=total,
                    ) from None
                continue
            except OSError as exc:
                self._lose(f"writing failed: {_reason(exc)}")
                raise ConnectionLost(f"{self.name}: writing failed: {_reason(exc)}") from exc
            view = view[sent:]

    async def _writable(self, fd: int, timeout: float) -> bool:
        """Whether ``fd`` became writable within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        loop.add_writer(fd, _resolve, waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        finally:
            loop.remove_writer(fd)
        return True

    def flush_input(self) -> int:
        dropped = super().flush_input()
        if self._serial is not None and self._buffer.lost is None:
            try:
                self._serial.reset_input_buffer()
            except (OSError, serial.SerialException) as exc:
                log.debug("%s: flushing the OS input queue: %s", self.name, exc)
        return dropped

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"SerialTransport({self.port!r}, baud={self.options.baud}, {state})"


def _hung_up(fd: int) -> bool:
    """The descriptor reports a hang-up or an error (poll, no wait)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {os.strerror(code)}"
    return str(exc) or type(exc).__name__


def open_serial_transport(address: DeviceAddress, options: SerialOptions) -> SerialTransport:
    """Build the (unopened) serial transport an address names (the registry factory).

    Raises:
        ConfigurationError: the address names no port.
    """
    port = address.authority + address.path
    if not port:
        raise ConfigurationError(
            f"{address.location}: a serial address names the port, e.g. "
            f"{address.driver}+serial:///dev/ttyUSB0"
        )
    return SerialTransport(port, options)


SERIAL_TRANSPORT = TransportSpec(
    name="serial",
    options=SerialOptions,
    factory=open_serial_transport,
    description="a serial port (RS-232, USB adapter, pty), e.g. serial:///dev/ttyUSB0?baud=9600",
)
"""The ``serial`` transport, registered through the ``tellerhal.transports`` entry point."""
