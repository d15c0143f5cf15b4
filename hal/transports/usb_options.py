"""What a ``usb`` address says: the device's IDs and the options (`UsbOptions`).

The URL grammar is in `hal.transports.usb`'s header; `device_ids` reads ``VID:PID``
from the authority (or the ``vid``/``pid`` options) with an exact error for each
mistake. `UsbDeviceInfo` is what the transport found when it attached.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hal.address import DeviceAddress
from hal.errors import ConfigurationError

__all__ = ["UsbDeviceInfo", "UsbOptions", "device_ids"]

_IDS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,4}):(?:0[xX])?([0-9a-fA-F]{1,4})\Z")


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


def device_ids(address: DeviceAddress, options: UsbOptions) -> tuple[int, int]:
    """The (vendor, product) IDs a ``usb`` address names.

    Raises:
        ConfigurationError: the address names no device, names it badly, or its
            options contradict its authority.
    """
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
