"""The text rendering of a receipt: decoded ESC/POS operations laid out as the paper shows
them.

`layout` runs the operations through a printer's line buffer, the way an ESC/POS printer
does, and returns the printed rows top to bottom: text rows with every character's dot
position and style, and the barcodes, QR codes, images, feeds and cuts between them.
The PNG renderer (`simulator.printer_render`) draws exactly these rows; `text_lines`
gives their text form. The rules (docs/receipts.md):

- Characters are 12x24 dots (font A; font B 9x17); in Chinese mode (FS &) every
  non-ASCII character (GB18030 double-byte) is 24x24, as on a printer, and a CJK
  character (East Asian width W or F) is anyway; the character size (GS !, ESC !)
  multiplies both. At 576 dots a line holds
  48 columns (384 dots: 32); a double-width character takes two, a CJK character two, a
  double-width CJK character four.
- A character that does not fit in what is left of the line prints the line and starts
  the next one (a printer wraps by the character, never by the word).
- LF prints the line; a line filled exactly to the edge and then LF is one line, not a
  line and a blank one. ESC d n prints and feeds n lines; ESC J n feeds n dots; a feed
  shows as blank lines (one per line spacing, 30 dots by default, ESC 3 sets it).
- Alignment (ESC a) is the one in force for the row's first character; in the text
  form it is spaces on the left (centre: half the free columns, rounded down).
- HT moves to the next multiple of 8 columns. ESC @ empties the line buffer.
- Barcodes, QR codes and images print on rows of their own (a non-empty line buffer is
  printed first) and show as marked lines: ``[CODE128: data]``, ``[EAN13: data]``,
  ``[QR: payload]``, ``[image 200x80]``; a cut is ``[CUT]`` or ``[PARTIAL CUT]``, the
  paper-out point ``[PAPER OUT]``.

In the text form a character is followed by spaces up to the columns it takes, counting
a wide character as two (as a terminal shows it): double-width ``A`` is ``"A "``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from protocols import escpos_ops as ops
from protocols.print_document import Align

__all__ = [
    "COLUMN_DOTS",
    "DEFAULT_LINE_SPACING",
    "BarcodeRow",
    "Cell",
    "CutRow",
    "FeedRow",
    "ImageRow",
    "LaidOut",
    "PaperOutRow",
    "QrRow",
    "Row",
    "TextRow",
    "char_columns",
    "columns_for",
    "display_width",
    "is_wide",
    "layout",
    "mark",
    "prints_wide",
    "text_lines",
]

#: Dots per text column (font A).
COLUMN_DOTS = 12
#: ESC 2's default line spacing at 203 dpi (about 1/6 inch... printers differ: 30 dots).
DEFAULT_LINE_SPACING = 30
#: Font cell sizes (width, height) in dots for half-width characters.
FONT_CELLS: dict[ops.Font, tuple[int, int]] = {
    ops.Font.A: (12, 24),
    ops.Font.B: (9, 17),
    ops.Font.C: (9, 24),
}
#: The CJK font cell.
WIDE_CELL = (24, 24)
#: HT stops every 8 columns of font A.
TAB_DOTS = 8 * COLUMN_DOTS


def is_wide(char: str) -> bool:
    """A CJK (full-width) character: East Asian width W or F."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def prints_wide(char: str, chinese: bool) -> bool:
    """Whether the printer draws ``char`` with its 24x24 font (two columns): in Chinese
    mode every non-ASCII character (a GB18030 double-byte one: ``°`` and ``×`` too),
    otherwise a CJK character (`is_wide`)."""
    return (chinese and ord(char) >= 0x80) or is_wide(char)


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (and on the paper at size 1): wide two."""
    return sum(2 if is_wide(ch) else 1 for ch in text)


def columns_for(dots_per_line: int) -> int:
    """Font A columns on a line of ``dots_per_line`` dots (576: 48, 384: 32)."""
    return dots_per_line // COLUMN_DOTS


def char_columns(char: str, width: int = 1) -> int:
    """Columns a font A character takes at magnification ``width``."""
    return (2 if is_wide(char) else 1) * width


@dataclass(frozen=True, slots=True)
class Cell:
    """One printed character.

    Attributes:
        char: the character.
        x: its left edge in dots from the row's start (before alignment).
        width, height: its cell in dots (magnification included).
        style: the print modes it has.
    """

    char: str
    x: int
    width: int
    height: int
    style: ops.TextStyle


@dataclass(frozen=True, slots=True)
class TextRow:
    """A printed line of text.

    Attributes:
        cells: its characters left to right (an empty row is a blank line).
        align: its alignment.
        advance: dots the paper moves after it (the line spacing, or the tallest
            character if taller, or what ESC d / ESC J asked for).
        offset: the dot where its first cell starts on the paper (alignment applied).
        blank_after: blank lines the text form shows after it (ESC d n: n - 1).
    """

    cells: tuple[Cell, ...]
    align: Align
    advance: int
    offset: int
    blank_after: int = 0

    @property
    def width(self) -> int:
        """Dots its characters take."""
        return self.cells[-1].x + self.cells[-1].width if self.cells else 0

    @property
    def height(self) -> int:
        """Its tallest character's height (24 for an empty row)."""
        return max((cell.height for cell in self.cells), default=24)

    @property
    def text(self) -> str:
        """Its characters, styles and alignment dropped."""
        return "".join(cell.char for cell in self.cells)


@dataclass(frozen=True, slots=True)
class BarcodeRow:
    """A barcode: the operation as decoded."""

    barcode: ops.Barcode


@dataclass(frozen=True, slots=True)
class QrRow:
    """A QR code: the operation as decoded."""

    qr: ops.QrCode


@dataclass(frozen=True, slots=True)
class ImageRow:
    """A raster image."""

    image: ops.RasterImage


@dataclass(frozen=True, slots=True)
class FeedRow:
    """Blank paper fed: ``dots`` dots (``lines`` of the line spacing in force, for the
    text form)."""

    dots: int
    lines: int


@dataclass(frozen=True, slots=True)
class CutRow:
    """A cut (after feeding ``feed`` dots)."""

    partial: bool
    feed: int


@dataclass(frozen=True, slots=True)
class PaperOutRow:
    """Where the paper ran out: nothing below it printed."""


Row = TextRow | BarcodeRow | QrRow | ImageRow | FeedRow | CutRow | PaperOutRow


@dataclass
class _LineBuffer:
    """The printer's state while it lays out."""

    dots: int
    rows: list[Row] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    x: int = 0
    spacing: int = DEFAULT_LINE_SPACING

    def print_line(self, advance: int | None = None, blank_after: int = 0) -> None:
        cells = tuple(self.cells)
        tallest = max((c.height for c in cells), default=0)
        if advance is None:
            advance = max(self.spacing, tallest)
        align = cells[0].style.align if cells else Align.LEFT
        width = cells[-1].x + cells[-1].width if cells else 0
        offset = 0
        if align is Align.CENTER:
            offset = (self.dots - width) // 2
        elif align is Align.RIGHT:
            offset = self.dots - width
        self.rows.append(TextRow(cells, align, advance, max(0, offset), blank_after))
        self.cells = []
        self.x = 0

    def flush(self) -> None:
        """Print a non-empty line buffer (before a barcode, image, cut...)."""
        if self.cells:
            self.print_line()

    def add_text(self, text: str, style: ops.TextStyle) -> None:
        base_w, base_h = FONT_CELLS.get(style.font, FONT_CELLS[ops.Font.A])
        for char in text:
            w, h = WIDE_CELL if prints_wide(char, style.chinese) else (base_w, base_h)
            w *= max(1, style.width)
            h *= max(1, style.height)
            if self.x + w > self.dots and self.cells:
                self.print_line()
            self.cells.append(Cell(char, self.x, w, h, style))
            self.x += w

    def tab(self, style: ops.TextStyle) -> None:
        target = (self.x // TAB_DOTS + 1) * TAB_DOTS
        if target >= self.dots:
            self.print_line()
            return
        blank = ops.TextStyle(align=style.align)
        while self.x < target:
            self.add_text(" ", blank)


@dataclass(frozen=True, slots=True)
class LaidOut:
    """What `layout` gives: the printed rows and the line left in the buffer.

    Attributes:
        rows: the rows printed, top to bottom.
        pending: a line sent without its LF at the end: a printer holds it unprinted
            (empty when none); the renderer shows it, marked.
    """

    rows: tuple[Row, ...]
    pending: TextRow | None


def layout(operations: Iterable[ops.Operation], dots_per_line: int = 576) -> LaidOut:
    """The rows the operations print on paper ``dots_per_line`` dots wide, top to
    bottom, and the line left in the buffer at the end (sent without LF: a printer
    has not printed it yet)."""
    buffer = _LineBuffer(dots_per_line)
    last_style = ops.TextStyle()
    for op in operations:
        if isinstance(op, ops.Text):
            buffer.add_text(op.text, op.style)
            last_style = op.style
        elif isinstance(op, ops.LineFeed):
            buffer.print_line()
        elif isinstance(op, ops.PrintAndFeed):
            advance = op.lines * buffer.spacing if op.lines else op.dots
            if buffer.cells:
                tallest = max(c.height for c in buffer.cells)
                extra = max(0, op.lines - 1) if op.lines else advance // max(1, buffer.spacing)
                buffer.print_line(max(advance, tallest), extra)
            elif advance:
                lines = op.lines or max(1, advance // max(1, buffer.spacing))
                buffer.rows.append(FeedRow(advance, lines))
        elif isinstance(op, ops.LineSpacing):
            buffer.spacing = DEFAULT_LINE_SPACING if op.dots is None else op.dots
        elif isinstance(op, ops.Tab):
            buffer.tab(last_style)
        elif isinstance(op, ops.Initialize):
            buffer.cells = []
            buffer.x = 0
            buffer.spacing = DEFAULT_LINE_SPACING
        elif isinstance(op, ops.Cut):
            buffer.flush()
            buffer.rows.append(CutRow(op.partial, op.feed))
        elif isinstance(op, ops.Barcode):
            buffer.flush()
            buffer.rows.append(BarcodeRow(op))
        elif isinstance(op, ops.QrCode):
            buffer.flush()
            if op.data:
                buffer.rows.append(QrRow(op))
        elif isinstance(op, ops.RasterImage):
            buffer.flush()
            buffer.rows.append(ImageRow(op))
        # CR, code page and Chinese mode changes (already in the text's style), status
        # requests, presenter moves and unknown commands print nothing.
    pending: TextRow | None = None
    if buffer.cells:
        buffer.print_line()
        last = buffer.rows.pop()
        assert isinstance(last, TextRow)
        pending = last
    return LaidOut(tuple(buffer.rows), pending)


def mark(row: Row) -> str:
    """The marked line of a barcode, QR code, image, cut or the paper-out point."""
    if isinstance(row, BarcodeRow):
        return f"[{row.barcode.symbology}: {row.barcode.text}]"
    if isinstance(row, QrRow):
        return f"[QR: {row.qr.data.decode('utf-8', 'replace')}]"
    if isinstance(row, ImageRow):
        image = row.image
        return f"[image {image.width * image.scale_x}x{image.height * image.scale_y}]"
    if isinstance(row, CutRow):
        return "[PARTIAL CUT]" if row.partial else "[CUT]"
    if isinstance(row, PaperOutRow):
        return "[PAPER OUT]"
    raise TypeError(f"no mark for {type(row).__name__}")


def _text_row(row: TextRow, dots_per_line: int) -> str:
    columns = columns_for(dots_per_line)
    used = -(-row.width // COLUMN_DOTS)
    pad = 0
    if row.align is Align.CENTER:
        pad = max(0, (columns - used) // 2)
    elif row.align is Align.RIGHT:
        pad = max(0, columns - used)
    out = [" " * pad]
    column = 0
    for cell in row.cells:
        start = cell.x // COLUMN_DOTS
        if start > column:
            out.append(" " * (start - column))
            column = start
        span = max(display_width(cell.char), -(-(cell.x + cell.width) // COLUMN_DOTS) - column)
        out.append(cell.char + " " * (span - display_width(cell.char)))
        column += span
    return "".join(out)


def text_lines(rows: Iterable[Row], dots_per_line: int = 576) -> list[str]:
    """The text form of the rows: one string per printed line (a feed is blank lines,
    a barcode, QR code, image, cut or paper-out point its marked line)."""
    lines: list[str] = []
    for row in rows:
        if isinstance(row, TextRow):
            lines.append(_text_row(row, dots_per_line))
            lines.extend([""] * row.blank_after)
        elif isinstance(row, FeedRow):
            lines.extend([""] * row.lines)
        else:
            lines.append(mark(row))
    return lines
