"""Creator CRT-310 (protocol V3.0) card reader: the link layer, frames and control bytes.

The frame codec and the stream decoder of the CRT-310 family; commands live in
``protocols.crt310_commands``, replies in ``protocols.crt310_replies``, and
``protocols.crt310`` gathers the public names of all three.

Link: RS-232, 9600 bps by default, 8N1, half duplex. Outside frames the two sides
exchange single control bytes: ACK (06), NAK (15) for a bad BCC, ENQ (05), EOT (04).

Frame (both directions)::

    02 | LEN_H LEN_L | CM | PM | DATA | 03 | BCC

LEN (big-endian) counts CM + PM + DATA; BCC is the XOR of STX through ETX inclusive.
DATA is at most 264 bytes (the spec's limit: 2 length bytes + a 262-byte C-APDU), so a
frame is at most 271 bytes; a LEN above 266 cannot be a frame and the stream decoder
skips it as noise. Framing always uses LEN: reply data (ATRs, R-APDUs) contains 02 and
03 bytes.

Hot path: ``parse_frame``, ``build_frame`` and the stream decoder use ``struct``, slices
and ``bcc_xor``. ``FRAME`` is the same layout in construct, compiled: the declarative
definition, checked against the fast path by the tests. Compiled construct measured
several times slower than ``struct`` (bench/bench_codecs.py prints both every run).

Source of facts: reference/protocols.md §2.1 (Creator CRT-310 communication protocol
V3.0, 2007) and §7 vectors #16-#18.
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
    "ERROR_CM",
    "ETX",
    "FRAME",
    "MAX_DATA",
    "MAX_FRAME",
    "MAX_LEN",
    "STX",
    "BadFrame",
    "BadFrameReason",
    "Control",
    "Crt310StreamDecoder",
    "Frame",
    "Item",
    "build_frame",
    "parse_frame",
]

STX, ETX = 0x02, 0x03
ERROR_CM = 0x4E  # 'N': the CM of an error reply
MAX_DATA = 264  # DATA bytes in one frame (spec limit)
MAX_LEN = MAX_DATA + 2  # largest LEN (CM + PM + DATA)
MAX_FRAME = MAX_LEN + 5  # 271: STX, LEN_H, LEN_L, ..., ETX, BCC
_HEADER = struct.Struct(">BHBB")


class Control(IntEnum):
    """Single-byte control characters exchanged outside frames."""

    EOT = 0x04
    ENQ = 0x05
    ACK = 0x06
    NAK = 0x15


_CONTROLS = {c.value: c for c in Control}

FRAME = Struct(
    "stx" / Const(STX, Int8ub),
    "length" / Rebuild(Int16ub, len_(this.data) + 2),
    "cm" / Int8ub,
    "pm" / Int8ub,
    "data" / Bytes(this.length - 2),
    "etx" / Const(ETX, Int8ub),
    "bcc" / Int8ub,
).compile()
"""The frame layout in construct (compiled); the BCC is not checked by it."""


# Frame data can hold track data, PINs in C-APDUs or PANs in R-APDUs: show the size.
_hide = hide


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One frame with a good BCC. ``data`` may hold track data: ``repr`` hides it.

    Attributes:
        cm: command byte (``4E`` in an error reply).
        pm: parameter byte (the failing CM in an error reply).
        data: the bytes after PM.
    """

    cm: int
    pm: int
    data: bytes

    @property
    def wire_size(self) -> int:
        """The frame's size on the wire: 7 + len(data)."""
        return 7 + len(self.data)

    def to_bytes(self) -> bytes:
        """The encoded frame."""
        return build_frame(self.cm, self.pm, self.data)

    def __repr__(self) -> str:
        return f"Frame(cm=0x{self.cm:02X}, pm=0x{self.pm:02X}, data={_hide(self.data)})"


Item = Control | Frame | BadFrame
"""What ``Crt310StreamDecoder.feed`` yields."""


def build_frame(cm: int, pm: int, data: bytes = b"") -> bytes:
    """Encode a frame (command or reply).

    Raises:
        ValueError: a byte out of range or more than ``MAX_DATA`` data bytes.
    """
    if not (0 <= cm <= 0xFF and 0 <= pm <= 0xFF):
        raise ValueError(f"CM and PM must be bytes, got {cm!r}, {pm!r}")
    if len(data) > MAX_DATA:
        raise ValueError(f"DATA is {len(data)} bytes, at most {MAX_DATA} fit a frame")
    body = _HEADER.pack(STX, len(data) + 2, cm, pm) + data + b"\x03"
    return body + bytes((bcc_xor(body),))


def parse_frame(raw: bytes | bytearray) -> Frame:
    """Parse exactly one frame.

    Raises:
        FramingError: wrong size, LEN, STX or ETX.
        ChecksumError: the BCC does not match.
    """
    size = len(raw)
    if size < 7:
        raise FramingError(f"frame is {size} bytes, expected at least 7")
    stx, length, cm, pm = _HEADER.unpack_from(raw)
    if stx != STX:
        raise FramingError(f"frame starts with 0x{stx:02X}, expected STX 0x02")
    if not 2 <= length <= MAX_LEN:
        raise FramingError(f"LEN is {length}, expected 2..{MAX_LEN}")
    if size != length + 5:
        raise FramingError(f"LEN {length} needs a {length + 5}-byte frame, got {size} bytes")
    if raw[-2] != ETX:
        raise FramingError(f"byte {size - 2} is 0x{raw[-2]:02X}, expected ETX 0x03")
    expected = bcc_xor(raw[:-1])
    if raw[-1] != expected:
        raise ChecksumError(f"BCC is 0x{raw[-1]:02X}, expected 0x{expected:02X}")
    return Frame(cm, pm, bytes(raw[5:-2]))


def _frame_of(raw: bytes) -> Frame:
    return Frame(raw[3], raw[4], raw[5:-2])


class Crt310StreamDecoder(LengthFramedDecoder[Frame, Control]):
    """Turn a byte stream into control bytes, frames and bad frames; never raises.

    Every byte fed is accounted for: it ends up in an item (``wire_size``) or in
    ``pending`` (an incomplete frame kept for the next ``feed``). The buffer never holds
    more than one frame's worth. An STX whose LEN is out of range or whose ETX is not
    where LEN puts it is noise, and decoding resumes at the next byte. Caveat: a frame
    whose BCC fails is consumed whole, so a corrupted header whose LEN happens to end
    on an 03 byte swallows what follows it; the NAK/retry exchange recovers from that.
    The core is `protocols.creator_frames.LengthFramedDecoder`.
    """

    def __init__(self) -> None:
        super().__init__(
            stx=STX,
            len_at=1,
            overhead=5,
            min_len=2,
            max_len=MAX_LEN,
            controls=_CONTROLS,
            make=_frame_of,
        )

    @property
    def pending_frame_size(self) -> int | None:
        """The size the pending frame will have, once its LEN has arrived."""
        if len(self._buf) < 3:
            return None
        return ((self._buf[1] << 8) | self._buf[2]) + 5
