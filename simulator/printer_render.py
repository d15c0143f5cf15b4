"""The receipt as paper: decoded ESC/POS operations drawn as a Pillow image.

`render` lays the operations out (`simulator.printer_text.layout`, the same rows the
text form shows) and draws them at the printer's dot width (576 dots for 80 mm paper,
384 for 58 mm) and 203 dpi geometry, one image pixel per printer dot, black or white:

- text in 12x24 cells (font A; font B 9x17), CJK characters 24x24, drawn from Noto Sans
  Mono CJK (`simulator.printer_fonts`); the character size multiplies the cell; bold is
  a double strike one dot to the right; underline one or two dots at the bottom of the
  cell; white on black (GS B) inverted; characters of different heights on one line
  share its bottom edge; alignment in dots (centre: half the free dots);
- barcodes from their module tables at the module width and bar height the stream set,
  the HRI text above and/or below in font A (or B);
- QR codes from the payload with the ECC level and module size the stream set;
- raster images at their dots (GS v 0 scaling applied);
- feeds as blank paper; a cut as a dashed line (a partial cut leaves a gap in the
  middle); the paper-out point as a solid bar with ``PAPER OUT``.

A character the font has no glyph for is left blank (never a box) and listed in
`Rendering.missing_glyphs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops

from protocols import escpos_ops as ops
from protocols.errors import ProtocolError
from protocols.escpos_decoder import EscPosDecoder
from protocols.print_document import Align, HriPosition
from simulator.printer_fonts import PrinterFont, load_printer_font
from simulator.printer_render_codes import (
    BarcodeError,
    code128_modules,
    ean13_modules,
    qr_matrix,
)
from simulator.printer_text import (
    BarcodeRow,
    CutRow,
    FeedRow,
    ImageRow,
    PaperOutRow,
    QrRow,
    Row,
    TextRow,
    layout,
    text_lines,
)

__all__ = [
    "DPI",
    "Placement",
    "Rendering",
    "render",
    "render_bytes",
]

#: Dots per inch of the geometry (thermal receipt printers: 203).
DPI = 203
#: Widths the renderer knows (80 mm and 58 mm paper).
PAPER_WIDTHS = (576, 384)
_HRI_GAP = 4
_CUT_BAND = 16
_PAPER_OUT_BAND = 40
_WHITE = 255
_BLACK = 0


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a row was drawn.

    Attributes:
        kind: ``text``, ``barcode``, ``qr``, ``image``, ``feed``, ``cut``,
            ``paper_out`` or ``pending`` (a line sent without its LF).
        box: ``(left, top, right, bottom)`` in dots (right and bottom exclusive); for a
            barcode the bars, for a QR code the modules, for an image its dots.
        line: the index of its line in `Rendering.lines`.
    """

    kind: str
    box: tuple[int, int, int, int]
    line: int


@dataclass(frozen=True)
class Rendering:
    """A rendered receipt.

    Attributes:
        image: the paper, mode ``L`` (0 black, 255 white), ``dots_per_line`` wide.
        lines: the text form (`simulator.printer_text.text_lines`).
        placements: where each row went.
        drawn: the characters drawn (each covered by the font).
        missing_glyphs: characters the font has no glyph for (left blank).
        problems: what could not be drawn and why (a barcode the printer cannot encode
            or wider than the paper, an unknown symbology...).
        error: the decoder's error when the stream was bad or truncated (what came
            before it is rendered), else ``None``.
        pending: a line was sent without its LF (shown, though a printer holds it).
    """

    image: Image.Image
    lines: tuple[str, ...]
    placements: tuple[Placement, ...]
    drawn: frozenset[str] = frozenset()
    missing_glyphs: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()
    error: str | None = None
    pending: bool = False
    dots_per_line: int = 576

    @property
    def text(self) -> str:
        """The text form, one line per printed line."""
        return "\n".join(self.lines) + ("\n" if self.lines else "")

    def save_png(self, path: str | Path) -> None:
        """Write the paper as a 1-bit PNG with its 203 dpi."""
        self.image.convert("1", dither=Image.Dither.NONE).save(
            str(path), format="PNG", dpi=(DPI, DPI)
        )


@dataclass
class _Painter:
    dots: int
    font: PrinterFont
    items: list[tuple[str, int, Row | TextRow]] = field(default_factory=list)
    drawn: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    masks: dict[tuple[str, bool, int, int, bool], Image.Image] = field(default_factory=dict)
    qr_matrices: dict[int, list[list[bool]] | None] = field(default_factory=dict)

    def qr(self, qr: ops.QrCode) -> list[list[bool]] | None:
        """The QR code's matrix (made once per render), ``None`` when it cannot be made
        (the problem recorded)."""
        key = id(qr)
        if key not in self.qr_matrices:
            try:
                self.qr_matrices[key] = qr_matrix(qr)
            except BarcodeError as exc:
                self.problems.append(f"QR code not printed: {exc}")
                self.qr_matrices[key] = None
        return self.qr_matrices[key]

    def cell_mask(
        self, cell_char: str, wide: bool, width: int, height: int, bold: bool
    ) -> Image.Image:
        key = (cell_char, wide, width, height, bold)
        mask = self.masks.get(key)
        if mask is None:
            mask = self.font.glyph(cell_char, wide)
            if mask.size != (width, height):
                mask = mask.resize((width, height), Image.Resampling.NEAREST)
            if bold:
                shifted = ImageChops.offset(mask, 1, 0)
                shifted.paste(0, (0, 0, 1, height))
                mask = ImageChops.lighter(mask, shifted)
            self.masks[key] = mask
        return mask


def _x_for(align: Align, width: int, dots: int) -> int:
    if align is Align.CENTER:
        return max(0, (dots - width) // 2)
    if align is Align.RIGHT:
        return max(0, dots - width)
    return 0


def _barcode_modules(barcode: ops.Barcode) -> tuple[str, str]:
    if barcode.symbology == "CODE128":
        return code128_modules(barcode.data), barcode.text
    if barcode.symbology in ("EAN13", "JAN13"):
        return ean13_modules(barcode.data)
    raise BarcodeError(f"{barcode.symbology}: the renderer draws CODE128 and EAN13 only")


def _hri_height(barcode: ops.Barcode) -> int:
    return (17 if barcode.hri_font == 1 else 24) + _HRI_GAP


def _row_height(painter: _Painter, row: Row) -> int:
    if isinstance(row, TextRow):
        return row.advance
    if isinstance(row, BarcodeRow):
        b = row.barcode
        hri = 0
        if b.hri in (HriPosition.ABOVE, HriPosition.BOTH):
            hri += _hri_height(b)
        if b.hri in (HriPosition.BELOW, HriPosition.BOTH):
            hri += _hri_height(b)
        return b.height + hri
    if isinstance(row, QrRow):
        matrix = painter.qr(row.qr)
        side = 0 if matrix is None else len(matrix) * row.qr.module_size
        return side if side <= painter.dots else 0
    if isinstance(row, ImageRow):
        if row.image.width == 0 or row.image.height == 0:
            return 0  # an empty image: nothing drawn, no paper fed
        return row.image.height * row.image.scale_y
    if isinstance(row, FeedRow):
        return row.dots
    if isinstance(row, CutRow):
        return row.feed + _CUT_BAND
    if isinstance(row, PaperOutRow):
        return _PAPER_OUT_BAND
    raise TypeError(type(row).__name__)


def _draw_text(painter: _Painter, page: Image.Image, row: TextRow, top: int) -> None:
    tallest = row.height
    for cell in row.cells:
        char = cell.char
        x = row.offset + cell.x
        y = top + tallest - cell.height
        if x >= painter.dots:
            continue
        style = cell.style
        if style.invert:
            page.paste(_BLACK, (x, y, x + cell.width, y + cell.height))
        if char.strip():
            if painter.font.covers(char):
                painter.drawn.add(char)
                wide = cell.width // max(1, style.width) == 24
                mask = painter.cell_mask(char, wide, cell.width, cell.height, style.bold)
                page.paste(_WHITE if style.invert else _BLACK, (x, y), mask)
            else:
                painter.missing.add(char)
        if style.underline is not ops.Underline.NONE:
            thick = 2 if style.underline is ops.Underline.DOUBLE else 1
            bottom = y + cell.height
            page.paste(_BLACK, (x, bottom - thick, x + cell.width, bottom))


def _draw_string(painter: _Painter, page: Image.Image, text: str, x: int, y: int, h: int) -> None:
    for char in text:
        w = 12 if h >= 24 else 9
        if painter.font.covers(char) and char.strip():
            mask = painter.cell_mask(char, False, w, h, False)
            page.paste(_BLACK, (x, y), mask)
            painter.drawn.add(char)
        x += w


def _draw_barcode(
    painter: _Painter, page: Image.Image, row: BarcodeRow, top: int
) -> tuple[int, int, int, int] | None:
    barcode = row.barcode
    try:
        modules, hri = _barcode_modules(barcode)
    except BarcodeError as exc:
        painter.problems.append(f"barcode not printed: {exc}")
        return None
    width = len(modules) * barcode.module_width
    if width > painter.dots:
        painter.problems.append(
            f"barcode not printed: {barcode.symbology} is {width} dots wide, the paper "
            f"{painter.dots}"
        )
        return None
    left = _x_for(barcode.align, width, painter.dots)
    hri_h = 17 if barcode.hri_font == 1 else 24
    y = top
    hri_w = len(hri) * (9 if hri_h == 17 else 12)
    hri_x = left + (width - hri_w) // 2
    if barcode.hri in (HriPosition.ABOVE, HriPosition.BOTH):
        _draw_string(painter, page, hri, max(0, hri_x), y, hri_h)
        y += hri_h + _HRI_GAP
    bars_top = y
    x = left
    start = 0
    while start < len(modules):
        end = start
        while end < len(modules) and modules[end] == modules[start]:
            end += 1
        if modules[start] == "1":
            page.paste(
                _BLACK,
                (
                    x + start * barcode.module_width,
                    y,
                    x + end * barcode.module_width,
                    y + barcode.height,
                ),
            )
        start = end
    y += barcode.height
    if barcode.hri in (HriPosition.BELOW, HriPosition.BOTH):
        _draw_string(painter, page, hri, max(0, hri_x), y + _HRI_GAP, hri_h)
    return (left, bars_top, left + width, bars_top + barcode.height)


def _draw_qr(
    painter: _Painter, page: Image.Image, row: QrRow, top: int
) -> tuple[int, int, int, int] | None:
    matrix = painter.qr(row.qr)
    if matrix is None:
        return None
    size = row.qr.module_size
    side = len(matrix) * size
    if side > painter.dots:
        painter.problems.append(f"QR code not printed: {side} dots wide, the paper {painter.dots}")
        return None
    left = _x_for(row.qr.align, side, painter.dots)
    n = len(matrix)
    modules = Image.frombytes("L", (n, n), bytes(255 if v else 0 for r in matrix for v in r))
    page.paste(_BLACK, (left, top), modules.resize((side, side), Image.Resampling.NEAREST))
    return (left, top, left + side, top + side)


def _draw_image(
    painter: _Painter, page: Image.Image, row: ImageRow, top: int
) -> tuple[int, int, int, int] | None:
    image = row.image
    if image.width == 0 or image.height == 0:
        # ESC * with nL = nH = 0 (or GS v 0 with a zero size): nothing to draw.
        painter.problems.append(f"empty image ({image.width}x{image.height} dots): nothing printed")
        return None
    raw = Image.frombytes("1", (image.row_bytes * 8, image.height), image.pixels)
    width, height = image.width * image.scale_x, image.height * image.scale_y
    left = _x_for(image.align, width, painter.dots)
    # Only what fits on the paper is drawn (and scaled): the rest is off the edge.
    shown = min(image.width, -(-(painter.dots - left) // image.scale_x))
    mask = raw.crop((0, 0, shown, image.height)).convert("L")
    if image.scale_x != 1 or image.scale_y != 1:
        mask = mask.resize((shown * image.scale_x, height), Image.Resampling.NEAREST)
    if width > painter.dots:
        painter.problems.append(
            f"image {width} dots wide on {painter.dots}-dot paper: cut at the right edge"
        )
    page.paste(_BLACK, (left, top), mask)
    return (left, top, min(painter.dots, left + width), top + height)


def _draw_cut(page: Image.Image, row: CutRow, top: int, dots: int) -> None:
    y = top + row.feed + _CUT_BAND // 2
    middle = dots // 2
    for x in range(0, dots, 12):
        if row.partial and middle - 24 <= x < middle + 24:
            continue
        page.paste(_BLACK, (x, y, min(dots, x + 8), y + 2))


def render(
    operations: Iterable[ops.Operation],
    dots_per_line: int = 576,
    *,
    paper_out: bool = False,
    error: str | None = None,
    font: PrinterFont | None = None,
) -> Rendering:
    """Draw ``operations`` on paper ``dots_per_line`` dots wide.

    Args:
        operations: decoded operations (`protocols.escpos_decoder`).
        dots_per_line: the printable width in dots: 576 (80 mm) or 384 (58 mm).
        paper_out: the paper ran out after these operations: the point is marked.
        error: a decoder error to carry (the stream was cut short or bad).
        font: the printer font (default: found and loaded once).

    Raises:
        ValueError: a width other than 576 or 384.
        simulator.printer_fonts.PrinterFontError: no CJK font installed.
    """
    if dots_per_line not in PAPER_WIDTHS:
        raise ValueError(f"paper width must be 576 or 384 dots, got {dots_per_line}")
    painter = _Painter(dots_per_line, font if font is not None else load_printer_font())
    laid = layout(operations, dots_per_line)
    rows: list[Row] = list(laid.rows)
    if laid.pending is not None:
        rows.append(laid.pending)
    if paper_out:
        rows.append(PaperOutRow())
    lines = text_lines(rows, dots_per_line)
    heights = [_row_height(painter, row) for row in rows]
    page = Image.new("L", (dots_per_line, max(1, sum(heights))), _WHITE)
    placements: list[Placement] = []
    top = 0
    line = 0
    for index, (row, height) in enumerate(zip(rows, heights, strict=True)):
        box: tuple[int, int, int, int] | None = (0, top, dots_per_line, top + height)
        kind = "text"
        if isinstance(row, TextRow):
            _draw_text(painter, page, row, top)
            kind = "pending" if laid.pending is row and index == len(laid.rows) else "text"
            box = (row.offset, top, row.offset + row.width, top + row.height)
        elif isinstance(row, BarcodeRow):
            kind = "barcode"
            box = _draw_barcode(painter, page, row, top)
        elif isinstance(row, QrRow):
            kind = "qr"
            box = _draw_qr(painter, page, row, top)
        elif isinstance(row, ImageRow):
            kind = "image"
            box = _draw_image(painter, page, row, top)
        elif isinstance(row, FeedRow):
            kind = "feed"
        elif isinstance(row, CutRow):
            kind = "cut"
            _draw_cut(page, row, top, dots_per_line)
        elif isinstance(row, PaperOutRow):
            kind = "paper_out"
            page.paste(_BLACK, (0, top + 4, dots_per_line, top + 8))
            label = "PAPER OUT"
            _draw_string(painter, page, label, (dots_per_line - 12 * len(label)) // 2, top + 12, 24)
        if box is not None:
            placements.append(Placement(kind, box, line))
        line += _lines_of(row)
        top += height
    return Rendering(
        image=page,
        lines=tuple(lines),
        placements=tuple(placements),
        drawn=frozenset(painter.drawn),
        missing_glyphs=frozenset(painter.missing),
        problems=tuple(painter.problems),
        error=error,
        pending=laid.pending is not None,
        dots_per_line=dots_per_line,
    )


def _lines_of(row: Row) -> int:
    if isinstance(row, TextRow):
        return 1 + row.blank_after
    if isinstance(row, FeedRow):
        return row.lines
    return 1


def render_bytes(
    data: bytes,
    dots_per_line: int = 576,
    *,
    paper_out: bool = False,
    font: PrinterFont | None = None,
) -> Rendering:
    """Decode an ESC/POS stream (`protocols.escpos_decoder`) and draw it.

    A stream that ends inside a command (or is otherwise bad) renders what came before
    the bad command; `Rendering.error` says what was wrong (the command, where it
    started, how many bytes were missing).
    """
    decoder = EscPosDecoder()
    operations: list[ops.Operation] = []
    error: str | None = None
    try:
        operations += decoder.feed(data)
        operations += decoder.finish()
    except ProtocolError as exc:
        error = str(exc)
    return render(operations, dots_per_line, paper_out=paper_out, error=error, font=font)
