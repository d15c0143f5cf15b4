"""How OCR readers send an MRZ over a serial line: the framings, a sans-IO decoder of
blocks, and the encoder the emulator uses.

An OCR reader (swipe or flat) sends a document's MRZ lines as ASCII when it has read
one, unasked. Readers differ in how they mark lines and blocks (docs/mrz.md, with
sources):

- ``cr`` / ``crlf`` / ``lf``: each line ended by CR, CR LF or LF; some readers end the
  block with an empty line. The decoder takes CR, LF and CR LF alike in all three (the
  option only says what the emulator sends).
- ``stx``: the lines (separated by CR, LF or CR LF) between STX (02) and ETX (03).

An optional ``prefix`` (a header code some readers put before the data) is removed from
the start of a block when present.

`MrzDecoder` turns bytes into `MrzBlock`s. Every buffer is bounded: a line holds at
most `MAX_LINE` characters, a block at most `MAX_LINES` lines. The rules:

Line framings:
1. A line longer than `MAX_LINE` ends the block in progress as an error (the rest of
   that line is dropped up to its end).
2. An empty line ends a block in progress: an error unless its shape is complete.
3. A first line whose length is not 30, 36 or 44 is noise: dropped and counted.
4. Later lines must have the first line's length, else the block is an error.
5. A block is complete at 2 lines of 44, 2 of 36 or 3 of 30.
6. `MrzDecoder.expire` (the driver calls it after a silence) ends a block in progress
   (or a started first line of 30 or more characters) as an error; shorter bits of a
   line are noise.

``stx``:
1. Bytes outside STX..ETX are noise.
2. STX starts a block (one in progress without its ETX becomes an error).
3. Inside, lines are split at CR/LF, empty ones skipped; a line longer than
   `MAX_LINE` or a fourth line makes the block an error (the rest up to ETX dropped).
4. ETX ends the block; `expire` in the middle of one makes it an error.

Blocks hold personal data: `MrzBlock`'s ``repr`` shows the shape only, and no error
text carries content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ETX",
    "MAX_LINE",
    "MAX_LINES",
    "STX",
    "Framing",
    "MrzBlock",
    "MrzDecoder",
    "encode_block",
]

STX = 0x02
ETX = 0x03
CR = 0x0D
LF = 0x0A
#: Characters a line may hold before it is over-long (an MRZ line has at most 44).
MAX_LINE = 64
#: Lines a block may hold (an MRZ has at most 3).
MAX_LINES = 3
_SHAPES = {44: 2, 36: 2, 30: 3}


class Framing(StrEnum):
    """How the reader marks lines and blocks."""

    CR = "cr"
    CRLF = "crlf"
    LF = "lf"
    STX = "stx"


@dataclass(frozen=True, repr=False)
class MrzBlock:
    """One block as the reader sent it.

    Attributes:
        lines: the lines (decoded as Latin-1; the MRZ parser checks the charset).
        error: why the block is broken (``""``: framed well; the lines may still not
            be an MRZ), without content.
    """

    lines: tuple[str, ...]
    error: str = ""

    def __repr__(self) -> str:
        shape = "x".join(str(len(line)) for line in self.lines) or "empty"
        return f"MrzBlock(lines={shape}" + (f", error={self.error!r})" if self.error else ")")


def encode_block(lines: Sequence[str], framing: Framing | str, *, prefix: str = "") -> bytes:
    """The bytes a reader with ``framing`` sends for ``lines``."""
    framing = Framing(framing)
    ending = {Framing.CR: "\r", Framing.CRLF: "\r\n", Framing.LF: "\n", Framing.STX: "\r"}
    body = prefix + "".join(line + ending[framing] for line in lines)
    data = body.encode("latin-1")
    if framing is Framing.STX:
        return bytes([STX]) + data + bytes([ETX])
    return data


class MrzDecoder:
    """Bytes in, `MrzBlock`s out (sans-IO: the caller reads and keeps time).

    Args:
        framing: the reader's framing.
        prefix: a header removed from the start of a block when present.

    Attributes:
        noise: bytes (or noise lines' characters) dropped as noise so far.
    """

    def __init__(self, framing: Framing | str = Framing.CR, *, prefix: str = "") -> None:
        self.framing = Framing(framing)
        self.prefix = prefix
        self.noise = 0
        self._line = bytearray()
        self._lines: list[str] = []
        self._in_block = False  # stx: between STX and ETX
        self._skip_line = False  # dropping the rest of an over-long line
        self._error = ""  # stx: the block is broken, drop up to ETX
        self._after_cr = False

    @property
    def busy(self) -> bool:
        """Part of a block (or of a line) is buffered."""
        return bool(self._line or self._lines or self._in_block or self._skip_line)

    def reset(self) -> None:
        """Forget everything buffered (a cancelled read, a reset)."""
        self._line.clear()
        self._lines.clear()
        self._in_block = False
        self._skip_line = False
        self._error = ""
        self._after_cr = False

    def feed(self, data: bytes) -> list[MrzBlock]:
        """The blocks ``data`` completes."""
        out: list[MrzBlock] = []
        for byte in data:
            if self.framing is Framing.STX:
                self._feed_stx(byte, out)
            else:
                self._feed_lines(byte, out)
        return out

    def expire(self) -> list[MrzBlock]:
        """The line went silent: end what is buffered (an error, or noise)."""
        out: list[MrzBlock] = []
        if self.framing is Framing.STX:
            if self._in_block:
                lines = self._lines_with_partial()
                out.append(MrzBlock(lines, "incomplete block: no ETX before the line went silent"))
            elif self._line:
                self.noise += len(self._line)
            self.reset()
            return out
        if self._skip_line:
            self.reset()
            return out
        if self._lines or len(self._line) >= min(_SHAPES):
            lines = self._lines_with_partial()
            out.append(
                MrzBlock(
                    lines,
                    f"incomplete block: {_shape(lines)} then the line went silent",
                )
            )
        elif self._line:
            self.noise += len(self._line)
        self.reset()
        return out

    # --- line framings -----------------------------------------------------------------

    def _feed_lines(self, byte: int, out: list[MrzBlock]) -> None:
        after_cr, self._after_cr = self._after_cr, byte == CR
        if byte == LF and after_cr:
            return  # the LF of a CR LF
        if byte in (CR, LF):
            if self._skip_line:
                self._skip_line = False
                return
            self._end_line(out)
            return
        if self._skip_line:
            return
        if len(self._line) >= MAX_LINE:
            lines = tuple(self._lines)
            self.reset()
            self._skip_line = True
            out.append(MrzBlock(lines, f"a line longer than {MAX_LINE} characters"))
            return
        self._line.append(byte)

    def _end_line(self, out: list[MrzBlock]) -> None:
        line = self._take_line()
        if not line:
            if self._lines:
                lines = tuple(self._lines)
                self._lines.clear()
                out.append(MrzBlock(lines, f"incomplete block: {_shape(lines)} then an empty line"))
            return
        if not self._lines and self.prefix and line.startswith(self.prefix):
            line = line[len(self.prefix) :]
        if not self._lines:
            if len(line) not in _SHAPES:
                self.noise += len(line)
                return
            self._lines.append(line)
            return
        width = len(self._lines[0])
        if len(line) != width:
            lines = (*self._lines, line)
            self._lines.clear()
            out.append(
                MrzBlock(
                    lines,
                    f"line {len(lines)} has {len(line)} characters, line 1 had {width}",
                )
            )
            return
        self._lines.append(line)
        if len(self._lines) == _SHAPES[width]:
            out.append(MrzBlock(tuple(self._lines)))
            self._lines.clear()

    # --- stx ---------------------------------------------------------------------------

    def _feed_stx(self, byte: int, out: list[MrzBlock]) -> None:
        if byte == STX:
            if self._in_block:
                lines = self._lines_with_partial()
                out.append(MrzBlock(lines, "incomplete block: STX before the ETX"))
            self.reset()
            self._in_block = True
            return
        if not self._in_block:
            self.noise += 1
            return
        if byte == ETX:
            lines = self._lines_with_partial()
            error = self._error
            self.reset()
            if lines and self.prefix and lines[0].startswith(self.prefix):
                lines = (lines[0][len(self.prefix) :], *lines[1:])
                lines = tuple(line for line in lines if line)
            out.append(MrzBlock(lines, error))
            return
        if self._error:
            return
        if byte in (CR, LF):
            line = self._take_line()
            if line:
                if len(self._lines) >= MAX_LINES:
                    self._error = f"more than {MAX_LINES} lines"
                    return
                self._lines.append(line)
            return
        if len(self._line) >= MAX_LINE:
            self._line.clear()
            self._error = f"a line longer than {MAX_LINE} characters"
            return
        self._line.append(byte)

    # --- shared ------------------------------------------------------------------------

    def _take_line(self) -> str:
        line = self._line.decode("latin-1")
        self._line.clear()
        return line

    def _lines_with_partial(self) -> tuple[str, ...]:
        lines = list(self._lines)
        if self._line:
            lines.append(self._line.decode("latin-1"))
        return tuple(lines[: MAX_LINES + 1])


def _shape(lines: Sequence[str]) -> str:
    if not lines:
        return "no line"
    widths = ", ".join(str(len(line)) for line in lines)
    return f"{len(lines)} line(s) of {widths} characters"
