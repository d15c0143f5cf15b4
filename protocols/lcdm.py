"""Puloon LCDM-1000 / 2000 / 4000 cash dispensers: frames, commands and replies.

Link: RS-232, 9600 8N1 [U: one driver's comment]. Outside frames the two sides exchange
single control bytes: ACK (06) and NAK (15). A host command goes out, the dispenser ACKs
it, later sends its reply, and the host ACKs (or NAKs a bad one, up to 3 times).

Frames (every model)::

    command:  EOT(04) | ID | STX(02) | CMD | DATA... | ETX(03) | BCC
    reply:    SOH(01) | ID | STX(02) | CMD | DATA... | ETX(03) | BCC

BCC is the XOR of every byte from EOT/SOH through ETX. ID is 50h on the LCDM-1000 and
2000, 30h on the LCDM-4000. The first byte says the direction, so no guess is needed.
No length field: a frame ends at the first ETX after STX. That works because no DATA
byte is ever 03h: the 1000/2000 send ASCII digits and codes 30h-4Fh, sensor bytes have
bit 7 set, and the 4000 sends values + 20h.

Hot path: ``parse_frame``, ``build_frame`` and the stream decoder use slices and
``bcc_xor``; ``FRAME`` is the same layout in construct.

The model is a parameter where layouts differ (`Model`); a frame's ID tells 4000 from
1000/2000, but 1000 and 2000 share ID 50h and codes 44h-47h, 76h.

Commands are `protocols.lcdm_commands`, replies and error codes
`protocols.lcdm_replies`.

Facts: reference/protocols.md §3.1-3.3 and §7 "Puloon". What the reference does not say
exactly is an assumption, marked [U] here and listed in docs/lcdm.md:

- [U] a frame's CMD + DATA is at most ``MAX_BODY`` (64) bytes; longer is noise.
- [U] only IDs 30h and 50h start a frame; any other byte after EOT/SOH is noise.
- [U] the LCDM-2000's single-cassette dispense replies (45h, 55h) use the LCDM-1000
  dispense-reply layout; its status reply uses the LCDM-1000 layout and sensor names.
- [U] replies whose layout the reference does not give (LCDM-2000 upper+lower dispense
  and test dispenses, every LCDM-4000 reply, the LCDM-1000 test dispense) decode as
  `RawReply`: the command and its DATA, uninterpreted.
- [U] the LCDM-4000 dispense's TO1/TO2 bytes are kept as given (default 20h 20h) and
  the per-cassette quantity is 0..100 (error 2Ch says 100 is "too many").
- [U] LCDM-4000 set commands (5Ah, 5Ch, 5Eh) carry DATA whose layout is not given:
  kept as raw bytes.
- [U] the first status DATA byte (30h, unnamed) is kept as given (any 30h-7Fh).
- [U] LCDM-2000 upper+lower counts are 0..60 each, not both 0; reply counts 0..99.
- [U] LCDM-4000 error codes the reference gives as a group (22-24, 40-43, 50-56, 60-63)
  each get a member with the group's meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from construct import Const, GreedyBytes, Int8ub, NullTerminated, OneOf, Struct

from protocols.checksums import bcc_xor
from protocols.creator_frames import BadFrame, BadFrameReason
from protocols.errors import ChecksumError, FramingError

__all__ = [
    "EOT",
    "ETX",
    "FRAME",
    "MAX_BODY",
    "SOH",
    "STX",
    "BadFrame",
    "BadFrameReason",
    "Control",
    "Direction",
    "Frame",
    "Item",
    "LcdmStreamDecoder",
    "Model",
    "build_frame",
    "parse_frame",
]

EOT, SOH, STX, ETX = 0x04, 0x01, 0x02, 0x03
MAX_BODY = 64  # [U] CMD + DATA
ID_1000_2000, ID_4000 = 0x50, 0x30
_IDS = (ID_1000_2000, ID_4000)


class Control(IntEnum):
    """Single-byte control characters exchanged outside frames."""

    ACK = 0x06
    NAK = 0x15


class Direction(Enum):
    """Which way a frame went, from its first byte."""

    COMMAND = EOT
    REPLY = SOH


class Model(Enum):
    """The dispenser model: it decides the ID, the command codes and the layouts."""

    LCDM1000 = 1000
    LCDM2000 = 2000
    LCDM4000 = 4000

    @property
    def frame_id(self) -> int:
        """The ID byte of this model's frames."""
        return ID_4000 if self is Model.LCDM4000 else ID_1000_2000

    @property
    def cassettes(self) -> int:
        """How many cassettes the model has."""
        return {Model.LCDM1000: 1, Model.LCDM2000: 2, Model.LCDM4000: 4}[self]


# ----------------------------------------------------------------------------- frames

FRAME = Struct(
    "start" / OneOf(Int8ub, [EOT, SOH]),
    "frame_id" / Int8ub,
    "stx" / Const(STX, Int8ub),
    "cmd" / Int8ub,
    "data" / NullTerminated(GreedyBytes, term=bytes((ETX,))),
    "bcc" / Int8ub,
).compile()
"""The frame layout in construct (compiled): the declarative definition, checked against
the fast path (`build_frame`, `parse_frame`) by the property tests. It does not check
the BCC, the ID or the size limit."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame with a good BCC (cash frames carry no secrets: ``repr`` shows all).

    Attributes:
        direction: command (EOT) or reply (SOH).
        frame_id: the ID byte (50h: LCDM-1000/2000, 30h: LCDM-4000).
        cmd: the command code.
        data: the bytes between CMD and ETX.
    """

    direction: Direction
    frame_id: int
    cmd: int
    data: bytes = b""

    @property
    def wire_size(self) -> int:
        """The frame's size on the wire: 6 + len(data)."""
        return 6 + len(self.data)

    def to_bytes(self) -> bytes:
        """The encoded frame."""
        return build_frame(self.direction, self.frame_id, self.cmd, self.data)


Item = Control | Frame | BadFrame
"""What ``LcdmStreamDecoder.feed`` yields."""


def build_frame(direction: Direction, frame_id: int, cmd: int, data: bytes = b"") -> bytes:
    """Encode a frame.

    Raises:
        ValueError: an ID or CMD that is no byte, a body over ``MAX_BODY`` or an ETX
            inside the body (it would end the frame early).
    """
    if not (0 <= frame_id <= 0xFF and 0 <= cmd <= 0xFF):
        raise ValueError(f"ID and CMD are bytes, got {frame_id!r}, {cmd!r}")
    body = bytes((cmd,)) + data
    if len(body) > MAX_BODY:
        raise ValueError(f"CMD + DATA is {len(body)} bytes, at most {MAX_BODY}")
    if ETX in body:
        raise ValueError("CMD and DATA may not contain ETX (03h)")
    raw = bytes((direction.value, frame_id, STX)) + body + bytes((ETX,))
    return raw + bytes((bcc_xor(raw),))


def parse_frame(raw: bytes | bytearray) -> Frame:
    """Parse exactly one frame.

    Raises:
        FramingError: wrong size, start byte, ID, STX or ETX.
        ChecksumError: the BCC does not match.
    """
    size = len(raw)
    if size < 6:
        raise FramingError(f"frame is {size} bytes, expected at least 6")
    if size > MAX_BODY + 5:
        raise FramingError(f"frame is {size} bytes, expected at most {MAX_BODY + 5}")
    if raw[0] not in (EOT, SOH):
        raise FramingError(f"frame starts with 0x{raw[0]:02X}, expected EOT 0x04 or SOH 0x01")
    if raw[1] not in _IDS:
        raise FramingError(f"ID is 0x{raw[1]:02X}, expected 0x50 or 0x30")
    if raw[2] != STX:
        raise FramingError(f"byte 2 is 0x{raw[2]:02X}, expected STX 0x02")
    if raw[-2] != ETX:
        raise FramingError(f"byte {size - 2} is 0x{raw[-2]:02X}, expected ETX 0x03")
    if ETX in raw[3:-2]:
        raise FramingError(f"ETX at byte {raw.index(ETX, 3)} ends the frame early")
    expected = bcc_xor(raw[:-1])
    if raw[-1] != expected:
        raise ChecksumError(f"BCC is 0x{raw[-1]:02X}, expected 0x{expected:02X}")
    return Frame(Direction(raw[0]), raw[1], raw[3], bytes(raw[4:-2]))


class LcdmStreamDecoder:
    """Turn a byte stream into control bytes, frames and bad frames; never raises.

    Every input byte is accounted for by exactly one item (``wire_size`` / 1 for a
    control byte). Bytes that cannot start a frame come out as one NOISE ``BadFrame``
    per run; a well-delimited frame with a wrong BCC as a BCC ``BadFrame``. After bad
    bytes the decoder resynchronises at the next EOT/SOH/ACK/NAK.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back: the start of a frame not yet complete."""
        return len(self._buffer)

    def reset(self) -> None:
        """Drop any partial frame."""
        self._buffer.clear()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Add bytes; return every item now complete, in stream order."""
        buf = self._buffer
        buf.extend(data)
        items: list[Item] = []
        noise = bytearray()
        while buf:
            first = buf[0]
            if first in (Control.ACK, Control.NAK):
                self._flush(noise, items)
                items.append(Control(first))
                del buf[0]
                continue
            if first not in (EOT, SOH):
                noise.append(first)
                del buf[0]
                continue
            size = self._frame_size(buf)
            if size == 0:  # incomplete: wait for more bytes
                break
            if size < 0:  # cannot be a frame: the start byte is noise
                noise.append(first)
                del buf[0]
                continue
            raw = bytes(buf[:size])
            del buf[:size]
            self._flush(noise, items)
            if bcc_xor(raw[:-1]) != raw[-1]:
                items.append(BadFrame(BadFrameReason.BCC, raw))
            else:
                items.append(Frame(Direction(raw[0]), raw[1], raw[3], raw[4:-2]))
        self._flush(noise, items)
        return items

    @staticmethod
    def _frame_size(buf: bytearray) -> int:
        """The size of the frame at the start of ``buf``; 0 if incomplete, -1 if none."""
        if len(buf) > 1 and buf[1] not in _IDS:
            return -1
        if len(buf) > 2 and buf[2] != STX:
            return -1
        end = buf.find(ETX, 3, 3 + MAX_BODY + 1)
        if end < 0:
            return -1 if len(buf) >= 3 + MAX_BODY + 1 else 0
        if end == 3:  # no CMD
            return -1
        return end + 2 if len(buf) >= end + 2 else 0

    @staticmethod
    def _flush(noise: bytearray, items: list[Item]) -> None:
        if noise:
            items.append(BadFrame(BadFrameReason.NOISE, bytes(noise)))
            noise.clear()
