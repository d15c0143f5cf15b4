"""The steps the Printer contract cases share: the documents they print, the text lines a
printer must show for them, and comparing what the paper shows with what was sent.

Internal to the conformance suite: `tellerhal.conformance.printer` holds the cases.

What the paper shows (`hal.stimulus.PrinterStimulus.printed_lines`) is compared column
for column with what a printer of ``columns`` characters per line prints for a document
(docs/receipts.md): a character takes one column, a CJK character (and, in the GB18030
Chinese mode, any character outside ASCII) two, double width doubles both; a line longer
than the paper wraps by the character; alignment is spaces on the left (centre: half the
free columns, rounded down); in the text form a character is followed by spaces up to
the columns it takes. Barcodes, QR codes, images and cuts show as marked lines
(``[CODE128: data]``, ``[EAN13: digits]``, ``[QR: payload]``, ``[image WxH]``,
``[CUT]``, ``[PARTIAL CUT]``); a feed of n lines as n blank lines.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from hal.devices.printer import (
    Align,
    Barcode,
    Block,
    CodePage,
    Cut,
    Document,
    Feed,
    HriPosition,
    Image,
    Line,
    Printer,
    PrinterCapabilities,
    QrCode,
    QrErrorCorrection,
    Rule,
    Symbology,
    TextRun,
    Underline,
    ean13_check_digit,
)
from hal.errors import UnsupportedOperation
from hal.stimulus import PrinterStimulus
from tellerhal.conformance.framework import Harness, MissingCapability, check

__all__ = [
    "PAPER_OUT_MARK",
    "PrinterHarness",
    "barcode_document",
    "chinese_document",
    "compare_lines",
    "cut_block",
    "expected_lines",
    "image_document",
    "line_document",
    "need",
    "printed",
    "qr_document",
    "single_byte_page",
    "stimulus_can",
    "styled_document",
    "text_page",
]

PrinterHarness = Harness[Printer, PrinterStimulus]

#: The line a simulator's text form shows where the paper ran out.
PAPER_OUT_MARK = "[PAPER OUT]"


def need(caps: PrinterCapabilities, *features: str, why: str = "") -> None:
    """Fail the case's premise unless the printer has every one of ``features``."""
    missing = set(features) - caps.features()
    if missing:
        raise MissingCapability(missing, why)


async def stimulus_can(action: object, feature: str, why: str) -> None:
    """Await a stimulus action; a stimulus that cannot act makes the case inapplicable
    (``feature`` names no printer capability, so it never counts against a printer)."""
    try:
        await action  # type: ignore[misc]
    except UnsupportedOperation as exc:
        raise MissingCapability({feature}, why) from exc


# --- the expected text form ------------------------------------------------------------


def _display(char: str) -> int:
    """Columns a terminal gives ``char``: two for a CJK character."""
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _columns(char: str, page: CodePage, double_width: bool) -> int:
    wide = _display(char) == 2 or (page is CodePage.GB18030 and ord(char) >= 0x80)
    return (2 if wide else 1) * (2 if double_width else 1)


def _aligned(cells: list[tuple[str, int]], align: Align, columns: int) -> str:
    used = sum(width for _, width in cells)
    pad = 0
    if align is Align.CENTER:
        pad = max(0, (columns - used) // 2)
    elif align is Align.RIGHT:
        pad = max(0, columns - used)
    text = "".join(char + " " * (width - _display(char)) for char, width in cells)
    return " " * pad + text


def _line_rows(line: Line, page: CodePage, columns: int) -> list[str]:
    rows: list[str] = []
    cells: list[tuple[str, int]] = []
    used = 0
    for run in line.runs:
        for char in run.text:
            width = _columns(char, page, run.double_width)
            if used + width > columns and cells:
                rows.append(_aligned(cells, line.align, columns))
                cells, used = [], 0
            cells.append((char, width))
            used += width
    rows.append(_aligned(cells, line.align, columns))
    return rows


def _block_lines(block: Block, page: CodePage, columns: int) -> list[str]:
    if isinstance(block, Line):
        return _line_rows(block, page, columns)
    if isinstance(block, Rule):
        width = _columns(block.char, page, False)
        return [(block.char + " " * (width - _display(block.char))) * max(1, columns // width)]
    if isinstance(block, Feed):
        return [""] * block.lines
    if isinstance(block, Cut):
        return [""] * block.feed + ["[PARTIAL CUT]" if block.partial else "[CUT]"]
    if isinstance(block, Barcode):
        return [f"[{block.symbology.value.upper()}: {block.data}]"]
    if isinstance(block, QrCode):
        return [f"[QR: {block.data}]"]
    return [f"[image {block.width}x{block.height}]"]


def expected_lines(blocks: Sequence[Block], page: CodePage, columns: int) -> list[list[str]]:
    """The text lines each block prints on a printer of ``columns`` columns."""
    return [_block_lines(block, page, columns) for block in blocks]


def _same(seen: str, want: str) -> bool:
    if seen.rstrip() == want.rstrip():
        return True
    # An EAN13 printed with the check digit the printer added.
    if want.startswith("[EAN13: ") and len(want) == len("[EAN13: ]") + 12:
        digits = want[len("[EAN13: ") : -1]
        return seen.rstrip() == f"[EAN13: {digits}{ean13_check_digit(digits)}]"
    return False


def compare_lines(seen: Sequence[str], want: Sequence[str], what: str) -> None:
    """Fail unless the paper shows ``want`` line for line, column for column (trailing
    spaces aside)."""
    for number, (got, wanted) in enumerate(zip(seen, want, strict=False), 1):
        check(
            _same(got, wanted),
            f"{what}: printed line {number} is {got.rstrip()!r}, expected {wanted.rstrip()!r}",
        )
    check(
        len(seen) == len(want),
        f"{what}: {len(seen)} lines printed, expected {len(want)}; the paper shows "
        f"{[line.rstrip() for line in seen]}",
    )


async def printed(h: PrinterHarness) -> list[str] | None:
    """The lines printed since the last look (``None``: the stimulus cannot tell)."""
    lines = await h.stimulus.printed_lines()
    return None if lines is None else list(lines)


# --- the documents ---------------------------------------------------------------------


def single_byte_page(caps: PrinterCapabilities) -> CodePage | None:
    """A single-byte code page the printer has (cp437 first), if any."""
    for page in (CodePage.CP437, CodePage.CP858, CodePage.CP1252):
        if page in caps.code_pages:
            return page
    return None


def text_page(caps: PrinterCapabilities) -> CodePage:
    """The code page for an ASCII document: a single-byte one if there is one."""
    return single_byte_page(caps) or sorted(caps.code_pages)[0]


def cut_block(caps: PrinterCapabilities, feed: int = 0) -> Cut | None:
    """A cut the printer makes (full if it can), or ``None`` without a cutter."""
    if "full" in caps.cut:
        return Cut(partial=False, feed=feed)
    if "partial" in caps.cut:
        return Cut(partial=True, feed=feed)
    return None


def line_document(caps: PrinterCapabilities, count: int, label: str = "line") -> Document:
    """``count`` plain numbered lines."""
    blocks: tuple[Block, ...] = tuple(Line.of(f"{label} {n:03d}") for n in range(1, count + 1))
    return Document(blocks, code_page=text_page(caps))


def styled_document(caps: PrinterCapabilities) -> Document:
    """Bold, underline, double width and height, the three alignments, a wrapped line, a
    rule, a feed and (with a cutter) a cut."""
    blocks: list[Block] = [
        Line.of("TELLERHAL BANK", align=Align.CENTER, bold=True, double_height=True),
        Line.of("Underlined", underline=Underline.SINGLE),
        Line(
            (
                TextRun("Bold ", bold=True),
                TextRun("WIDE", double_width=True),
                TextRun(" thick", underline=Underline.DOUBLE),
            )
        ),
        Line.of("right", align=Align.RIGHT),
        Line.of("BIG", align=Align.CENTER, double_width=True, double_height=True),
        Line.of("Amount:", align=Align.RIGHT, bold=True),
        Line(()),
        Line.of("0123456789" * (caps.columns // 10 + 1)),  # wraps
        Rule("="),
        Feed(2),
        Line.of("after the feed"),
    ]
    cut = cut_block(caps, feed=2)
    if cut is not None:
        blocks.append(cut)
    return Document(tuple(blocks), code_page=text_page(caps))


def chinese_document(caps: PrinterCapabilities) -> Document:
    """Chinese and mixed lines in GB18030: CJK characters take two columns; a line
    wraps where a CJK character would cross the edge."""
    half = caps.columns // 2
    blocks: tuple[Block, ...] = (
        Line.of("交易凭条", align=Align.CENTER, bold=True),
        Line.of("取款 Withdrawal: 380.00 CNY"),
        Line.of("存款", double_width=True),
        Line.of("右对齐 right", align=Align.RIGHT),
        Line.of("中" * (half + 3)),  # wraps after `half` characters
        Line.of("a" + "文" * half),  # the last one does not fit in the odd column left
        Line((TextRun("粗体", bold=True), TextRun(" 下划线", underline=Underline.SINGLE))),
        Rule("-"),
    )
    return Document(blocks, code_page=CodePage.GB18030)


#: Barcodes per symbology: CODE128 in code set B and in code set C, an EAN13 of 12
#: digits (the printer adds the check digit) and one of 13.
_BARCODES = {
    Symbology.CODE128: (
        Barcode("TXN-2026-0001", Symbology.CODE128),
        Barcode("12345678", Symbology.CODE128, hri=HriPosition.NONE),
    ),
    Symbology.EAN13: (
        Barcode("590123412345", Symbology.EAN13),
        Barcode("4006381333931", Symbology.EAN13, align=Align.LEFT),
    ),
}


def barcode_document(caps: PrinterCapabilities) -> Document:
    """Every symbology the printer has, between two lines."""
    blocks: list[Block] = [Line.of("barcodes")]
    for symbology in sorted(caps.symbologies):
        blocks.extend(_BARCODES[symbology])
    blocks.append(Line.of("end"))
    return Document(tuple(blocks), code_page=text_page(caps))


def qr_document(caps: PrinterCapabilities) -> Document:
    """Two QR codes: a transaction link and a UTF-8 payload with Chinese in it."""
    blocks: tuple[Block, ...] = (
        Line.of("scan me", align=Align.CENTER),
        QrCode("https://bank.example/r/TXN20261129-0001"),
        QrCode("交易 TXN-42", module_size=6, error_correction=QrErrorCorrection.H),
        Line.of("end"),
    )
    return Document(blocks, code_page=text_page(caps))


def _pattern(width: int, height: int) -> bytes:
    row = (width + 7) // 8
    out = bytearray()
    for y in range(height):
        for x in range(row):
            out.append(0xAA if (x + y // 4) % 2 else 0x0F)
    return bytes(out)


def image_document(caps: PrinterCapabilities) -> Document:
    """A small image and one exactly as wide as the paper."""
    dots = caps.dots_per_line
    blocks: tuple[Block, ...] = (
        Line.of("images"),
        Image(200, 80, _pattern(200, 80)),
        Image(dots, 16, _pattern(dots, 16), align=Align.LEFT),
        Line.of("end"),
    )
    return Document(blocks, code_page=text_page(caps))
