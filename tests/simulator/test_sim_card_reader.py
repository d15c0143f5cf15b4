"""The card reader model driven through the real `CardReaderService` (no mocks)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from hal.devices.card_reader import (
    CardReaderStatus,
    ChipPower,
    ChipPowerAction,
    DataStatus,
    InsertCard,
    InvalidMediaEvent,
    MediaDetected,
    MediaInserted,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    ReaderType,
    ResetAction,
    Track,
)
from hal.devices.card_reader_service import CardReaderService
from hal.errors import (
    AtrNotObtained,
    DeviceNotReady,
    HalTimeout,
    InvalidData,
    InvalidMedia,
    MediaJam,
    NoMedia,
    SequenceError,
)
from hal.events import Event, StatusChanged
from hal.ledger import Ledger, Outcome
from simulator.clock import SimClock
from simulator.control import CardReaderControl
from simulator.models.card_reader import CardReaderModel
from simulator.world import World

InsertAndRead = Callable[..., Awaitable[Any]]

MAG = (Track.TRACK1, Track.TRACK2, Track.TRACK3)


def kinds(events: Sequence[Event]) -> list[type[Event]]:
    return [type(e) for e in events if not isinstance(e, StatusChanged)]


async def test_insert_read_eject_take(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    with reader.events() as sub:
        result, sample = await insert_and_read(reader)
        assert result[Track.TRACK1].data == sample.track1
        assert result[Track.TRACK2].data == sample.track2
        assert result[Track.TRACK3].data == sample.track3
        assert all(result[t].status is DataStatus.OK for t in MAG)
        assert (await reader.status()).media is MediaStatus.PRESENT
        assert await control.card_position() == "inside"

        await reader.move(MoveTarget.EXIT)
        assert (await reader.status()).media is MediaStatus.ENTERING
        assert await control.card_position() == "exit"
        await control.take_card(timeout=1)
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT
        assert await control.card_position() == "customer"
        events = sub.drain()
    assert kinds(events) == [InsertCard, MediaInserted, MediaRemoved]
    insert, inserted, removed = (e for e in events if not isinstance(e, StatusChanged))
    assert insert.command_id is not None
    assert inserted.command_id == insert.command_id
    assert removed.command_id is None
    assert all(e.device == "card_reader" for e in events)


async def test_status_changes_name_the_fields_that_changed(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    with reader.events(kinds=[StatusChanged]) as sub:
        await insert_and_read(reader, tracks=[Track.TRACK2])
        await reader.move(MoveTarget.EXIT)
        await control.take_card(timeout=1)
        changes = [e for e in sub.drain() if isinstance(e, StatusChanged)]
    media = [(e.old.media, e.new.media) for e in changes if "media" in e.changed]
    assert media == [
        (MediaStatus.NOT_PRESENT, MediaStatus.PRESENT),
        (MediaStatus.PRESENT, MediaStatus.ENTERING),
        (MediaStatus.ENTERING, MediaStatus.NOT_PRESENT),
    ]
    for change in changes:
        old, new = change.old, change.new
        assert isinstance(old, CardReaderStatus)
        assert isinstance(new, CardReaderStatus)
        differ = {
            f.name for f in dataclasses.fields(old) if getattr(old, f.name) != getattr(new, f.name)
        }
        assert change.changed == differ
        assert change.command_id is None


async def test_timeout_without_a_card_closes_the_gate(
    reader: CardReaderService, control: CardReaderControl
) -> None:
    with pytest.raises(HalTimeout) as caught:
        await reader.read_raw_data([Track.TRACK2], timeout=0.05)
    assert caught.value.completion == "timeOut"
    assert not control.model.gate_open
    assert (await reader.status()).media is MediaStatus.NOT_PRESENT
    # A card pushed in now meets the shut gate and waits in the slot...
    await control.insert_card("visa")
    assert await control.card_position() == "exit"
    assert (await reader.status()).media is MediaStatus.ENTERING
    # ...until the next read draws it in.
    with reader.events() as sub:
        result = await reader.read_raw_data([Track.TRACK2], timeout=1)
        assert kinds(sub.drain()) == [InsertCard, MediaInserted]
    assert result[Track.TRACK2].status is DataStatus.OK
    assert await control.card_position() == "inside"


async def test_cancel_mid_wait_then_insert_loses_nothing(
    reader: CardReaderService, control: CardReaderControl
) -> None:
    task = asyncio.create_task(reader.read_raw_data([Track.TRACK2]))
    await control.wait_for("gate_open", timeout=1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not control.model.gate_open
    await control.insert_card("visa")
    assert await control.card_position() in ("inside", "exit")
    result = await reader.read_raw_data([Track.TRACK2], timeout=1)
    assert result[Track.TRACK2].status is DataStatus.OK
    assert await control.card_position() == "inside"


async def test_a_card_arriving_as_the_read_is_cancelled_stays_inside(
    reader: CardReaderService, control: CardReaderControl
) -> None:
    with reader.events() as sub:
        task = asyncio.create_task(reader.read_raw_data([Track.TRACK2]))
        await control.wait_for("gate_open", timeout=1)
        await control.insert_card("visa")  # goes in through the open gate...
        task.cancel()  # ...as the app gives up, before the read resumes
        with pytest.raises(asyncio.CancelledError):
            await task
        assert kinds(sub.drain()) == [InsertCard, MediaInserted]
    assert await control.card_position() == "inside"
    assert (await reader.status()).media is MediaStatus.PRESENT
    assert not control.model.gate_open


async def test_a_jam_on_the_way_out(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    await insert_and_read(reader, tracks=[Track.TRACK2])
    await control.jam()
    with pytest.raises(MediaJam) as caught:
        await reader.move(MoveTarget.EXIT)
    assert caught.value.error_code == "mediaJam"
    assert (await reader.status()).media is MediaStatus.JAMMED
    assert await control.card_position() == "jammed"
    with pytest.raises(MediaJam):
        await reader.read_raw_data([Track.TRACK2], timeout=1)
    with pytest.raises(MediaJam):
        await reader.reset()
    await control.clear_jam()
    assert (await reader.status()).media is MediaStatus.PRESENT
    await reader.reset()  # auto: ejects
    assert await control.card_position() == "exit"
    await control.take_card(timeout=1)
    assert await control.card_position() == "customer"


async def test_a_jamming_card_jams_on_the_way_in(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    with reader.events() as sub:
        with pytest.raises(MediaJam):
            await insert_and_read(reader, "jamming")
        assert kinds(sub.drain()) == [InsertCard, MediaInserted]
    status = await reader.status()
    assert status.media is MediaStatus.JAMMED
    assert status.chip_power is ChipPower.POWERED_OFF
    assert await control.card_position() == "jammed"


async def test_an_unreadable_card_is_refused_and_returned(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    with reader.events() as sub:
        with pytest.raises(InvalidMedia) as caught:
            await insert_and_read(reader, "unreadable")
        assert kinds(sub.drain()) == [InsertCard, InvalidMediaEvent]
    assert caught.value.error_code == "invalidMedia"
    assert await control.card_position() == "exit"
    assert (await reader.status()).media is MediaStatus.ENTERING
    await control.take_card(timeout=1)
    assert await control.card_position() == "customer"


async def test_blank_and_garbled_tracks_read_as_missing_and_invalid(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    result, _ = await insert_and_read(reader, "mag_only", (*MAG, Track.CHIP))
    assert result[Track.TRACK1].status is DataStatus.OK
    assert result[Track.TRACK3].status is DataStatus.MISSING
    assert result[Track.TRACK3].data == b""
    assert result[Track.CHIP].status is DataStatus.MISSING
    await reader.write_raw_data({Track.TRACK3: b"0123456789"})
    again = await reader.read_raw_data([Track.TRACK3])
    assert again[Track.TRACK3].data == b"0123456789"
    control.model._card.invalid.add(Track.TRACK1)  # type: ignore[union-attr]
    garbled = await reader.read_raw_data([Track.TRACK1])
    assert garbled[Track.TRACK1].status is DataStatus.INVALID


@pytest.mark.parametrize(
    ("track", "chars", "problem"),
    [
        # What fits between the sentinels: 76 / 37 / 104 characters (ISO/IEC 7811).
        (Track.TRACK1, b"B" * 77, "content is 77 characters, at most 76"),
        (Track.TRACK2, b"1" * 38, "content is 38 characters, at most 37"),
        (Track.TRACK3, b"1" * 105, "content is 105 characters, at most 104"),
        (Track.TRACK2, b"4761739001010010?2812", "sentinel 0x3F inside the data at position 16"),
        (Track.TRACK1, b"%B4761739001010010^", "sentinel 0x25 inside the data at position 0"),
        (Track.TRACK2, b"476173900101001A", "character 0x41 at position 15"),
        (Track.TRACK2, "4761739001010010=é".encode(), "character 0xC3 at position 17"),
    ],
)
async def test_write_refuses_what_the_track_cannot_hold(
    insert_and_read: InsertAndRead,
    reader: CardReaderService,
    track: Track,
    chars: bytes,
    problem: str,
) -> None:
    await insert_and_read(reader, "mag_only", [Track.TRACK2])
    with pytest.raises(InvalidData, match=problem) as caught:
        await reader.write_raw_data({track: chars})
    assert "4761739001010010" not in str(caught.value)


async def test_reading_the_chip_gives_its_atr(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    result, sample = await insert_and_read(reader, "visa", [Track.CHIP])
    assert sample.has_chip
    atr = result[Track.CHIP].data
    assert result[Track.CHIP].status is DataStatus.OK
    assert atr[0] == 0x3B
    assert control.model.chip_protocol == "T1"
    assert (await reader.status()).chip_power is ChipPower.ONLINE


async def test_chip_power_errors(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    with pytest.raises(NoMedia):
        await reader.chip_power(ChipPowerAction.COLD)
    await insert_and_read(reader, "mag_only", [Track.TRACK2])
    with pytest.raises(AtrNotObtained):
        await reader.chip_power(ChipPowerAction.COLD)
    with pytest.raises(AtrNotObtained):
        await reader.chip_io(bytes.fromhex("00A4040000"))
    assert await reader.chip_power(ChipPowerAction.OFF) == b""
    assert (await reader.status()).chip_power is ChipPower.POWERED_OFF


async def test_chip_power_on_and_off(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    await insert_and_read(reader, "visa", [Track.TRACK2])
    atr = await reader.chip_power(ChipPowerAction.COLD)
    assert atr == await reader.chip_power(ChipPowerAction.WARM)
    assert (await reader.status()).chip_power is ChipPower.ONLINE
    assert await reader.chip_power(ChipPowerAction.OFF) == b""
    assert (await reader.status()).chip_power is ChipPower.POWERED_OFF
    with pytest.raises(AtrNotObtained):
        await reader.chip_io(bytes.fromhex("00A4040000"))
    await reader.chip_power(ChipPowerAction.COLD)
    await reader.move(MoveTarget.EXIT)  # moving the card breaks the contacts
    assert control.model.chip_protocol is None


async def test_move_needs_a_card(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    with pytest.raises(NoMedia):
        await reader.move(MoveTarget.EXIT)
    await insert_and_read(reader, tracks=[Track.TRACK2])
    await reader.move(MoveTarget.TRANSPORT)
    assert await control.card_position() == "inside"
    await reader.move(MoveTarget.EXIT)
    await reader.move(MoveTarget.EXIT)  # already there: nothing to do
    assert await control.card_position() == "exit"
    with pytest.raises(SequenceError, match="already"):
        await control.insert_card("visa")
    await control.take_card(timeout=1)


async def test_capabilities(reader: CardReaderService) -> None:
    caps = await reader.capabilities()
    assert caps.type is ReaderType.MOTOR
    assert caps.read_tracks == {*MAG, Track.CHIP}
    assert caps.write_tracks == set(MAG)
    assert caps.chip_protocols == {"T0", "T1"}
    assert caps.retain_capacity == 50
    assert caps.card_taken_sensor


async def test_power_loss_and_return(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    await insert_and_read(reader, tracks=[Track.TRACK2])
    with reader.events() as sub:
        await control.power_loss(True)
        status = await reader.status()
        assert status.device == "powerOff"
        assert status.media is MediaStatus.UNKNOWN
        assert status.chip_power is ChipPower.UNKNOWN
        with pytest.raises(DeviceNotReady):
            await reader.move(MoveTarget.EXIT)
        with pytest.raises(DeviceNotReady):
            await reader.read_raw_data([Track.TRACK2])
        assert await control.card_position() == "inside"
        await control.power_loss(False)
        events = sub.drain()
    detected = [e for e in events if isinstance(e, MediaDetected)]
    assert [(e.position, e.command_id) for e in detected] == [("transport", None)]
    changes = [e for e in events if isinstance(e, StatusChanged)]
    assert [e.new.device for e in changes] == ["powerOff", "online"]
    assert (await reader.status()).media is MediaStatus.PRESENT


async def test_power_loss_while_waiting_for_a_card(
    reader: CardReaderService, control: CardReaderControl
) -> None:
    task = asyncio.create_task(reader.read_raw_data([Track.TRACK2]))
    await control.wait_for("gate_open", timeout=1)
    await control.power_loss(True)
    with pytest.raises(DeviceNotReady):
        await task
    assert not control.model.gate_open
    await control.power_loss(False)


async def test_slow_replies(
    world: World, reader: CardReaderService, control: CardReaderControl
) -> None:
    await control.slow_replies(20.0)  # simulated seconds: 100 ms at the test scale
    start = time.monotonic()
    await reader.status()
    assert time.monotonic() - start >= world.clock.to_real(20.0) * 0.9
    with pytest.raises(HalTimeout):
        await reader.read_raw_data([Track.TRACK2], timeout=world.clock.to_real(10.0))
    await control.slow_replies(0)
    start = time.monotonic()
    await reader.status()
    assert time.monotonic() - start < world.clock.to_real(20.0) / 2


async def test_reset_moves_a_card_inside_as_asked(
    insert_and_read: InsertAndRead, reader: CardReaderService, control: CardReaderControl
) -> None:
    await insert_and_read(reader, tracks=[Track.TRACK2])
    with reader.events(kinds=[MediaDetected]) as sub:
        await reader.reset(ResetAction.CURRENT_POSITION)
        assert [e.position for e in sub.drain() if isinstance(e, MediaDetected)] == ["transport"]
    assert await control.card_position() == "inside"
    await reader.reset(ResetAction.RETAIN)
    assert await control.card_position() == "retained"
    assert await control.retained_count() == 1
    assert (await reader.retain_bin()).count == 1
    await reader.reset()  # no card: nothing moves
    await insert_and_read(reader, tracks=[Track.TRACK2])
    await reader.reset(ResetAction.AUTO)
    assert await control.card_position() == "exit"
    assert (await reader.retain_bin()).count == 1
    await reader.reset(ResetAction.RETAIN)  # a card at the exit stays for its customer
    assert await control.card_position() == "exit"
    await control.take_card(timeout=1)


async def test_a_card_inside_is_detected_when_the_reader_opens(
    insert_and_read: InsertAndRead, world: World, control: CardReaderControl
) -> None:
    async with world.open_card_reader() as first:
        await insert_and_read(first, tracks=[Track.TRACK2])
    async with world.open_card_reader() as second:
        with second.events(kinds=[MediaDetected]) as sub:
            # The event was published during open, before this subscription existed;
            # reset reports it again.
            await second.reset(ResetAction.CURRENT_POSITION)
            assert [e.position for e in sub.drain() if isinstance(e, MediaDetected)] == [
                "transport"
            ]
        assert (await second.status()).media is MediaStatus.PRESENT


async def test_one_service_at_a_time(world: World) -> None:
    async with world.open_card_reader() as first:
        second = world.open_card_reader()
        with pytest.raises(DeviceNotReady, match="already open"):
            await second.open()
        assert (await first.status()).device == "online"
    async with world.open_card_reader() as third:
        assert (await third.status()).device == "online"


async def test_a_failed_open_leaves_neither_the_reader_nor_the_ledger_held(
    world: World, tmp_path: Path
) -> None:
    # A ledger whose reader location is something else than the service expects: the
    # open fails after the backend is connected, and must let go of both.
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.define_location("card_reader", "reader", kind="retain", item="card")
    service = world.open_card_reader(ledger=str(path))
    with pytest.raises(InvalidData, match="card_reader/reader"):
        await service.open()
    assert not service.is_open
    assert not world.card_reader().is_open  # the model was closed again
    with Ledger.open(path):  # the owner lock was released
        pass
    async with world.open_card_reader() as again:  # another service may open it
        assert (await again.status()).media is MediaStatus.NOT_PRESENT


async def test_chip_io_takes_apdus_of_4_to_65544_bytes(reader: CardReaderService) -> None:
    # The longest is case 4E: header, 00 Lc1 Lc2, 65535 data bytes, Le1 Le2.
    for size in (3, 65545):
        with pytest.raises(InvalidData, match=f"got {size} bytes"):
            await reader.chip_io(bytes(size))
    for size in (4, 65544):
        with pytest.raises(NoMedia):  # valid in length: it reaches the reader
            await reader.chip_io(bytes(size))


class _Watched(CardReaderModel):
    """The simulator's reader, telling when a backend call has reached it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.entered = asyncio.Event()

    async def _reply_delay(self, *, opening: bool = False) -> None:
        if not opening:
            self.entered.set()
        await super()._reply_delay(opening=opening)


@pytest.mark.parametrize("command", ["chip_power", "capture"])
async def test_close_does_not_wait_for_ever_on_a_frozen_device(command: str) -> None:
    ledger = Ledger.open(":memory:")
    model = _Watched(clock=SimClock(0.005))
    control = CardReaderControl(model)
    reader = CardReaderService(model, ledger=ledger, close_timeout=0.2)
    await reader.open()
    read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
    await control.wait_for("gate_open", timeout=2)
    await control.insert_card("visa")
    await read
    await control.slow_replies(1e9)  # the device stops answering: every call hangs
    model.entered.clear()
    if command == "capture":  # uncancellable: the close cannot wait it out
        stuck = asyncio.create_task(reader.move(MoveTarget.RETAIN))
    else:
        stuck = asyncio.create_task(reader.chip_power(ChipPowerAction.COLD))
    await asyncio.wait_for(model.entered.wait(), 2)  # the call is in the device
    started = time.monotonic()
    await asyncio.wait_for(reader.close(), 5)
    assert time.monotonic() - started < 2
    assert not model.is_open  # the backend was closed under the stuck command
    # Closing it ended that command, which did not ask the closed device again.
    results = await asyncio.wait_for(asyncio.gather(stuck, return_exceptions=True), 2)
    assert isinstance(results[0], asyncio.CancelledError | DeviceNotReady), results
    if command == "capture":
        # Where the card went cannot be known: settled unknown, never counted.
        (record,) = ledger.history("card_reader")
        assert record.settlement is not None
        assert record.settlement.outcome is Outcome.UNKNOWN
        assert ledger.counts("card_reader")["retain"] == 0
    ledger.close()


@pytest.mark.parametrize("own_ledger", ["memory", "file"])
async def test_a_reader_opens_again_after_a_close(
    world: World, tmp_path: Path, own_ledger: str
) -> None:
    ledger = str(tmp_path / "ledger.sqlite") if own_ledger == "file" else None
    reader = world.open_card_reader(ledger=ledger)
    control = world.card_reader_control()
    async with reader:
        pass  # opened and closed with nothing done: no count was ever cached
    for _ in range(2):
        async with reader:  # the same service, twice: its ledger is opened again
            read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
            await control.wait_for("gate_open", timeout=2)
            await control.insert_card("visa")
            await read
            await reader.move(MoveTarget.RETAIN)
            count = (await reader.retain_bin()).count
    assert count == (2 if own_ledger == "file" else 1)
