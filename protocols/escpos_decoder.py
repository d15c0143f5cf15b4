"""Decode an ESC/POS byte stream into operations (`protocols.escpos_ops`).

`decode(data)` reads a whole buffer; `EscPosDecoder` reads a stream in chunks: `feed`
returns the operations complete so far and holds an incomplete command (or text that
may continue) until more comes; `finish` flushes the text and raises if a command is
still incomplete. Both give the same operations for the same bytes, however chunked.

What it reads (docs/escpos.md has the table): text in the current code page (ESC t) or
GB18030 in Chinese mode (FS & / FS .); LF, CR, HT; ESC @, ESC !, ESC E, ESC -, ESC M,
ESC a, ESC {, ESC V, GS !, GS B (styles, carried on `Text`); ESC t; ESC d, ESC J, ESC 2,
ESC 3; GS V (all forms), ESC i, ESC m; GS h/w/H/f and GS k (both forms); GS ( k QR
(cn 49, fns 65/67/69/80/81, the manual's 165/167/169/180/181); GS v 0; ESC * bit images;
DLE EOT, DLE ENQ, GS r, GS I, ESC v; GS ( H fn 48 process IDs; GS e presenter. Other
known commands become `OtherCommand` (their length known, so their parameters are not
misread as text); an unknown ESC/GS/FS/DLE command is `Unknown` with its two bytes; any
other control byte (and DEL, 7Fh) is a one-byte `Unknown`, so `Text` never holds a
control character.

Only `ProtocolError` comes out: for a stream that ends inside a command (naming the
command, where it started and how many bytes are missing) and for GS k data with no
NUL within 255 bytes.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import astuple

from protocols.errors import FramingError
from protocols.escpos_commands import BARCODE_NAMES, TABLE_ENCODINGS
from protocols.escpos_ops import (
    DEFAULT_STYLE,
    Align,
    Barcode,
    CarriageReturn,
    ChineseMode,
    CodePageSelect,
    Cut,
    CutCommand,
    Font,
    HriPosition,
    Initialize,
    LineFeed,
    LineSpacing,
    Operation,
    OtherCommand,
    Presenter,
    PrintAndFeed,
    ProcessIdRequest,
    QrCode,
    QrErrorCorrection,
    RasterImage,
    StatusKind,
    StatusRequest,
    Tab,
    Text,
    TextStyle,
    Underline,
    Unknown,
)

__all__ = ["EscPosDecoder", "decode"]

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_ALIGNS = {0: Align.LEFT, 48: Align.LEFT, 1: Align.CENTER, 49: Align.CENTER}
_ALIGNS |= {2: Align.RIGHT, 50: Align.RIGHT}
_UNDERLINES = {0: Underline.NONE, 48: Underline.NONE, 1: Underline.SINGLE, 49: Underline.SINGLE}
_UNDERLINES |= {2: Underline.DOUBLE, 50: Underline.DOUBLE}
_FONTS = {0: Font.A, 48: Font.A, 1: Font.B, 49: Font.B, 2: Font.C, 50: Font.C}
_HRI = {0: HriPosition.NONE, 1: HriPosition.ABOVE, 2: HriPosition.BELOW, 3: HriPosition.BOTH}
_HRI |= {48 + k: v for k, v in _HRI.items()}
_ECC = {0x30: QrErrorCorrection.L, 0x31: QrErrorCorrection.M}
_ECC |= {0x32: QrErrorCorrection.Q, 0x33: QrErrorCorrection.H}
_QR_MODELS = {0x31: 1, 0x32: 2, 0x33: 3}
#: GS k NUL-terminated form: at most this many data bytes before the NUL.
MAX_NUL_BARCODE = 255

#: ESC x / GS x / FS x commands with a fixed count of parameter bytes that mean nothing
#: to a renderer (their names as in the Epson reference).
_ESC_FIXED: dict[int, int] = {
    0x20: 1,  # ESC SP right-side character spacing
    0x24: 2,  # ESC $ absolute print position
    0x25: 1,  # ESC % user-defined character set
    0x3D: 1,  # ESC = select peripheral device
    0x3F: 1,  # ESC ? cancel user-defined character
    0x47: 1,  # ESC G double-strike
    0x4C: 0,  # ESC L page mode
    0x52: 1,  # ESC R international character set
    0x53: 0,  # ESC S standard mode
    0x54: 1,  # ESC T print direction in page mode
    0x55: 1,  # ESC U unidirectional printing
    0x57: 8,  # ESC W print area in page mode
    0x5C: 2,  # ESC \ relative print position
    0x63: 2,  # ESC c 3/4/5 n paper sensors, panel buttons
    0x70: 3,  # ESC p m t1 t2 drawer kick
    0x72: 1,  # ESC r print colour
    0x75: 1,  # ESC u peripheral status (legacy)
    0x0C: 0,  # ESC FF print data in page mode
}
_GS_FIXED: dict[int, int] = {
    0x24: 2,  # GS $ absolute vertical position in page mode
    0x2F: 1,  # GS / print downloaded bit image
    0x3A: 0,  # GS : start/end macro
    0x45: 1,  # GS E print density (some models)
    0x4C: 2,  # GS L left margin
    0x50: 2,  # GS P motion units
    0x54: 1,  # GS T print position to line start
    0x57: 2,  # GS W print area width
    0x5C: 2,  # GS \ relative vertical position
    0x5E: 3,  # GS ^ execute macro
    0x61: 1,  # GS a automatic status back
    0x62: 1,  # GS b smoothing
    0x6A: 1,  # GS j automatic ink status back
}
_FS_FIXED: dict[int, int] = {
    0x21: 1,  # FS ! Kanji print modes
    0x2D: 1,  # FS - Kanji underline
    0x43: 1,  # FS C Kanji code system
    0x53: 2,  # FS S Kanji spacing
    0x57: 1,  # FS W Kanji quadruple size
    0x70: 2,  # FS p print NV bit image
}


_FIELD_INDEX = {name: index for index, name in enumerate(TextStyle.__slots__)}
_DEFAULT_STATE = astuple(DEFAULT_STYLE)
#: Every distinct style decoded so far (shared by decoders; bounded).
_STYLES: dict[tuple[object, ...], TextStyle] = {_DEFAULT_STATE: DEFAULT_STYLE}
_MAX_STYLES = 4096


class _NeedMore(Exception):
    """Internal: the command at ``start`` needs ``missing`` more bytes."""

    def __init__(self, name: str, start: int, missing: int, detail: str = "") -> None:
        super().__init__(name)
        self.name = name
        self.start = start
        self.missing = missing
        self.detail = detail


def decode(data: bytes) -> list[Operation]:
    """Every operation in ``data``, a whole stream.

    Raises:
        ProtocolError: the stream ends inside a command (the message names it, its byte
            offset and how many bytes are missing), or bad GS k data.
    """
    decoder = EscPosDecoder()
    ops = decoder.feed(data)
    ops += decoder.finish()
    return ops


class EscPosDecoder:
    """A streaming ESC/POS decoder; the printer's state (styles, code page, barcode and
    QR settings, the stored QR data) lives here between chunks."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]
        self._out: list[Operation] = []
        self._run: list[str] = []
        self._run_style: TextStyle = DEFAULT_STYLE
        self._gb: codecs.IncrementalDecoder | None = None
        self._reset()
        self._esc: dict[int, Callable[[bytearray, int], int]] = {
            0x40: self._esc_init,
            0x21: self._esc_mode,
            0x45: self._esc_bold,
            0x2D: self._esc_underline,
            0x4D: self._esc_font,
            0x61: self._esc_align,
            0x7B: self._esc_upside_down,
            0x56: self._esc_rotate,
            0x74: self._esc_code_page,
            0x64: self._esc_feed_lines,
            0x4A: self._esc_feed_dots,
            0x32: self._esc_default_spacing,
            0x33: self._esc_spacing,
            0x69: self._esc_full_cut,
            0x6D: self._esc_partial_cut,
            0x2A: self._esc_bit_image,
            0x76: self._esc_paper_status,
            0x44: self._esc_tabs,
            0x26: self._esc_user_chars,
            0x28: self._esc_paren,
        }
        self._gs: dict[int, Callable[[bytearray, int], int]] = {
            0x21: self._gs_size,
            0x42: self._gs_invert,
            0x56: self._gs_cut,
            0x68: self._gs_barcode_height,
            0x77: self._gs_barcode_width,
            0x48: self._gs_hri,
            0x66: self._gs_hri_font,
            0x6B: self._gs_barcode,
            0x76: self._gs_raster,
            0x28: self._gs_paren,
            0x72: self._gs_status,
            0x49: self._gs_printer_id,
            0x65: self._gs_presenter,
            0x38: self._gs_eight,
            0x2A: self._gs_define_image,
        }
        self._fs: dict[int, Callable[[bytearray, int], int]] = {
            0x26: self._fs_chinese_on,
            0x2E: self._fs_chinese_off,
            0x28: self._fs_paren,
            0x32: self._fs_user_kanji,
        }

    # ------------------------------------------------------------------ public

    @property
    def pending(self) -> int:
        """Bytes held back: an incomplete command at the end of what was fed."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Operation]:
        """Decode ``data`` after what came before; the operations complete so far.

        Text is held until something else follows it (it may continue in the next
        chunk); an incomplete command is held until its bytes come.

        Raises:
            ProtocolError: GS k data with no NUL within 255 bytes.
        """
        self._buf += data
        self._parse(final=False)
        return self._take()

    def finish(self) -> list[Operation]:
        """The end of the stream: the last text, and the decoder ready for a new stream.

        Raises:
            ProtocolError: the stream ends inside a command.
        """
        self._parse(final=True)
        self._flush_run()
        ops = self._take()
        self._reset()
        return ops

    def take(self) -> list[Operation]:
        """After `feed` or `finish` raised: the operations decoded before the failing
        command (the decoder has dropped the rest of its input)."""
        return self._take()

    # ------------------------------------------------------------------ machinery

    def _take(self) -> list[Operation]:
        ops = self._out
        self._out = []
        return ops

    def _reset(self) -> None:
        self._buf = bytearray()
        self._offset = 0
        self._run = []
        self._gb = None
        self._defaults()

    def _defaults(self) -> None:
        self._state = list(_DEFAULT_STATE)
        self._style_now: TextStyle | None = DEFAULT_STYLE
        self._bar_height = 162
        self._bar_width = 3
        self._bar_hri = HriPosition.NONE
        self._bar_font = 0
        self._qr_model = 2
        self._qr_size = 3
        self._qr_ecc = QrErrorCorrection.L
        self._qr_data = b""

    def _parse(self, *, final: bool) -> None:
        buf = self._buf
        pos = 0
        size = len(buf)
        try:
            while pos < size:
                byte = buf[pos]
                if byte >= 0x20 and byte != 0x7F:
                    match = _CONTROL.search(buf, pos)
                    end = match.start() if match else size
                    self._text(buf, pos, end)
                    pos = end
                    continue
                self._end_text_bytes()
                pos = self._control(buf, pos, byte)
        except _NeedMore as need:
            pos = need.start
            if final:
                detail = f" ({need.detail})" if need.detail else ""
                where = self._offset + need.start
                self._failed(pos)
                raise FramingError(
                    f"truncated ESC/POS stream: {need.name} at byte {where} needs "
                    f"{need.missing} more byte{'s' if need.missing != 1 else ''}{detail}"
                ) from None
        except FramingError:
            self._failed(pos)
            raise
        if final and pos >= size:
            self._end_text_bytes()
        del buf[:pos]
        self._offset += pos

    def _failed(self, pos: int) -> None:
        """Keep what decoded before the failing command for `take`; drop the rest."""
        self._flush_run()
        self._buf = bytearray()
        self._offset += pos

    @staticmethod
    def _need(buf: bytearray, start: int, count: int, name: str) -> None:
        missing = start + count - len(buf)
        if missing > 0:
            raise _NeedMore(name, start, missing)

    def _emit(self, op: Operation) -> None:
        if self._run:
            self._flush_run()
        self._out.append(op)

    def _flush_run(self) -> None:
        self._end_text_bytes()
        if self._run:
            self._out.append(Text("".join(self._run), self._run_style))
            self._run = []

    def _text(self, buf: bytearray, start: int, end: int) -> None:
        style = self._style
        if self._run and style is not self._run_style and style != self._run_style:
            self._flush_run()
        self._run_style = style
        chunk = bytes(buf[start:end])
        if style.chinese:
            if self._gb is None:
                self._gb = codecs.getincrementaldecoder("gb18030")("replace")
            text = self._gb.decode(chunk)
        else:
            text = chunk.decode(style.encoding, "replace")
        if text:
            self._run.append(text)

    def _end_text_bytes(self) -> None:
        if self._gb is not None:
            tail = self._gb.decode(b"", True)
            self._gb = None
            if tail:
                self._run.append(tail)

    def _restyle(self, **changes: object) -> None:
        state = self._state
        for name, value in changes.items():
            state[_FIELD_INDEX[name]] = value
        self._style_now = None

    @property
    def _style(self) -> TextStyle:
        """The style in force, one shared object per distinct style (so runs compare by
        identity and no style is built twice)."""
        style = self._style_now
        if style is None:
            key = tuple(self._state)
            style = _STYLES.get(key)
            if style is None:
                if len(_STYLES) > _MAX_STYLES:
                    _STYLES.clear()
                style = _STYLES[key] = TextStyle(*key)
            self._style_now = style
        return style

    def _control(self, buf: bytearray, pos: int, byte: int) -> int:
        if byte == 0x0A:
            self._emit(LineFeed())
            return pos + 1
        if byte in (0x1B, 0x1D, 0x1C, 0x10):
            self._need(buf, pos, 2, _PREFIX_NAMES[byte])
            command = buf[pos + 1]
            if byte == 0x10:
                return self._dle(buf, pos, command)
            table = self._esc if byte == 0x1B else self._gs if byte == 0x1D else self._fs
            handler = table.get(command)
            if handler is not None:
                return handler(buf, pos)
            fixed = (_ESC_FIXED if byte == 0x1B else _GS_FIXED if byte == 0x1D else _FS_FIXED).get(
                command
            )
            if fixed is not None:
                return self._other(buf, pos, 2 + fixed)
            self._emit(Unknown(bytes(buf[pos : pos + 2])))
            return pos + 2
        if byte == 0x0D:
            self._emit(CarriageReturn())
        elif byte == 0x09:
            self._emit(Tab())
        elif byte in (0x0C, 0x18):
            self._emit(OtherCommand("FF" if byte == 0x0C else "CAN", bytes((byte,))))
        else:
            self._emit(Unknown(bytes((byte,))))
        return pos + 1

    def _other(self, buf: bytearray, pos: int, length: int, name: str | None = None) -> int:
        label = name or _command_name(buf[pos], buf[pos + 1])
        self._need(buf, pos, length, label)
        self._emit(OtherCommand(label, bytes(buf[pos : pos + length])))
        return pos + length

    def _arg(self, buf: bytearray, pos: int, name: str) -> int:
        """The one parameter byte of a 3-byte command."""
        self._need(buf, pos, 3, name)
        return buf[pos + 2]

    # ------------------------------------------------------------------ ESC

    def _esc_init(self, buf: bytearray, pos: int) -> int:
        self._defaults()
        self._emit(Initialize())
        return pos + 2

    def _esc_mode(self, buf: bytearray, pos: int) -> int:
        n = self._arg(buf, pos, "ESC !")
        self._restyle(
            font=Font.B if n & 0x01 else Font.A,
            bold=bool(n & 0x08),
            height=2 if n & 0x10 else 1,
            width=2 if n & 0x20 else 1,
            underline=Underline.SINGLE if n & 0x80 else Underline.NONE,
        )
        return pos + 3

    def _esc_bold(self, buf: bytearray, pos: int) -> int:
        self._restyle(bold=bool(self._arg(buf, pos, "ESC E") & 1))
        return pos + 3

    def _esc_underline(self, buf: bytearray, pos: int) -> int:
        underline = _UNDERLINES.get(self._arg(buf, pos, "ESC -"))
        if underline is not None:
            self._restyle(underline=underline)
        return pos + 3

    def _esc_font(self, buf: bytearray, pos: int) -> int:
        font = _FONTS.get(self._arg(buf, pos, "ESC M"))
        if font is not None:
            self._restyle(font=font)
        return pos + 3

    def _esc_align(self, buf: bytearray, pos: int) -> int:
        align = _ALIGNS.get(self._arg(buf, pos, "ESC a"))
        if align is not None:
            self._restyle(align=align)
        return pos + 3

    def _esc_upside_down(self, buf: bytearray, pos: int) -> int:
        self._restyle(upside_down=bool(self._arg(buf, pos, "ESC {") & 1))
        return pos + 3

    def _esc_rotate(self, buf: bytearray, pos: int) -> int:
        n = self._arg(buf, pos, "ESC V")
        self._restyle(rotated=n in (1, 2, 49, 50))
        return pos + 3

    def _esc_code_page(self, buf: bytearray, pos: int) -> int:
        n = self._arg(buf, pos, "ESC t")
        encoding = TABLE_ENCODINGS.get(n)
        self._emit(CodePageSelect(n, encoding))
        if self._style.chinese:  # the table applies again once Chinese mode ends
            self._restyle(code_page=n)
        else:
            self._restyle(code_page=n, encoding=encoding or "cp437")
        return pos + 3

    def _esc_feed_lines(self, buf: bytearray, pos: int) -> int:
        self._emit(PrintAndFeed(lines=self._arg(buf, pos, "ESC d")))
        return pos + 3

    def _esc_feed_dots(self, buf: bytearray, pos: int) -> int:
        self._emit(PrintAndFeed(dots=self._arg(buf, pos, "ESC J")))
        return pos + 3

    def _esc_default_spacing(self, buf: bytearray, pos: int) -> int:
        self._emit(LineSpacing(None))
        return pos + 2

    def _esc_spacing(self, buf: bytearray, pos: int) -> int:
        self._emit(LineSpacing(self._arg(buf, pos, "ESC 3")))
        return pos + 3

    def _esc_full_cut(self, buf: bytearray, pos: int) -> int:
        self._emit(Cut(partial=False, command=CutCommand.ESC_I))
        return pos + 2

    def _esc_partial_cut(self, buf: bytearray, pos: int) -> int:
        self._emit(Cut(partial=True, command=CutCommand.ESC_M))
        return pos + 2

    def _esc_bit_image(self, buf: bytearray, pos: int) -> int:
        self._need(buf, pos, 5, "ESC * (bit image)")
        mode = buf[pos + 2]
        columns = buf[pos + 3] | buf[pos + 4] << 8
        if mode not in (0, 1, 32, 33):
            return self._other(buf, pos, 5, "ESC *")
        tall = mode >= 32
        stripe = 3 if tall else 1  # bytes per column
        length = 5 + columns * stripe
        self._need(buf, pos, length, "ESC * (bit image)")
        data = bytes(buf[pos + 5 : pos + length])
        height = 8 * stripe
        row_bytes = (columns + 7) // 8
        pixels = bytearray(row_bytes * height)
        for x in range(columns):
            mask = 0x80 >> (x % 8)
            for k in range(stripe):
                column_byte = data[x * stripe + k]
                if not column_byte:
                    continue
                for bit in range(8):
                    if column_byte & (0x80 >> bit):
                        pixels[(k * 8 + bit) * row_bytes + x // 8] |= mask
        self._emit(
            RasterImage(
                width=columns,
                height=height,
                pixels=bytes(pixels),
                scale_x=2 if mode in (0, 32) else 1,
                scale_y=1 if tall else 3,
                mode=mode,
                command="ESC *",
                align=self._style.align,
            )
        )
        return pos + length

    def _esc_paper_status(self, buf: bytearray, pos: int) -> int:
        self._emit(StatusRequest(StatusKind.PAPER_LEGACY, 0))
        return pos + 2

    def _esc_tabs(self, buf: bytearray, pos: int) -> int:
        # ESC D n1 .. nk NUL: at most 32 tab positions.
        end = buf.find(0, pos + 2, pos + 2 + 33)
        if end < 0:
            if len(buf) - pos - 2 >= 33:
                raise FramingError(
                    f"ESC D at byte {self._offset + pos} has no NUL within 32 tab positions"
                )
            raise _NeedMore("ESC D (tab positions)", pos, 1, "its NUL terminator")
        return self._other(buf, pos, end + 1 - pos, "ESC D")

    def _esc_user_chars(self, buf: bytearray, pos: int) -> int:
        # ESC & y c1 c2 [x d1..d(y*x)] for each character c1..c2.
        self._need(buf, pos, 5, "ESC &")
        rows = buf[pos + 2]
        first, last = buf[pos + 3], buf[pos + 4]
        cursor = pos + 5
        for _ in range(max(0, last - first + 1)):
            self._need(buf, pos, cursor + 1 - pos, "ESC &")
            cursor += 1 + rows * buf[cursor]
            self._need(buf, pos, cursor - pos, "ESC &")
        return self._other(buf, pos, cursor - pos, "ESC &")

    def _esc_paren(self, buf: bytearray, pos: int) -> int:
        return self._paren(buf, pos, "ESC (")

    # ------------------------------------------------------------------ GS

    def _gs_size(self, buf: bytearray, pos: int) -> int:
        n = self._arg(buf, pos, "GS !")
        self._restyle(width=((n >> 4) & 7) + 1, height=(n & 7) + 1)
        return pos + 3

    def _gs_invert(self, buf: bytearray, pos: int) -> int:
        self._restyle(invert=bool(self._arg(buf, pos, "GS B") & 1))
        return pos + 3

    def _gs_cut(self, buf: bytearray, pos: int) -> int:
        m = self._arg(buf, pos, "GS V")
        if m in (0, 48, 1, 49):
            self._emit(Cut(partial=m in (1, 49)))
            return pos + 3
        if m in (65, 66, 97, 98, 103, 104):
            self._need(buf, pos, 4, "GS V")
            self._emit(Cut(partial=m in (66, 98, 104), feed=buf[pos + 3]))
            return pos + 4
        self._emit(Unknown(bytes(buf[pos : pos + 3])))
        return pos + 3

    def _gs_barcode_height(self, buf: bytearray, pos: int) -> int:
        self._bar_height = self._arg(buf, pos, "GS h")
        return pos + 3

    def _gs_barcode_width(self, buf: bytearray, pos: int) -> int:
        self._bar_width = self._arg(buf, pos, "GS w")
        return pos + 3

    def _gs_hri(self, buf: bytearray, pos: int) -> int:
        hri = _HRI.get(self._arg(buf, pos, "GS H"))
        if hri is not None:
            self._bar_hri = hri
        return pos + 3

    def _gs_hri_font(self, buf: bytearray, pos: int) -> int:
        n = self._arg(buf, pos, "GS f")
        self._bar_font = n - 48 if n >= 48 else n
        return pos + 3

    def _gs_barcode(self, buf: bytearray, pos: int) -> int:
        m = self._arg(buf, pos, "GS k")
        if m <= 6:
            end = buf.find(0, pos + 3, pos + 3 + MAX_NUL_BARCODE + 1)
            if end < 0:
                if len(buf) - pos - 3 > MAX_NUL_BARCODE:
                    raise FramingError(
                        f"GS k (m={m}) at byte {self._offset + pos}: no NUL terminator "
                        f"within {MAX_NUL_BARCODE} data bytes"
                    )
                raise _NeedMore(f"GS k (m={m})", pos, 1, "its NUL terminator")
            data = bytes(buf[pos + 3 : end])
            length = end + 1 - pos
        elif 65 <= m <= 79:
            self._need(buf, pos, 4, f"GS k (m={m})")
            count = buf[pos + 3]
            length = 4 + count
            self._need(buf, pos, length, f"GS k (m={m})")
            data = bytes(buf[pos + 4 : pos + length])
        else:
            self._emit(Unknown(bytes(buf[pos : pos + 3])))
            return pos + 3
        self._emit(
            Barcode(
                symbology=BARCODE_NAMES[m],
                data=data,
                m=m,
                height=self._bar_height,
                module_width=self._bar_width,
                hri=self._bar_hri,
                hri_font=self._bar_font,
                align=self._style.align,
            )
        )
        return pos + length

    def _gs_raster(self, buf: bytearray, pos: int) -> int:
        self._need(buf, pos, 3, "GS v")
        if buf[pos + 2] != 0x30:
            self._emit(Unknown(bytes(buf[pos : pos + 3])))
            return pos + 3
        self._need(buf, pos, 8, "GS v 0 (raster image)")
        mode = buf[pos + 3]
        row_bytes = buf[pos + 4] | buf[pos + 5] << 8
        rows = buf[pos + 6] | buf[pos + 7] << 8
        length = 8 + row_bytes * rows
        self._need(buf, pos, length, "GS v 0 (raster image)")
        scale = mode & 0x03 if mode in (0, 1, 2, 3, 48, 49, 50, 51) else 0
        self._emit(
            RasterImage(
                width=row_bytes * 8,
                height=rows,
                pixels=bytes(buf[pos + 8 : pos + length]),
                scale_x=2 if scale & 1 else 1,
                scale_y=2 if scale & 2 else 1,
                mode=mode,
                align=self._style.align,
            )
        )
        return pos + length

    def _gs_paren(self, buf: bytearray, pos: int) -> int:
        self._need(buf, pos, 5, "GS (")
        kind = buf[pos + 2]
        length = 5 + (buf[pos + 3] | buf[pos + 4] << 8)
        if kind == 0x6B:
            self._need(buf, pos, length, "GS ( k")
            return self._qr(buf, pos, length)
        if kind == 0x48:
            self._need(buf, pos, length, "GS ( H")
            if length == 11 and buf[pos + 5] == 0x30 and buf[pos + 6] == 0x30:
                self._emit(ProcessIdRequest(bytes(buf[pos + 7 : pos + 11])))
                return pos + length
        return self._paren(buf, pos, "GS (")

    def _qr(self, buf: bytearray, pos: int, length: int) -> int:
        body = buf[pos + 5 : pos + length]
        if len(body) < 2 or body[0] != 0x31:  # cn 49: QR; others (PDF417, MaxiCode...)
            return self._other(buf, pos, length, "GS ( k")
        fn = body[1]
        if fn == 0x41 and len(body) >= 3 and body[2] in _QR_MODELS:
            self._qr_model = _QR_MODELS[body[2]]
        elif fn == 0x43 and len(body) >= 3:
            self._qr_size = body[2]
        elif fn == 0x45 and len(body) >= 3 and body[2] in _ECC:
            self._qr_ecc = _ECC[body[2]]
        elif fn == 0x50 and len(body) >= 3:
            self._qr_data = bytes(body[3:])
        elif fn == 0x51:
            self._emit(
                QrCode(
                    data=self._qr_data,
                    model=self._qr_model,
                    module_size=self._qr_size,
                    error_correction=self._qr_ecc,
                    align=self._style.align,
                )
            )
        else:
            return self._other(buf, pos, length, "GS ( k")
        return pos + length

    def _paren(self, buf: bytearray, pos: int, prefix: str) -> int:
        self._need(buf, pos, 5, prefix)
        name = f"{prefix} {chr(buf[pos + 2]) if 0x20 < buf[pos + 2] < 0x7F else '?'}"
        return self._other(buf, pos, 5 + (buf[pos + 3] | buf[pos + 4] << 8), name)

    def _gs_status(self, buf: bytearray, pos: int) -> int:
        self._emit(StatusRequest(StatusKind.TRANSMIT, self._arg(buf, pos, "GS r")))
        return pos + 3

    def _gs_printer_id(self, buf: bytearray, pos: int) -> int:
        self._emit(StatusRequest(StatusKind.PRINTER_ID, self._arg(buf, pos, "GS I")))
        return pos + 3

    def _gs_presenter(self, buf: bytearray, pos: int) -> int:
        n = self._arg(buf, pos, "GS e (presenter)")
        if n == 3:  # present: one byte, the length to hold out [S kiosk drivers; U]
            self._need(buf, pos, 4, "GS e (presenter)")
            self._emit(Presenter(n, bytes(buf[pos + 3 : pos + 4])))
            return pos + 4
        self._emit(Presenter(n))
        return pos + 3

    def _gs_eight(self, buf: bytearray, pos: int) -> int:
        # GS 8 L p1 p2 p3 p4 ...: a GS ( L with a 32-bit length.
        self._need(buf, pos, 7, "GS 8")
        if buf[pos + 2] != 0x4C:
            self._emit(Unknown(bytes(buf[pos : pos + 2])))
            return pos + 2
        size = int.from_bytes(buf[pos + 3 : pos + 7], "little")
        return self._other(buf, pos, 7 + size, "GS 8 L")

    def _gs_define_image(self, buf: bytearray, pos: int) -> int:
        # GS * x y d1..d(x*y*8): define a downloaded bit image.
        self._need(buf, pos, 4, "GS *")
        return self._other(buf, pos, 4 + buf[pos + 2] * buf[pos + 3] * 8, "GS *")

    # ------------------------------------------------------------------ FS, DLE

    def _fs_chinese_on(self, buf: bytearray, pos: int) -> int:
        self._emit(ChineseMode(True))
        self._restyle(chinese=True, encoding="gb18030")
        return pos + 2

    def _fs_chinese_off(self, buf: bytearray, pos: int) -> int:
        self._emit(ChineseMode(False))
        self._restyle(chinese=False, encoding=TABLE_ENCODINGS.get(self._style.code_page, "cp437"))
        return pos + 2

    def _fs_paren(self, buf: bytearray, pos: int) -> int:
        return self._paren(buf, pos, "FS (")

    def _fs_user_kanji(self, buf: bytearray, pos: int) -> int:
        return self._other(buf, pos, 4 + 72, "FS 2")

    def _dle(self, buf: bytearray, pos: int, command: int) -> int:
        if command == 0x04:  # DLE EOT n (n 7, 8 take one more byte)
            n = self._arg(buf, pos, "DLE EOT")
            if n in (7, 8):
                return self._other(buf, pos, 4, "DLE EOT")
            self._emit(StatusRequest(StatusKind.REAL_TIME, n))
            return pos + 3
        if command == 0x05:
            self._emit(StatusRequest(StatusKind.REAL_TIME_REQUEST, self._arg(buf, pos, "DLE ENQ")))
            return pos + 3
        if command == 0x14:  # DLE DC4 fn ...
            fn = self._arg(buf, pos, "DLE DC4")
            length = {1: 5, 2: 5, 3: 5, 7: 4, 8: 10}.get(fn)
            if length is None:
                self._emit(Unknown(bytes(buf[pos : pos + 3])))
                return pos + 3
            return self._other(buf, pos, length, "DLE DC4")
        self._emit(Unknown(bytes(buf[pos : pos + 2])))
        return pos + 2


_PREFIX_NAMES = {0x1B: "ESC", 0x1D: "GS", 0x1C: "FS", 0x10: "DLE"}


def _command_name(prefix: int, command: int) -> str:
    shown = chr(command) if 0x20 < command < 0x7F else f"{command:02X}h"
    if command == 0x20:
        shown = "SP"
    elif command == 0x0C:
        shown = "FF"
    return f"{_PREFIX_NAMES[prefix]} {shown}"
