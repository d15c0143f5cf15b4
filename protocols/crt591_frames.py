"""Creator CRT-591-M card issuer: the link layer, frames and control bytes.

The frame codec and the stream decoder; the text inside a frame (commands, positive and
negative replies) is ``protocols.crt591``'s, which also re-exports every name here.

Link: RS-232, 9600/19200/38400/57600 bps (the reader detects the rate from the first
Initialize), 8N1. Up to 16 readers share one line, each at an address 00-0F (a DIP
switch). Outside frames the two sides exchange single control bytes: ACK (06), NAK (15)
for a bad BCC, EOT (04) to clear the line.

Frame (both directions)::

    F2 | ADDR | LEN_H LEN_L | TEXT | 03 | BCC

LEN (big-endian) counts TEXT; BCC is the XOR of STX through ETX inclusive. TEXT is at
least 3 bytes (a command's ``'C' CM PM``) and, here, at most ``MAX_TEXT`` (512): the
reference gives no limit [assumption]; an ATR, a short C-APDU or R-APDU fits with room
to spare. A LEN outside 3..512 cannot be a frame and the stream decoder skips it as
noise. Framing always uses LEN: ATRs and R-APDUs contain F2 and 03 bytes.

Hot path: ``parse_frame``, ``build_frame`` and the stream decoder use ``struct``, slices
and ``bcc_xor``. ``FRAME`` is the same layout in construct, compiled: the declarative
definition, checked against the fast path by the property tests.

Source of facts: reference/protocols.md §2.2 (Creator CRT-591 communication protocol,
2013, and a public C# driver) and §7 vectors #19.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from construct import Bytes, Const, Int8ub, Int16ub, Rebuild, Struct, len_, this

from protocols.checksums import bcc_xor
from protocols.creator_frames import BadFrame, BadFrameReason, LengthFramedDecoder, hide
from protocols.errors import ChecksumError, FramingError

__all__ = [
    "ETX",
    "FRAME",
    "MAX_ADDRESS",
    "MAX_FRAME",
    "MAX_TEXT",
    "MIN_TEXT",
    "STX",
    "BadFrame",
    "BadFrameReason",
    "Control",
    "Crt591StreamDecoder",
    "Frame",
    "Item",
    "build_frame",
    "hide",
    "parse_frame",
]

STX, ETX = 0xF2, 0x03
MIN_TEXT = 3  # 'C' CM PM
MAX_TEXT = 512  # [assumption]: the reference states no limit
MAX_FRAME = MAX_TEXT + 6  # STX, ADDR, LEN_H, LEN_L, ..., ETX, BCC
MAX_ADDRESS = 0x0F
_HEADER = struct.Struct(">BBH")


class Control(IntEnum):
    """Single-byte control characters exchanged outside frames."""

    EOT = 0x04
    ACK = 0x06
    NAK = 0x15


_CONTROLS = {c.value: c for c in Control}

FRAME = Struct(
    "stx" / Const(STX, Int8ub),
    "address" / Int8ub,
    "length" / Rebuild(Int16ub, len_(this.text)),
    "text" / Bytes(this.length),
    "etx" / Const(ETX, Int8ub),
    "bcc" / Int8ub,
).compile()
"""The frame layout in construct (compiled); the BCC is not checked by it."""


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One frame with a good BCC. ``text`` may hold card data: ``repr`` hides it.

    Attributes:
        address: the reader's bus address (00-0F; any byte is accepted on the wire).
        text: the bytes between LEN and ETX.
    """

    address: int
    text: bytes

    @property
    def wire_size(self) -> int:
        """The frame's size on the wire: 6 + len(text)."""
        return 6 + len(self.text)

    def to_bytes(self) -> bytes:
        """The encoded frame."""
        return build_frame(self.text, self.address)

    def __repr__(self) -> str:
        head = f"{self.text[0]:02X}" if self.text else "--"
        return f"Frame(address={self.address}, head=0x{head}, text={hide(self.text)})"


Item = Control | Frame | BadFrame
"""What ``Crt591StreamDecoder.feed`` yields."""


def build_frame(text: bytes, address: int = 0) -> bytes:
    """Encode a frame around ``text``.

    Raises:
        ValueError: an address that is no byte, or a text outside 3..``MAX_TEXT`` bytes.
    """
    if not 0 <= address <= 0xFF:
        raise ValueError(f"the address is a byte, got {address!r}")
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        raise ValueError(f"TEXT is {len(text)} bytes, expected {MIN_TEXT}..{MAX_TEXT}")
    body = _HEADER.pack(STX, address, len(text)) + text + b"\x03"
    return body + bytes((bcc_xor(body),))


def parse_frame(raw: bytes | bytearray) -> Frame:
    """Parse exactly one frame.

    Raises:
        FramingError: wrong size, LEN, STX or ETX.
        ChecksumError: the BCC does not match.
    """
    size = len(raw)
    if size < MIN_TEXT + 6:
        raise FramingError(f"frame is {size} bytes, expected at least {MIN_TEXT + 6}")
    stx, address, length = _HEADER.unpack_from(raw)
    if stx != STX:
        raise FramingError(f"frame starts with 0x{stx:02X}, expected STX 0xF2")
    if not MIN_TEXT <= length <= MAX_TEXT:
        raise FramingError(f"LEN is {length}, expected {MIN_TEXT}..{MAX_TEXT}")
    if size != length + 6:
        raise FramingError(f"LEN {length} needs a {length + 6}-byte frame, got {size} bytes")
    if raw[-2] != ETX:
        raise FramingError(f"byte {size - 2} is 0x{raw[-2]:02X}, expected ETX 0x03")
    expected = bcc_xor(raw[:-1])
    if raw[-1] != expected:
        raise ChecksumError(f"BCC is 0x{raw[-1]:02X}, expected 0x{expected:02X}")
    return Frame(address, bytes(raw[4:-2]))


def _frame_of(raw: bytes) -> Frame:
    return Frame(raw[1], raw[4:-2])


class Crt591StreamDecoder(LengthFramedDecoder[Frame, Control]):
    """Turn a byte stream into control bytes, frames and bad frames; never raises.

    The core, shared with the CRT-310, is `protocols.creator_frames.LengthFramedDecoder`
    (every byte accounted for, noise skipped, resynchronisation at the next STX).
    """

    def __init__(self) -> None:
        super().__init__(
            stx=STX,
            len_at=2,
            overhead=6,
            min_len=MIN_TEXT,
            max_len=MAX_TEXT,
            controls=_CONTROLS,
            make=_frame_of,
        )
