"""Decoding the ESC/POS text, style, feed, cut, status and mode commands
(`protocols.escpos_decoder`)."""

from __future__ import annotations

from protocols.errors import FramingError
from protocols.escpos_commands import TABLE_ENCODINGS
from protocols.escpos_decoder_graphics import GraphicsHandlers
from protocols.escpos_decoder_state import NeedMore
from protocols.escpos_ops import (
    Align,
    ChineseMode,
    CodePageSelect,
    Cut,
    CutCommand,
    Font,
    Initialize,
    LineSpacing,
    Presenter,
    PrintAndFeed,
    StatusKind,
    StatusRequest,
    Underline,
    Unknown,
)

__all__ = ["CommandHandlers"]

_ALIGNS = {0: Align.LEFT, 48: Align.LEFT, 1: Align.CENTER, 49: Align.CENTER}
_ALIGNS |= {2: Align.RIGHT, 50: Align.RIGHT}
_UNDERLINES = {0: Underline.NONE, 48: Underline.NONE, 1: Underline.SINGLE, 49: Underline.SINGLE}
_UNDERLINES |= {2: Underline.DOUBLE, 50: Underline.DOUBLE}
_FONTS = {0: Font.A, 48: Font.A, 1: Font.B, 49: Font.B, 2: Font.C, 50: Font.C}


class CommandHandlers(GraphicsHandlers):
    """The handlers of the text, style, feed, cut, status and mode commands (ESC, GS,
    FS, DLE); each takes the buffer and the command's offset and returns the offset
    after it."""

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
            raise NeedMore("ESC D (tab positions)", pos, 1, "its NUL terminator")
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
