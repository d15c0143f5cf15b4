"""One simulated USB device: its state, its pipes, and the firmware bound to them.

`SimUsbDevice` is what a `simulator.wire.usb_backend.SimUsbBus` plugs in: it keeps the
configuration, alternate settings, claimed interfaces and kernel-driver flags, a queue
of packets per bulk IN endpoint, and answers the standard control requests itself
(descriptors from its `simulator.wire.usb_descriptors.DescriptorTable`); bulk OUT
transfers and class/vendor requests go to its `simulator.wire.usb_firmware.UsbFirmware`.

Its underscore methods are the backend's side (`simulator.wire.usb_backend`): each takes
the generation of the handle it comes through, so a handle opened before an unplug fails
with ENODEV after a replug, as on libusb. Errors are pyusb's ``USBError`` with libusb's
codes and the errno a Linux host sees.
"""

from __future__ import annotations

import contextlib
import errno
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

import usb.core  # type: ignore[import-untyped]

from simulator.wire.usb_descriptors import (
    ConfigurationSpec,
    DescriptorTable,
    EndpointSpec,
    UsbDeviceSpec,
)
from simulator.wire.usb_firmware import ControlRequest, UsbFirmware

if TYPE_CHECKING:
    from simulator.wire.usb_backend import SimUsbBus

__all__ = ["SimUsbDevice"]

# Standard requests (USB 2.0 §9.4, table 9-4).
_GET_STATUS, _GET_DESCRIPTOR, _GET_CONFIGURATION = 0x00, 0x06, 0x08
_SET_CONFIGURATION, _GET_INTERFACE, _SET_INTERFACE = 0x09, 0x0A, 0x0B
_CLEAR_FEATURE = 0x01

_LIBUSB_IO, _LIBUSB_NOT_FOUND, _LIBUSB_NO_DEVICE, _LIBUSB_BUSY = -1, -5, -4, -6
_LIBUSB_TIMEOUT, _LIBUSB_PIPE, _LIBUSB_INVALID = -7, -9, -2


def _no_device() -> usb.core.USBError:
    return usb.core.USBError(
        "No such device (it may have been disconnected)", _LIBUSB_NO_DEVICE, errno.ENODEV
    )


def _stall() -> usb.core.USBError:
    return usb.core.USBError("Pipe error", _LIBUSB_PIPE, errno.EPIPE)


def _busy() -> usb.core.USBError:
    return usb.core.USBError("Resource busy", _LIBUSB_BUSY, errno.EBUSY)


def _not_found(what: str) -> usb.core.USBError:
    return usb.core.USBError(f"Entity not found ({what})", _LIBUSB_NOT_FOUND, errno.ENOENT)


def _invalid(what: str) -> usb.core.USBError:
    return usb.core.USBError(f"Invalid parameter ({what})", _LIBUSB_INVALID, errno.EINVAL)


def _timed_out() -> usb.core.USBTimeoutError:
    return usb.core.USBTimeoutError("Operation timed out", _LIBUSB_TIMEOUT, errno.ETIMEDOUT)


def _deadline(timeout_ms: int) -> float | None:
    """When a transfer with libusb's timeout gives up (0: it waits for ever)."""
    return None if timeout_ms == 0 else time.monotonic() + timeout_ms / 1000


class SimUsbDevice:
    """One simulated USB device: descriptors, state, pipes, and its firmware.

    Args:
        spec: its descriptors and strings.
        firmware: what it does with the host's bytes; a silent one if ``None``.
    """

    def __init__(self, spec: UsbDeviceSpec, firmware: UsbFirmware | None = None) -> None:
        self.spec = spec
        self.firmware = firmware if firmware is not None else UsbFirmware()
        self._cond = threading.Condition()
        self.descriptors = DescriptorTable(spec)
        self.bus: SimUsbBus | None = None
        self.address = 0
        self.port = 0
        self.generation = 0
        self.configuration = 0
        self._alternates: dict[int, int] = {}
        self._claims: dict[int, object] = {}
        self._kernel: set[int] = set()
        self._in: dict[int, deque[bytes]] = {}  # packets, per IN endpoint
        self._max_packet: dict[int, int] = {}
        self._hold_out = False
        self.bytes_out = 0
        self.bytes_in = 0

    # --- plugging ------------------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        """On a bus now."""
        return self.bus is not None

    def _plug(self, bus: SimUsbBus, address: int, port: int) -> None:
        with self._cond:
            self.bus, self.address, self.port = bus, address, port
            self.generation += 1
            self.configuration = (
                self.spec.configurations[0].value if self.spec.configured_at_plug else 0
            )
            self._alternates.clear()
            self._claims.clear()
            self._kernel = set(self.spec.kernel_driver)
            endpoints = [ep for ep in self._all_endpoints() if ep.is_in]
            self._in = {ep.address: deque() for ep in endpoints}
            self._max_packet = {ep.address: max(1, ep.max_packet) for ep in endpoints}
            self._hold_out = False
            self._cond.notify_all()
        self.firmware.plugged(self)

    def _unplug(self) -> None:
        with self._cond:
            self.bus = None
            self.address = 0
            self._claims.clear()
            for queue in self._in.values():
                queue.clear()
            self._cond.notify_all()  # pending transfers end with ENODEV
        self.firmware.unplugged(self)

    def _all_endpoints(self) -> Iterator[EndpointSpec]:
        for config in self.spec.configurations:
            for interface in config.interfaces:
                yield from interface.endpoints

    # --- the firmware's side -------------------------------------------------------------

    def send(self, data: bytes, endpoint: int | None = None, *, zlp: bool = True) -> bool:
        """Queue ``data`` as one transfer on a bulk IN endpoint (the first by default).

        The transfer goes as packets of the endpoint's wMaxPacketSize; its last packet is
        short, or, if ``data`` fills whole packets, a zero-length packet follows (unless
        ``zlp`` is false): a host read ends at a short packet, as on a real bus.

        Returns:
            False if the device is unplugged (the bytes are dropped, as on a wire).

        Raises:
            ValueError: no such IN endpoint.
        """
        with self._cond:
            if self.bus is None:
                return False
            if endpoint is None:
                if not self._in:
                    raise ValueError(f"{self} has no IN endpoint")
                endpoint = next(iter(self._in))
            queue = self._in.get(endpoint)
            if queue is None:
                raise ValueError(f"{self} has no IN endpoint {endpoint:#04x}")
            size = self._max_packet[endpoint]
            queue.extend(data[i : i + size] for i in range(0, len(data), size))
            if zlp and len(data) % size == 0:
                queue.append(b"")  # a zero-length packet ends a transfer of whole packets
            self._cond.notify_all()
            return True

    def pending_in(self, endpoint: int | None = None) -> int:
        """Bytes queued on an IN endpoint (every one by default) and not yet read."""
        with self._cond:
            queues = self._in.values() if endpoint is None else [self._in.get(endpoint, ())]
            return sum(len(packet) for queue in queues for packet in queue)

    def hold_out(self, on: bool = True) -> None:
        """While on, the device does not take bulk OUT data: writes wait, then time out."""
        with self._cond:
            self._hold_out = on
            self._cond.notify_all()

    def set_kernel_driver(self, interface: int, bound: bool = True) -> None:
        """Bind (or unbind) a kernel driver to an interface: claims there fail with EBUSY."""
        with self._cond:
            if bound:
                self._kernel.add(interface)
            else:
                self._kernel.discard(interface)

    # --- what the backend calls (with the handle's generation) ---------------------------

    def _alive(self, generation: int) -> None:
        if self.bus is None or generation != self.generation:
            raise _no_device()

    @contextlib.contextmanager
    def _live(self, generation: int) -> Iterator[None]:
        """The device's lock, held once the handle's device is known to be there (the
        transfers, hot paths, spell it out: a generator context costs a microsecond)."""
        with self._cond:
            self._alive(generation)
            yield

    def _wait(self, generation: int, deadline: float | None) -> None:
        """Wait (lock held) for a change until ``deadline``; the device must survive it.

        Raises:
            USBTimeoutError: the deadline passed.
            USBError: ENODEV, the device was unplugged meanwhile.
        """
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise _timed_out()
        self._cond.wait(remaining)
        self._alive(generation)

    def _config_spec(self, value: int) -> ConfigurationSpec | None:
        return next((c for c in self.spec.configurations if c.value == value), None)

    def _endpoint(self, address: int) -> EndpointSpec:
        config = self._config_spec(self.configuration)
        if config is not None:
            for interface in config.interfaces:
                if self._alternates.get(interface.number, 0) != interface.alternate:
                    continue
                for endpoint in interface.endpoints:
                    if endpoint.address == address:
                        return endpoint
        raise _not_found(f"endpoint {address:#04x} in the active setting")

    def _bulk_read(self, generation: int, endpoint: int, size: int, timeout_ms: int) -> bytes:
        deadline = _deadline(timeout_ms)
        with self._cond:
            self._alive(generation)
            if not self._endpoint(endpoint).is_in:
                raise _invalid(f"endpoint {endpoint:#04x} is an OUT endpoint")
            queue = self._in[endpoint]
            while True:
                if queue:
                    chunk = self._take(queue, size, self._max_packet[endpoint])
                    self.bytes_in += len(chunk)
                    return chunk
                self._wait(generation, deadline)

    @staticmethod
    def _take(queue: deque[bytes], size: int, max_packet: int) -> bytes:
        """Packets for a read of ``size`` bytes: up to a short packet or a full buffer.

        A packet larger than the room left is split (libusb would report an overflow;
        the simulation keeps the rest for the next read instead).
        """
        out = bytearray()
        while queue and len(out) < size:
            packet = queue[0]
            room = size - len(out)
            if len(packet) > room:
                out += packet[:room]
                queue[0] = packet[room:]
                break
            out += packet
            queue.popleft()
            if len(packet) < max_packet:
                break  # a short (or zero-length) packet ends the transfer
        return bytes(out)

    def _bulk_write(self, generation: int, endpoint: int, data: bytes, timeout_ms: int) -> int:
        deadline = _deadline(timeout_ms)
        with self._cond:
            self._alive(generation)
            if self._endpoint(endpoint).is_in:
                raise _invalid(f"endpoint {endpoint:#04x} is an IN endpoint")
            while self._hold_out:
                self._wait(generation, deadline)
            self.bytes_out += len(data)
        self.firmware.bulk_out(self, endpoint, data)
        return len(data)

    def _control(
        self, generation: int, request_type: int, request: int, value: int, index: int, data: bytes
    ) -> bytes | int:
        """A control transfer: standard requests here, class/vendor ones to the firmware.

        ``data`` is the OUT payload; for an IN request its length is wLength.
        """
        is_in = bool(request_type & 0x80)
        kind = (request_type >> 5) & 0x03
        with self._cond:
            self._alive(generation)
            if kind == 0:
                return self._standard(request_type, request, value, index, data)
        message = ControlRequest(
            request_type, request, value, index, len(data), b"" if is_in else bytes(data)
        )
        reply = self.firmware.control(self, message)
        with self._cond:
            self._alive(generation)  # unplugged while the firmware worked
        if reply is None:
            raise _stall()
        return reply[: len(data)] if is_in else len(data)

    def _standard(
        self, request_type: int, request: int, value: int, index: int, data: bytes
    ) -> bytes | int:
        is_in = bool(request_type & 0x80)
        if is_in and request == _GET_DESCRIPTOR:
            blob = self.descriptors.get(value >> 8, value & 0xFF, index)
            if blob is None:
                raise _stall()
            return blob[: len(data)]
        if is_in and request == _GET_STATUS:
            return b"\x00\x00"[: len(data)]
        if is_in and request == _GET_CONFIGURATION:
            return bytes((self.configuration,))[: len(data)]
        if is_in and request == _GET_INTERFACE:
            return bytes((self._alternates.get(index & 0xFF, 0),))[: len(data)]
        if not is_in and request == _SET_CONFIGURATION:
            self._set_configuration(value & 0xFF)
            return 0
        if not is_in and request == _SET_INTERFACE:
            self._set_interface(index & 0xFF, value & 0xFF)
            return 0
        if not is_in and request == _CLEAR_FEATURE:
            return 0
        raise _stall()

    def _set_configuration(self, value: int) -> None:
        if value != 0 and self._config_spec(value) is None:
            raise _not_found(f"configuration {value}")
        if self._claims and value != self.configuration:
            raise _busy()
        self.configuration = value
        self._alternates.clear()

    def _set_interface(self, number: int, alternate: int) -> None:
        config = self._config_spec(self.configuration)
        if config is None or not any(
            i.number == number and i.alternate == alternate for i in config.interfaces
        ):
            raise _not_found(f"interface {number} alternate {alternate}")
        self._alternates[number] = alternate

    def _claim(self, generation: int, number: int, holder: object) -> None:
        with self._live(generation):
            config = self._config_spec(self.configuration)
            if config is None or not any(i.number == number for i in config.interfaces):
                raise _not_found(f"interface {number}")
            if number in self._kernel:
                raise _busy()
            owner = self._claims.get(number)
            if owner is not None and owner is not holder:
                raise _busy()
            self._claims[number] = holder

    def _release(self, number: int, holder: object) -> None:
        with self._cond:
            if self._claims.get(number) is holder:
                del self._claims[number]

    def _release_all(self, holder: object) -> None:
        with self._cond:
            for number in [n for n, h in self._claims.items() if h is holder]:
                del self._claims[number]

    def _kernel_driver_active(self, generation: int, number: int) -> bool:
        with self._live(generation):
            return number in self._kernel

    def _detach_kernel_driver(self, generation: int, number: int) -> None:
        with self._live(generation):
            if number not in self._kernel:
                raise _not_found(f"a kernel driver on interface {number}")
            self._kernel.discard(number)

    def _attach_kernel_driver(self, generation: int, number: int) -> None:
        with self._live(generation):
            if number in self._claims:
                raise _busy()
            self._kernel.add(number)

    def _reset(self, generation: int) -> None:
        with self._live(generation):
            for queue in self._in.values():
                queue.clear()

    def __repr__(self) -> str:
        s = self.spec
        where = f"bus {self.bus.number} address {self.address}" if self.bus else "unplugged"
        return f"SimUsbDevice({s.vendor_id:04x}:{s.product_id:04x} serial={s.serial!r}, {where})"
