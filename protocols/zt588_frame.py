"""Zhengtong (SZZT) ZT588 EPP: the frame: its layout in construct (`FRAME`), the CHK,
`Frame` and `build_frame` (``protocols.zt588`` describes the link layer; the stream
decoder and `parse_frame` are ``protocols.zt588_decoder``'s).
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import Bytes, Check, Const, ExprAdapter, Rebuild, Struct, len_, this

from protocols.checksums import bcc_xor
from protocols.zt588_pin_commands import check_not_clear_pin

__all__ = [
    "DIGITS",
    "ETX",
    "FRAME",
    "HEX_UPPER",
    "MAX_FRAME",
    "MAX_TEXT",
    "MIN_TEXT",
    "STX",
    "Frame",
    "build_frame",
    "checksum",
]

STX, ETX = 0x02, 0x03
MIN_TEXT = 1
MAX_TEXT = 256  # [U] the reference gives no limit
MAX_FRAME = MAX_TEXT + 7  # STX, LEN x3, TEXT, ETX, CHK x2
DIGITS = b"0123456789"
HEX_UPPER = b"0123456789ABCDEF"

_LEN: ExprAdapter[bytes, bytes, int, int] = ExprAdapter(
    Bytes(3),
    lambda raw, _ctx: int(raw) if raw.isdigit() else -1,
    lambda value, _ctx: b"%03d" % value,
)


def _buildable(text: bytes) -> bool:
    check_not_clear_pin(text)
    return True


FRAME = Struct(
    "stx" / Const(bytes((STX,))),
    "length" / Rebuild(_LEN, len_(this.text)),
    "text" / Bytes(this.length),
    # Building, as everywhere in this codec, refuses a clear-PIN request.
    Check(lambda ctx: ctx._parsing or _buildable(ctx.text)),
    "etx" / Const(bytes((ETX,))),
    "chk" / Bytes(2),
)
"""The frame layout in construct (a LEN that is no digits reads as -1; the CHK is not
checked by it; building a clear-PIN request raises `ClearPinRefused`); ``parse_frame``
and the decoder are the fast path, held equal to it by the property tests."""


def checksum(covered: bytes | bytearray) -> bytes:
    """The CHK of the bytes between STX and CHK (LEN, TEXT, ETX): two upper-case hex."""
    return b"%02X" % bcc_xor(covered)


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One frame with a good CHK. ``text`` may hold a key or a PIN block: ``repr`` hides
    it (the head, a command character or a reply's status, is shown)."""

    text: bytes

    @property
    def wire_size(self) -> int:
        """The frame's size on the wire: 7 + len(text)."""
        return 7 + len(self.text)

    def to_bytes(self) -> bytes:
        """The encoded frame (`build_frame`: a clear-PIN request is refused)."""
        return build_frame(self.text)

    def __repr__(self) -> str:
        head = f"0x{self.text[0]:02X}" if self.text else "--"
        return f"Frame(head={head}, text=<{len(self.text)} bytes>)"


def build_frame(text: bytes) -> bytes:
    """Frame ``text``.

    Raises:
        TypeError: ``text`` is not bytes or a bytearray (a ``str`` is not encoded
            here: encode it as ASCII first).
        ValueError: a TEXT outside 1..``MAX_TEXT`` bytes, or holding an STX (the
            decoder resynchronises on any STX, so a frame can hold none).
        ClearPinRefused: ``text`` is a clear-PIN ('@') request.
    """
    if not isinstance(text, bytes | bytearray):
        hint = " (encode a str as ASCII first)" if isinstance(text, str) else ""
        raise TypeError(f"a frame's TEXT is bytes or a bytearray, got {type(text).__name__}{hint}")
    text = bytes(text)
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        raise ValueError(f"TEXT is {len(text)} bytes, expected {MIN_TEXT}..{MAX_TEXT}")
    stx = text.find(STX)
    if stx >= 0:
        raise ValueError(f"TEXT byte {stx} is STX 0x02: a TEXT is ASCII and holds no STX")
    check_not_clear_pin(text)
    return _frame_bytes(text)


def _frame_bytes(text: bytes) -> bytes:
    covered = b"%03d" % len(text) + text + b"\x03"
    return b"\x02" + covered + checksum(covered)
