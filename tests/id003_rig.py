"""Shared by the ID-003 tests: a simulated JCM validator on a pty, and the real driver.

`Id003Rig` puts a `CashAcceptorModel` of the ``id003`` profile under an `Id003Firmware`
behind an `Id003Emulator` on a `PtyBridge`;
`Id003Rig.driver()` is the real `Id003Driver` over the real serial transport on that
pty, open. The validator's line is 8E1; a pty has no framing: parity given at open is
accepted and ignored, and a second open of the same pty with parity E fails with EINVAL
(reference/ecosystem.md §2). So the rig opens 8N1 unless a test asks for ``parity="E"``
(once per pty). `id003_registered()` registers the ``id003``
driver and the ``serial``, ``memory`` and ``spy`` transports for a test that goes
through ``hal.open``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Literal

from drivers.cash.id003 import ID003_DRIVER, Id003Driver
from drivers.cash.id003_options import Id003Options
from hal.devices.cash_acceptor import ItemsInserted
from hal.devices.cash_in_model import CashAcceptorStatus
from hal.events import Event
from hal.transports.memory import MEMORY_TRANSPORT
from hal.transports.serial import SERIAL_TRANSPORT, SerialOptions, SerialTransport
from hal.transports.spy import SPY_TRANSPORT
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.wire.id003 import Id003Emulator
from simulator.wire.id003_firmware import Id003Firmware
from simulator.wire.pty import PtyBridge
from tests.specs import registered

#: Driver options that keep the tests fast and a loaded machine from tripping them.
FAST = {"reply_timeout": 0.3, "poll_interval": 0.01, "note_timeout": 3.0, "retries": 3}


@contextmanager
def id003_registered() -> Iterator[None]:
    """The id003 driver and the serial, memory and spy transports, for one test."""
    with registered(ID003_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, SPY_TRANSPORT):
        yield


class Listener:
    """What the driver reports to its service."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[CashAcceptorStatus] = []
        #: Set at the first `ItemsInserted`.
        self.inserted = asyncio.Event()

    def event(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, ItemsInserted):
            self.inserted.set()

    def status_changed(self, status: CashAcceptorStatus) -> None:
        self.statuses.append(status)


class Id003Rig:
    """A simulated ID-003 validator on a pty behind ``<directory>/id003``.

    Args:
        directory: where the symlink goes.
        clock_scale: real seconds per simulated second of the model (the profile's
            note, store and return times are a few tenths of a simulated second).
    """

    def __init__(self, directory: Path, *, clock_scale: float = 0.05) -> None:
        self.directory = directory
        self.model = CashAcceptorModel.from_profile("id003", name="id003", clock_scale=clock_scale)
        self.firmware = Id003Firmware(self.model)
        self.bridge: PtyBridge | None = None
        self.emulator: Id003Emulator | None = None
        self.listener = Listener()

    @property
    def symlink(self) -> Path:
        return self.directory / "id003"

    def address(self, extra: str = "") -> str:
        """The ``id003+serial`` address of the rig (``extra``: more options)."""
        options = {"baud": "115200"}
        options.update({k: str(v) for k, v in FAST.items()})
        for pair in filter(None, extra.split("&")):
            key, value = pair.split("=", 1)
            options[key] = value
        return f"id003+serial://{self.symlink}?" + "&".join(f"{k}={v}" for k, v in options.items())

    @asynccontextmanager
    async def wire(self) -> AsyncIterator[Id003Emulator]:
        """The bridge and the emulator, running."""
        async with (
            PtyBridge("id003", directory=self.directory) as bridge,
            Id003Emulator(bridge, self.firmware) as device,
        ):
            self.bridge, self.emulator = bridge, device
            try:
                yield device
            finally:
                self.bridge = self.emulator = None

    @asynccontextmanager
    async def driver(
        self, *, parity: Literal["N", "E"] = "N", **options: object
    ) -> AsyncIterator[Id003Driver]:
        """The real driver over a serial transport on the pty, opened (and closed)."""
        given: dict[str, object] = dict(FAST)
        given.update(options)
        transport = SerialTransport(str(self.symlink), SerialOptions(baud=115200, parity=parity))
        driver = Id003Driver(transport, Id003Options(**given))  # type: ignore[arg-type]
        await driver.open(self.listener)
        try:
            yield driver
        finally:
            await driver.close()
