"""The CRT-310 emulator and the pty bridge: reference vectors, the link layer, faults.

A bare host (raw bytes on a memory pair) talks to the emulator, so what is checked is
the wire itself; reference vectors are reference/protocols.md §7 #16-#18. At the end,
the real driver on a pty: unplugged mid-read, replugged, spied on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import hal
from hal.device import DeviceState
from hal.devices.card_reader import CardReader, ChipPowerAction, InsertCard, Track
from hal.errors import ConnectionLost
from hal.transports.memory import MemoryTransport, memory_pair
from protocols.crt310 import (
    CardPosition,
    Command,
    Control,
    CpuResetReply,
    Crt310StreamDecoder,
    EntryMode,
    ErrorCode,
    ErrorReply,
    Frame,
    OperationStatus,
    StatusReply,
    TrackReadReply,
    TrackStatus,
    build_apdu_command,
    build_command,
    build_entry_control,
    decode_reply,
)
from simulator.control import CardReaderControl
from simulator.models.card_reader import CardReaderModel
from simulator.wire.crt310 import Crt310Emulator
from simulator.wire.crt310_firmware import VERSION
from simulator.wire.link import MemoryLink, WirePacer
from simulator.wire.pty import PtyBridge
from simulator.world import CardReaderSetup, World
from tests.creator_rig import RawHost
from tests.crt310_rig import PtyRig, crt310_registered

SCALE = 0.005
ACK, NAK, ENQ, EOT = b"\x06", b"\x15", b"\x05", b"\x04"
SELECT_PSE = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01"


def frame(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.replace('"1PAY.SYS.DDF01"', b"1PAY.SYS.DDF01".hex()))


class Host(RawHost):
    """A bare host: raw bytes out, decoded items in."""

    def __init__(self, end: MemoryTransport) -> None:
        super().__init__(end, Crt310StreamDecoder())

    async def exchange(self, command: bytes) -> Frame:
        await self.send(command)
        assert await self.next() is Control.ACK
        await self.send(ENQ)
        reply = await self.next()
        assert isinstance(reply, Frame), reply
        return reply


@dataclass
class Wire:
    host: Host
    emulator: Crt310Emulator
    model: CardReaderModel
    control: CardReaderControl


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    world = World("wire", clock_scale=SCALE)
    model = world.card_reader(setup=CardReaderSetup(take_timeout=None))
    host_end, device_end = memory_pair()
    await host_end.open()
    await device_end.open()
    async with Crt310Emulator(model, MemoryLink(device_end)) as emulator:
        yield Wire(Host(host_end), emulator, model, world.card_reader_control())
    await host_end.close()
    await device_end.close()


async def insert(wire: Wire, profile: str = "visa") -> None:
    await wire.host.exchange(build_entry_control(EntryMode.SWITCH, rear_allowed=False))
    await wire.control.insert_card(profile)
    await wire.control.wait_for("card_inside", timeout=1)


# --- reference vectors ----------------------------------------------------------------------


async def test_status_vector_17_after_opening_the_front_and_the_rear(wire: Wire) -> None:
    await wire.host.exchange(build_entry_control(EntryMode.SWITCH, rear_allowed=True))
    reply = await wire.host.exchange(frame("02 00 02 31 30 03 02"))
    assert reply.to_bytes() == frame("02 00 05 31 30 4E 4A 4A 03 4B")


@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        ("02 00 02 32 2F 03 1E", "02 00 03 32 2F 45 03"),  # move to IC: 'E' no card
        ("02 00 02 32 33 03 02", "02 00 03 32 33 45 03"),  # capture: 'E'
        ("02 00 02 33 30 03 00", "02 00 03 33 30 45 03"),  # IC power on: 'E'
        ("02 00 02 37 30 03 04", "02 00 03 37 30 45 03"),  # CPU cold reset: 'E'
        # read all tracks, ASCII: nothing under the head, 4F E0 for each track
        ("02 00 04 45 30 30 37 03 77", "02 00 0D 45 30 30 37 1F 4F E0 1F 4F E0 1F 4F E0 03"),
    ],
)
async def test_vectors_16_without_a_card(wire: Wire, vector: str, expected: str) -> None:
    """The replies are built from the layout; their BCC is recomputed here by a loop."""
    body = frame(expected)
    bcc = 0
    for byte in body:
        bcc ^= byte
    reply = (await wire.host.exchange(frame(vector))).to_bytes()
    assert reply == body + bytes((bcc,))


async def test_reset_vector_answers_the_version(wire: Wire) -> None:
    reply = await wire.host.exchange(frame("02 00 02 30 30 03 03"))
    assert (reply.cm, reply.pm, reply.data) == (0x30, 0x30, VERSION)


async def test_vector_18_select_pse_on_a_t0_chip(wire: Wire) -> None:
    await insert(wire, "mastercard")
    reset = decode_reply(await wire.host.exchange(build_command(Command.CPU_COLD_RESET)))
    assert isinstance(reset, CpuResetReply)
    assert reset.status is OperationStatus.SUCCESS  # 'Y': the chip runs T=0
    select = frame('02 00 17 37 31 00 13 00 A4 04 00 0E "1PAY.SYS.DDF01" 03 CA')
    answer = (await wire.host.exchange(select)).data
    assert answer[:3] == b"Y\x00\x02"
    assert answer[3] == 0x61  # T=0: the FCI waits for GET RESPONSE
    fetched = await wire.host.exchange(build_apdu_command(bytes([0, 0xC0, 0, 0, answer[4]])))
    assert fetched.data[3] == 0x6F
    assert fetched.data[-2:] == b"\x90\x00"


# --- commands on a card -------------------------------------------------------------------


async def test_a_card_inside_is_read_and_its_chip_answers(wire: Wire) -> None:
    await insert(wire, "visa")
    status = decode_reply(await wire.host.exchange(build_command(Command.STATUS)))
    assert isinstance(status, StatusReply)
    assert status.position is CardPosition.INSIDE
    tracks = decode_reply(await wire.host.exchange(frame("02 00 04 45 30 30 37 03 77")))
    assert isinstance(tracks, TrackReadReply)
    card = wire.model.card
    assert card is not None
    assert [t.status for t in tracks.tracks] == [TrackStatus.OK] * 3
    assert [t.data for t in tracks.tracks] == [card.tracks[t] for t in sorted(card.tracks)]
    reset = decode_reply(await wire.host.exchange(build_command(Command.CPU_COLD_RESET)))
    assert isinstance(reset, CpuResetReply)
    assert reset.status is OperationStatus.SUCCESS_T1  # 'Z'
    engaged = decode_reply(await wire.host.exchange(build_command(Command.STATUS)))
    assert isinstance(engaged, StatusReply)
    assert engaged.position is CardPosition.INSIDE_IC_ENGAGED
    wrong = await wire.host.exchange(build_apdu_command(SELECT_PSE + b"\x00"))
    assert wrong.data == b"N"  # a T=0 exchange with a T=1 chip
    fci = await wire.host.exchange(build_apdu_command(SELECT_PSE + b"\x00", t1=True))
    assert fci.data[3] == 0x6F
    assert fci.data[-2:] == b"\x90\x00"


async def test_a_jammed_card_makes_card_commands_answer_abnormal_card(wire: Wire) -> None:
    await insert(wire)
    await wire.control.jam()
    jam = decode_reply(await wire.host.exchange(build_command(Command.MOVE_FRONT_HOLD)))
    assert jam == ErrorReply(0x32, ErrorCode.ABNORMAL_CARD)
    status = decode_reply(await wire.host.exchange(build_command(Command.STATUS)))
    assert isinstance(status, StatusReply)
    assert status.position is CardPosition.LONG_CARD


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (build_command(0x99, 0x30), ErrorCode.BAD_COMMAND),
        (build_command(Command.SENSORS_V3), ErrorCode.CANNOT_EXECUTE),
        (build_command(Command.READ_TRACKS, data=b"\x30"), ErrorCode.BAD_DATA),
        (build_command(Command.READ_TRACKS, data=b"\x30\x39"), ErrorCode.BAD_PARAMETER),
    ],
)
async def test_error_replies(wire: Wire, command: bytes, code: ErrorCode) -> None:
    reply = decode_reply(await wire.host.exchange(command))
    assert reply == ErrorReply(command[3], code)


# --- the link layer and its faults --------------------------------------------------------


async def test_bad_bcc_is_naked_and_garbage_between_frames_is_skipped(wire: Wire) -> None:
    status = build_command(Command.STATUS)
    await wire.host.send(status[:-1] + bytes((status[-1] ^ 1,)))
    assert await wire.host.next() is Control.NAK
    await wire.host.send(b"\xff\x00garbage" + status)
    assert await wire.host.next() is Control.ACK
    assert wire.emulator.stats.noise == 9
    assert wire.emulator.executed == []  # nothing runs before ENQ


async def test_enq_without_a_command_and_eot(wire: Wire) -> None:
    await wire.host.send(ENQ)
    assert await wire.host.silent()
    await wire.host.send(build_command(Command.STATUS))
    assert await wire.host.next() is Control.ACK
    await wire.host.send(EOT)
    assert await wire.host.next() is Control.EOT
    await wire.host.send(ENQ)
    assert await wire.host.silent()  # EOT dropped the acknowledged command
    assert wire.emulator.executed == []


async def test_a_nak_after_a_reply_gets_the_same_reply_without_running_it_again(
    wire: Wire,
) -> None:
    first = await wire.host.exchange(build_command(Command.RESET))
    await wire.host.send(NAK)
    assert await wire.host.next() == first
    assert wire.emulator.executed == [Command.RESET]
    assert wire.emulator.stats.resent == 1


async def test_nak_storm_corrupt_reply_and_injected_garbage(wire: Wire) -> None:
    status = build_command(Command.STATUS)
    wire.emulator.nak_next(2)
    for _ in range(2):
        await wire.host.send(status)
        assert await wire.host.next() is Control.NAK
    wire.emulator.corrupt_next_reply()
    wire.emulator.inject_garbage(b"\x00\x7f")
    await wire.host.send(status)
    bad = await wire.host.next()  # the garbage
    assert await wire.host.next() is Control.ACK
    await wire.host.send(ENQ)
    corrupted = await wire.host.next()
    assert not isinstance(bad, Frame | Control)
    assert not isinstance(corrupted, Frame | Control)  # a frame with a bad BCC
    await wire.host.send(NAK)
    assert isinstance(await wire.host.next(), Frame)


async def test_a_muted_or_unpowered_reader_says_nothing(wire: Wire) -> None:
    wire.emulator.mute()
    await wire.host.send(build_command(Command.STATUS))
    assert await wire.host.silent()
    wire.emulator.mute(False)
    await wire.control.power_loss()
    await wire.host.send(build_command(Command.STATUS))
    assert await wire.host.silent()
    await wire.control.power_loss(False)
    assert isinstance(await wire.host.exchange(build_command(Command.STATUS)), Frame)


async def test_slow_replies_and_pacing(wire: Wire) -> None:
    wire.emulator.set_reply_delay(0.03)
    start = time.perf_counter()
    await wire.host.exchange(build_command(Command.STATUS))
    assert time.perf_counter() - start >= 0.03
    wire.emulator.set_reply_delay(0)
    wire.emulator.pacer.baud = 9600
    start = time.perf_counter()
    await wire.host.exchange(build_command(Command.STATUS))
    # 7 + 1 + 1 + 10 bytes, 10 bits each: 19.8 ms on a 9600 baud line.
    assert time.perf_counter() - start >= 19 * 10 / 9600


async def test_precise_pacing_holds_bytes_exactly_their_wire_time() -> None:
    pacer = WirePacer(115200, precise=True)
    start = time.perf_counter()
    await pacer.received(100)  # 100 bytes x 10 bits at 115200 baud: 8.68 ms
    await pacer.sending(10)  # the other direction runs on its own clock: 0.87 ms
    elapsed = time.perf_counter() - start
    assert 0.00955 <= elapsed < 0.05


# --- the pty bridge -----------------------------------------------------------------------


def resolved(link: Path) -> str:
    return os.path.realpath(link)


def hung_up(fd: int) -> bool:
    """The host side of a pty whose master closed: EIO, or end of file."""
    try:
        return os.read(fd, 1) == b""
    except OSError:
        return True


def exists(path: Path) -> bool:
    return path.exists()


async def test_the_bridge_keeps_its_symlink_across_unplug_and_replug(tmp_path: Path) -> None:
    link = tmp_path / "crt310"
    async with PtyBridge("crt310", directory=tmp_path) as bridge:
        first = bridge.device_path
        assert first is not None
        assert resolved(link) == first
        host = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(host, b"\x05")
            assert await asyncio.wait_for(bridge.receive(), 1) == b"\x05"
            await bridge.send(b"\x06")
            assert os.read(host, 10) == b"\x06"
            bridge.unplug()
            assert not exists(link)
            assert hung_up(host)
            await bridge.send(b"dropped")  # nobody there: no error
        finally:
            os.close(host)
        bridge.replug()
        assert bridge.generation == 2
        assert bridge.device_path is not None
        assert resolved(link) == bridge.device_path
    assert exists(tmp_path)  # a directory given to the bridge stays
    assert not exists(link)


async def test_a_bridge_without_a_directory_cleans_up_its_own() -> None:
    async with PtyBridge("crt310") as bridge:
        directory = bridge.path.parent
        assert exists(directory)
    assert not exists(directory)


# --- the real driver on the pty: unplug, replug, spy ----------------------------------------


@pytest.fixture
def specs() -> Iterator[None]:
    with crt310_registered():
        yield


async def read_track2(rig: PtyRig, reader: CardReader) -> bytes:
    with reader.events(kinds=[InsertCard]) as sub:
        read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
        await sub.wait_for(InsertCard, timeout=2)
        await rig.control.insert_card("visa")
        return (await read)[Track.TRACK2].data


async def test_unplug_mid_read_is_connection_lost_and_the_driver_recovers_on_replug(
    tmp_path: Path, specs: None
) -> None:
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    async with rig.wire() as (bridge, emulator):
        reader = hal.open(rig.address())
        assert isinstance(reader, CardReader)
        async with reader:
            # The driver is reading, waiting for a slow reply, when the cable goes.
            emulator.set_reply_delay(0.6)
            powering = asyncio.create_task(reader.chip_power(ChipPowerAction.COLD, timeout=30))
            await asyncio.sleep(0.05)
            bridge.unplug()
            with pytest.raises(ConnectionLost):
                await asyncio.wait_for(powering, 2)  # a bound: ConnectionLost, not the timeout
            emulator.set_reply_delay(0)
            assert (await reader.status()).device is DeviceState.NO_DEVICE
            # Waiting for a card (polling) when the cable goes.
            with reader.events(kinds=[InsertCard]) as sub:
                bridge.replug()
                waiting = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=30))
                await sub.wait_for(InsertCard, timeout=2)
                bridge.unplug()
                with pytest.raises(ConnectionLost):
                    await asyncio.wait_for(waiting, 2)
            bridge.replug()
            # The same device, never reopened by the app, works again.
            assert (await reader.status()).device is DeviceState.ONLINE
            track2 = await read_track2(rig, reader)
            card = rig.model.card
            assert card is not None
            assert track2 == card.tracks[Track.TRACK2]
            assert bridge.generation == 3


async def test_spy_logs_the_pty_traffic_with_track_data_masked(
    tmp_path: Path, specs: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hal.transports.spy")
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    async with rig.reader(spy=True) as reader:
        track2 = await read_track2(rig, reader)
    lines = [r.getMessage() for r in caplog.records if r.name == "hal.transports.spy"]
    assert any(" RX " in line and "READ_TRACKS" in line for line in lines)
    pan = track2.split(b"=")[0]
    assert pan.hex(" ").upper() not in "\n".join(lines)
    assert pan.decode() not in caplog.text
