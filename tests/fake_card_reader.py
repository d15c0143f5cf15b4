"""A fake card-reader driver for the hal tests (registered by the ``fake_driver`` fixture).

It lives in its own module, not in a conftest: `hal.options` resolves the options'
annotations through the defining module, and pytest rebinds ``sys.modules["conftest"]``
to whichever conftest it imported last.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hal import registry
from hal.address import DeviceAddress
from hal.devices.card_reader import (
    CardData,
    CardReader,
    CardReaderCapabilities,
    CardReaderStatus,
    CardStacker,
    ChipPowerAction,
    DataStatus,
    InsertCard,
    MediaInserted,
    MoveTarget,
    ReadResult,
    ReplenishmentStatus,
    ResetAction,
    RetainBin,
    Track,
)
from hal.errors import HardwareError, UnsupportedOperation
from hal.events import EventHub, Subscription


@dataclass(frozen=True)
class FakeOptions:
    """Options of the fake driver.

    Attributes:
        profile: the card it reads.
        fail_open: `open()` raises `HardwareError`.
        retain_capacity: cards its retain bin holds.
        ledger: a ledger path (only recorded).
    """

    profile: str = "visa"
    fail_open: bool = False
    retain_capacity: int = 0
    ledger: Path | None = None


class FakeCardReader(CardReader):
    """A `CardReader` that answers at once and records what it was asked."""

    def __init__(self, address: DeviceAddress, options: FakeOptions) -> None:
        self.address = address
        self.options = options
        self.calls: list[str] = []
        self.is_open = False
        self._hub = EventHub(address.authority or "card_reader")

    @property
    def name(self) -> str:
        return self._hub.device

    async def open(self) -> None:
        self.calls.append("open")
        if self.options.fail_open:
            raise HardwareError(f"{self.name}: the fake was told to fail")
        self.is_open = True

    async def close(self) -> None:
        self.calls.append("close")
        self.is_open = False
        self._hub.close()

    async def status(self) -> CardReaderStatus:
        return CardReaderStatus()

    async def capabilities(self) -> CardReaderCapabilities:
        return CardReaderCapabilities(retain_capacity=self.options.retain_capacity)

    def events(self, maxsize: int = 256, kinds: Any = None) -> Subscription:
        return self._hub.subscribe(maxsize, kinds)

    async def read_raw_data(self, tracks: Any, *, timeout: float | None = None) -> ReadResult:
        self.calls.append("read_raw_data")
        self._hub.publish(InsertCard())
        await asyncio.sleep(0)
        self._hub.publish(MediaInserted())
        data = self.options.profile.encode()
        return ReadResult({Track(t): CardData(DataStatus.OK, data) for t in tracks})

    async def write_raw_data(self, data: Any, *, timeout: float | None = None) -> None:
        self.calls.append("write_raw_data")

    async def move(
        self, to: MoveTarget, *, from_unit: str | None = None, timeout: float | None = None
    ) -> None:
        self.calls.append(f"move {MoveTarget(to).value}")

    async def chip_power(self, action: ChipPowerAction, *, timeout: float | None = None) -> bytes:
        self.calls.append(f"chip_power {ChipPowerAction(action).value}")
        return b"" if action == ChipPowerAction.OFF else b"\x3b\x02\x14\x50"

    async def chip_io(self, apdu: bytes, *, timeout: float | None = None) -> bytes:
        self.calls.append("chip_io")
        return b"\x90\x00"

    async def reset(
        self, to: ResetAction = ResetAction.AUTO, *, timeout: float | None = None
    ) -> None:
        self.calls.append(f"reset {ResetAction(to).value}")

    async def retain_bin(self) -> RetainBin:
        cap = self.options.retain_capacity
        return RetainBin(0, cap, 0, 0, ReplenishmentStatus.OK)

    async def empty_retain_bin(self, *, reason: str = "") -> None:
        self.calls.append("empty_retain_bin")

    async def stacker(self) -> CardStacker:
        raise UnsupportedOperation("the fake reader issues no cards")

    async def load_stacker(self, count: int, *, reason: str = "") -> None:
        raise UnsupportedOperation("the fake reader issues no cards")


FAKE_DRIVER = registry.DriverSpec(
    name="fake",
    device_classes=frozenset({"card_reader"}),
    options=FakeOptions,
    factory=FakeCardReader,
    description="A card reader that answers at once (tests only).",
)
