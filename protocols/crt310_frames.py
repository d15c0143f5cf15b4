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
from enum import Enum, IntEnum

from construct import Bytes, Const, Int8ub, Int16ub, Rebuild, Struct, len_, this

from protocols.checksums import bcc_xor
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


def _hide(data: bytes) -> str:
    # Frame data can hold track data, PINs in C-APDUs or PANs in R-APDUs: show the size.
    return f"<{len(data)} bytes>"


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


class BadFrameReason(Enum):
    """Why the stream decoder reported bytes as a ``BadFrame``."""

    BCC = "bcc"
    """A well-delimited frame whose BCC does not match: ask for it again (NAK)."""
    NOISE = "noise"
    """Bytes outside any frame: line noise, a bad length, a missing ETX."""


@dataclass(frozen=True, slots=True, repr=False)
class BadFrame:
    """Bytes the stream decoder could not accept, reported so none vanish silently.

    Attributes:
        reason: BCC mismatch, or noise between frames.
        raw: the bytes concerned (the whole frame for a BCC mismatch).
    """

    reason: BadFrameReason
    raw: bytes

    @property
    def wire_size(self) -> int:
        """How many stream bytes this item accounts for."""
        return len(self.raw)

    @property
    def detail(self) -> str:
        """A one-line description (no payload bytes in it)."""
        if self.reason is BadFrameReason.BCC:
            expected = bcc_xor(self.raw[:-1])
            return f"BCC is 0x{self.raw[-1]:02X}, expected 0x{expected:02X}"
        return f"{len(self.raw)} bytes outside any frame (first 0x{self.raw[0]:02X})"

    def __repr__(self) -> str:
        return f"BadFrame({self.reason.value}, {_hide(self.raw)})"


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


class Crt310StreamDecoder:
    """Turn a byte stream into control bytes, frames and bad frames; never raises.

    Every byte fed is accounted for: it ends up in an item (``wire_size``) or in
    ``pending`` (an incomplete frame kept for the next ``feed``). The buffer never holds
    more than one frame's worth. An STX whose LEN is out of range or whose ETX is not
    where LEN puts it is noise, and decoding resumes at the next byte. Caveat: a frame
    whose BCC fails is consumed whole, so a corrupted header whose LEN happens to end
    on an 03 byte swallows what follows it; the NAK/retry exchange recovers from that.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete frame."""
        return len(self._buf)

    @property
    def pending_frame_size(self) -> int | None:
        """The size the pending frame will have, once its LEN has arrived."""
        if len(self._buf) < 3:
            return None
        return ((self._buf[1] << 8) | self._buf[2]) + 5

    def reset(self) -> None:
        """Forget any partial frame (after a timeout or a port reopen)."""
        self._buf.clear()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Add bytes; return the items completed by them, in stream order."""
        buf = self._buf
        buf += data
        items: list[Item] = []
        size = len(buf)
        pos = 0
        noise = -1
        while pos < size:
            byte = buf[pos]
            if byte == STX:
                if size - pos < 3:
                    break
                length = (buf[pos + 1] << 8) | buf[pos + 2]
                end = pos + length + 5
                if 2 <= length <= MAX_LEN:
                    if end > size:
                        break
                    if buf[end - 2] == ETX:
                        if noise >= 0:
                            items.append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
                            noise = -1
                        frame = bytes(buf[pos:end])
                        if bcc_xor(frame[:-1]) == frame[-1]:
                            items.append(Frame(frame[3], frame[4], frame[5:-2]))
                        else:
                            items.append(BadFrame(BadFrameReason.BCC, frame))
                        pos = end
                        continue
            elif byte in _CONTROLS:
                if noise >= 0:
                    items.append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
                    noise = -1
                items.append(_CONTROLS[byte])
                pos += 1
                continue
            if noise < 0:
                noise = pos
            pos += 1
        if noise >= 0:
            items.append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
        del buf[:pos]
        return items
