"""The document model of a receipt or journal printer: what an app asks to print.

A `Document` is a sequence of blocks printed top to bottom: lines of styled text runs,
barcodes, QR codes, raster images, rules, paper feeds and cuts. It says what to print,
not how a printer is told: `protocols.escpos` encodes it as ESC/POS and the simulator
decodes and renders those bytes back. It lives in `protocols` (the bottom layer) so the
encoder can use it; `hal.devices.printer` re-exports it for apps.

Text is Python `str`; the document's `code_page` says how it is encoded for the printer.
``gb18030`` prints Chinese (and ASCII) in the printer's Chinese mode; CJK characters take
two columns. Everything is immutable, validated on construction, and prints nothing
secret in its ``repr`` beyond what the receipt shows (receipts are for customers: mask
PANs before they get here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Align",
    "Barcode",
    "Block",
    "CodePage",
    "Cut",
    "Document",
    "Feed",
    "HriPosition",
    "Image",
    "Line",
    "QrCode",
    "QrErrorCorrection",
    "Rule",
    "Symbology",
    "TextRun",
    "Underline",
    "ean13_check_digit",
]


class Align(StrEnum):
    """Horizontal alignment of a line, barcode, QR code or image (ESC a)."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class Underline(StrEnum):
    """Underline of a text run (ESC -): none, one dot, two dots thick."""

    NONE = "none"
    SINGLE = "single"
    DOUBLE = "double"


class CodePage(StrEnum):
    """How text is encoded for the printer.

    ``gb18030`` selects the printer's Chinese character mode (FS &) with GB18030 bytes
    (ASCII stays one byte); the others are single-byte code pages selected with ESC t.
    """

    CP437 = "cp437"
    CP858 = "cp858"
    CP1252 = "cp1252"
    GB18030 = "gb18030"


class Symbology(StrEnum):
    """Barcode symbologies the model has (GS k)."""

    CODE128 = "code128"
    EAN13 = "ean13"


class HriPosition(StrEnum):
    """Where the human-readable interpretation of a barcode is printed (GS H)."""

    NONE = "none"
    ABOVE = "above"
    BELOW = "below"
    BOTH = "both"


class QrErrorCorrection(StrEnum):
    """QR error-correction level (GS ( k fn 169)."""

    L = "L"
    M = "M"
    Q = "Q"
    H = "H"


@dataclass(frozen=True)
class TextRun:
    """A piece of text in one style.

    Attributes:
        text: the characters (no control characters; a line break is a new `Line`).
        bold: emphasised (ESC E).
        underline: underline thickness (ESC -).
        double_width, double_height: character size (GS !).
    """

    text: str
    bold: bool = False
    underline: Underline = Underline.NONE
    double_width: bool = False
    double_height: bool = False

    def __post_init__(self) -> None:
        bad = next((ch for ch in self.text if ord(ch) < 0x20 or ord(ch) == 0x7F), None)
        if bad is not None:
            raise ValueError(
                f"text runs hold printable characters only; found control character "
                f"U+{ord(bad):04X} (start a new Line for a line break)"
            )


@dataclass(frozen=True)
class Line:
    """One printed line: text runs side by side, then a line feed.

    A line longer than the paper wraps on the printer as it would on paper; `Line.of`
    makes a one-run line.
    """

    runs: tuple[TextRun, ...] = ()
    align: Align = Align.LEFT

    @classmethod
    def of(
        cls,
        text: str,
        *,
        align: Align = Align.LEFT,
        bold: bool = False,
        underline: Underline = Underline.NONE,
        double_width: bool = False,
        double_height: bool = False,
    ) -> Line:
        """A line of one run of ``text`` in one style."""
        run = TextRun(text, bold, underline, double_width, double_height)
        return cls((run,), align)

    @property
    def text(self) -> str:
        """The line's characters, styles dropped."""
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True)
class Barcode:
    """A 1-D barcode (GS k).

    Attributes:
        data: what it encodes: CODE128 any ASCII 0x20-0x7E; EAN13 12 digits (the
            printer adds the check digit) or 13 with a correct check digit.
        symbology: CODE128 or EAN13.
        height: bar height in dots (1-255).
        module_width: width of the narrowest bar in dots (2-6).
        hri: where the human-readable text goes.
        align: placement on the line.
    """

    data: str
    symbology: Symbology = Symbology.CODE128
    height: int = 80
    module_width: int = 2
    hri: HriPosition = HriPosition.BELOW
    align: Align = Align.CENTER

    def __post_init__(self) -> None:
        if not 1 <= self.height <= 255:
            raise ValueError(f"barcode height must be 1-255 dots, got {self.height}")
        if not 2 <= self.module_width <= 6:
            raise ValueError(f"barcode module width must be 2-6 dots, got {self.module_width}")
        if self.symbology is Symbology.EAN13:
            if not (self.data.isascii() and self.data.isdigit() and len(self.data) in (12, 13)):
                raise ValueError(
                    f"EAN13 data must be 12 or 13 digits, got {len(self.data)} characters"
                )
            if len(self.data) == 13 and self.data[12] != ean13_check_digit(self.data[:12]):
                raise ValueError(
                    f"EAN13 check digit is {self.data[12]!r}, expected "
                    f"{ean13_check_digit(self.data[:12])!r}"
                )
        else:
            if not self.data:
                raise ValueError("CODE128 data must not be empty")
            if len(self.data) > 253:
                raise ValueError(f"CODE128 data is {len(self.data)} characters, at most 253")
            bad = next((ch for ch in self.data if not 0x20 <= ord(ch) <= 0x7E), None)
            if bad is not None:
                raise ValueError(f"CODE128 data holds printable ASCII only, found U+{ord(bad):04X}")


def ean13_check_digit(first12: str) -> str:
    """The EAN-13 check digit of 12 digits (weights 1, 3 alternating from the left)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


@dataclass(frozen=True)
class QrCode:
    """A QR code printed by the printer's own QR engine (GS ( k, model 2).

    Attributes:
        data: the payload (encoded as UTF-8 bytes; at most 7089 bytes).
        module_size: dots per module (1-16).
        error_correction: the ECC level.
        align: placement on the line.
    """

    data: str
    module_size: int = 4
    error_correction: QrErrorCorrection = QrErrorCorrection.M
    align: Align = Align.CENTER

    def __post_init__(self) -> None:
        if not 1 <= self.module_size <= 16:
            raise ValueError(f"QR module size must be 1-16 dots, got {self.module_size}")
        size = len(self.data.encode("utf-8"))
        if not 1 <= size <= 7089:
            raise ValueError(f"QR data must be 1-7089 bytes, got {size}")


@dataclass(frozen=True, repr=False)
class Image:
    """A monochrome raster image (GS v 0).

    Attributes:
        width, height: size in dots.
        pixels: ``ceil(width / 8) * height`` bytes, rows top to bottom, the most
            significant bit the left-most dot, 1 = black (the ESC/POS raster layout).
        align: placement on the line.
    """

    width: int
    height: int
    pixels: bytes = field(repr=False)
    align: Align = Align.CENTER

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        expected = (self.width + 7) // 8 * self.height
        if len(self.pixels) != expected:
            raise ValueError(
                f"a {self.width}x{self.height} image needs {expected} bytes of pixels, "
                f"got {len(self.pixels)}"
            )

    @property
    def row_bytes(self) -> int:
        """Bytes per row."""
        return (self.width + 7) // 8

    def dot(self, x: int, y: int) -> bool:
        """Whether the dot at column ``x``, row ``y`` is black."""
        byte = self.pixels[y * self.row_bytes + x // 8]
        return bool(byte & (0x80 >> (x % 8)))

    def __repr__(self) -> str:
        return f"Image({self.width}x{self.height}, align={self.align.value!r})"


@dataclass(frozen=True)
class Rule:
    """A horizontal rule across the paper, made of ``char`` repeated to the full width."""

    char: str = "-"

    def __post_init__(self) -> None:
        if len(self.char) != 1 or not self.char.isprintable():
            raise ValueError(f"a rule is one printable character, got {self.char!r}")


@dataclass(frozen=True)
class Feed:
    """Feed the paper ``lines`` lines (ESC d); 1-255."""

    lines: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.lines <= 255:
            raise ValueError(f"feed 1-255 lines, got {self.lines}")


@dataclass(frozen=True)
class Cut:
    """Cut the paper (GS V), after feeding ``feed`` lines so the last line clears the
    cutter (0-255)."""

    partial: bool = False
    feed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.feed <= 255:
            raise ValueError(f"feed before a cut must be 0-255 lines, got {self.feed}")


Block = Line | Barcode | QrCode | Image | Rule | Feed | Cut


@dataclass(frozen=True)
class Document:
    """What to print: blocks top to bottom, and the code page for its text.

    Attributes:
        blocks: the blocks in order.
        code_page: how text is encoded (`CodePage`); ``gb18030`` for Chinese.
    """

    blocks: tuple[Block, ...] = ()
    code_page: CodePage = CodePage.GB18030

    def __post_init__(self) -> None:
        for index, block in enumerate(self.blocks):
            if not isinstance(block, Line | Barcode | QrCode | Image | Rule | Feed | Cut):
                raise TypeError(f"block {index} is a {type(block).__name__}, not a block")
