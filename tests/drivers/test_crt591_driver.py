"""The crt591 driver over the memory transport, against the CRT-591 emulator.

The emulator (`simulator.wire.crt591`) plays a faithful issuer bound to a world's card
reader model (with a card stacker), with link faults on demand; the model's physical
state is the ground truth every check compares with.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

import hal
from drivers.card_reader import crt591_codes as codes
from drivers.card_reader.crt591 import CRT591_DRIVER, Crt591Driver, Crt591Options
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
    ReplenishmentStatus,
    ResetAction,
    Track,
)
from hal.devices.card_reader_service import CardReaderService
from hal.errors import (
    AtrNotObtained,
    ChecksumError,
    ConfigurationError,
    ConnectionLost,
    DeviceNotReady,
    HalTimeout,
    HardwareError,
    InvalidData,
    InvalidMedia,
    MediaJam,
    NoMedia,
    Occupied,
    RetainBinFull,
    SequenceError,
    UnsupportedOperation,
)
from hal.transports.memory import memory_pair
from protocols.crt591 import (
    BinStatus,
    CardStatus,
    Command,
    CpuOperation,
    Crt591StreamDecoder,
    ErrorCode,
    Frame,
    Position,
    Request,
    StackerStatus,
    build_positive,
    decode_frame,
)
from simulator.models.card_reader import CardPosition
from simulator.wire.crt591 import Crt591Emulator
from simulator.wire.crt591_firmware import VERSION
from tests.creator_rig import Bench, Recorder, driven
from tests.creator_rig import insert as insert_card
from tests.crt591_rig import STACKER, MemoryRig, crt591_registered

CHIP = frozenset({Track.CHIP})
FAST = Crt591Options(
    poll_interval=0.005, ack_timeout=0.3, reply_timeout=0.5, take_timeout=2.0, refuse_after=0.02
)
SELECT_PSE = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01" + b"\x00"
#: For the tests about a silent reader (the ACK timer is what they wait out): a short
#: ACK timeout; a mute reader runs nothing twice.
SILENT = dataclasses.replace(FAST, ack_timeout=0.05)


@asynccontextmanager
async def bench_for(options: Crt591Options = FAST, **setup: object) -> AsyncIterator[Bench]:
    async with driven(MemoryRig(**setup), lambda host: Crt591Driver(host, options)) as made:
        yield made


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    async with bench_for() as made:
        yield made


async def insert(bench: Bench, profile: str = "visa") -> None:
    await insert_card(bench, CHIP, profile)


def moves(emulator: Crt591Emulator) -> list[int]:
    """The PM of every move (32 pm) the emulator executed."""
    return [pm for cm, pm in emulator.executed if cm == Command.MOVE.cm]


# --- issuing -------------------------------------------------------------------------------


async def test_issue_read_the_chip_eject_and_take(bench: Bench) -> None:
    assert bench.emulator.firmware.initialised  # open initialised the unit (30 33)
    await bench.driver.dispense_card(MoveTarget.TRANSPORT)
    assert bench.rig.model.stacker_count == STACKER - 1
    assert bench.rig.model.position is CardPosition.INSIDE
    status = await bench.driver.get_status()
    assert (status.media, status.chip_power) == (MediaStatus.PRESENT, ChipPower.POWERED_OFF)
    result = await bench.driver.read_card(CHIP)
    card = bench.rig.model.card
    assert card is not None
    assert card.chip is not None
    assert result[Track.CHIP].status is DataStatus.OK
    assert result[Track.CHIP].data in card.chip.atrs.values()
    assert (await bench.driver.get_status()).chip_power is ChipPower.ONLINE
    await bench.driver.move_card(MoveTarget.EXIT)
    assert (await bench.driver.get_status()).media is MediaStatus.ENTERING
    await bench.rig.control.take_card(timeout=1)
    await bench.heard.wait_for(MediaRemoved)
    assert bench.heard.statuses[-1].media is MediaStatus.NOT_PRESENT
    assert moves(bench.emulator) == [Position.IC, Position.GATE]


async def test_issue_straight_out_of_the_gate(bench: Bench) -> None:
    await bench.driver.dispense_card(MoveTarget.EXIT)
    assert bench.rig.model.position is CardPosition.EXIT
    await bench.rig.control.take_card(timeout=1)
    await bench.heard.wait_for(MediaRemoved)
    assert moves(bench.emulator) == [Position.GATE]


async def test_an_empty_stacker_and_an_occupied_channel_are_refused() -> None:
    async with bench_for() as bench:
        await bench.rig.control.load_stacker(1)
        await bench.driver.dispense_card(MoveTarget.TRANSPORT)
        with pytest.raises(Occupied):
            await bench.driver.dispense_card(MoveTarget.TRANSPORT)
        await bench.driver.move_card(MoveTarget.RETAIN)
        assert bench.rig.model.retained_count == 1
        with pytest.raises(NoMedia, match="A0"):
            await bench.driver.dispense_card(MoveTarget.TRANSPORT)
        assert bench.rig.model.position is CardPosition.RETAINED
        with pytest.raises(InvalidData):
            await bench.driver.dispense_card(MoveTarget.RETAIN)


async def test_a_move_with_no_card_is_no_media_and_issues_nothing(bench: Bench) -> None:
    for target in MoveTarget:
        with pytest.raises(NoMedia):
            await bench.driver.move_card(target)
    assert moves(bench.emulator) == []
    assert bench.rig.model.stacker_count == STACKER


@pytest.mark.parametrize(
    ("cards", "fill"),
    [
        (STACKER, ReplenishmentStatus.OK),
        (3, ReplenishmentStatus.LOW),
        (0, ReplenishmentStatus.EMPTY),
    ],
)
async def test_st1_is_the_stacker_fill(bench: Bench, cards: int, fill: ReplenishmentStatus) -> None:
    await bench.rig.control.load_stacker(cards)
    assert (await bench.driver.get_status()).stacker is fill


async def test_st2_says_the_reject_bin_is_full_and_a1_is_retain_bin_full() -> None:
    async with bench_for(retain_capacity=1) as bench:
        await bench.driver.dispense_card(MoveTarget.TRANSPORT)
        await bench.driver.move_card(MoveTarget.RETAIN)
        assert (await bench.driver.get_status()).retain_bin is ReplenishmentStatus.FULL
        await bench.driver.dispense_card(MoveTarget.TRANSPORT)
        with pytest.raises(RetainBinFull, match="A1"):
            await bench.driver.move_card(MoveTarget.RETAIN)
        assert bench.rig.model.position is CardPosition.INSIDE


async def test_a_card_left_at_the_gate_is_captured_after_the_take_timeout() -> None:
    options = Crt591Options(poll_interval=0.005, take_timeout=0.05)
    async with bench_for(options) as bench:
        await bench.driver.dispense_card(MoveTarget.EXIT)
        action = await bench.heard.wait_for(CardAction)
        assert isinstance(action, CardAction)
        assert (action.source, action.to) == ("exit", "retain")
        assert bench.rig.model.retained_count == 1
        assert bench.emulator.firmware.bin_counter == 1
        assert "MediaRemoved" not in bench.heard.kinds()


# --- a customer's card coming back in, the chip ---------------------------------------------


async def test_a_card_returned_at_the_gate_is_taken_in(bench: Bench) -> None:
    await insert(bench)
    assert bench.heard.kinds()[-2:] == ["InsertCard", "MediaInserted"]
    assert not bench.rig.model.gate_open
    assert (await bench.driver.get_status()).media is MediaStatus.PRESENT
    entry = [pm for cm, pm in bench.emulator.executed if cm == Command.ENTRY_ENABLE.cm]
    assert entry == [0x30, 0x31]  # enabled, then disabled once the card was in


async def test_a_refused_card_is_invalid_media_and_comes_back(bench: Bench) -> None:
    with pytest.raises(InvalidMedia):
        await insert(bench, "unreadable")
    assert "InvalidMediaEvent" in bench.heard.kinds()
    await bench.rig.control.take_card(timeout=1)
    await bench.heard.wait_for(MediaRemoved)


async def test_cancelling_the_wait_disables_entry_and_keeps_a_card_that_got_in(
    bench: Bench,
) -> None:
    accepting = asyncio.create_task(bench.driver.accept_card(CHIP))
    await bench.heard.wait_for(InsertCard)
    await bench.rig.control.insert_card("visa")
    accepting.cancel()
    await asyncio.gather(accepting, return_exceptions=True)
    assert not bench.rig.model.gate_open
    assert (await bench.driver.get_status()).media is MediaStatus.PRESENT
    assert "MediaInserted" in bench.heard.kinds()


async def test_chip_power_and_apdus_follow_the_protocol_of_the_reset(bench: Bench) -> None:
    await insert(bench, "mastercard")  # T=0
    with pytest.raises(AtrNotObtained):
        await bench.driver.chip_io(SELECT_PSE)
    atr = await bench.driver.chip_power(ChipPowerAction.COLD)
    assert atr[0] == 0x3B
    answer = await bench.driver.chip_io(SELECT_PSE[:-1])
    assert answer[0] == 0x61  # T=0: the answer waits for GET RESPONSE
    assert bench.emulator.executed[-1] == (Command.CPU.cm, CpuOperation.APDU_T0)
    assert await bench.driver.chip_power(ChipPowerAction.WARM) == atr
    assert await bench.driver.chip_power(ChipPowerAction.OFF) == b""
    with pytest.raises(AtrNotObtained):
        await bench.driver.chip_io(SELECT_PSE)
    await bench.driver.move_card(MoveTarget.EXIT)
    with pytest.raises(NoMedia):
        await bench.driver.chip_power(ChipPowerAction.COLD)


async def test_a_t1_chip_exchanges_with_51_34(bench: Bench) -> None:
    await bench.driver.dispense_card(MoveTarget.TRANSPORT)  # the stacker's visa cards: T=1
    await bench.driver.chip_power(ChipPowerAction.COLD)
    answer = await bench.driver.chip_io(SELECT_PSE)
    assert answer[0] == 0x6F
    assert answer[-2:] == b"\x90\x00"
    assert bench.emulator.executed[-1] == (Command.CPU.cm, CpuOperation.APDU_T1)


async def test_a_card_without_a_chip_reads_data_missing(bench: Bench) -> None:
    await insert(bench, "mag_only")
    result = await bench.driver.read_card(CHIP | {Track.TRACK2})
    assert result[Track.CHIP].status is DataStatus.MISSING
    assert result[Track.TRACK2].status is DataStatus.SOURCE_NOT_SUPPORTED
    with pytest.raises(AtrNotObtained, match="61"):
        await bench.driver.chip_power(ChipPowerAction.COLD)


async def test_a_jam_is_media_jam_until_a_reset(bench: Bench) -> None:
    await bench.driver.dispense_card(MoveTarget.TRANSPORT)
    await bench.rig.control.jam()
    with pytest.raises(MediaJam, match="10"):
        await bench.driver.move_card(MoveTarget.EXIT)
    assert (await bench.driver.get_status()).media is MediaStatus.JAMMED
    with pytest.raises(MediaJam):
        await bench.driver.reset(ResetAction.EXIT)  # still stuck: the unit says 10 again
    await bench.rig.control.clear_jam()
    assert await bench.driver.reset(ResetAction.EXIT) is MoveTarget.EXIT
    assert (await bench.driver.get_status()).media is MediaStatus.ENTERING
    await bench.rig.control.take_card(timeout=1)


async def test_reset_says_where_the_card_went(bench: Bench) -> None:
    await bench.driver.dispense_card(MoveTarget.TRANSPORT)
    assert await bench.driver.reset(ResetAction.CURRENT_POSITION) is None
    assert "MediaDetected" in bench.heard.kinds()
    assert await bench.driver.reset(ResetAction.RETAIN) is MoveTarget.RETAIN
    assert bench.rig.model.retained_count == 1


async def test_a_card_found_at_open_is_reported() -> None:
    async with bench_for() as first:
        await first.driver.dispense_card(MoveTarget.EXIT)
        await first.driver.close()
        heard = Recorder()
        await first.driver.open(heard)
        detected = await heard.wait_for(MediaDetected)
        assert isinstance(detected, MediaDetected)
        assert detected.position == "exit"
        await first.rig.control.take_card(timeout=1)
        await heard.wait_for(MediaRemoved)


# --- the link: retries, resynchronisation, timeouts, power cycles ---------------------------


async def test_a_nak_storm_within_the_retries_is_absorbed(bench: Bench) -> None:
    bench.emulator.nak_next(3)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    assert (bench.driver.link.naks, bench.driver.link.resent) == (3, 3)


async def test_a_nak_storm_past_the_retries_is_a_checksum_error(bench: Bench) -> None:
    bench.emulator.nak_next(4)
    with pytest.raises(ChecksumError, match="NAK 4 times"):
        await bench.driver.dispense_card(MoveTarget.TRANSPORT)
    assert bench.rig.model.stacker_count == STACKER


@pytest.mark.parametrize("garbage", [b"\x00\xff\x7f", b"\xf2\x00\x00\x09\x99"])
async def test_garbage_before_the_ack_is_skipped(bench: Bench, garbage: bytes) -> None:
    bench.emulator.inject_garbage(garbage)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE
    # Skipped as noise: an STX with a plausible length may hide the ACK until the
    # ACK timeout (one resend), or the frame after it shows it is no frame.
    assert bench.driver.link.noise >= 3
    assert bench.driver.link.resent <= 1


async def test_a_corrupted_reply_is_naked_and_sent_again_not_run_again(bench: Bench) -> None:
    bench.emulator.corrupt_next_reply()
    await bench.driver.dispense_card(MoveTarget.TRANSPORT)
    assert bench.driver.link.bad_replies >= 1
    assert bench.emulator.stats.resent >= 1
    assert bench.rig.model.stacker_count == STACKER - 1  # one card, not two
    await asyncio.sleep(0.02)  # the last ACK on its way
    assert bench.emulator.stats.acks == len(bench.emulator.executed)  # every reply ACKed


async def test_a_silent_unit_times_out_and_reports_offline() -> None:
    async with bench_for(SILENT) as bench:
        bench.emulator.mute()
        with pytest.raises(HalTimeout, match="did not acknowledge status"):
            await bench.driver.link.exchange(Request(0x31, 0x30), what="status")
        assert (await bench.driver.get_status()).device is DeviceState.OFFLINE
        bench.emulator.mute(False)
        assert (await bench.driver.get_status()).device is DeviceState.ONLINE
        assert bench.driver.link.resyncs == 2  # EOT first after each failed exchange


async def test_a_late_reply_is_skipped_by_its_echo(bench: Bench) -> None:
    bench.emulator.set_reply_delay(0.1)
    with pytest.raises(HalTimeout, match="no reply to version"):
        await bench.driver.link.exchange(Request(0xA4, 0x30), what="version", reply_timeout=0.02)
    bench.emulator.set_reply_delay(0)
    # The version reply arrives during the next exchange and must not answer it.
    status = await bench.driver.get_status()
    assert status.device is DeviceState.ONLINE
    await asyncio.sleep(0.1)
    assert (await bench.driver.get_status()).device is DeviceState.ONLINE


async def test_a_power_cycled_unit_is_initialised_again() -> None:
    async with bench_for(SILENT) as bench:
        await bench.rig.control.power_loss()
        assert (await bench.driver.get_status()).device is DeviceState.OFFLINE
        await bench.rig.control.power_loss(False)
        assert not bench.emulator.firmware.initialised
        await bench.driver.dispense_card(MoveTarget.TRANSPORT)  # B0, 30 33, then the move
        assert bench.driver.reinitialised == 1
        assert bench.rig.model.stacker_count == STACKER - 1


async def test_a_port_that_goes_and_comes_back_is_reopened_by_the_driver() -> None:
    rig = MemoryRig()
    driver = Crt591Driver(rig.host, FAST)
    heard = Recorder()
    async with rig.wire():
        await driver.open(heard)
    assert (await driver.get_status()).device is DeviceState.NO_DEVICE
    with pytest.raises(ConnectionLost):
        await driver.dispense_card(MoveTarget.TRANSPORT)
    async with rig.wire():
        assert (await driver.get_status()).device is DeviceState.ONLINE
        assert driver.link.reconnects == 1
        assert [s.device for s in heard.statuses] == [
            DeviceState.ONLINE,
            DeviceState.NO_DEVICE,
            DeviceState.ONLINE,
        ]
        await driver.close()


async def test_another_address_is_not_answered() -> None:
    rig = MemoryRig()
    async with rig.wire(address=3):
        driver = Crt591Driver(rig.host, Crt591Options(address=3, ack_timeout=0.3))
        await driver.open(Recorder())
        try:
            assert (await driver.get_status()).device is DeviceState.ONLINE
        finally:
            await driver.close()
        stranger = Crt591Driver(rig.host, Crt591Options(address=4, ack_timeout=0.02, retries=0))
        heard = Recorder()
        await stranger.open(heard)
        try:
            assert heard.statuses[-1].device is DeviceState.OFFLINE
        finally:
            await stranger.close()


async def test_a_jam_while_issuing_leaves_the_card_out_of_the_stacker(bench: Bench) -> None:
    await bench.rig.control.jam()
    with pytest.raises(MediaJam):
        await bench.driver.dispense_card(MoveTarget.TRANSPORT)
    assert bench.rig.model.stacker_count == STACKER - 1
    assert bench.rig.model.position is CardPosition.JAMMED
    assert (await bench.driver.get_status()).media is MediaStatus.JAMMED
    with pytest.raises(MediaJam):
        await bench.driver.dispense_card(MoveTarget.TRANSPORT)  # no second card over it
    assert bench.rig.model.stacker_count == STACKER - 1


# --- a scripted unit: a card that takes its time at the gate ---------------------------------


@asynccontextmanager
async def scripted(st0: list[CardStatus]) -> AsyncIterator[Crt591Driver]:
    """A unit that ACKs every frame and answers each status with the next st0 of the
    list (the last one for ever), every other command positively."""
    host, device = memory_pair()
    await device.open()
    states = iter(st0)
    current = st0[0]

    async def serve() -> None:
        nonlocal current
        decoder = Crt591StreamDecoder()
        while True:
            for item in decoder.feed(await device.read()):
                if not isinstance(item, Frame):
                    continue
                await device.write(b"\x06")
                request = decode_frame(item)
                assert isinstance(request, Request)
                if (request.cm, request.pm) == (0x31, 0x30):
                    current = next(states, current)
                status = (current, StackerStatus.ENOUGH, BinStatus.NOT_FULL)
                await device.write(build_positive(request, *status))

    task = asyncio.create_task(serve())
    driver = Crt591Driver(host, Crt591Options(poll_interval=0.005, refuse_after=0.5))
    try:
        await driver.open(Recorder())
        yield driver
    finally:
        await driver.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await device.close()


async def test_a_card_a_few_polls_at_the_gate_is_drawn_in_not_refused() -> None:
    no, gate, inside = CardStatus.NO_CARD, CardStatus.AT_GATE, CardStatus.AT_POSITION
    async with scripted([no, no, no] + [gate] * 6 + [inside]) as driver:
        await asyncio.wait_for(driver.accept_card(CHIP), 2)
        assert (await driver.get_status()).media is MediaStatus.PRESENT


async def test_a_card_left_at_the_gate_past_refuse_after_is_refused() -> None:
    async with scripted([CardStatus.NO_CARD, CardStatus.AT_GATE]) as driver:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(InvalidMedia):
            await asyncio.wait_for(driver.accept_card(CHIP), 2)
        assert loop.time() - start >= 0.5


# --- the tables ---------------------------------------------------------------------------


#: Every negative reply code and the HAL error it becomes.
ERROR_TABLE: list[tuple[ErrorCode, type[Exception]]] = [
    (ErrorCode.JAM, MediaJam),
    (ErrorCode.LONG_CARD, MediaJam),
    (ErrorCode.STACKER_EMPTY, NoMedia),
    (ErrorCode.BIN_FULL, RetainBinFull),
    (ErrorCode.NOT_SUPPORTED, UnsupportedOperation),
    (ErrorCode.UNDEFINED_COMMAND, UnsupportedOperation),
    (ErrorCode.BAD_PARAMETER, InvalidData),
    (ErrorCode.BAD_DATA, InvalidData),
    (ErrorCode.ACTIVATION_FAILED, AtrNotObtained),
    (ErrorCode.NOT_INITIALISED, DeviceNotReady),
    (ErrorCode.MOTOR_ERROR, HardwareError),
    (ErrorCode.SENSOR_ERROR, HardwareError),
    (ErrorCode.CONTACT_NOT_RELEASED, HardwareError),
    (ErrorCode.SEQUENCE_ERROR, SequenceError),
    (ErrorCode.MOVED_MANUALLY, SequenceError),
    (ErrorCode.IC_TRANSMISSION_ERROR, AtrNotObtained),
    (ErrorCode.IC_TIMEOUT, AtrNotObtained),
    (ErrorCode.CANNOT_MOVE_TO_IC, MediaJam),
    (ErrorCode.SHORT_CARD, MediaJam),
    (ErrorCode.IC_DISABLED, AtrNotObtained),
    (ErrorCode.NOT_EMV_COMPLIANT, AtrNotObtained),
    (ErrorCode.IC_COMMAND_NOT_SUPPORTED, UnsupportedOperation),
    (ErrorCode.RECYCLE_FAILED, HardwareError),
    (ErrorCode.IC_MAGNET_ERROR, HardwareError),
    (ErrorCode.COUNTER_OVERFLOW, HardwareError),
    (ErrorCode.IC_SHORT_CIRCUIT, HardwareError),
    (ErrorCode.NOT_SUPPORTED_BY_CURRENT_IC, AtrNotObtained),
]


@pytest.mark.parametrize(("code", "error"), ERROR_TABLE)
def test_error_codes_become_hal_errors(code: ErrorCode, error: type[Exception]) -> None:
    raised = codes.error_for("issuer", code, "move")
    assert type(raised) is error
    assert code.value in str(raised)


def test_the_error_table_names_every_code() -> None:
    assert sorted(code for code, _ in ERROR_TABLE) == sorted(ErrorCode)


@pytest.mark.parametrize(
    "bad",
    [
        {"address": 16},
        {"stacker_capacity": 0},
        {"retain_capacity": 0},
        {"poll_interval": -1.0},
        {"retries": 11},
        {"ack_timeout": 0.0},
        {"reply_timeout": float("inf")},
        {"take_timeout": 0.0},
        {"refuse_after": -1.0},
    ],
)
def test_options_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Crt591Options(**bad)  # type: ignore[arg-type]


async def test_an_address_opens_the_driver_over_a_named_memory_pair() -> None:
    rig = MemoryRig(name="crt591-registry")
    with crt591_registered():
        reader = hal.open(
            "crt591+memory://crt591-registry?poll_interval=0.005&stacker_capacity=10"
            "&retain_capacity=7&take_timeout="
        )
        assert isinstance(reader, CardReaderService)
        with pytest.raises(ConfigurationError, match="does not run over"):
            hal.open("crt591+ipc://x")
    async with rig.wire(), reader:
        caps = await reader.capabilities()
        assert (caps.retain_capacity, caps.dispense_capacity) == (7, 10)
        assert caps.features() == CRT591_DRIVER.capabilities["card_reader"]
        assert caps.firmware == VERSION.decode()  # what Initialize answered
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT
