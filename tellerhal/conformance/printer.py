"""The Printer contract: what every receipt and journal printer implementation must do.

Each case drives the printer only through `hal.Printer` and makes the world act only
through `hal.stimulus.PrinterStimulus` (the simulator's control, a person at the bench).
Where the stimulus can tell what the paper shows (`PrinterStimulus.printed_lines`: a
simulator can, a bench cannot), it is compared column for column with what the document
sent prints (`tellerhal.conformance.printer_steps`: CJK counted double, barcodes and QR
codes marked with their data):

- the capabilities are consistent and an idle printer is online, cover closed;
- styled text (bold, underline, double width and height, alignment, a wrapped line), a
  rule, feeds and a cut print in full: `PrintResult` complete with the block count;
- Chinese text (feature ``chinese``), CODE128 and EAN13 barcodes (``barcodes``), QR
  codes (``qr``) and images (``images``) each print as sent;
- ESC/POS bytes through `Printer.print_raw` print as they say;
- what the printer lacks is refused as `UnsupportedOperation`; text its code page cannot
  encode and an image wider than the paper as `InvalidData`; nothing prints;
- paper out mid-job: `PaperOut` with ``printed_blocks < total_blocks`` matching what
  the paper shows; a job while out prints nothing; replenished, it prints;
- paper near its end: `PaperThreshold(low)` once (``near_end_sensor``);
- cover open: `CoverOpen` and nothing printed; closed, it prints;
- a jam: `MediaJam`; reset, it prints;
- presenter (``presenter``): a cut receipt is presented (`MediaPresented`), taken
  (`MediaTaken`); retract and eject where offered, else `UnsupportedOperation`;
- a print that times out leaves the printer usable.

A case whose stimulus cannot do what it needs raises `MissingCapability` naming a
feature no printer declares (``paper_out_stimulus``, ``cover_stimulus``...), so it never
counts against a driver.

The printing cases (and the steps the cases share) are in
`tellerhal.conformance.printer_cases`; this module keeps the paper, cover, jam,
presenter, cut and timeout cases and `PRINTER_CASES` (every case, in order).
"""

from __future__ import annotations

from hal.device import DeviceState
from hal.devices.printer import (
    Document,
    Line,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    Printer,
    PrintMediaStatus,
)
from hal.errors import (
    CoverOpen,
    HalTimeout,
    MediaJam,
    NoMedia,
    PaperOut,
)
from hal.events import Event, Subscription
from hal.stimulus import PrinterStimulus
from tellerhal.conformance.framework import (
    ContractCase,
    ContractFailure,
    check,
    expect_raises,
)
from tellerhal.conformance.printer_cases import (
    barcodes,
    capabilities_and_status,
    chinese_text,
    flat,
    images,
    invalid_data,
    nothing_printed,
    prefix_of_blocks,
    print_in_full,
    print_raw,
    qr_codes,
    settle_receipt,
    styled_text,
    unsupported,
)
from tellerhal.conformance.printer_steps import (
    PAPER_OUT_MARK,
    PrinterHarness,
    cut_block,
    expected_lines,
    line_document,
    need,
    printed,
    stimulus_can,
    text_page,
)

__all__ = ["PRINTER_CASES", "PrinterCase", "PrinterHarness"]

PrinterCase = ContractCase[Printer, PrinterStimulus]


async def paper_out_mid_job(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        document = line_document(caps, 8, "paper")
        per_block = expected_lines(document.blocks, document.code_page, caps.columns)
        with printer.events(kinds=[PaperThreshold]) as thresholds:
            await printed(h)
            await stimulus_can(
                h.stimulus.paper_runs_out(after_lines=3),
                "paper_out_stimulus",
                "the stimulus cannot run the paper out",
            )
            exc = await expect_raises(
                PaperOut,
                printer.print_document(document, timeout=h.patience * 4),
                "printing 8 lines on 3 lines of paper",
            )
            assert isinstance(exc, PaperOut)
            done, total = exc.printed_blocks, exc.total_blocks
            check(
                done is not None and total is not None and exc.bytes_sent is not None,
                f"PaperOut says nothing of how far the job got: printed_blocks={done}, "
                f"total_blocks={total}, bytes_sent={exc.bytes_sent}",
            )
            assert done is not None
            assert total is not None
            check(total == len(document.blocks), f"total_blocks {total}, the document had 8")
            check(done < total, f"printed_blocks {done} of {total}, yet the paper ran out")
            check(done <= 3, f"{done} blocks printed on 3 lines of paper")
            lines = await printed(h)
            if lines is not None:
                if lines and lines[-1] == PAPER_OUT_MARK:
                    lines = lines[:-1]
                want = flat(per_block[:done])
                check(
                    lines[: len(want)] == want and len(lines) - len(want) <= 1,
                    f"PaperOut says {done} blocks printed; the paper shows {lines}",
                )
                check(lines == flat(per_block[:3]), f"3 lines of paper show {lines}")
            status = await printer.status()
            check(status.paper is PaperStatus.OUT, f"out of paper, yet paper is {status.paper}")
            out = await _threshold(thresholds, PaperStatus.OUT, h.patience)
            check(out, "no PaperThreshold(out) when the paper ran out")
            # Out of paper, the printer prints nothing.
            again = await expect_raises(
                PaperOut,
                printer.print_document(line_document(caps, 2), timeout=h.patience * 4),
                "printing with no paper",
            )
            assert isinstance(again, PaperOut)
            check(
                again.printed_blocks in (0, None),
                f"with no paper, {again.printed_blocks} blocks printed",
            )
            await nothing_printed(h, "a job with no paper")
            await h.stimulus.replenish()
            full = await _threshold(thresholds, PaperStatus.FULL, h.patience, poll=printer)
            check(full, "no PaperThreshold(full) after a new roll")
        await print_in_full(h, printer, line_document(caps, 3), "after a new roll")


async def _threshold(
    events: Subscription, paper: PaperStatus, patience: float, poll: Printer | None = None
) -> bool:
    """Whether a `PaperThreshold(paper)` comes within ``patience``."""
    if poll is not None:
        await poll.status()
    try:
        await events.wait_for(PaperThreshold, patience, lambda e: e.paper is paper)
    except TimeoutError:
        return False
    return True


async def paper_low(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "near_end_sensor")
        with printer.events(kinds=[PaperThreshold]) as thresholds:
            await stimulus_can(
                h.stimulus.paper_low(), "paper_low_stimulus", "the stimulus cannot lower the roll"
            )
            low = await _threshold(thresholds, PaperStatus.LOW, h.patience, poll=printer)
            check(low, "no PaperThreshold(low) when the roll reached its near end")
            status = await printer.status()
            check(status.paper is PaperStatus.LOW, f"near the end, paper is {status.paper}")
            # Low is not out: it prints, and says low once per crossing.
            await print_in_full(h, printer, line_document(caps, 1), "with the paper low")
            await printer.status()
            more = [e for e in thresholds.drain() if isinstance(e, PaperThreshold)]
            check(
                not any(e.paper is PaperStatus.LOW for e in more),
                f"PaperThreshold(low) again without a new crossing: {more}",
            )
            await h.stimulus.replenish()
            full = await _threshold(thresholds, PaperStatus.FULL, h.patience, poll=printer)
            check(full, "no PaperThreshold(full) after a new roll")


async def cover_open(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        await printed(h)
        await stimulus_can(
            h.stimulus.open_cover(), "cover_stimulus", "the stimulus cannot open the cover"
        )
        await expect_raises(
            CoverOpen,
            printer.print_document(line_document(caps, 3), timeout=h.patience * 4),
            "printing with the cover open",
        )
        await nothing_printed(h, "the cover was open")
        status = await printer.status()
        check(status.cover_open, "the cover is open, yet the status says closed")
        await h.stimulus.close_cover()
        status = await printer.status()
        check(not status.cover_open, "the cover is closed, yet the status says open")
        await print_in_full(h, printer, line_document(caps, 3), "after closing the cover")


async def jam(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        document = line_document(caps, 5, "jam")
        per_block = expected_lines(document.blocks, document.code_page, caps.columns)
        await printed(h)
        await stimulus_can(h.stimulus.jam_next(), "jam_stimulus", "the stimulus cannot jam")
        await expect_raises(
            MediaJam,
            printer.print_document(document, timeout=h.patience * 4),
            "printing into a jam",
        )
        lines = await printed(h)
        if lines is not None:
            check(
                prefix_of_blocks(lines, per_block) is not None,
                f"the jammed job left {lines} on the paper, not whole blocks of it",
            )
        status = await printer.status()
        check(
            status.paper is PaperStatus.JAMMED
            or status.media is PrintMediaStatus.JAMMED
            or status.device is not DeviceState.ONLINE,
            f"jammed, yet the status is {status}",
        )
        await printer.reset(timeout=h.patience * 4)  # the operator cleared it
        await print_in_full(h, printer, line_document(caps, 2), "after clearing the jam")


async def presenter(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "presenter")
        cut = cut_block(caps)
        assert cut is not None  # a presenter has a cutter (checked by capabilities)
        receipt = Document((Line.of("your receipt"), cut), code_page=text_page(caps))
        with printer.events(kinds=[MediaPresented, MediaTaken]) as events:
            await printer.print_document(receipt, timeout=h.patience * 4)
            await _event(events, MediaPresented, h.patience, "a cut receipt presented")
            status = await printer.status()
            check(
                status.media is PrintMediaStatus.PRESENT,
                f"a receipt waits at the exit, yet media is {status.media.value!r}",
            )
            await h.stimulus.take_receipt(timeout=h.patience)
            await _event(events, MediaTaken, h.patience, "the customer took the receipt")
            status = await printer.status()
            check(
                status.media is PrintMediaStatus.NOT_PRESENT,
                f"the receipt was taken, yet media is {status.media.value!r}",
            )
            # Forgotten at the exit: retracted.
            await printer.print_document(receipt, timeout=h.patience * 4)
            await _event(events, MediaPresented, h.patience, "the second receipt presented")
            if caps.retract_capacity:
                await printer.control_media(MediaControl.RETRACT, timeout=h.patience)
                status = await printer.status()
                check(
                    status.media in (PrintMediaStatus.NOT_PRESENT, PrintMediaStatus.RETRACTED),
                    f"after a retract media is {status.media.value!r}",
                )
                await expect_raises(
                    NoMedia,
                    printer.control_media(MediaControl.RETRACT, timeout=h.patience),
                    "retract with no receipt at the exit",
                )
            else:
                await printer.control_media(MediaControl.EJECT, timeout=h.patience)
            await expect_raises(
                NoMedia,
                printer.control_media(MediaControl.EJECT, timeout=h.patience),
                "eject with no receipt at the exit",
            )


async def _event(events: Subscription, kind: type[Event], patience: float, what: str) -> None:
    try:
        await events.wait_for(kind, patience)
    except TimeoutError:
        raise ContractFailure(f"{what}: no {kind.__name__} within {patience:g} s") from None


async def control_media(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "cut")
        await printed(h)
        await printer.print_document(
            Document((Line.of("cut below"),), code_page=text_page(caps)), timeout=h.patience * 4
        )
        await printer.control_media(MediaControl.CUT, timeout=h.patience * 4)
        lines = await printed(h)
        if lines is not None:
            check(
                [x.rstrip() for x in lines][:1] == ["cut below"]
                and lines[-1] in ("[CUT]", "[PARTIAL CUT]"),
                f"a line and control_media(cut) show {lines}",
            )
        await settle_receipt(h, printer)


async def timeout_leaves_it_usable(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        big = line_document(caps, 40, "long")
        per_block = expected_lines(big.blocks, big.code_page, caps.columns)
        await printed(h)
        await expect_raises(
            HalTimeout,
            printer.print_document(big, timeout=0),
            "a 40-line document given no time",
        )
        await printer.status()
        small = line_document(caps, 2, "next")
        result = await printer.print_document(small, timeout=h.patience * 4)
        check(result.complete and result.blocks == 2, f"after a timeout: {result!r}")
        lines = await printed(h)
        if lines is not None:
            want = flat(expected_lines(small.blocks, small.code_page, caps.columns))
            tail = [x.rstrip() for x in lines[-len(want) :]]
            check(tail == want, f"after a timeout the next document shows {lines[-len(want) :]}")
            head = lines[: len(lines) - len(want)]
            check(
                prefix_of_blocks(head, per_block) is not None,
                f"the timed-out job left {head} on the paper, not whole blocks of it",
            )
        status = await printer.status()
        check(status.device is DeviceState.ONLINE, f"after a timeout the printer is {status}")


PRINTER_CASES: tuple[PrinterCase, ...] = (
    ContractCase(
        "printer.capabilities",
        "capabilities are consistent; an idle printer is online, cover closed, paper in",
        capabilities_and_status,
    ),
    ContractCase(
        "printer.styled_text",
        "styled text, alignment, a wrapped line, a rule, feeds and a cut print as sent",
        styled_text,
    ),
    ContractCase(
        "printer.chinese",
        "Chinese text prints as sent, CJK characters two columns wide",
        chinese_text,
    ),
    ContractCase("printer.barcodes", "CODE128 and EAN13 barcodes print their data", barcodes),
    ContractCase("printer.qr", "QR codes print their payloads", qr_codes),
    ContractCase("printer.images", "raster images print, up to the paper's width", images),
    ContractCase("printer.print_raw", "ESC/POS bytes print as they say", print_raw),
    ContractCase(
        "printer.unsupported",
        "what the printer lacks is unsupportedCommand and prints nothing",
        unsupported,
    ),
    ContractCase(
        "printer.invalid_data",
        "unencodable text and an image wider than the paper are invalidData",
        invalid_data,
    ),
    ContractCase(
        "printer.paper_out",
        "paper out mid-job: PaperOut with the blocks printed; replenished, it prints",
        paper_out_mid_job,
    ),
    ContractCase("printer.paper_low", "paper near its end: PaperThreshold(low) once", paper_low),
    ContractCase(
        "printer.cover_open",
        "cover open: coverOpen, nothing printed; closed, it prints",
        cover_open,
    ),
    ContractCase("printer.jam", "a jam is mediaJam; reset, it prints", jam),
    ContractCase(
        "printer.presenter",
        "a cut receipt is presented, taken, retracted; eject with none is noMedia",
        presenter,
    ),
    ContractCase("printer.cut", "control_media(cut) cuts after what printed", control_media),
    ContractCase(
        "printer.timeout",
        "a print that times out leaves the printer usable",
        timeout_leaves_it_usable,
    ),
)
