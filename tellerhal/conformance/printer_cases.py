"""The Printer contract's printing cases (`tellerhal.conformance.printer` holds the
table of every case and the paper, cover, jam, presenter, cut and timeout ones):
capabilities and status, styled text, Chinese text, barcodes, QR codes, images, raw
ESC/POS bytes, what the printer lacks refused, invalid data refused; and the steps the
cases share (a document printed in full and compared with the paper, nothing printed,
whole blocks on the paper, a receipt left at the presenter taken).
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
    PaperStatus,
    Printer,
    PrinterType,
    PrintMediaStatus,
    PrintResult,
    QrCode,
    Symbology,
)
from hal.errors import (
    InvalidData,
    UnsupportedOperation,
)
from tellerhal.conformance.framework import (
    check,
    expect_raises,
)
from tellerhal.conformance.printer_steps import (
    PrinterHarness,
    barcode_document,
    chinese_document,
    compare_lines,
    expected_lines,
    image_document,
    line_document,
    need,
    printed,
    qr_document,
    single_byte_page,
    styled_document,
    text_page,
)

__all__ = [
    "barcodes",
    "capabilities_and_status",
    "chinese_text",
    "flat",
    "images",
    "invalid_data",
    "nothing_printed",
    "prefix_of_blocks",
    "print_in_full",
    "print_raw",
    "qr_codes",
    "settle_receipt",
    "styled_text",
    "unsupported",
]

# --- steps -------------------------------------------------------------------------------


def flat(per_block: list[list[str]]) -> list[str]:
    return [line for lines in per_block for line in lines]


async def print_in_full(h: PrinterHarness, printer: Printer, document: Document, what: str) -> None:
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
        want = flat(expected_lines(document.blocks, document.code_page, caps.columns))
        compare_lines(lines, want, what)


async def nothing_printed(h: PrinterHarness, what: str) -> None:
    lines = await printed(h)
    if lines is not None:
        check(not lines, f"{what}, yet the paper shows {lines}")


def prefix_of_blocks(lines: list[str], per_block: list[list[str]]) -> int | None:
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


async def settle_receipt(h: PrinterHarness, printer: Printer) -> None:
    """A receipt left at a presenter is taken, so the next case's printer starts empty."""
    caps = await printer.capabilities()
    if caps.presenter and (await printer.status()).media is PrintMediaStatus.PRESENT:
        await h.stimulus.take_receipt(timeout=h.patience)


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
        await print_in_full(h, printer, styled_document(caps), "styled text")
        await settle_receipt(h, printer)


async def chinese_text(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "chinese")
        await print_in_full(h, printer, chinese_document(caps), "Chinese text")


async def barcodes(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "barcodes")
        await print_in_full(h, printer, barcode_document(caps), "barcodes")


async def qr_codes(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "qr")
        await print_in_full(h, printer, qr_document(caps), "QR codes")


async def images(h: PrinterHarness) -> None:
    async with h.open() as printer:
        caps = await printer.capabilities()
        need(caps, "images")
        await print_in_full(h, printer, image_document(caps), "images")


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
        await settle_receipt(h, printer)


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
        await nothing_printed(h, "every command was refused")
        # It prints what it has.
        await print_in_full(h, printer, line_document(caps, 2), "after the refusals")


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
        await nothing_printed(h, "the invalid documents were refused")
        await print_in_full(h, printer, line_document(caps, 2), "after the refusals")
