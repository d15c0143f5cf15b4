"""`PrinterService` over the simulator's printer model (sim://receipt_printer's model,
built in a private `World`): the model emits `PaperThreshold` itself and reports status,
and the service still gives exactly one event per crossing; paper out mid-job keeps its
counts; validation follows each build's capabilities (58 mm paper, a journal without a
cutter) and refuses before anything reaches the paper."""

from __future__ import annotations

import pytest

import hal
from hal.devices.printer import (
    Align,
    CodePage,
    Cut,
    Document,
    Image,
    Line,
    PaperStatus,
    PaperThreshold,
    Printer,
    PrinterType,
    QrCode,
)
from hal.errors import InvalidData, PaperOut, UnsupportedOperation
from hal.events import Event, StatusChanged, Subscription
from simulator.world import World, get_world
from simulator.world_printer import PrinterSetup


def drain(sub: Subscription) -> list[Event]:
    out = []
    while (event := sub.get_nowait()) is not None:
        out.append(event)
    return out


def lines(n: int) -> Document:
    return Document(tuple(Line.of(f"行 {i} line") for i in range(n)))


async def test_a_chinese_receipt_prints_on_the_model() -> None:
    world = World("printer-service-sim", clock_scale=0.01)
    control = world.printer_control()
    async with world.open_printer() as printer:
        document = Document(
            (
                Image(16, 2, b"\xff\x00" * 2, Align.LEFT),
                Line.of("交易凭条 RECEIPT", align=Align.LEFT),
                QrCode("https://bank.example/r/1"),
                Cut(),
            )
        )
        result = await printer.print_document(document, timeout=10)
        assert (result.blocks, result.total_blocks, result.complete) == (4, 4, True)
        assert result.bytes_sent > 0
        printed = await control.printed_lines()
    assert printed is not None
    assert "交易凭条 RECEIPT" in printed


async def test_paper_out_mid_job_and_thresholds_once_per_crossing() -> None:
    world = World("printer-service-sim-paper", clock_scale=0.01)
    control = world.printer_control()
    async with world.open_printer() as printer:
        sub = printer.events()
        await control.paper_low()
        await printer.status()
        await control.paper_runs_out(after_lines=2)
        with pytest.raises(PaperOut) as caught:
            await printer.print_document(lines(6), timeout=10)
        assert (caught.value.printed_blocks, caught.value.total_blocks) == (2, 6)
        assert caught.value.bytes_sent is not None
        assert caught.value.bytes_sent > 0
        assert (await printer.status()).paper is PaperStatus.OUT
        await control.replenish()
        assert (await printer.status()).paper is PaperStatus.FULL
        events = drain(sub)
    crossings = [e.paper for e in events if isinstance(e, PaperThreshold)]
    assert crossings == [PaperStatus.LOW, PaperStatus.OUT, PaperStatus.FULL]
    assert any(isinstance(e, StatusChanged) for e in events)


async def test_validation_follows_the_build() -> None:
    world = World("printer-service-sim-builds", clock_scale=0.01)
    world.printer("receipt_printer", PrinterSetup(profile="receipt58"))
    async with world.open_printer() as narrow:
        caps = await narrow.capabilities()
        assert caps.dots_per_line == 384
        with pytest.raises(InvalidData, match="block 0: the image is 392 dots wide"):
            await narrow.print_document(Document((Image(392, 1, bytes(49)),)))
        with pytest.raises(InvalidData, match="U\\+6536"):
            await narrow.print_document(Document((Line.of("收"),), CodePage.CP437))
    async with world.open_printer("journal_printer") as journal:
        assert journal.name == "journal_printer"
        assert (await journal.capabilities()).type is PrinterType.JOURNAL
        with pytest.raises(UnsupportedOperation, match="block 1: the printer makes no full cut"):
            await journal.print_document(Document((Line.of("x"), Cut())))
        assert await world.printer_control("journal_printer").printed_lines() == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # GS ( k with pL = 7 (1 P 0 and 4 bytes of QR data): 5 of the 7 sent.
        (b"paid\n\x1d(k\x07\x001P0DA", "GS ( k at byte 5 needs 2 more bytes"),
        # ESC * 24-dot, 2 columns (6 bytes of dots), none sent.
        (b"\x1b*\x21\x02\x00", "ESC * (bit image) at byte 0 needs 6 more bytes"),
    ],
)
async def test_a_raw_job_ending_inside_a_command_is_refused_and_eats_nothing(
    raw: bytes, message: str
) -> None:
    # Sent, the unfinished command would swallow the start of the next job: the model's
    # decoder keeps it waiting for its missing bytes.
    device = hal.open("sim://receipt_printer?world=printer-raw-truncated")
    control = get_world("printer-raw-truncated").printer_control()
    async with device as printer:
        assert isinstance(printer, Printer)
        with pytest.raises(InvalidData) as refused:
            await printer.print_raw(raw, timeout=5)
        assert message in str(refused.value)
        assert await control.printed_lines() == []  # nothing sent: not even "paid"
        result = await printer.print_document(lines(2), timeout=5)
        assert result.complete
        assert await control.printed_lines() == ["行 0 line", "行 1 line"]


async def test_a_raw_job_with_a_bad_command_goes_out() -> None:
    # GS k m=2 (EAN-13, NUL-terminated) with no NUL in 255 bytes: a bad command, not an
    # unfinished one. The printer drops it as it would from any stream; nothing waits.
    device = hal.open("sim://receipt_printer?world=printer-raw-bad")
    control = get_world("printer-raw-bad").printer_control()
    async with device as printer:
        assert isinstance(printer, Printer)
        result = await printer.print_raw(b"\x1dk\x02" + b"1" * 300, timeout=5)
        assert result.bytes_sent == 303
        await printer.print_document(lines(1), timeout=5)
        printed = await control.printed_lines()
        assert printed is not None
        assert list(printed[-1:]) == ["行 0 line"]
