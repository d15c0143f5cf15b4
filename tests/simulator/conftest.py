"""Fixtures for the simulator tests: a fast world, its reader, its control API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from hal.devices.card_reader import ReadResult, Track
from hal.devices.card_reader_service import CardReaderService
from hal.stimulus import CardSample
from simulator.control import CardReaderControl
from simulator.world import World, reset_worlds

#: Real seconds per simulated second: a 30 s take timeout lasts 150 ms, a move 1.5 ms.
SCALE = 0.005


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """Where a test's ledger file goes."""
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def world() -> World:
    return World("test", seed=1, clock_scale=SCALE)


@pytest.fixture
def control(world: World) -> CardReaderControl:
    return world.card_reader_control()


@pytest.fixture
async def reader(world: World) -> AsyncIterator[CardReaderService]:
    async with world.open_card_reader() as service:
        yield service


InsertAndRead = Callable[..., Awaitable[tuple[ReadResult, CardSample]]]

MAG = (Track.TRACK1, Track.TRACK2, Track.TRACK3)


@pytest.fixture
def insert_and_read(world: World) -> InsertAndRead:
    """``await insert_and_read(reader, profile="visa", tracks=MAG)``: the customer
    inserts a card once the read asks for one; the read's result and the card's sample.
    """

    async def run(
        reader: CardReaderService, profile: str = "visa", tracks: Sequence[Track] = MAG
    ) -> tuple[ReadResult, CardSample]:
        control = world.card_reader_control(reader.name)
        task = asyncio.create_task(reader.read_raw_data(tracks, timeout=5))
        try:
            await control.wait_for("gate_open", timeout=5)
            sample = await control.insert_card(profile)
            return await task, sample
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return run
