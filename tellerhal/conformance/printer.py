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
"""

from __future__ import annotations

from hal.device import DeviceState
from hal.devices.printer import (
    PRINTER_FEATURES,
    Barcode,
    Block,
    CodePage,
    Cut,
    Document,
    Image,
    Line,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    Printer,
    PrinterType,
    PrintMediaStatus,
    PrintResult,
    QrCode,
    Symbology,
)
from hal.errors import (
    CoverOpen,
    HalTimeout,
    InvalidData,
    MediaJam,
    NoMedia,
    PaperOut,
    UnsupportedOperation,
)
from hal.events import Event, Subscription
from hal.stimulus import PrinterStimulus
from tellerhal.conformance.framework import (
    ContractCase,
    ContractFailure,
    check,
    expect_raises,
)
from tellerhal.conformance.printer_steps import (
    PAPER_OUT_MARK,
    PrinterHarness,
    barcode_document,
    chinese_document,
    compare_lines,
    cut_block,
    expected_lines,
    image_document,
    line_document,
    need,
    printed,
    qr_document,
    single_byte_page,
    stimulus_can,
    styled_document,
    text_page,
)

__all__ = ["PRINTER_CASES", "PrinterCase", "PrinterHarness"]

PrinterCase = ContractCase[Printer, PrinterStimulus]


# --- steps -------------------------------------------------------------------------------


def _flat(per_block: list[list[str]]) -> list[str]:
    return [line for lines in per_block for line in lines]


async def _print_in_full(
    h: PrinterHarness, printer: Printer, document: Document, what: str
) -> None:
    """Print ``document``: the result complete with every block, the paper showing
    exactly what it says (where the stimulus can tell)."""
    caps = await printer.capabilities()
    await printed(h)  # forget what came before
    result = await printer.print_document(document, timeout=h.patience * 4)
    total = len(document.blocks)
    check(isinstance(result, PrintResult), f"{what}: print_document gave {result!r}")
    check(
        result.complete and result.blocks == total and result.total_blocks == total,
        f"{what}: the result is {result!r}, expected all {total} blocks complete",
    )
    check(result.bytes_sent > 0, f"{what}: {result.bytes_sent} bytes sent")
    lines = await printed(h)
    if lines is not None:
        want = _flat(expected_lines(document.blocks, document.code_page, caps.columns))
        compare_lines(lines, want, what)


async def _nothing_printed(h: PrinterHarness, what: str) -> None:
    lines = await printed(h)
    if lines is not None:
        check(not lines, f"{what}, yet the paper shows {lines}")


def _prefix_of_blocks(lines: list[str], per_block: list[list[str]]) -> int | None:
    """How many whole blocks ``lines`` is, if it is the first blocks' lines exactly."""
    at = 0
    for count, block in enumerate(per_block):
        if at == len(lines):
            return count
        if [x.rstrip() for x in lines[at : at + len(block)]] != [x.rstrip() for x in block]:
            return None
        at += len(block)
    return len(per_block) if at == len(lines) else None


# --- cases -------------------------------------------------------------------------------


async def capabilities_and_status(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        check(isinstance(caps.type, PrinterType), f"type {caps.type!r}")
        check(caps.dots_per_line > 0 and caps.dpi > 0, f"{caps.dots_per_line} dots, {caps.dpi} dpi")
        check(
            caps.columns > 0 and caps.columns * 8 <= caps.dots_per_line,
            f"{caps.columns} columns on {caps.dots_per_line} dots",
        )
        check(caps.code_pages, "the printer prints no code page")
        check(caps.cut <= {"full", "partial"}, f"cuts {sorted(caps.cut)}")
        unknown = caps.features() - set(PRINTER_FEATURES)
        check(not unknown, f"features outside PRINTER_FEATURES: {sorted(unknown)}")
        check(caps.retract_capacity >= 0, f"retract capacity {caps.retract_capacity}")
        if caps.retract_capacity:
            check(caps.presenter, "a retract bin without a presenter")
        if caps.presenter:
            check(caps.cut, "a presenter without a cutter presents nothing")
        status = await printer.status()
        check(status.device is DeviceState.ONLINE, f"an idle printer is {status.device.value!r}")
        check(not status.cover_open, "an idle printer's cover is open")
        check(
            status.paper not in (PaperStatus.OUT, PaperStatus.JAMMED),
            f"an idle printer's paper is {status.paper.value!r}",
        )
        if not caps.near_end_sensor:
            check(status.paper is not PaperStatus.LOW, "paper low without a near-end sensor")
        check(
            status.media in (PrintMediaStatus.NOT_PRESENT, PrintMediaStatus.UNKNOWN),
            f"nothing was printed, yet media is {status.media.value!r}",
        )


async def styled_text(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        await _print_in_full(h, printer, styled_document(caps), "styled text")
        await _settle_receipt(h, printer)


async def chinese_text(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "chinese")
        await _print_in_full(h, printer, chinese_document(caps), "Chinese text")


async def barcodes(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "barcodes")
        await _print_in_full(h, printer, barcode_document(caps), "barcodes")


async def qr_codes(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "qr")
        await _print_in_full(h, printer, qr_document(caps), "QR codes")


async def images(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "images")
        await _print_in_full(h, printer, image_document(caps), "images")


async def print_raw(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        data = bytearray(b"\x1b@RAW LINE 1\n\x1bE\x01RAW BOLD\n\x1bE\x00\x1ba\x01CENTER\n\x1ba\x00")
        want = ["RAW LINE 1", "RAW BOLD", " " * ((caps.columns - 6) // 2) + "CENTER"]
        if "chinese" in caps.features():
            data += b"\x1c&" + "中文 ok".encode("gb18030") + b"\n\x1c."
            want.append("中文 ok")
        if caps.cut:
            data += b"\x1dV\x00" if "full" in caps.cut else b"\x1dV\x01"
            want.append("[CUT]" if "full" in caps.cut else "[PARTIAL CUT]")
        await printed(h)
        result = await printer.print_raw(bytes(data), timeout=h.patience * 4)
        check(
            result.complete and result.bytes_sent == len(data),
            f"print_raw of {len(data)} bytes gave {result!r}",
        )
        check(
            result.blocks == 0 and result.total_blocks == 0,
            f"a raw job has no blocks, yet the result is {result!r}",
        )
        lines = await printed(h)
        if lines is not None:
            compare_lines(lines, want, "print_raw")
        await _settle_receipt(h, printer)


async def unsupported(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        page = text_page(caps)
        refused: list[tuple[str, Block]] = []
        for symbology in sorted(set(Symbology) - caps.symbologies):
            data = "TXN-1" if symbology is Symbology.CODE128 else "590123412345"
            refused.append((f"a {symbology.value} barcode", Barcode(data, symbology)))
        if not caps.qr:
            refused.append(("a QR code", QrCode("TXN-1")))
        if not caps.images:
            refused.append(("an image", Image(8, 8, bytes(8))))
        for kind in sorted({"full", "partial"} - caps.cut):
            refused.append((f"a {kind} cut", Cut(partial=kind == "partial")))
        await printed(h)
        for what, block in refused:
            await expect_raises(
                UnsupportedOperation,
                printer.print_document(
                    Document((Line.of("before"), block), code_page=page), timeout=h.patience
                ),
                f"a document with {what} on a printer without it",
            )
        for missing_page in sorted(set(CodePage) - caps.code_pages):
            await expect_raises(
                UnsupportedOperation,
                printer.print_document(
                    Document((Line.of("text"),), code_page=missing_page), timeout=h.patience
                ),
                f"a document in code page {missing_page.value}, which the printer lacks",
            )
        actions = [MediaControl.EJECT, MediaControl.RETRACT] if not caps.presenter else []
        if not caps.cut:
            actions.append(MediaControl.CUT)
        for action in actions:
            await expect_raises(
                UnsupportedOperation,
                printer.control_media(action, timeout=h.patience),
                f"control_media({action.value}) on a printer without it",
            )
        await _nothing_printed(h, "every command was refused")
        # It prints what it has.
        await _print_in_full(h, printer, line_document(caps, 2), "after the refusals")


async def invalid_data(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        await printed(h)
        page = single_byte_page(caps)
        if page is not None:
            await expect_raises(
                InvalidData,
                printer.print_document(
                    Document((Line.of("ok"), Line.of("中文")), code_page=page), timeout=h.patience
                ),
                f"Chinese text in code page {page.value}",
            )
        else:  # GB18030 encodes every character but a lone surrogate
            await expect_raises(
                InvalidData,
                printer.print_document(
                    Document((Line.of("ok"), Line.of("\ud800")), code_page=CodePage.GB18030),
                    timeout=h.patience,
                ),
                "a lone surrogate in GB18030",
            )
        if caps.images:
            wide = caps.dots_per_line + 8
            await expect_raises(
                InvalidData,
                printer.print_document(
                    Document(
                        (Line.of("ok"), Image(wide, 2, bytes(wide // 8 * 2))),
                        code_page=text_page(caps),
                    ),
                    timeout=h.patience,
                ),
                f"an image {wide} dots wide on paper of {caps.dots_per_line}",
            )
        await _nothing_printed(h, "the invalid documents were refused")
        await _print_in_full(h, printer, line_document(caps, 2), "after the refusals")


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
                want = _flat(per_block[:done])
                check(
                    lines[: len(want)] == want and len(lines) - len(want) <= 1,
                    f"PaperOut says {done} blocks printed; the paper shows {lines}",
                )
                check(lines == _flat(per_block[:3]), f"3 lines of paper show {lines}")
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
            await _nothing_printed(h, "a job with no paper")
            await h.stimulus.replenish()
            full = await _threshold(thresholds, PaperStatus.FULL, h.patience, poll=printer)
            check(full, "no PaperThreshold(full) after a new roll")
        await _print_in_full(h, printer, line_document(caps, 3), "after a new roll")


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
            await _print_in_full(h, printer, line_document(caps, 1), "with the paper low")
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
        await _nothing_printed(h, "the cover was open")
        status = await printer.status()
        check(status.cover_open, "the cover is open, yet the status says closed")
        await h.stimulus.close_cover()
        status = await printer.status()
        check(not status.cover_open, "the cover is closed, yet the status says open")
        await _print_in_full(h, printer, line_document(caps, 3), "after closing the cover")


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
                _prefix_of_blocks(lines, per_block) is not None,
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
        await _print_in_full(h, printer, line_document(caps, 2), "after clearing the jam")


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


async def _settle_receipt(h: PrinterHarness, printer: Printer) -> None:
    """A receipt left at a presenter is taken, so the next case's printer starts empty."""
    caps = await printer.capabilities()
    if caps.presenter and (await printer.status()).media is PrintMediaStatus.PRESENT:
        await h.stimulus.take_receipt(timeout=h.patience)


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
        await _settle_receipt(h, printer)


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
            want = _flat(expected_lines(small.blocks, small.code_page, caps.columns))
            tail = [x.rstrip() for x in lines[-len(want) :]]
            check(tail == want, f"after a timeout the next document shows {lines[-len(want) :]}")
            head = lines[: len(lines) - len(want)]
            check(
                _prefix_of_blocks(head, per_block) is not None,
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
