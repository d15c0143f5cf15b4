"""What a simulated USB device does with the host's traffic: its firmware.

A `SimUsbDevice` hands every bulk (or interrupt) OUT transfer and every class or vendor
control request to its `UsbFirmware`; the firmware answers on a bulk IN pipe with
`SimUsbDevice.send`. Standard requests (descriptors, configuration, interfaces) the
device answers itself.

- `UsbFirmware`: the base, silent (every class/vendor request stalls);
- `EchoFirmware`: sends back what came, and counts it (tests, benches);
- `UsbLink`: turns the bulk pipes into a `simulator.wire.link.WireLink`, so a
  byte-stream wire emulator (`simulator.wire.crt310.Crt310Emulator`) runs over USB as
  it runs over a pty.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import TYPE_CHECKING

from hal.transports.base import ReceiveBuffer

if TYPE_CHECKING:
    from simulator.wire.usb_device import SimUsbDevice

__all__ = ["ControlRequest", "EchoFirmware", "UsbFirmware", "UsbLink"]


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
