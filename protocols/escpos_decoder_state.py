"""The state of the ESC/POS decoder (`protocols.escpos_decoder`).

`DecoderState` holds what `EscPosDecoder` is built on: the bytes held back, the text
run being gathered and its decoding (the code page, GB18030 in Chinese mode), the style
state (one shared `TextStyle` per distinct style), the barcode and QR settings, and the
primitives the command handlers use (`_need` for an incomplete command, `_emit`,
`_restyle`, `_other`, `_arg`).
"""

from __future__ import annotations

import codecs
from dataclasses import astuple

from protocols.escpos_ops import (
    DEFAULT_STYLE,
    HriPosition,
    Operation,
    OtherCommand,
    QrErrorCorrection,
    Text,
    TextStyle,
)

__all__ = ["PREFIX_NAMES", "DecoderState", "NeedMore", "command_name"]

_FIELD_INDEX = {name: index for index, name in enumerate(TextStyle.__slots__)}
_DEFAULT_STATE = astuple(DEFAULT_STYLE)
#: Every distinct style decoded so far (shared by decoders; bounded).
_STYLES: dict[tuple[object, ...], TextStyle] = {_DEFAULT_STATE: DEFAULT_STYLE}
_MAX_STYLES = 4096


class NeedMore(Exception):
    """Internal: the command at ``start`` needs ``missing`` more bytes."""

    def __init__(self, name: str, start: int, missing: int, detail: str = "") -> None:
        super().__init__(name)
        self.name = name
        self.start = start
        self.missing = missing
        self.detail = detail


PREFIX_NAMES = {0x1B: "ESC", 0x1D: "GS", 0x1C: "FS", 0x10: "DLE"}


def command_name(prefix: int, command: int) -> str:
    shown = chr(command) if 0x20 < command < 0x7F else f"{command:02X}h"
    if command == 0x20:
        shown = "SP"
    elif command == 0x0C:
        shown = "FF"
    return f"{PREFIX_NAMES[prefix]} {shown}"


class DecoderState:
    """The decoder's buffer, its text run and the printer's state it tracks, and the
    primitives the command handlers build on."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]
        self._out: list[Operation] = []
        self._run: list[str] = []
        self._run_style: TextStyle = DEFAULT_STYLE
        self._gb: codecs.IncrementalDecoder | None = None
        self._reset()

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

    @staticmethod
    def _need(buf: bytearray, start: int, count: int, name: str) -> None:
        missing = start + count - len(buf)
        if missing > 0:
            raise NeedMore(name, start, missing)

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

    def _other(self, buf: bytearray, pos: int, length: int, name: str | None = None) -> int:
        label = name or command_name(buf[pos], buf[pos + 1])
        self._need(buf, pos, length, label)
        self._emit(OtherCommand(label, bytes(buf[pos : pos + length])))
        return pos + length

    def _arg(self, buf: bytearray, pos: int, name: str) -> int:
        """The one parameter byte of a 3-byte command."""
        self._need(buf, pos, 3, name)
        return buf[pos + 2]
