"""The thread behind one open ``usb`` transport: every pyusb call of a device runs on it.

All pyusb calls block, so each open `hal.transports.usb.UsbTransport` has one
`UsbWorker`: a thread that is a small executor. Between bulk IN reads it runs the queued
jobs (attach, bulk OUT writes, control transfers) in order; their outcomes go back to
the event loop through futures (``call_soon_threadsafe``). The bulk IN reads have a short
timeout (a *slice*, ``read_slice`` while bytes moved in the last half second,
``idle_slice`` after) and what they bring goes to the transport's ``on_data`` callback
on the loop; a read that times out just means "nothing yet". A transfer from the device
that ends (short or zero-length packet) after the host wrote is likely its reply: the
worker then waits up to 2 ms for the host's next write before it reads again. Each read
asks for one packet (``wMaxPacketSize``), so a timeout never swallows a partly filled
buffer. The transport's header says why, at length.

A device that went away (``USBError`` errno 19 and its kin, or three bulk IN failures in
a row) is reported once through ``on_lost``; the worker then stops reading and fails
later transfers with `ConnectionLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import usb.core  # type: ignore[import-untyped]
import usb.util  # type: ignore[import-untyped]

from hal.errors import ConnectionLost, HalError, HalTimeout, TransportError
from hal.transports.usb_backends import get_backend
from hal.transports.usb_options import UsbDeviceInfo, UsbOptions

__all__ = ["UsbWorker", "is_gone", "reason"]

# The transport's logger: the worker is its inside.
log = logging.getLogger("hal.transports.usb")

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


def is_gone(exc: BaseException) -> bool:
    """True if a pyusb error says the device is not there any more."""
    if not isinstance(exc, usb.core.USBError):
        return False
    code = getattr(exc, "backend_error_code", None)
    return exc.errno in _GONE_ERRNO or code == _LIBUSB_NO_DEVICE


def reason(exc: BaseException) -> str:
    """A pyusb error for a message: the errno's name and the library's text."""
    code = getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(code, int) and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {text}"
    return str(text)


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


class UsbWorker:
    """The thread that owns one device while its transport is open.

    Args:
        name: the transport's name, for messages.
        vendor_id: idVendor of the device to find.
        product_id: idProduct of the device to find.
        options: how to find and use it.
        loop: the transport's event loop (where futures and callbacks go).
        on_data: called on the loop with the bytes each bulk IN read brought.
        on_lost: called on the loop, once, with why the device is gone.
    """

    def __init__(
        self,
        name: str,
        vendor_id: int,
        product_id: int,
        options: UsbOptions,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self.name = name
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.options = options
        self._loop = loop
        self._on_data = on_data
        self._on_lost = on_lost
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._jobs_lock = threading.Lock()
        self._finished = False  # the thread takes no more jobs
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(
            target=self._work, name=f"usb {vendor_id:04x}:{product_id:04x}", daemon=True
        )
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

    # --- from the event loop -------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (it reads once a job attached the device)."""
        self._thread.start()

    async def submit(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` on the worker thread, after the jobs queued before it."""
        future: asyncio.Future[Any] = self._loop.create_future()
        with self._jobs_lock:
            if self._finished:
                raise self._closed_error()
            self._jobs.put(_Job(call, future))
        return await future

    async def stop(self) -> None:
        """End the thread: it finishes the read in progress, detaches, exits."""
        self._jobs.put(_STOP)
        # Resolved by the worker as its very last act; no thread waits for it.
        await asyncio.shield(self._stopped)
        self._thread.join()

    # --- the thread ----------------------------------------------------------------------

    def _work(self) -> None:
        jobs = self._jobs
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
                        self._read_slice()
                        continue
                    job = jobs.get()  # nothing to read: wait for work
                if job is _STOP:
                    return
                assert isinstance(job, _Job)
                self._run(job)
        except Exception as exc:  # a bug here or in a backend: nobody may wait for ever
            log.error("%s: the worker thread failed", self.name, exc_info=True)
            self._lose(f"the worker thread failed ({type(exc).__name__}: {exc})")
        finally:
            with self._jobs_lock:
                self._finished = True
            self._detach()
            self._fail_pending()
            self._post(_settle, self._stopped, None, None)

    def _fail_pending(self) -> None:
        """Jobs queued behind the stop never run: their callers get an error."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Job):
                self._post(_settle, job.future, None, self._closed_error())

    def _closed_error(self) -> TransportError:
        if self._gone is not None:
            return ConnectionLost(f"{self.name}: connection lost: {self._gone}")
        return TransportError(f"{self.name} was closed")

    def _post(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(callback, *args)

    def _run(self, job: _Job) -> None:
        try:
            result = job.call()
        except BaseException as exc:
            self._post(_settle, job.future, None, exc)
        else:
            self._post(_settle, job.future, result, None)

    # --- attaching (jobs) ----------------------------------------------------------------

    def attach(self) -> UsbDeviceInfo:
        """Find the device, claim its interface, pick the endpoints (a job)."""
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
            raise TransportError(f"{self.name}: enumerating devices failed: {reason(exc)}") from exc

    def _claim(self, device: Any) -> UsbDeviceInfo:
        opts = self.options
        try:
            try:
                config = device.get_active_configuration()
            except usb.core.USBError as exc:
                if is_gone(exc):
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
        if is_gone(exc):
            return ConnectionLost(f"{self.name}: the device went away ({reason(exc)})")
        code = getattr(exc, "errno", None)
        if code == errno.EBUSY:
            return TransportError(f"{self.name}: the interface is in use by another program")
        if code == errno.EACCES:
            return TransportError(
                f"{self.name}: no permission to use the device (a udev rule must grant it)"
            )
        return TransportError(f"{self.name}: cannot claim the device ({reason(exc)})")

    def _detach(self) -> None:
        """Release the interface and the device handle; never raises."""
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

    # --- transfers (jobs) ----------------------------------------------------------------

    def bulk_out(self, payload: bytes) -> None:
        """Write all of ``payload`` to the bulk OUT endpoint (a job).

        Raises:
            HalTimeout: the device did not take it within ``write_timeout``.
            ConnectionLost: the device went away.
            TransportError: the write failed otherwise.
        """
        self._require_device()
        timeout_ms = max(1, round(self.options.write_timeout * 1000))
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
                raise self._transfer_error(exc, "writing failed") from exc
        self._last_traffic = time.monotonic()
        self._asked = True

    def control(
        self,
        request_type: int,
        request: int,
        value: int,
        index: int,
        payload: bytes | int,
        timeout: float,
    ) -> bytes | int:
        """A control transfer on endpoint 0 (a job); see `UsbTransport.control_transfer`."""
        self._require_device()
        what = f"control request {request_type:#04x}/{request:#04x}"
        try:
            result = self._device.ctrl_transfer(
                request_type, request, value, index, payload, max(1, round(timeout * 1000))
            )
        except usb.core.USBTimeoutError as exc:
            raise HalTimeout(f"{self.name}: {what} not done within {timeout} s") from exc
        except usb.core.USBError as exc:
            if not is_gone(exc) and exc.errno == errno.EPIPE:
                raise TransportError(f"{self.name}: the device refused {what} (stall)") from exc
            raise self._transfer_error(exc, f"{what} failed") from exc
        return int(result) if isinstance(result, int) else bytes(result)

    def _require_device(self) -> None:
        if self._gone is not None:
            raise ConnectionLost(f"{self.name}: connection lost: {self._gone}")

    def _transfer_error(self, exc: BaseException, failed: str) -> HalError:
        """What a failed transfer raises; a device gone is reported lost as well."""
        if is_gone(exc):
            why = f"the device went away ({reason(exc)})"
            self._lose(why)
            return ConnectionLost(f"{self.name}: connection lost: {why}")
        return TransportError(f"{self.name}: {failed}: {reason(exc)}")

    # --- reading -------------------------------------------------------------------------

    def _read_slice(self) -> None:
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
            self._read_failed(exc, slice_s)
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
            self._post(self._on_data, buffer[:count].tobytes())

    def _read_failed(self, exc: BaseException, slice_s: float) -> None:
        if is_gone(exc):
            self._lose(f"the device went away ({reason(exc)})")
            return
        if getattr(exc, "errno", None) == errno.EPIPE:
            log.warning("%s: IN endpoint stalled; clearing the halt", self.name)
            try:
                self._device.clear_halt(self._ep_in)
            except usb.core.USBError as again:
                if is_gone(again):
                    self._lose(f"the device went away ({reason(again)})")
                    return
        self._read_errors += 1
        log.warning("%s: bulk IN read failed: %s", self.name, reason(exc))
        if self._read_errors >= _MAX_READ_ERRORS:
            self._lose(f"reading failed {self._read_errors} times: {reason(exc)}")
        else:
            time.sleep(slice_s)  # on the worker thread: do not spin on a failing pipe

    def _lose(self, why: str) -> None:
        """The device is gone: stop reading, tell the loop (once)."""
        if self._gone is None:
            self._gone = why
            self._post(self._on_lost, why)


def _string(device: Any, attribute: str) -> str | None:
    try:
        value = getattr(device, attribute)
    except (usb.core.USBError, ValueError, NotImplementedError):
        return None
    return str(value) if value is not None else None
