"""What the Creator card-reader protocols (CRT-310, CRT-591) share below their frames.

Both frame their messages the same way: an STX byte, a header holding a big-endian
LEN, the LEN bytes it counts plus a fixed part, ETX (03), and a BCC that XORs STX
through ETX; outside frames, single control bytes. They differ in the STX, where LEN
sits, what LEN counts and which control bytes exist: each protocol's module keeps
those facts (``protocols.crt310_frames``, ``protocols.crt591_frames``) and builds its
stream decoder on `LengthFramedDecoder` here, with its own `Frame` type.

Shared here: `BadFrame` and its `BadFrameReason` (what a decoder reports for bytes it
could not accept), `hide` (how a ``repr`` shows bytes that may hold card data), the
decoder core, and `CmPmCommand`, the base of both protocols' command enums (a command
is a CM byte and a PM byte, or a CM whose PM is its argument). Nothing here knows a
particular command or reply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from protocols.checksums import bcc_xor

__all__ = ["ETX", "BadFrame", "BadFrameReason", "CmPmCommand", "LengthFramedDecoder", "hide"]

ETX = 0x03

F = TypeVar("F")
C = TypeVar("C")


def hide(data: bytes) -> str:
    """How a ``repr`` shows bytes that may hold card data: their size only."""
    return f"<{len(data)} bytes>"


class CmPmCommand(Enum):
    """A command enum whose values are (CM, PM) pairs; PM None: PM is the argument."""

    @property
    def cm(self) -> int:
        """The command byte."""
        return int(self.value[0])

    @property
    def pm(self) -> int | None:
        """The fixed parameter byte, or None when PM is the command's argument."""
        pm = self.value[1]
        return None if pm is None else int(pm)


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
        return f"BadFrame({self.reason.value}, {hide(self.raw)})"


class LengthFramedDecoder(Generic[F, C]):
    """Turn a byte stream into control bytes, frames and bad frames; never raises.

    Every byte fed is accounted for: it ends up in an item (``wire_size``) or in
    ``pending`` (an incomplete frame kept for the next ``feed``). The buffer never holds
    more than one frame's worth. An STX whose LEN is out of range or whose ETX is not
    where LEN puts it is noise, and decoding resumes at the next byte. Caveat (as for
    every length-framed protocol): a frame whose BCC fails is consumed whole, so a
    corrupted header whose LEN happens to end on an 03 byte swallows what follows it;
    the NAK/retry exchange recovers from that.

    Args:
        stx: the byte that starts a frame.
        len_at: the offset of LEN's high byte from STX (LEN is two bytes, big-endian).
        overhead: the frame's bytes that LEN does not count.
        min_len: the least LEN a frame can have.
        max_len: the largest.
        controls: the control bytes, by value, as the items to yield for them.
        make: the frame item for the bytes of one frame whose BCC matched.
    """

    def __init__(
        self,
        *,
        stx: int,
        len_at: int,
        overhead: int,
        min_len: int,
        max_len: int,
        controls: Mapping[int, C],
        make: Callable[[bytes], F],
    ) -> None:
        self._buf = bytearray()
        # One tuple: ``feed`` runs per read and unpacks it in one step (hot path).
        self._layout = (
            stx,
            len_at,
            len_at + 1,
            len_at + 2,
            overhead,
            min_len,
            max_len,
            dict(controls),
            make,
        )

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget any partial frame (after a timeout or a port reopen)."""
        self._buf.clear()

    def feed(self, data: bytes | bytearray | memoryview) -> list[C | F | BadFrame]:
        """Add bytes; return the items completed by them, in stream order."""
        buf = self._buf
        buf += data
        stx, hi, lo, head, overhead, min_len, max_len, controls, make = self._layout
        items: list[C | F | BadFrame] = []
        append = items.append
        size = len(buf)
        pos = 0
        noise = -1
        while pos < size:
            byte = buf[pos]
            if byte == stx:
                if size - pos < head:
                    break
                length = (buf[pos + hi] << 8) | buf[pos + lo]
                end = pos + length + overhead
                if min_len <= length <= max_len:
                    if end > size:
                        break
                    if buf[end - 2] == ETX:
                        if noise >= 0:
                            append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
                            noise = -1
                        frame = bytes(buf[pos:end])
                        # XOR over the BCC too is 0 iff it matches (no copy without it).
                        if not bcc_xor(frame):
                            append(make(frame))
                        else:
                            append(BadFrame(BadFrameReason.BCC, frame))
                        pos = end
                        continue
            elif byte in controls:
                if noise >= 0:
                    append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
                    noise = -1
                append(controls[byte])
                pos += 1
                continue
            if noise < 0:
                noise = pos
            pos += 1
        if noise >= 0:
            append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
        del buf[:pos]
        return items
