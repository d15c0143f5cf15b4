"""The crt310 driver over the memory transport: against the emulator, or scripted bytes.

The emulator (`simulator.wire.crt310`) plays a faithful reader with faults on demand;
a scripted device answers exactly the bytes a test needs (an error reply, a status).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

import hal
from drivers.card_reader.crt310 import Crt310Driver, Crt310Options
from hal.device import DeviceState
from hal.devices.card_reader import (
    CardAction,
    ChipPower,
    ChipPowerAction,
    DataStatus,
    InsertCard,
    MediaDetected,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    Track,
)
from hal.devices.card_reader_service import CardReaderService
from hal.errors import (
    AtrNotObtained,
    ChecksumError,
    ConfigurationError,
    ConnectionLost,
    HalTimeout,
    HardwareError,
    InvalidData,
    InvalidMedia,
    MediaJam,
    NoMedia,
    UnsupportedOperation,
)
from hal.transports.memory import MemoryTransport, memory_pair
from protocols.crt310 import (
    CardPosition,
    Command,
    Control,
    Crt310StreamDecoder,
    ErrorCode,
    Frame,
    FrontEntry,
    RearEntry,
    TrackReadError,
    TrackRecord,
    TrackStatus,
    build_command,
    build_error_reply,
    build_reply,
    build_status_reply,
    build_track_reply,
)
from simulator.wire.crt310_firmware import VERSION
from tests.creator_rig import Bench, Recorder, driven
from tests.creator_rig import insert as insert_card
from tests.crt310_rig import MemoryRig, crt310_registered

MAG = frozenset({Track.TRACK1, Track.TRACK2, Track.TRACK3})
FAST = Crt310Options(poll_interval=0.005, ack_timeout=0.3, reply_timeout=0.5, take_timeout=2.0)
#: For the tests about a silent reader (the ACK timer is what they wait out): a short
#: ACK timeout; a mute reader runs nothing twice.
SILENT = dataclasses.replace(FAST, ack_timeout=0.05)


@asynccontextmanager
async def bench_for(options: Crt310Options = FAST, **setup: object) -> AsyncIterator[Bench]:
    async with driven(MemoryRig(**setup), lambda host: Crt310Driver(host, options)) as made:
        yield made


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    async with bench_for() as made:
        yield made


async def insert(bench: Bench, profile: str = "visa") -> None:
    await insert_card(bench, MAG, profile)


# --- a whole cycle against the emulator ------------------------------------------------------


async def test_insert_read_eject_and_take(bench: Bench) -> None:
    await insert(bench)
    assert bench.heard.kinds() == ["InsertCard", "MediaInserted"]
    result = await bench.driver.read_card(MAG | {Track.CHIP})
    card = bench.rig.model.card
    assert card is not None
    for track in MAG:
        assert result[track].status is DataStatus.OK
        assert result[track].data == card.tracks[track]
    assert result[Track.CHIP].data[0] == 0x3B  # the ATR of the cold reset
    assert (await bench.driver.get_status()).chip_power is ChipPower.ONLINE
    await bench.driver.move_card(MoveTarget.EXIT)
    assert (await bench.driver.get_status()).media is MediaStatus.ENTERING
    await bench.rig.control.take_card(timeout=1)
    await bench.heard.wait_for(MediaRemoved)
    assert bench.heard.statuses[-1].media is MediaStatus.NOT_PRESENT


async def test_a_card_found_at_open_is_reported() -> None:
    async with bench_for() as first:
        await first.rig.control.insert_card("visa")  # waits in the slot: the gate is shut
        await first.driver.close()
        heard = Recorder()
        await first.driver.open(heard)
        detected = await heard.wait_for(MediaDetected)
        assert isinstance(detected, MediaDetected)
        assert detected.position == "exit"


async def test_chip_power_and_apdus_follow_the_protocol_of_the_reset(bench: Bench) -> None:
    await insert(bench, "mastercard")  # T=0
    with pytest.raises(AtrNotObtained):
        await bench.driver.chip_io(bytes.fromhex("00A4040000"))
    atr = await bench.driver.chip_power(ChipPowerAction.COLD)
    assert atr[0] == 0x3B
    answer = await bench.driver.chip_io(bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01")
    assert answer[0] == 0x61  # T=0: the answer waits for GET RESPONSE
    assert bench.emulator.executed[-1] is Command.APDU_T0
    with pytest.raises(InvalidData, match="262"):
        await bench.driver.chip_io(bytes(300))
    assert await bench.driver.chip_power(ChipPowerAction.OFF) == b""
    with pytest.raises(AtrNotObtained):
        await bench.driver.chip_io(bytes.fromhex("00A4040000"))


async def test_a_refused_card_is_invalid_media_and_comes_back(bench: Bench) -> None:
    with pytest.raises(InvalidMedia):
        await insert(bench, "unreadable")
    assert "InvalidMediaEvent" in bench.heard.kinds()
    await bench.rig.control.take_card(timeout=1)
    await bench.heard.wait_for(MediaRemoved)


async def test_a_card_jamming_on_its_way_in_is_media_jam(bench: Bench) -> None:
    with pytest.raises(MediaJam):
        await insert(bench, "jamming")
    assert (await bench.driver.get_status()).media is MediaStatus.JAMMED
    with pytest.raises(MediaJam):
        await bench.driver.move_card(MoveTarget.EXIT)


async def test_cancelling_the_wait_shuts_the_entry_and_keeps_a_card_that_got_in(
    bench: Bench,
) -> None:
    accepting = asyncio.create_task(bench.driver.accept_card(MAG))
    await bench.heard.wait_for(InsertCard)
    await bench.rig.control.insert_card("visa")  # in, just as the wait is cancelled
    accepting.cancel()
    await asyncio.gather(accepting, return_exceptions=True)
    assert not bench.rig.model.gate_open
    assert (await bench.driver.get_status()).media is MediaStatus.PRESENT
    assert "MediaInserted" in bench.heard.kinds()


async def test_a_card_left_at_the_exit_is_captured_after_the_take_timeout() -> None:
    options = Crt310Options(poll_interval=0.005, take_timeout=0.05, retain_capacity=5)
    async with bench_for(options) as bench:
        await insert(bench, "never_taken")
        await bench.driver.move_card(MoveTarget.EXIT)
        action = await bench.heard.wait_for(CardAction)
        assert isinstance(action, CardAction)
        assert (action.source, action.to) == ("exit", "retain")
        assert bench.rig.model.retained_count == 1
        assert "MediaRemoved" not in bench.heard.kinds()


async def test_reset_says_where_the_card_went(bench: Bench) -> None:
    await insert(bench)
    assert await bench.driver.reset(hal.ResetAction.CURRENT_POSITION) is None
    assert await bench.driver.reset(hal.ResetAction.EXIT) is MoveTarget.EXIT
    assert "MediaDetected" in bench.heard.kinds()
    await bench.rig.control.take_card(timeout=1)
    await insert(bench)
    assert await bench.driver.reset(hal.ResetAction.RETAIN) is MoveTarget.RETAIN


# --- the link: retries, resynchronisation, timeouts -----------------------------------------


async def test_a_nak_storm_within_the_retries_is_absorbed(bench: Bench) -> None:
    bench.emulator.nak_next(3)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    assert (bench.driver.link.naks, bench.driver.link.resent) == (3, 3)


async def test_a_nak_storm_past_the_retries_is_a_checksum_error(bench: Bench) -> None:
    bench.emulator.nak_next(4)
    with pytest.raises(ChecksumError, match="NAK 4 times"):
        await bench.driver.move_card(MoveTarget.EXIT)


@pytest.mark.parametrize("garbage", [b"\x00\xff\x7f", b"\x02\x00\x06\x99"])
async def test_garbage_before_the_ack_is_skipped(bench: Bench, garbage: bytes) -> None:
    bench.emulator.inject_garbage(garbage)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    # An STX with a plausible length hides the ACK until the ACK timeout: one resend.
    assert bench.driver.link.resent == (1 if garbage[0] == 0x02 else 0)


async def test_a_corrupted_reply_is_naked_and_sent_again_not_run_again(bench: Bench) -> None:
    bench.emulator.corrupt_next_reply()
    await bench.driver.get_status()
    assert bench.driver.link.bad_replies == 1
    assert bench.emulator.stats.resent == 1
    assert bench.emulator.executed.count(Command.STATUS) == 2  # open's, and this one


async def test_bytes_split_or_corrupted_in_transit(bench: Bench) -> None:
    bench.rig.device_end.faults.split(1)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    bench.rig.device_end.faults.split(None)
    bench.rig.device_end.faults.corrupt(4)  # a byte of the reply frame, after the ACK
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    assert bench.driver.link.bad_replies == 1
    bench.rig.host.faults.drop(0)  # the command's STX is lost: no ACK, sent again
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    assert bench.driver.link.resent == 1


async def test_a_silent_reader_times_out_and_reports_offline() -> None:
    async with bench_for(SILENT) as bench:
        bench.emulator.mute()
        with pytest.raises(HalTimeout, match="did not acknowledge STATUS"):
            await bench.driver.link.exchange(build_command(Command.STATUS), Command.STATUS)
        assert (await bench.driver.get_status()).device is DeviceState.OFFLINE
        bench.emulator.mute(False)
        assert (await bench.driver.get_status()).device is DeviceState.ONLINE
        assert bench.driver.link.resyncs == 1  # EOT first, after the failed exchange


async def test_a_late_reply_times_out_and_the_next_exchange_resynchronises(bench: Bench) -> None:
    bench.emulator.set_reply_delay(0.3)
    with pytest.raises(HalTimeout, match="no reply to STATUS"):
        await bench.driver.link.exchange(
            build_command(Command.STATUS), Command.STATUS, reply_timeout=0.05
        )
    bench.emulator.set_reply_delay(0)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    assert bench.driver.link.resyncs == 1


async def test_a_cancelled_exchange_leaves_the_link_usable(bench: Bench) -> None:
    bench.emulator.set_reply_delay(0.05)
    status = asyncio.create_task(bench.driver.get_status())
    await asyncio.sleep(0.01)
    status.cancel()
    await asyncio.gather(status, return_exceptions=True)
    bench.emulator.set_reply_delay(0)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    assert bench.driver.link.resyncs == 1


async def test_a_reader_silent_at_open_opens_offline_and_comes_online() -> None:
    rig = MemoryRig()
    async with rig.wire() as emulator:
        emulator.mute()
        driver = Crt310Driver(rig.host, SILENT)
        heard = Recorder()
        await driver.open(heard)
        try:
            assert heard.statuses[-1].device is DeviceState.OFFLINE
            emulator.mute(False)
            assert (await driver.get_status()).device is DeviceState.ONLINE
        finally:
            await driver.close()


async def test_a_port_that_goes_and_comes_back_is_reopened_by_the_driver() -> None:
    rig = MemoryRig()
    driver = Crt310Driver(rig.host, FAST)
    heard = Recorder()
    async with rig.wire():
        await driver.open(heard)
    # The device end is closed: the cable is out.
    assert (await driver.get_status()).device is DeviceState.NO_DEVICE
    with pytest.raises(ConnectionLost):
        await driver.move_card(MoveTarget.EXIT)
    async with rig.wire():
        assert (await driver.get_status()).device is DeviceState.ONLINE
        assert driver.link.reconnects == 1
        assert [s.device for s in heard.statuses] == [
            DeviceState.ONLINE,
            DeviceState.NO_DEVICE,
            DeviceState.ONLINE,
        ]
        await driver.close()


# --- replies mapped to errors and statuses: scripted device bytes ---------------------------

Script = Callable[[Frame], bytes | None]
NO_CARD = build_status_reply(CardPosition.NO_CARD, FrontEntry.PROHIBITED, RearEntry.PROHIBITED)


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[Crt310Driver]:
    """A driver talking to a device that ACKs every frame and answers ``script(frame)``
    at ENQ (status: no card, unless the script says otherwise)."""
    host, device = memory_pair()
    await device.open()

    async def serve(end: MemoryTransport) -> None:
        decoder = Crt310StreamDecoder()
        last: Frame | None = None
        while True:
            for item in decoder.feed(await end.read()):
                if isinstance(item, Frame):
                    last = item
                    await end.write(b"\x06")
                elif item is Control.ENQ and last is not None:
                    answer = script(last)
                    if answer is None and (last.cm, last.pm) == (0x31, 0x30):
                        answer = NO_CARD
                    await end.write(answer or b"")
                elif item is Control.EOT:
                    await end.write(b"\x04")

    task = asyncio.create_task(serve(device))
    driver = Crt310Driver(host, FAST)
    try:
        await driver.open(Recorder())
        yield driver
    finally:
        await driver.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await device.close()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (ErrorCode.ABNORMAL_CARD, MediaJam),
        (ErrorCode.CANNOT_EXECUTE, UnsupportedOperation),
        (ErrorCode.BAD_COMMAND, UnsupportedOperation),
        (ErrorCode.BAD_PARAMETER, InvalidData),
        (ErrorCode.BAD_DATA, InvalidData),
        (ErrorCode.VOLTAGE, HardwareError),
        (ErrorCode.ON_BACKUP_POWER, HardwareError),
    ],
)
async def test_error_replies_become_hal_errors(code: ErrorCode, error: type[Exception]) -> None:
    def script(frame: Frame) -> bytes | None:
        return build_error_reply(0x32, code) if frame.cm == 0x32 else None

    async with scripted(script) as driver:
        with pytest.raises(error, match=code.name):
            await driver.move_card(MoveTarget.EXIT)


@pytest.mark.parametrize(("p", "error"), [(b"E", NoMedia), (b"W", NoMedia), (b"N", HardwareError)])
async def test_operation_status_of_a_move(p: bytes, error: type[Exception]) -> None:
    async with scripted(lambda f: build_reply(f.cm, f.pm, p) if f.cm == 0x32 else None) as driver:
        with pytest.raises(error):
            await driver.move_card(MoveTarget.TRANSPORT)


async def test_a_chip_without_an_answer_to_reset() -> None:
    def script(frame: Frame) -> bytes | None:
        if frame.cm in (0x33, 0x37):
            return build_reply(frame.cm, frame.pm, b"Y" if frame.cm == 0x33 else b"N")
        return None

    async with scripted(script) as driver:
        with pytest.raises(AtrNotObtained):
            await driver.chip_power(ChipPowerAction.COLD)
        result = await driver.read_card(frozenset({Track.CHIP}))
        assert result[Track.CHIP].status is DataStatus.MISSING


@pytest.mark.parametrize(
    ("position", "media", "chip"),
    [
        (CardPosition.NO_CARD, MediaStatus.NOT_PRESENT, ChipPower.NO_CARD),
        (CardPosition.FRONT_HELD, MediaStatus.ENTERING, ChipPower.NO_CARD),
        (CardPosition.FRONT_NOT_HELD, MediaStatus.ENTERING, ChipPower.NO_CARD),
        (CardPosition.INSIDE, MediaStatus.PRESENT, ChipPower.POWERED_OFF),
        (CardPosition.INSIDE_IC_ENGAGED, MediaStatus.PRESENT, ChipPower.ONLINE),
        (CardPosition.REAR_HELD, MediaStatus.PRESENT, ChipPower.POWERED_OFF),
        (CardPosition.REAR_NOT_HELD, MediaStatus.NOT_PRESENT, ChipPower.NO_CARD),
        (CardPosition.LONG_CARD, MediaStatus.JAMMED, ChipPower.POWERED_OFF),
        (CardPosition.SHORT_CARD, MediaStatus.JAMMED, ChipPower.POWERED_OFF),
    ],
)
async def test_status_s1_becomes_media_and_chip_power(
    position: CardPosition, media: MediaStatus, chip: ChipPower
) -> None:
    reply = build_status_reply(position, FrontEntry.PROHIBITED, RearEntry.PROHIBITED)
    async with scripted(lambda f: reply if f.cm == 0x31 else None) as driver:
        status = await driver.get_status()
        assert (status.media, status.chip_power) == (media, chip)


async def test_track_blocks_become_data_statuses() -> None:
    records = [
        TrackRecord(1, TrackStatus.READ_ERROR, error=TrackReadError.BLANK),
        TrackRecord(2, TrackStatus.READ_ERROR, error=TrackReadError.LRC),
        TrackRecord(3, TrackStatus.CANNOT_READ, error=TrackReadError.CANNOT_READ),
    ]
    reply = build_track_reply(records)
    async with scripted(lambda f: reply if f.cm == 0x45 else None) as driver:
        result = await driver.read_card(MAG)
    assert [result[t].status for t in sorted(MAG)] == [
        DataStatus.MISSING,
        DataStatus.INVALID,
        DataStatus.SOURCE_MISSING,
    ]


async def test_the_crt310_writes_no_tracks(bench: Bench) -> None:
    assert not bench.driver.capabilities().write_tracks
    with pytest.raises(UnsupportedOperation):
        await bench.driver.write_tracks({Track.TRACK2: b"123"})


# --- options and the registry ----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"poll_interval": -1.0},
        {"retries": 11},
        {"ack_timeout": 0.0},
        {"reply_timeout": float("inf")},
        {"take_timeout": 0.0},
        {"retain_capacity": -1},
    ],
)
def test_options_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Crt310Options(**bad)  # type: ignore[arg-type]


async def test_an_address_opens_the_driver_over_a_named_memory_pair() -> None:
    rig = MemoryRig(name="crt310-registry")
    with crt310_registered():
        reader = hal.open(
            "crt310+memory://crt310-registry?poll_interval=0.005&retain_capacity=7&take_timeout="
        )
        assert isinstance(reader, CardReaderService)
        with pytest.raises(ConfigurationError, match="does not run over"):
            hal.open("crt310+ipc://x")
    async with rig.wire(), reader:
        caps = await reader.capabilities()
        assert caps.retain_capacity == 7
        assert caps.firmware == VERSION.decode()  # what Reset 30 30 answered
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT
