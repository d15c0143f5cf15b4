"""hal.transports.pcsc: a PC/SC reader through the real pcscd, with a vpcd card in it.

The card is the simulator's (`simulator.wire.pcsc_slot`); what the reader reads is
checked against the card profile and the EMV chip answering directly.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

import pytest

from hal import registry
from hal.address import DeviceAddress
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    HalTimeout,
    InvalidMedia,
    NoMedia,
    TransportError,
)
from hal.options import parse_options
from hal.transports import pcsc, pcsc_session
from hal.transports.pcsc import Disposition, Init, PcscOptions, PcscReader, reader_from_address
from simulator.emv import EmvChip
from simulator.profiles import load_card_profile
from simulator.wire.pcsc_slot import PcscSlot
from simulator.wire.vpcd import MUTE_ATR
from tests.pcsc_rig import PORTS, READERS, SELECT_PSE, pcsc_registered, require_pcscd

VISA = load_card_profile("visa")
assert VISA.chip is not None
GET_RESPONSE = bytes.fromhex("00C00000")


# --- no pcscd needed -------------------------------------------------------------------


def test_the_module_imports_without_pyscard_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pcsc_session, "_scard", None)  # pyscard not loaded yet
    monkeypatch.setitem(sys.modules, "smartcard.scard", None)  # import fails
    assert not pcsc.pcsc_available()
    with pytest.raises(ConfigurationError, match=r"tellerhal\[pcsc\]"):
        pcsc.scard_module()


async def test_opening_without_pyscard_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcsc_session, "_scard", None)  # pyscard not loaded yet
    monkeypatch.setitem(sys.modules, "smartcard.scard", None)
    reader = PcscReader(READERS[0])
    with pytest.raises(ConfigurationError, match=r"install tellerhal\[pcsc\]"):
        await reader.open()
    assert not reader.is_open


@pytest.mark.parametrize(
    ("text", "wanted", "index"),
    [
        ("pcsc://Virtual%20PCD%2000%2001", "Virtual PCD 00 01", None),
        ("pcsc://ACS%20ACR39U?share=shared&protocol=T0", "ACS ACR39U", None),
        ("pcsc://?index=1", "", 1),
        ("pcsc://", "", None),
    ],
)
def test_the_address_names_the_reader(text: str, wanted: str, index: int | None) -> None:
    address = DeviceAddress.parse(text)
    parsed = parse_options(PcscOptions, dict(address.options), where=text)
    reader = reader_from_address(address, parsed)
    assert (reader.wanted, reader.options.index) == (wanted, index)
    assert str(address) == text


def test_a_name_and_an_index_together_are_refused() -> None:
    address = DeviceAddress.parse("pcsc://Virtual%20PCD?index=0")
    with pytest.raises(ConfigurationError, match="not both"):
        reader_from_address(address, PcscOptions(index=0))


@pytest.mark.parametrize(
    "options",
    [{"index": -1}, {"wait_slice": 0.0}, {"wait_slice": float("nan")}, {"wait_slice": 11.0}],
)
def test_options_out_of_range_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        PcscOptions(**options)  # type: ignore[arg-type]


def test_the_transport_is_registered_under_pcsc() -> None:
    with pcsc_registered():
        spec = registry.transport("pcsc")
        assert spec is pcsc.PCSC_TRANSPORT
        reader = registry.make_transport(DeviceAddress.parse("pcsc+pcsc://Virtual%20PCD%2000%2000"))
        assert isinstance(reader, PcscReader)
        assert reader.wanted == "Virtual PCD 00 00"


async def test_a_reader_not_open_refuses_calls() -> None:
    with pytest.raises(TransportError, match="not open"):
        await PcscReader(READERS[0]).state()


# --- through pcscd ------------------------------------------------------------------------


@pytest.fixture
def pcscd() -> None:
    require_pcscd()


@pytest.fixture
async def reader(pcscd: None) -> AsyncIterator[PcscReader]:
    async with PcscReader(READERS[1]) as reader:
        # pcscd sees a card pulled by the test before up to 0.4 s later (vpcd polls).
        await reader.wait_absent(timeout=2)
        yield reader


@pytest.fixture
async def slot(pcscd: None) -> AsyncIterator[PcscSlot]:
    async with PcscSlot(PORTS[1]) as slot:
        yield slot


async def test_lists_the_vpcd_readers_and_finds_by_prefix(reader: PcscReader) -> None:
    readers = await reader.list_readers()
    assert set(READERS) <= set(readers)
    async with PcscReader("Virtual PCD 00 01") as exact, PcscReader("Virtual PCD 00 00") as first:
        assert (exact.name, first.name) == (READERS[1], READERS[0])


async def test_an_unknown_or_ambiguous_reader_is_connection_lost(pcscd: None) -> None:
    with pytest.raises(ConnectionLost, match=r"no reader named 'Nope'.*Virtual PCD 00 00"):
        await PcscReader("Nope").open()
    with pytest.raises(ConnectionLost, match="2 readers named 'Virtual PCD'"):
        await PcscReader("Virtual PCD").open()
    with pytest.raises(ConnectionLost, match="no PC/SC reader at index 99"):
        await PcscReader("", PcscOptions(index=99)).open()
    async with PcscReader("", PcscOptions(index=1)) as second:
        assert second.name == READERS[1]


async def test_insert_connect_transmit_remove(reader: PcscReader, slot: PcscSlot) -> None:
    assert not (await reader.state()).present
    waiting = asyncio.create_task(reader.wait_present(timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await slot.insert("visa")
    state = await waiting
    assert state.present
    assert state.usable
    assert not state.mute
    assert state.atr == VISA.chip.atrs["T1"]

    protocol, atr = await reader.connect()
    assert (protocol, atr) == ("T1", VISA.chip.atrs["T1"])
    assert reader.connected
    assert reader.protocol == "T1"
    assert reader.atr == atr

    # Golden: the whole stack answers what the EMV chip answers directly.
    answer = await reader.transmit(SELECT_PSE)
    assert answer == EmvChip(VISA.chip, "T1").exchange(SELECT_PSE)
    assert answer[0] == 0x6F
    assert answer[-2:] == b"\x90\x00"

    gone = asyncio.create_task(reader.wait_absent(timeout=5))
    await asyncio.sleep(0.05)
    await slot.pull()
    state = await gone
    assert not state.present
    assert state.atr == b""
    with pytest.raises(NoMedia, match=r"transmit.*0x80100069"):
        await reader.transmit(SELECT_PSE)
    assert not reader.connected
    await reader.disconnect()


async def test_warm_and_cold_resets_reach_the_card(reader: PcscReader, slot: PcscSlot) -> None:
    await slot.insert("visa")
    await reader.wait_present(timeout=5)
    await reader.connect()
    card = slot.card
    assert card is not None
    before = card.stats.power_ons
    # SELECT the application, then reset: the chip forgets it (GPO refused: 6985).
    aid = VISA.chip.applications[0].aid
    select = bytes([0, 0xA4, 4, 0, len(aid)]) + aid + b"\x00"
    assert (await reader.transmit(select))[-2:] == b"\x90\x00"
    assert await reader.reconnect(Init.RESET) == ("T1", VISA.chip.atrs["T1"])
    assert card.stats.power_ons == before + 1
    gpo = bytes.fromhex("80A8000002830000")
    assert (await reader.transmit(gpo))[-2:] == b"\x69\x85"
    assert (await reader.transmit(select))[-2:] == b"\x90\x00"
    await reader.reconnect(Init.UNPOWER)
    assert card.stats.power_ons >= before + 2
    assert (await reader.transmit(gpo))[-2:] == b"\x69\x85"
    await reader.disconnect(Disposition.UNPOWER)
    assert not reader.connected
    with pytest.raises(NoMedia, match="not connected"):
        await reader.transmit(SELECT_PSE)


async def test_t0_gives_61xx_and_get_response_fetches_the_answer(slot: PcscSlot) -> None:
    slot.protocols = frozenset({"T0"})
    async with PcscReader(READERS[1], PcscOptions(protocol="T0")) as reader:
        await reader.wait_absent(timeout=2)
        await slot.insert("visa")
        state = await reader.wait_present(timeout=5)
        assert state.atr == VISA.chip.atrs["T0"]
        assert await reader.connect() == ("T0", VISA.chip.atrs["T0"])
        first = await reader.transmit(SELECT_PSE)
        assert first[0] == 0x61, first.hex()
        answer = await reader.transmit(GET_RESPONSE + first[1:])
        direct = EmvChip(VISA.chip, "T0")
        expected = direct.exchange(SELECT_PSE)
        assert first == expected
        assert answer == direct.exchange(GET_RESPONSE + expected[1:])
        assert answer[0] == 0x6F
        assert answer[-2:] == b"\x90\x00"


async def test_a_chipless_card_is_present_but_invalid(reader: PcscReader, slot: PcscSlot) -> None:
    await slot.insert("mag_only")
    state = await reader.wait_present(timeout=5)
    assert state.present
    assert not state.usable
    assert state.atr == MUTE_ATR
    with pytest.raises(InvalidMedia, match="0x8010000F"):
        await reader.connect()
    assert not reader.connected


async def test_connect_without_a_card_is_no_media(reader: PcscReader) -> None:
    with pytest.raises(NoMedia, match="0x8010000C"):
        await reader.connect()


async def test_a_wait_times_out_and_a_cancelled_wait_ends_at_once(reader: PcscReader) -> None:
    start = time.perf_counter()
    with pytest.raises(HalTimeout, match=r"not a card came within 0\.3 s"):
        await reader.wait_present(timeout=0.3)
    assert 0.3 <= time.perf_counter() - start < 1.0
    waiting = asyncio.create_task(reader.wait_present())
    await asyncio.sleep(0.2)  # past the idle pause: the wait holds the reader's thread
    start = time.perf_counter()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert time.perf_counter() - start < 0.05
    # The reader's thread is free at once: the next call does not wait out a slice.
    start = time.perf_counter()
    assert not (await reader.state()).present
    assert time.perf_counter() - start < 0.1


async def test_a_call_during_a_wait_does_not_wait_behind_it(reader: PcscReader) -> None:
    waiting = asyncio.create_task(reader.wait_present(timeout=5))
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    for _ in range(5):
        await reader.state()
    elapsed = time.perf_counter() - start
    assert elapsed < 0.1, elapsed  # a wait slice is 0.25 s
    assert not waiting.done()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)


async def test_close_is_idempotent_and_stops_the_thread(pcscd: None) -> None:
    reader = PcscReader(READERS[0])
    await reader.open()
    waiting = asyncio.create_task(reader.wait_present())
    await asyncio.sleep(0.1)
    await reader.close()
    await reader.close()
    with pytest.raises((TransportError, asyncio.CancelledError)):
        await waiting
    assert not reader.is_open
