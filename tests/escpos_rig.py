"""Shared by the ESC/POS driver tests: a simulated ESC/POS printer on a pty or on the
simulated USB bus, and the real ``escpos`` driver.

`PtyPrinter` puts a `PrinterModel` behind an `EscPosEmulator` on a `PtyBridge`
(``<directory>/<name>``) and gives the ``escpos+serial://`` address; `UsbPrinter` does
the same on a `SimUsbDevice` with a printer-class interface (bulk OUT 0x01, IN 0x82),
reached as ``escpos+usb://fffe:5011?backend=sim&serial=...``. `receipt()` is a typical
receipt document.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from drivers.printer.escpos import ESCPOS_DRIVER, EscPosDriver
from drivers.printer.escpos_options import EscPosOptions
from hal.address import DeviceAddress
from hal.devices.printer import (
    Align,
    Barcode,
    CodePage,
    Cut,
    Document,
    Feed,
    Line,
    PrinterStatus,
    QrCode,
    Rule,
    Symbology,
    TextRun,
)
from hal.events import Event
from hal.registry import make_transport
from hal.transports.serial import SERIAL_TRANSPORT
from hal.transports.spy import SPY_TRANSPORT
from hal.transports.usb import USB_TRANSPORT
from simulator.models.printer import PrinterModel
from simulator.wire.escpos import EscPosEmulator, printed_lines
from simulator.wire.escpos_usb import ESCPOS_PRODUCT_ID, escpos_usb_spec
from simulator.wire.pty import PtyBridge
from simulator.wire.usb import SIM_VENDOR_ID, SimUsbDevice, UsbLink, default_bus
from tests.specs import registered

#: Driver options that keep the tests fast (a loaded 2-core box still answers a pty in
#: milliseconds).
FAST: dict[str, object] = {
    "status_interval": 0.05,
    "reply_timeout": 0.5,
    "block_timeout": 3,
    "identify_timeout": 0.2,
}

_names = itertools.count()


@contextmanager
def escpos_registered() -> Iterator[None]:
    """The escpos driver and the serial, usb and spy transports, for one test."""
    with registered(ESCPOS_DRIVER, SERIAL_TRANSPORT, USB_TRANSPORT, SPY_TRANSPORT):
        yield


def _query(extra: dict[str, object]) -> str:
    options = {k: str(v) for k, v in FAST.items()}
    options.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in extra.items()})
    return "&".join(f"{k}={v}" for k, v in options.items())


def receipt(lines: int = 12, *, code_page: CodePage = CodePage.CP858) -> Document:
    """A receipt: a bold centred title, ``lines`` item lines, a rule, a barcode, a QR
    code, a feed and a cut (``lines + 7`` blocks)."""
    blocks: list[object] = [
        Line((TextRun("TELLERHAL BANK", bold=True, double_width=True),), align=Align.CENTER),
    ]
    for i in range(lines):
        blocks.append(Line.of(f"item {i:02d}".ljust(30) + f"{(i + 1) * 1.25:>10.2f} EUR"))
    blocks += [
        Rule("-"),
        Line.of("Total: 12.34 €"),
        Barcode("TX000123456", Symbology.CODE128),
        QrCode("https://example.invalid/r/000123"),
        Feed(2),
        Cut(),
    ]
    return Document(tuple(blocks), code_page)  # type: ignore[arg-type]


class Listener:
    """What the driver reports."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[PrinterStatus] = []
        self.changed = asyncio.Event()

    def event(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    def status_changed(self, status: PrinterStatus) -> None:
        self.statuses.append(status)
        self.changed.set()

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    async def wait_for(self, kind: str, timeout: float = 3.0) -> Event:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if type(event).__name__ == kind:
                        return event
                self.changed.clear()
                await self.changed.wait()


class PtyPrinter:
    """A simulated ESC/POS printer on a pty behind ``<directory>/<name>``."""

    def __init__(self, directory: Path, *, name: str = "escpos", profile: str = "receipt") -> None:
        self.directory = directory
        self.name = name
        self.model = PrinterModel(name=name, profile=profile)

    def lines(self) -> list[str]:
        """What the printer printed, as text."""
        return printed_lines(self.model)

    @property
    def symlink(self) -> Path:
        return self.directory / self.name

    def address(self, *, spy: bool = False, **extra: object) -> str:
        scheme = "spy+escpos+serial" if spy else "escpos+serial"
        return f"{scheme}://{self.symlink}?baud=115200&{_query(extra)}"

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[EscPosEmulator]:
        async with (
            PtyBridge(self.name, directory=self.directory) as bridge,
            EscPosEmulator(bridge, self.model, **emulator) as device,  # type: ignore[arg-type]
        ):
            yield device


class UsbPrinter:
    """A simulated ESC/POS printer on the simulated USB bus (printer class, bulk OUT/IN)."""

    def __init__(self, *, profile: str = "receipt") -> None:
        self.serial = f"ESCPOS-U{next(_names):04d}"
        self.model = PrinterModel(name=self.serial, profile=profile)
        self.device = SimUsbDevice(escpos_usb_spec(self.serial))

    def lines(self) -> list[str]:
        """What the printer printed, as text."""
        return printed_lines(self.model)

    def address(self, *, spy: bool = False, **extra: object) -> str:
        scheme = "spy+escpos+usb" if spy else "escpos+usb"
        ids = f"{SIM_VENDOR_ID:04x}:{ESCPOS_PRODUCT_ID:04x}"
        return f"{scheme}://{ids}?backend=sim&serial={self.serial}&{_query(extra)}"

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[EscPosEmulator]:
        link = UsbLink(self.device)
        with default_bus().plugged(self.device):
            async with EscPosEmulator(link, self.model, **emulator) as device:  # type: ignore[arg-type]
                yield device


def transport_address(address: str) -> str:
    """``address`` with the driver's options left out (what the transport reads)."""
    base, _, query = address.partition("?")
    driver_keys = set(EscPosOptions.__dataclass_fields__)
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in driver_keys]
    return base + ("?" + "&".join(kept) if kept else "")


@asynccontextmanager
async def open_driver(
    address: str, listener: Listener, **options: object
) -> AsyncIterator[EscPosDriver]:
    """The real driver (no service) over the transport ``address`` names, opened."""
    given: dict[str, object] = dict(FAST)
    given.update(options)
    transport = make_transport(DeviceAddress.parse(transport_address(address)))
    driver = EscPosDriver(transport, EscPosOptions(**given))  # type: ignore[arg-type]
    await driver.open(listener)
    try:
        yield driver
    finally:
        await driver.close()
