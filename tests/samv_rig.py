"""Shared by the SAM_V tests: a simulated SAM_V module on a pty or on the simulated USB
bus, and the real ``samv`` driver.

`SamvRig` puts a `SamvFirmware` (its field a `CardTable`, or the ID-scanner model's
chip build through `ModelField`) behind a `SamvEmulator` on a `PtyBridge`;
`SamvRig.driver()` is the real `SamvDriver` over the real serial transport on that pty,
open. `SamvUsbRig` is the same module on a `SimUsbDevice` with the four bulk pipes
(`simulator.wire.samv_usb`), reached as ``samv+usb://fffe:5a3d?backend=sim&serial=...``.
Cards come from the simulator's synthetic document profiles (`chip_card`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from drivers.id_scanner.samv import SAMV_DRIVER, SamvDriver
from drivers.id_scanner.samv_options import SamvOptions
from hal.devices.id_scanner import DocumentInserted, IdScannerStatus
from hal.events import Event
from hal.transports.memory import MEMORY_TRANSPORT
from hal.transports.serial import SERIAL_TRANSPORT, SerialOptions, SerialTransport
from hal.transports.spy import SPY_TRANSPORT
from hal.transports.usb import USB_TRANSPORT
from simulator.id_profiles import document_profile
from simulator.wire.pty import PtyBridge
from simulator.wire.samv import SamvEmulator
from simulator.wire.samv_firmware import CardTable, ChipCard, SamvFirmware, chip_card
from simulator.wire.samv_usb import SAMV_PRODUCT_ID, SAMV_USB, SamvUsbLink
from simulator.wire.usb import SIM_VENDOR_ID, SimUsbDevice, default_bus
from tests.specs import registered

#: Driver options that keep the tests fast: the smallest legal poll interval, short
#: reply timeouts (a loaded 2-core box still answers a pty in milliseconds).
FAST: dict[str, object] = {"reply_timeout": 0.5, "poll_interval": 0.3, "read_retries": 1}

_names = itertools.count()


@contextmanager
def samv_registered() -> Iterator[None]:
    """The samv driver and the serial, memory, usb and spy transports, for one test."""
    with registered(SAMV_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, USB_TRANSPORT, SPY_TRANSPORT):
        yield


def card(profile: str) -> ChipCard:
    """The chip of a synthetic document profile (``resident``, ``hmt``...)."""
    made = chip_card(document_profile(profile))
    assert made is not None, f"{profile} has no chip"
    return made


class Listener:
    """What the driver reports to its service."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[IdScannerStatus] = []
        self.inserted = asyncio.Event()

    def event(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, DocumentInserted):
            self.inserted.set()

    def status_changed(self, status: IdScannerStatus) -> None:
        self.statuses.append(status)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


class SamvRig:
    """A simulated SAM_V module on a pty behind ``<directory>/samv``."""

    def __init__(self, directory: Path, firmware: SamvFirmware | None = None) -> None:
        self.directory = directory
        self.table = CardTable()
        self.firmware = firmware if firmware is not None else SamvFirmware(self.table)
        self.listener = Listener()
        self.emulator: SamvEmulator | None = None

    @property
    def symlink(self) -> Path:
        return self.directory / "samv"

    def place(self, profile: str) -> None:
        self.table.place(card(profile))

    def address(self, extra: str = "", *, spy: bool = False) -> str:
        options = {k: str(v) for k, v in FAST.items()}
        for pair in filter(None, extra.split("&")):
            key, value = pair.split("=", 1)
            options[key] = value
        scheme = "spy+samv+serial" if spy else "samv+serial"
        return f"{scheme}://{self.symlink}?" + "&".join(f"{k}={v}" for k, v in options.items())

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[SamvEmulator]:
        """The bridge and the emulator, running."""
        async with (
            PtyBridge("samv", directory=self.directory) as bridge,
            SamvEmulator(bridge, self.firmware, **emulator) as device,  # type: ignore[arg-type]
        ):
            self.emulator = device
            try:
                yield device
            finally:
                self.emulator = None

    @asynccontextmanager
    async def driver(self, **options: object) -> AsyncIterator[SamvDriver]:
        """The real driver over a serial transport on the pty, opened (and closed)."""
        given = dict(FAST)
        given.update(options)
        transport = SerialTransport(str(self.symlink), SerialOptions(baud=115200))
        driver = SamvDriver(transport, SamvOptions(**given))  # type: ignore[arg-type]
        await driver.open(self.listener)
        try:
            yield driver
        finally:
            await driver.close()


class SamvUsbRig:
    """A simulated SAM_V module on the simulated USB bus (four bulk pipes)."""

    def __init__(self) -> None:
        n = next(_names)
        self.table = CardTable()
        self.firmware = SamvFirmware(self.table)
        self.serial = f"SAMV-U{n:04d}"
        self.device = SimUsbDevice(dataclasses.replace(SAMV_USB, serial=self.serial))

    def place(self, profile: str) -> None:
        self.table.place(card(profile))

    def address(self, extra: str = "", *, spy: bool = False) -> str:
        options = "&".join(f"{k}={v}" for k, v in FAST.items())
        scheme = "spy+samv+usb" if spy else "samv+usb"
        ids = f"{SIM_VENDOR_ID:04x}:{SAMV_PRODUCT_ID:04x}"
        more = f"&{extra}" if extra else ""
        return f"{scheme}://{ids}?backend=sim&serial={self.serial}&{options}{more}"

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[SamvEmulator]:
        """The device plugged in and the emulator serving its pipes."""
        link = SamvUsbLink(self.device)
        with default_bus().plugged(self.device):
            async with SamvEmulator(link, self.firmware, **emulator) as device:  # type: ignore[arg-type]
                yield device
