"""Fitting what prints on the paper left (`simulator.models.printer`).

The roll is counted in lines of the text rendering (`simulator.printer_text`): a text
line, a line fed, a barcode, a QR code or an image each take one line, a cut none.
`fit` finds what of the operations under way prints on the lines left when the paper
ends (or jams) under a row; `PaperPath` is the piece under way and where it is laid out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from protocols import escpos_ops as ops
from simulator.printer_text import CutRow, FeedRow, Row, TextRow, layout

__all__ = ["PaperPath", "fit", "lines_taken"]


def _row_lines(row: Row) -> int:
    """Paper a row takes, in lines (a cut takes none)."""
    if isinstance(row, TextRow):
        return 1 + row.blank_after
    if isinstance(row, FeedRow):
        return row.lines
    if isinstance(row, CutRow):
        return 0
    return 1


def lines_taken(rows: Sequence[Row]) -> int:
    """Paper ``rows`` take, in lines."""
    return sum(_row_lines(row) for row in rows)


def _units(operations: Sequence[ops.Operation]) -> list[ops.Operation]:
    """The operations with every text split into single characters (a printer lays
    text out one character at a time, so any prefix of these is a state it passed)."""
    out: list[ops.Operation] = []
    for op in operations:
        if isinstance(op, ops.Text) and len(op.text) > 1:
            out.extend(ops.Text(ch, op.style) for ch in op.text)
        else:
            out.append(op)
    return out


def _merged(operations: Sequence[ops.Operation]) -> list[ops.Operation]:
    """Adjacent texts of one style joined again."""
    out: list[ops.Operation] = []
    for op in operations:
        last = out[-1] if out else None
        if isinstance(op, ops.Text) and isinstance(last, ops.Text) and last.style == op.style:
            out[-1] = ops.Text(last.text + op.text, op.style)
        else:
            out.append(op)
    return out


def fit(window: list[ops.Operation], room: int, dots: int) -> tuple[list[ops.Operation], int]:
    """What of ``window`` (operations since the line buffer was last empty, the first
    possibly the line spacing in force) prints on ``room`` lines of paper: the
    operations that print exactly the rows that fit (a row that does not fit and
    everything after it dropped; a feed cut short), and the lines they take."""
    units = _units(window)

    def used(prefix: list[ops.Operation]) -> int:
        return lines_taken(layout(prefix, dots).rows)

    # The longest prefix whose printed rows fit (printed rows only grow with a prefix).
    low, high = 0, len(units)
    while low < high:
        mid = (low + high + 1) // 2
        if used(units[:mid]) <= room:
            low = mid
        else:
            high = mid - 1
    kept = units[:low]
    laid = layout(kept, dots)
    left = room - lines_taken(laid.rows)
    stopper = units[low] if low < len(units) else None
    if left > 0 and isinstance(stopper, ops.PrintAndFeed):
        # The feed (with the line in the buffer, if any) fits in part: feed what is left.
        kept.append(ops.PrintAndFeed(lines=left))
    elif left > 0 and laid.pending is not None:
        # The operation that did not fit (a barcode, image, cut...) would first have
        # printed the line in the buffer; that line fits.
        kept.append(ops.LineFeed())
    elif laid.pending is not None:
        # The line in the buffer never prints: drop its characters. If the last row
        # printed was ended by a character that wrapped, that row is now unended: a
        # line feed ends it the same way.
        rows = len(laid.rows)
        while kept:
            now = layout(kept, dots)
            if now.pending is None:
                break
            if len(now.rows) < rows:
                kept.append(ops.LineFeed())
                break
            kept.pop()
    return _merged(kept), used(kept)


@dataclass
class PaperPath:
    """The printer's paper path: the piece under way and where it is laid out."""

    dots: int
    #: Operations printed on the piece under way (since the last cut).
    printed: list[ops.Operation] = field(default_factory=list)
    #: Operations since the line buffer was last empty (the first may be the line
    #: spacing in force then); their rows up to `counted` are printed.
    window: list[ops.Operation] = field(default_factory=list)
    counted: int = 0
    #: Where the window starts in `printed`.
    start: int = 0
    spacing: ops.LineSpacing | None = None
