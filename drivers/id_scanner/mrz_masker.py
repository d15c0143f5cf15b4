"""The ``spy+mrz-serial`` masker: an OCR reader's traffic as framing and shapes, the
MRZ's characters hidden.

What a log may show to check a reader's framing (docs/mrz.md §7) without the MRZ:

- every control byte by name (``STX``, ``ETX``, ``CR``, ``LF``, others as ``<1B>``):
  they carry no personal data and are the framing;
- each line (a run of printable bytes) as its length and how many characters of each
  class it holds: ``A-Z``, ``0-9``, ``'<'`` (the filler), and for anything outside the
  MRZ charset (a prefix, lower case, a space, other ASCII, bytes above 7F) the count
  and positions (1-based) of those characters, never the characters themselves: a
  47-character line with ``non-MRZ 3 at 1-3`` is a 44-character line behind a
  3-character prefix;
- a line is shown with the control bytes that end it (``44 chars: ... | CR LF``).

No character of a line is shown and no position of a letter, digit or filler (they
would spell a name's length). A line split over reads is shown once, when it ends; a
line that grows past `LONG` characters without ending is shown then (and counted on).
``reveal`` shows every byte as hex (a bench).
"""

from __future__ import annotations

from hal.transports.spy_maskers import RX, TX

__all__ = ["LONG", "MrzMasker", "describe_line"]

#: Characters of a line held before it is shown without its end.
LONG = 256

_MRZ_CHARSET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_NAMES = {0x02: "STX", 0x03: "ETX", 0x0A: "LF", 0x0D: "CR", 0x00: "NUL"}


def _control(byte: int) -> bool:
    return byte < 0x20 or byte == 0x7F


def _control_name(byte: int) -> str:
    return _NAMES.get(byte, f"<{byte:02X}>")


def _ranges(positions: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1-3,7``."""
    parts: list[str] = []
    start = prev = positions[0]
    for pos in [*positions[1:], -1]:
        if pos == prev + 1:
            prev = pos
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = pos
    return ",".join(parts)


def describe_line(text: bytes) -> str:
    """A line's length and character classes, no character shown."""
    letters = sum(1 for b in text if 0x41 <= b <= 0x5A)
    digits = sum(1 for b in text if 0x30 <= b <= 0x39)
    fillers = text.count(b"<")
    other = [i for i, b in enumerate(text, start=1) if b not in _MRZ_CHARSET]
    shown = f"{len(text)} chars: A-Z {letters}, 0-9 {digits}, '<' {fillers}"
    if other:
        shown += f", non-MRZ {len(other)} at {_ranges(other)}"
    return shown


class _Direction:
    """One direction's line in progress and the control bytes after it."""

    def __init__(self) -> None:
        self.text = bytearray()
        self.controls: list[str] = []
        self.held = 0  # characters of a long line already shown

    def reset(self) -> None:
        self.text.clear()
        self.controls.clear()
        self.held = 0


class MrzMasker:
    """MRZ reader traffic: framing bytes by name, lines as length and classes."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._state = {TX: _Direction(), RX: _Direction()}

    def reset(self) -> None:
        """Forget a line in progress (the port was reopened)."""
        for state in self._state.values():
            state.reset()

    def lines(self, direction: str, data: bytes) -> list[str]:
        if self.reveal:
            return [f"{len(data):3d} bytes: " + " ".join(f"{b:02X}" for b in data)]
        state = self._state[direction]
        out: list[str] = []
        for byte in data:
            if _control(byte):
                state.controls.append(_control_name(byte))
                continue
            if state.controls:
                self._flush(state, out)
            state.text.append(byte)
            if len(state.text) >= LONG:
                out.append(describe_line(bytes(state.text)) + " | (no end yet)")
                state.held += len(state.text)
                state.text.clear()
        if state.controls:
            self._flush(state, out)
        return out

    @staticmethod
    def _flush(state: _Direction, out: list[str]) -> None:
        """Show the line in progress (if any) with the control bytes that ended it."""
        ends = " ".join(state.controls)
        if state.text or state.held:
            more = f" (after {state.held} shown)" if state.held else ""
            out.append(f"{describe_line(bytes(state.text))}{more} | {ends}")
        else:
            out.append(ends)
        state.text.clear()
        state.controls.clear()
        state.held = 0
