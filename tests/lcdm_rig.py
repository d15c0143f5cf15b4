"""Shared by the LCDM tests: a simulated Puloon LCDM on a pty, and the real driver on it.

`LcdmRig` puts a `CashDispenserModel` of an LCDM profile behind an `LcdmEmulator` on a
`PtyBridge`; `LcdmRig.driver()` is the real `LcdmDriver` over the real serial transport
on that pty, open. `lcdm_registered()` registers the ``lcdm`` driver and the ``serial``,
``memory`` and ``spy`` transports for a test that goes through ``hal.open``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from drivers.cash.lcdm import LCDM_DRIVER, LcdmDriver
from drivers.cash.lcdm_options import LcdmOptions
from hal.devices.cash_model import CashDispenserStatus
from hal.events import Event
from hal.transports.memory import MEMORY_TRANSPORT
from hal.transports.serial import SERIAL_TRANSPORT, SerialOptions, SerialTransport
from hal.transports.spy import SPY_TRANSPORT
from protocols.lcdm import Model
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_profiles import cash_profile
from simulator.wire.lcdm import LcdmEmulator
from simulator.wire.pty import PtyBridge
from tests.specs import registered

#: Driver options that keep the tests fast and a loaded machine from tripping them.
FAST = {"ack_timeout": 0.3, "reply_timeout": 3.0, "status_timeout": 1.0, "retries": 3}
#: Each model's cassettes, as the lcdm profiles fill them (values in fen, capacity).
UNITS = {
    1000: "CNY:10000:2500",
    2000: "CNY:10000:2500,CNY:5000:2500",
    4000: "CNY:10000:2500,CNY:5000:2500,CNY:2000:2500,CNY:1000:2500",
}


@contextmanager
def lcdm_registered() -> Iterator[None]:
    """The lcdm driver and the serial, memory and spy transports, for one test."""
    with registered(LCDM_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, SPY_TRANSPORT):
        yield


class Listener:
    """What the driver reports to its service (it sends no events: no taken sensor)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[CashDispenserStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: CashDispenserStatus) -> None:
        self.statuses.append(status)


class LcdmRig:
    """A simulated LCDM on a pty behind ``<directory>/lcdm``.

    Args:
        directory: where the symlink goes.
        model: 1000, 2000 or 4000.
        counts: ``{unit id: notes}`` at start (the profile's 500 each otherwise).
        pick_time: simulated seconds per note (0: instant).
    """

    def __init__(
        self,
        directory: Path,
        model: int,
        *,
        counts: Mapping[str, int] | None = None,
        pick_time: float = 0.0,
    ) -> None:
        self.directory = directory
        self.number = model
        profile = cash_profile(f"lcdm{model}", counts)
        self.model = CashDispenserModel(profile, name=f"lcdm{model}", pick_time=pick_time)
        self.bridge: PtyBridge | None = None
        self.emulator: LcdmEmulator | None = None

    @property
    def symlink(self) -> Path:
        return self.directory / "lcdm"

    def address(self, extra: str = "") -> str:
        """The ``lcdm+serial`` address of the rig (``extra``: more options)."""
        options = {"baud": "115200", "model": str(self.number), "units": UNITS[self.number]}
        options.update({k: str(v) for k, v in FAST.items()})
        for pair in filter(None, extra.split("&")):
            key, value = pair.split("=", 1)
            options[key] = value
        return f"lcdm+serial://{self.symlink}?" + "&".join(f"{k}={v}" for k, v in options.items())

    @asynccontextmanager
    async def wire(self) -> AsyncIterator[LcdmEmulator]:
        """The bridge and the emulator, running."""
        async with (
            PtyBridge("lcdm", directory=self.directory) as bridge,
            LcdmEmulator(self.model, bridge, model=Model(self.number), baud=None) as device,
        ):
            self.bridge, self.emulator = bridge, device
            try:
                yield device
            finally:
                self.bridge = self.emulator = None

    @asynccontextmanager
    async def driver(self, **options: object) -> AsyncIterator[LcdmDriver]:
        """The real driver over a serial transport on the pty, opened (and closed)."""
        given: dict[str, object] = dict(FAST)
        given.update(options)
        lcdm_options = LcdmOptions(
            units=UNITS[self.number],
            model=self.number,  # type: ignore[arg-type]
            **given,  # type: ignore[arg-type]
        )
        transport = SerialTransport(str(self.symlink), SerialOptions(baud=115200))
        driver = LcdmDriver(transport, lcdm_options)
        await driver.open(Listener())
        try:
            yield driver
        finally:
            await driver.close()
