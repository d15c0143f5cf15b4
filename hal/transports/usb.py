"""The ``usb`` transport: the bulk pipes of a USB device through pyusb, under asyncio.

URL format::

    DRIVER+usb://VID:PID[?serial=SN&interface=0&ep_out=0x01&ep_in=0x81&backend=libusb1
                         &write_timeout=5&read_slice=0.001&idle_slice=0.05]
    DRIVER+usb://?vid=0x0dd4&pid=0x0195                  (the same, as options)
    crt310+usb://fffe:0310?backend=sim&serial=CRT310-0001   (the simulator's CRT-310)

``VID:PID`` are the device's vendor and product IDs, hexadecimal (``0dd4:0195``, a
``0x`` prefix is allowed); ``vid=`` and ``pid=`` options say the same for addresses
built from a kiosk file. Options (`UsbOptions`): ``serial`` picks one device among
several with the same IDs (its iSerialNumber string); ``interface`` the
bInterfaceNumber whose endpoints carry the bytes; ``ep_out``/``ep_in`` the endpoint
addresses (default: the interface's first bulk OUT and first bulk IN); ``backend`` the
pyusb backend by name (`register_backend`: ``libusb1``, the default, ``libusb0``,
``openusb``, and whatever registered itself, such as the simulator's ``sim``);
``write_timeout`` seconds a bulk OUT may wait for the device to take the bytes;
``read_slice`` and ``idle_slice`` how long one bulk IN read may block the worker (see
below).

How it works. Every pyusb call (all of them block) runs on one thread per device, never
on the event loop. That thread is a small executor: between bulk IN reads it runs the
queued jobs (attach, writes, control transfers, detach) in order, and the results come
back to the loop through futures (``call_soon_threadsafe``). The bulk IN reads have a
short timeout (a *slice*) and feed the `ReceiveBuffer` the readers wait on, so bytes a
device sends while nobody reads are kept, as on a serial port; a read that times out
(``USBTimeoutError``) just means "nothing yet". A write waits for the read in progress to
end, so the slice bounds what a write may wait: ``read_slice`` while bytes moved in the
last half second, ``idle_slice`` after that (a write after a quiet spell may wait up to
``idle_slice``; libusb's timeouts are whole milliseconds). Request and reply protocols do
better than a slice: when a transfer from the device ends (a short or zero-length
packet) after the host wrote, it is likely the reply, and the worker first waits up to
2 ms for the host's next write (it usually answers at once) before it reads again, so
a write that answers a reply goes out without waiting for a read (the device keeps what
it sends meanwhile: a bulk IN pipe holds its data until the host asks); transfers the
device sends unasked are read back to back. Each read asks for one packet
(``wMaxPacketSize``): libusb ends such a transfer at the first packet, so a timeout can
never swallow a partly filled buffer (pyusb raises on a timeout and drops the count of
bytes that did arrive).

Errors: ``USBError`` errno 19 (ENODEV, "No such device", libusb's NO_DEVICE) means the
device was unplugged: reads end with `ConnectionLost` once the buffer is drained, writes
and control transfers raise it. `UsbTransport.reopen` finds the device again by VID:PID
(and serial) and claims it anew. A bulk OUT that the device does not take within
``write_timeout`` raises `HalTimeout` (some of the bytes may have gone); a control
request the device stalls raises `TransportError`. A claim refused because another
program (or a kernel driver that cannot be detached) holds the interface, or for lack of
permission (a udev rule), is a `TransportError` at ``open()``.

Backends: pyusb's backends are looked up by name in a small registry here
(`register_backend`), so a simulator can add its own without ``hal`` importing it (the
simulator's ``sim`` backend registers when ``simulator.wire.usb`` is imported).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import usb.backend.libusb0  # type: ignore[import-untyped]
import usb.backend.libusb1  # type: ignore[import-untyped]
import usb.backend.openusb  # type: ignore[import-untyped]
import usb.core  # type: ignore[import-untyped]
import usb.util  # type: ignore[import-untyped]

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost, HalTimeout, TransportError
from hal.registry import TransportSpec
from hal.transports.base import DEFAULT_LIMIT, ReceiveBuffer, require_open

__all__ = [
    "USB_TRANSPORT",
    "UsbDeviceInfo",
    "UsbOptions",
    "UsbTransport",
    "backend_names",
    "get_backend",
    "open_usb_transport",
    "register_backend",
    "unregister_backend",
]

log = logging.getLogger(__name__)

#: Builds a pyusb backend (an ``usb.backend.IBackend``), or returns ``None`` when the
#: library behind it is not installed.
BackendFactory = Callable[[], Any]

_backends_lock = threading.Lock()
_backends: dict[str, BackendFactory] = {
    "libusb1": usb.backend.libusb1.get_backend,
    "libusb0": usb.backend.libusb0.get_backend,
    "openusb": usb.backend.openusb.get_backend,
}

# errno values (and libusb error codes) that mean "the device is not there any more".
_GONE_ERRNO = frozenset({errno.ENODEV, errno.ENXIO, errno.ESHUTDOWN})
_LIBUSB_NO_DEVICE = -4
# Consecutive unexplained bulk IN errors after which the device counts as gone.
_MAX_READ_ERRORS = 3
# Seconds without traffic after which the worker reads in idle slices.
_BUSY_SPELL = 0.5
# Seconds the worker waits for the host's next write after it delivered bytes, before
# it blocks itself in a bulk IN read again (the device keeps what it sends meanwhile).
_REPLY_GRACE = 0.002
_IDS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,4}):(?:0[xX])?([0-9a-fA-F]{1,4})\Z")


def register_backend(name: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make a pyusb backend reachable as ``backend=NAME`` in a ``usb`` address.

    Args:
        name: the name addresses use.
        factory: called (on the device's worker thread) each time a transport opens;
            returns the backend, or ``None`` if it is not available here.
        replace: take the name even if another factory holds it.

    Raises:
        ConfigurationError: the name is taken (and not ``replace``) or empty.
    """
    if not name or not name.isidentifier():
        raise ConfigurationError(f"a backend name is an identifier; got {name!r}")
    with _backends_lock:
        if name in _backends and not replace and _backends[name] is not factory:
            raise ConfigurationError(f"a pyusb backend named {name!r} is already registered")
        _backends[name] = factory


def unregister_backend(name: str) -> None:
    """Forget a backend name; unknown names are ignored."""
    with _backends_lock:
        _backends.pop(name, None)


def backend_names() -> list[str]:
    """The backend names addresses may use, sorted."""
    with _backends_lock:
        return sorted(_backends)


def get_backend(name: str) -> Any:
    """The pyusb backend registered as ``name``.

    Raises:
        ConfigurationError: no backend has that name.
        TransportError: it has, but its library is not available on this machine.
    """
    with _backends_lock:
        factory = _backends.get(name)
    if factory is None:
        hint = " (the simulator's registers when simulator.wire.usb is imported)"
        raise ConfigurationError(
            f"no pyusb backend is registered as {name!r}; registered: "
            f"{', '.join(backend_names())}{hint if name == 'sim' else ''}"
        )
    backend = factory()
    if backend is None:
        raise TransportError(f"the pyusb backend {name!r} is not available (library not found)")
    return backend


@dataclass(frozen=True)
class UsbOptions:
    """How a ``usb`` transport finds and uses its device.

    Attributes:
        vid: the vendor ID, when the address has no ``VID:PID`` authority.
        pid: the product ID, likewise.
        serial: the iSerialNumber the device must have; empty: the first match.
        interface: the bInterfaceNumber whose bulk endpoints carry the bytes.
        ep_out: the bulk OUT endpoint address; empty: the interface's first.
        ep_in: the bulk IN endpoint address; empty: the interface's first.
        backend: the pyusb backend's registered name (`register_backend`).
        write_timeout: seconds a bulk OUT may wait for the device to take the bytes.
        read_slice: seconds one bulk IN read may block the worker while bytes flow.
        idle_slice: the same once nothing moved for half a second.

    Raises:
        ConfigurationError: an ID or endpoint out of range, a timeout not > 0.
    """

    vid: int | None = None
    pid: int | None = None
    serial: str = ""
    interface: int = 0
    ep_out: int | None = None
    ep_in: int | None = None
    backend: str = "libusb1"
    write_timeout: float = 5.0
    read_slice: float = 0.001
    idle_slice: float = 0.05

    def __post_init__(self) -> None:
        for key in ("vid", "pid"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= 0xFFFF:
                raise ConfigurationError(f"{key} is 0 to 0xffff, got {value:#x}")
        if not 0 <= self.interface <= 0xFF:
            raise ConfigurationError(f"interface is 0 to 255, got {self.interface}")
        if self.ep_out is not None and not 0x01 <= self.ep_out <= 0x0F:
            raise ConfigurationError(f"ep_out is an OUT endpoint, 0x01 to 0x0f; got {self.ep_out}")
        if self.ep_in is not None and not 0x81 <= self.ep_in <= 0x8F:
            raise ConfigurationError(f"ep_in is an IN endpoint, 0x81 to 0x8f; got {self.ep_in}")
        for key in ("write_timeout", "read_slice", "idle_slice"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{key} must be > 0 s, got {value}")
        if self.read_slice > self.idle_slice:
            raise ConfigurationError(
                f"read_slice ({self.read_slice} s) is at most idle_slice ({self.idle_slice} s)"
            )


@dataclass(frozen=True)
class UsbDeviceInfo:
    """What the transport found when it attached (for messages and the log).

    Attributes:
        vendor_id: idVendor.
        product_id: idProduct.
        bus: the bus number, if the backend says.
        address: the device address on the bus, if the backend says.
        manufacturer: the iManufacturer string, if it could be read.
        product: the iProduct string, likewise.
        serial: the iSerialNumber string, likewise.
        ep_out: the bulk OUT endpoint used.
        ep_in: the bulk IN endpoint used.
        max_packet: the IN endpoint's wMaxPacketSize (the size of each read).
    """

    vendor_id: int
    product_id: int
    bus: int | None
    address: int | None
    manufacturer: str | None
    product: str | None
    serial: str | None
    ep_out: int
    ep_in: int
    max_packet: int


class _Job:
    """A call for the worker thread, and the future its outcome goes to."""

    __slots__ = ("call", "future")

    def __init__(self, call: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        self.call = call
        self.future = future


_STOP = object()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return  # the caller was cancelled; the outcome has nowhere to go
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _is_gone(exc: BaseException) -> bool:
    """True if a pyusb error says the device is not there any more."""
    if not isinstance(exc, usb.core.USBError):
        return False
    code = getattr(exc, "backend_error_code", None)
    return exc.errno in _GONE_ERRNO or code == _LIBUSB_NO_DEVICE


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(code, int) and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {text}"
    return str(text)


class UsbTransport:
    """The bulk pipes of one USB device as a `hal.transports.base.Transport`.

    Args:
        vendor_id: idVendor of the device.
        product_id: idProduct of the device.
        options: how to find and use it.
        limit: bytes kept unread before the oldest are dropped.
    """

    def __init__(
        self,
        vendor_id: int,
        product_id: int,
        options: UsbOptions | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
    ) -> None:
        if not (0 <= vendor_id <= 0xFFFF and 0 <= product_id <= 0xFFFF):
            raise ConfigurationError(f"USB IDs are 0 to 0xffff; got {vendor_id:#x}:{product_id:#x}")
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.options = options if options is not None else UsbOptions()
        self._buffer = ReceiveBuffer(self.name, limit)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._stopped: asyncio.Future[None] | None = None
        self._generation = 0
        self._attached = False
        self._closed = True  # by close(), or never opened: reads are a caller mistake
        self._info: UsbDeviceInfo | None = None
        # Worker-thread state (touched only on the worker thread once it runs).
        self._device: Any = None
        self._ep_out = 0
        self._ep_in = 0
        self._read_buffer: Any = None
        self._detached_kernel = False
        self._gone: str | None = None
        self._read_errors = 0
        self._last_traffic = 0.0
        self._answered = False  # a reply just went to the host: wait for its answer
        self._asked = False  # the host wrote since the device's last transfer ended

    @property
    def name(self) -> str:
        ids = f"usb://{self.vendor_id:04x}:{self.product_id:04x}"
        return f"{ids}?serial={self.options.serial}" if self.options.serial else ids

    @property
    def is_open(self) -> bool:
        return self._attached

    @property
    def info(self) -> UsbDeviceInfo | None:
        """The device found at the last successful open, or ``None``."""
        return self._info

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._attached:
            return
        if self._thread is not None:
            await self._stop_worker()  # a worker whose device went away
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._generation += 1
        generation = self._generation
        self._jobs = queue.SimpleQueue()
        self._stopped = loop.create_future()
        self._gone = None
        self._read_errors = 0
        self._answered = self._asked = False
        # Before the worker runs: it reads (and feeds the buffer) as soon as it attached.
        self._buffer.reset()
        thread = threading.Thread(
            target=self._work,
            args=(loop, generation, self._jobs, self._stopped),
            name=f"usb {self.vendor_id:04x}:{self.product_id:04x}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        try:
            info = await self._submit(self._attach)
        except BaseException:
            await self._stop_worker()
            raise
        self._info = info
        self._attached = self._buffer.lost is None  # not unplugged in the meantime
        self._closed = False
        log.debug(
            "%s: open (bus %s address %s, OUT %#04x, IN %#04x, %d-byte packets)",
            self.name,
            info.bus,
            info.address,
            info.ep_out,
            info.ep_in,
            info.max_packet,
        )

    async def close(self) -> None:
        await self._stop_worker()
        self._closed = True
        self._buffer.lose(ConnectionLost(f"{self.name} was closed"))

    async def reopen(self) -> None:
        await self._stop_worker()
        self._buffer.reset()
        try:
            await self.open()
        except ConnectionLost as exc:
            self._closed = False  # still gone, not closed: reads say so
            self._buffer.lose(exc)
            raise

    async def _stop_worker(self) -> None:
        """End the worker thread: it finishes the read in progress, detaches, exits."""
        self._attached = False
        thread, self._thread = self._thread, None
        stopped, self._stopped = self._stopped, None
        if thread is None:
            return
        self._jobs.put(_STOP)
        if stopped is not None:
            # Resolved by the worker as its very last act; no thread waits for it.
            await asyncio.shield(stopped)
        thread.join()

    # --- the worker thread ---------------------------------------------------------------

    def _work(
        self,
        loop: asyncio.AbstractEventLoop,
        generation: int,
        jobs: queue.SimpleQueue[_Job | object],
        stopped: asyncio.Future[None],
    ) -> None:
        try:
            while True:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    job = None
                if job is None and self._answered:
                    # Bytes just went to the host, which is likely to answer them: wait
                    # a moment for its write before blocking the thread in a read.
                    self._answered = False
                    try:
                        job = jobs.get(timeout=_REPLY_GRACE)
                    except queue.Empty:
                        continue
                if job is None:
                    if self._device is not None and self._gone is None:
                        self._read_slice(loop, generation)
                        continue
                    job = jobs.get()  # nothing to read: wait for work
                if job is _STOP:
                    return
                assert isinstance(job, _Job)
                self._run(loop, job)
        finally:
            self._detach()
            self._fail_pending(loop, jobs)
            self._post(loop, _settle, stopped, None, None)

    def _fail_pending(
        self, loop: asyncio.AbstractEventLoop, jobs: queue.SimpleQueue[_Job | object]
    ) -> None:
        """Jobs queued behind the stop never run: their callers get an error."""
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Job):
                error = TransportError(f"{self.name} was closed")
                self._post(loop, _settle, job.future, None, error)

    def _post(self, loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(callback, *args)

    def _run(self, loop: asyncio.AbstractEventLoop, job: _Job) -> None:
        try:
            result = job.call()
        except BaseException as exc:
            self._post(loop, _settle, job.future, None, exc)
        else:
            self._post(loop, _settle, job.future, result, None)

    async def _submit(self, call: Callable[[], Any]) -> Any:
        if self._thread is None:
            raise TransportError(f"{self.name} is not open; call open() first")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put(_Job(call, future))
        return await future

    def _attach(self) -> UsbDeviceInfo:
        """Find the device, claim its interface, pick the endpoints (worker thread)."""
        opts = self.options
        backend = get_backend(opts.backend)
        device = self._find(backend)
        if device is None:
            raise ConnectionLost(f"{self.name}: no such device on backend {opts.backend!r}")
        self._device = device
        try:
            return self._claim(device)
        except BaseException:
            self._detach()
            raise

    def _find(self, backend: Any) -> Any:
        wanted = self.options.serial

        def serial_matches(device: Any) -> bool:
            try:
                return bool(device.serial_number == wanted)
            except (usb.core.USBError, ValueError, NotImplementedError):
                return False  # no strings, or no permission to read them

        try:
            return usb.core.find(
                backend=backend,
                idVendor=self.vendor_id,
                idProduct=self.product_id,
                custom_match=serial_matches if wanted else None,
            )
        except usb.core.USBError as exc:
            raise TransportError(
                f"{self.name}: enumerating devices failed: {_reason(exc)}"
            ) from exc

    def _claim(self, device: Any) -> UsbDeviceInfo:
        opts = self.options
        try:
            try:
                config = device.get_active_configuration()
            except usb.core.USBError as exc:
                if _is_gone(exc):
                    raise
                device.set_configuration()  # unconfigured: take the first configuration
                config = device.get_active_configuration()
            interface = usb.util.find_descriptor(config, bInterfaceNumber=opts.interface)
            if interface is None:
                raise TransportError(f"{self.name}: the device has no interface {opts.interface}")
            ep_out = self._endpoint(interface, usb.util.ENDPOINT_OUT, opts.ep_out)
            ep_in = self._endpoint(interface, usb.util.ENDPOINT_IN, opts.ep_in)
            self._detach_kernel_driver(device, opts.interface)
            usb.util.claim_interface(device, opts.interface)
        except usb.core.USBError as exc:
            raise self._claim_error(exc) from exc
        self._ep_out = int(ep_out.bEndpointAddress)
        self._ep_in = int(ep_in.bEndpointAddress)
        max_packet = int(ep_in.wMaxPacketSize) or 64
        self._read_buffer = usb.util.create_buffer(max_packet)
        self._last_traffic = time.monotonic()
        return UsbDeviceInfo(
            vendor_id=self.vendor_id,
            product_id=self.product_id,
            bus=device.bus,
            address=device.address,
            manufacturer=_string(device, "manufacturer"),
            product=_string(device, "product"),
            serial=_string(device, "serial_number"),
            ep_out=self._ep_out,
            ep_in=self._ep_in,
            max_packet=max_packet,
        )

    def _endpoint(self, interface: Any, direction: int, address: int | None) -> Any:
        def fits(ep: Any) -> bool:
            if usb.util.endpoint_direction(ep.bEndpointAddress) != direction:
                return False
            if address is not None:
                return bool(ep.bEndpointAddress == address)
            return bool(usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK)

        endpoint = usb.util.find_descriptor(interface, custom_match=fits)
        if endpoint is None:
            way = "OUT" if direction == usb.util.ENDPOINT_OUT else "IN"
            which = f"endpoint {address:#04x}" if address is not None else f"bulk {way} endpoint"
            raise TransportError(
                f"{self.name}: interface {interface.bInterfaceNumber} has no {which}"
            )
        return endpoint

    def _detach_kernel_driver(self, device: Any, number: int) -> None:
        try:
            active = device.is_kernel_driver_active(number)
        except (NotImplementedError, usb.core.USBError) as exc:
            log.debug("%s: cannot tell whether a kernel driver is bound: %s", self.name, exc)
            return
        if active:
            device.detach_kernel_driver(number)
            self._detached_kernel = True
            log.info("%s: detached the kernel driver from interface %d", self.name, number)

    def _claim_error(self, exc: BaseException) -> TransportError:
        if _is_gone(exc):
            return ConnectionLost(f"{self.name}: the device went away ({_reason(exc)})")
        code = getattr(exc, "errno", None)
        if code == errno.EBUSY:
            return TransportError(f"{self.name}: the interface is in use by another program")
        if code == errno.EACCES:
            return TransportError(
                f"{self.name}: no permission to use the device (a udev rule must grant it)"
            )
        return TransportError(f"{self.name}: cannot claim the device ({_reason(exc)})")

    def _detach(self) -> None:
        """Release the interface and the device handle (worker thread); never raises."""
        device, self._device = self._device, None
        if device is None:
            return
        number = self.options.interface
        try:
            usb.util.release_interface(device, number)
        except (usb.core.USBError, ValueError) as exc:
            log.debug("%s: releasing interface %d: %s", self.name, number, exc)
        if self._detached_kernel:
            self._detached_kernel = False
            try:
                device.attach_kernel_driver(number)
            except (NotImplementedError, usb.core.USBError) as exc:
                log.debug("%s: re-attaching the kernel driver: %s", self.name, exc)
        try:
            usb.util.dispose_resources(device)
        except usb.core.USBError as exc:
            log.debug("%s: closing the handle: %s", self.name, exc)

    def _read_slice(self, loop: asyncio.AbstractEventLoop, generation: int) -> None:
        """One bulk IN read of at most a slice; what came goes to the loop."""
        now = time.monotonic()
        busy = now - self._last_traffic < _BUSY_SPELL
        slice_s = self.options.read_slice if busy else self.options.idle_slice
        buffer = self._read_buffer
        try:
            count = self._device.read(self._ep_in, buffer, max(1, round(slice_s * 1000)))
        except usb.core.USBTimeoutError:
            return  # nothing yet
        except Exception as exc:  # a USBError, or a backend's own failure
            self._read_failed(loop, generation, exc, slice_s)
            return
        self._read_errors = 0
        # A short packet (a zero-length one included) ends a transfer: if the host wrote
        # since the last one, this is likely its reply, and it is likely to answer it.
        # A full packet may have more behind it: read on at once.
        if count < len(buffer) and self._asked:
            self._asked = False
            self._answered = True
        if count:
            self._last_traffic = time.monotonic()
            self._post(loop, self._deliver, generation, buffer[:count].tobytes())

    def _read_failed(
        self,
        loop: asyncio.AbstractEventLoop,
        generation: int,
        exc: BaseException,
        slice_s: float,
    ) -> None:
        if _is_gone(exc):
            self._lose(loop, generation, f"the device went away ({_reason(exc)})")
            return
        if getattr(exc, "errno", None) == errno.EPIPE:
            log.warning("%s: IN endpoint stalled; clearing the halt", self.name)
            try:
                self._device.clear_halt(self._ep_in)
            except usb.core.USBError as again:
                if _is_gone(again):
                    self._lose(loop, generation, f"the device went away ({_reason(again)})")
                    return
        self._read_errors += 1
        log.warning("%s: bulk IN read failed: %s", self.name, _reason(exc))
        if self._read_errors >= _MAX_READ_ERRORS:
            self._lose(
                loop, generation, f"reading failed {self._read_errors} times: {_reason(exc)}"
            )
        else:
            time.sleep(slice_s)  # on the worker thread: do not spin on a failing pipe

    def _lose(self, loop: asyncio.AbstractEventLoop, generation: int, why: str) -> None:
        """The device is gone (worker thread): stop reading, tell the loop."""
        if self._gone is None:
            self._gone = why
            self._post(loop, self._on_lost, generation, why)

    def _deliver(self, generation: int, data: bytes) -> None:
        if generation == self._generation:
            self._buffer.feed(data)

    def _on_lost(self, generation: int, why: str) -> None:
        if generation != self._generation:
            return
        if self._buffer.lost is None:
            log.warning("%s: connection lost: %s", self.name, why)
        self._attached = False
        self._buffer.lose(ConnectionLost(f"{self.name}: connection lost: {why}"))

    def _gone_error(self, loop: asyncio.AbstractEventLoop, exc: BaseException) -> ConnectionLost:
        why = f"the device went away ({_reason(exc)})"
        self._lose(loop, self._generation, why)
        return ConnectionLost(f"{self.name}: connection lost: {why}")

    # --- bytes ---------------------------------------------------------------------------

    def _check(self) -> None:
        # A lost device still lets the bytes received before it went be read; the
        # buffer raises ConnectionLost once they are.
        require_open(not self._closed, self.name)

    async def write(self, data: bytes) -> None:
        self._check()
        lost = self._buffer.lost
        if lost is not None:
            raise ConnectionLost(lost.message)
        if not data:
            return
        loop = asyncio.get_running_loop()
        payload = bytes(data)
        timeout_ms = max(1, round(self.options.write_timeout * 1000))

        def bulk_out() -> None:
            if self._gone is not None:
                raise ConnectionLost(f"{self.name}: connection lost: {self._gone}")
            sent = 0
            while sent < len(payload):
                try:
                    sent += self._device.write(self._ep_out, payload[sent:], timeout_ms)
                except usb.core.USBTimeoutError as exc:
                    raise HalTimeout(
                        f"{self.name}: the device did not take {len(payload) - sent} of "
                        f"{len(payload)} bytes within {self.options.write_timeout} s"
                    ) from exc
                except usb.core.USBError as exc:
                    if _is_gone(exc):
                        raise self._gone_error(loop, exc) from exc
                    raise TransportError(f"{self.name}: writing failed: {_reason(exc)}") from exc
            self._last_traffic = time.monotonic()
            self._asked = True

        await self._submit(bulk_out)

    async def read(self, max_bytes: int = 4096, *, timeout: float | None = None) -> bytes:
        self._check()
        return await self._buffer.read(max_bytes, timeout=timeout)

    async def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        self._check()
        return await self._buffer.read_exactly(size, timeout=timeout)

    def flush_input(self) -> int:
        return self._buffer.clear()

    async def control_transfer(
        self,
        request_type: int,
        request: int,
        value: int = 0,
        index: int = 0,
        data: bytes | int | None = None,
        *,
        timeout: float = 1.0,
    ) -> bytes | int:
        """A control transfer on endpoint 0 (class and vendor requests of a driver).

        Args:
            request_type: bmRequestType; bit 7 set is device-to-host (IN).
            request: bRequest.
            value: wValue.
            index: wIndex.
            data: for an IN request, the most bytes to receive (wLength); for an OUT
                request, the bytes to send; ``None``: no data stage.
            timeout: seconds the device has to complete it.

        Returns:
            The bytes received (IN), or the number of bytes sent (OUT).

        Raises:
            HalTimeout: the device did not complete the request in time.
            ConnectionLost: the device went away.
            TransportError: the device stalled (refused) the request, or the transport
                is not open.
        """
        self._check()
        lost = self._buffer.lost
        if lost is not None:
            raise ConnectionLost(lost.message)
        if not (0 <= request_type <= 0xFF and 0 <= request <= 0xFF):
            raise ValueError(f"bmRequestType and bRequest are bytes; got {request_type}, {request}")
        if not (0 <= value <= 0xFFFF and 0 <= index <= 0xFFFF):
            raise ValueError(f"wValue and wIndex are 16-bit; got {value}, {index}")
        device_to_host = bool(request_type & 0x80)
        if data is None:
            data = 0 if device_to_host else b""
        if device_to_host != isinstance(data, int):
            raise ValueError("an IN request takes a length, an OUT request bytes")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"a timeout is > 0 s, got {timeout}")
        loop = asyncio.get_running_loop()
        payload: int | bytes = data if isinstance(data, int) else bytes(data)
        what = f"control request {request_type:#04x}/{request:#04x}"

        def control() -> bytes | int:
            if self._gone is not None:
                raise ConnectionLost(f"{self.name}: connection lost: {self._gone}")
            try:
                result = self._device.ctrl_transfer(
                    request_type, request, value, index, payload, max(1, round(timeout * 1000))
                )
            except usb.core.USBTimeoutError as exc:
                raise HalTimeout(f"{self.name}: {what} not done within {timeout} s") from exc
            except usb.core.USBError as exc:
                if _is_gone(exc):
                    raise self._gone_error(loop, exc) from exc
                if exc.errno == errno.EPIPE:
                    raise TransportError(f"{self.name}: the device refused {what} (stall)") from exc
                raise TransportError(f"{self.name}: {what} failed: {_reason(exc)}") from exc
            return int(result) if isinstance(result, int) else bytes(result)

        result: bytes | int = await self._submit(control)
        return result

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"UsbTransport({self.name!r}, backend={self.options.backend!r}, {state})"


def _string(device: Any, attribute: str) -> str | None:
    try:
        value = getattr(device, attribute)
    except (usb.core.USBError, ValueError, NotImplementedError):
        return None
    return str(value) if value is not None else None


def _ids(address: DeviceAddress, options: UsbOptions) -> tuple[int, int]:
    if address.path:
        raise ConfigurationError(
            f"{address.location}: a usb address is {address.driver}+usb://VID:PID, no path"
        )
    authority = address.authority
    if authority:
        match = _IDS.match(authority)
        if match is None:
            raise ConfigurationError(
                f"{address.location}: the authority is VID:PID in hex (e.g. 0dd4:0195); "
                f"got {authority!r}"
            )
        vid, pid = int(match[1], 16), int(match[2], 16)
        for key, value in (("vid", vid), ("pid", pid)):
            given = getattr(options, key)
            if given is not None and given != value:
                raise ConfigurationError(
                    f"{address.location}: option {key}={given:#06x} contradicts the address"
                )
        return vid, pid
    if options.vid is None or options.pid is None:
        raise ConfigurationError(
            f"{address.location}: a usb address names the device, e.g. "
            f"{address.driver}+usb://0dd4:0195 or {address.driver}+usb://?vid=0x0dd4&pid=0x0195"
        )
    return options.vid, options.pid


def open_usb_transport(address: DeviceAddress, options: UsbOptions) -> UsbTransport:
    """Build the (unopened) USB transport an address names (the registry factory).

    Raises:
        ConfigurationError: the address names no device, or names it badly.
    """
    vid, pid = _ids(address, options)
    return UsbTransport(vid, pid, options)


USB_TRANSPORT = TransportSpec(
    name="usb",
    options=UsbOptions,
    factory=open_usb_transport,
    description="the bulk pipes of a USB device through pyusb, e.g. usb://0dd4:0195?serial=A1",
)
"""The ``usb`` transport, registered through the ``tellerhal.transports`` entry point."""
