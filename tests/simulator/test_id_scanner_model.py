"""The simulated ID scanner: its synthetic documents (checked by an independent
computation), each build, each profile and each fault, on the model directly."""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import zlib
from collections.abc import AsyncIterator

import cv2  # imported at collection: its native threads start before any test
import numpy as np
import pytest
from mrz.checker.mrvb import MRVBCodeChecker
from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td2 import TD2CodeChecker
from mrz.checker.td3 import TD3CodeChecker

from hal.device import DeviceState
from hal.devices.id_documents import document_from_chip, newest_address_block, text_block_for
from hal.devices.id_scanner import (
    DocumentInserted,
    DocumentKind,
    DocumentRemoved,
    DocumentStatus,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
    Sex,
)
from hal.errors import (
    ConfigurationError,
    DeviceNotReady,
    HardwareError,
    InvalidMedia,
    MediaJam,
    NoMedia,
    RetainBinFull,
    SecurityFail,
    SequenceError,
    UnsupportedOperation,
)
from hal.events import Event
from simulator.clock import SimClock
from simulator.id_control import IdScannerControl
from simulator.id_profiles import (
    CHIP_KINDS,
    DOCUMENT_PROFILES,
    Failure,
    Medium,
    document_profile,
)
from simulator.models.id_scanner import IdScannerModel

SCALE = 0.001
TODAY = dt.date(2026, 11, 29)

# --- an independent oracle -----------------------------------------------------------------


def mod11_2(first17: str) -> str:
    """GB 11643 check character, computed here by the ISO 7064 recursion (not the
    weight table the profiles' author used)."""
    total = 0
    for ch in first17:
        total = ((total + int(ch)) * 2) % 11
    return "0123456789X"[(12 - total) % 11]


def icao_digit(field: str) -> str:
    total = 0
    for i, ch in enumerate(field):
        value = 0 if ch == "<" else int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def test_the_oracle_agrees_with_the_reference_example() -> None:
    assert mod11_2("11010519491231002") == "X"  # reference §1.9
    assert mod11_2("11010519491231002") != "1"  # vector #14: ...0021 is invalid
    assert icao_digit("L898902C3") == "6"  # ICAO 9303 specimen


CN_NUMBERED = [
    name
    for name, p in DOCUMENT_PROFILES.items()
    if p.document is not None
    and p.document.kind
    in (
        DocumentKind.CN_RESIDENT_ID,
        DocumentKind.CN_HMT_RESIDENCE_PERMIT,
        DocumentKind.CN_FOREIGNER_PERMANENT_2023,
    )
]


@pytest.mark.parametrize("name", CN_NUMBERED)
def test_china_numbers_check_as_the_profile_says(name: str) -> None:
    profile = document_profile(name)
    doc = profile.document
    assert doc is not None
    number = doc.document_number
    assert len(number) == 18
    assert number[:17].isdigit()
    assert (mod11_2(number[:17]) == number[17]) is profile.valid
    assert doc.birth_date is not None
    assert number[6:14] == doc.birth_date.strftime("%Y%m%d")
    if doc.kind is not DocumentKind.CN_FOREIGNER_PERMANENT_2023:
        assert (int(number[16]) % 2 == 1) is (doc.sex is Sex.MALE)
    if doc.kind is DocumentKind.CN_RESIDENT_ID:
        assert number.startswith("110105")
        assert doc.long_term is (doc.valid_to is None)
    elif doc.kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT:
        assert number.startswith("810000")
        assert len(doc.permit_number) == 9
        assert doc.issue_count
    else:
        assert number.startswith("9")
    assert doc.valid_to is None or doc.valid_to > TODAY
    assert doc.photo is not None
    assert len(doc.photo.data) == 1024
    assert doc.photo.format is ImageFormat.WLT


def test_bad_check_is_wrong_only_in_its_check_character() -> None:
    doc = document_profile("bad_check").document
    assert doc is not None
    assert mod11_2(doc.document_number[:17]) != doc.document_number[17]
    assert not document_profile("bad_check").valid


def test_the_foreigner_2017_card() -> None:
    doc = document_profile("foreigner_2017").document
    assert doc is not None
    assert doc.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2017
    number = doc.document_number
    assert len(number) == 15
    assert number[:3].isalpha()
    assert number[3:].isdigit()
    assert number[:3] == doc.nationality
    assert doc.name_latin.isupper()


def test_fingerprint_templates() -> None:
    profile = document_profile("resident_fingerprints")
    assert len(profile.fingerprints) == 2
    for fp in profile.fingerprints:
        assert len(fp.template) == 512
        assert fp.template[5] == fp.position
        assert 11 <= fp.position <= 20
    assert len(profile.fingerprint_block) == 1024
    assert document_profile("resident").fingerprint_block == b""


MRZ_PROFILES = [n for n, p in DOCUMENT_PROFILES.items() if p.medium is Medium.MRZ]


def _mrz_fields(lines: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(name, field, its check digit) per ICAO 9303 (and, for the China permit's 3x30,
    its line-1 layout, docs/mrz.md); a visa (MRV) has no composite digit."""
    a = lines[0]
    if len(lines) == 3 and a[0] == "C" and a[2:5].isalnum() and not a[2:5].isalpha():
        part1, part2, part3 = a[2:12], a[13:20], a[21:28]
        return [
            ("number", a[2:11], a[11]),
            ("expiry", a[13:19], a[19]),
            ("birth", a[21:27], a[27]),
            ("composite", part1 + part2 + part3, a[29]),
        ]
    if len(lines) == 3:  # TD1
        b = lines[1]
        composite = a[5:30] + b[0:7] + b[8:15] + b[18:29]
        return [
            ("number", a[5:14], a[14]),
            ("birth", b[0:6], b[6]),
            ("expiry", b[8:14], b[14]),
            ("composite", composite, b[29]),
        ]
    line = lines[1]
    fields = [
        ("number", line[0:9], line[9]),
        ("birth", line[13:19], line[19]),
        ("expiry", line[21:27], line[27]),
    ]
    if a[0] == "V":
        return fields
    if len(line) == 44:  # TD3: the personal number's digit may be '<' when it is empty
        personal = line[28:42]
        if not (personal == "<" * 14 and line[42] == "<"):
            fields.append(("personal", personal, line[42]))
        return [*fields, ("composite", line[0:10] + line[13:20] + line[21:43], line[43])]
    return [*fields, ("composite", line[0:10] + line[13:20] + line[21:35], line[35])]


#: Lines checked by hand against the ICAO rule before the codec existed (golden).
GOLDEN_MRZ = {
    "passport": (
        "P<UTOTESTER<<ALEX<JORDAN<<<<<<<<<<<<<<<<<<<<",
        "XA12345679UTO8402149M3501014<<<<<<<<<<<<<<<8",
    ),
    "id_td1": (
        "I<UTOID76543211<<<<<<<<<<<<<<<",
        "8705301F3305304UTO<<<<<<<<<<<4",
        "SAMPLE<<MARIA<ELENA<<<<<<<<<<<",
    ),
    "bad_mrz": (
        "P<UTOPROBE<<KIM<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
        "XB76543211UTO7909238F3403129<<<<<<<<<<<<<<<7",
    ),
}


@pytest.mark.parametrize("name", MRZ_PROFILES)
def test_mrz_lines_check_as_the_profile_says(name: str) -> None:
    profile = document_profile(name)
    lines = profile.mrz
    if name in GOLDEN_MRZ:
        assert lines == GOLDEN_MRZ[name]
    assert len({len(line) for line in lines}) == 1
    assert (len(lines), len(lines[0])) in ((3, 30), (2, 36), (2, 44))
    failed = [what for what, field, digit in _mrz_fields(lines) if icao_digit(field) != digit]
    assert failed == ([] if profile.valid else ["number"])
    text = "\n".join(lines)
    if profile.document is not None and profile.document.kind is DocumentKind.CN_TRAVEL_PERMIT:
        checker = None  # the mrz package knows no China permit layout
    elif lines[0][0] == "V":
        checker = MRVBCodeChecker(text)
    else:
        checker = {30: TD1CodeChecker, 44: TD3CodeChecker}[len(lines[0])](text)
    if checker is not None:
        hashes = [ok for what, ok in checker.report._rep[0] if "hash" in what]
        assert hashes
        assert all(hashes) is profile.valid
    doc = profile.document
    assert doc is not None
    assert doc.mrz == lines
    assert doc.document_number in lines[0] + lines[1]
    assert doc.birth_date is not None
    assert doc.birth_date.strftime("%y%m%d") in lines[0] + lines[1]
    assert doc.birth_date.year < 2000
    assert doc.valid_to is not None
    assert doc.valid_to > TODAY
    assert doc.valid_to.strftime("%y%m%d") in lines[0] + lines[1]
    assert doc.name_latin.replace(" ", "<") in "".join(lines).replace("<<", "<")


def test_the_visa_is_not_a_td2_with_a_composite() -> None:
    lines = document_profile("visa_td2").mrz
    assert not TD2CodeChecker("\n".join(lines))  # document code V: an MRV-B, not a TD2


def test_chip_profiles_round_trip_through_the_text_block() -> None:
    for profile in DOCUMENT_PROFILES.values():
        doc = profile.document
        if profile.medium is not Medium.CHIP or doc is None:
            continue
        read = document_from_chip(
            text_block_for(doc),
            profile.photo,
            profile.fingerprint_block,
            newest_address_block(profile.newest_address) if profile.newest_address else b"",
        )
        assert read == doc, profile.name


def test_profiles_are_synthetic_and_masked() -> None:
    for profile in DOCUMENT_PROFILES.values():
        doc = profile.document
        text = repr(profile) + repr(profile.sample())
        if doc is not None:
            text += repr(doc)
            assert doc.checks == ()
            assert doc.document_number not in text
            if doc.name:
                assert doc.name not in text
            assert doc.kind in CHIP_KINDS or profile.medium is Medium.MRZ
            if profile.medium is Medium.MRZ:
                assert doc.issuer in ("UTO", "CHN")
        else:
            assert profile.failure is not Failure.NONE
            assert not profile.valid


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="resident"):
        document_profile("nobody")


# --- the model -----------------------------------------------------------------------------


class Listener:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[IdScannerStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: IdScannerStatus) -> None:
        self.statuses.append(status)

    def kinds(self) -> list[type[Event]]:
        return [type(e) for e in self.events]


async def opened(build: str) -> tuple[IdScannerModel, IdScannerControl, Listener]:
    model = IdScannerModel(build=build, clock=SimClock(SCALE))
    listener = Listener()
    await model.open(listener)
    return model, IdScannerControl(model), listener


@pytest.fixture
async def kiosk() -> AsyncIterator[tuple[IdScannerModel, IdScannerControl, Listener]]:
    trio = await opened("kiosk")
    yield trio
    await trio[0].close()


@pytest.fixture
async def chip() -> AsyncIterator[tuple[IdScannerModel, IdScannerControl, Listener]]:
    trio = await opened("chip")
    yield trio
    await trio[0].close()


READABLE = [n for n, p in DOCUMENT_PROFILES.items() if p.failure is Failure.NONE]


@pytest.mark.parametrize("name", READABLE)
async def test_the_kiosk_reads_every_readable_profile(name: str) -> None:
    model, control, listener = await opened("kiosk")
    try:
        accept = asyncio.create_task(model.accept_document())
        await control.wait_for("accepting", timeout=1)
        sample = await control.present_document(name)
        await accept
        assert await control.document_position() == "reader"
        doc = await model.read_document(fingerprints=True, newest_address=True)
        assert sample.expected == doc
        assert sample.valid is document_profile(name).valid
        assert listener.kinds()[:2] == [InsertDocument, DocumentInserted]
        await model.eject()
        assert await control.document_position() == "exit"
        await control.remove_document(timeout=1)
        assert await control.document_position() == "customer"
        assert isinstance(listener.events[-1], DocumentRemoved)
    finally:
        await model.close()


async def test_a_read_asking_less_gets_less(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    await control.present_document("resident_fingerprints")
    await model.accept_document()
    doc = await model.read_document(fingerprints=False, newest_address=False)
    assert doc.fingerprints == ()
    assert doc.fingerprints_present is None
    assert doc.newest_address == ""
    full = await model.read_document(fingerprints=True, newest_address=True)
    assert len(full.fingerprints) == 2
    assert full.fingerprints_present is True
    assert full.newest_address
    plain = document_profile("resident").read_as(fingerprints=True, newest_address=True)
    assert plain.fingerprints_present is False
    assert plain.newest_address == ""


async def test_a_document_held_to_the_shut_entry_waits_there(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _listener = kiosk
    await control.present_document("passport")
    assert await control.document_position() == "exit"
    assert (await model.get_status()).media is DocumentStatus.ENTERING
    with pytest.raises(SequenceError):
        await control.present_document("resident")
    await model.accept_document()
    assert await control.model_position() == "inside"
    assert (await model.get_status()).media is DocumentStatus.PRESENT


async def test_the_flat_chip_reader(chip) -> None:  # type: ignore[no-untyped-def]
    model, control, listener = chip
    caps = model.capabilities()
    assert caps.features() == {"chip", "fingerprints", "newest_address"}
    assert caps.kinds == CHIP_KINDS
    assert caps.security_module_id
    with pytest.raises(UnsupportedOperation):
        await control.present_document("passport")
    with pytest.raises(UnsupportedOperation):
        await control.jam()
    accept = asyncio.create_task(model.accept_document())
    await control.wait_for("accepting", timeout=1)
    assert not accept.done()
    await control.present_document("hmt")
    await asyncio.wait_for(accept, 1)
    assert await control.document_position() == "reader"
    assert (await model.get_status()).media is DocumentStatus.PRESENT
    doc = await model.read_document(fingerprints=True, newest_address=True)
    assert doc.kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT
    assert doc.fingerprints_present is False
    for refused in (
        model.eject(),
        model.retain(),
        model.scan_image(ImageSide.FRONT, ImageFormat.PNG),
    ):
        with pytest.raises(UnsupportedOperation):
            await refused
    await control.remove_document()
    assert DocumentRemoved not in listener.kinds()  # no removal sensor
    assert await control.document_position() == "customer"
    assert await model.reset() is None


async def test_the_mrz_reader() -> None:
    model, control, listener = await opened("mrz")
    try:
        caps = model.capabilities()
        assert caps.features() == {"mrz", "removal_sensor"}
        with pytest.raises(UnsupportedOperation):
            await control.present_document("resident")
        with pytest.raises(UnsupportedOperation):
            await control.sam_failure()
        await control.present_document("travel_permit")
        await model.accept_document()
        doc = await model.read_document(fingerprints=False, newest_address=False)
        assert doc.kind is DocumentKind.CN_TRAVEL_PERMIT
        assert len(doc.mrz) == 3
        with pytest.raises(UnsupportedOperation):
            await model.read_document(fingerprints=True, newest_address=False)
        await control.remove_document()
        assert isinstance(listener.events[-1], DocumentRemoved)
        await control.present_document("unreadable")  # fits any reader
        with pytest.raises(InvalidMedia):
            await model.read_document(fingerprints=False, newest_address=False)
    finally:
        await model.close()


async def test_unreadable_and_forged_are_refused_and_given_back(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, listener = kiosk
    for profile, error in (("unreadable", InvalidMedia), ("forged", SecurityFail)):
        sample = await control.present_document(profile)
        assert sample.expected is None
        assert not sample.valid
        await model.accept_document()
        with pytest.raises(error):
            await model.read_document(fingerprints=False, newest_address=False)
        assert isinstance(listener.events[-1], InvalidDocument)
        assert "forged" not in str(listener.events[-1])
        assert await control.document_position() == "exit"
        await control.remove_document()


async def test_a_read_failure_once(chip) -> None:  # type: ignore[no-untyped-def]
    model, control, listener = chip
    await control.present_document("resident")
    await model.accept_document()
    await control.fail_next_read()
    with pytest.raises(InvalidMedia):
        await model.read_document(fingerprints=False, newest_address=False)
    assert isinstance(listener.events[-1], InvalidDocument)
    assert (await model.read_document(fingerprints=False, newest_address=False)).name


async def test_a_slow_read(chip) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = chip
    await control.present_document("resident")
    await model.accept_document()
    await control.slow_read(100.0)  # 100 ms real
    loop = asyncio.get_running_loop()
    start = loop.time()
    await model.read_document(fingerprints=False, newest_address=False)
    assert loop.time() - start >= 0.09


async def test_a_document_taken_during_a_read(chip) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = chip
    await control.present_document("resident")
    await model.accept_document()
    await control.slow_read(100.0)
    read = asyncio.create_task(model.read_document(fingerprints=False, newest_address=False))
    await asyncio.sleep(0.01)
    await control.remove_document()
    with pytest.raises(NoMedia):
        await read


async def test_sam_failure(chip) -> None:  # type: ignore[no-untyped-def]
    model, control, listener = chip
    await control.present_document("resident")
    await control.sam_failure()
    status = await model.get_status()
    assert status.security_module == "selfTestFailed"
    assert status.device is DeviceState.HARDWARE_ERROR
    assert listener.statuses[-1] == status
    with pytest.raises(HardwareError):
        await model.accept_document()
    with pytest.raises(HardwareError):
        await model.read_document(fingerprints=False, newest_address=False)
    with pytest.raises(HardwareError):
        await model.reset()
    await control.sam_failure(False)
    assert (await model.get_status()).security_module == "ok"
    await model.accept_document()
    assert (await model.read_document(fingerprints=False, newest_address=False)).name


async def test_sam_failure_on_the_kiosk_spares_mrz(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    await control.sam_failure()
    assert (await model.get_status()).device is DeviceState.ONLINE
    await control.present_document("passport")
    await model.accept_document()
    assert (await model.read_document(fingerprints=False, newest_address=False)).mrz
    await model.eject()
    await control.remove_document()
    await control.present_document("resident")
    await model.accept_document()
    with pytest.raises(HardwareError):
        await model.read_document(fingerprints=False, newest_address=False)
    with pytest.raises(HardwareError):
        await model.reset()
    assert await control.model_position() == "inside"  # nothing moved


async def test_jams_on_the_way_in_and_out(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    await control.jam()
    await control.present_document("resident")
    with pytest.raises(MediaJam):
        await model.accept_document()
    assert await control.document_position() == "jammed"
    assert (await model.get_status()).media is DocumentStatus.JAMMED
    for blocked in (model.accept_document(), model.reset(), model.eject()):
        with pytest.raises(MediaJam):
            await blocked
    await control.clear_jam()
    assert await control.document_position() == "reader"
    await control.jam()
    with pytest.raises(MediaJam):
        await model.eject()
    await control.clear_jam()
    assert await model.reset() == "exit"
    await control.remove_document()


async def test_retain_and_its_bin(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    assert model.capabilities().retain_capacity == 20
    for _ in range(20):
        await control.present_document("forged")
        await model.accept_document()
        await model.retain()
        assert await control.document_position() == "retained"
    assert await control.retained_count() == 20
    assert (await model.get_status()).retain_bin.value == "full"
    await control.present_document("forged")
    await model.accept_document()
    with pytest.raises(RetainBinFull):
        await model.retain()
    assert await control.empty_retain_bin() == 20
    await model.retain()
    assert await control.retained_count() == 1
    with pytest.raises(NoMedia):
        await model.retain()


async def test_cancelled_accept_closes_the_entry(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    accept = asyncio.create_task(model.accept_document())
    await control.wait_for("accepting", timeout=1)
    accept.cancel()
    with pytest.raises(asyncio.CancelledError):
        await accept
    assert not model.accepting
    await control.present_document("resident")
    assert await control.document_position() == "exit"  # held at the shut entry


async def test_a_movement_is_not_cut_by_cancellation(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    await control.present_document("resident")
    await model.accept_document()
    eject = asyncio.create_task(model.eject())
    await asyncio.sleep(0)
    eject.cancel()
    with pytest.raises(asyncio.CancelledError):
        await eject
    assert await control.document_position() == "exit"


async def test_power_loss(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    accept = asyncio.create_task(model.accept_document())
    await control.wait_for("accepting", timeout=1)
    await control.power_loss()
    with pytest.raises(DeviceNotReady):
        await accept
    status = await model.get_status()
    assert status.device is DeviceState.POWER_OFF
    assert status.media is DocumentStatus.UNKNOWN
    with pytest.raises(DeviceNotReady):
        await model.read_document(fingerprints=False, newest_address=False)
    await control.power_loss(False)
    assert (await model.get_status()).device is DeviceState.ONLINE


@pytest.mark.parametrize("fmt", [ImageFormat.PNG, ImageFormat.BMP, ImageFormat.JPEG])
async def test_scanned_images(kiosk, fmt: ImageFormat) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    assert fmt in model.capabilities().image_formats  # OpenCV is in the test venv
    with pytest.raises(NoMedia):
        await model.scan_image(ImageSide.FRONT, fmt)
    await control.present_document("passport")
    await model.accept_document()
    front = await model.scan_image(ImageSide.FRONT, fmt)
    back = await model.scan_image(ImageSide.BACK, fmt)
    assert front.data != back.data
    assert (front.width, front.height) == (214, 135)
    assert front.data == (await model.scan_image(ImageSide.FRONT, fmt)).data  # deterministic
    assert len(front.data) < 100_000
    decoded = cv2.imdecode(np.frombuffer(front.data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (135, 214, 3)
    if fmt is ImageFormat.PNG:  # our own writer: a well-formed PNG by its CRCs
        data = front.data
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        at = 8
        while at < len(data):
            (length,) = struct.unpack(">I", data[at : at + 4])
            kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
            (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
            assert zlib.crc32(kind + body) == crc
            at += 12 + length
        assert decoded.std() > 10  # not a blank picture


async def test_scenario_positions_and_conditions(kiosk) -> None:  # type: ignore[no-untyped-def]
    _model, control, _ = kiosk
    assert await control.document_position() == "none"
    with pytest.raises(ValueError, match="unknown condition"):
        await control.wait_for("nothing", timeout=0.1)
    with pytest.raises(SequenceError):
        await control.remove_document()


def test_model_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="kiosk"):
        IdScannerModel(build="scanner")
    with pytest.raises(ConfigurationError):
        IdScannerModel(retain_capacity=-1)
    assert IdScannerModel(build="chip").capabilities().retain_capacity == 0


async def test_power_lost_during_a_movement_leaves_the_document_inside(kiosk) -> None:  # type: ignore[no-untyped-def]
    model, control, _ = kiosk
    await control.present_document("resident")
    await model.accept_document()
    eject = asyncio.create_task(model.eject())
    await asyncio.sleep(0)
    await control.power_loss()
    with pytest.raises(DeviceNotReady):
        await eject
    assert await control.model_position() == "inside"
    await control.power_loss(False)
    assert await model.reset() == "exit"
