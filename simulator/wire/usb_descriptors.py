"""The descriptors of a simulated USB device: what it says about itself.

A device is described by frozen dataclasses that read like chapter 9 of the USB 2.0
specification (`UsbDeviceSpec` > `ConfigurationSpec` > `InterfaceSpec` >
`EndpointSpec`); `DescriptorTable` turns one into the bytes a GET_DESCRIPTOR answers
(device, configuration with its interfaces and endpoints, string descriptors in the one
language ``LANGID_EN_US``), and numbers the strings as the descriptors refer to them.

`bulk_spec` builds the common case (one vendor-specific interface holding a bulk OUT
and a bulk IN endpoint: most teller-machine peripherals) and `CRT310_USB` is the
simulated CRT-310 on USB at ``fffe:0310``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BULK",
    "CRT310_PRODUCT_ID",
    "CRT310_USB",
    "INTERRUPT",
    "LANGID_EN_US",
    "SIM_VENDOR_ID",
    "ConfigurationSpec",
    "DescriptorTable",
    "EndpointSpec",
    "InterfaceSpec",
    "UsbDeviceSpec",
    "bulk_spec",
]

#: it to real hardware.
SIM_VENDOR_ID = 0xFFFE
#: The product ID of the simulated CRT-310 (the protocol's number).
CRT310_PRODUCT_ID = 0x0310
#: The one language the string descriptors are in: English (United States).
LANGID_EN_US = 0x0409

# Descriptor types (USB 2.0 §9.4, table 9-5).
DT_DEVICE, DT_CONFIG, DT_STRING, DT_INTERFACE, DT_ENDPOINT = 1, 2, 3, 4, 5
#: bmAttributes transfer types.
BULK, INTERRUPT = 0x02, 0x03


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
            return struct.pack("<BBH", 4, DT_STRING, LANGID_EN_US)
        if langid != LANGID_EN_US or not 1 <= index <= len(self._texts):
            return None
        text = self._texts[index - 1].encode("utf-16-le")[:252]
        return bytes((2 + len(text), DT_STRING)) + text


class DescriptorTable:
    """The descriptor bytes of one `UsbDeviceSpec`, and the indexes of its strings.

    Args:
        spec: the device's descriptors and strings.

    Attributes:
        i_manufacturer: the iManufacturer index (0: no string); likewise
            ``i_product`` and ``i_serial``.
        config_strings: the iConfiguration index of each configuration, in order.
        interface_strings: the iInterface index per (configuration value, interface
            number, alternate setting).
    """

    def __init__(self, spec: UsbDeviceSpec) -> None:
        self.spec = spec
        self._strings = _Strings()
        self.i_manufacturer = self._strings.index(spec.manufacturer)
        self.i_product = self._strings.index(spec.product)
        self.i_serial = self._strings.index(spec.serial)
        self.config_strings = [self._strings.index(c.name) for c in spec.configurations]
        self.interface_strings = {
            (c.value, i.number, i.alternate): self._strings.index(i.name)
            for c in spec.configurations
            for i in c.interfaces
        }

    def get(self, kind: int, index: int, langid: int) -> bytes | None:
        """The descriptor a GET_DESCRIPTOR asks for; ``None`` if there is none."""
        if kind == DT_DEVICE:
            return self.device()
        if kind == DT_CONFIG:
            if index >= len(self.spec.configurations):
                return None
            return self.configuration(index)
        if kind == DT_STRING:
            return self._strings.descriptor(index, langid)
        return None

    def device(self) -> bytes:
        """The device descriptor (18 bytes)."""
        s = self.spec
        return struct.pack(
            "<BBHBBBBHHHBBBB",
            18,
            DT_DEVICE,
            s.bcd_usb,
            s.device_class,
            0,
            0,
            s.max_packet0,
            s.vendor_id,
            s.product_id,
            s.bcd_device,
            self.i_manufacturer,
            self.i_product,
            self.i_serial,
            len(s.configurations),
        )

    def configuration(self, index: int) -> bytes:
        """The configuration descriptor at ``index``, its interfaces and endpoints after it."""
        config = self.spec.configurations[index]
        body = b""
        for interface in config.interfaces:
            body += struct.pack(
                "<BBBBBBBBB",
                9,
                DT_INTERFACE,
                interface.number,
                interface.alternate,
                len(interface.endpoints),
                interface.interface_class,
                interface.subclass,
                interface.protocol,
                self.interface_strings[(config.value, interface.number, interface.alternate)],
            )
            for ep in interface.endpoints:
                body += struct.pack(
                    "<BBBBHB",
                    7,
                    DT_ENDPOINT,
                    ep.address,
                    ep.attributes,
                    ep.max_packet,
                    ep.interval,
                )
        head = struct.pack(
            "<BBHBBBBB",
            9,
            DT_CONFIG,
            9 + len(body),
            len({i.number for i in config.interfaces}),
            config.value,
            self.config_strings[index],
            0x80 | (0x40 if config.self_powered else 0),
            min(255, config.max_power_ma // 2),
        )
        return head + body
