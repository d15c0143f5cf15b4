"""hal.transports.pcsc: a PC/SC reader through the real pcscd, with a vpcd card in it.

The card is the simulator's (`simulator.wire.pcsc_slot`); what the reader reads is
checked against the card profile and the EMV chip answering directly.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable

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
from hal.transports.pcsc_errors import SCARD_E_UNSUPPORTED_FEATURE, scard_code
from hal.transports.pcsc_thread import ReaderThread
from hal.transports.pcsc_types import (
    ATTR_VENDOR_IFD_VERSION,
    ATTR_VENDOR_NAME,
    SHARE_DIRECT,
    firmware_text,
)
from simulator.emv import EmvChip
from simulator.profiles import load_card_profile
from simulator.wire.pcsc_slot import PcscSlot
from simulator.wire.vpcd import MUTE_ATR
from tests.pcsc_rig import PORTS, READERS, SELECT_PSE, pcsc_registered, require_pcscd

# The machine's one pcscd and its vpcd ports: under pytest-xdist (--dist loadgroup) all
# of these tests run on one worker, one at a time.
pytestmark = pytest.mark.xdist_group("pcscd")

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


def test_the_reader_thread_runs_calls_in_order_on_one_daemon_thread() -> None:
    worker = ReaderThread("pcsc test")
    try:
        assert worker.thread.daemon
        futures = [worker.submit(lambda n=n: (n, threading.current_thread())) for n in range(20)]
        results = [f.result(timeout=2) for f in futures]
        assert [n for n, _ in results] == list(range(20))
        assert {t for _, t in results} == {worker.thread}
        with pytest.raises(ValueError, match="invalid literal"):
            worker.submit(int, "x").result(timeout=2)
    finally:
        worker.shutdown(wait=True)
    assert not worker.thread.is_alive()
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(int, "1")


def test_an_abandoned_reader_thread_fails_its_callers_and_runs_only_what_it_keeps() -> None:
    worker = ReaderThread("pcsc test")
    unstick = threading.Event()
    ran: list[str] = []
    stuck = worker.submit(unstick.wait)
    queued = worker.submit(ran.append, "queued")
    keep = worker.submit(ran.append, "kept")
    worker.abandon(lambda: ConnectionLost("gone"), keep=keep)
    assert worker.abandoned
    for future in (stuck, queued):  # at once, though the thread is still stuck
        with pytest.raises(ConnectionLost, match="gone"):
            future.result(timeout=0)
    assert worker.thread.is_alive()
    unstick.set()  # the stuck call returns: its result is dropped
    keep.result(timeout=2)
    worker.thread.join(timeout=2)
    assert not worker.thread.is_alive()
    assert ran == ["kept"]
    assert stuck.exception() is not None


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


# The timing tests below run with 5 s wait slices: a cancel that did not reach the wait
# would take a whole slice, so a bound of 1.5 s tells a working cancel from a hang
# however loaded the machine is (a working one takes milliseconds).
LONG_SLICE = PcscOptions(wait_slice=5.0)
NOT_A_HANG = 1.5


@pytest.fixture
async def slow_reader(pcscd: None) -> AsyncIterator[PcscReader]:
    async with PcscReader(READERS[1], LONG_SLICE) as reader:
        await reader.wait_absent(timeout=2)
        yield reader


async def test_a_wait_times_out_and_a_cancelled_wait_ends_at_once(
    slow_reader: PcscReader,
) -> None:
    start = time.perf_counter()
    with pytest.raises(HalTimeout, match=r"not a card came within 0\.3 s"):
        await slow_reader.wait_present(timeout=0.3)
    assert 0.3 <= time.perf_counter() - start < 0.3 + NOT_A_HANG
    waiting = asyncio.create_task(slow_reader.wait_present())
    await asyncio.sleep(0.2)  # past the idle pause: the wait holds the reader's thread
    start = time.perf_counter()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert time.perf_counter() - start < NOT_A_HANG
    # The reader's thread is free at once: the next call does not wait out the slice.
    start = time.perf_counter()
    assert not (await slow_reader.state()).present
    assert time.perf_counter() - start < NOT_A_HANG


async def test_a_call_during_a_wait_does_not_wait_behind_it(slow_reader: PcscReader) -> None:
    waiting = asyncio.create_task(slow_reader.wait_present(timeout=30))
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    for _ in range(5):
        await slow_reader.state()
    elapsed = time.perf_counter() - start
    assert elapsed < NOT_A_HANG, elapsed  # one slice waited out would be 5 s
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


async def test_a_close_during_open_makes_the_open_fail(pcscd: None) -> None:
    reader = PcscReader(READERS[1])
    opening = asyncio.create_task(reader.open())
    await asyncio.sleep(0)  # the open waits for its thread to find the reader
    await reader.close()
    with pytest.raises(ConnectionLost, match="closed while it opened"):
        await opening
    assert not reader.is_open
    # An open made while a close runs waits for it, then opens afresh.
    await reader.open()
    closing = asyncio.create_task(reader.close())
    await asyncio.sleep(0)
    await reader.open()
    await closing
    try:
        assert reader.is_open
        assert not (await reader.state()).present
    finally:
        await reader.close()


async def _until(what: str, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        await asyncio.sleep(0.01)


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"pcsc {READERS[1]}"]


async def test_close_gives_up_a_call_stuck_in_the_middle_of_an_apdu(
    pcscd: None, slot: PcscSlot, caplog: pytest.LogCaptureFixture
) -> None:
    # The card takes the APDU and never answers: vpcd, pcscd and SCardTransmit wait
    # for ever (SCardCancel interrupts only status waits). close() must not.
    reader = PcscReader(READERS[1], close_timeout=0.5)
    await reader.open()
    threads = _reader_threads()
    assert len(threads) == 1
    try:
        await reader.wait_absent(timeout=2)
        await slot.insert("visa")
        await reader.wait_present(timeout=5)
        await reader.connect()
        card = slot.card
        assert card is not None
        card.answers_apdus = False
        stuck = asyncio.create_task(reader.transmit(SELECT_PSE))
        await _until("the APDU reached the card", lambda: card.stats.apdus == 1)
        with caplog.at_level(logging.WARNING, logger="hal.transports.pcsc"):
            start = time.perf_counter()
            await asyncio.wait_for(reader.close(), 0.5 + 5)
            elapsed = time.perf_counter() - start
        assert 0.5 <= elapsed < 0.5 + NOT_A_HANG
        assert (reader.lost, reader.is_open) == (True, False)
        assert "did not return within 0.5 s" in caplog.text
        assert SELECT_PSE.hex() not in caplog.text.lower()
        with pytest.raises(ConnectionLost, match="stopped answering and was closed"):
            await asyncio.wait_for(stuck, 1)
        assert threads[0].is_alive()  # abandoned, not joined
        assert threads[0].daemon  # so it cannot hold up the interpreter's exit
    finally:
        await slot.pull()  # the card leaves: the stuck SCardTransmit returns
    # The thread then releases the old context and ends by itself.
    await _until("the abandoned thread ended", lambda: not threads[0].is_alive())
    # A fresh open works: a new thread and a new PC/SC context.
    async with reader:
        assert not reader.lost
        await reader.wait_absent(timeout=2)
        assert not (await reader.state()).present


def _reset_as_another_application(reader: str) -> None:
    """Another program shares the card and warm-resets it (pyscard directly)."""
    scard = pcsc.scard_module()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        hresult, handle, _ = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1
        )
        assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
        hresult, _ = scard.SCardReconnect(
            handle, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1, scard.SCARD_RESET_CARD
        )
        assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
        scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
    finally:
        scard.SCardReleaseContext(context)


async def test_a_card_another_application_reset_is_reconnected_and_the_apdu_sent(
    pcscd: None, slot: PcscSlot
) -> None:
    # pcscd refuses every transmit on our handle after someone else's reset
    # (SCARD_W_RESET_CARD) until we reconnect: the reader does that once, by itself.
    async with PcscReader(READERS[1], PcscOptions(share="shared")) as reader:
        await reader.wait_absent(timeout=2)
        await slot.insert("visa")
        await reader.wait_present(timeout=5)
        await reader.connect()
        card = slot.card
        assert card is not None
        aid = VISA.chip.applications[0].aid
        select = bytes([0, 0xA4, 4, 0, len(aid)]) + aid + b"\x00"
        assert (await reader.transmit(select))[-2:] == b"\x90\x00"
        resets = card.stats.power_ons
        await asyncio.to_thread(_reset_as_another_application, READERS[1])
        assert card.stats.power_ons == resets + 1
        gpo = bytes.fromhex("80A8000002830000")
        # The chip was reset: the application selected before is gone (GPO refused).
        assert (await reader.transmit(gpo))[-2:] == b"\x69\x85"
        assert await reader.transmit(SELECT_PSE) == EmvChip(VISA.chip, "T1").exchange(SELECT_PSE)
        assert reader.atr == VISA.chip.atrs["T1"]
        await reader.disconnect()


async def test_vpcd_tells_no_firmware_and_the_reader_says_so(reader: PcscReader) -> None:
    # What vpcd really answers: SCardGetAttrib on a direct connection refuses both the
    # IFD version and the vendor name with SCARD_E_UNSUPPORTED_FEATURE.
    scard = pcsc.scard_module()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        hresult, handle, _ = scard.SCardConnect(context, READERS[1], SHARE_DIRECT, 0)
        assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
        try:
            for attribute in (ATTR_VENDOR_IFD_VERSION, ATTR_VENDOR_NAME):
                hresult, value = scard.SCardGetAttrib(handle, attribute)
                assert (scard_code(hresult), list(value)) == (SCARD_E_UNSUPPORTED_FEATURE, [])
        finally:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
    finally:
        scard.SCardReleaseContext(context)
    assert await reader.firmware() == ""
    assert not (await reader.state()).present  # the direct connection left no trace


@pytest.mark.parametrize(
    ("vendor", "version", "text"),
    [
        (b"ACS\x00", bytes.fromhex("00000302"), "ACS 2.3.0"),  # libccid: bcdDevice << 16
        (None, bytes.fromhex("2a000105"), "5.1.42"),
        (b"Vendor\x00junk", bytes.fromhex("00001001"), "Vendor 1.16.0"),
        (b"ACS\x00", None, ""),  # a name is no firmware version
        (None, b"\x01\x02", ""),  # not a DWORD
        (None, None, ""),
    ],
)
def test_the_firmware_text_from_the_attributes(
    vendor: bytes | None, version: bytes | None, text: str
) -> None:
    assert firmware_text(vendor, version) == text
