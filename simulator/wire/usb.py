"""A simulated USB bus under the real pyusb stack: the ``sim`` pyusb backend.

There is no USB in this kernel (reference/ecosystem.md §0), so the simulation sits one
level up: `SimUsbBackend` is a ``usb.backend.IBackend``, and pyusb (``usb.core.find``,
``Device``, ``Endpoint``, ``usb.util.get_string``...) runs on it unchanged, as it runs
on libusb. A driver reaches a simulated device with ``backend=sim`` in its ``usb``
address (`hal.transports.usb`), and nothing else in it differs::

    crt310+usb://fffe:0310?backend=sim&serial=CRT310-0001

The pieces:

- `SimUsbBus`: the devices plugged in (`SimUsbBus.plug`, `SimUsbBus.unplug`,
  `SimUsbBus.replug`); each plug gives a new address, as a real bus does. Its
  `SimUsbBus.backend` is what pyusb is given. `default_bus()` is the bus behind the
  backend name ``sim``, registered with `hal.transports.usb.register_backend` when this
  module is imported;
- `SimUsbDevice`: one device: its descriptors (`UsbDeviceSpec`), string descriptors
  (manufacturer, product, serial; LANGID 0x0409), configuration, claimed interfaces,
  kernel-driver flags, and a queue per bulk IN endpoint. Its behaviour is a
  `UsbFirmware` bound to its pipes: bulk OUT transfers and class/vendor control requests
  go to the firmware; the firmware answers through `SimUsbDevice.send`;
- `UsbLink`: a firmware that turns the bulk pipes into a `simulator.wire.link.WireLink`,
  so a byte-stream wire emulator (`simulator.wire.crt310.Crt310Emulator`) runs over USB
  as it runs over a pty;
- `bulk_spec`: the descriptors of a device with one vendor-specific interface and a pair
  of bulk endpoints (most teller-machine peripherals), and `CRT310_USB`, the simulated
  CRT-310 on USB, at VID:PID `SIM_VENDOR_ID`:`CRT310_PRODUCT_ID` (``fffe:0310``).

Behaviour kept from libusb (what the transport and pyusb rely on):

- ``get_interface_descriptor`` raises ``IndexError`` for an alternate setting that does
  not exist: pyusb finds the alternates of an interface by counting up until an error,
  and ``str(dev)`` or ``for intf in cfg`` would otherwise never end;
- a bulk IN read waits (on a `threading.Condition`, no polling) up to its timeout for the
  device's bytes, then raises ``usb.core.USBTimeoutError`` (errno 110); a timeout of 0
  waits for ever, as libusb does;
- what the device sends goes as packets of wMaxPacketSize, and a read ends at a short
  packet: each `SimUsbDevice.send` is one transfer, ended by a short packet or, when
  it fills whole packets, a zero-length packet (a read of it returns 0 bytes);
- an unplugged device fails every transfer, pending ones included, with ``USBError``
  errno 19 "No such device", and enumeration no longer lists it. A handle opened before
  the unplug stays dead after a replug: the host must find the device again;
- a control request the device does not know stalls: ``USBError`` errno 32 (EPIPE);
- claiming an interface a kernel driver holds, or another handle has claimed, is
  ``USBError`` errno 16 (EBUSY).

All of it is thread-safe: pyusb calls come from the host's worker threads, the firmware
and the plug/unplug from anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import usb.backend  # type: ignore[import-untyped]
import usb.core  # type: ignore[import-untyped]

from hal.transports.base import ReceiveBuffer
from hal.transports.usb import register_backend

__all__ = [
    "CRT310_PRODUCT_ID",
    "CRT310_USB",
    "LANGID_EN_US",
    "SIM_VENDOR_ID",
    "ConfigurationSpec",
    "ControlRequest",
    "EchoFirmware",
    "EndpointSpec",
    "InterfaceSpec",
    "SimUsbBackend",
    "SimUsbBus",
    "SimUsbDevice",
    "UsbDeviceSpec",
    "UsbFirmware",
    "UsbLink",
    "bulk_spec",
    "default_bus",
]

log = logging.getLogger(__name__)

#: The vendor ID every simulated device here uses: chosen to look simulated; never give
#: it to real hardware.
SIM_VENDOR_ID = 0xFFFE
#: The product ID of the simulated CRT-310 (the protocol's number).
CRT310_PRODUCT_ID = 0x0310
#: The one language the string descriptors are in: English (United States).
LANGID_EN_US = 0x0409

# Descriptor types and standard requests (USB 2.0 §9.4, table 9-4 and 9-5).
_DT_DEVICE, _DT_CONFIG, _DT_STRING, _DT_INTERFACE, _DT_ENDPOINT = 1, 2, 3, 4, 5
_GET_STATUS, _GET_DESCRIPTOR, _GET_CONFIGURATION = 0x00, 0x06, 0x08
_SET_CONFIGURATION, _GET_INTERFACE, _SET_INTERFACE = 0x09, 0x0A, 0x0B
_CLEAR_FEATURE = 0x01
#: bmAttributes transfer types.
BULK, INTERRUPT = 0x02, 0x03

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


# --- descriptors -------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointSpec:
    """An endpoint descriptor.

    Attributes:
        address: bEndpointAddress (bit 7 set: IN).
        attributes: bmAttributes (2: bulk, 3: interrupt).
        max_packet: wMaxPacketSize (64 for a full-speed bulk endpoint).
        interval: bInterval.
    """

    address: int
    attributes: int = BULK
    max_packet: int = 64
    interval: int = 0

    @property
    def is_in(self) -> bool:
        return bool(self.address & 0x80)


@dataclass(frozen=True)
class InterfaceSpec:
    """An interface descriptor (one alternate setting of an interface).

    Attributes:
        number: bInterfaceNumber.
        alternate: bAlternateSetting.
        interface_class: bInterfaceClass (0xFF: vendor-specific, 7: printer...).
        subclass: bInterfaceSubClass.
        protocol: bInterfaceProtocol.
        endpoints: its endpoints (endpoint 0 is never listed).
        name: the iInterface string, if any.
    """

    number: int = 0
    alternate: int = 0
    interface_class: int = 0xFF
    subclass: int = 0
    protocol: int = 0
    endpoints: tuple[EndpointSpec, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class ConfigurationSpec:
    """A configuration descriptor.

    Attributes:
        value: bConfigurationValue (1 for the first).
        interfaces: every alternate setting of every interface.
        max_power_ma: bMaxPower in mA (the descriptor holds half of it).
        self_powered: bmAttributes bit 6.
        name: the iConfiguration string, if any.
    """

    value: int = 1
    interfaces: tuple[InterfaceSpec, ...] = ()
    max_power_ma: int = 100
    self_powered: bool = False
    name: str | None = None


@dataclass(frozen=True)
class UsbDeviceSpec:
    """What a device says about itself: its descriptors and strings.

    Attributes:
        vendor_id: idVendor.
        product_id: idProduct.
        manufacturer: the iManufacturer string (``None``: no string).
        product: the iProduct string.
        serial: the iSerialNumber string.
        bcd_device: bcdDevice, the device's release.
        bcd_usb: bcdUSB.
        device_class: bDeviceClass (0: per interface).
        max_packet0: bMaxPacketSize0.
        configurations: its configurations, at least one.
        speed: the speed pyusb reports (2: full speed, 3: high speed).
        configured_at_plug: the host's OS sets configuration 1 at enumeration, as
            Linux does; ``False`` leaves it unconfigured (the driver must set it).
        kernel_driver: interface numbers a kernel driver is bound to at plug (a
            claim there is EBUSY until the host detaches it).
    """

    vendor_id: int
    product_id: int
    manufacturer: str | None = None
    product: str | None = None
    serial: str | None = None
    bcd_device: int = 0x0100
    bcd_usb: int = 0x0200
    device_class: int = 0
    max_packet0: int = 64
    configurations: tuple[ConfigurationSpec, ...] = (ConfigurationSpec(),)
    speed: int = 2
    configured_at_plug: bool = True
    kernel_driver: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not (0 <= self.vendor_id <= 0xFFFF and 0 <= self.product_id <= 0xFFFF):
            raise ValueError(f"USB IDs are 16-bit; got {self.vendor_id}:{self.product_id}")
        if not self.configurations:
            raise ValueError("a device has at least one configuration")
        for config in self.configurations:
            seen: set[tuple[int, int]] = set()
            for interface in config.interfaces:
                key = (interface.number, interface.alternate)
                if key in seen:
                    raise ValueError(f"interface {key} is listed twice in configuration")
                seen.add(key)


def bulk_spec(
    vendor_id: int,
    product_id: int,
    *,
    manufacturer: str | None = "tellerhal simulator",
    product: str | None = None,
    serial: str | None = None,
    interface_class: int = 0xFF,
    ep_out: int = 0x01,
    ep_in: int = 0x81,
    max_packet: int = 64,
    **more: Any,
) -> UsbDeviceSpec:
    """A device with one interface (number 0) holding a bulk OUT and a bulk IN endpoint.

    Args:
        vendor_id: idVendor.
        product_id: idProduct.
        manufacturer: the iManufacturer string.
        product: the iProduct string.
        serial: the iSerialNumber string.
        interface_class: bInterfaceClass (0xFF vendor-specific, 7 printer).
        ep_out: the bulk OUT endpoint address.
        ep_in: the bulk IN endpoint address.
        max_packet: both endpoints' wMaxPacketSize.
        more: other `UsbDeviceSpec` fields.
    """
    interface = InterfaceSpec(
        interface_class=interface_class,
        endpoints=(EndpointSpec(ep_out, BULK, max_packet), EndpointSpec(ep_in, BULK, max_packet)),
    )
    return UsbDeviceSpec(
        vendor_id,
        product_id,
        manufacturer=manufacturer,
        product=product,
        serial=serial,
        configurations=(ConfigurationSpec(interfaces=(interface,)),),
        **more,
    )


#: The simulated CRT-310 card reader on USB (the real one is RS-232; a USB variant of
#: the same protocol is how a vendor's USB reader looks to the host: bytes on two pipes).
CRT310_USB = bulk_spec(
    SIM_VENDOR_ID,
    CRT310_PRODUCT_ID,
    product="CRT-310 card reader (simulated)",
    serial="CRT310-0001",
)


class _Strings:
    """The string table: index 0 lists the LANGIDs; each text gets the next index."""

    def __init__(self) -> None:
        self._texts: list[str] = []

    def index(self, text: str | None) -> int:
        if text is None:
            return 0
        if text not in self._texts:
            self._texts.append(text)
        return self._texts.index(text) + 1

    def descriptor(self, index: int, langid: int) -> bytes | None:
        if index == 0:
            return struct.pack("<BBH", 4, _DT_STRING, LANGID_EN_US)
        if langid != LANGID_EN_US or not 1 <= index <= len(self._texts):
            return None
        text = self._texts[index - 1].encode("utf-16-le")[:252]
        return bytes((2 + len(text), _DT_STRING)) + text


# --- the firmware ------------------------------------------------------------------------


class ControlRequest:
    """A class or vendor control request, as the firmware sees it.

    Its ``repr`` shows the length of the data stage, never its bytes (a vendor request
    may carry anything a device's protocol puts there, card data included).

    Attributes:
        request_type: bmRequestType (bit 7: IN; bits 5-6: 1 class, 2 vendor; bits 0-4
            the recipient).
        request: bRequest.
        value: wValue.
        index: wIndex.
        length: wLength (what the host will take, for an IN request).
        data: the host's bytes (OUT); empty for IN.
    """

    __slots__ = ("data", "index", "length", "request", "request_type", "value")

    def __init__(
        self,
        request_type: int,
        request: int,
        value: int,
        index: int,
        length: int,
        data: bytes = b"",
    ) -> None:
        self.request_type = request_type
        self.request = request
        self.value = value
        self.index = index
        self.length = length
        self.data = data

    @property
    def is_in(self) -> bool:
        return bool(self.request_type & 0x80)

    def __repr__(self) -> str:
        return (
            f"ControlRequest({self.request_type:#04x}, {self.request:#04x}, "
            f"value={self.value:#06x}, index={self.index:#06x}, length={self.length}, "
            f"data=<{len(self.data)} bytes>)"
        )


class UsbFirmware:
    """What a simulated device does with what the host sends. Override what you need.

    Methods are called on the host's thread (the pyusb caller's): keep them short, and
    hand longer work to your own loop or thread. Answer on a bulk IN pipe with
    `SimUsbDevice.send`, from any thread, now or later.
    """

    def plugged(self, device: SimUsbDevice) -> None:
        """The device was plugged (again): a fresh start (queues are empty)."""

    def unplugged(self, device: SimUsbDevice) -> None:
        """The device was unplugged."""

    def bulk_out(self, device: SimUsbDevice, endpoint: int, data: bytes) -> None:
        """The host wrote ``data`` to the bulk (or interrupt) OUT ``endpoint``."""

    def control(self, device: SimUsbDevice, request: ControlRequest) -> bytes | None:
        """A class or vendor request: the reply (IN) or ``b""`` (OUT done); ``None``
        stalls it (the request is not supported)."""
        return None


class EchoFirmware(UsbFirmware):
    """Sends back on the first bulk IN what came on any bulk OUT (tests, benches).

    Vendor request 0x01 IN answers the count of bytes echoed so far (4 bytes, little
    endian); vendor request 0x02 OUT sets a prefix put before each echo.
    """

    def __init__(self) -> None:
        self.echoed = 0
        self.prefix = b""

    def bulk_out(self, device: SimUsbDevice, endpoint: int, data: bytes) -> None:
        self.echoed += len(data)
        device.send(self.prefix + data)

    def control(self, device: SimUsbDevice, request: ControlRequest) -> bytes | None:
        if request.request_type & 0x60 != 0x40:
            return None
        if request.is_in and request.request == 0x01:
            return struct.pack("<I", self.echoed)
        if not request.is_in and request.request == 0x02:
            self.prefix = request.data
            return b""
        return None


# --- the device --------------------------------------------------------------------------


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
        self._strings = _Strings()
        self._i_manufacturer = self._strings.index(spec.manufacturer)
        self._i_product = self._strings.index(spec.product)
        self._i_serial = self._strings.index(spec.serial)
        self._config_strings = [self._strings.index(c.name) for c in spec.configurations]
        self._interface_strings = {
            (c.value, i.number, i.alternate): self._strings.index(i.name)
            for c in spec.configurations
            for i in c.interfaces
        }
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
        deadline = None if timeout_ms == 0 else time.monotonic() + timeout_ms / 1000
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
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise _timed_out()
                self._cond.wait(remaining)
                self._alive(generation)

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
        deadline = None if timeout_ms == 0 else time.monotonic() + timeout_ms / 1000
        with self._cond:
            self._alive(generation)
            if self._endpoint(endpoint).is_in:
                raise _invalid(f"endpoint {endpoint:#04x} is an IN endpoint")
            while self._hold_out:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise _timed_out()
                self._cond.wait(remaining)
                self._alive(generation)
            self.bytes_out += len(data)
        self.firmware.bulk_out(self, endpoint, data)
        return len(data)

    def _descriptor(self, kind: int, index: int, langid: int) -> bytes | None:
        if kind == _DT_DEVICE:
            return self._device_descriptor()
        if kind == _DT_CONFIG:
            if index >= len(self.spec.configurations):
                return None
            return self._config_descriptor(index)
        if kind == _DT_STRING:
            return self._strings.descriptor(index, langid)
        return None

    def _device_descriptor(self) -> bytes:
        s = self.spec
        return struct.pack(
            "<BBHBBBBHHHBBBB",
            18,
            _DT_DEVICE,
            s.bcd_usb,
            s.device_class,
            0,
            0,
            s.max_packet0,
            s.vendor_id,
            s.product_id,
            s.bcd_device,
            self._i_manufacturer,
            self._i_product,
            self._i_serial,
            len(s.configurations),
        )

    def _config_descriptor(self, index: int) -> bytes:
        config = self.spec.configurations[index]
        body = b""
        for interface in config.interfaces:
            body += struct.pack(
                "<BBBBBBBBB",
                9,
                _DT_INTERFACE,
                interface.number,
                interface.alternate,
                len(interface.endpoints),
                interface.interface_class,
                interface.subclass,
                interface.protocol,
                self._interface_strings[(config.value, interface.number, interface.alternate)],
            )
            for ep in interface.endpoints:
                body += struct.pack(
                    "<BBBBHB",
                    7,
                    _DT_ENDPOINT,
                    ep.address,
                    ep.attributes,
                    ep.max_packet,
                    ep.interval,
                )
        head = struct.pack(
            "<BBHBBBBB",
            9,
            _DT_CONFIG,
            9 + len(body),
            len({i.number for i in config.interfaces}),
            config.value,
            self._config_strings[index],
            0x80 | (0x40 if config.self_powered else 0),
            min(255, config.max_power_ma // 2),
        )
        return head + body

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
            blob = self._descriptor(value >> 8, value & 0xFF, index)
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
        with self._cond:
            self._alive(generation)
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

    def __repr__(self) -> str:
        s = self.spec
        where = f"bus {self.bus.number} address {self.address}" if self.bus else "unplugged"
        return f"SimUsbDevice({s.vendor_id:04x}:{s.product_id:04x} serial={s.serial!r}, {where})"


# --- the bus and the backend -------------------------------------------------------------


class SimUsbBus:
    """The simulated devices plugged in, and the pyusb backend that lists them.

    Args:
        number: the bus number pyusb reports.
    """

    def __init__(self, number: int = 1) -> None:
        self.number = number
        self._lock = threading.Lock()
        self._devices: list[SimUsbDevice] = []
        self._addresses = itertools.count(1)
        self._ports = itertools.count(1)
        self.backend = SimUsbBackend(self)

    def plug(self, device: SimUsbDevice) -> SimUsbDevice:
        """Plug a device in (at a new address); returns it.

        Raises:
            ValueError: it is plugged in already (here or on another bus).
        """
        with self._lock:
            if device.bus is not None:
                raise ValueError(f"{device} is plugged in already")
            address = (next(self._addresses) - 1) % 127 + 1  # addresses are 1 to 127
            self._devices.append(device)
        device._plug(self, address, next(self._ports))
        log.info("simulated USB: %r plugged", device)
        return device

    def unplug(self, device: SimUsbDevice) -> None:
        """Pull a device out; not plugged here: nothing happens."""
        with self._lock:
            if device not in self._devices:
                return
            self._devices.remove(device)
        device._unplug()
        log.info("simulated USB: %r unplugged", device)

    def replug(self, device: SimUsbDevice) -> SimUsbDevice:
        """Unplug (if plugged) and plug again: a new address, a fresh device state."""
        self.unplug(device)
        return self.plug(device)

    @contextlib.contextmanager
    def plugged(self, device: SimUsbDevice) -> Iterator[SimUsbDevice]:
        """The device plugged in for the block, unplugged after."""
        self.plug(device)
        try:
            yield device
        finally:
            self.unplug(device)

    def devices(self) -> list[SimUsbDevice]:
        """The devices plugged in now, in plug order."""
        with self._lock:
            return list(self._devices)


@dataclass
class _Enumerated:
    """A device as one enumeration saw it (pyusb's opaque device identification)."""

    device: SimUsbDevice
    generation: int


@dataclass
class _Handle:
    """An open device handle."""

    device: SimUsbDevice
    generation: int
    claimed: set[int] = field(default_factory=set)


class SimUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """The pyusb backend of a `SimUsbBus` (see the module header)."""

    def __init__(self, bus: SimUsbBus) -> None:
        super().__init__()
        self.bus = bus

    # --- enumeration and descriptors -----------------------------------------------------

    def enumerate_devices(self) -> Iterator[_Enumerated]:
        for device in self.bus.devices():
            yield _Enumerated(device, device.generation)

    def get_parent(self, dev: _Enumerated) -> None:
        return None

    def get_device_descriptor(self, dev: _Enumerated) -> SimpleNamespace:
        device = dev.device
        s = device.spec
        return SimpleNamespace(
            bLength=18,
            bDescriptorType=_DT_DEVICE,
            bcdUSB=s.bcd_usb,
            bDeviceClass=s.device_class,
            bDeviceSubClass=0,
            bDeviceProtocol=0,
            bMaxPacketSize0=s.max_packet0,
            idVendor=s.vendor_id,
            idProduct=s.product_id,
            bcdDevice=s.bcd_device,
            iManufacturer=device._i_manufacturer,
            iProduct=device._i_product,
            iSerialNumber=device._i_serial,
            bNumConfigurations=len(s.configurations),
            address=device.address,
            bus=self.bus.number,
            port_number=device.port,
            port_numbers=(device.port,),
            speed=s.speed,
        )

    def _config(self, dev: _Enumerated, config: int) -> ConfigurationSpec:
        configurations = dev.device.spec.configurations
        if not 0 <= config < len(configurations):
            raise IndexError(f"no configuration at index {config}")
        return configurations[config]

    def _interface(
        self, dev: _Enumerated, intf: int, alt: int, config: int
    ) -> tuple[ConfigurationSpec, InterfaceSpec]:
        spec = self._config(dev, config)
        numbers = sorted({i.number for i in spec.interfaces})
        if not 0 <= intf < len(numbers):
            raise IndexError(f"no interface at index {intf}")
        alternates = [i for i in spec.interfaces if i.number == numbers[intf]]
        alternates.sort(key=lambda i: i.alternate)
        if not 0 <= alt < len(alternates):
            # pyusb counts alternates up until this raises: it must, or it loops for ever.
            raise IndexError(f"interface {numbers[intf]} has no alternate setting index {alt}")
        return spec, alternates[alt]

    def get_configuration_descriptor(self, dev: _Enumerated, config: int) -> SimpleNamespace:
        spec = self._config(dev, config)
        blob = dev.device._config_descriptor(config)
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=_DT_CONFIG,
            wTotalLength=len(blob),
            bNumInterfaces=len({i.number for i in spec.interfaces}),
            bConfigurationValue=spec.value,
            iConfiguration=dev.device._config_strings[config],
            bmAttributes=blob[7],
            bMaxPower=blob[8],
            extra_descriptors=[],
        )

    def get_interface_descriptor(
        self, dev: _Enumerated, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        spec, interface = self._interface(dev, intf, alt, config)
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=_DT_INTERFACE,
            bInterfaceNumber=interface.number,
            bAlternateSetting=interface.alternate,
            bNumEndpoints=len(interface.endpoints),
            bInterfaceClass=interface.interface_class,
            bInterfaceSubClass=interface.subclass,
            bInterfaceProtocol=interface.protocol,
            iInterface=dev.device._interface_strings[
                (spec.value, interface.number, interface.alternate)
            ],
            extra_descriptors=[],
        )

    def get_endpoint_descriptor(
        self, dev: _Enumerated, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        _, interface = self._interface(dev, intf, alt, config)
        if not 0 <= ep < len(interface.endpoints):
            raise IndexError(f"interface {interface.number} has no endpoint at index {ep}")
        endpoint = interface.endpoints[ep]
        return SimpleNamespace(
            bLength=7,
            bDescriptorType=_DT_ENDPOINT,
            bEndpointAddress=endpoint.address,
            bmAttributes=endpoint.attributes,
            wMaxPacketSize=endpoint.max_packet,
            bInterval=endpoint.interval,
            bRefresh=0,
            bSynchAddress=0,
            extra_descriptors=[],
        )

    # --- handles -------------------------------------------------------------------------

    def open_device(self, dev: _Enumerated) -> _Handle:
        with dev.device._cond:
            dev.device._alive(dev.generation)
        return _Handle(dev.device, dev.generation)

    def close_device(self, dev_handle: _Handle) -> None:
        dev_handle.device._release_all(dev_handle)
        dev_handle.claimed.clear()

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)
            device._set_configuration(config_value)

    def get_configuration(self, dev_handle: _Handle) -> int:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)
            return device.configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)
            device._set_interface(intf, altsetting)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device._claim(dev_handle.generation, intf, dev_handle)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        dev_handle.claimed.discard(intf)
        device._release(intf, dev_handle)
        with device._cond:
            device._alive(dev_handle.generation)  # libusb reports the device gone here too

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)
            return intf in device._kernel

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)
            if intf not in device._kernel:
                raise _not_found(f"a kernel driver on interface {intf}")
            device._kernel.discard(intf)

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)
            if intf in device._claims:
                raise _busy()
            device._kernel.add(intf)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)

    def reset_device(self, dev_handle: _Handle) -> None:
        device = dev_handle.device
        with device._cond:
            device._alive(dev_handle.generation)
            for queue in device._in.values():
                queue.clear()

    # --- transfers -----------------------------------------------------------------------

    def bulk_write(self, dev_handle: _Handle, ep: int, intf: int, data: Any, timeout: int) -> int:
        return dev_handle.device._bulk_write(dev_handle.generation, ep, bytes(data), timeout)

    def bulk_read(self, dev_handle: _Handle, ep: int, intf: int, buff: Any, timeout: int) -> int:
        view = memoryview(buff).cast("B")
        chunk = dev_handle.device._bulk_read(dev_handle.generation, ep, len(view), timeout)
        view[: len(chunk)] = chunk
        return len(chunk)

    intr_write = bulk_write
    intr_read = bulk_read

    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,  # pyusb's parameter names
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: Any,
        timeout: int,
    ) -> int:
        view = memoryview(data).cast("B") if data is not None else memoryview(b"")
        result = dev_handle.device._control(
            dev_handle.generation, bmRequestType, bRequest, wValue, wIndex, bytes(view)
        )
        if isinstance(result, int):
            return result
        view[: len(result)] = result
        return len(result)


# --- a byte-stream wire over the bulk pipes ----------------------------------------------


class UsbLink(UsbFirmware):
    """A simulated USB device's bulk pipes as a `simulator.wire.link.WireLink`.

    Binds itself as the device's firmware: what the host writes on any bulk OUT
    endpoint is `receive`\\ d on this loop, and `send` queues bytes on the first bulk IN
    endpoint. The generation is the device's plug count, so a wire emulator forgets a
    half-received frame after a replug. Make it on the loop the emulator runs on.

    Args:
        device: the simulated device (plugged or not).
    """

    def __init__(self, device: SimUsbDevice) -> None:
        self.device = device
        self._loop = asyncio.get_running_loop()
        self._buffer = ReceiveBuffer(f"usb link {device.spec.vendor_id:04x}")
        device.firmware = self

    @property
    def generation(self) -> int:
        return self.device.generation

    def bulk_out(self, device: SimUsbDevice, endpoint: int, data: bytes) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody listens
            self._loop.call_soon_threadsafe(self._buffer.feed, data)

    async def receive(self) -> bytes:
        return await self._buffer.read(65536)

    async def send(self, data: bytes) -> None:
        self.device.send(data)  # dropped while unplugged, as on a wire


_default_bus: SimUsbBus | None = None
_default_lock = threading.Lock()


def default_bus() -> SimUsbBus:
    """The bus behind the pyusb backend name ``sim`` (made on first use)."""
    global _default_bus
    with _default_lock:
        if _default_bus is None:
            _default_bus = SimUsbBus()
        return _default_bus


def _sim_backend() -> SimUsbBackend:
    return default_bus().backend


register_backend("sim", _sim_backend, replace=True)
