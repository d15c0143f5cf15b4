"""A SAM_V module as a USB device on the simulator's pyusb backend: its four bulk pipes.

The USB variant of the module splits every frame over two pipes each way (reference/
protocols.md §1.1): the host sends a command's preamble and LEN on OUT 0x02 and the
rest (CMD..CHK) on OUT 0x06; the module answers the preamble and LEN on IN 0x81 and the
rest (SW..CHK) on IN 0x85. `SAMV_USB` is the device (``fffe:5a3d``: the simulator's
vendor ID, a product ID picked for it) and `SamvUsbLink` turns its pipes into a
`simulator.wire.link.WireLink`, so `simulator.wire.samv.SamvEmulator` serves USB as it
serves a pty: what comes on the two OUT pipes is joined in the order it came (the host
writes a header and then its body), and each frame the emulator sends is cut after its
LEN, the header going to 0x81 and the rest to 0x85. Bytes the emulator sends outside a
frame (injected garbage) go to the header pipe, where the host's joiner passes them on
as noise.
"""

from __future__ import annotations

from protocols.samv import MAX_LEN, PREAMBLE
from simulator.wire.usb import (
    BULK,
    SIM_VENDOR_ID,
    ConfigurationSpec,
    EndpointSpec,
    InterfaceSpec,
    SimUsbDevice,
    UsbDeviceSpec,
    UsbLink,
)

__all__ = ["SAMV_PRODUCT_ID", "SAMV_USB", "SamvUsbLink"]

#: The product ID of the simulated USB SAM_V module (under the simulator's vendor ID).
SAMV_PRODUCT_ID = 0x5A3D

HEADER_OUT, BODY_OUT, HEADER_IN, BODY_IN = 0x02, 0x06, 0x81, 0x85
_HEADER = len(PREAMBLE) + 2

#: The simulated USB SAM_V module: one vendor-specific interface, four bulk endpoints.
SAMV_USB = UsbDeviceSpec(
    SIM_VENDOR_ID,
    SAMV_PRODUCT_ID,
    manufacturer="tellerhal simulator",
    product="SAM_V ID card reader (simulated)",
    serial="SAMV-0001",
    configurations=(
        ConfigurationSpec(
            interfaces=(
                InterfaceSpec(
                    endpoints=tuple(
                        EndpointSpec(address, BULK, 64)
                        for address in (HEADER_OUT, BODY_OUT, HEADER_IN, BODY_IN)
                    )
                ),
            )
        ),
    ),
)


def split_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Cut what the module sends into (IN pipe, bytes): headers and noise on 0x81,
    each frame's rest on 0x85."""
    pieces: list[tuple[int, bytes]] = []
    at = 0
    while at < len(data):
        start = data.find(PREAMBLE, at)
        if start < 0:
            pieces.append((HEADER_IN, data[at:]))
            break
        if start > at:
            pieces.append((HEADER_IN, data[at:start]))
        header = data[start : start + _HEADER]
        length = int.from_bytes(header[len(PREAMBLE) :], "big") if len(header) == _HEADER else 0
        if not 1 <= length <= MAX_LEN:
            pieces.append((HEADER_IN, data[start:]))
            break
        pieces.append((HEADER_IN, header))
        pieces.append((BODY_IN, data[start + _HEADER : start + _HEADER + length]))
        at = start + _HEADER + length
    return pieces


class SamvUsbLink(UsbLink):
    """The four pipes of a simulated USB SAM_V module as one `WireLink`.

    Args:
        device: the simulated device (`SAMV_USB`, plugged or not).
    """

    def __init__(self, device: SimUsbDevice) -> None:
        super().__init__(device)
        #: Bytes received per OUT pipe (checks that the host used both).
        self.received_on: dict[int, int] = {HEADER_OUT: 0, BODY_OUT: 0}

    def bulk_out(self, device: SimUsbDevice, endpoint: int, data: bytes) -> None:
        self.received_on[endpoint] = self.received_on.get(endpoint, 0) + len(data)
        super().bulk_out(device, endpoint, data)

    async def send(self, data: bytes) -> None:
        for endpoint, piece in split_frames(data):
            self.device.send(piece, endpoint)  # dropped while unplugged, as on a wire
