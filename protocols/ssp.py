"""ITL SSP (Smiley Secure Protocol, NV200 / NV11 ...): frames, CRC, byte stuffing and the
stream decoder.

Frame (reference/protocols.md §3.6)::

    STX(7F) | SEQ/ID | LEN | DATA (LEN bytes) | CRCL | CRCH

- SEQ/ID: bit 7 is the sequence flag (the host toggles it for each new command, Sync
  resets it to 1); bits 6-0 the slave address (validator 00).
- CRC-16/CMS (polynomial 8005, seed FFFF, not reflected) over SEQ/ID, LEN and DATA,
  computed before stuffing, sent LSB first.
- Stuffing: every 7F after the STX is sent twice. A lone 7F inside a frame therefore
  starts a new frame (the decoder drops what it held as noise).

Hot path: `crc16`, `build_frame`, `parse_frame` and `SspStreamDecoder` work on bytes;
`FRAME` is the same (unstuffed) layout in construct, checked against them by the
property tests. Commands, replies and events: `protocols.ssp_commands`,
`protocols.ssp_events`; the encrypted layer: `protocols.essp`.

[U] a frame's LEN is 0..255 (one byte); SSP frames carry no card data, but encrypted
DATA (first byte 7E) is never shown by ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from construct import Bytes, Const, Int8ub, Int16ul, Struct, this

from protocols.errors import ChecksumError, FramingError

__all__ = [
    "FRAME",
    "SEQ_FLAG",
    "STEX",
    "STX",
    "BadFrame",
    "BadFrameReason",
    "Frame",
    "Item",
    "SspStreamDecoder",
    "build_frame",
    "crc16",
    "parse_frame",
    "stuff",
    "unstuff",
]

STX = 0x7F
#: The first DATA byte of an encrypted (eSSP) packet.
STEX = 0x7E
SEQ_FLAG = 0x80
_ADDRESS = 0x7F


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview, seed: int = 0xFFFF) -> int:
    """CRC-16/CMS of ``data``: polynomial 8005, seed FFFF, MSB first, no final XOR
    (its check value: ``crc16(b"123456789") == 0xAEE7``)."""
    crc = seed
    table = _TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ byte) & 0xFF]
    return crc


def stuff(body: bytes) -> bytes:
    """``body`` (SEQ/ID .. CRCH) with every 7F doubled."""
    return body.replace(b"\x7f", b"\x7f\x7f")


def unstuff(body: bytes) -> bytes:
    """The inverse of `stuff`.

    Raises:
        FramingError: a 7F that is not doubled.
    """
    out = body.replace(b"\x7f\x7f", b"")
    if b"\x7f" in out:
        raise FramingError("a 7F inside the frame is not doubled")
    return body.replace(b"\x7f\x7f", b"\x7f")


FRAME = Struct(
    "stx" / Const(STX, Int8ub),
    "seq_id" / Int8ub,
    "length" / Int8ub,
    "data" / Bytes(this.length),
    "crc" / Int16ul,
)
"""The frame layout in construct, before stuffing (the CRC is not checked)."""


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One frame with a good CRC.

    Attributes:
        seq: the sequence flag (bit 7 of SEQ/ID).
        address: the slave address (bits 6-0).
        data: the DATA bytes (a command, a reply, or an encrypted packet).
    """

    seq: bool
    address: int
    data: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.address <= _ADDRESS:
            raise FramingError(f"an SSP address is 0..127, got {self.address}")
        if len(self.data) > 255:
            raise FramingError(f"SSP DATA is at most 255 bytes, got {len(self.data)}")

    @property
    def seq_id(self) -> int:
        """The SEQ/ID byte."""
        return (SEQ_FLAG if self.seq else 0) | self.address

    @property
    def encrypted(self) -> bool:
        """DATA is an eSSP packet (starts with STEX)."""
        return bool(self.data) and self.data[0] == STEX

    def to_bytes(self) -> bytes:
        """The frame on the wire (CRC added, stuffed)."""
        return build_frame(self.seq, self.address, self.data)

    def __repr__(self) -> str:
        shown = "<encrypted>" if self.encrypted else self.data.hex(" ")
        return f"Frame(seq={int(self.seq)}, address={self.address}, data={shown})"


def build_frame(seq: bool, address: int, data: bytes) -> bytes:
    """The wire bytes of a frame."""
    if len(data) > 255:
        raise FramingError(f"SSP DATA is at most 255 bytes, got {len(data)}")
    body = bytes(((SEQ_FLAG if seq else 0) | (address & _ADDRESS), len(data))) + data
    crc = crc16(body)
    return b"\x7f" + stuff(body + bytes((crc & 0xFF, crc >> 8)))


def parse_frame(raw: bytes) -> Frame:
    """One whole frame from the wire (stuffed).

    Raises:
        FramingError: no STX, a bad stuffing, a length that does not match.
        ChecksumError: the CRC does not match.
    """
    if len(raw) < 5 or raw[0] != STX:
        raise FramingError("an SSP frame starts with 7F and has at least 5 bytes")
    body = unstuff(raw[1:])
    if len(body) != body[1] + 4:
        raise FramingError(f"LEN says {body[1]} DATA bytes, the frame holds {len(body) - 4}")
    crc = body[-2] | body[-1] << 8
    if crc16(body[:-2]) != crc:
        raise ChecksumError(f"CRC is {crc:04X}, expected {crc16(body[:-2]):04X}")
    return Frame(bool(body[0] & SEQ_FLAG), body[0] & _ADDRESS, bytes(body[2:-2]))


class BadFrameReason(Enum):
    """Why the stream decoder reported bytes as a `BadFrame`."""

    CRC = "crc"
    NOISE = "noise"


@dataclass(frozen=True, slots=True, repr=False)
class BadFrame:
    """Bytes the decoder could not accept (a bad CRC, or noise).

    Attributes:
        reason: CRC mismatch, or bytes outside a frame.
        raw: the bytes concerned (the frame, stuffed, for a CRC mismatch).
    """

    reason: BadFrameReason
    raw: bytes

    def __repr__(self) -> str:
        return f"BadFrame({self.reason.value}, {len(self.raw)} bytes)"


Item = Frame | BadFrame


class SspStreamDecoder:
    """Bytes in, frames (and bad frames) out, in any chunking; never raises.

    A single 7F (not followed by another 7F) starts a frame; inside a frame 7F 7F is
    one 7F and a 7F followed by anything else starts a new frame (what was held is
    noise). A frame ends when LEN + 4 unstuffed bytes have come after its STX.
    """

    def __init__(self) -> None:
        self._raw = bytearray()  # the current frame as received (stuffed), from STX
        self._body = bytearray()  # unstuffed SEQ/ID onwards
        self._pending_7f = False  # a 7F seen inside a frame, its pair not yet seen
        self._in_frame = False
        self._noise = bytearray()

    def reset(self) -> None:
        """Forget a partial frame (the line was reopened)."""
        self.__init__()  # type: ignore[misc]

    def feed(self, data: bytes) -> list[Item]:
        """The items ``data`` completes, in order."""
        out: list[Item] = []
        for byte in data:
            if not self._in_frame:
                if byte == STX:
                    if self._noise:
                        out.append(BadFrame(BadFrameReason.NOISE, bytes(self._noise)))
                        self._noise.clear()
                    self._in_frame = True
                    self._raw = bytearray((STX,))
                    self._body = bytearray()
                    self._pending_7f = False
                else:
                    self._noise.append(byte)
                continue
            if self._pending_7f:
                self._pending_7f = False
                if byte == STX:
                    self._raw += b"\x7f\x7f"
                    self._add(0x7F, out)
                else:
                    # a lone 7F: a new frame began; what we held is noise
                    out.append(BadFrame(BadFrameReason.NOISE, bytes(self._raw)))
                    self._raw = bytearray((STX,))
                    self._body = bytearray()
                    self._raw.append(byte)
                    self._add(byte, out)
                continue
            if byte == STX:
                self._pending_7f = True
                continue
            self._raw.append(byte)
            self._add(byte, out)
        return out

    def _add(self, byte: int, out: list[Item]) -> None:
        body = self._body
        body.append(byte)
        if len(body) >= 2 and len(body) == body[1] + 4:
            crc = body[-2] | body[-1] << 8
            raw = bytes(self._raw)
            if crc16(body[:-2]) == crc:
                out.append(Frame(bool(body[0] & SEQ_FLAG), body[0] & _ADDRESS, bytes(body[2:-2])))
            else:
                out.append(BadFrame(BadFrameReason.CRC, raw))
            self._in_frame = False
            self._raw = bytearray()
            self._body = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held in a partial frame or as noise not yet reported."""
        return len(self._raw) + len(self._noise) + int(self._pending_7f)
