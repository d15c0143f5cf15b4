r"""The simulated USB bus and its pyusb backend (``usb.backend.IBackend``).

`SimUsbBus` holds the `simulator.wire.usb_device.SimUsbDevice`\ s plugged in (each plug
gives a new address, as a real bus does); `SimUsbBus.backend`, a `SimUsbBackend`, is what
pyusb is given, and pyusb (``usb.core.find``, ``Device``, ``usb.util.get_string``...)
runs on it unchanged, as on libusb. `default_bus()` is the bus behind the backend name
``sim`` (`simulator.wire.usb` registers it with `hal.transports.usb.register_backend`).

The backend keeps libusb's ways where pyusb relies on them: ``get_interface_descriptor``
raises ``IndexError`` for an alternate setting that does not exist (pyusb counts the
alternates up until an error), and every call on a handle of a device unplugged since
it was opened fails with ``USBError`` errno 19 (ENODEV).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import usb.backend  # type: ignore[import-untyped]

from simulator.wire.usb_descriptors import (
    DT_CONFIG,
    DT_DEVICE,
    DT_ENDPOINT,
    DT_INTERFACE,
    ConfigurationSpec,
    InterfaceSpec,
)
from simulator.wire.usb_device import SimUsbDevice

__all__ = ["SimUsbBackend", "SimUsbBus", "default_bus"]

log = logging.getLogger("simulator.wire.usb")


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
            bDescriptorType=DT_DEVICE,
            bcdUSB=s.bcd_usb,
            bDeviceClass=s.device_class,
            bDeviceSubClass=0,
            bDeviceProtocol=0,
            bMaxPacketSize0=s.max_packet0,
            idVendor=s.vendor_id,
            idProduct=s.product_id,
            bcdDevice=s.bcd_device,
            iManufacturer=device.descriptors.i_manufacturer,
            iProduct=device.descriptors.i_product,
            iSerialNumber=device.descriptors.i_serial,
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
        blob = dev.device.descriptors.configuration(config)
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=DT_CONFIG,
            wTotalLength=len(blob),
            bNumInterfaces=len({i.number for i in spec.interfaces}),
            bConfigurationValue=spec.value,
            iConfiguration=dev.device.descriptors.config_strings[config],
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
            bDescriptorType=DT_INTERFACE,
            bInterfaceNumber=interface.number,
            bAlternateSetting=interface.alternate,
            bNumEndpoints=len(interface.endpoints),
            bInterfaceClass=interface.interface_class,
            bInterfaceSubClass=interface.subclass,
            bInterfaceProtocol=interface.protocol,
            iInterface=dev.device.descriptors.interface_strings[
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
            bDescriptorType=DT_ENDPOINT,
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
        with dev.device._live(dev.generation):
            return _Handle(dev.device, dev.generation)

    def close_device(self, dev_handle: _Handle) -> None:
        dev_handle.device._release_all(dev_handle)
        dev_handle.claimed.clear()

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        with dev_handle.device._live(dev_handle.generation):
            dev_handle.device._set_configuration(config_value)

    def get_configuration(self, dev_handle: _Handle) -> int:
        with dev_handle.device._live(dev_handle.generation):
            return dev_handle.device.configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        with dev_handle.device._live(dev_handle.generation):
            dev_handle.device._set_interface(intf, altsetting)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device._claim(dev_handle.generation, intf, dev_handle)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        dev_handle.claimed.discard(intf)
        device._release(intf, dev_handle)
        with device._live(dev_handle.generation):  # libusb reports the device gone here too
            pass

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return dev_handle.device._kernel_driver_active(dev_handle.generation, intf)

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device._detach_kernel_driver(dev_handle.generation, intf)

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device._attach_kernel_driver(dev_handle.generation, intf)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        with dev_handle.device._live(dev_handle.generation):
            pass  # the simulated pipes never halt

    def reset_device(self, dev_handle: _Handle) -> None:
        dev_handle.device._reset(dev_handle.generation)

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


_default_bus: SimUsbBus | None = None
_default_lock = threading.Lock()


def default_bus() -> SimUsbBus:
    """The bus behind the pyusb backend name ``sim`` (made on first use)."""
    global _default_bus
    with _default_lock:
        if _default_bus is None:
            _default_bus = SimUsbBus()
        return _default_bus
