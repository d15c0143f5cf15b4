"""drivers.card_reader.pcsc: the PC/SC dip reader through hal.open, pcscd and vpcd.

The reader is ``Virtual PCD 00 01`` (vpcd slot 1); the customer is the simulator's slot.
The last tests stop the machine's pcscd and start it again under the open driver
(`PcscdControl`): the pcscd whose pid file ``.ci/run`` exports in
``TELLERHAL_PCSCD_PIDFILE``. The replacement runs ``pcscd --foreground`` with
``--config "$TELLERHAL_PCSCD_CONFIG"`` when that directory exists, its pid goes to the
pid file (``.ci/run`` stops it at the end), and it is started again in a ``finally``
whatever the test did, so a failing assertion never leaves the machine without pcscd.
Without ``TELLERHAL_PCSCD_PIDFILE`` these tests are skipped (pytest by hand: set it to
a file holding the pid of the pcscd to restart); under ``CI=true`` that is a failure,
since ``.ci/run`` always sets it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

import hal
from drivers.card_reader.pcsc import PCSC_DRIVER, PcscDriver, PcscDriverOptions
from hal import registry
from hal.device import DeviceState
from hal.devices.card_reader import (
    CardReader,
    CardReaderStatus,
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
from hal.events import Event, StatusChanged
from hal.transports.pcsc import PcscReader
from simulator.emv import EmvChip
from simulator.profiles import load_card_profile
from simulator.wire.pcsc_slot import PcscSlot
from tests.pcsc_rig import (
    PORTS,
    READERS,
    SELECT_PSE,
    address,
    pcsc_registered,
    pcscd_ready,
    require_pcscd,
)

# The machine's one pcscd and its vpcd ports: under pytest-xdist (--dist loadgroup) all
# of these tests run on one worker, one at a time.
pytestmark = pytest.mark.xdist_group("pcscd")

VISA = load_card_profile("visa")
assert VISA.chip is not None
ATR = VISA.chip.atrs["T1"]
PATIENCE = 2.0
#: A bound that tells "ended at once" from "hung": far above what a working cancel
#: takes on a loaded machine (milliseconds), far below a 5 s wait slice.
NOT_A_HANG = 1.5


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
        assert caps.firmware == ""  # vpcd refuses SCARD_ATTR_VENDOR_IFD_VERSION
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
    # 5 s wait slices: a cancel that did not reach the monitor's wait would take one.
    async with open_reader("wait_slice=5") as reader:
        with reader.events(kinds=[InsertCard]) as ready:
            task = asyncio.create_task(reader.read_raw_data([Track.CHIP]))
            await ready.wait_for(InsertCard, timeout=PATIENCE)
            await asyncio.sleep(0.3)  # the monitor's wait holds the reader's thread
            start = time.perf_counter()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert time.perf_counter() - start < NOT_A_HANG
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


class _Listener:
    """What a service hears from the driver."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[CardReaderStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: CardReaderStatus) -> None:
        self.statuses.append(status)


async def test_the_monitor_warns_once_when_the_reader_is_closed_under_it(
    slot: PcscSlot, caplog: pytest.LogCaptureFixture
) -> None:
    driver = PcscDriver(PcscReader(READERS[1]), PcscDriverOptions(retry_interval=0.02))
    await driver.open(_Listener())
    try:
        with caplog.at_level(logging.DEBUG, logger="drivers.card_reader.pcsc"):
            await driver.reader.close()  # from outside the driver
            await asyncio.sleep(0.5)  # some 25 retries
        records = [r for r in caplog.records if r.name == "drivers.card_reader.pcsc"]
        warnings = [r for r in records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "not open" in warnings[0].getMessage()
        assert len([r for r in records if r.levelno == logging.DEBUG]) >= 3
    finally:
        await driver.close()


# --- pcscd going away and coming back --------------------------------------------------------


_restarted: list[subprocess.Popen[bytes]] = []  # outlives the test: .ci/run stops it


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


class PcscdControl:
    """Stops the machine's pcscd and starts a replacement (see the module header).

    Args:
        pidfile: the pid file of the pcscd in use (``TELLERHAL_PCSCD_PIDFILE``).
        config: the reader configuration directory to start pcscd with
            (``TELLERHAL_PCSCD_CONFIG``); ``None``: pcscd's own (/etc/reader.conf.d).
    """

    def __init__(self, pidfile: Path, config: Path | None) -> None:
        self.pidfile = pidfile
        self.config = config

    @property
    def pid(self) -> int:
        """The pid in the pid file (pcscd's own file ends in a NUL: digits only)."""
        return int("".join(c for c in self.pidfile.read_text() if c.isdigit()))

    def running(self) -> bool:
        return _alive(self.pid)

    def _signal(self) -> int:
        """SIGTERM to the pcscd in the pid file; its pid."""
        pid = self.pid
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        assert comm == "pcscd", f"{self.pidfile} names pid {pid}, which is {comm!r}"
        os.kill(pid, signal.SIGTERM)
        return pid

    async def stop(self) -> None:
        pid = self._signal()
        await _until("pcscd stopped", lambda: not _alive(pid))

    def _spawn(self) -> None:
        """Start pcscd in the background (like .ci/run) and record its pid."""
        command = ["pcscd", "--foreground"]
        if self.config is not None:
            command += ["--config", str(self.config)]
        with open(self.pidfile.parent / "pcscd-restarted.log", "ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _restarted.append(process)
        self.pidfile.write_text(f"{process.pid}\n")

    async def start(self) -> None:
        """Start pcscd and wait until it answers with both vpcd readers."""
        self._spawn()
        await _until("the new pcscd answers with the vpcd readers", pcscd_ready, timeout=10)

    async def ensure_running(self) -> None:
        """Start pcscd again unless the one in the pid file runs."""
        if not self.running():
            await self.start()


def _pcscd_control() -> PcscdControl:
    value = os.environ.get("TELLERHAL_PCSCD_PIDFILE", "")
    if not value:
        message = (
            "TELLERHAL_PCSCD_PIDFILE is not set: the tests that stop and restart pcscd "
            "need the pid file of the pcscd in use (.ci/run exports it)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; under CI=true .ci/run always sets it", pytrace=False)
        pytest.skip(message)
    config = os.environ.get("TELLERHAL_PCSCD_CONFIG", "")
    # .ci/run creates the directory only for a pcscd it starts (not for one it reuses).
    return PcscdControl(Path(value), Path(config) if config and Path(config).is_dir() else None)


@pytest.fixture
async def pcscd(slot: PcscSlot) -> AsyncIterator[PcscdControl]:
    """The machine's pcscd, to stop under the test: it runs again afterwards whatever
    the test did (torn down before the slot)."""
    control = _pcscd_control()
    assert control.running(), f"{control.pidfile} names no running pcscd"
    try:
        yield control
    finally:
        await control.ensure_running()


_RESTART_LEAK = pytest.mark.leaks_ok(
    "the restarted pcscd outlives the test; .ci/run stops it by its pid file",
    kinds=("process",),
)


@_RESTART_LEAK
async def test_pcscd_going_away_is_connection_lost_and_the_driver_recovers(
    slot: PcscSlot, pcscd: PcscdControl
) -> None:
    async with open_reader("retry_interval=0.1") as reader:
        await insert_and_read(reader, slot)
        with reader.events() as sub, reader.events(kinds=[MediaDetected, MediaInserted]) as back:
            await pcscd.stop()
            lost = await sub.wait_for(
                StatusChanged,
                timeout=PATIENCE,
                predicate=lambda e: e.new.device is DeviceState.NO_DEVICE,
            )
            assert lost.new.media is MediaStatus.UNKNOWN
            with pytest.raises(ConnectionLost):
                await reader.chip_io(SELECT_PSE)
            assert (await reader.status()).device is DeviceState.NO_DEVICE
            await pcscd.start()
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


@_RESTART_LEAK
async def test_pcscd_going_away_while_a_read_waits_for_a_card_is_connection_lost(
    slot: PcscSlot, pcscd: PcscdControl
) -> None:
    async with open_reader("retry_interval=0.1") as reader:
        with reader.events(kinds=[InsertCard]) as ready:
            task = asyncio.create_task(reader.read_raw_data([Track.CHIP], timeout=30))
            try:
                await ready.wait_for(InsertCard, timeout=PATIENCE)
                await pcscd.stop()
                with pytest.raises(ConnectionLost):
                    await asyncio.wait_for(asyncio.shield(task), PATIENCE)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        assert (await reader.status()).device is DeviceState.NO_DEVICE
        with reader.events(kinds=[StatusChanged]) as sub:
            await pcscd.start()
            await sub.wait_for(
                StatusChanged,
                timeout=10,
                predicate=lambda e: e.new.device is DeviceState.ONLINE,
            )
        # Recovered: the next read waits for a card and reads it.
        assert await insert_and_read(reader, slot) == ATR
