"""Card issuing: a card from the stacker, counted in the ledger against the physical stacker."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from hal.device import DeviceState
from hal.devices.card_reader import (
    DISPENSE_UNIT,
    CardReaderStatus,
    MediaStatus,
    MoveTarget,
    ReplenishmentStatus,
    StorageError,
    Track,
)
from hal.devices.card_stacker import READER, STACKER, StackerBook
from hal.errors import (
    ConnectionLost,
    DeviceNotReady,
    HalTimeout,
    HardwareError,
    InvalidData,
    MediaJam,
    NoMedia,
    Occupied,
    SequenceError,
    UnsupportedOperation,
)
from hal.ledger import Ledger, Outcome
from simulator.control import CardReaderControl
from simulator.world import CardReaderSetup, World
from tests.simulator.conftest import InsertAndRead


async def test_an_issued_card_leaves_the_stacker_and_is_counted(
    world: World, control: CardReaderControl, ledger_path: Path
) -> None:
    async with world.open_card_reader(ledger=ledger_path) as reader:
        assert "issue" in (await reader.capabilities()).features()
        await reader.load_stacker(await control.stacker_count(), reason="test: loaded")
        before = await reader.stacker()
        assert (before.count, before.initial, before.capacity) == (100, 100, 100)
        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        assert await control.card_position() == "inside"
        assert (await reader.status()).media is MediaStatus.PRESENT
        # The new card is a real card: its chip answers and its stripe reads.
        result = await reader.read_raw_data([Track.TRACK2], timeout=1)
        assert result[Track.TRACK2].status == "ok"
        after = await reader.stacker()
        assert (after.count, after.pending, after.unknown) == (99, 0, 0)
        assert await control.stacker_count() == 99
        await reader.move(MoveTarget.EXIT)
        await control.take_card(timeout=2)
        assert await control.card_position() == "customer"
        assert reader.ledger.check_invariants(reader.name) == []
    # The count survives a restart: it is the ledger's, not the process's.
    async with world.open_card_reader(ledger=ledger_path) as reader:
        assert (await reader.stacker()).count == 99


async def test_issue_straight_to_the_exit(world: World, control: CardReaderControl) -> None:
    async with world.open_card_reader() as reader:
        await reader.load_stacker(100)
        await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT, timeout=2)
        assert await control.card_position() == "exit"
        assert (await reader.status()).media is MediaStatus.ENTERING
        await control.take_card(timeout=2)
        assert (await reader.stacker()).count == 99


async def test_nothing_is_issued_before_the_operator_counts_the_cards(
    world: World, control: CardReaderControl
) -> None:
    async with world.open_card_reader() as reader:
        with reader.events(kinds=[StorageError]) as sub:
            with pytest.raises(NoMedia, match="load_stacker"):
                await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
            events = sub.drain()
        assert [(e.failure, e.unit) for e in events if isinstance(e, StorageError)] == [
            ("empty", "stacker")
        ]
        assert await control.stacker_count() == 100  # the device was never asked
        assert reader.ledger.history(reader.name) == []


async def test_a_card_in_the_reader_blocks_issuing(
    world: World, control: CardReaderControl, insert_and_read: InsertAndRead
) -> None:
    async with world.open_card_reader() as reader:
        await reader.load_stacker(100)
        await insert_and_read(reader, tracks=[Track.TRACK2])
        with pytest.raises(Occupied) as caught:
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        assert caught.value.error_code == "occupied"
        assert await control.stacker_count() == 100
        assert (await reader.stacker()).count == 100
        assert reader.ledger.pending(reader.name) == []


async def test_a_physically_empty_stacker_settles_failed_and_warns(
    world: World, control: CardReaderControl, caplog: pytest.LogCaptureFixture
) -> None:
    async with world.open_card_reader() as reader:
        await reader.load_stacker(5, reason="test: the operator miscounted")
        await control.load_stacker(0)
        assert (await reader.status()).stacker is ReplenishmentStatus.EMPTY
        # The sensor wins over the books.
        assert (await reader.stacker()).status is ReplenishmentStatus.EMPTY
        with (
            caplog.at_level(logging.WARNING),
            reader.events(kinds=[StorageError]) as sub,
            pytest.raises(NoMedia),
        ):
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        assert [e.failure for e in sub.drain() if isinstance(e, StorageError)] == ["empty"]
        assert "stacker empty while the ledger counts 5" in caplog.text
        record = reader.ledger.history(reader.name)[0]
        assert record.settlement is not None
        assert record.settlement.outcome is Outcome.FAILED
        assert (await reader.stacker()).count == 5


async def test_a_jam_on_the_way_out_counts_the_card_as_gone(
    world: World, control: CardReaderControl
) -> None:
    async with world.open_card_reader() as reader:
        await reader.load_stacker(10)
        await control.jam()
        with pytest.raises(MediaJam):
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        assert await control.card_position() == "jammed"
        # The card left the stacker: it is in the reader, jammed, not in the stacker.
        stacker = await reader.stacker()
        assert (stacker.count, stacker.unknown, stacker.pending) == (9, 0, 0)
        assert await control.stacker_count() == 99  # loaded 100, the books said 10


async def test_the_stacker_goes_low_then_empty(world: World) -> None:
    world.card_reader(setup=CardReaderSetup(stacker_capacity=6))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        await reader.load_stacker(6)
        assert (await reader.status()).stacker is ReplenishmentStatus.OK
        states = []
        for _ in range(6):
            await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT, timeout=2)
            await control.take_card(timeout=2)
            states.append((await reader.status()).stacker)
        assert states == [ReplenishmentStatus.LOW] * 5 + [ReplenishmentStatus.EMPTY]
        stacker = await reader.stacker()
        assert (stacker.count, stacker.status) == (0, ReplenishmentStatus.EMPTY)
        with pytest.raises(NoMedia):
            await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"to": MoveTarget.TRANSPORT, "from_unit": "hopper9"}, InvalidData),
        ({"to": MoveTarget.RETAIN, "from_unit": DISPENSE_UNIT}, InvalidData),
    ],
)
async def test_bad_issue_requests_are_refused(
    world: World, control: CardReaderControl, kwargs: dict[str, object], error: type[Exception]
) -> None:
    async with world.open_card_reader() as reader:
        await reader.load_stacker(100)
        with pytest.raises(error):
            await reader.move(**kwargs)  # type: ignore[arg-type]
        assert await control.stacker_count() == 100


async def test_load_stacker_is_checked(world: World) -> None:
    async with world.open_card_reader() as reader:
        for bad in (-1, 101):
            with pytest.raises(InvalidData):
                await reader.load_stacker(bad)
        with pytest.raises(InvalidData):
            await reader.load_stacker(True)


async def test_a_reader_without_a_stacker_issues_nothing(world: World) -> None:
    world.card_reader(setup=CardReaderSetup(stacker_capacity=0))
    async with world.open_card_reader() as reader:
        assert "issue" not in (await reader.capabilities()).features()
        with pytest.raises(UnsupportedOperation):
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        with pytest.raises(UnsupportedOperation):
            await reader.stacker()
        with pytest.raises(UnsupportedOperation):
            await reader.load_stacker(1)


@pytest.mark.parametrize("card_inside", [True, False])
async def test_a_dispense_left_pending_by_a_crash_is_reconciled(
    world: World, control: CardReaderControl, ledger_path: Path, card_inside: bool
) -> None:
    async with world.open_card_reader(ledger=ledger_path) as reader:
        await reader.load_stacker(10)
        if card_inside:
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
    # A crash between the journal entry and its settlement: the entry is pending.
    with Ledger.open(ledger_path) as ledger:
        ledger.journal(
            "card_reader", source=STACKER, destination=READER, item="card", count=1, reason="t"
        )
    async with world.open_card_reader(ledger=ledger_path) as reader:
        assert reader.ledger.pending(reader.name) == []
        settled = reader.ledger.history(reader.name)[0].settlement
        assert settled is not None
        stacker = await reader.stacker()
        if card_inside:
            # A card in the reader came from the stacker.
            assert settled.outcome is Outcome.DONE
            assert (stacker.count, stacker.unknown) == (8, 0)
        else:
            # An empty reader proves nothing: reported apart, never guessed.
            assert settled.outcome is Outcome.UNKNOWN
            assert (stacker.count, stacker.unknown) == (10, 1)


async def test_power_lost_mid_dispense_leaves_the_card_unknown(world: World) -> None:
    world.card_reader(setup=CardReaderSetup(motion_time=2.0))  # 10 ms real
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        await reader.load_stacker(10)
        issue = asyncio.create_task(reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT))
        await control.wait_for("card_inside", timeout=2)  # picked, on its way
        await control.power_loss()
        with pytest.raises(DeviceNotReady):
            await issue
        # Power off: the reader cannot say where the card is; nor can the books.
        stacker = await reader.stacker()
        assert (stacker.count, stacker.unknown, stacker.pending) == (10, 1, 0)
        assert await control.stacker_count() == 99  # it did leave the stacker
        # And nothing is issued until the reader can tell where its media is.
        with pytest.raises(DeviceNotReady):
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        await control.power_loss(on=False)


ONLINE_EMPTY = CardReaderStatus(media=MediaStatus.NOT_PRESENT)


@pytest.mark.parametrize(
    ("error", "after", "outcome"),
    [
        (NoMedia("empty"), ONLINE_EMPTY, Outcome.FAILED),
        (Occupied("in the way"), ONLINE_EMPTY, Outcome.FAILED),
        # A customer pushed a card in as the pick was refused: it is not ours.
        (Occupied("in the way"), CardReaderStatus(media=MediaStatus.ENTERING), Outcome.FAILED),
        # The picked card was pulled out by hand (a CRT-591 '45'): nobody can tell.
        (SequenceError("moved by hand"), ONLINE_EMPTY, Outcome.UNKNOWN),
        (MediaJam("jam"), CardReaderStatus(media=MediaStatus.JAMMED), Outcome.DONE),
        (MediaJam("jam"), ONLINE_EMPTY, Outcome.UNKNOWN),
        (HalTimeout("no reply"), ONLINE_EMPTY, Outcome.UNKNOWN),
        (ConnectionLost("unplugged"), None, Outcome.UNKNOWN),
        (
            NoMedia("empty"),
            CardReaderStatus(device=DeviceState.NO_DEVICE, media=MediaStatus.UNKNOWN),
            Outcome.UNKNOWN,
        ),
        (HardwareError("motor"), CardReaderStatus(media=MediaStatus.ENTERING), Outcome.DONE),
    ],
    ids=[
        "empty",
        "occupied",
        "occupied-by-a-customer-card",
        "pulled",
        "jam-inside",
        "jam-gone",
        "timeout",
        "lost",
        "offline",
        "exit",
    ],
)
def test_a_failed_dispense_is_settled_from_what_can_be_known(
    error: Exception, after: CardReaderStatus | None, outcome: Outcome
) -> None:
    with Ledger.open(":memory:") as ledger:
        ledger.define_location("r", READER, kind="customer", item="card")
        book = StackerBook(ledger, "r", 10)
        book.load(10, "test")
        movement = book.journal(1, "transport")
        book.settle_after_failure(movement.id, error, after)
        (record,) = ledger.history("r")
        assert record.settlement is not None
        assert record.settlement.outcome is outcome
        expected = 9 if outcome is Outcome.DONE else 10
        assert ledger.counts("r")[STACKER] == expected
