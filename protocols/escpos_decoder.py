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

Where the code lives: this module keeps the state machine (`EscPosDecoder`: feed,
finish, the parse loop and the dispatch on the command byte) and `decode`; the state
and its primitives are in `protocols.escpos_decoder_state`, the text/style/feed/cut/
status command handlers in `protocols.escpos_decoder_handlers`, the image, barcode and
QR handlers in `protocols.escpos_decoder_graphics`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from protocols.errors import FramingError
from protocols.escpos_decoder_graphics import MAX_NUL_BARCODE
from protocols.escpos_decoder_handlers import CommandHandlers
from protocols.escpos_decoder_state import PREFIX_NAMES, NeedMore
from protocols.escpos_ops import (
    CarriageReturn,
    LineFeed,
    Operation,
    OtherCommand,
    Tab,
    Unknown,
)

__all__ = ["MAX_NUL_BARCODE", "EscPosDecoder", "decode"]

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
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


class EscPosDecoder(CommandHandlers):
    """A streaming ESC/POS decoder; the printer's state (styles, code page, barcode and
    QR settings, the stored QR data) lives here between chunks."""

    def __init__(self) -> None:
        super().__init__()
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
        except NeedMore as need:
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

    def _control(self, buf: bytearray, pos: int, byte: int) -> int:
        if byte == 0x0A:
            self._emit(LineFeed())
            return pos + 1
        if byte in (0x1B, 0x1D, 0x1C, 0x10):
            self._need(buf, pos, 2, PREFIX_NAMES[byte])
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
