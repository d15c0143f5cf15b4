"""`PrinterService` over the scripted printer (tests/printer_backend.py).

Validation against the capabilities before anything is queued; FIFO order; a timeout and
a cancel mid-job (the block under way finishes, the caller hears after the printer
settled, the progress is logged); PaperOut with its counts; PaperThreshold exactly once
per crossing whether the backend emits it or only reports status; events stamped; a
journal printer under its own name; logs without the receipt's text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from hal.devices.printer import (
    Barcode,
    CodePage,
    Cut,
    Document,
    Feed,
    Image,
    Line,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    PrinterCapabilities,
    PrinterStatus,
    PrintMediaStatus,
    PrintResult,
    QrCode,
    Rule,
    Symbology,
)
from hal.devices.printer_service import PrinterService
from hal.errors import (
    ConnectionLost,
    CoverOpen,
    DeviceNotReady,
    HalTimeout,
    InvalidData,
    MediaJam,
    PaperOut,
    UnsupportedOperation,
)
from hal.events import Event, StatusChanged, Subscription
from protocols.escpos import encode_blocks
from tests.printer_backend import ScriptedPrinter

SECRET = "Mr Customer Name 6222 **** **** 1234"


def receipt(lines: int = 5) -> Document:
    return Document(tuple(Line.of(f"line {i}") for i in range(lines)))


@pytest.fixture
async def backend() -> ScriptedPrinter:
    return ScriptedPrinter()


@pytest.fixture
async def printer(backend: ScriptedPrinter) -> AsyncIterator[PrinterService]:
    async with PrinterService(backend) as service:
        yield service


def drain(sub: Subscription) -> list[Event]:
    out = []
    while (event := sub.get_nowait()) is not None:
        out.append(event)
    return out


def thresholds(events: list[Event]) -> list[PaperStatus]:
    return [e.paper for e in events if isinstance(e, PaperThreshold)]


# --- validation ---------------------------------------------------------------------------


LACKING = PrinterCapabilities(
    code_pages=frozenset({CodePage.CP437, CodePage.GB18030}),
    symbologies=frozenset({Symbology.CODE128}),
    qr=False,
    images=False,
    cut=frozenset({"full"}),
    dots_per_line=384,
    columns=32,
)


EAN = Barcode("400638133393", Symbology.EAN13)


@pytest.mark.parametrize(
    ("document", "names"),
    [
        (Document((Line.of("x"), EAN)), ["block 1", "ean13", "code128"]),
        (Document((QrCode("https://example.com"),)), ["block 0", "QR"]),
        (Document((Image(8, 1, b"\xff"),)), ["block 0", "images"]),
        (Document((Feed(2), Cut(partial=True))), ["block 1", "partial", "full"]),
        (Document((Line.of("x"),), CodePage.CP1252), ["cp1252", "cp437, gb18030"]),
    ],
)
async def test_what_the_printer_lacks_is_refused_by_name(
    document: Document, names: list[str]
) -> None:
    backend = ScriptedPrinter(LACKING)
    async with PrinterService(backend) as printer:
        with pytest.raises(UnsupportedOperation) as caught:
            await printer.print_document(document)
    for name in names:
        assert name in str(caught.value)
    assert backend.jobs == []  # refused before it was queued


async def test_an_image_wider_than_the_paper() -> None:
    backend = ScriptedPrinter(PrinterCapabilities(dots_per_line=384))
    async with PrinterService(backend) as printer:
        wide = Image(392, 1, bytes(49))
        with pytest.raises(
            InvalidData, match=r"block 0: the image is 392 dots wide; the paper has 384"
        ):
            await printer.print_document(Document((wide,)))
        # As wide as the paper is fine.
        result = await printer.print_document(Document((Image(384, 1, bytes(48)),)))
    assert result.complete
    assert backend.jobs == ["document:1"]


@pytest.mark.parametrize(
    ("page", "text", "char", "code"),
    [
        (CodePage.CP437, "Total € 12", "€", "U+20AC"),
        (CodePage.CP1252, "收据", "收", "U+6536"),
        (CodePage.CP858, "ok ☃", "☃", "U+2603"),
    ],
)
async def test_text_the_code_page_cannot_encode(
    page: CodePage, text: str, char: str, code: str
) -> None:
    backend = ScriptedPrinter()
    async with PrinterService(backend) as printer:
        document = Document((Line.of("fine"), Rule(), Line.of(SECRET + " " + text)), page)
        with pytest.raises(InvalidData) as caught:
            await printer.print_document(document)
    message = str(caught.value)
    assert "block 2" in message
    assert code in message
    assert repr(char) in message
    assert page.value in message
    assert SECRET not in message
    assert "Customer" not in message
    assert backend.jobs == []


async def test_a_rule_character_outside_the_code_page() -> None:
    async with PrinterService(ScriptedPrinter()) as printer:
        with pytest.raises(InvalidData, match=r"block 0 \(a rule\).*U\+2550"):
            await printer.print_document(Document((Rule("═"),), CodePage.CP1252))


async def test_chinese_in_gb18030_prints() -> None:
    backend = ScriptedPrinter()
    async with PrinterService(backend) as printer:
        document = Document((Line.of("交易凭条 Receipt"), Rule("="), Cut()))
        result = await printer.print_document(document)
    assert result == PrintResult(3, 3, sum(len(c) for c in encode_blocks(document)))


async def test_media_actions_against_the_capabilities() -> None:
    backend = ScriptedPrinter(PrinterCapabilities(cut=frozenset(), presenter=False))
    async with PrinterService(backend) as printer:
        for action, word in [
            (MediaControl.CUT, "no cutter"),
            (MediaControl.EJECT, "no presenter"),
            (MediaControl.RETRACT, "no presenter"),
        ]:
            with pytest.raises(UnsupportedOperation, match=word):
                await printer.control_media(action)
        with pytest.raises(InvalidData, match="not a media action"):
            await printer.control_media("fold")  # type: ignore[arg-type]
        with pytest.raises(InvalidData, match="takes a Document"):
            await printer.print_document("text")  # type: ignore[arg-type]
        with pytest.raises(InvalidData, match="takes bytes"):
            await printer.print_raw("text")  # type: ignore[arg-type]
    assert backend.jobs == []


async def test_not_open() -> None:
    printer = PrinterService(ScriptedPrinter())
    with pytest.raises(DeviceNotReady):
        await printer.print_document(receipt())


# --- the queue, timeouts, cancellation --------------------------------------------------


async def test_jobs_run_one_at_a_time_in_order() -> None:
    backend = ScriptedPrinter(block_delay=0.01)
    async with PrinterService(backend) as printer:
        results = await asyncio.gather(
            printer.print_document(receipt(3)),
            printer.print_raw(b"\x1b@hello\n"),
            printer.control_media(MediaControl.CUT),
            printer.print_document(receipt(1)),
            printer.reset(),
        )
    assert backend.jobs == ["document:3", "raw:8", "media:cut", "document:1", "reset"]
    assert results[0].blocks == 3
    assert results[0].complete
    assert results[1] == PrintResult(0, 0, 8)


async def test_a_timeout_mid_job_finishes_the_block_under_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = ScriptedPrinter(block_delay=0.04)
    caplog.set_level(logging.INFO, logger="hal.devices.printer_service")
    async with PrinterService(backend) as printer:
        with pytest.raises(HalTimeout, match=r"did not finish within 0\.1 s"):
            await printer.print_document(receipt(20), timeout=0.1)
        printed = len(backend.printed)
        await asyncio.sleep(0.1)
        assert len(backend.printed) == printed  # the printer had stopped when we heard
        assert 1 <= printed <= 4
        # The next job runs normally.
        assert (await printer.print_document(receipt(2))).complete
    assert any(f"cancelled after {printed} of 20 blocks" in r.getMessage() for r in caplog.records)


async def test_a_cancel_mid_job(caplog: pytest.LogCaptureFixture) -> None:
    backend = ScriptedPrinter(block_delay=0.03)
    caplog.set_level(logging.DEBUG, logger="hal.devices.printer_service")
    async with PrinterService(backend) as printer:
        job = asyncio.create_task(printer.print_document(receipt(10)))
        queued = asyncio.create_task(printer.print_document(receipt(2)))
        await backend.block_started.wait()
        await asyncio.sleep(0.04)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        printed = len(backend.printed)
        assert 1 <= printed < 10
        assert (await queued).blocks == 2  # the queue went on
    assert any("cancelled after" in r.getMessage() for r in caplog.records)


# --- the printer stops -----------------------------------------------------------------


async def test_paper_out_mid_job_passes_through_with_its_counts(
    backend: ScriptedPrinter, printer: PrinterService
) -> None:
    sub = printer.events()
    backend.paper_left = 3
    document = receipt(7)
    with pytest.raises(PaperOut) as caught:
        await printer.print_document(document)
    chunks = encode_blocks(document)
    assert (caught.value.printed_blocks, caught.value.total_blocks) == (3, 7)
    assert caught.value.bytes_sent == sum(len(c) for c in chunks[:4])
    assert caught.value.error_code == "paperOut"
    assert len(backend.printed) == 3
    assert (await printer.status()).paper is PaperStatus.OUT
    events = drain(sub)
    assert thresholds(events) == [PaperStatus.OUT]
    assert any(isinstance(e, StatusChanged) and "paper" in e.changed for e in events)
    # Out of paper: nothing prints at all.
    with pytest.raises(PaperOut) as again:
        await printer.print_document(receipt(2))
    assert again.value.printed_blocks == 0


async def test_cover_open_and_jam(backend: ScriptedPrinter, printer: PrinterService) -> None:
    backend.open_cover()
    with pytest.raises(CoverOpen):
        await printer.print_document(receipt(2))
    assert backend.printed == []
    backend.open_cover(False)
    backend.jam_next = True
    with pytest.raises(MediaJam):
        await printer.print_document(receipt(2))
    assert (await printer.status()).paper is PaperStatus.JAMMED
    await printer.reset()
    assert (await printer.status()).paper is PaperStatus.FULL


# --- events ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_emits", [False, True], ids=["derived", "backend-emits"])
async def test_paper_threshold_once_per_crossing(backend_emits: bool) -> None:
    backend = ScriptedPrinter(thresholds=backend_emits)
    async with PrinterService(backend) as printer:
        sub = printer.events()
        backend.set_paper(PaperStatus.LOW)
        await printer.status()  # a status query sees the same level: nothing new
        backend.set_paper(PaperStatus.LOW)
        backend.set_paper(PaperStatus.OUT)
        await printer.status()
        backend.set_paper(PaperStatus.UNKNOWN)  # not a level: the last one stands
        backend.set_paper(PaperStatus.OUT)
        backend.set_paper(PaperStatus.FULL)
        await printer.status()
        backend.set_paper(PaperStatus.FULL)
        events = drain(sub)
    assert thresholds(events) == [PaperStatus.LOW, PaperStatus.OUT, PaperStatus.FULL]
    crossing = [e for e in events if isinstance(e, PaperThreshold)]
    assert all(e.command_id is None and e.device == "receipt_printer" for e in crossing)
    papers = [e.new.paper for e in events if isinstance(e, StatusChanged)]  # type: ignore[attr-defined]
    assert papers == [
        PaperStatus.LOW,
        PaperStatus.OUT,
        PaperStatus.UNKNOWN,
        PaperStatus.OUT,
        PaperStatus.FULL,
    ]


async def test_media_presented_is_stamped_and_taken_is_unsolicited() -> None:
    backend = ScriptedPrinter(PrinterCapabilities(presenter=True, retract_capacity=5))
    async with PrinterService(backend) as printer:
        sub = printer.events()
        await printer.print_document(receipt(2))
        await printer.control_media(MediaControl.CUT)
        assert (await printer.status()).media is PrintMediaStatus.PRESENT
        backend.take_receipt()
        events = drain(sub)
        presented = [e for e in events if isinstance(e, MediaPresented)]
        taken = [e for e in events if isinstance(e, MediaTaken)]
        assert len(presented) == 1
        assert presented[0].command_id is not None
        assert len(taken) == 1
        assert taken[0].command_id is None
        await printer.control_media(MediaControl.CUT)
        await printer.control_media(MediaControl.RETRACT)
        assert (await printer.status()).media is PrintMediaStatus.RETRACTED


async def test_a_journal_printer_under_its_own_name() -> None:
    receipt_backend, journal_backend = ScriptedPrinter(), ScriptedPrinter()
    async with (
        PrinterService(receipt_backend) as receipt_printer,
        PrinterService(journal_backend, name="journal_printer") as journal,
    ):
        assert journal.name == "journal_printer"
        assert "journal_printer" in repr(journal)
        sub = journal.events()
        await journal.print_document(receipt(1))
        journal_backend.set_paper(PaperStatus.LOW)
        events = drain(sub)
        assert {e.device for e in events} == {"journal_printer"}
        assert thresholds(events) == [PaperStatus.LOW]
        assert receipt_backend.jobs == []
        assert journal_backend.jobs == ["document:1"]
        assert receipt_printer.name == "receipt_printer"


async def test_logs_hold_sizes_never_the_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = ScriptedPrinter()
    async with PrinterService(backend) as printer:
        document = Document((Line.of(SECRET), QrCode(SECRET), Barcode("ACCT1234")))
        await printer.print_document(document)
        backend.paper_left = 0
        with pytest.raises(PaperOut):
            await printer.print_document(document)
        with pytest.raises(InvalidData):
            await printer.print_document(Document((Line.of(SECRET + "€"),), CodePage.CP437))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "3 blocks, 36 characters, 0 image bytes" in text
    assert "paper out after 0 of 3 blocks" in text
    for part in ("Customer", "1234", "ACCT"):
        assert part not in text


# --- the lifecycle is DeviceService's ------------------------------------------------------


def test_the_lifecycle_and_logging_are_the_shared_ones() -> None:
    from hal import device
    from hal.devices import printer_service

    # open/close go through DeviceService._open_backend/_close_backend and the queueing
    # through DeviceService._run, logging on the printer's own logger.
    assert PrinterService._log is printer_service.log
    assert "_run" not in vars(PrinterService)
    assert PrinterService._run is device.DeviceService._run


async def test_open_failing_after_the_backend_opened_closes_it() -> None:
    backend = ScriptedPrinter()

    async def broken() -> PrinterStatus:
        raise ConnectionLost("status read failed")

    backend.get_status = broken  # type: ignore[method-assign]
    service = PrinterService(backend)
    with pytest.raises(ConnectionLost):
        await service.open()
    assert backend.closed == 1
    with pytest.raises(DeviceNotReady):
        await service.capabilities()


async def test_close_under_a_job_that_does_not_settle(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hal.devices.printer_service")
    backend = ScriptedPrinter(block_delay=0.3)
    service = PrinterService(backend, close_timeout=0.01)
    await service.open()
    job = asyncio.create_task(service.print_document(receipt(3)))
    await backend.block_started.wait()
    await service.close()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert any(
        "did not settle within 0.01 s" in r.getMessage()
        and "closing the printer under them" in r.getMessage()
        for r in caplog.records
    )
