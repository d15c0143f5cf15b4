"""The CRT-591 emulator: reference vectors, commands on the model, the link layer, faults;
then the real driver through ``hal.open`` on a pty (and on the simulated USB bus):
issuing with the ledger, unplug mid-read and replug.

A bare host (raw bytes on a memory pair) talks to the emulator first, so what is checked
is the wire itself; reference vectors are reference/protocols.md §7 #19.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import hal
from drivers.card_reader.crt591 import CRT591_DRIVER
from hal.device import DeviceState
from hal.devices.card_reader import (
    DISPENSE_UNIT,
    CardReader,
    ChipPowerAction,
    InsertCard,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    ReplenishmentStatus,
    ResetAction,
    StorageError,
    Track,
)
from hal.errors import ConnectionLost, MediaJam, NoMedia, Occupied
from hal.transports.memory import MemoryTransport, memory_pair
from hal.transports.spy import SPY_TRANSPORT
from hal.transports.usb import USB_TRANSPORT
from protocols.crt591 import (
    BadFrame,
    BinStatus,
    CardStatus,
    Command,
    Control,
    CpuOperation,
    Crt591StreamDecoder,
    ErrorCode,
    Frame,
    InitMode,
    Position,
    Refusal,
    Reply,
    StackerStatus,
    bin_counter_data,
    build_command,
    build_frame,
    decode_frame,
    parse_bin_counter,
    parse_cpu_reset,
    parse_sensors,
)
from simulator.control import CardReaderControl
from simulator.models.card_reader import CardPosition, CardReaderModel
from simulator.wire.crt591 import Crt591Emulator
from simulator.wire.crt591_firmware import VERSION
from simulator.wire.link import MemoryLink
from simulator.wire.usb import SIM_VENDOR_ID, SimUsbDevice, UsbLink, bulk_spec, default_bus
from simulator.world import World
from tests.creator_rig import RawHost
from tests.crt591_rig import BIN, FAST, SCALE, STACKER, PtyRig, crt591_registered, issuer_model
from tests.specs import registered

ACK, NAK, EOT = b"\x06", b"\x15", b"\x04"
SELECT_PSE = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01" + b"\x00"


class Host(RawHost):
    """A bare host: raw bytes out, decoded items in."""

    def __init__(self, end: MemoryTransport) -> None:
        super().__init__(end, Crt591StreamDecoder())

    async def raw(self, command: bytes) -> Frame:
        """Send a frame, expect ACK and the reply frame, acknowledge it."""
        await self.send(command)
        assert await self.next() is Control.ACK
        reply = await self.next()
        assert isinstance(reply, Frame), reply
        await self.send(ACK)
        return reply

    async def call(self, command: Command, pm: int | None = None, data: bytes = b"") -> Reply:
        reply = decode_frame(await self.raw(build_command(command, pm, data)))
        assert isinstance(reply, Reply), reply
        return reply

    async def refused(self, command: Command, pm: int | None = None, data: bytes = b"") -> Refusal:
        reply = decode_frame(await self.raw(build_command(command, pm, data)))
        assert isinstance(reply, Refusal), reply
        return reply


@dataclass
class Wire:
    host: Host
    emulator: Crt591Emulator
    model: CardReaderModel
    control: CardReaderControl


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    world = World("wire591", clock_scale=SCALE)
    model = issuer_model(world)
    host_end, device_end = memory_pair()
    await host_end.open()
    await device_end.open()
    async with Crt591Emulator(model, MemoryLink(device_end)) as emulator:
        yield Wire(Host(host_end), emulator, model, world.card_reader_control())
    await host_end.close()
    await device_end.close()


async def initialised(wire: Wire) -> None:
    await wire.host.call(Command.INITIALIZE, InitMode.NO_MOVE)


def xor_loop(data: bytes) -> int:
    bcc = 0
    for byte in data:
        bcc ^= byte
    return bcc


# --- reference vectors ----------------------------------------------------------------------


async def test_vector_19_initialize_answers_the_version(wire: Wire) -> None:
    reply = decode_frame(await wire.host.raw(bytes.fromhex("F2 00 00 03 43 30 33 03 B2")))
    assert reply == Reply(
        0x30, 0x33, CardStatus.NO_CARD, StackerStatus.ENOUGH, BinStatus.NOT_FULL, VERSION
    )
    assert wire.emulator.firmware.initialised


async def test_vector_19_status_reply_of_a_unit_with_a_full_stacker(wire: Wire) -> None:
    await initialised(wire)
    reply = await wire.host.raw(bytes.fromhex("F2 00 00 03 43 31 30 03 B0"))
    expected = bytes.fromhex("F2 00 00 06 50 31 30 30 32 30 03 94")
    assert xor_loop(expected[:-1]) == expected[-1]
    assert reply.to_bytes() == expected


async def test_vector_19_dispense_to_the_rf_position(wire: Wire) -> None:
    await initialised(wire)
    reply = decode_frame(await wire.host.raw(bytes.fromhex("F2 00 00 03 43 32 32 03 B1")))
    assert isinstance(reply, Reply)
    assert (reply.cm, reply.pm, reply.card) == (0x32, 0x32, CardStatus.AT_POSITION)
    assert wire.model.position is CardPosition.INSIDE
    assert wire.model.stacker_count == STACKER - 1


# --- commands on the model ------------------------------------------------------------------


async def test_an_uninitialised_unit_answers_b0_but_status_and_version(wire: Wire) -> None:
    refusal = await wire.host.refused(Command.MOVE, Position.IC)
    assert refusal == Refusal(0x32, 0x31, ErrorCode.NOT_INITIALISED)
    assert (await wire.host.call(Command.STATUS)).card is CardStatus.NO_CARD
    assert (await wire.host.call(Command.VERSION)).data == VERSION
    assert wire.model.stacker_count == STACKER


async def test_issue_out_of_the_gate_take_and_the_stacker_running_low(wire: Wire) -> None:
    await initialised(wire)
    reply = await wire.host.call(Command.MOVE, Position.GATE)
    assert reply.card is CardStatus.AT_GATE
    await wire.control.take_card(timeout=1)
    assert (await wire.host.call(Command.STATUS)).card is CardStatus.NO_CARD
    await wire.control.load_stacker(2)
    assert (await wire.host.call(Command.STATUS)).stacker is StackerStatus.LOW
    sensors = parse_sensors((await wire.host.call(Command.SENSORS)).data)
    assert sensors[:4] == (False, False, True, False)
    await wire.control.load_stacker(0)
    assert (await wire.host.call(Command.STATUS)).stacker is StackerStatus.EMPTY
    refusal = await wire.host.refused(Command.MOVE, Position.IC)
    assert refusal.error is ErrorCode.STACKER_EMPTY
    assert wire.model.position is not CardPosition.INSIDE


async def test_moves_with_a_card_and_the_reject_bin(wire: Wire) -> None:
    await initialised(wire)
    assert (await wire.host.refused(Command.MOVE, Position.REJECT_BIN)).error is (
        ErrorCode.SEQUENCE_ERROR
    )
    await wire.host.call(Command.MOVE, Position.IC)
    assert (await wire.host.call(Command.MOVE, Position.GATE)).card is CardStatus.AT_GATE
    assert (await wire.host.call(Command.MOVE, Position.HOLD)).card is CardStatus.AT_POSITION
    assert wire.model.stacker_count == STACKER - 1  # the card came back: none issued
    reply = await wire.host.call(Command.MOVE, Position.REJECT_BIN)
    assert reply.card is CardStatus.NO_CARD
    assert wire.model.retained_count == 1
    counter = await wire.host.call(Command.BIN_COUNTER_READ)
    assert parse_bin_counter(counter.data) == 1
    await wire.host.call(Command.BIN_COUNTER_SET, data=bin_counter_data(0))
    assert (await wire.host.call(Command.BIN_COUNTER_READ)).data == b"000"


async def test_initialize_modes_move_a_card_in_the_channel(wire: Wire) -> None:
    await initialised(wire)
    await wire.host.call(Command.MOVE, Position.IC)
    assert (await wire.host.call(Command.INITIALIZE, InitMode.TO_GATE)).card is (CardStatus.AT_GATE)
    await wire.host.call(Command.MOVE, Position.IC)  # back in
    reply = await wire.host.call(Command.INITIALIZE, InitMode.CAPTURE_COUNTED)
    assert reply.card is CardStatus.NO_CARD
    assert wire.model.retained_count == 1
    assert wire.emulator.firmware.bin_counter == 1


async def test_entry_at_the_gate_takes_a_returned_card_in(wire: Wire) -> None:
    await initialised(wire)
    await wire.host.call(Command.ENTRY_ENABLE)
    assert wire.model.gate_open
    await wire.control.insert_card("visa")
    assert (await wire.host.call(Command.STATUS)).card is CardStatus.AT_POSITION
    assert not wire.model.gate_open  # the entry closed behind the card
    await wire.host.call(Command.ENTRY_DISABLE)
    refusal = await wire.host.refused(Command.ENTRY_ENABLE)
    assert refusal.error is ErrorCode.SEQUENCE_ERROR  # a card is already in


async def test_the_cpu_card_commands(wire: Wire) -> None:
    await initialised(wire)
    assert (await wire.host.refused(Command.CPU, CpuOperation.COLD_RESET)).error is (
        ErrorCode.SEQUENCE_ERROR
    )
    await wire.host.call(Command.MOVE, Position.IC)  # a visa card: T=1
    assert (await wire.host.call(Command.CPU, CpuOperation.STATUS)).data == b"0"
    assert (await wire.host.refused(Command.CPU, CpuOperation.APDU_AUTO, SELECT_PSE)).error is (
        ErrorCode.SEQUENCE_ERROR  # not activated yet
    )
    reset = parse_cpu_reset((await wire.host.call(Command.CPU, CpuOperation.COLD_RESET)).data)
    card = wire.model.card
    assert card is not None
    assert card.chip is not None
    assert reset.t1
    assert reset.atr == card.chip.atrs["T1"]
    assert (await wire.host.call(Command.CPU, CpuOperation.STATUS)).data == b"2"
    refusal = await wire.host.refused(Command.CPU, CpuOperation.APDU_T0, SELECT_PSE)
    assert refusal.error is ErrorCode.NOT_SUPPORTED_BY_CURRENT_IC
    fci = (await wire.host.call(Command.CPU, CpuOperation.APDU_AUTO, SELECT_PSE)).data
    assert fci[0] == 0x6F
    assert fci[-2:] == b"\x90\x00"
    assert (await wire.host.refused(Command.CPU, CpuOperation.APDU_T1)).error is (
        ErrorCode.BAD_DATA
    )
    await wire.host.call(Command.CPU, CpuOperation.POWER_OFF)
    assert (await wire.host.call(Command.CPU, CpuOperation.STATUS)).data == b"0"


async def test_a_jam_answers_10(wire: Wire) -> None:
    await initialised(wire)
    await wire.host.call(Command.MOVE, Position.IC)
    await wire.control.jam()
    assert (await wire.host.refused(Command.MOVE, Position.GATE)).error is ErrorCode.JAM
    assert (await wire.host.refused(Command.CPU, CpuOperation.COLD_RESET)).error is ErrorCode.JAM
    assert (await wire.host.refused(Command.INITIALIZE, InitMode.TO_GATE)).error is ErrorCode.JAM
    await wire.control.clear_jam()
    assert (await wire.host.call(Command.INITIALIZE, InitMode.TO_GATE)).card is (CardStatus.AT_GATE)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"C\x99\x30", ErrorCode.UNDEFINED_COMMAND),
        (b"C\x32\x35", ErrorCode.BAD_PARAMETER),
        (b"C\x52\x30", ErrorCode.NOT_SUPPORTED),  # no SAM in this unit
        (b"C\x60\x30", ErrorCode.NOT_SUPPORTED),  # nor RF
        (b"C\xa5\x31\x31", ErrorCode.BAD_DATA),  # a counter is three digits
        (b"P\x31\x30\x30\x32\x30", ErrorCode.UNDEFINED_COMMAND),  # no command at all
    ],
)
async def test_refusals(wire: Wire, text: bytes, error: ErrorCode) -> None:
    await initialised(wire)
    reply = decode_frame(await wire.host.raw(build_frame(text)))
    assert reply == Refusal(text[1], text[2], error)


async def test_the_negative_head_can_be_e() -> None:
    world = World("wire591e", clock_scale=SCALE)
    host_end, device_end = memory_pair()
    await host_end.open()
    await device_end.open()
    try:
        async with Crt591Emulator(issuer_model(world), MemoryLink(device_end), negative_head=0x45):
            reply = await Host(host_end).raw(build_command(Command.MOVE, Position.IC))
            assert reply.text[:1] == b"E"
            assert decode_frame(reply) == Refusal(0x32, 0x31, ErrorCode.NOT_INITIALISED, 0x45)
    finally:
        await host_end.close()
        await device_end.close()


# --- the link layer and its faults ----------------------------------------------------------


async def test_bad_bcc_is_naked_and_garbage_and_other_addresses_are_skipped(wire: Wire) -> None:
    status = build_command(Command.STATUS)
    await wire.host.send(status[:-1] + bytes((status[-1] ^ 1,)))
    assert await wire.host.next() is Control.NAK
    await wire.host.send(build_command(Command.STATUS, address=7))
    assert await wire.host.silent()
    assert wire.emulator.stats.foreign == 1
    await wire.host.send(b"\xff\x00garbage" + status)
    assert await wire.host.next() is Control.ACK
    assert isinstance(await wire.host.next(), Frame)
    assert wire.emulator.stats.noise == 9
    assert wire.emulator.executed == [(0x31, 0x30)]


async def test_a_nak_after_a_reply_gets_the_same_reply_without_running_it_again(
    wire: Wire,
) -> None:
    await initialised(wire)
    command = build_command(Command.MOVE, Position.IC)
    await wire.host.send(command)
    assert await wire.host.next() is Control.ACK
    first = await wire.host.next()
    await wire.host.send(NAK)
    assert await wire.host.next() == first
    await wire.host.send(ACK)
    await wire.host.send(NAK)  # acknowledged: nothing left to send again
    assert await wire.host.silent()
    assert wire.model.stacker_count == STACKER - 1
    assert wire.emulator.stats.resent == 1


async def test_eot_forgets_the_last_reply_and_is_not_echoed(wire: Wire) -> None:
    await initialised(wire)
    await wire.host.send(build_command(Command.STATUS))
    assert await wire.host.next() is Control.ACK
    assert isinstance(await wire.host.next(), Frame)
    await wire.host.send(EOT)
    assert await wire.host.silent()
    await wire.host.send(NAK)
    assert await wire.host.silent()


async def test_nak_storm_corrupt_reply_and_injected_garbage(wire: Wire) -> None:
    status = build_command(Command.STATUS)
    wire.emulator.nak_next(2)
    for _ in range(2):
        await wire.host.send(status)
        assert await wire.host.next() is Control.NAK
    wire.emulator.corrupt_next_reply()
    wire.emulator.inject_garbage(b"\x00\x7f")
    await wire.host.send(status)
    garbage = await wire.host.next()
    assert await wire.host.next() is Control.ACK
    corrupted = await wire.host.next()
    assert isinstance(garbage, BadFrame)
    assert isinstance(corrupted, BadFrame)  # a frame with a bad BCC
    await wire.host.send(NAK)
    assert isinstance(await wire.host.next(), Frame)


async def test_a_muted_or_unpowered_unit_says_nothing_and_wakes_uninitialised(
    wire: Wire,
) -> None:
    await initialised(wire)
    wire.emulator.mute()
    await wire.host.send(build_command(Command.STATUS))
    assert await wire.host.silent()
    wire.emulator.mute(False)
    await wire.control.power_loss()
    await wire.host.send(build_command(Command.STATUS))
    assert await wire.host.silent()
    await wire.control.power_loss(False)
    assert not wire.emulator.firmware.initialised
    assert (await wire.host.refused(Command.MOVE, Position.IC)).error is (ErrorCode.NOT_INITIALISED)


# --- the real driver through hal.open on a pty ----------------------------------------------


@pytest.fixture
def specs() -> Iterator[None]:
    with crt591_registered():
        yield


async def test_issuing_through_the_hal_keeps_the_books_with_the_stacker(
    tmp_path: Path, specs: None
) -> None:
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    async with rig.wire() as (_, emulator), hal.open(rig.address()) as reader:
        assert isinstance(reader, CardReader)
        caps = await reader.capabilities()
        assert caps.features() == CRT591_DRIVER.capabilities["card_reader"]
        assert caps.dispense_capacity == STACKER
        await rig.control.load_stacker(3)
        await reader.load_stacker(await rig.control.stacker_count(), reason="counted")
        with reader.events(kinds=[StorageError, MediaRemoved]) as sub:
            for n in range(3):
                await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=5)
                assert (await reader.status()).media is MediaStatus.PRESENT
                if n == 0:
                    with pytest.raises(Occupied):
                        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
                    chip = (await reader.read_raw_data([Track.CHIP], timeout=5))[Track.CHIP]
                    card = rig.model.card
                    assert card is not None
                    assert card.chip is not None
                    assert chip.data == card.chip.atrs["T1"]
                    atr = await reader.chip_power(ChipPowerAction.COLD, timeout=5)
                    assert atr == chip.data
                if n == 1:  # this one is spoilt: into the reject bin
                    await reader.move(MoveTarget.RETAIN, timeout=5)
                    retained = await reader.retain_bin()
                    assert retained.count == rig.model.retained_count == 1
                else:
                    await reader.move(MoveTarget.EXIT, timeout=5)
                    await rig.control.take_card(timeout=2)
                    await sub.wait_for(MediaRemoved, timeout=2)
                sub.drain()
                stacker = await reader.stacker()
                assert stacker.count == rig.model.stacker_count == 2 - n
                assert stacker.pending == stacker.unknown == 0
            assert (await reader.status()).stacker is ReplenishmentStatus.EMPTY
            with pytest.raises(NoMedia):
                await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=5)
            failure = await sub.wait_for(StorageError, timeout=2)
            assert isinstance(failure, StorageError)
            assert (failure.failure, failure.unit) == ("empty", DISPENSE_UNIT)
        # The books said 0: the unit was never asked (one move per issued card).
        issued = [pm for cm, pm in emulator.executed if cm == Command.MOVE.cm]
        assert issued.count(Position.IC) == 3
        assert sorted(issued) == [Position.IC] * 3 + [Position.REJECT_BIN] + [Position.GATE] * 2
        assert (await reader.stacker()).count == rig.model.stacker_count == 0
        assert (await reader.retain_bin()).count == rig.model.retained_count == 1


async def test_the_unit_finding_the_stacker_empty_is_no_media_and_a_storage_error(
    tmp_path: Path, specs: None
) -> None:
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    async with rig.reader() as reader:
        await reader.load_stacker(5, reason="miscounted")
        await rig.control.load_stacker(0)
        with reader.events(kinds=[StorageError]) as sub:
            with pytest.raises(NoMedia):
                await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT, timeout=5)
            await sub.wait_for(StorageError, timeout=2)
        stacker = await reader.stacker()
        assert stacker.count == 5  # the failed dispense moved nothing in the books
        assert stacker.status is ReplenishmentStatus.EMPTY  # the sensor wins


async def test_a_card_jammed_while_issuing_has_left_the_stacker_in_the_books(
    tmp_path: Path, specs: None
) -> None:
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    async with rig.reader() as reader:
        await reader.load_stacker(STACKER)
        await rig.control.jam()
        with pytest.raises(MediaJam):
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=5)
        stacker = await reader.stacker()
        assert stacker.count == rig.model.stacker_count == STACKER - 1
        assert stacker.unknown == stacker.pending == 0
        assert (await reader.status()).media is MediaStatus.JAMMED
        await rig.control.clear_jam()
        await reader.reset(ResetAction.EXIT, timeout=5)
        await rig.control.take_card(timeout=2)
        assert await rig.control.card_position() == "customer"


async def test_unplug_mid_read_is_connection_lost_and_the_driver_recovers_on_replug(
    tmp_path: Path, specs: None
) -> None:
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    async with rig.wire() as (bridge, emulator):
        reader = hal.open(rig.address())
        assert isinstance(reader, CardReader)
        async with reader:
            await reader.load_stacker(STACKER)
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=5)
            # The driver waits for a slow reply when the cable goes.
            emulator.set_reply_delay(0.6)
            powering = asyncio.create_task(reader.chip_power(ChipPowerAction.COLD, timeout=30))
            await asyncio.sleep(0.05)
            bridge.unplug()
            with pytest.raises(ConnectionLost):
                await asyncio.wait_for(powering, 2)  # a bound: ConnectionLost, not the timeout
            emulator.set_reply_delay(0)
            assert (await reader.status()).device is DeviceState.NO_DEVICE
            bridge.replug()
            # The same device, never reopened by the app, works again.
            assert (await reader.status()).media is MediaStatus.PRESENT
            await reader.move(MoveTarget.EXIT, timeout=5)
            await rig.control.take_card(timeout=2)
            # Waiting for a card at the gate (polling) when the cable goes.
            with reader.events(kinds=[InsertCard]) as sub:
                waiting = asyncio.create_task(reader.read_raw_data([Track.CHIP], timeout=30))
                await sub.wait_for(InsertCard, timeout=2)
                bridge.unplug()
                with pytest.raises(ConnectionLost):
                    await asyncio.wait_for(waiting, 2)
            bridge.replug()
            with reader.events(kinds=[InsertCard]) as sub:
                read = asyncio.create_task(reader.read_raw_data([Track.CHIP], timeout=5))
                await sub.wait_for(InsertCard, timeout=2)
                sample = await rig.control.insert_card("visa")
                assert (await read)[Track.CHIP].data == sample.atr
            assert bridge.generation == 3


async def test_nak_and_garbage_on_the_pty_are_absorbed(tmp_path: Path, specs: None) -> None:
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    async with rig.wire() as (_, emulator):
        reader = hal.open(rig.address())
        assert isinstance(reader, CardReader)
        async with reader:
            await reader.load_stacker(STACKER)
            emulator.nak_next(2)
            emulator.inject_garbage(b"\x00\xf2\x13")
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=5)
            emulator.corrupt_next_reply()
            assert (await reader.status()).media is MediaStatus.PRESENT
        assert emulator.stats.naks == 2
        assert emulator.stats.resent == 1
        assert rig.model.stacker_count == STACKER - 1


# --- over the simulated USB bus -------------------------------------------------------------


async def test_the_driver_runs_over_usb_bulk_pipes(tmp_path: Path) -> None:
    world = World("usb591", clock_scale=SCALE)
    model = issuer_model(world)
    device = SimUsbDevice(
        dataclasses.replace(
            bulk_spec(SIM_VENDOR_ID, 0x0591, product="CRT-591 (simulated)"),
            serial="CRT591-U0001",
        )
    )
    address = (
        f"crt591+usb://{SIM_VENDOR_ID:04x}:0591?backend=sim&serial=CRT591-U0001"
        f"&stacker_capacity={STACKER}&retain_capacity={BIN}&ledger={tmp_path / 'l.db'}&{FAST}"
    )
    with registered(CRT591_DRIVER, USB_TRANSPORT, SPY_TRANSPORT):
        link = UsbLink(device)
        with default_bus().plugged(device):
            async with Crt591Emulator(model, link):
                reader = hal.open(address)
                assert isinstance(reader, CardReader)
                async with reader:
                    await reader.load_stacker(STACKER)
                    await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT, timeout=5)
                    await world.card_reader_control().take_card(timeout=2)
                    assert (await reader.stacker()).count == model.stacker_count == STACKER - 1
