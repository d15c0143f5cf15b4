"""A world's card reader answering CRT-310 on the bulk pipes of a simulated USB device.

`UsbRig` is `tests.crt310_rig.PtyRig` over USB: the `Crt310Emulator` talks through a
`UsbLink` bound to a `SimUsbDevice` on the simulator's USB bus (the pyusb backend
``sim``), and the real ``crt310`` driver reaches it as
``crt310+usb://fffe:0310?backend=sim&serial=...`` through ``hal.open``.
`usb_registered()` registers the driver and the ``usb`` and ``spy`` transports for a
test, as their entry points would.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import hal
from drivers.card_reader.crt310 import CRT310_DRIVER
from hal.devices.card_reader import CardReader
from hal.transports.spy import SPY_TRANSPORT
from hal.transports.usb import USB_TRANSPORT
from simulator.control import CardReaderControl
from simulator.wire.crt310 import Crt310Emulator
from simulator.wire.usb import (
    CRT310_PRODUCT_ID,
    CRT310_USB,
    SIM_VENDOR_ID,
    SimUsbDevice,
    UsbLink,
    default_bus,
)
from simulator.world import World
from tests.crt310_rig import FAST, SCALE, reader_model
from tests.specs import registered

_names = itertools.count()


@contextmanager
def usb_registered() -> Iterator[None]:
    """The crt310 driver and the usb and spy transports, for one test."""
    with registered(CRT310_DRIVER, USB_TRANSPORT, SPY_TRANSPORT):
        yield


class UsbRig:
    """A world's card reader answering CRT-310 on a simulated USB device.

    Args:
        ledger: the ledger file the driver's service journals in.
        setup: `CardReaderSetup` fields of the model.
    """

    def __init__(self, ledger: Path, **setup: object) -> None:
        n = next(_names)
        self.world = World(f"usbrig{n}", clock_scale=SCALE)
        self.model = reader_model(self.world, **setup)
        self.control: CardReaderControl = self.world.card_reader_control()
        self.ledger = ledger
        self.serial = f"CRT310-U{n:04d}"
        self.device = SimUsbDevice(dataclasses.replace(CRT310_USB, serial=self.serial))
        self.bus = default_bus()

    def address(self, extra: str = "", *, spy: bool = False) -> str:
        options = f"backend=sim&serial={self.serial}&retain_capacity=50&ledger={self.ledger}&{FAST}"
        scheme = "spy+crt310+usb" if spy else "crt310+usb"
        ids = f"{SIM_VENDOR_ID:04x}:{CRT310_PRODUCT_ID:04x}"
        return f"{scheme}://{ids}?{options}{'&' + extra if extra else ''}"

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[tuple[UsbLink, Crt310Emulator]]:
        """The device plugged in and the emulator serving its pipes."""
        link = UsbLink(self.device)
        with self.bus.plugged(self.device):
            async with Crt310Emulator(self.model, link, **emulator) as device:  # type: ignore[arg-type]
                yield link, device

    @asynccontextmanager
    async def reader(self, extra: str = "", *, spy: bool = False) -> AsyncIterator[CardReader]:
        """A wire, and the reader opened over it through ``hal.open``."""
        async with self.wire():
            device = hal.open(self.address(extra, spy=spy))
            assert isinstance(device, CardReader)
            async with device:
                yield device
