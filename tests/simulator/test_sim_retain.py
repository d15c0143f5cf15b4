"""Captures: moves to the retain bin, a full bin, a card left at the exit, the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hal.devices.card_reader import (
    CardAction,
    CardReaderStatus,
    MediaStatus,
    MoveTarget,
    ReplenishmentStatus,
    Track,
)
from hal.devices.card_reader_service import CardReaderService
from hal.errors import RetainBinFull, SequenceError
from hal.events import StatusChanged
from hal.ledger import Outcome
from simulator.control import CardReaderControl
from simulator.models.card_reader import CardReaderModel
from simulator.world import CardReaderSetup, World

InsertAndRead = Callable[..., Awaitable[Any]]


async def test_move_to_retain_is_counted_in_the_bin_and_the_ledger(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    await insert_and_read(reader, tracks=[Track.TRACK2])
    await reader.move(MoveTarget.RETAIN)
    assert await control.card_position() == "retained"
    assert await control.retained_count() == 1
    assert (await reader.status()).media is MediaStatus.NOT_PRESENT
    bin_ = await reader.retain_bin()
    assert (bin_.count, bin_.pending, bin_.unknown, bin_.capacity) == (1, 0, 0, 50)


async def test_a_full_bin_refuses_the_next_card(
    insert_and_read: InsertAndRead, world: World
) -> None:
    world.card_reader(setup=CardReaderSetup(retain_capacity=1))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        with reader.events(kinds=[StatusChanged]) as sub:
            await reader.move(MoveTarget.RETAIN)
            await reader.status()
            bins = [
                e.new.retain_bin
                for e in sub.drain()
                if isinstance(e, StatusChanged) and isinstance(e.new, CardReaderStatus)
            ]
        # The fill state goes to full once, and never flips back and forth.
        assert bins[-1] is ReplenishmentStatus.FULL
        assert bins.count(ReplenishmentStatus.FULL) == 1
        assert (await reader.status()).retain_bin is ReplenishmentStatus.FULL
        await insert_and_read(reader, tracks=[Track.TRACK2])
        with pytest.raises(RetainBinFull) as caught:
            await reader.move(MoveTarget.RETAIN)
        assert caught.value.error_code == "retainBinFull"
        assert await control.card_position() == "inside"
        # The books say empty but the bin is physically full: the reader refuses too.
        await reader.empty_retain_bin(reason="test: books emptied, bin not")
        with pytest.raises(RetainBinFull):
            await reader.move(MoveTarget.RETAIN)
        assert await control.card_position() == "inside"
        assert await control.retained_count() == 1
        assert await control.empty_retain_bin() == 1
        await reader.move(MoveTarget.RETAIN)
        assert await control.retained_count() == 1


async def test_a_card_never_taken_is_captured_and_counted(
    insert_and_read: InsertAndRead, world: World, ledger_path: Path
) -> None:
    control = world.card_reader_control()
    ledger = ledger_path
    async with world.open_card_reader(ledger=str(ledger)) as reader:
        await insert_and_read(reader, "never_taken", [Track.TRACK2])
        with reader.events(kinds=[CardAction]) as sub:
            await reader.move(MoveTarget.EXIT)
            with pytest.raises(SequenceError, match="never takes"):
                await control.take_card(timeout=1)
            action = await sub.wait_for(CardAction, timeout=5)
        assert (action.source, action.to, action.command_id) == ("exit", "retain", None)
        assert await control.card_position() == "retained"
        assert await control.retained_count() == 1
        assert (await reader.retain_bin()).count == 1
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT
    # The capture is in the ledger file, so it survives the service.
    async with world.open_card_reader(ledger=str(ledger)) as again:
        assert (await again.retain_bin()).count == 1


async def test_the_take_timeout_is_simulated_time(
    insert_and_read: InsertAndRead, world: World
) -> None:
    async with world.open_card_reader() as reader:
        await insert_and_read(reader, "never_taken", [Track.TRACK2])
        with reader.events(kinds=[CardAction]) as sub:
            start = world.clock.now()
            await reader.move(MoveTarget.EXIT)
            await sub.wait_for(CardAction, timeout=5)
            waited = world.clock.now() - start
    assert 29.0 <= waited < 60.0  # 30 s of simulated time, whatever the scale


async def test_without_a_retain_bin_a_forgotten_card_stays_at_the_exit(
    insert_and_read: InsertAndRead, world: World
) -> None:
    world.card_reader(setup=CardReaderSetup(retain_capacity=0, take_timeout=1.0))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        assert (await reader.capabilities()).retain_capacity == 0
        await insert_and_read(reader, "never_taken", [Track.TRACK2])
        await reader.move(MoveTarget.EXIT)
        await world.clock.sleep(3.0)
        assert await control.card_position() == "exit"
        assert (await reader.status()).media is MediaStatus.ENTERING


async def test_a_card_taken_in_time_is_not_captured(
    insert_and_read: InsertAndRead, world: World
) -> None:
    world.card_reader(setup=CardReaderSetup(take_timeout=2.0))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        await insert_and_read(reader, "visa", [Track.TRACK2])
        await reader.move(MoveTarget.EXIT)
        await control.take_card(timeout=1)
        await world.clock.sleep(4.0)
        assert await control.card_position() == "customer"
        assert await control.retained_count() == 0


async def test_the_retain_bin_state_always_comes_from_the_ledger(
    insert_and_read: InsertAndRead, world: World
) -> None:
    world.card_reader(setup=CardReaderSetup(retain_capacity=1))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await reader.move(MoveTarget.RETAIN)
        await reader.empty_retain_bin(reason="books emptied; the bin itself was not")
        assert (await reader.status()).retain_bin is ReplenishmentStatus.OK
        with reader.events(kinds=[StatusChanged]) as sub:
            await control.insert_card("visa")  # the model reports a status change
            changes = [e for e in sub.drain() if isinstance(e, StatusChanged)]
        assert changes
        assert all("retain_bin" not in e.changed for e in changes), [e.changed for e in changes]


async def test_cancelling_a_capture_midway_still_settles_it_in_the_ledger(
    insert_and_read: InsertAndRead, world: World
) -> None:
    # A capture cannot stop halfway: the card reaches the bin, and cancelling the
    # command must not leave its movement pending (the count would be lost).
    world.card_reader(setup=CardReaderSetup(motion_time=20.0))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        task = asyncio.create_task(reader.move(MoveTarget.RETAIN))
        # The model starts moving (and wakes its waiters) once the capture is journalled.
        async with asyncio.timeout(5):
            await control.model.wait_until(lambda: bool(reader.ledger.pending(reader.name)))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await control.card_position() == "retained"
        bin_ = await reader.retain_bin()
        assert (bin_.count, bin_.pending, bin_.unknown) == (1, 0, 0)


class _PortVanishes(CardReaderModel):
    """A driver whose capture fails with an error that is not a `HalError`."""

    async def move_card(self, to: MoveTarget) -> None:
        raise OSError("the serial port vanished")


async def test_a_capture_failing_with_any_error_is_settled_not_left_pending(
    insert_and_read: InsertAndRead, world: World
) -> None:
    model = _PortVanishes(name="card_reader", clock=world.clock)
    async with CardReaderService(model) as reader:
        task = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
        control = CardReaderControl(model)
        await control.wait_for("gate_open", timeout=5)
        await control.insert_card("visa")
        await task
        with pytest.raises(OSError, match="vanished"):
            await reader.move(MoveTarget.RETAIN)
        assert reader.ledger.pending(reader.name) == []
        (record,) = reader.ledger.history(reader.name)
        assert record.settlement is not None
        assert record.settlement.outcome is Outcome.FAILED  # the card is still inside
        assert (await reader.retain_bin()).count == 0


async def test_captures_leave_the_ledger_without_violations(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    for _ in range(3):
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await reader.move(MoveTarget.RETAIN)
    await insert_and_read(reader, tracks=[Track.TRACK2])
    await reader.move(MoveTarget.EXIT)
    await control.take_card(timeout=1)
    assert reader.ledger.check_invariants(reader.name) == []
    assert reader.ledger.counts(reader.name) == {"retain": 3, "stacker": 0}


async def test_auto_reset_with_a_full_bin_ejects_instead(
    insert_and_read: InsertAndRead, world: World
) -> None:
    world.card_reader(setup=CardReaderSetup(retain_capacity=1))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await reader.move(MoveTarget.RETAIN)
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await reader.reset()  # auto, and the bin is full: the card must come out
        assert await control.card_position() == "exit"
        assert (await reader.retain_bin()).count == 1
        assert not reader.ledger.pending(reader.name)
        await control.take_card(timeout=1)


async def test_a_device_capture_is_still_reported_when_the_ledger_fails(
    insert_and_read: InsertAndRead, world: World, tmp_path: Path
) -> None:
    from hal.ledger import Ledger

    ledger = Ledger.open(tmp_path / "ledger.sqlite")
    async with world.open_card_reader(ledger=ledger) as reader:
        await insert_and_read(reader, tracks=[Track.TRACK2], profile="never_taken")
        with reader.events(kinds=[CardAction]) as sub:
            await reader.move(MoveTarget.EXIT)
            ledger.close()  # the disk goes away while the card waits at the exit
            action = await sub.wait_for(CardAction, timeout=5)
        assert action.to == "retain"
        assert await world.card_reader_control().card_position() == "retained"
