"""`IdScannerService` over the simulator's model (``sim://id_scanner``'s kiosk build):
every shipped document profile read with the checks the profile promises, the failures
as their errors, a retain counted by the service's books and by the model alike, and a
cancelled read that leaves the document the motorised scanner took in, inside."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

import hal
from hal.devices.id_scanner import CheckName, DocumentStatus, IdScanner
from hal.errors import InvalidMedia, SecurityFail
from simulator.id_profiles import document_profile, document_profile_names
from simulator.world import World, get_world, reset_worlds

SCALE = 0.001
READABLE = [
    name for name in document_profile_names() if document_profile(name).document is not None
]


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


@pytest.fixture
def world() -> World:
    return World("id_service", seed=5, clock_scale=SCALE)


async def test_every_profile_reads_with_the_checks_it_promises(world: World) -> None:
    control = world.id_scanner_control()
    async with world.open_id_scanner() as scanner:
        for name in READABLE:
            profile = document_profile(name)
            await control.present_document(name)
            document = await scanner.read_document(
                fingerprints=True, newest_address=True, timeout=5
            )
            assert document.valid is profile.valid, (name, document.failed_checks())
            assert document.checks, name
            expected = profile.expected
            assert expected is not None
            assert dataclasses.replace(document, checks=()) == expected, name
            await scanner.eject(timeout=5)
            await control.remove_document(timeout=5)


@pytest.mark.parametrize(("profile", "failed"), [("bad_check", CheckName.ID_NUMBER)])
async def test_a_bad_check_character_is_on_the_document(
    world: World, profile: str, failed: CheckName
) -> None:
    control = world.id_scanner_control()
    async with world.open_id_scanner() as scanner:
        await control.present_document(profile)
        document = await scanner.read_document(timeout=5)
    assert failed in {c.name for c in document.failed_checks()}


async def test_a_bad_mrz_digit_is_on_the_document(world: World) -> None:
    control = world.id_scanner_control()
    async with world.open_id_scanner() as scanner:
        await control.present_document("bad_mrz")
        document = await scanner.read_document(timeout=5)
    failed = {c.name for c in document.failed_checks()}
    assert failed
    assert failed <= {
        CheckName.MRZ_DOCUMENT_NUMBER,
        CheckName.MRZ_BIRTH_DATE,
        CheckName.MRZ_EXPIRY,
        CheckName.MRZ_OPTIONAL_DATA,
        CheckName.MRZ_COMPOSITE,
    }


@pytest.mark.parametrize(
    ("profile", "error"), [("forged", SecurityFail), ("unreadable", InvalidMedia)]
)
async def test_unreadable_documents_raise(
    world: World, profile: str, error: type[Exception]
) -> None:
    control = world.id_scanner_control()
    async with world.open_id_scanner() as scanner:
        await control.present_document(profile)
        with pytest.raises(error):
            await scanner.read_document(timeout=5)


async def test_a_retain_is_counted_by_the_books_and_the_model() -> None:
    async with hal.open("sim://id_scanner?world=id_retain&clock_scale=0.001") as scanner:
        assert isinstance(scanner, IdScanner)
        control = get_world("id_retain").id_scanner_control()
        await control.present_document("resident")
        await scanner.read_document(timeout=5)
        await scanner.retain(timeout=5)
        assert (await scanner.retain_bin()).count == 1
        assert await control.retained_count() == 1
        assert (await scanner.status()).media is DocumentStatus.NOT_PRESENT


async def test_a_cancelled_read_leaves_the_document_inside(world: World) -> None:
    control = world.id_scanner_control()
    async with world.open_id_scanner() as scanner:
        await control.slow_read(100.0)  # 0.1 s real: the cancel lands mid-read
        task = asyncio.create_task(scanner.read_document(timeout=5))
        await control.present_document("resident")
        await control.wait_for("document_inside", timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await scanner.status()).media is DocumentStatus.PRESENT
        assert await control.document_position() == "reader"
        await control.slow_read(0.0)
        assert (await scanner.read_document(timeout=5)).valid
