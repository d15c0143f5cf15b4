"""Shared by the CRT-591 tests: the specs registered, and a simulated issuer on a wire.

`crt591_registered()` registers the ``crt591`` driver and the ``serial``, ``memory`` and
``spy`` transports for a test. `PtyRig` puts a world's card reader (with a card stacker)
behind a `Crt591Emulator` on a `PtyBridge` and gives the address a driver opens;
`MemoryRig` does the same over a memory pair.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import hal
from drivers.card_reader.crt591 import CRT591_DRIVER
from hal.devices.card_reader import CardReader
from hal.transports.memory import MEMORY_TRANSPORT, memory_pair
from hal.transports.serial import SERIAL_TRANSPORT
from hal.transports.spy import SPY_TRANSPORT
from simulator.control import CardReaderControl
from simulator.models.card_reader import CardReaderModel
from simulator.wire.crt591 import Crt591Emulator
from simulator.wire.link import MemoryLink
from simulator.wire.pty import PtyBridge
from simulator.world import CardReaderSetup, World
from tests.specs import registered

#: Real seconds per simulated second: a card movement (0.3 s) takes 1.5 ms.
SCALE = 0.005
#: Driver options that keep the tests fast: 10 ms polls, a 0.5 s take timeout.
FAST = "poll_interval=0.01&take_timeout=0.5&ack_timeout=0.2&reply_timeout=1&refuse_after=0.05"
#: The issuer the rigs build: a 10-card stacker, a 50-card reject bin.
STACKER = 10
BIN = 50
_names = itertools.count()


@contextmanager
def crt591_registered() -> Iterator[None]:
    """The crt591 driver and the serial, memory and spy transports, for one test."""
    with registered(CRT591_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, SPY_TRANSPORT):
        yield


def issuer_model(world: World, **setup: object) -> CardReaderModel:
    """The world's reader as a CRT-591 has it: a stacker, a bin, no take timer."""
    options: dict[str, object] = {
        "take_timeout": None,
        "stacker_capacity": STACKER,
        "retain_capacity": BIN,
    }
    options.update(setup)
    return world.card_reader(setup=CardReaderSetup(**options))  # type: ignore[arg-type]


class PtyRig:
    """A world's card issuer answering CRT-591 on a pty behind a stable symlink.

    Args:
        directory: where the symlink goes (``<directory>/crt591``).
        ledger: the ledger file the driver's service journals in.
        setup: `CardReaderSetup` fields of the model.
    """

    def __init__(self, directory: Path, ledger: Path, **setup: object) -> None:
        self.world = World(f"rig591-{next(_names)}", clock_scale=SCALE)
        self.model = issuer_model(self.world, **setup)
        self.control: CardReaderControl = self.world.card_reader_control()
        self.directory = directory
        self.ledger = ledger

    @property
    def symlink(self) -> Path:
        return self.directory / "crt591"

    def address(self, extra: str = "", *, spy: bool = False) -> str:
        capacities = f"stacker_capacity={self.model.stacker_capacity}"
        capacities += f"&retain_capacity={self.model.retain_capacity}"
        options = f"baud=115200&{capacities}&ledger={self.ledger}&{FAST}"
        scheme = "spy+crt591+serial" if spy else "crt591+serial"
        return f"{scheme}://{self.symlink}?{options}{'&' + extra if extra else ''}"

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[tuple[PtyBridge, Crt591Emulator]]:
        """The bridge and the emulator, running."""
        async with (
            PtyBridge("crt591", directory=self.directory) as bridge,
            Crt591Emulator(self.model, bridge, **emulator) as device,  # type: ignore[arg-type]
        ):
            yield bridge, device

    @asynccontextmanager
    async def reader(self, extra: str = "", *, spy: bool = False) -> AsyncIterator[CardReader]:
        """A wire, and the reader opened over it through ``hal.open``."""
        async with self.wire():
            device = hal.open(self.address(extra, spy=spy))
            assert isinstance(device, CardReader)
            async with device:
                yield device


class MemoryRig:
    """A world's card issuer answering CRT-591 on the device end of a memory pair.

    Args:
        name: the pair's name (``crt591+memory://NAME`` reaches its host end).
        setup: `CardReaderSetup` fields of the model.
    """

    def __init__(self, name: str | None = None, **setup: object) -> None:
        self.world = World(f"memrig591-{next(_names)}", clock_scale=SCALE)
        self.model = issuer_model(self.world, **setup)
        self.control: CardReaderControl = self.world.card_reader_control()
        self.host, self.device_end = memory_pair(name)

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[Crt591Emulator]:
        await self.device_end.open()
        try:
            async with Crt591Emulator(
                self.model,
                MemoryLink(self.device_end),
                **emulator,  # type: ignore[arg-type]
            ) as device:
                yield device
        finally:
            await self.device_end.close()
