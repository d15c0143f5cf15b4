"""The operations an ESC/POS stream decodes into (`protocols.escpos_decoder`).

A decoded stream is a flat list of operations in stream order: what a printer would do
with the bytes, with everything a renderer needs to draw it and nothing it must work out
again. The types are frozen dataclasses; RENDER and the printer simulator build on them,
so they are kept stable (add fields with defaults only).

Design decisions:

- **Styles ride on the text.** Every `Text` carries the full `TextStyle` in force when
  its characters arrived (bold, underline, character size, font, invert, alignment, the
  code page or Chinese mode). Commands that only change that state (ESC E, ESC -, ESC !,
  GS !, ESC M, GS B, ESC {, ESC V, ESC a) produce no operation of their own; adjacent text
  in one style is one `Text`. A renderer never tracks printer state for text.
- **Alignment is carried, not an operation.** ``TextStyle.align`` holds ESC a for text;
  `Barcode`, `QrCode` and `RasterImage` carry the alignment in force when they printed.
  (ESC/POS applies ESC a at the start of a line; a renderer takes the line's first run.)
- **Text never holds a line break.** LF is `LineFeed`; CR is `CarriageReturn` (printers
  with auto-LF off ignore it); HT is `Tab`.
- **Code page changes are operations too** (`CodePageSelect`, `ChineseMode`) so a dump
  shows them, and `TextStyle.encoding` says which Python codec decoded each text.
- **Everything not understood is kept**: `Unknown` holds its bytes; commands recognised
  but with no meaning for a renderer (drawer kick, margins, NV images...) are
  `OtherCommand` with their name and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from protocols.print_document import Align, HriPosition, QrErrorCorrection, Underline

__all__ = [
    "Align",
    "Barcode",
    "CarriageReturn",
    "ChineseMode",
    "CodePageSelect",
    "Cut",
    "CutCommand",
    "Font",
    "HriPosition",
    "Initialize",
    "LineFeed",
    "LineSpacing",
    "Operation",
    "OtherCommand",
    "Presenter",
    "PrintAndFeed",
    "ProcessIdRequest",
    "QrCode",
    "QrErrorCorrection",
    "RasterImage",
    "StatusKind",
    "StatusRequest",
    "Tab",
    "Text",
    "TextStyle",
    "Underline",
    "Unknown",
]


class Font(StrEnum):
    """Character font (ESC M / ESC ! bit 0): A is 12x24 dots, B 9x17, C 9x24 (model
    dependent)."""

    A = "A"
    B = "B"
    C = "C"


@dataclass(frozen=True, slots=True)
class TextStyle:
    """The print-mode state in force for a run of text.

    Attributes:
        bold: emphasised (ESC E, ESC ! bit 3).
        underline: none, one or two dots (ESC -, ESC ! bit 7 = single).
        width, height: character magnification 1-8 (GS !; ESC ! bits 5 and 4 give 2).
        font: A, B or C.
        invert: white on black (GS B).
        upside_down: ESC {.
        rotated: 90 degrees clockwise (ESC V).
        align: ESC a.
        code_page: the ESC t table number (0 = PC437).
        chinese: the printer's Chinese (GB18030) mode is on (FS &); ASCII stays one
            byte and one column, CJK characters two.
        encoding: the Python codec the text was decoded with (``cp437``, ``gb18030``...;
            a table without a Python codec decodes as ``cp437``).
    """

    bold: bool = False
    underline: Underline = Underline.NONE
    width: int = 1
    height: int = 1
    font: Font = Font.A
    invert: bool = False
    upside_down: bool = False
    rotated: bool = False
    align: Align = Align.LEFT
    code_page: int = 0
    chinese: bool = False
    encoding: str = "cp437"

    @property
    def double_width(self) -> bool:
        """At least twice the normal width."""
        return self.width >= 2

    @property
    def double_height(self) -> bool:
        """At least twice the normal height."""
        return self.height >= 2


DEFAULT_STYLE = TextStyle()


@dataclass(frozen=True, slots=True)
class Text:
    """Characters printed in one style (no control characters: LF is `LineFeed`)."""

    text: str
    style: TextStyle = DEFAULT_STYLE


@dataclass(frozen=True, slots=True)
class LineFeed:
    """LF (0A): print the line buffer and feed one line."""


@dataclass(frozen=True, slots=True)
class CarriageReturn:
    """CR (0D): ignored by most printers (a line feed on those with auto-LF)."""


@dataclass(frozen=True, slots=True)
class Tab:
    """HT (09): move to the next horizontal tab position (every 8 characters by
    default)."""


@dataclass(frozen=True, slots=True)
class PrintAndFeed:
    """Print the line buffer and feed: ESC d n (``lines``) or ESC J n (``dots``, in
    vertical motion units: dots on 203 dpi printers). One of the two is non-zero or both
    are 0 (a bare print)."""

    lines: int = 0
    dots: int = 0


@dataclass(frozen=True, slots=True)
class LineSpacing:
    """ESC 3 n: line spacing ``dots``; ESC 2: ``None``, the default (about 1/6 inch,
    30 dots at 203 dpi)."""

    dots: int | None = None


class CutCommand(StrEnum):
    """Which command made a `Cut`."""

    GS_V = "GS V"
    ESC_I = "ESC i"
    ESC_M = "ESC m"


@dataclass(frozen=True, slots=True)
class Cut:
    """Cut the paper.

    Attributes:
        partial: a partial cut (GS V 1/49/66, ESC m) rather than full (GS V 0/48/65,
            ESC i).
        feed: GS V 65/66 n: feed to the cutting position plus n vertical motion units
            before cutting; 0 for the other forms.
        command: which command it was.
    """

    partial: bool = False
    feed: int = 0
    command: CutCommand = CutCommand.GS_V


@dataclass(frozen=True, slots=True)
class Barcode:
    """A 1-D barcode printed (GS k), with the settings in force (GS h, w, H, f; ESC a).

    Attributes:
        symbology: its name (``CODE128``, ``EAN13``, ``UPC-A``, ``CODE39``...;
            ``m=NN`` for a type the decoder does not name).
        data: the data bytes as sent (CODE128 with its code-set selectors, ``{B``...).
        m: the GS k type byte (0-6: NUL-terminated form, 65-79: length-prefixed).
        height: bar height in dots (GS h; default 162).
        module_width: narrowest bar in dots (GS w; default 3).
        hri: where the human-readable text goes (GS H; default none).
        hri_font: the HRI font (GS f: 0 A, 1 B).
        align: ESC a in force.
    """

    symbology: str
    data: bytes
    m: int
    height: int = 162
    module_width: int = 3
    hri: HriPosition = HriPosition.NONE
    hri_font: int = 0
    align: Align = Align.LEFT

    @property
    def text(self) -> str:
        """What the barcode encodes, as text: CODE128 code-set selectors and function
        characters dropped, code set C pairs as two digits; other symbologies as ASCII
        (bytes outside ASCII as U+FFFD)."""
        if self.symbology != "CODE128":
            return self.data.decode("ascii", "replace")
        return code128_text(self.data)


def code128_text(data: bytes) -> str:
    """The characters of ESC/POS CODE128 data: ``{A``/``{B``/``{C`` switch code sets
    (``{S`` shifts one character), ``{1``-``{4`` are FNC1-4 (dropped), ``{{`` is ``{``;
    in code set C each byte 0-99 is two digits. Data before any selector reads as set B."""
    out: list[str] = []
    code_set = "B"
    shift = False
    index = 0
    size = len(data)
    while index < size:
        byte = data[index]
        if byte == 0x7B and index + 1 < size:  # "{": a selector or a literal "{"
            selector = data[index + 1]
            index += 2
            if selector in b"ABC":
                code_set = chr(selector)
            elif selector == 0x53:  # {S: shift the next character (A <-> B)
                shift = True
            elif selector == 0x7B:
                out.append("{")
            continue  # {1..{4: function characters print nothing
        index += 1
        effective = code_set
        if shift and code_set in "AB":
            effective = "A" if code_set == "B" else "B"
            shift = False
        if effective == "C":
            out.append(f"{byte:02d}" if byte < 100 else "\ufffd")
        else:
            out.append(chr(byte) if byte < 0x80 else "\ufffd")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code printed (GS ( k fn 181) with the data stored before it (fn 180) and
    the settings in force (fn 165 model, fn 167 module size, fn 169 ECC; ESC a).

    Attributes:
        data: the stored payload bytes (empty: nothing stored, a printer prints
            nothing).
        model: 1, 2 (default) or 3 (micro QR, per the fn 165 byte 0x33).
        module_size: dots per module (default 3).
        error_correction: L (default), M, Q or H.
        align: ESC a in force.
    """

    data: bytes
    model: int = 2
    module_size: int = 3
    error_correction: QrErrorCorrection = QrErrorCorrection.L
    align: Align = Align.LEFT


@dataclass(frozen=True, slots=True, repr=False)
class RasterImage:
    """A monochrome image: GS v 0 raster, or an ESC * bit-image line converted to rows.

    Attributes:
        width: dots per row (GS v 0: 8 x the row bytes).
        height: rows.
        pixels: ``ceil(width / 8) * height`` bytes, rows top to bottom, MSB the
            left-most dot, 1 = black.
        scale_x, scale_y: how many printer dots each image dot takes (GS v 0 m: 1
            normal, 2 double width / height; ESC * single density is 2 wide, the 8-dot
            modes 3 tall).
        mode: the GS v 0 m byte, or the ESC * m byte.
        command: ``GS v 0`` or ``ESC *``.
        align: ESC a in force.
    """

    width: int
    height: int
    pixels: bytes = field(repr=False)
    scale_x: int = 1
    scale_y: int = 1
    mode: int = 0
    command: str = "GS v 0"
    align: Align = Align.LEFT

    @property
    def row_bytes(self) -> int:
        """Bytes per row."""
        return (self.width + 7) // 8

    def dot(self, x: int, y: int) -> bool:
        """Whether the dot at column ``x``, row ``y`` is black."""
        return bool(self.pixels[y * self.row_bytes + x // 8] & (0x80 >> (x % 8)))

    def __repr__(self) -> str:
        return (
            f"RasterImage({self.width}x{self.height}, scale={self.scale_x}x{self.scale_y}, "
            f"command={self.command!r}, align={self.align.value!r})"
        )


@dataclass(frozen=True, slots=True)
class Initialize:
    """ESC @: reset the print modes, code page and settings to the defaults."""


class StatusKind(StrEnum):
    """Which status or information a `StatusRequest` asks for."""

    REAL_TIME = "DLE EOT"  # n = 1..4 (and 0x14 on Custom printers: full status)
    TRANSMIT = "GS r"  # n = 1 paper sensor, 2 drawer
    PRINTER_ID = "GS I"  # n = model / type / ROM version...
    PAPER_LEGACY = "ESC v"  # n unused (0)
    REAL_TIME_REQUEST = "DLE ENQ"  # n


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """A request the printer answers with bytes (DLE EOT n, GS r n, GS I n, ESC v,
    DLE ENQ n); `protocols.escpos_status` parses the answers."""

    kind: StatusKind
    n: int


@dataclass(frozen=True, slots=True)
class CodePageSelect:
    """ESC t n: select character table ``n``; ``encoding`` is the Python codec the
    decoder reads it with (``None``: no codec known, text then decodes as cp437)."""

    n: int
    encoding: str | None


@dataclass(frozen=True, slots=True)
class ChineseMode:
    """FS & (``on``) / FS . (off): the printer's Chinese (GB18030) character mode."""

    on: bool


@dataclass(frozen=True, slots=True)
class Presenter:
    """Kiosk presenter control, GS e n (1D 65 n; Custom VKP80-style, TerminalClient):
    2 retract, 3 present (hold at the exit), 5 eject. ``params`` are the bytes after n
    that belong to it: for n=3 one byte, the length to hold out (``1D 65 03 0C``, as
    open-source kiosk drivers send it) [S]; other models' layouts are [U]."""

    n: int
    params: bytes = b""

    @property
    def action(self) -> str:
        """``retract``, ``present``, ``eject`` or ``n=NN``."""
        return {2: "retract", 3: "present", 5: "eject"}.get(self.n, f"n={self.n}")


@dataclass(frozen=True, slots=True)
class ProcessIdRequest:
    """GS ( H fn 48 (1D 28 48 06 00 30 30 d1 d2 d3 d4): when the data before it has
    printed, the printer answers ``37 22 d1 d2 d3 d4 00`` [S: Epson ESC/POS reference,
    GS ( H Function 48]. ``ident`` is d1-d4 (each 0x20-0x7E)."""

    ident: bytes


@dataclass(frozen=True, slots=True)
class OtherCommand:
    """A command the decoder recognises (so knows its length) but that means nothing to
    a renderer: drawer kick, margins, NV graphics, buzzer... ``name`` as in the Epson
    reference (``ESC p``, ``GS L``...), ``raw`` the whole command."""

    name: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Unknown:
    """Bytes the decoder does not know, kept as they came: a stray control byte or DEL
    (1 byte), or an unknown ESC / GS / FS / DLE command (the prefix and the command byte;
    any parameters that follow then read as text, as a printer might print them)."""

    raw: bytes


Operation = (
    Text
    | LineFeed
    | CarriageReturn
    | Tab
    | PrintAndFeed
    | LineSpacing
    | Cut
    | Barcode
    | QrCode
    | RasterImage
    | Initialize
    | StatusRequest
    | CodePageSelect
    | ChineseMode
    | Presenter
    | ProcessIdRequest
    | OtherCommand
    | Unknown
)
