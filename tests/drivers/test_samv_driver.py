"""The real ``samv`` driver against the SAM_V emulator on a real pty: every chip document
kind read back as the profile says, fingerprints present and absent (both ways a module
says so), the newest address, a search that keeps polling (no faster than the protocol
allows) until cancelled, read failures, forged cards, a SAM that fails its self-test,
a silent module, garbage, corrupted and slow replies, and cancellation mid-search and
mid-read leaving the driver usable; through ``hal.open`` with the service, and the
``spy+`` masker hiding personal data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import hal
from drivers.id_scanner.samv import SamvDriver, open_samv
from drivers.id_scanner.samv_masker import SamvMasker
from drivers.id_scanner.samv_options import SamvOptions
from hal.address import DeviceAddress
from hal.device import DeviceState
from hal.devices.id_scanner import (
    DocumentInserted,
    DocumentKind,
    DocumentStatus,
    IdScanner,
    InsertDocument,
    InvalidDocument,
)
from hal.errors import (
    ChecksumError,
    ConfigurationError,
    HalTimeout,
    HardwareError,
    InvalidMedia,
    SecurityFail,
    UnsupportedOperation,
)
from hal.transports.spy_maskers import RX, TX
from protocols.samv import Command, build_reply
from simulator.id_profiles import document_profile
from simulator.models.id_scanner import IdScannerModel
from simulator.wire.samv import SamvEmulator
from simulator.wire.samv_firmware import CardTable, ModelField, SamvFirmware
from tests.samv_rig import SamvRig, card, samv_registered


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[SamvRig]:
    made = SamvRig(tmp_path)
    async with made.wire():
        yield made


def _emulator(rig: SamvRig) -> SamvEmulator:
    assert rig.emulator is not None
    return rig.emulator


def _expected(profile: str, *, fingerprints: bool, newest_address: bool) -> object:
    return document_profile(profile).read_as(
        fingerprints=fingerprints, newest_address=newest_address
    )


# --- open ---------------------------------------------------------------------------------


async def test_open_checks_the_sam_and_reports_its_id(rig: SamvRig) -> None:
    async with rig.driver() as driver:
        caps = driver.capabilities()
        assert caps.security_module_id == "05.01-20260101-0000000042-0000004242"
        assert caps.features() == {"chip", "fingerprints", "newest_address"}
        assert caps.kinds == {
            DocumentKind.CN_RESIDENT_ID,
            DocumentKind.CN_HMT_RESIDENCE_PERMIT,
            DocumentKind.CN_FOREIGNER_PERMANENT_2017,
            DocumentKind.CN_FOREIGNER_PERMANENT_2023,
        }
        assert not caps.removal_sensor
        status = await driver.get_status()
        assert status.security_module == "ok"
        assert status.device is DeviceState.ONLINE
    assert rig.firmware.executed[:2] == [(0x11, 0xFF), (0x12, 0xFF)]


@pytest.mark.parametrize(
    ("fault", "state"), [("fail_self_test", "selfTestFailed"), ("unauthorise", "notAuthorised")]
)
async def test_an_unusable_sam_is_a_hardware_error_at_open(
    rig: SamvRig, fault: str, state: str
) -> None:
    getattr(rig.firmware, fault)()
    with pytest.raises(HardwareError, match="SAM is unusable"):
        async with rig.driver():
            pass
    last = rig.listener.statuses[-1]
    assert last.security_module == state
    assert last.device is DeviceState.HARDWARE_ERROR


async def test_a_silent_module_at_open_says_so(rig: SamvRig) -> None:
    _emulator(rig).mute()
    with pytest.raises(HalTimeout, match=r"does not answer.*SAM status check within 0.3 s"):
        async with rig.driver(reply_timeout=0.3):
            pass


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile", ["resident", "resident_long_term", "hmt", "foreigner_2017", "foreigner_2023"]
)
async def test_each_chip_document_kind_reads_as_its_profile(rig: SamvRig, profile: str) -> None:
    rig.place(profile)
    async with rig.driver() as driver:
        await driver.accept_document()
        assert (await driver.get_status()).media is DocumentStatus.PRESENT
        document = await driver.read_document(fingerprints=False, newest_address=False)
        assert document == _expected(profile, fingerprints=False, newest_address=False)
        assert document.checks == ()
        assert (await driver.get_status()).media is DocumentStatus.UNKNOWN
    assert rig.listener.kinds()[:2] == ["InsertDocument", "DocumentInserted"]
    assert (0x30, 0x01) in rig.firmware.executed


async def test_fingerprints_and_the_newest_address(rig: SamvRig) -> None:
    rig.place("resident_fingerprints")
    async with rig.driver() as driver:
        await driver.accept_document()
        document = await driver.read_document(fingerprints=True, newest_address=True)
    expected = document_profile("resident_fingerprints").expected
    assert document == expected
    assert document.fingerprints_present is True
    assert len(document.fingerprints) == 2
    assert document.newest_address
    assert rig.firmware.executed[-2:] == [(0x30, 0x10), (0x30, 0x03)]


@pytest.mark.parametrize("with_91", [False, True])
async def test_a_card_without_fingerprints_or_newest_address(rig: SamvRig, with_91: bool) -> None:
    rig.firmware.fingerprints_absent_91 = with_91
    rig.place("resident")
    async with rig.driver() as driver:
        await driver.accept_document()
        document = await driver.read_document(fingerprints=True, newest_address=True)
    assert document.fingerprints_present is False
    assert document.fingerprints == ()
    assert document.newest_address == ""
    base = _expected("resident", fingerprints=False, newest_address=False)
    assert dataclasses.replace(document, fingerprints_present=None) == base
    reads = [c for c in rig.firmware.executed if c[0] == 0x30]
    assert reads == (
        [(0x30, 0x10), (0x30, 0x01), (0x30, 0x03)] if with_91 else [(0x30, 0x10), (0x30, 0x03)]
    )


async def test_no_card_keeps_searching_no_faster_than_the_poll_interval(rig: SamvRig) -> None:
    async with rig.driver() as driver:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await driver.accept_document()
        finds = [c for c in rig.firmware.executed if c == (0x20, 0x01)]
        assert 3 <= len(finds) <= 4, finds  # 0, 0.3, 0.6, 0.9 s
        assert loop.time() - started < 1.5
        # Usable after the cancellation: a card placed now is found.
        rig.place("resident")
        await driver.accept_document()
    assert rig.listener.kinds().count("InsertDocument") == 2


async def test_a_card_placed_while_searching_is_found(rig: SamvRig) -> None:
    async with rig.driver() as driver:
        search = asyncio.ensure_future(driver.accept_document())
        await asyncio.sleep(0.4)
        assert not search.done()
        rig.place("hmt")
        await asyncio.wait_for(search, 2)
        document = await driver.read_document(fingerprints=False, newest_address=False)
    assert document.kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT


async def test_a_read_failure_is_invalid_media_after_invalid_document(rig: SamvRig) -> None:
    rig.place("unreadable")
    async with rig.driver() as driver:
        await driver.accept_document()
        with pytest.raises(InvalidMedia, match=r"card read failed \(SW3 41\)"):
            await driver.read_document(fingerprints=False, newest_address=False)
        events = rig.listener.events
        assert isinstance(events[-1], InvalidDocument)
        assert "41" in events[-1].reason
        # An injected read failure on a good card: the same, and the next card reads.
        rig.place("resident")
        await driver.accept_document()
        rig.firmware.fail_next_reads()
        with pytest.raises(InvalidMedia):
            await driver.read_document(fingerprints=False, newest_address=False)
        rig.place("resident")
        await driver.accept_document()
        await driver.read_document(fingerprints=False, newest_address=False)


@pytest.mark.parametrize("sw3", [0x32, 0x33])
async def test_a_forged_card_is_a_security_fail(rig: SamvRig, sw3: int) -> None:
    rig.firmware.forged_sw3 = sw3
    rig.place("forged")
    async with rig.driver() as driver:
        await driver.accept_document()
        with pytest.raises(SecurityFail, match=f"SW3 {sw3:02X}"):
            await driver.read_document(fingerprints=True, newest_address=False)
    assert isinstance(rig.listener.events[-1], InvalidDocument)


async def test_a_card_taken_before_the_select_is_invalid_media(rig: SamvRig) -> None:
    rig.place("resident")
    async with rig.driver() as driver:
        # Found, then gone before the select (the emulator answers 81).
        original = rig.firmware._select

        def select_after_taking() -> tuple[int, bytes]:
            rig.table.take()
            return original()

        rig.firmware._select = select_after_taking  # type: ignore[method-assign]
        with pytest.raises(InvalidMedia, match="card select failed"):
            await driver.accept_document()
    assert isinstance(rig.listener.events[-1], InvalidDocument)


async def test_a_sam_failing_later_is_a_hardware_error_with_its_state(rig: SamvRig) -> None:
    rig.place("resident")
    async with rig.driver() as driver:
        rig.firmware.fail_self_test()
        with pytest.raises(HardwareError):
            await driver.accept_document()
        status = await driver.get_status()
        assert status.security_module == "selfTestFailed"
        rig.firmware.repair()
        assert (await driver.get_status()).security_module == "ok"
        await driver.reset()
        await driver.accept_document()


async def test_unsupported_operations(rig: SamvRig) -> None:
    async with rig.driver() as driver:
        with pytest.raises(UnsupportedOperation):
            await driver.eject()
        with pytest.raises(UnsupportedOperation):
            await driver.retain()


def test_the_poll_interval_cannot_go_below_the_protocols_rule() -> None:
    with pytest.raises(ConfigurationError, match=r"poll_interval must be >= 0.3"):
        SamvOptions(poll_interval=0.2)


# --- a dirty line -------------------------------------------------------------------------


async def test_garbage_and_the_stray_aa00_are_skipped(rig: SamvRig) -> None:
    rig.place("foreigner_2023")
    emulator = _emulator(rig)
    async with rig.driver() as driver:
        emulator.inject_garbage(b"\x00\xaa\xaa\x13\x37 noise \xaa\xaa\xaa\x96")
        emulator.stray_aa00()
        await driver.accept_document()
        document = await driver.read_document(fingerprints=False, newest_address=True)
        assert document.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2023
        assert driver.link.noise > 0


async def test_a_corrupted_read_reply_is_read_again_once(rig: SamvRig) -> None:
    rig.place("resident")
    emulator = _emulator(rig)
    async with rig.driver() as driver:
        await driver.accept_document()
        emulator.corrupt_next_replies(1)
        document = await driver.read_document(fingerprints=False, newest_address=False)
        assert document.kind is DocumentKind.CN_RESIDENT_ID
        assert driver.link.resent == 1
        assert rig.firmware.executed.count((0x30, 0x01)) == 2
        # Corrupted twice: a clear checksum error, and the driver still works.
        rig.place("resident")
        await driver.accept_document()
        emulator.corrupt_next_replies(2)
        with pytest.raises(ChecksumError, match=r"read the base message.*failed 2 time"):
            await driver.read_document(fingerprints=False, newest_address=False)
        rig.place("resident")
        await driver.accept_document()
        await driver.read_document(fingerprints=False, newest_address=False)


async def test_a_garbled_command_answered_10_is_sent_again(rig: SamvRig) -> None:
    async with rig.driver() as driver:
        # The module answers 10 once (it got our frame garbled), then works.
        original = rig.firmware.handle
        answers = iter([(0x10, b"")])

        def once(cmd: int, para: int, data: bytes) -> tuple[int, bytes]:
            return next(answers, None) or original(cmd, para, data)

        rig.firmware.handle = once  # type: ignore[method-assign]
        status = await driver.get_status()
        assert status.security_module == "ok"
        assert driver.link.resent == 1


async def test_a_slow_reply_times_out_clearly_and_is_not_taken_later(rig: SamvRig) -> None:
    rig.place("resident")
    emulator = _emulator(rig)
    async with rig.driver(reply_timeout=0.3) as driver:
        await driver.accept_document()
        emulator.set_reply_delay(0.45)
        with pytest.raises(HalTimeout, match=r"no reply to read the base message.*within 0.3 s"):
            await driver.read_document(fingerprints=False, newest_address=False)
        assert rig.listener.statuses[-1].device is DeviceState.OFFLINE
        emulator.set_reply_delay(0)
        # The late base-message reply comes meanwhile: drained, not taken as the status's.
        status = await driver.get_status()
        assert status.device is DeviceState.ONLINE
        assert driver.link.drained + driver.link.stale >= 1


async def test_cancelled_mid_read_the_late_reply_is_drained(rig: SamvRig) -> None:
    rig.place("resident_fingerprints")
    emulator = _emulator(rig)
    async with rig.driver() as driver:
        await driver.accept_document()
        emulator.set_reply_delay(0.15)
        reading = asyncio.ensure_future(
            driver.read_document(fingerprints=True, newest_address=False)
        )
        await asyncio.sleep(0.05)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        emulator.set_reply_delay(0)
        assert driver.link.dirty
        status = await driver.get_status()  # waits for the late 30 10 reply, drops it
        assert status.security_module == "ok"
        assert driver.link.drained == 1
        rig.place("resident_fingerprints")
        await driver.accept_document()
        document = await driver.read_document(fingerprints=True, newest_address=True)
        assert document == document_profile("resident_fingerprints").expected


async def test_cancelled_mid_find_the_driver_stays_usable(rig: SamvRig) -> None:
    emulator = _emulator(rig)
    async with rig.driver() as driver:
        emulator.set_reply_delay(0.1)
        search = asyncio.ensure_future(driver.accept_document())
        await asyncio.sleep(0.05)  # the first find is on its way
        search.cancel()
        with pytest.raises(asyncio.CancelledError):
            await search
        emulator.set_reply_delay(0)
        rig.place("foreigner_2017")
        await driver.accept_document()
        document = await driver.read_document(fingerprints=False, newest_address=False)
    assert document.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2017


# --- through hal.open, the service and the spy ------------------------------------------------


async def test_through_hal_open_with_the_service_and_the_spy(
    rig: SamvRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.place("resident_fingerprints")
    expected = document_profile("resident_fingerprints").expected
    assert expected is not None
    with samv_registered(), caplog.at_level(logging.INFO, logger="hal.transports.spy"):
        device = hal.open(rig.address(spy=True))
        assert isinstance(device, IdScanner)
        async with device:
            document = await device.read_document(fingerprints=True, newest_address=True, timeout=5)
            assert document.valid, document.failed_checks()
            assert document.name == expected.name
            assert document.fingerprints == expected.fingerprints
    text = caplog.text
    assert "read the base message with fingerprint (256 + 1024 + 1024): AA AA AA" in text
    assert "<text 256 bytes> <photo 1024 bytes> <fingerprints 1024 bytes>" in text
    for secret in (expected.document_number, expected.name, expected.newest_address):
        assert secret not in text
    number_utf16 = expected.document_number.encode("utf-16-le")
    assert " ".join(f"{b:02X}" for b in number_utf16[:8]) not in text


def test_the_masker_shows_sizes_not_personal_data() -> None:
    profile = document_profile("resident_fingerprints")
    table = CardTable()
    table.place(card("resident_fingerprints"))
    firmware = SamvFirmware(table)
    replies = [
        firmware.handle(*c, b"")
        for c in ((0x20, 0x01), (0x20, 0x02), (0x30, 0x10), (0x30, 0x03), (0x12, 0xFF))
    ]
    masker = SamvMasker()
    lines = masker.lines(TX, Command.READ_BASE_FINGERPRINT.frame())
    meaning = "read the base message with fingerprint (256 + 1024 + 1024)"
    assert lines == [f"  10 {meaning}: AA AA AA 96 69 00 03 30 10 23"]
    raw = b"".join(build_reply(sw3, data) for sw3, data in replies)
    shown = masker.lines(RX, raw[:100]) + masker.lines(RX, raw[100:])
    assert len(shown) == 5
    assert shown[0].endswith("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    assert shown[1].endswith("AA AA AA 96 69 00 0C 00 00 90 <8 bytes> **")
    assert (
        "01 00 04 00 04 00 <text 256 bytes> <photo 1024 bytes> <fingerprints 1024 bytes> **"
        in shown[2]
    )
    assert shown[3].endswith("<70 bytes> **")
    assert "05 00 01 00" in shown[4]  # the SAM ID is no personal data
    assert profile.expected is not None
    assert SamvMasker(reveal=True).lines(RX, raw)[2].count(" ") > 2000
    noise = masker.lines(RX, b"\x01\x02garbage")
    assert len(noise) == 1
    assert noise[0].endswith("bytes of noise (not shown)")


def test_the_factory_defaults_the_serial_line_to_115200() -> None:
    with samv_registered():
        service = open_samv(DeviceAddress.parse("samv+serial:///dev/ttyS9"), SamvOptions())
        driver = service._backend
        assert isinstance(driver, SamvDriver)
        assert driver.link.transport.options.baud == 115200  # type: ignore[attr-defined]
        service = open_samv(
            DeviceAddress.parse("samv+serial:///dev/ttyS9?baud=9600"), SamvOptions()
        )
        driver = service._backend
        assert isinstance(driver, SamvDriver)
        assert driver.link.transport.options.baud == 9600  # type: ignore[attr-defined]


async def test_events_order(rig: SamvRig) -> None:
    rig.place("resident")
    async with rig.driver() as driver:
        await driver.accept_document()
    kinds = [type(e) for e in rig.listener.events]
    assert kinds == [InsertDocument, DocumentInserted]


# --- driven by the simulator's ID-scanner model ------------------------------------------


async def test_the_emulator_over_the_id_scanner_models_chip_build(tmp_path: Path) -> None:
    model = IdScannerModel(name="samv", build="chip")
    rig = SamvRig(tmp_path, SamvFirmware(ModelField(model)))
    async with rig.wire(), rig.driver() as driver:
        model.customer_presents(document_profile("foreigner_2023"))
        await driver.accept_document()
        document = await driver.read_document(fingerprints=True, newest_address=True)
        expected = document_profile("foreigner_2023").read_as(
            fingerprints=True, newest_address=True
        )
        assert document == expected
        model.customer_removes()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await driver.accept_document()
        model.customer_presents(document_profile("forged"))
        await driver.accept_document()
        with pytest.raises(SecurityFail):
            await driver.read_document(fingerprints=False, newest_address=False)
