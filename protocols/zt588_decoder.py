"""Zhengtong (SZZT) ZT588 EPP: the stream decoder (`Zt588Decoder`), the `BadFrame` it
reports and `parse_frame` (``protocols.zt588`` describes what it yields and when).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from protocols.errors import ChecksumError, FramingError, ProtocolError
from protocols.zt588_frame import (
    DIGITS,
    ETX,
    HEX_UPPER,
    MAX_FRAME,
    MAX_TEXT,
    MIN_TEXT,
    STX,
    Frame,
    checksum,
)
from protocols.zt588_keypad import KEY_BYTES, MASK_CHAR, Key, KeyPress

__all__ = ["BadFrame", "BadFrameReason", "Item", "Zt588Decoder", "parse_frame"]


class BadFrameReason(Enum):
    """Why the decoder reported bytes as a `BadFrame`."""

    CHECKSUM = "checksum"  # a well-delimited frame whose CHK does not match
    LENGTH = "length"  # LEN is not three decimal digits, or is 000
    TOO_LONG = "too long"  # LEN over MAX_TEXT
    NO_ETX = "no etx"  # no ETX where LEN puts it (or an STX before it)
    NOISE = "noise"  # bytes outside frames that are no key
    TRUNCATED = "truncated"  # the stream ended inside a frame (Zt588Decoder.flush)


@dataclass(frozen=True, slots=True, repr=False)
class BadFrame:
    """Bytes the decoder could not accept; none vanish silently.

    Attributes:
        reason: what was wrong.
        raw: the bytes concerned.
        detail: what was expected and what came, without the payload.
    """

    reason: BadFrameReason
    raw: bytes
    detail: str

    @property
    def wire_size(self) -> int:
        return len(self.raw)

    @property
    def error(self) -> ProtocolError:
        """The typed error: `ChecksumError` for a bad CHK, `FramingError` otherwise."""
        if self.reason is BadFrameReason.CHECKSUM:
            return ChecksumError(self.detail)
        return FramingError(self.detail)

    def __repr__(self) -> str:
        return f"BadFrame({self.reason.value}, <{len(self.raw)} bytes>: {self.detail})"


Item = Frame | KeyPress | BadFrame
"""What ``Zt588Decoder.feed`` yields."""


def _skip_end(buf: bytes | bytearray, pos: int, size: int, final: bool) -> int | None:
    """Where the broken frame at ``pos`` ends: at the next STX, two bytes past the next
    ETX, or ``MAX_FRAME`` on; None if that has not arrived yet."""
    limit = min(size, pos + MAX_FRAME)
    for index in range(pos + 1, limit):
        byte = buf[index]
        if byte == STX:
            return index
        if byte == ETX:
            end = index + 3
            for after in range(index + 1, min(end, size)):
                if buf[after] == STX:
                    return after
            return end if end <= size or final else None
    if size >= pos + MAX_FRAME or final:
        return limit
    return None


def _examine(
    buf: bytes | bytearray, pos: int, size: int, *, final: bool = False
) -> tuple[Frame, int] | BadFrame | None:
    """The frame (and its end) or the bad frame at the STX at ``pos``; None: wait."""
    head = buf[pos + 1 : pos + 4]
    bad: tuple[BadFrameReason, str] | None = None
    length = 0
    if any(byte not in DIGITS for byte in head):
        bad = (BadFrameReason.LENGTH, f"LEN is {head.hex(' ').upper()}, expected 3 digits")
    elif len(head) < 3:
        if not final:
            return None
        bad = (BadFrameReason.TRUNCATED, f"frame truncated: {size - pos} bytes, no whole LEN")
    else:
        length = int(head)
        if not MIN_TEXT <= length <= MAX_TEXT:
            reason = BadFrameReason.LENGTH if length < MIN_TEXT else BadFrameReason.TOO_LONG
            bad = (reason, f"LEN is {length:03d}, expected {MIN_TEXT:03d}..{MAX_TEXT}")
    if bad is None:
        etx_at = pos + 4 + length
        end = etx_at + 3
        if size > etx_at and buf[etx_at] != ETX:
            got = buf[etx_at]
            bad = (BadFrameReason.NO_ETX, f"byte {4 + length} is 0x{got:02X}, expected ETX 0x03")
        else:
            stray = buf.find(STX, pos + 1, min(end, size))
            if stray >= 0:
                detail = (
                    f"STX at byte {stray - pos}, inside the {end - pos} bytes LEN {length} makes"
                )
                return BadFrame(BadFrameReason.NO_ETX, bytes(buf[pos:stray]), detail)
            if size < end:
                if not final:
                    return None
                detail = f"frame truncated: {size - pos} of {end - pos} bytes"
                return BadFrame(BadFrameReason.TRUNCATED, bytes(buf[pos:size]), detail)
            got_chk = bytes(buf[end - 2 : end])
            expected = checksum(buf[pos + 1 : etx_at + 1])
            if got_chk == expected:
                return Frame(bytes(buf[pos + 4 : etx_at])), end
            shown = got_chk.hex(" ").upper()
            detail = f"CHK is {shown}, expected {expected.hex(' ').upper()} ({expected.decode()})"
            if any(byte not in HEX_UPPER for byte in got_chk):
                detail += ": not two upper-case hex digits"
            return BadFrame(BadFrameReason.CHECKSUM, bytes(buf[pos:end]), detail)
    skip = _skip_end(buf, pos, size, final)
    if skip is None:
        return None
    return BadFrame(bad[0], bytes(buf[pos:skip]), bad[1])


def parse_frame(raw: bytes | bytearray) -> Frame:
    """Parse exactly one frame.

    Raises:
        FramingError: no STX, a LEN that is not 3 digits or out of range, a size that
            does not match LEN, no ETX where LEN puts it.
        ChecksumError: the CHK does not match (or is not two upper-case hex digits).
    """
    raw = bytes(raw)
    if not raw or raw[0] != STX:
        first = f"0x{raw[0]:02X}" if raw else "nothing"
        raise FramingError(f"a frame starts with STX 0x02, got {first}")
    item = _examine(raw, 0, len(raw), final=True)
    if isinstance(item, BadFrame):
        raise item.error
    if item is None:  # final=True always decides
        raise FramingError("frame truncated")
    frame, end = item
    if end != len(raw):
        raise FramingError(f"LEN {len(frame.text)} makes a {end}-byte frame, got {len(raw)} bytes")
    return frame


class Zt588Decoder:
    """Turn the pad's byte stream into frames, key presses and bad frames; never raises.

    Every byte fed ends up in an item (``wire_size``) or in ``pending`` (the start of a
    frame, at most ``MAX_FRAME`` bytes). Use one decoder per direction: the host's
    stream holds only frames, and anything else in it decodes as keys or noise.

    Args:
        mask: the byte the pad sends for a digit in PIN mode (`MASK_CHAR` '*' by
            default; what ``Control.pin_mask`` set).

    Raises:
        ValueError: ``mask`` is STX, ETX or a byte another key sends.
    """

    def __init__(self, *, mask: int = MASK_CHAR) -> None:
        if not 0 <= mask <= 0xFF or mask in KEY_BYTES or mask in (STX, ETX):
            raise ValueError(f"the mask byte 0x{mask:02X} is STX, ETX or another key's byte")
        self._keys = {byte: KeyPress(key, byte) for byte, key in KEY_BYTES.items()}
        self._keys[mask] = KeyPress(Key.MASKED, mask)
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (after a timeout or a port reopen)."""
        self._buf.clear()

    def flush(self) -> list[Item]:
        """The end of the stream: what is pending, as a truncated or broken frame, and
        the items after it (the decoder is empty afterwards)."""
        items: list[Item] = []
        while self._buf:
            rest = bytes(self._buf)
            self._buf.clear()
            found = _examine(rest, 0, len(rest), final=True)
            if isinstance(found, tuple):  # a whole frame is never left pending; be safe
                items.append(found[0])
                used = found[1]
            else:
                bad = found or BadFrame(BadFrameReason.TRUNCATED, rest, "frame truncated")
                items.append(bad)
                used = bad.wire_size
            items += self.feed(rest[used:])
        return items

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Add bytes; return the items completed by them, in stream order."""
        buf = self._buf
        buf += data
        keys = self._keys
        items: list[Item] = []
        size = len(buf)
        pos = 0
        noise = -1
        while pos < size:
            byte = buf[pos]
            if byte == STX:
                found = _examine(buf, pos, size)
                if found is None:
                    break
                if noise >= 0:
                    items.append(_noise(buf[noise:pos]))
                    noise = -1
                if isinstance(found, BadFrame):
                    items.append(found)
                    pos += found.wire_size
                else:
                    items.append(found[0])
                    pos = found[1]
                continue
            press = keys.get(byte)
            if press is not None:
                if noise >= 0:
                    items.append(_noise(buf[noise:pos]))
                    noise = -1
                items.append(press)
            elif noise < 0:
                noise = pos
            pos += 1
        if noise >= 0:
            items.append(_noise(buf[noise:pos]))
        del buf[:pos]
        return items


def _noise(raw: bytes | bytearray) -> BadFrame:
    detail = f"{len(raw)} bytes outside any frame that are no key (first 0x{raw[0]:02X})"
    return BadFrame(BadFrameReason.NOISE, bytes(raw), detail)
