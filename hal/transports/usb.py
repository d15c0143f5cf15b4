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

Several pipes. Most devices use one bulk OUT and one bulk IN endpoint, and a driver
never names them. A device that splits its frames over several pipes (the SAM_V
ID-card module sends a frame's header on IN 0x81 and its body on IN 0x85, and takes
them on OUT 0x02 and 0x06) is driven by naming them: ``write(data, endpoint=0x06)``
writes to any OUT endpoint of the interface; `UsbTransport.add_in_endpoint` (before
``open()``) has a further IN endpoint read into a buffer of its own, which ``read``,
``read_exactly`` and ``flush_input`` reach with ``endpoint=``. The worker reads the IN
endpoints in turn, a transfer at a time. Without ``endpoint=`` every call is as before (the
``ep_out`` and ``ep_in`` pipes); the ``spy+`` wrapper forwards only those, so a driver
that joins several pipes into one stream puts the spy around its joined stream.

Errors: ``USBError`` errno 19 (ENODEV, "No such device", libusb's NO_DEVICE) means the
device was unplugged: reads end with `ConnectionLost` once the buffer is drained, writes
and control transfers raise it. `UsbTransport.reopen` finds the device again by VID:PID
(and serial) and claims it anew. A bulk OUT that the device does not take within
``write_timeout`` raises `HalTimeout` (some of the bytes may have gone); a control
request the device stalls raises `TransportError`. A claim refused because another
program (or a kernel driver that cannot be detached) holds the interface, or for lack of
permission (a udev rule), is a `TransportError` at ``open()``.

Backends: pyusb's backends are looked up by name in a small registry
(`register_backend`), so a simulator can add its own without ``hal`` importing it (the
simulator's ``sim`` backend registers when ``simulator.wire.usb`` is imported).

The code: this module holds `UsbTransport` (its lifecycle, the receive buffer, the
checks on what callers pass) and the registry entry; `hal.transports.usb_worker` the
worker thread (reads, writes, control transfers); `hal.transports.usb_claim` finding,
claiming and releasing the device; `hal.transports.usb_options` the options and the
address's IDs; `hal.transports.usb_backends` the backend registry.
Import all of them from here.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost, TransportError
from hal.registry import TransportSpec
from hal.transports.base import DEFAULT_LIMIT, BufferedTransport, ReceiveBuffer
from hal.transports.usb_backends import (
    BackendFactory,
    backend_names,
    get_backend,
    register_backend,
    unregister_backend,
)
from hal.transports.usb_options import UsbDeviceInfo, UsbOptions, device_ids
from hal.transports.usb_worker import UsbWorker

__all__ = [
    "USB_TRANSPORT",
    "BackendFactory",
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


class UsbTransport(BufferedTransport):
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
        self._limit = limit
        self._buffer = ReceiveBuffer(self.name, limit)
        self._worker: UsbWorker | None = None
        self._generation = 0
        self._attached = False
        self._closed = True  # by close(), or never opened: reads are a caller mistake
        self._info: UsbDeviceInfo | None = None
        self._extra_in: dict[int, ReceiveBuffer] = {}

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

    def add_in_endpoint(self, address: int) -> None:
        """Also read the IN endpoint ``address`` (besides ``ep_in``), into a buffer of
        its own that ``read(..., endpoint=address)`` reaches. Call before ``open()``;
        ``open()`` fails if the interface has no such endpoint.

        Raises:
            ValueError: not an IN endpoint address (0x81 to 0x8f).
            TransportError: the transport is open already.
        """
        if not 0x81 <= address <= 0x8F:
            raise ValueError(f"an IN endpoint address is 0x81 to 0x8f; got {address:#x}")
        if self._worker is not None:
            raise TransportError(f"{self.name}: add IN endpoints before open()")
        if address not in self._extra_in:
            self._extra_in[address] = ReceiveBuffer(f"{self.name} IN {address:#04x}", self._limit)

    def _buffers(self) -> list[ReceiveBuffer]:
        return [self._buffer, *self._extra_in.values()]

    def _in_buffer(self, endpoint: int | None) -> ReceiveBuffer:
        """The buffer an IN endpoint's bytes go to (``None``: the ``ep_in`` pipe's)."""
        if endpoint is None:
            return self._buffer
        primary = self._info.ep_in if self._info is not None else self.options.ep_in
        if endpoint == primary:
            return self._buffer
        buffer = self._extra_in.get(endpoint)
        if buffer is None:
            raise ValueError(
                f"{self.name}: IN endpoint {endpoint:#04x} is not read "
                "(add_in_endpoint() it before open())"
            )
        return buffer

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._attached:
            return
        if self._worker is not None:
            await self._stop_worker()  # a worker whose device went away
        self._generation += 1
        generation = self._generation
        # Before the worker runs: it reads (and feeds the buffer) as soon as it attached.
        for buffer in self._buffers():
            buffer.reset()
        worker = UsbWorker(
            self.name,
            self.vendor_id,
            self.product_id,
            self.options,
            asyncio.get_running_loop(),
            on_data=functools.partial(self._deliver, generation),
            on_lost=functools.partial(self._on_lost, generation),
            extra_in=tuple(self._extra_in),
        )
        self._worker = worker
        worker.start()
        try:
            info = await worker.submit(worker.attach)
        except BaseException:
            if self._worker is worker:
                await self._stop_worker()
            raise
        if self._worker is not worker:  # close() (or another open) came meanwhile
            raise TransportError(f"{self.name} was closed while opening")
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

    async def _release_link(self) -> None:
        await self._stop_worker()

    async def _stop_worker(self) -> None:
        """End the worker thread: it finishes the read in progress, detaches, exits."""
        self._attached = False
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop()

    async def _submit(self, call: Callable[[UsbWorker], Any]) -> Any:
        worker = self._worker
        if worker is None:
            raise TransportError(f"{self.name} is not open; call open() first")
        return await worker.submit(functools.partial(call, worker))

    def _deliver(self, generation: int, endpoint: int | None, data: bytes) -> None:
        if generation != self._generation:
            return
        if endpoint is None:  # the ep_in pipe
            self._buffer.feed(data)
        else:
            self._extra_in[endpoint].feed(data)

    def _on_lost(self, generation: int, why: str) -> None:
        if generation != self._generation:
            return
        if self._buffer.lost is None:
            log.warning("%s: connection lost: %s", self.name, why)
        self._attached = False
        for buffer in self._buffers():
            buffer.lose(ConnectionLost(f"{self.name}: connection lost: {why}"))

    async def close(self) -> None:
        await super().close()
        for buffer in self._extra_in.values():
            buffer.lose(ConnectionLost(f"{self.name} was closed"))

    async def reopen(self) -> None:
        try:
            await super().reopen()
        except BaseException:
            lost = self._buffer.lost
            if lost is not None:
                for buffer in self._extra_in.values():
                    buffer.lose(lost)
            raise

    # --- bytes ---------------------------------------------------------------------------

    def _check_there(self) -> None:
        """Writes and control transfers need the device itself, not just its bytes."""
        self._check()
        lost = self._buffer.lost
        if lost is not None:
            raise ConnectionLost(lost.message)

    async def write(self, data: bytes, *, endpoint: int | None = None) -> None:
        """Send ``data``, all of it, on the ``ep_out`` pipe or on the OUT ``endpoint``
        named (see `Transport.write`; a bad endpoint is a `TransportError`)."""
        self._check_there()
        if not data:
            return
        payload = bytes(data)
        await self._submit(lambda worker: worker.bulk_out(payload, endpoint))

    async def read(
        self, max_bytes: int = 4096, *, timeout: float | None = None, endpoint: int | None = None
    ) -> bytes:
        """Between 1 and ``max_bytes`` bytes from the ``ep_in`` pipe, or from the IN
        ``endpoint`` named (`add_in_endpoint`); see `Transport.read`."""
        self._check()
        return await self._in_buffer(endpoint).read(max_bytes, timeout=timeout)

    async def read_exactly(
        self, size: int, *, timeout: float | None = None, endpoint: int | None = None
    ) -> bytes:
        """Exactly ``size`` bytes, from ``ep_in`` or the IN ``endpoint`` named."""
        self._check()
        return await self._in_buffer(endpoint).read_exactly(size, timeout=timeout)

    def flush_input(self, endpoint: int | None = None) -> int:
        """Drop the unread bytes of ``ep_in`` or of the IN ``endpoint`` named."""
        return self._in_buffer(endpoint).clear()

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
        self._check_there()
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
        payload: int | bytes = data if isinstance(data, int) else bytes(data)
        result: bytes | int = await self._submit(
            lambda worker: worker.control(request_type, request, value, index, payload, timeout)
        )
        return result

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"UsbTransport({self.name!r}, backend={self.options.backend!r}, {state})"


def open_usb_transport(address: DeviceAddress, options: UsbOptions) -> UsbTransport:
    """Build the (unopened) USB transport an address names (the registry factory).

    Raises:
        ConfigurationError: the address names no device, or names it badly.
    """
    vid, pid = device_ids(address, options)
    return UsbTransport(vid, pid, options)


USB_TRANSPORT = TransportSpec(
    name="usb",
    options=UsbOptions,
    factory=open_usb_transport,
    description="the bulk pipes of a USB device through pyusb, e.g. usb://0dd4:0195?serial=A1",
)
"""The ``usb`` transport, registered through the ``tellerhal.transports`` entry point."""
