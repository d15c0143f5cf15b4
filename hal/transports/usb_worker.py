"""The thread behind one open ``usb`` transport: every pyusb call of a device runs on it.

All pyusb calls block, so each open `hal.transports.usb.UsbTransport` has one
`UsbWorker`: a thread that is a small executor. Between bulk IN reads it runs the queued
jobs (attach, through `hal.transports.usb_claim`, bulk OUT writes, control
transfers) in order; their outcomes go back to
the event loop through futures (``call_soon_threadsafe``). The bulk IN reads have a short
timeout (a *slice*, ``read_slice`` while bytes moved in the last half second,
``idle_slice`` after) and what they bring goes to the transport's ``on_data`` callback
on the loop; a read that times out just means "nothing yet". A transfer from the device
that ends (short or zero-length packet) after the host wrote is likely its reply: the
worker then waits up to 2 ms for the host's next write before it reads again. Each read
asks for one packet (``wMaxPacketSize``), so a timeout never swallows a partly filled
buffer. The transport's header says why, at length.

A device that splits its traffic over several IN endpoints (``extra_in``) has them read
in turn (the turn passes at the end of a transfer or after an empty slice: a transfer
of many packets is read back to back), and each read's bytes go to ``on_data`` with the
endpoint's address; the wait for the host's answer then follows a round of reads in
which a transfer ended. A write may name any OUT endpoint of the interface.

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
from hal.transports.usb_claim import ClaimedInterface, claim_interface, is_gone, reason
from hal.transports.usb_options import UsbDeviceInfo, UsbOptions

__all__ = ["UsbWorker"]

# The transport's logger: the worker is its inside.
log = logging.getLogger("hal.transports.usb")

# Consecutive unexplained bulk IN errors after which the device counts as gone.
_MAX_READ_ERRORS = 3
# Seconds without traffic after which the worker reads in idle slices.
_BUSY_SPELL = 0.5
# Seconds the worker waits for the host's next write after it delivered bytes, before
# it blocks itself in a bulk IN read again (the device keeps what it sends meanwhile).
_REPLY_GRACE = 0.002


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
        on_data: called on the loop with the IN endpoint's address (``None`` for the
            transport's ``ep_in``) and the bytes each bulk IN read brought.
        on_lost: called on the loop, once, with why the device is gone.
        extra_in: further IN endpoints to read besides the transport's ``ep_in``.
    """

    def __init__(
        self,
        name: str,
        vendor_id: int,
        product_id: int,
        options: UsbOptions,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[[int | None, bytes], None],
        on_lost: Callable[[str], None],
        extra_in: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.options = options
        self._loop = loop
        self._on_data = on_data
        self._on_lost = on_lost
        self.extra_in = extra_in
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
        self._out_endpoints: frozenset[int] = frozenset()
        self._reads: list[tuple[int, Any]] = []  # (IN endpoint, its one-packet buffer)
        self._turn = 0  # the index in _reads of the next endpoint to read
        self._short_in_round = False  # a transfer ended in this round of reads
        self._claimed: ClaimedInterface | None = None
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
        claimed = claim_interface(
            self.name, self.vendor_id, self.product_id, self.options, self.extra_in
        )
        assert claimed.info is not None
        self._claimed = claimed
        self._device = claimed.device
        self._ep_out, self._ep_in = claimed.ep_out, claimed.ep_in
        self._out_endpoints = claimed.out_endpoints
        self._reads = [
            (address, usb.util.create_buffer(size))
            for address, size in claimed.in_endpoints.items()
        ]
        self._turn = 0
        self._last_traffic = time.monotonic()
        return claimed.info

    def _detach(self) -> None:
        """Give the device back (see `ClaimedInterface.release`); never raises."""
        claimed, self._claimed, self._device = self._claimed, None, None
        if claimed is not None:
            claimed.release()

    # --- transfers (jobs) ----------------------------------------------------------------

    def bulk_out(self, payload: bytes, endpoint: int | None = None) -> None:
        """Write all of ``payload`` to the bulk OUT endpoint (a job).

        Args:
            payload: the bytes.
            endpoint: the OUT endpoint's address; the transport's ``ep_out`` if ``None``.

        Raises:
            HalTimeout: the device did not take it within ``write_timeout``.
            ConnectionLost: the device went away.
            TransportError: the write failed otherwise, or the interface has no such
                OUT endpoint.
        """
        self._require_device()
        if endpoint is None:
            endpoint = self._ep_out
        elif endpoint not in self._out_endpoints:
            raise TransportError(f"{self.name}: the interface has no OUT endpoint {endpoint:#04x}")
        timeout_ms = max(1, round(self.options.write_timeout * 1000))
        sent = 0
        while sent < len(payload):
            try:
                sent += self._device.write(endpoint, payload[sent:], timeout_ms)
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
        """One bulk IN read of at most a slice (of the IN endpoint whose turn it is);
        what came goes to the loop. With several IN endpoints the turn passes on when
        the endpoint's transfer ended (a short packet), or nothing came: a transfer of
        many packets is read back to back."""
        now = time.monotonic()
        busy = now - self._last_traffic < _BUSY_SPELL
        slice_s = self.options.read_slice if busy else self.options.idle_slice
        endpoint, buffer = self._reads[self._turn]
        try:
            count = self._device.read(endpoint, buffer, max(1, round(slice_s * 1000)))
        except usb.core.USBTimeoutError:
            count = -1  # nothing yet
        except Exception as exc:  # a USBError, or a backend's own failure
            self._turn = (self._turn + 1) % len(self._reads)
            self._read_failed(exc, slice_s, endpoint)
            return
        if count < len(buffer):  # nothing, or the transfer ended: the next endpoint
            self._turn = (self._turn + 1) % len(self._reads)
        if count >= 0:
            self._read_errors = 0
            # A short packet (a zero-length one included) ends a transfer: if the host
            # wrote since the last one, this is likely its reply, and it is likely to
            # answer it. A full packet may have more behind it: read on at once.
            if count < len(buffer) and self._asked:
                self._short_in_round = True
            if count:
                self._last_traffic = time.monotonic()
                key = None if endpoint == self._ep_in else endpoint
                self._post(self._on_data, key, buffer[:count].tobytes())
        # With several IN endpoints the reply may go on the next one: wait for the host
        # only after a whole round (with one endpoint every read is a round).
        if self._turn == 0 and self._short_in_round:
            self._short_in_round = False
            self._asked = False
            self._answered = True

    def _read_failed(self, exc: BaseException, slice_s: float, endpoint: int) -> None:
        if is_gone(exc):
            self._lose(f"the device went away ({reason(exc)})")
            return
        if getattr(exc, "errno", None) == errno.EPIPE:
            log.warning("%s: IN endpoint stalled; clearing the halt", self.name)
            try:
                self._device.clear_halt(endpoint)
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
