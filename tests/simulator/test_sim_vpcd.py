"""simulator.wire.vpcd and pcsc_slot: the virtual card on the vpcd protocol, the dip slot.

The protocol tests put a stand-in for vpcd (a loopback TCP server speaking the same
frames) on the other end, so every frame can be checked byte for byte; the slot tests
and the golden run go through the real pcscd.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.errors import HalTimeout, Occupied, SequenceError, UnsupportedOperation
from hal.stimulus import CardReaderStimulus
from hal.transports.pcsc import PcscReader
from simulator.emv import EmvChip
from simulator.profiles import load_card_profile
from simulator.wire.pcsc_slot import PcscSlot, PcscSlotControl
from simulator.wire.vpcd import MUTE_ATR, VirtualCard, card_atr, take_frames
from simulator.wire.vpcd import frame as vpcd_frame
from tests.pcsc_rig import PORTS, READERS, SELECT_PSE, require_pcscd

# The machine's one pcscd and its vpcd ports: under pytest-xdist (--dist loadgroup) all
# of these tests run on one worker, one at a time.
pytestmark = pytest.mark.xdist_group("pcscd")

VISA = load_card_profile("visa")
assert VISA.chip is not None


def frame(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


@dataclass
class FakeVpcd:
    """vpcd's side of the wire: a loopback server the card connects to."""

    server: asyncio.Server
    port: int
    peers: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def peer(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await asyncio.wait_for(self.arrived.wait(), 2)
        self.arrived.clear()
        return self.peers[-1]

    async def ask(
        self, writer_reader: tuple[asyncio.StreamReader, asyncio.StreamWriter], payload: bytes
    ) -> bytes:
        reader, writer = writer_reader
        writer.write(frame(payload))
        await writer.drain()
        size = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 2))[0]
        return await asyncio.wait_for(reader.readexactly(size), 2)


@pytest.fixture
async def vpcd() -> AsyncIterator[FakeVpcd]:
    fake: FakeVpcd | None = None

    def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert fake is not None
        fake.peers.append((reader, writer))
        fake.arrived.set()

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    fake = FakeVpcd(server, server.sockets[0].getsockname()[1])
    try:
        yield fake
    finally:
        for _, writer in fake.peers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_card_answers_atr_power_and_apdus_like_the_emv_chip(vpcd: FakeVpcd) -> None:
    async with VirtualCard(VISA, port=vpcd.port) as card:
        peer = await vpcd.peer()
        assert await vpcd.ask(peer, b"\x04") == VISA.chip.atrs["T1"]
        # An APDU before power on: no chip to answer (6F00).
        assert await vpcd.ask(peer, SELECT_PSE) == b"\x6f\x00"
        peer[1].write(frame(b"\x01"))  # power on: no answer
        direct = EmvChip(VISA.chip, "T1")
        assert await vpcd.ask(peer, SELECT_PSE) == direct.exchange(SELECT_PSE)
        assert card.stats.apdus == 2
        assert card.stats.atr_polls == 1
        assert card.stats.power_ons == 1


async def test_frames_split_and_joined_anyhow_are_answered_in_order(vpcd: FakeVpcd) -> None:
    async with VirtualCard(VISA, port=vpcd.port):
        reader, writer = await vpcd.peer()
        stream = frame(b"\x01") + frame(b"\x04") + frame(SELECT_PSE) + frame(b"\x04")
        for i in range(0, len(stream), 3):  # 3-byte pieces across every boundary
            writer.write(stream[i : i + 3])
            await writer.drain()
            await asyncio.sleep(0.001)
        direct = EmvChip(VISA.chip, "T1")
        expected = (
            frame(VISA.chip.atrs["T1"])
            + frame(direct.exchange(SELECT_PSE))
            + frame(VISA.chip.atrs["T1"])
        )
        got = await asyncio.wait_for(reader.readexactly(len(expected)), 2)
        assert got == expected


async def test_a_reset_gives_a_fresh_chip(vpcd: FakeVpcd) -> None:
    async with VirtualCard(VISA, port=vpcd.port) as card:
        peer = await vpcd.peer()
        peer[1].write(frame(b"\x01"))
        aid = VISA.chip.applications[0].aid
        select = bytes([0, 0xA4, 4, 0, len(aid)]) + aid + b"\x00"
        assert (await vpcd.ask(peer, select))[-2:] == b"\x90\x00"
        assert card.chip is not None
        assert card.chip.selected is not None
        peer[1].write(frame(b"\x02"))  # reset
        assert (await vpcd.ask(peer, b"\x04")) == VISA.chip.atrs["T1"]
        assert card.chip.selected is None
        peer[1].write(frame(b"\x00"))  # power off
        assert await vpcd.ask(peer, SELECT_PSE) == b"\x6f\x00"


@pytest.mark.parametrize("profile", ["mag_only", "unreadable"])
def test_a_chipless_card_has_the_mute_atr(profile: str) -> None:
    assert card_atr(load_card_profile(profile), frozenset({"T0", "T1"})) == (MUTE_ATR, None)
    assert MUTE_ATR
    assert MUTE_ATR[0] not in (0x3B, 0x3F)


def test_the_atr_follows_the_protocols_the_reader_offers() -> None:
    assert card_atr(VISA, frozenset({"T0", "T1"})) == (VISA.chip.atrs["T1"], "T1")
    assert card_atr(VISA, frozenset({"T0"})) == (VISA.chip.atrs["T0"], "T0")
    assert card_atr(VISA, frozenset()) == (MUTE_ATR, None)


async def test_quickack_is_armed_after_every_receive(vpcd: FakeVpcd) -> None:
    for quickack in (True, False):
        async with VirtualCard(VISA, port=vpcd.port, quickack=quickack) as card:
            peer = await vpcd.peer()
            armed_at_connect = card.stats.quickacks
            for _ in range(3):
                await vpcd.ask(peer, b"\x04")
            assert card.stats.receives == 3
            assert card.stats.quickacks - armed_at_connect == (3 if quickack else 0)


async def test_remove_is_idempotent_and_closes_the_socket(vpcd: FakeVpcd) -> None:
    card = VirtualCard(VISA, port=vpcd.port)
    await card.insert()
    await card.insert()  # already in: nothing
    assert card.inserted
    reader, _ = await vpcd.peer()
    await card.remove()
    await card.remove()
    assert not card.inserted
    assert await asyncio.wait_for(reader.read(), 2) == b""  # vpcd sees the card leave


async def test_a_card_cannot_go_in_without_vpcd() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    with pytest.raises(ConnectionRefusedError):
        await VirtualCard(VISA, port=port).insert()


async def test_the_slot_reconnects_when_the_link_drops(vpcd: FakeVpcd) -> None:
    async with PcscSlot(vpcd.port) as slot:
        insert = asyncio.create_task(slot.insert("visa"))
        peer = await vpcd.peer()
        await vpcd.ask(peer, b"\x04")  # a presence poll before power: not yet seen
        peer[1].write(frame(b"\x01"))  # pcscd powers the card and reads its ATR
        assert await vpcd.ask(peer, b"\x04") == VISA.chip.atrs["T1"]
        await insert
        assert slot.position == "inside"
        peer[1].close()  # pcscd went away (restarted): the link drops
        again = await vpcd.peer()
        assert await vpcd.ask(again, b"\x04") == VISA.chip.atrs["T1"]
        assert slot.position == "inside"
        await slot.pull()
        assert slot.position == "customer"
        assert await asyncio.wait_for(again[0].read(), 2) == b""


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_frames_come_out_whole_and_in_order_however_the_stream_is_cut(
    payloads: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(vpcd_frame(p) for p in payloads)
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    buffer, got = bytearray(), []
    for start, end in itertools.pairwise(bounds):
        buffer += stream[start:end]
        got += take_frames(buffer)
    assert got == payloads
    assert buffer == b""


def test_a_frame_says_its_length_big_endian() -> None:
    assert vpcd_frame(b"\x04") == b"\x00\x01\x04"
    assert vpcd_frame(bytes(300))[:2] == b"\x01\x2c"
    with pytest.raises(ValueError, match="65535"):
        vpcd_frame(bytes(0x10000))
    partial = bytearray(b"\x00\x05abc")
    assert take_frames(partial) == []
    assert partial == b"\x00\x05abc"  # kept until the rest comes


# --- the slot and its stimulus on the real pcscd --------------------------------------------


@pytest.fixture
async def slot() -> AsyncIterator[PcscSlot]:
    require_pcscd()
    async with PcscReader(READERS[0]) as reader:
        await reader.wait_absent(timeout=2)  # a card an earlier test pulled is gone
    async with PcscSlot(PORTS[0]) as slot:
        yield slot


async def test_the_stimulus_is_a_card_reader_stimulus(slot: PcscSlot) -> None:
    control = PcscSlotControl(slot)
    assert isinstance(control, CardReaderStimulus)
    assert await control.card_position() == "none"
    assert await control.retained_count() == 0
    with pytest.raises(UnsupportedOperation, match="no motor"):
        await control.jam()
    with pytest.raises(UnsupportedOperation, match="no motor"):
        await control.clear_jam()
    with pytest.raises(HalTimeout, match="no card in the slot"):
        await control.take_card(timeout=0.1)


async def test_insert_and_take_follow_the_ground_truth(slot: PcscSlot) -> None:
    control = PcscSlotControl(slot)
    async with PcscReader(READERS[0]) as reader:
        await reader.wait_absent(timeout=2)
        sample = await control.insert_card("visa")
        assert sample.profile == "visa"
        assert sample.has_chip
        assert sample.atr == VISA.chip.atrs["T1"]
        assert await control.card_position() == "inside"
        # insert_card returns once pcscd has the card: the reader shows it at once.
        state = await reader.state()
        assert state.present
        assert state.atr == sample.atr
        with pytest.raises(Occupied):
            await control.insert_card("visa")
        await control.take_card(timeout=1)
        assert await control.card_position() == "customer"
        assert not (await reader.wait_absent(timeout=2)).present


async def test_a_never_taken_card_stays_in_the_slot(slot: PcscSlot) -> None:
    control = PcscSlotControl(slot)
    await control.insert_card("never_taken")
    with pytest.raises(SequenceError, match="never takes it"):
        await control.take_card(timeout=1)
    assert await control.card_position() == "inside"


async def test_take_waits_for_a_card_to_come(slot: PcscSlot) -> None:
    control = PcscSlotControl(slot)
    taking = asyncio.create_task(control.take_card(timeout=3))
    await asyncio.sleep(0.05)
    assert not taking.done()
    await control.insert_card("visa")
    await taking
    assert await control.card_position() == "customer"


async def test_golden_select_pse_through_pcscd_equals_the_chip(slot: PcscSlot) -> None:
    async with PcscReader(READERS[0]) as reader:
        await reader.wait_absent(timeout=2)
        await slot.insert("visa")
        await reader.connect()
        through_the_stack = await reader.transmit(SELECT_PSE)
    assert through_the_stack == EmvChip(VISA.chip, "T1").exchange(SELECT_PSE)
    assert through_the_stack.hex().upper() == (
        "6F1A840E315041592E5359532E4444463031A5088801015F2D02656E9000"
    )
