"""A simulated USB bus under the real pyusb stack: the ``sim`` pyusb backend.

There is no USB in this kernel (reference/ecosystem.md §0), so the simulation sits one
level up: `SimUsbBackend` is a ``usb.backend.IBackend``, and pyusb (``usb.core.find``,
``Device``, ``Endpoint``, ``usb.util.get_string``...) runs on it unchanged, as it runs
on libusb. A driver reaches a simulated device with ``backend=sim`` in its ``usb``
address (`hal.transports.usb`), and nothing else in it differs::

    crt310+usb://fffe:0310?backend=sim&serial=CRT310-0001

This module gathers the pieces (import them from here) and registers the backend name
``sim`` with `hal.transports.usb.register_backend` when imported:

- `simulator.wire.usb_backend`: `SimUsbBus`, the devices plugged in (`SimUsbBus.plug`,
  `SimUsbBus.unplug`, `SimUsbBus.replug`; each plug gives a new address, as a real bus
  does), and its `SimUsbBus.backend`, the `SimUsbBackend` pyusb is given.
  `default_bus()` is the bus behind the backend name ``sim``;
- `simulator.wire.usb_device`: `SimUsbDevice`, one device: its configuration, claimed
  interfaces, kernel-driver flags, a queue per bulk IN endpoint, the standard requests;
- `simulator.wire.usb_descriptors`: what a device says about itself (`UsbDeviceSpec`
  and the specs inside it; string descriptors in LANGID 0x0409), `bulk_spec` for a
  device with one vendor-specific interface and a pair of bulk endpoints (most
  teller-machine peripherals), and `CRT310_USB`, the simulated CRT-310 on USB, at
  VID:PID `SIM_VENDOR_ID`:`CRT310_PRODUCT_ID` (``fffe:0310``);
- `simulator.wire.usb_firmware`: a device's behaviour, a `UsbFirmware` bound to its
  pipes (bulk OUT transfers and class/vendor control requests go to it; it answers
  through `SimUsbDevice.send`), `EchoFirmware`, and `UsbLink`, a firmware that turns
  the bulk pipes into a `simulator.wire.link.WireLink`, so a byte-stream wire emulator
  (`simulator.wire.crt310.Crt310Emulator`) runs over USB as it runs over a pty.

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

from hal.transports.usb import register_backend
from simulator.wire.usb_backend import SimUsbBackend, SimUsbBus, default_bus
from simulator.wire.usb_descriptors import (
    BULK,
    CRT310_PRODUCT_ID,
    CRT310_USB,
    INTERRUPT,
    LANGID_EN_US,
    SIM_VENDOR_ID,
    ConfigurationSpec,
    EndpointSpec,
    InterfaceSpec,
    UsbDeviceSpec,
    bulk_spec,
)
from simulator.wire.usb_device import SimUsbDevice
from simulator.wire.usb_firmware import ControlRequest, EchoFirmware, UsbFirmware, UsbLink

__all__ = [
    "BULK",
    "CRT310_PRODUCT_ID",
    "CRT310_USB",
    "INTERRUPT",
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


def _sim_backend() -> SimUsbBackend:
    return default_bus().backend


register_backend("sim", _sim_backend, replace=True)
