"""The real ``mrz-serial`` driver over a real serial transport on a pty, against the
simulated OCR reader (simulator.wire.mrz_serial), under the real IdScannerService.

Documents: the simulator's synthetic MRZ profiles (simulator.id_profiles: passport,
id_td1, visa_td2, travel_permit, bad_mrz); fictional people only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import hal
from drivers.id_scanner.mrz_serial import (
    MRZ_KINDS,
    MRZ_SERIAL_DRIVER,
    MrzSerialDriver,
    MrzSerialOptions,
)
from hal.device import DeviceState
from hal.devices.id_scanner import (
    CheckName,
    DocumentInserted,
    DocumentKind,
    IdScanner,
    ImageSide,
    InsertDocument,
    InvalidDocument,
)
from hal.devices.id_scanner_service import IdScannerService
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    HalTimeout,
    InvalidMedia,
    UnsupportedOperation,
)
from hal.transports.serial import SERIAL_TRANSPORT, SerialOptions, SerialTransport
from simulator.id_profiles import document_profile
from simulator.wire.mrz_serial import MrzSerialEmulator
from simulator.wire.pty import PtyBridge
from tests.specs import registered

TODAY = dt.date(2026, 11, 29)
IDLE = 0.15
#: For the test whose bytes must come within `idle` of a cancel on a loaded machine.
SLOW_IDLE = 0.4


@dataclass
class Rig:
    emulator: MrzSerialEmulator
    driver: MrzSerialDriver
    service: IdScannerService


@asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    framing: str = "cr",
    prefix: str = "",
    hold: float = 0.0,
    idle: float = IDLE,
) -> AsyncIterator[Rig]:
    async with (
        PtyBridge("mrz", directory=tmp_path) as bridge,
        MrzSerialEmulator(bridge, framing=framing, prefix=prefix, baud=None) as emulator,
    ):
        transport = SerialTransport(str(bridge.path), SerialOptions(baud=9600))
        options = MrzSerialOptions(framing=framing, prefix=prefix, idle=idle, hold=hold)
        driver = MrzSerialDriver(transport, options)
        service = IdScannerService(driver, today=lambda: TODAY)
        async with service:
            yield Rig(emulator, driver, service)


async def _read_with(r: Rig, present: str, *, timeout: float = 5.0) -> object:
    """Start a read, present ``present`` (a profile) once the scanner is ready."""
    with r.service.events() as events:
        task = asyncio.create_task(r.service.read_document(timeout=timeout))
        await events.wait_for(InsertDocument, timeout=5)
        await r.emulator.present_profile(present)
        try:
            return await task
        finally:
            assert any(isinstance(e, DocumentInserted) for e in events.drain()) or task.done()


@pytest.mark.parametrize(
    ("profile", "kind"),
    [
        ("passport", DocumentKind.PASSPORT),
        ("id_td1", DocumentKind.TRAVEL_DOCUMENT),
        ("visa_td2", DocumentKind.TRAVEL_DOCUMENT),
        ("travel_permit", DocumentKind.CN_TRAVEL_PERMIT),
    ],
)
async def test_reads_each_mrz_profile(tmp_path: Path, profile: str, kind: DocumentKind) -> None:
    expected = document_profile(profile).expected
    assert expected is not None
    async with rig(tmp_path) as r:
        document = await _read_with(r, profile)
    assert document.kind is kind  # type: ignore[attr-defined]
    assert replace(document, checks=()) == replace(expected, checks=())  # type: ignore[type-var]
    assert document.valid  # type: ignore[attr-defined]


async def test_capabilities_and_unsupported(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        caps = await r.service.capabilities()
        assert caps.features() == frozenset({"mrz"})
        assert caps.kinds == MRZ_KINDS
        with pytest.raises(UnsupportedOperation):
            await r.service.read_document(fingerprints=True, timeout=1)
        with pytest.raises(UnsupportedOperation):
            await r.service.scan_image(ImageSide.FRONT, timeout=1)
        with pytest.raises(UnsupportedOperation):
            await r.service.eject(timeout=1)


async def test_bad_check_digit_is_returned_with_the_failed_check(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        document = await _read_with(r, "bad_mrz")
        assert not document.valid  # type: ignore[attr-defined]
        failed = {c.name for c in document.failed_checks()}  # type: ignore[attr-defined]
        # the profile recomputes the composite over what is printed: one check fails
        assert failed == {CheckName.MRZ_DOCUMENT_NUMBER}
        # the emulator's fault: a good passport sent with a wrong birth-date digit
        r.emulator.bad_check_next("birth_date")
        document = await _read_with(r, "passport")
        failed = {c.name for c in document.failed_checks()}  # type: ignore[attr-defined]
        assert failed == {CheckName.MRZ_BIRTH_DATE, CheckName.MRZ_COMPOSITE}


async def test_garbage_on_its_own_line_is_ignored(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.emulator.send_garbage(b"\x00\xff\x13noise\r\n")
        document = await _read_with(r, "passport")
        assert document.valid  # type: ignore[attr-defined]
        assert r.driver.noise >= 8


async def _expect_invalid(r: Rig, present: str, reason: str) -> None:
    with r.service.events() as events:
        task = asyncio.create_task(r.service.read_document(timeout=5))
        await events.wait_for(InsertDocument, timeout=5)
        await r.emulator.present_profile(present)
        with pytest.raises(InvalidMedia) as caught:
            await task
        invalid = await events.wait_for(InvalidDocument, timeout=1)
    assert reason in invalid.reason
    assert reason in str(caught.value)


async def test_garbage_glued_to_a_block_gives_invalid_media(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.emulator.inject_garbage(b"#!")
        await _expect_invalid(r, "passport", "incomplete block")
        # the line is usable again
        assert (await _read_with(r, "id_td1")).valid  # type: ignore[attr-defined]


async def test_truncated_block_gives_invalid_media_after_the_silence(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.emulator.truncate_next(60)
        started = asyncio.get_running_loop().time()
        await _expect_invalid(r, "passport", "incomplete block: 2 line(s) of 44, 15")
        assert asyncio.get_running_loop().time() - started < 2.0
        assert (await _read_with(r, "passport")).valid  # type: ignore[attr-defined]


async def test_overlong_line_gives_invalid_media(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.emulator.overlong_next()
        await _expect_invalid(r, "passport", "a line longer than 64 characters")


async def test_a_block_that_is_no_mrz_gives_invalid_media(tmp_path: Path) -> None:
    async with rig(tmp_path, framing="stx") as r:
        with r.service.events() as events:
            task = asyncio.create_task(r.service.read_document(timeout=5))
            await events.wait_for(InsertDocument, timeout=5)
            await r.emulator.present(("P<UTO" + "?" * 39, "X" * 44))
            with pytest.raises(InvalidMedia, match="character outside A-Z"):
                await task


async def test_timeout_then_the_rest_of_a_late_block_is_not_the_next_document(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, idle=SLOW_IDLE) as r:
        passport = document_profile("passport").mrz
        permit = document_profile("travel_permit").expected
        assert permit is not None
        with pytest.raises(HalTimeout):
            await r.service.read_document(timeout=0.3)
        await asyncio.sleep(SLOW_IDLE * 2)  # the skip after the cancel ends
        # a block that comes while no read waits is dropped
        await r.emulator.present(passport)
        await asyncio.sleep(SLOW_IDLE * 2)
        assert r.driver.dropped == 1
        # a read that times out in the middle of a block: its rest must not count
        r.emulator.truncate_next(10)
        with r.service.events() as events:
            task = asyncio.create_task(r.service.read_document(timeout=0.2))
            await events.wait_for(InsertDocument, timeout=5)
            await r.emulator.present(passport)
            with pytest.raises(HalTimeout):
                await task
        # the rest (the end of line 1 and a whole line 2) right after the timeout:
        # without the skip, line 2 would start the next customer's block
        whole = b"".join(line.encode() + b"\r" for line in passport)
        await r.emulator.send_garbage(whole[10:])
        await asyncio.sleep(SLOW_IDLE * 2)
        assert r.driver.skipped >= len(whole) - 10
        document = await _read_with(r, "travel_permit")
        assert document.document_number == permit.document_number  # type: ignore[attr-defined]
        assert document.valid  # type: ignore[attr-defined]
        assert r.driver.dropped == 1


async def test_cancel_leaves_the_line_clean(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        with r.service.events() as events:
            task = asyncio.create_task(r.service.read_document(timeout=5))
            await events.wait_for(InsertDocument, timeout=5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await asyncio.sleep(IDLE * 2)
        await r.emulator.present_profile("passport")  # nobody waits: dropped
        await asyncio.sleep(IDLE * 2)
        assert r.driver.dropped == 1
        document = await _read_with(r, "id_td1")
        assert document.kind is DocumentKind.TRAVEL_DOCUMENT  # type: ignore[attr-defined]


async def test_hold_keeps_a_block_read_just_before(tmp_path: Path) -> None:
    async with rig(tmp_path, hold=0.5) as r:
        await r.emulator.present_profile("passport")
        await asyncio.sleep(0.05)
        document = await r.service.read_document(timeout=2)
        assert document.kind is DocumentKind.PASSPORT
        # a block older than `hold` is dropped
        await r.emulator.present_profile("id_td1")
        await asyncio.sleep(0.7)
        with pytest.raises(HalTimeout):
            await r.service.read_document(timeout=0.3)
        assert r.driver.dropped == 1


@pytest.mark.parametrize(("framing", "prefix"), [("crlf", ""), ("lf", "]M"), ("stx", "OU")])
async def test_other_framings(tmp_path: Path, framing: str, prefix: str) -> None:
    async with rig(tmp_path, framing=framing, prefix=prefix) as r:
        assert (await _read_with(r, "passport")).valid  # type: ignore[attr-defined]
        assert (await _read_with(r, "id_td1")).valid  # type: ignore[attr-defined]


async def test_through_hal_open_and_privacy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passport = document_profile("passport")
    assert passport.expected is not None
    with (
        registered(MRZ_SERIAL_DRIVER, SERIAL_TRANSPORT),
        caplog.at_level(logging.DEBUG),
    ):
        async with (
            PtyBridge("mrz", directory=tmp_path) as bridge,
            MrzSerialEmulator(bridge, framing="stx") as emulator,
        ):
            device = hal.open(f"mrz-serial+serial://{bridge.path}?baud=9600&framing=stx&idle=0.2")
            assert isinstance(device, IdScanner)
            async with device:
                with device.events() as events:
                    task = asyncio.create_task(device.read_document(timeout=5))
                    await events.wait_for(InsertDocument, timeout=5)
                    await emulator.present_profile("passport")
                    document = await task
                assert document.document_number == passport.expected.document_number
                await emulator.present_profile("passport")  # dropped: logged
                await asyncio.sleep(0.3)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert passport.expected.document_number not in text
    assert "TESTER" not in text
    for line in passport.mrz:
        assert line not in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"framing": "etx"}, "framing='etx' is not one of cr, crlf, lf, stx"),
        ({"idle": 0.0}, "idle=0.0"),
        ({"hold": -1.0}, "hold=-1.0"),
        ({"prefix": "X" * 17}, "prefix="),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        MrzSerialOptions(**options)  # type: ignore[arg-type]


async def test_unplugged_line_fails_the_waiting_read_and_reset_recovers(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        bridge = r.emulator.link
        assert isinstance(bridge, PtyBridge)
        with r.service.events() as events:
            task = asyncio.create_task(r.service.read_document(timeout=5))
            await events.wait_for(InsertDocument, timeout=5)
            bridge.unplug()
            with pytest.raises(ConnectionLost):
                await task
        status = await r.driver.get_status()
        assert status.device is DeviceState.OFFLINE
        bridge.replug()
        await r.service.reset(timeout=5)
        assert (await r.driver.get_status()).device is DeviceState.ONLINE
        await asyncio.sleep(IDLE * 2)  # the reset's skip ends
        assert (await _read_with(r, "passport")).valid  # type: ignore[attr-defined]
