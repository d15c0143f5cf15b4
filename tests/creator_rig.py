"""The rigs both Creator stacks' tests use: a simulated reader on a wire.

`PtyRigBase` puts a world's card reader behind an emulator on a `PtyBridge` and gives
the address a driver opens; `MemoryRigBase` does the same over a memory pair. What
differs (the driver's name, the emulator, how the model is built, the address options)
is the subclass's: `tests.crt310_rig`, `tests.crt591_rig`. Also shared by their tests:
`Recorder`, a listener that keeps what a driver reports; `Bench` and `driven`, a driver
opened on a memory rig's emulator; `insert`, a customer's card taken in; and `RawHost`,
a bare host that sends raw bytes and reads the decoded items.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import hal
from hal.devices.card_reader import CardReader, CardReaderStatus, InsertCard, Track
from hal.errors import HalTimeout
from hal.events import Event
from hal.transports.memory import MemoryTransport, memory_pair
from simulator.control import CardReaderControl
from simulator.models.card_reader import CardReaderModel
from simulator.wire.creator_emulator import CreatorEmulator
from simulator.wire.link import MemoryLink
from simulator.wire.pty import PtyBridge
from simulator.world import World

#: Real seconds per simulated second: a card movement (0.3 s) takes 1.5 ms.
SCALE = 0.005

E = TypeVar("E", bound=CreatorEmulator)
_names = itertools.count()


class _RigBase(Generic[E]):
    #: The driver's name (the scheme and the pty's symlink).
    kind: ClassVar[str]
    #: Builds the emulator on a wire.
    emulator: Callable[..., E]
    #: Builds the model from the world and `CardReaderSetup` fields.
    build_model: Callable[..., CardReaderModel]

    def _world(self, prefix: str, setup: dict[str, Any]) -> None:
        self.world = World(f"{prefix}{next(_names)}", clock_scale=SCALE)
        self.model = type(self).build_model(self.world, **setup)
        self.control: CardReaderControl = self.world.card_reader_control()


class PtyRigBase(_RigBase[E]):
    """A world's card reader answering its protocol on a pty behind a stable symlink.

    Args:
        directory: where the symlink goes (``<directory>/<kind>``).
        ledger: the ledger file the driver's service journals in.
        setup: `CardReaderSetup` fields of the model.
    """

    prefix: ClassVar[str] = "rig"

    def __init__(self, directory: Path, ledger: Path, **setup: object) -> None:
        self._world(self.prefix, setup)
        self.directory = directory
        self.ledger = ledger

    @property
    def symlink(self) -> Path:
        return self.directory / self.kind

    def options(self) -> str:
        """The driver's options in the address (the serial line's and its own)."""
        raise NotImplementedError

    def address(self, extra: str = "", *, spy: bool = False) -> str:
        scheme = f"spy+{self.kind}+serial" if spy else f"{self.kind}+serial"
        return f"{scheme}://{self.symlink}?{self.options()}{'&' + extra if extra else ''}"

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[tuple[PtyBridge, E]]:
        """The bridge and the emulator, running."""
        async with (
            PtyBridge(self.kind, directory=self.directory) as bridge,
            type(self).emulator(self.model, bridge, **emulator) as device,
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


class MemoryRigBase(_RigBase[E]):
    """A world's card reader answering its protocol on the device end of a memory pair.

    Args:
        name: the pair's name (``<kind>+memory://NAME`` reaches its host end).
        setup: `CardReaderSetup` fields of the model.
    """

    prefix: ClassVar[str] = "memrig"

    def __init__(self, name: str | None = None, **setup: object) -> None:
        self._world(self.prefix, setup)
        self.host, self.device_end = memory_pair(name)

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[E]:
        await self.device_end.open()
        try:
            async with type(self).emulator(
                self.model, MemoryLink(self.device_end), **emulator
            ) as device:
                yield device
        finally:
            await self.device_end.close()


@dataclass
class Recorder:
    """A BackendListener that keeps what the driver reports."""

    events: list[Event] = field(default_factory=list)
    statuses: list[CardReaderStatus] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def event(self, event: Event) -> None:
        self.events.append(event)
        self.arrived.set()

    def status_changed(self, status: CardReaderStatus) -> None:
        self.statuses.append(status)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    async def wait_for(self, kind: type[Event], timeout: float = 1.0) -> Event:
        async with asyncio.timeout(timeout):
            while not any(isinstance(e, kind) for e in self.events):
                self.arrived.clear()
                await self.arrived.wait()
        return next(e for e in self.events if isinstance(e, kind))


class RawHost:
    """A bare host: raw bytes out, decoded items in (the protocol's stream decoder)."""

    def __init__(self, end: MemoryTransport, decoder: Any) -> None:
        self.end = end
        self.decoder = decoder
        self.items: list[Any] = []

    async def send(self, data: bytes) -> None:
        await self.end.write(data)

    async def next(self, timeout: float = 1.0) -> Any:
        while not self.items:
            self.items += self.decoder.feed(await self.end.read(timeout=timeout))
        return self.items.pop(0)

    async def silent(self, timeout: float = 0.05) -> bool:
        try:
            await self.next(timeout)
        except HalTimeout:
            return True
        return False


@dataclass
class Bench:
    """A driver opened (through its backend interface) on a memory rig's emulator."""

    rig: Any
    emulator: Any
    driver: Any
    heard: Recorder


@asynccontextmanager
async def driven(
    rig: MemoryRigBase[Any], make_driver: Callable[[Any], Any]
) -> AsyncIterator[Bench]:
    """The rig's wire running, and ``make_driver(rig.host)`` opened on it until the end."""
    async with rig.wire() as emulator:
        driver = make_driver(rig.host)
        heard = Recorder()
        await driver.open(heard)
        try:
            yield Bench(rig, emulator, driver, heard)
        finally:
            await driver.close()


async def insert(bench: Bench, sources: frozenset[Track], profile: str = "visa") -> None:
    """The customer inserts a card once the driver asks for it (``accept_card``)."""
    accepting = asyncio.create_task(bench.driver.accept_card(sources))
    await bench.heard.wait_for(InsertCard)
    await bench.rig.control.insert_card(profile)
    await asyncio.wait_for(accepting, 2)
