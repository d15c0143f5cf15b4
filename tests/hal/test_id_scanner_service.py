"""`IdScannerService` over a scripted backend: validation against the capabilities, the
FIFO queue, timeouts, cancellation that settles, events stamped with command ids, the
retain bin journalled before the device moves and settled after, a pending retain
reconciled at open, and the checks put on every document read."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hal.device import DeviceState
from hal.devices.id_scanner import (
    CheckName,
    DocumentInserted,
    DocumentRemoved,
    DocumentStatus,
    IdScannerCapabilities,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
    ReplenishmentStatus,
)
from hal.devices.id_scanner_service import DOCUMENT, SCANNER, IdScannerService
from hal.devices.retain_bin import RETAIN, RetainBook
from hal.errors import (
    HalTimeout,
    InvalidMedia,
    MediaJam,
    NoMedia,
    RetainBinFull,
    TooManyRequests,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from hal.ledger import Ledger, Outcome
from tests.id_backend import ScriptedIdBackend, motorised_caps, resident_card

TODAY = dt.date(2026, 11, 29)


def service(backend: ScriptedIdBackend, **kwargs: object) -> IdScannerService:
    return IdScannerService(backend, today=lambda: TODAY, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def flat() -> AsyncIterator[tuple[ScriptedIdBackend, IdScannerService]]:
    backend = ScriptedIdBackend()
    async with service(backend) as scanner:
        yield backend, scanner


@pytest.fixture
async def motor() -> AsyncIterator[tuple[ScriptedIdBackend, IdScannerService]]:
    backend = ScriptedIdBackend(motorised_caps(), intake=0.05)
    async with service(backend) as scanner:
        yield backend, scanner


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 (polls the backend's state)
            await asyncio.sleep(0.002)


# --- validation ------------------------------------------------------------------------


async def test_what_the_scanner_lacks_is_refused_naming_it(flat: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = flat
    with pytest.raises(UnsupportedOperation, match="fingerprints"):
        await scanner.read_document(fingerprints=True)
    with pytest.raises(UnsupportedOperation, match="newest address"):
        await scanner.read_document(newest_address=True)
    with pytest.raises(UnsupportedOperation, match="front side"):
        await scanner.scan_image(ImageSide.FRONT)
    with pytest.raises(UnsupportedOperation, match="eject"):
        await scanner.eject()
    for call in (scanner.retain(), scanner.retain_bin(), scanner.empty_retain_bin()):
        with pytest.raises(UnsupportedOperation, match="retain bin"):
            await call
    assert backend.calls == []  # refused before anything reached the device


async def test_a_format_or_side_outside_the_capabilities_is_refused(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    with pytest.raises(UnsupportedOperation, match="back side; it scans front"):
        await scanner.scan_image(ImageSide.BACK)
    with pytest.raises(UnsupportedOperation, match="png images; it delivers jpeg"):
        await scanner.scan_image(ImageSide.FRONT, format=ImageFormat.PNG)
    with pytest.raises(NoMedia):
        await scanner.scan_image(ImageSide.FRONT)
    backend.present(resident_card())
    await scanner.read_document(fingerprints=True, newest_address=True)
    image = await scanner.scan_image(ImageSide.FRONT)
    assert (image.side, image.format, image.width) == (ImageSide.FRONT, ImageFormat.JPEG, 64)
    assert backend.calls[-2:] == ["read fingerprints=True newest=True", "scan front jpeg"]


# --- reading, events, checks -----------------------------------------------------------


async def test_a_read_waits_for_the_document_and_stamps_its_events(flat: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = flat
    sub = scanner.events()
    task = asyncio.create_task(scanner.read_document(timeout=5))
    await until(lambda: "accept" in backend.calls)
    backend.present(resident_card())
    document = await task
    assert document.valid, document.checks
    assert [c.name for c in document.checks] == [
        CheckName.ID_NUMBER,
        CheckName.BIRTH_DATE_MATCHES_NUMBER,
        CheckName.SEX_MATCHES_NUMBER,
        CheckName.NOT_EXPIRED,
    ]
    events = sub.drain()
    kinds = [type(e) for e in events if not isinstance(e, StatusChanged)]
    assert kinds == [InsertDocument, DocumentInserted]
    ids = {e.command_id for e in events if not isinstance(e, StatusChanged)}
    assert len(ids) == 1
    assert None not in ids
    changed = [e for e in events if isinstance(e, StatusChanged)]
    assert changed
    assert changed[-1].new.media is DocumentStatus.PRESENT
    # The card still lies on the field: the next read reads it without waiting.
    calls = len(backend.calls)
    assert (await scanner.read_document(timeout=1)).valid
    assert "accept" not in backend.calls[calls:]


async def test_an_unreadable_document_raises_with_its_event(flat: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = flat
    backend.present(resident_card())
    backend.invalid_next = True
    sub = scanner.events(kinds=[InvalidDocument])
    with pytest.raises(InvalidMedia):
        await scanner.read_document(timeout=1)
    (event,) = sub.drain()
    assert event.command_id is not None
    assert event.reason == "unknown card type"


async def test_a_jammed_document_is_refused_until_a_reset(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    backend.media = DocumentStatus.JAMMED
    with pytest.raises(MediaJam):
        await scanner.read_document(timeout=1)


async def test_a_removal_is_unsolicited(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    sub = scanner.events(kinds=[DocumentRemoved])
    backend.present(resident_card())
    await scanner.read_document(timeout=1)
    await scanner.eject(timeout=1)
    backend.take()
    (event,) = sub.drain()
    assert event.command_id is None


# --- queue, timeouts, cancellation -----------------------------------------------------


async def test_commands_run_one_at_a_time_in_order_and_the_queue_is_bounded() -> None:
    backend = ScriptedIdBackend(motorised_caps())
    async with service(backend, max_queue=2) as scanner:
        backend.present(resident_card())
        await scanner.read_document(timeout=1)
        backend.hold()
        retain = asyncio.create_task(scanner.retain(timeout=5))
        await backend.moving.wait()
        read = asyncio.create_task(scanner.read_document(timeout=5))
        await asyncio.sleep(0.01)
        with pytest.raises(TooManyRequests):
            await scanner.eject(timeout=1)
        assert backend.calls[-1] == "retain"  # the read waits behind the retain
        backend.release()
        await retain
        await until(lambda: backend.calls[-1] == "accept")
        backend.present(resident_card(name="测试人乙"))
        assert (await read).name == "测试人乙"


async def test_a_read_with_no_document_times_out(flat: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = flat
    with pytest.raises(HalTimeout, match=r"ReadDocument did not finish within 0\.05 s"):
        await scanner.read_document(timeout=0.05)
    assert (await scanner.status()).media is DocumentStatus.NOT_PRESENT
    # The scanner is free again: the next read works.
    backend.present(resident_card())
    assert (await scanner.read_document(timeout=1)).valid


async def test_a_cancel_mid_intake_keeps_the_document_in_and_reports_it(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    sub = scanner.events(kinds=[StatusChanged])
    task = asyncio.create_task(scanner.read_document(timeout=5))
    await until(lambda: "accept" in backend.calls)
    backend.present(resident_card())
    await until(lambda: backend.media is DocumentStatus.ENTERING)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Settled before the cancellation came back: the document is in, and the service knows.
    assert backend.media is DocumentStatus.PRESENT
    assert (await scanner.status()).media is DocumentStatus.PRESENT
    assert any(e.new.media is DocumentStatus.PRESENT for e in sub.drain())
    # It is read without presenting it again.
    calls = len(backend.calls)
    assert (await scanner.read_document(timeout=1)).valid
    assert "accept" not in backend.calls[calls:]


async def test_a_timeout_mid_intake_keeps_the_document_in() -> None:
    backend = ScriptedIdBackend(motorised_caps(), intake=0.1)
    async with service(backend) as scanner:
        backend.present(resident_card())
        with pytest.raises(HalTimeout):
            await scanner.read_document(timeout=0.03)
        assert (await scanner.status()).media is DocumentStatus.PRESENT


# --- the retain bin --------------------------------------------------------------------


async def test_a_retain_is_journalled_before_the_move_and_settled_after(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    backend.present(resident_card())
    await scanner.read_document(timeout=1)
    backend.hold()
    task = asyncio.create_task(scanner.retain(timeout=5))
    await backend.moving.wait()
    during = await scanner.retain_bin()
    assert (during.count, during.pending) == (0, 1)
    (pending,) = scanner.ledger.pending("id_scanner")
    assert (pending.source, pending.destination, pending.item) == (SCANNER, RETAIN, DOCUMENT)
    backend.release()
    await task
    after = await scanner.retain_bin()
    assert (after.count, after.pending, after.capacity) == (1, 0, 3)
    assert len(backend.retained) == 1
    assert (await scanner.status()).media is DocumentStatus.NOT_PRESENT
    with pytest.raises(NoMedia):
        await scanner.retain(timeout=1)
    assert (await scanner.retain_bin()).count == 1


async def test_a_cancelled_retain_finishes_and_is_counted(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    backend.present(resident_card())
    await scanner.read_document(timeout=1)
    backend.hold()
    task = asyncio.create_task(scanner.retain(timeout=5))
    await backend.moving.wait()
    task.cancel()
    await asyncio.sleep(0.01)
    assert not task.done()  # waits for the device
    backend.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await scanner.retain_bin()).count == 1


async def test_a_jammed_retain_is_settled_as_not_moved(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    backend.present(resident_card())
    await scanner.read_document(timeout=1)
    backend.jam_next = True
    with pytest.raises(MediaJam):
        await scanner.retain(timeout=1)
    (record,) = scanner.ledger.history("id_scanner")
    assert record.settlement is not None
    assert record.settlement.outcome is Outcome.FAILED
    assert (await scanner.retain_bin()).count == 0


async def test_a_full_bin_refuses_a_retain_and_shows_in_the_status() -> None:
    backend = ScriptedIdBackend(motorised_caps(retain_capacity=1))
    async with service(backend) as scanner:
        backend.present(resident_card())
        await scanner.read_document(timeout=1)
        await scanner.retain(timeout=1)
        assert (await scanner.status()).retain_bin is ReplenishmentStatus.FULL
        backend.present(resident_card())
        await scanner.read_document(timeout=1)
        with pytest.raises(RetainBinFull):
            await scanner.retain(timeout=1)
        assert backend.media is DocumentStatus.PRESENT  # nothing moved
        await scanner.empty_retain_bin(reason="emptied by the test")
        assert (await scanner.retain_bin()).count == 0
        assert (await scanner.status()).retain_bin is ReplenishmentStatus.OK


async def test_a_reset_that_retains_is_journalled(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    backend.present(resident_card())
    await scanner.read_document(timeout=1)
    backend.media = DocumentStatus.JAMMED  # cannot be handed back: the reset keeps it
    await scanner.reset(timeout=1)
    assert backend.calls[-1] == "reset"
    (record,) = scanner.ledger.history("id_scanner")
    assert record.movement.command_id is not None
    assert record.settlement is not None
    assert record.settlement.outcome is Outcome.DONE
    assert (await scanner.retain_bin()).count == 1
    # A document handed back by a reset is no retain.
    backend.present(resident_card())
    await scanner.read_document(timeout=1)
    await scanner.reset(timeout=1)
    assert (await scanner.retain_bin()).count == 1
    records = sorted(scanner.ledger.history("id_scanner"), key=lambda r: r.movement.id)
    assert [r.settlement.outcome for r in records if r.settlement] == [
        Outcome.DONE,
        Outcome.FAILED,
    ]


async def test_a_reset_that_retains_what_the_status_did_not_show_is_counted(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    backend.reset_goes = "retain"
    await scanner.reset(timeout=1)
    assert (await scanner.retain_bin()).count == 1
    assert scanner.ledger.pending("id_scanner") == []


@pytest.mark.parametrize(
    ("media", "outcome"),
    [(DocumentStatus.PRESENT, Outcome.FAILED), (DocumentStatus.NOT_PRESENT, Outcome.UNKNOWN)],
)
async def test_a_retain_a_crash_left_pending_is_reconciled_at_open(
    tmp_path: Path, media: DocumentStatus, outcome: Outcome
) -> None:
    path = tmp_path / "ledger.sqlite"
    # A previous run journalled a retain and died before the device answered.
    crashed = Ledger.open(path)
    crashed.define_location("id_scanner", SCANNER, kind="customer", item=DOCUMENT)
    book = RetainBook(crashed, "id_scanner", 3, item=DOCUMENT, source=SCANNER)
    book.journal("retain", 1)
    crashed.close()
    backend = ScriptedIdBackend(motorised_caps())
    backend.media = media
    async with service(backend, ledger=path) as scanner:
        assert scanner.ledger.pending("id_scanner") == []
        (record,) = scanner.ledger.history("id_scanner")
        assert record.settlement is not None
        assert record.settlement.outcome is outcome
        counts = await scanner.retain_bin()
        assert (counts.count, counts.unknown) == (0, 1 if outcome is Outcome.UNKNOWN else 0)


async def test_status_and_capabilities_bypass_the_queue(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    task = asyncio.create_task(scanner.read_document(timeout=5))
    await until(lambda: "accept" in backend.calls)
    status = await scanner.status()
    assert (status.device, status.media) == (DeviceState.ONLINE, DocumentStatus.NOT_PRESENT)
    assert (await scanner.capabilities()).retain_capacity == 3
    assert "retain" in (await scanner.capabilities()).features()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_scanner_without_a_bin_defines_none() -> None:
    backend = ScriptedIdBackend(IdScannerCapabilities())
    async with service(backend) as scanner:
        assert (await scanner.status()).retain_bin is ReplenishmentStatus.OK
        await scanner.reset(timeout=1)
        assert scanner.ledger.history("id_scanner") == []


async def test_a_scanner_that_cannot_tell_is_asked_rather_than_refused(motor: tuple) -> None:  # type: ignore[type-arg]
    backend, scanner = motor
    backend.present(resident_card())
    await scanner.read_document(timeout=1)
    backend.media = DocumentStatus.UNKNOWN
    await scanner.eject(timeout=1)
    assert backend.calls[-1] == "eject"
    backend.media = DocumentStatus.JAMMED
    with pytest.raises(MediaJam):
        await scanner.scan_image(ImageSide.FRONT, timeout=1)
    assert backend.calls[-1] == "eject"  # the scan never reached the device
