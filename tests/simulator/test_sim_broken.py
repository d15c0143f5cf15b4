"""Each broken variant misbehaves exactly as named, so the contract suite can catch it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from hal.devices.card_reader import (
    DISPENSE_UNIT,
    InsertCard,
    MediaInserted,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    Track,
)
from hal.devices.card_reader_service import CardReaderService
from hal.events import StatusChanged
from simulator.broken import BROKEN_VARIANTS
from simulator.control import CardReaderControl
from simulator.world import CardReaderSetup, World
from tellerhal.conformance.card_reader import CARD_READER_CASES, CardReaderHarness
from tellerhal.conformance.framework import Harness, Verdict, run_case

InsertAndRead = Callable[..., Awaitable[Any]]


def broken(world: World, variant: str) -> tuple[CardReaderService, CardReaderControl]:
    world.card_reader(setup=CardReaderSetup(variant=variant))
    return world.open_card_reader(), world.card_reader_control()


async def test_forgets_media_removed(world: World, insert_and_read: InsertAndRead) -> None:
    service, control = broken(world, "forgets_media_removed")
    async with service as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        with reader.events() as sub:
            await reader.move(MoveTarget.EXIT)
            await control.take_card(timeout=1)
            assert not [e for e in sub.drain() if isinstance(e, MediaRemoved)]
        assert await control.card_position() == "customer"


async def test_loses_card_on_cancel(world: World) -> None:
    service, control = broken(world, "loses_card_on_cancel")
    async with service as reader:
        task = asyncio.create_task(reader.read_raw_data([Track.TRACK2]))
        await control.wait_for("gate_open", timeout=1)
        await control.insert_card("visa")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await control.card_position() == "none"  # the customer did insert it
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT


async def test_no_jam_error(world: World, insert_and_read: InsertAndRead) -> None:
    service, control = broken(world, "no_jam_error")
    async with service as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await control.jam()
        await reader.move(MoveTarget.EXIT)  # no MediaJam...
        assert await control.card_position() == "jammed"  # ...though it jammed


async def test_reads_wrong_track(world: World, insert_and_read: InsertAndRead) -> None:
    service, _ = broken(world, "reads_wrong_track")
    async with service as reader:
        result, sample = await insert_and_read(reader, tracks=[Track.TRACK1, Track.TRACK2])
        assert result[Track.TRACK2].data == sample.track1
        assert result[Track.TRACK2].data != sample.track2


async def test_retain_not_persisted(world: World, insert_and_read: InsertAndRead) -> None:
    service, control = broken(world, "retain_not_persisted")
    async with service as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await reader.move(MoveTarget.RETAIN)  # reported done...
        assert (await reader.retain_bin()).count == 1
        assert await control.retained_count() == 0  # ...but the bin is empty
        assert await control.card_position() == "exit"
        await control.take_card(timeout=1)


async def test_double_counts_retain(world: World, insert_and_read: InsertAndRead) -> None:
    service, control = broken(world, "double_counts_retain")
    async with service as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await reader.move(MoveTarget.RETAIN)
        assert await control.retained_count() == 1
        assert (await reader.retain_bin()).count == 2


async def test_events_out_of_order(world: World, insert_and_read: InsertAndRead) -> None:
    service, _ = broken(world, "events_out_of_order")
    async with service as reader:
        with reader.events() as sub:
            await insert_and_read(reader, tracks=[Track.TRACK2])
            kinds = [type(e) for e in sub.drain() if not isinstance(e, StatusChanged)]
    assert kinds == [MediaInserted, InsertCard]


async def test_double_pick(world: World) -> None:
    service, control = broken(world, "double_pick")
    async with service as reader:
        await reader.load_stacker(await control.stacker_count())
        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        assert (await reader.stacker()).count == 99  # the books: one card issued...
        assert await control.stacker_count() == 98  # ...but two left the stacker


async def test_issue_ignores_exit(world: World) -> None:
    service, control = broken(world, "issue_ignores_exit")
    async with service as reader:
        await reader.load_stacker(100)
        await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT)
        assert await control.card_position() == "inside"  # not at the exit


def test_every_variant_has_a_test_here() -> None:
    tested = {
        name.removeprefix("test_")
        for name in globals()
        if name.startswith("test_") and name.removeprefix("test_") in BROKEN_VARIANTS
    }
    assert tested == set(BROKEN_VARIANTS)


# --- the contract suite against the faithful model and each variant -----------------------


@asynccontextmanager
async def harness(tmp_path: Path, variant: str) -> AsyncIterator[CardReaderHarness]:
    world = World(f"conformance-{variant}", clock_scale=0.005)
    world.card_reader(setup=CardReaderSetup(variant=variant))
    ledger = tmp_path / f"{variant or 'faithful'}.sqlite"
    yield Harness(
        open=lambda: world.open_card_reader(ledger=str(ledger)),
        stimulus=world.card_reader_control(),
        patience=0.25,
    )


async def verdicts(
    tmp_path: Path, variant: str, *, first_failure: bool = False
) -> dict[str, Verdict]:
    """Each case's verdict (up to the first failure, if ``first_failure``)."""
    out = {}
    for case in CARD_READER_CASES:
        async with harness(tmp_path, variant) as h:
            out[case.id] = (await run_case(case, h)).verdict
        if first_failure and out[case.id] is Verdict.FAILED:
            break
    return out


async def test_the_faithful_model_passes_the_contract(tmp_path: Path) -> None:
    results = await verdicts(tmp_path, "")
    failed = {case: v for case, v in results.items() if v is not Verdict.PASSED}
    assert not failed


@pytest.mark.parametrize("variant", sorted(BROKEN_VARIANTS))
async def test_the_contract_catches_each_variant(tmp_path: Path, variant: str) -> None:
    results = await verdicts(tmp_path, variant, first_failure=True)
    # Failed, not merely skipped: a case that cannot run catches nothing.
    caught = {c for c, v in results.items() if v is Verdict.FAILED}
    assert caught, results
