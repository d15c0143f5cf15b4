"""Encode a `Document` as ESC/POS bytes: the one encoder the driver and the simulator use.

The stream (see docs/escpos.md): ESC @; the code page (ESC t n for a single-byte page,
FS & for GB18030 Chinese mode); then each block:

- `Line`: ESC a when the alignment changes, per run ESC E / ESC - / GS ! when the style
  changes, the run's text in the code page, LF.
- `Rule`: normal style, left aligned, the character repeated across ``columns`` (a
  character outside ASCII counts two columns in Chinese mode, as the printer draws it
  with its 24x24 font), LF.
- `Barcode`: ESC a, GS h, GS w, GS H, GS f 0, GS k in the length-prefixed form: CODE128
  m=73 with ``{C`` (all digits, even count) or ``{B`` (``{`` doubled), EAN13 m=67 with
  the 12 or 13 digits given.
- `QrCode`: ESC a, GS ( k fns 165 (model 2), 167 (size), 169 (ECC), 180 (store UTF-8),
  181 (print) [S protocols.md 5.1].
- `Image`: ESC a, GS v 0 m=0 with its rows.
- `Feed`: ESC d n. `Cut`: ESC d feed (when feed > 0), then GS V 0 (full) / GS V 1
  (partial).

Only `ValueError` comes out (a character the code page lacks, named with the page; a
page or an image the printer lacks): the printer service turns it into InvalidData.
"""

from __future__ import annotations

from protocols.escpos_commands import (
    ALIGN_BYTE,
    CODE_PAGE_TABLE,
    ESC,
    FS,
    GS,
    HRI_BYTE,
    QR_ECC_BYTE,
    SYMBOLOGY_M,
    process_id_command,
)
from protocols.print_document import (
    Align,
    Barcode,
    Block,
    CodePage,
    Cut,
    Document,
    Feed,
    Image,
    Line,
    QrCode,
    Rule,
    Symbology,
    TextRun,
    Underline,
)

__all__ = [
    "block_ident",
    "encode",
    "encode_blocks",
    "encode_text",
    "process_id_command",
    "text_columns",
]

_UNDERLINE_BYTE = {Underline.NONE: 0, Underline.SINGLE: 1, Underline.DOUBLE: 2}


def encode(
    document: Document,
    *,
    columns: int = 48,
    dots: int = 576,
    code_pages: frozenset[CodePage] | None = None,
) -> bytes:
    """The whole document as one ESC/POS stream (`encode_blocks` joined).

    Args:
        document: what to print.
        columns: characters per line in font A (rules are this wide).
        dots: printable dots per line (images must fit).
        code_pages: the code pages the printer has (``None``: all four).

    Raises:
        ValueError: a character the code page lacks, a code page the printer lacks, an
            image wider than the paper, CODE128 data too long once encoded.
    """
    return b"".join(encode_blocks(document, columns=columns, dots=dots, code_pages=code_pages))


def block_ident(index: int) -> bytes:
    """The 4-character process ID the driver gives block ``index`` (0-9999):
    ``0000``, ``0001``..."""
    if not 0 <= index <= 9999:
        raise ValueError(f"block index {index} has no 4-digit process ID")
    return f"{index:04d}".encode("ascii")


def encode_blocks(
    document: Document,
    *,
    columns: int = 48,
    dots: int = 576,
    code_pages: frozenset[CodePage] | None = None,
    process_ids: bool = False,
) -> list[bytes]:
    """The document as ESC/POS, one byte string per block, so a driver or a model knows
    which block is where.

    Returns ``len(document.blocks) + 1`` strings: the prelude (ESC @ and the code page),
    then each block's bytes in order. Styles carry from block to block, so the strings
    are meant to be sent in order. With ``process_ids`` each block ends with GS ( H fn 48
    carrying `block_ident` of its index; the printer answers ``37 22 <id> 00`` when the
    block has printed.

    Raises:
        ValueError: as `encode`.
    """
    if columns < 1 or dots < 8:
        raise ValueError(f"a printer needs at least 1 column and 8 dots, got {columns}/{dots}")
    page = document.code_page
    if code_pages is not None and page not in code_pages:
        raise ValueError(f"the printer has no code page {page.value}")
    encoder = _Encoder(page, columns, dots)
    out = [encoder.prelude()]
    for index, block in enumerate(document.blocks):
        chunk = encoder.block(block)
        if process_ids:
            chunk += process_id_command(block_ident(index))
        out.append(chunk)
    return out


def encode_text(text: str, code_page: CodePage) -> bytes:
    """``text`` in ``code_page``'s bytes.

    Raises:
        ValueError: a character the page lacks, named with the page (the text itself is
            not repeated: the message may be logged).
    """
    try:
        return text.encode(code_page.value)
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise ValueError(
            f"character U+{ord(bad):04X} is not in code page {code_page.value}"
        ) from None


def text_columns(text: str, code_page: CodePage) -> int:
    """How many font-A columns ``text`` takes on the printer: one per character, two for
    a non-ASCII character in Chinese (GB18030) mode, where the printer draws it with its
    24x24 font."""
    if code_page is CodePage.GB18030:
        return sum(1 if ord(ch) < 0x80 else 2 for ch in text)
    return len(text)


class _Encoder:
    """The printer state the stream has set so far, so styles are sent only on change."""

    def __init__(self, page: CodePage, columns: int, dots: int) -> None:
        self.page = page
        self.columns = columns
        self.dots = dots
        self.align = Align.LEFT
        self.bold = False
        self.underline = Underline.NONE
        self.size = 0

    def prelude(self) -> bytes:
        if self.page is CodePage.GB18030:
            return bytes((ESC, 0x40, FS, 0x26))
        return bytes((ESC, 0x40, ESC, 0x74, CODE_PAGE_TABLE[self.page]))

    def block(self, block: Block) -> bytes:
        if isinstance(block, Line):
            return self._line(block)
        if isinstance(block, Rule):
            return self._rule(block)
        if isinstance(block, Barcode):
            return self._barcode(block)
        if isinstance(block, QrCode):
            return self._qr(block)
        if isinstance(block, Image):
            return self._image(block)
        if isinstance(block, Feed):
            return bytes((ESC, 0x64, block.lines))
        return self._cut(block)

    def _set_align(self, align: Align) -> bytes:
        if align is self.align:
            return b""
        self.align = align
        return bytes((ESC, 0x61, ALIGN_BYTE[align]))

    def _set_style(self, bold: bool, underline: Underline, size: int) -> bytes:
        out = bytearray()
        if bold != self.bold:
            self.bold = bold
            out += bytes((ESC, 0x45, int(bold)))
        if underline is not self.underline:
            self.underline = underline
            out += bytes((ESC, 0x2D, _UNDERLINE_BYTE[underline]))
        if size != self.size:
            self.size = size
            out += bytes((GS, 0x21, size))
        return bytes(out)

    def _run(self, run: TextRun) -> bytes:
        size = (0x10 if run.double_width else 0) | (0x01 if run.double_height else 0)
        return self._set_style(run.bold, run.underline, size) + encode_text(run.text, self.page)

    def _line(self, line: Line) -> bytes:
        out = bytearray(self._set_align(line.align))
        for run in line.runs:
            out += self._run(run)
        out.append(0x0A)
        return bytes(out)

    def _rule(self, rule: Rule) -> bytes:
        width = text_columns(rule.char, self.page)
        text = rule.char * max(1, self.columns // width)
        out = self._set_align(Align.LEFT) + self._set_style(False, Underline.NONE, 0)
        return out + encode_text(text, self.page) + b"\n"

    def _barcode(self, barcode: Barcode) -> bytes:
        out = bytearray(self._set_align(barcode.align))
        out += bytes((GS, 0x68, barcode.height, GS, 0x77, barcode.module_width))
        out += bytes((GS, 0x48, HRI_BYTE[barcode.hri], GS, 0x66, 0))
        if barcode.symbology is Symbology.CODE128:
            data = _code128_data(barcode.data)
        else:
            data = barcode.data.encode("ascii")
        if len(data) > 255:
            raise ValueError(f"CODE128 data encodes to {len(data)} bytes, GS k holds 255")
        out += bytes((GS, 0x6B, SYMBOLOGY_M[barcode.symbology], len(data))) + data
        return bytes(out)

    def _qr(self, qr: QrCode) -> bytes:
        payload = qr.data.encode("utf-8")
        size = len(payload) + 3
        out = bytearray(self._set_align(qr.align))
        out += bytes((GS, 0x28, 0x6B, 4, 0, 0x31, 0x41, 0x32, 0))
        out += bytes((GS, 0x28, 0x6B, 3, 0, 0x31, 0x43, qr.module_size))
        out += bytes((GS, 0x28, 0x6B, 3, 0, 0x31, 0x45, QR_ECC_BYTE[qr.error_correction]))
        out += bytes((GS, 0x28, 0x6B, size & 0xFF, size >> 8, 0x31, 0x50, 0x30)) + payload
        out += bytes((GS, 0x28, 0x6B, 3, 0, 0x31, 0x51, 0x30))
        return bytes(out)

    def _image(self, image: Image) -> bytes:
        if image.width > self.dots:
            raise ValueError(f"the image is {image.width} dots wide, the paper {self.dots}")
        if image.height > 0xFFFF:
            raise ValueError(f"the image is {image.height} rows, GS v 0 holds 65535")
        row = image.row_bytes
        out = self._set_align(image.align)
        header = bytes((GS, 0x76, 0x30, 0, row & 0xFF, row >> 8))
        return out + header + bytes((image.height & 0xFF, image.height >> 8)) + image.pixels

    @staticmethod
    def _cut(cut: Cut) -> bytes:
        feed = bytes((ESC, 0x64, cut.feed)) if cut.feed else b""
        return feed + bytes((GS, 0x56, 1 if cut.partial else 0))


def _code128_data(data: str) -> bytes:
    """CODE128 data for GS k m=73: code set C for an even run of digits, else B."""
    if len(data) % 2 == 0 and data.isascii() and data.isdigit():
        return b"{C" + bytes(int(data[i : i + 2]) for i in range(0, len(data), 2))
    return b"{B" + data.replace("{", "{{").encode("ascii")
