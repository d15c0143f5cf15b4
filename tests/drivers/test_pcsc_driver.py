"""drivers.card_reader.pcsc: the PC/SC dip reader through hal.open, pcscd and vpcd.

The reader is ``Virtual PCD 00 01`` (vpcd slot 1); the customer is the simulator's slot.
The last test stops the machine's pcscd and starts it again under the open driver: the
pcscd whose pid ``.ci/run`` exports in ``TELLERHAL_PCSCD_PIDFILE`` (and stops at the
end), or, when pytest runs by hand, the one ``/run/pcscd/pcscd.pid`` names (the new
one is left running in its place).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

import hal
from drivers.card_reader.pcsc import PCSC_DRIVER, PcscDriverOptions
from hal import registry
from hal.device import DeviceState
from hal.devices.card_reader import (
    CardReader,
    ChipPower,
    ChipPowerAction,
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
from hal.errors import (
    AtrNotObtained,
    ConfigurationError,
    ConnectionLost,
    InvalidData,
    InvalidMedia,
    NoMedia,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from hal.transports.pcsc import PcscReader
from simulator.emv import EmvChip
from simulator.profiles import load_card_profile
from simulator.wire.pcsc_slot import PcscSlot
from tests.pcsc_rig import PORTS, READERS, SELECT_PSE, address, pcsc_registered, require_pcscd

VISA = load_card_profile("visa")
assert VISA.chip is not None
ATR = VISA.chip.atrs["T1"]
PATIENCE = 2.0


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    with pcsc_registered():
        yield


@pytest.fixture
async def slot() -> AsyncIterator[PcscSlot]:
    require_pcscd()
    async with PcscReader(READERS[1]) as reader:
        await reader.wait_absent(timeout=PATIENCE)  # a card an earlier test pulled is gone
    async with PcscSlot(PORTS[1]) as slot:
        yield slot


def open_reader(options: str = "") -> CardReader:
    device = hal.open(address(1, options))
    assert isinstance(device, CardReader)
    return device


async def insert_and_read(reader: CardReader, slot: PcscSlot, profile: str = "visa") -> bytes:
    with reader.events(kinds=[InsertCard]) as ready:
        task = asyncio.create_task(reader.read_raw_data([Track.CHIP], timeout=PATIENCE * 2))
        try:
            await ready.wait_for(InsertCard, timeout=PATIENCE)
            await slot.insert(profile)
            result = await task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return result[Track.CHIP].data


# --- registration and options ---------------------------------------------------------------


def test_the_driver_is_registered_with_its_capabilities() -> None:
    spec = registry.driver("pcsc")
    assert spec is PCSC_DRIVER
    assert spec.device_classes == frozenset({"card_reader"})
    assert spec.capabilities == {"card_reader": frozenset({"chip", "taken_sensor"})}
    assert spec.transport_optional
    assert spec.transports == frozenset({"pcsc"})


def test_unknown_options_and_bad_values_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown option 'baud'"):
        hal.open(address(1, "baud=9600"))
    with pytest.raises(ConfigurationError, match="retry_interval"):
        PcscDriverOptions(retry_interval=0)
    with pytest.raises(ConfigurationError, match="protocol"):
        hal.open(address(1, "protocol=T2"))


async def test_capabilities_say_chip_only_dip(slot: PcscSlot) -> None:
    async with open_reader() as reader:
        caps = await reader.capabilities()
        assert caps.type is ReaderType.DIP
        assert caps.read_tracks == frozenset({Track.CHIP})
        assert caps.chip_protocols == frozenset({"T0", "T1"})
        assert caps.features() == {"chip", "taken_sensor"}
        assert (caps.retain_capacity, caps.exit_position, caps.transport_position) == (
            0,
            False,
            False,
        )
    async with open_reader("protocol=T1") as reader:
        assert (await reader.capabilities()).chip_protocols == frozenset({"T1"})


async def test_the_transport_can_be_named(slot: PcscSlot) -> None:
    name = READERS[1].replace(" ", "%20")
    async with hal.open(f"pcsc+pcsc://{name}?share=shared") as reader:
        assert isinstance(reader, CardReader)
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT


# --- the card ----------------------------------------------------------------------------------


async def test_read_gives_the_atr_with_events_and_status(slot: PcscSlot) -> None:
    async with open_reader() as reader:
        status = await reader.status()
        assert (status.device, status.media, status.chip_power) == (
            DeviceState.ONLINE,
            MediaStatus.NOT_PRESENT,
            ChipPower.NO_CARD,
        )
        with reader.events() as sub:
            assert await insert_and_read(reader, slot) == ATR
            status = await reader.status()
            assert (status.media, status.chip_power) == (MediaStatus.PRESENT, ChipPower.ONLINE)
            await slot.pull()
            removed = await sub.wait_for(MediaRemoved, timeout=PATIENCE)
            assert removed.command_id is None
            status = await reader.status()
        assert (status.media, status.chip_power) == (MediaStatus.NOT_PRESENT, ChipPower.NO_CARD)


async def test_command_events_carry_the_id_and_removal_none(slot: PcscSlot) -> None:
    async with open_reader() as reader:
        with reader.events() as sub:
            await insert_and_read(reader, slot)
            await slot.pull()
            deadline = time.monotonic() + PATIENCE
            seen = []
            while MediaRemoved not in [type(e) for e in seen] and time.monotonic() < deadline:
                seen.append(await sub.get(timeout=PATIENCE))
        kinds = [type(e) for e in seen if not isinstance(e, StatusChanged)]
        assert kinds == [InsertCard, MediaInserted, MediaRemoved]
        ids = [e.command_id for e in seen if not isinstance(e, StatusChanged)]
        assert ids[0] is not None
        assert ids[0] == ids[1]
        assert ids[2] is None


async def test_chip_power_and_apdus(slot: PcscSlot) -> None:
    async with open_reader() as reader:
        await insert_and_read(reader, slot)
        await reader.chip_power(ChipPowerAction.OFF)
        assert (await reader.status()).chip_power is ChipPower.POWERED_OFF
        with pytest.raises(AtrNotObtained, match="reset it first"):
            await reader.chip_io(SELECT_PSE)
        assert await reader.chip_power(ChipPowerAction.COLD) == ATR
        assert (await reader.status()).chip_power is ChipPower.ONLINE
        direct = EmvChip(VISA.chip, "T1")
        assert await reader.chip_io(SELECT_PSE) == direct.exchange(SELECT_PSE)
        assert await reader.chip_power(ChipPowerAction.WARM) == ATR
        card = slot.card
        assert card is not None
        assert card.chip is not None
        assert card.chip.selected is None
        assert await reader.chip_power(ChipPowerAction.OFF) == b""
        await slot.pull()
        with pytest.raises(NoMedia):
            await reader.chip_power(ChipPowerAction.COLD)


async def test_t0_answers_61xx_and_the_caller_gets_the_response(slot: PcscSlot) -> None:
    slot.protocols = frozenset({"T0"})
    async with open_reader("protocol=T0") as reader:
        assert await insert_and_read(reader, slot) == VISA.chip.atrs["T0"]
        first = await reader.chip_io(SELECT_PSE)
        assert first[0] == 0x61
        answer = await reader.chip_io(bytes([0, 0xC0, 0, 0, first[1]]))
        assert answer[0] == 0x6F
        assert answer[-2:] == b"\x90\x00"


async def test_a_card_pulled_mid_session_gives_no_media(slot: PcscSlot) -> None:
    async with open_reader() as reader:
        await insert_and_read(reader, slot)
        with reader.events(kinds=[MediaRemoved]) as sub:
            await slot.pull()
            await sub.wait_for(MediaRemoved, timeout=PATIENCE)
        with pytest.raises((NoMedia, AtrNotObtained)):
            await reader.chip_io(SELECT_PSE)


@pytest.mark.parametrize("profile", ["mag_only", "unreadable"])
async def test_a_card_without_a_chip_is_invalid_media(slot: PcscSlot, profile: str) -> None:
    async with open_reader() as reader:
        with reader.events() as sub:
            with pytest.raises(InvalidMedia) as caught:
                await insert_and_read(reader, slot, profile)
            assert caught.value.error_code == "invalidMedia"
            kinds = [type(e) for e in sub.drain()]
        assert InvalidMediaEvent in kinds
        assert MediaInserted not in kinds
        status = await reader.status()
        assert (status.media, status.chip_power) == (MediaStatus.PRESENT, ChipPower.UNKNOWN)
        with pytest.raises(InvalidMedia):
            await reader.read_raw_data([Track.CHIP], timeout=PATIENCE)
        with pytest.raises(InvalidMedia):
            await reader.chip_power(ChipPowerAction.COLD)


async def test_what_a_dip_reader_cannot_do_is_refused(slot: PcscSlot) -> None:
    async with open_reader() as reader:
        await insert_and_read(reader, slot)
        for target in MoveTarget:
            with pytest.raises(UnsupportedOperation):
                await reader.move(target)
        with pytest.raises(UnsupportedOperation):
            await reader.write_raw_data({Track.TRACK2: b"1234"})
        with pytest.raises(InvalidData):
            await reader.read_raw_data([Track.TRACK2])
        await reader.reset(ResetAction.EXIT)  # no motor: the card stays, the chip goes off
        status = await reader.status()
        assert (status.media, status.chip_power) == (MediaStatus.PRESENT, ChipPower.POWERED_OFF)
        assert slot.position == "inside"


async def test_a_cancelled_wait_for_a_card_ends_at_once(slot: PcscSlot) -> None:
    async with open_reader() as reader:
        with reader.events(kinds=[InsertCard]) as ready:
            task = asyncio.create_task(reader.read_raw_data([Track.CHIP]))
            await ready.wait_for(InsertCard, timeout=PATIENCE)
            await asyncio.sleep(0.3)  # the monitor's wait holds the reader's thread
            start = time.perf_counter()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert time.perf_counter() - start < 0.2
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT


async def test_a_card_already_in_at_open_is_detected(slot: PcscSlot) -> None:
    await slot.insert("visa")
    reader = open_reader()
    with reader.events(kinds=[MediaDetected]) as sub:
        async with reader:
            event = await sub.get(timeout=PATIENCE)
            assert isinstance(event, MediaDetected)
            assert event.position == "transport"
            assert (await reader.status()).media is MediaStatus.PRESENT
            # The read needs no insertion: the card is in.
            result = await reader.read_raw_data([Track.CHIP], timeout=PATIENCE)
            assert result[Track.CHIP].data == ATR


# --- pcscd going away and coming back --------------------------------------------------------


_restarted: list[subprocess.Popen[bytes]] = []  # outlives the test: .ci/run stops it


def _pcscd_pidfile(tmp_path: Path) -> Path:
    """The pid file of the pcscd to restart: the one .ci/run exports; else (pytest run
    by hand) a copy of pcscd's own, and the restarted pcscd is left running."""
    value = os.environ.get("TELLERHAL_PCSCD_PIDFILE", "")
    if value:
        return Path(value)
    own = Path("/run/pcscd/pcscd.pid")
    if not own.exists():
        message = "pcscd wrote no /run/pcscd/pcscd.pid and TELLERHAL_PCSCD_PIDFILE is not set"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    copy = tmp_path / "pcscd.pid"
    copy.write_bytes(own.read_bytes())
    return copy


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _until(what: str, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        await asyncio.sleep(0.05)


def _start_pcscd(pidfile: Path) -> None:
    """Start pcscd again (in the background, like .ci/run) and record its pid."""
    with open(pidfile.parent / "pcscd-restarted.log", "ab") as log:
        process = subprocess.Popen(
            ["pcscd", "--foreground"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _restarted.append(process)
    pidfile.write_text(f"{process.pid}\n")


def _pcscd_pid(pidfile: Path) -> int:
    pid = int("".join(c for c in pidfile.read_text() if c.isdigit()))  # pcscd's ends in NUL
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "pcscd"
    return pid


@pytest.mark.leaks_ok(
    "the restarted pcscd outlives the test; .ci/run stops it by its pid file",
    kinds=("process",),
)
async def test_pcscd_going_away_is_connection_lost_and_the_driver_recovers(
    slot: PcscSlot, tmp_path: Path
) -> None:
    pidfile = _pcscd_pidfile(tmp_path)
    old = _pcscd_pid(pidfile)
    async with open_reader("retry_interval=0.1") as reader:
        await insert_and_read(reader, slot)
        with reader.events() as sub, reader.events(kinds=[MediaDetected, MediaInserted]) as back:
            os.kill(old, signal.SIGTERM)
            await _until("pcscd stopped", lambda: not _alive(old))
            lost = await sub.wait_for(
                StatusChanged,
                timeout=PATIENCE,
                predicate=lambda e: e.new.device is DeviceState.NO_DEVICE,
            )
            assert lost.new.media is MediaStatus.UNKNOWN
            with pytest.raises(ConnectionLost):
                await reader.chip_io(SELECT_PSE)
            assert (await reader.status()).device is DeviceState.NO_DEVICE
            _start_pcscd(pidfile)
            # The card is still in the slot; the slot reconnects it once vpcd listens, and
            # the driver, back online, sees it (MediaDetected if it is there as pcscd
            # comes back, else MediaInserted when it shows up): no reopen by the app.
            await sub.wait_for(
                StatusChanged,
                timeout=10,
                predicate=lambda e: (
                    (e.new.device, e.new.media) == (DeviceState.ONLINE, MediaStatus.PRESENT)
                ),
            )
            seen = back.drain()
            assert seen, "no MediaDetected or MediaInserted after pcscd came back"
            assert all(e.command_id is None for e in seen)
        assert await reader.chip_power(ChipPowerAction.COLD) == ATR
        assert await reader.chip_io(SELECT_PSE) == EmvChip(VISA.chip, "T1").exchange(SELECT_PSE)
