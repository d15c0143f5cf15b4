"""``sim://id_scanner`` through ``hal.open``: the service's checks on every profile, the
events, the retain bin in a ledger file, the builds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import hal
from hal.devices.id_scanner import (
    CheckName,
    DocumentInserted,
    IdScanner,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
)
from hal.errors import (
    ConfigurationError,
    InvalidMedia,
    SecurityFail,
    UnsupportedOperation,
)
from simulator.id_profiles import DOCUMENT_PROFILES, Failure
from simulator.world import get_world

SCALE = 0.001
READABLE = sorted(n for n, p in DOCUMENT_PROFILES.items() if p.failure is Failure.NONE)


def _open(world: str, extra: str = "") -> IdScanner:
    scanner = hal.open(f"sim://id_scanner?world={world}&clock_scale={SCALE}{extra}")
    assert isinstance(scanner, IdScanner)
    return scanner


async def test_every_profile_through_the_service_checks() -> None:
    scanner = _open("checks")
    control = get_world("checks").id_scanner_control()
    async with scanner:
        for name in READABLE:
            events = scanner.events()
            read = asyncio.create_task(
                scanner.read_document(fingerprints=True, newest_address=True, timeout=5)
            )
            await control.wait_for("accepting", timeout=2)
            sample = await control.present_document(name)
            doc = await read
            assert sample.expected is not None
            assert doc.valid is sample.valid, (name, doc.failed_checks())
            assert doc.checks  # the service ran them
            assert doc.document_number == sample.expected.document_number
            assert doc.birth_date == sample.expected.birth_date
            kinds = []
            while (event := events.get_nowait()) is not None:
                kinds.append(type(event))
            events.close()
            assert kinds.index(InsertDocument) < kinds.index(DocumentInserted)
            failed = {check.name for check in doc.failed_checks()}
            if name == "bad_check":
                assert failed == {CheckName.ID_NUMBER}
            elif name == "bad_mrz":
                assert failed == {CheckName.MRZ_DOCUMENT_NUMBER}
            else:
                assert failed == set()
            await scanner.eject(timeout=5)
            await control.remove_document(timeout=2)


async def test_unreadable_and_forged_through_the_service() -> None:
    scanner = _open("refused")
    control = get_world("refused").id_scanner_control()
    async with scanner:
        for name, error in (("unreadable", InvalidMedia), ("forged", SecurityFail)):
            events = scanner.events()
            await control.present_document(name)
            with pytest.raises(error) as caught:
                await scanner.read_document(timeout=5)
            assert "1101" not in str(caught.value)
            seen = []
            while (event := events.get_nowait()) is not None:
                seen.append(event)
            events.close()
            assert any(isinstance(e, InvalidDocument) for e in seen)
            assert await control.document_position() == "exit"
            await control.remove_document()


async def test_the_retain_bin_is_journalled_in_the_ledger_file(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    control = None
    for round_ in range(2):
        scanner = _open("bin", f"&ledger={ledger}")
        control = get_world("bin").id_scanner_control()
        async with scanner:
            await control.present_document("forged")
            with pytest.raises(SecurityFail):
                await scanner.read_document(timeout=5)
            await control.remove_document()
            await control.present_document("resident")
            await scanner.read_document(timeout=5)
            await scanner.retain(timeout=5)
            assert (await scanner.retain_bin()).count == round_ + 1
    assert control is not None
    assert await control.retained_count() == 2
    async with _open("bin", f"&ledger={ledger}") as scanner:
        assert (await scanner.retain_bin()).count == 2  # counted from the file
        await scanner.empty_retain_bin(reason="test")
        assert (await scanner.retain_bin()).count == 0


async def test_the_chip_build_by_address() -> None:
    scanner = _open("flat", "&id_profile=chip")
    control = get_world("flat").id_scanner_control()
    async with scanner:
        caps = await scanner.capabilities()
        assert caps.features() == {"chip", "fingerprints", "newest_address"}
        with pytest.raises(UnsupportedOperation):
            await scanner.scan_image(ImageSide.FRONT, timeout=5)
        with pytest.raises(UnsupportedOperation):
            await control.present_document("passport")
        await control.present_document("foreigner_2023")
        doc = await scanner.read_document(timeout=5)
        assert doc.valid
    with pytest.raises(ConfigurationError, match="already has id_scanner built"):
        hal.open("sim://id_scanner?world=flat&id_profile=mrz")
    with pytest.raises(ConfigurationError, match="id_profile 'flatbed'"):
        hal.open("sim://id_scanner?id_profile=flatbed")
    with pytest.raises(ConfigurationError, match="ID scanner option"):
        hal.open("sim://card_reader?id_profile=chip")


async def test_a_scanned_image_through_the_service() -> None:
    async with _open("images") as scanner:
        control = get_world("images").id_scanner_control()
        await control.present_document("id_td1")
        await scanner.read_document(timeout=5)
        image = await scanner.scan_image(ImageSide.BACK, format=ImageFormat.PNG)
        assert image.data.startswith(b"\x89PNG")
        assert "bytes>" in repr(image)


SCENARIO = """
version = 1
[devices.id_scanner]
build = "kiosk"
retain_capacity = 3

[[customer]]
device = "id_scanner"
wait_for = "accepting"
after = 0.5
action = "present_document"
profile = "hmt"

[[customer]]
device = "id_scanner"
action = "remove_document"
timeout = 5000
"""


async def test_a_scenario_customer_over_a_served_simulator(tmp_path: Path) -> None:
    from simulator.remote_control import RemoteIdScannerControl
    from simulator.scenario import parse_scenario
    from simulator.server import SimServer

    scenario = parse_scenario(SCENARIO, name="identity")
    assert scenario.id_scanners["id_scanner"].retain_capacity == 3
    sim = SimServer(
        scenario,
        "tcp://127.0.0.1:0",
        clock_scale=SCALE,
        ledger=tmp_path / "ledger.sqlite",
        customer=True,
    )
    async with sim:
        scanner = hal.open(sim.addresses["id_scanner"])
        assert isinstance(scanner, IdScanner)
        control = RemoteIdScannerControl(sim.control_endpoint, timeout=2.0)
        async with scanner:
            assert (await scanner.capabilities()).retain_capacity == 3
            doc = await scanner.read_document(timeout=5)
            assert doc.kind.value == "cnHmtResidencePermit"
            assert doc.valid
            await scanner.eject(timeout=5)
            await control.wait_for("document_taken", timeout=5)  # the scripted customer
            assert await control.document_position() == "customer"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[devices.id_scanner]\nbuild = "flatbed"', "no ID scanner build named 'flatbed'"),
        ("[devices.id_scanner]\nspeed = 3", "speed"),
        (
            '[[customer]]\ndevice = "id_scanner"\naction = "present_document"\nprofile = "x"',
            "no document profile named 'x'",
        ),
        ('[[customer]]\ndevice = "id_scanner"\naction = "present_document"', "'profile' goes"),
        (
            '[[customer]]\ndevice = "id_scanner"\naction = "insert_card"\nprofile = "visa"',
            "no action",
        ),
        ('[[customer]]\naction = "present_document"\nprofile = "resident"', "no action"),
        ('[[customer]]\ndevice = "id_scanner"\nwait_for = "gate_open"', "unknown condition"),
    ],
)
def test_scenario_id_scanner_refusals(text: str, message: str) -> None:
    from simulator.scenario import parse_scenario

    with pytest.raises(ConfigurationError, match=message):
        parse_scenario(f"version = 1\n{text}\n")


#: The random sessions' operations, weighted by repetition.
OPS = (
    *("present", "present", "read", "read", "read", "eject", "retain", "retain"),
    *("remove", "remove", "jam", "clear", "reset"),
)


@pytest.mark.parametrize("seed", range(12))
async def test_random_sessions_keep_the_books_and_the_bin_equal(seed: int) -> None:
    """Whatever the customer, the app and fate do, the ledger's retain bin counts what
    the model physically holds, and one document is in one place."""
    import random

    from hal.errors import HalError

    rng = random.Random(seed)
    world = f"random{seed}"
    scanner = _open(world)
    control = get_world(world).id_scanner_control()
    model = control.model
    profiles = sorted(DOCUMENT_PROFILES)
    async with scanner:
        for _ in range(40):
            op = rng.choice(OPS)
            try:
                if op == "present":
                    await control.present_document(rng.choice(profiles))
                elif op == "read" and model.position.value in ("presented", "inside"):
                    await scanner.read_document(timeout=2)
                elif op == "eject":
                    await scanner.eject(timeout=2)
                elif op == "retain":
                    await scanner.retain(timeout=2)
                elif op == "remove":
                    await control.remove_document(timeout=0.05)
                elif op == "jam":
                    await control.jam()
                elif op == "clear":
                    await control.clear_jam()
                elif op == "reset":
                    await scanner.reset(timeout=2)
            except HalError:
                pass
            assert (await scanner.retain_bin()).count == model.retained_count
            assert model.retained_count <= model.retain_capacity
            media = (await scanner.status()).media.value
            expected = {
                "inside": "present",
                "jammed": "jammed",
                "exit": "entering",
                "presented": "entering",
            }.get(model.position.value, "notPresent")
            assert media == expected
