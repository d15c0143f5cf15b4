"""JCM ID-003 bill validators: frames, the CRC, and a stream decoder.

Link: RS-232, 9600 bps 8E1 [U: the usual ID-003 setting, not re-read in a primary
source]. The host speaks first, always: it polls with Status Request, sends operation
and setting commands, and the validator answers each frame with one frame (its status,
an ACK frame, or the echo of a setting). Exception: the host's ACK to VEND VALID gets no
answer [U].

Frame (both directions)::

    SYNC(FC) | LNG | CMD | DATA... | CRC-16 (low byte first)

LNG counts the whole frame, SYNC through the CRC (so CMD + DATA + 4). The CRC is
CRC-16/KERMIT (polynomial 1021 reflected, i.e. 8408, initial value 0, no final XOR)
over SYNC..DATA. ``crc16_kermit`` is table-driven and checked in the tests against the
catalogue's check value (0x2189 for ``b"123456789"``) and against the standard
library's ``binascii.crc_hqx`` (CRC-16/XMODEM) with bits reflected.

The same code means different things in the two directions (11h is Status Request from
the host and IDLING from the validator; 40h-45h are Reset .. Wait from the host and the
power-up / stacker / jam statuses from the validator): `protocols.id003_messages`
reads a frame in the direction given.

Hot path: `parse_frame` and `build_frame` use slices and the CRC table; `FRAME` is the
same layout in construct (the decoder and the tests check the two agree).

Facts: reference/protocols.md §3.5 and §7 #26-#27. Assumptions are marked [U] and
listed in docs/id003.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from construct import Bytes, Const, Int8ub, Int16ul, Struct, this

from protocols.errors import ChecksumError, FramingError

__all__ = [
    "FRAME",
    "MAX_FRAME",
    "MIN_FRAME",
    "SYNC",
    "BadFrame",
    "BadFrameReason",
    "Frame",
    "Id003StreamDecoder",
    "build_frame",
    "crc16_kermit",
    "parse_frame",
]

SYNC = 0xFC
#: SYNC, LNG, CMD and the two CRC bytes: the shortest frame.
MIN_FRAME = 5
#: LNG is one byte.
MAX_FRAME = 255


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc16_kermit(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-16/KERMIT of ``data`` (reflected 1021h, init 0, no final XOR).

    Args:
        data: the bytes covered (for ID-003: SYNC through the last DATA byte).
        crc: a running value, to continue over more bytes.

    Returns:
        The CRC, 0..0xFFFF; sent low byte first.
    """
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


#: The frame in construct (``length`` is LNG; ``crc`` is not checked by the layout).
FRAME = Struct(
    "sync" / Const(bytes((SYNC,))),
    "length" / Int8ub,
    "code" / Int8ub,
    "data" / Bytes(this.length - MIN_FRAME),
    "crc" / Int16ul,
)


@dataclass(frozen=True, slots=True)
class Frame:
    """One ID-003 frame: its code (command or status) and DATA."""

    code: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.code <= 0xFF:
            raise ValueError(f"a code is one byte, got {self.code!r}")
        if len(self.data) > MAX_FRAME - MIN_FRAME:
            raise ValueError(f"at most {MAX_FRAME - MIN_FRAME} DATA bytes, got {len(self.data)}")

    def to_bytes(self) -> bytes:
        """The frame on the wire."""
        return build_frame(self.code, self.data)

    def __repr__(self) -> str:
        data = f", data={self.data.hex(' ').upper()}" if self.data else ""
        return f"Frame(code=0x{self.code:02X}{data})"


def build_frame(code: int, data: bytes = b"") -> bytes:
    """``SYNC | LNG | code | data | CRC``.

    Raises:
        ValueError: a code outside 0..255, or more DATA than LNG can count.
    """
    if not 0 <= code <= 0xFF:
        raise ValueError(f"a code is one byte, got {code!r}")
    length = len(data) + MIN_FRAME
    if length > MAX_FRAME:
        raise ValueError(f"at most {MAX_FRAME - MIN_FRAME} DATA bytes, got {len(data)}")
    body = bytes((SYNC, length, code)) + bytes(data)
    crc = crc16_kermit(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def parse_frame(raw: bytes | bytearray | memoryview) -> Frame:
    """One whole frame, checked.

    Raises:
        FramingError: no SYNC, LNG below 5, or a length other than LNG.
        ChecksumError: the CRC does not match.
    """
    raw = bytes(raw)
    if len(raw) < MIN_FRAME:
        raise FramingError(f"an ID-003 frame has at least {MIN_FRAME} bytes, got {len(raw)}")
    if raw[0] != SYNC:
        raise FramingError(f"an ID-003 frame starts with FC, got {raw[0]:02X}")
    length = raw[1]
    if length < MIN_FRAME:
        raise FramingError(f"LNG {length} is below the minimum {MIN_FRAME}")
    if length != len(raw):
        what = "truncated" if len(raw) < length else "too long"
        raise FramingError(f"frame {what}: LNG says {length} bytes, got {len(raw)}")
    expected = crc16_kermit(raw[:-2])
    got = raw[-2] | raw[-1] << 8
    if got != expected:
        raise ChecksumError(f"CRC mismatch: frame says {got:04X}, bytes give {expected:04X}")
    return Frame(raw[2], raw[3:-2])


# --- the stream decoder ---------------------------------------------------------------


class BadFrameReason(Enum):
    """Why the stream decoder reported bytes as a `BadFrame`."""

    CRC = "crc"
    """A frame whose LNG bytes all came but whose CRC does not match."""
    NOISE = "noise"
    """Bytes outside any frame (no SYNC, or a SYNC followed by an impossible LNG)."""


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes the stream decoder could not accept (so none vanish silently)."""

    reason: BadFrameReason
    raw: bytes

    def __repr__(self) -> str:
        return f"BadFrame({self.reason.value}, {len(self.raw)} bytes)"


Item = Frame | BadFrame


class Id003StreamDecoder:
    """Cuts a byte stream into `Frame` and `BadFrame` items.

    A frame starts at SYNC; its LNG says where it ends. A SYNC followed by an LNG
    below 5 is noise (the SYNC byte alone; the scan goes on after it). A frame whose
    CRC fails is reported whole as `BadFrameReason.CRC`. Bytes wait (`pending`) until a
    frame is complete; `reset` drops them (the link does at a timeout: a noise SYNC
    with a large LNG would otherwise hold the next frames).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes waiting for the rest of a frame."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget a partial frame."""
        self._buffer.clear()

    def feed(self, data: bytes) -> list[Item]:
        """The items completed by ``data``."""
        buffer = self._buffer
        buffer += data
        out: list[Item] = []
        while buffer:
            if buffer[0] != SYNC:
                start = buffer.find(SYNC)
                end = len(buffer) if start < 0 else start
                out.append(BadFrame(BadFrameReason.NOISE, bytes(buffer[:end])))
                del buffer[:end]
                continue
            if len(buffer) < 2:
                break
            length = buffer[1]
            if length < MIN_FRAME:
                out.append(BadFrame(BadFrameReason.NOISE, bytes(buffer[:1])))
                del buffer[:1]
                continue
            if len(buffer) < length:
                break
            raw = bytes(buffer[:length])
            del buffer[:length]
            crc = crc16_kermit(raw[:-2])
            if raw[-2] | raw[-1] << 8 == crc:
                out.append(Frame(raw[2], raw[3:-2]))
            else:
                out.append(BadFrame(BadFrameReason.CRC, raw))
        return _merged(out)


def _merged(items: list[Item]) -> list[Item]:
    """Adjacent noise items as one."""
    out: list[Item] = []
    for item in items:
        last = out[-1] if out else None
        if (
            isinstance(item, BadFrame)
            and item.reason is BadFrameReason.NOISE
            and isinstance(last, BadFrame)
            and last.reason is BadFrameReason.NOISE
        ):
            out[-1] = BadFrame(BadFrameReason.NOISE, last.raw + item.raw)
        else:
            out.append(item)
    return out
