"""A simulated receipt or journal printer: ESC/POS bytes in, paper out.

`PrinterModel` implements `hal.devices.printer.PrinterBackend`. There is one path for
everything it prints (rule 1 of the printing API): a document is encoded with
`protocols.escpos` (block by block, so the model knows where each block ends), a raw
job is taken as it is, and the wire emulator hands over what came down the cable; all
three go through `PrinterModel.feed`, which decodes with `protocols.escpos_decoder` and
applies the operations to the paper. What the paper shows is exactly what the bytes
say; `simulator.printer_text` gives its text form and `simulator.printer_render` its
picture, on demand.

The paper:

- **The roll** is counted in lines of the text rendering: a text line, a line fed, a
  barcode, a QR code or an image each take one line (a cut takes none). A roll is
  ``paper_length`` lines; the near-end sensor (where the profile has one) says ``low``
  from ``near_end_lines`` lines left. `paper_runs_out(after_lines)` makes the roll end
  after that many more lines; `paper_low` puts it at its near end; `replenish` puts a
  new roll in (the piece under way is torn off and kept as a receipt).
- **The receipt under way** is what printed since the last cut; a cut closes it into
  the receipts cut (the newest kept, at most `MAX_RECEIPTS`). On a printer with a
  presenter the cut receipt is held at the exit (`MediaPresented`, media ``present``)
  until the customer takes it (`MediaTaken`), it is ejected, or retracted into the bin
  (a receipt still at the exit when the next is cut is retracted).
- **Paper out mid-job**: the printer stops at the line where the paper ends. Every row
  that fitted stays printed (a row wrapped from a long line is one line; a feed is cut
  short); the row that did not fit and everything after it is dropped. A document job
  raises `PaperOut` with the blocks printed in full, the blocks it had and the bytes
  the printer took (the prelude and every block up to and including the one it stopped
  in). Until a new roll is in, the printer prints nothing (it still answers status).
- **Cover open**: nothing prints; a job raises `CoverOpen` before anything prints.
- **Jam** (`jam_next`): the next job jams after ``after_lines`` lines (default 0):
  `MediaJam` naming the counts; paper ``jammed`` (DLE EOT 3: mechanical error, a
  recoverable error) until a `reset` or, over the wire, DLE ENQ 1 or 2 (the real-time
  request to recover from a recoverable error): either way the operator is taken to have
  freed the paper (no stimulus clears a jam on its own), and both recover alike. DLE
  ENQ 2 also clears the line under way; DLE ENQ is ignored when nothing recoverable is
  wrong (paper end waits for a new roll, an open cover for its closing).
- **Offline** and **power loss**: every job raises `DeviceNotReady`; status ``offline``
  / ``powerOff``; powered off, the printer answers nothing on the wire.

The byte-level entry `feed(data)` is what the ESC/POS wire emulator is a shell over: it
returns the printer's answers to the requests in ``data``, in order: DLE EOT 1-4 (and
the Custom ``10 04 14`` full status), GS r 1, GS I n, and the GS ( H fn 48 process ID
once the data before it has printed (none while the printer is stopped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hal.device import BackendListener, DeviceState
from hal.devices.printer import (
    CodePage,
    Document,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    PrinterCapabilities,
    PrinterStatus,
    PrinterType,
    PrintMediaStatus,
    PrintResult,
)
from hal.errors import (
    CoverOpen,
    DeviceNotReady,
    MediaJam,
    NoMedia,
    PaperOut,
    RetainBinFull,
    UnsupportedOperation,
)
from hal.events import Notifier
from protocols import escpos_ops as ops
from protocols.errors import ProtocolError
from protocols.escpos import encode_blocks
from protocols.escpos_decoder import EscPosDecoder
from protocols.escpos_status import (
    ErrorCause,
    FullStatus,
    OfflineCause,
    PaperSensor,
    PrinterState,
    RollPaper,
    build_full_status,
    build_paper_sensor,
    build_process_id_reply,
    build_real_time,
)
from simulator.clock import SimClock, reply_delay
from simulator.printer_text import (
    CutRow,
    FeedRow,
    Row,
    TextRow,
    layout,
    text_lines,
)

if TYPE_CHECKING:
    from simulator.printer_render import Rendering

__all__ = [
    "MAX_RECEIPTS",
    "PRINTER_PROFILES",
    "PrinterModel",
    "PrinterProfile",
    "Receipt",
]

log = logging.getLogger(__name__)

#: Receipts cut that the model keeps (the newest).
MAX_RECEIPTS = 50
#: The Custom full-status request (DLE EOT 20).
_FULL_STATUS_N = 0x14


@dataclass(frozen=True)
class PrinterProfile:
    """A printer's build.

    Attributes:
        name: the profile's name.
        type: receipt or journal.
        dots: printable dots per line (576: 80 mm, 384: 58 mm).
        cutter: it has an autocutter (full and partial cuts).
        presenter: it holds the cut receipt at the exit (eject, retract, taken sensor).
        retract_capacity: receipts the retract bin holds (0: no bin).
        near_end_sensor: it senses the roll near its end.
        model_name: what GS I 67 answers.
        description: one line for the docs.
    """

    name: str
    type: PrinterType
    dots: int
    cutter: bool
    presenter: bool
    retract_capacity: int
    near_end_sensor: bool
    model_name: str
    description: str

    @property
    def columns(self) -> int:
        """Font A characters per line (12 dots each)."""
        return self.dots // 12


#: The builds by name.
PRINTER_PROFILES: Mapping[str, PrinterProfile] = {
    p.name: p
    for p in (
        PrinterProfile(
            "receipt",
            PrinterType.RECEIPT,
            576,
            cutter=True,
            presenter=True,
            retract_capacity=20,
            near_end_sensor=True,
            model_name="TH-SIM80P",
            description="80 mm kiosk receipt printer: cutter, presenter, retract bin of 20",
        ),
        PrinterProfile(
            "receipt58",
            PrinterType.RECEIPT,
            384,
            cutter=True,
            presenter=False,
            retract_capacity=0,
            near_end_sensor=True,
            model_name="TH-SIM58",
            description="58 mm receipt printer: cutter, no presenter",
        ),
        PrinterProfile(
            "journal",
            PrinterType.JOURNAL,
            576,
            cutter=False,
            presenter=False,
            retract_capacity=0,
            near_end_sensor=True,
            model_name="TH-SIM80J",
            description="80 mm journal printer: no cutter (the roll winds onto a spool)",
        ),
    )
}


@dataclass(frozen=True)
class Receipt:
    """A piece of paper: the operations printed on it, in order.

    Attributes:
        operations: what printed (every row of it fitted on the paper).
        dots: the paper's width in dots.
        paper_out: the paper ran out at its end.
        cut: it was cut off (``False``: torn off with a new roll, or still under way).
    """

    operations: tuple[ops.Operation, ...]
    dots: int = 576
    paper_out: bool = False
    cut: bool = True

    @property
    def lines(self) -> list[str]:
        """The text form (`simulator.printer_text`), one string per printed line."""
        laid = layout(self.operations, self.dots)
        return text_lines(laid.rows, self.dots)

    @property
    def text(self) -> str:
        """The text form as one string, a newline after each line."""
        return "".join(line + "\n" for line in self.lines)

    def render(self) -> Rendering:
        """The paper drawn (`simulator.printer_render.render`; needs the ``render``
        extra and a CJK font); where the paper ran out is marked."""
        from simulator.printer_render import render

        return render(self.operations, self.dots, paper_out=self.paper_out)

    def png(self) -> bytes:
        """The paper as a 1-bit PNG at 203 dpi."""
        import io

        from PIL import Image

        from simulator.printer_render import DPI

        out = io.BytesIO()
        image = self.render().image.convert("1", dither=Image.Dither.NONE)
        image.save(out, format="PNG", dpi=(DPI, DPI))
        return out.getvalue()


def _row_lines(row: Row) -> int:
    """Paper a row takes, in lines (a cut takes none)."""
    if isinstance(row, TextRow):
        return 1 + row.blank_after
    if isinstance(row, FeedRow):
        return row.lines
    if isinstance(row, CutRow):
        return 0
    return 1


def _lines(rows: Sequence[Row]) -> int:
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


def _fit(window: list[ops.Operation], room: int, dots: int) -> tuple[list[ops.Operation], int]:
    """What of ``window`` (operations since the line buffer was last empty, the first
    possibly the line spacing in force) prints on ``room`` lines of paper: the
    operations that print exactly the rows that fit (a row that does not fit and
    everything after it dropped; a feed cut short), and the lines they take."""
    units = _units(window)

    def used(prefix: list[ops.Operation]) -> int:
        return _lines(layout(prefix, dots).rows)

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
    left = room - _lines(laid.rows)
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
class _Paper:
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


class PrinterModel:
    """A simulated ESC/POS receipt or journal printer (see the module docstring).

    Args:
        name: the device name used in messages.
        profile: a build of `PRINTER_PROFILES` (``receipt``, ``receipt58``,
            ``journal``).
        clock: the world's clock (delays are simulated seconds); real time if ``None``.
        paper_length: lines on a full roll.
        near_end_lines: lines left when the near-end sensor trips.

    Raises:
        ValueError: an unknown profile or a bad length.
    """

    def __init__(
        self,
        *,
        name: str = "receipt_printer",
        profile: str = "receipt",
        clock: SimClock | None = None,
        paper_length: int = 2000,
        near_end_lines: int = 100,
    ) -> None:
        if profile not in PRINTER_PROFILES:
            raise ValueError(
                f"no printer profile {profile!r}; known: {', '.join(sorted(PRINTER_PROFILES))}"
            )
        for what, value in (("paper_length", paper_length), ("near_end_lines", near_end_lines)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{what} is an integer >= 0, got {value!r}")
        if paper_length < 1 or near_end_lines >= paper_length:
            raise ValueError(
                f"paper_length ({paper_length}) must be >= 1 and above near_end_lines "
                f"({near_end_lines})"
            )
        self.name = name
        self.profile = PRINTER_PROFILES[profile]
        self.clock = clock if clock is not None else SimClock()
        self.paper_length = paper_length
        self.near_end_lines = near_end_lines
        self._paper_left = paper_length
        self._stopped = False  # the paper ran out under a row: nothing prints
        self._cover_open = False
        self._jammed = False
        self._jam_after: int | None = None
        self._online = True
        self._powered = True
        self._reply_delay_s = 0.0
        self._line_time_s = 0.0
        self._decoder = EscPosDecoder()
        self._paper = _Paper(self.profile.dots)
        self._receipts: list[Receipt] = []
        self._presented: Receipt | None = None
        self._untaken: Receipt | None = None  # cut, not taken (no presenter)
        self._printed_log: list[str] = []
        self._listener: BackendListener[PrinterStatus] | None = None
        self._last_status: PrinterStatus | None = None
        self._last_level: PaperStatus = self._level()
        self._signal = Notifier()
        #: Receipts in the retract bin (ground truth).
        self.retracted = 0
        #: Receipts the customer took, and receipts ejected to the customer.
        self.taken = 0
        self.ejected = 0

    # --- ground truth (read by the control and tests) ------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether a service has the printer open."""
        return self._listener is not None

    @property
    def paper_left(self) -> int:
        """Lines of paper left on the roll."""
        return self._paper_left

    @property
    def stopped(self) -> bool:
        """The paper ran out under a row: the printer prints nothing until a new roll."""
        return self._stopped

    @property
    def cover_open(self) -> bool:
        """Whether the cover is open."""
        return self._cover_open

    @property
    def jammed(self) -> bool:
        """Whether the paper is jammed."""
        return self._jammed

    @property
    def receipts(self) -> tuple[Receipt, ...]:
        """The receipts cut (or torn off), oldest first."""
        return tuple(self._receipts)

    @property
    def presented(self) -> Receipt | None:
        """The receipt waiting at the exit (printers with a presenter), if any."""
        return self._presented

    def under_way(self) -> Receipt:
        """The piece printed since the last cut (``cut`` False)."""
        return Receipt(
            tuple(self._paper.printed), self.profile.dots, paper_out=self._stopped, cut=False
        )

    def last_receipt(self) -> Receipt | None:
        """The newest paper: the piece under way if anything printed on it, else the
        last receipt cut; ``None`` before anything printed."""
        piece = self.under_way()
        if piece.lines:
            return piece
        return self._receipts[-1] if self._receipts else None

    def take_printed_lines(self) -> list[str]:
        """The text lines printed since the last call (the text form's lines, barcodes
        and cuts as marked lines)."""
        lines, self._printed_log = self._printed_log, []
        return lines

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (re-checked at every change)."""
        await self._signal.wait_until(predicate)

    # --- what the world does -------------------------------------------------------------

    def paper_runs_out(self, after_lines: int = 0) -> None:
        """The roll ends after ``after_lines`` more lines (0: now)."""
        if isinstance(after_lines, bool) or not isinstance(after_lines, int) or after_lines < 0:
            raise ValueError(f"after_lines is an integer >= 0, got {after_lines!r}")
        self._paper_left = min(self._paper_left, after_lines)
        self._changed()

    def paper_low(self) -> None:
        """The roll is at its near end (no change if it is already past it)."""
        self._paper_left = min(self._paper_left, max(1, self.near_end_lines))
        self._changed()

    def replenish(self) -> None:
        """An operator puts in a new roll; the piece under way is torn off (kept as a
        receipt)."""
        if self._paper.printed:
            self._close_piece(cut=False)
        self._paper_left = self.paper_length
        self._stopped = False
        log.info("%s: a new roll of %d lines", self.name, self.paper_length)
        self._changed()

    def set_cover(self, open_: bool) -> None:
        """Open (``True``) or close the printer's cover."""
        self._cover_open = bool(open_)
        self._changed()

    def jam_next(self, after_lines: int = 0) -> None:
        """The next job jams once ``after_lines`` more lines have printed."""
        if isinstance(after_lines, bool) or not isinstance(after_lines, int) or after_lines < 0:
            raise ValueError(f"after_lines is an integer >= 0, got {after_lines!r}")
        self._jam_after = after_lines

    def set_online(self, online: bool) -> None:
        """Put the printer offline (``False``) or back online."""
        self._online = bool(online)
        self._changed()

    def set_power(self, on: bool) -> None:
        """Cut or restore the power."""
        self._powered = bool(on)
        self._changed()

    def set_line_time(self, seconds: float) -> None:
        """Every printed line takes ``seconds`` simulated seconds (0: at once), so a job
        takes time and a cancellation can land between its blocks."""
        if not seconds >= 0:
            raise ValueError(f"a line time is >= 0 seconds, got {seconds!r}")
        self._line_time_s = float(seconds)

    def set_reply_delay(self, seconds: float) -> None:
        """Delay every backend call by ``seconds`` simulated seconds (0: no delay)."""
        if not seconds >= 0:
            raise ValueError(f"a reply delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay_s = float(seconds)

    def take(self) -> bool:
        """The customer takes the receipt at the exit (a presenter's: `MediaTaken`; a
        printer without one: the last receipt cut). ``False`` if there is none."""
        if self._presented is not None:
            self._presented = None
            self.taken += 1
            self._emit(MediaTaken())
            self._changed()
            return True
        if self._untaken is not None:
            self._untaken = None
            self.taken += 1
            self._signal.notify()
            return True
        return False

    def receipt_waiting(self) -> bool:
        """A cut receipt waits for the customer (at the presenter, or cut and not taken)."""
        return self._presented is not None or self._untaken is not None

    # --- the byte-level entry (the wire emulator's) --------------------------------------

    def feed(self, data: bytes) -> list[bytes]:
        """Take ``data`` as the printer takes bytes from its cable; return its answers
        to the requests in it, in order. Never raises: a bad command is dropped, as a
        printer drops it; without power nothing is answered."""
        if not self._powered:
            return []
        try:
            decoded = self._decoder.feed(bytes(data))
        except ProtocolError as exc:
            log.info("%s: a bad command dropped: %s", self.name, exc)
            decoded = self._decoder.take()
        replies: list[bytes] = []
        for op in decoded:
            self._apply(op, replies)
        self._changed()
        return replies

    def status_byte(self, n: int) -> bytes:
        """The answer to DLE EOT ``n`` (1-4; 20: the Custom full status) now."""
        level = self._level()
        out = level is PaperStatus.OUT
        if n == 1:
            return build_real_time(PrinterState(offline=self._offline_now()))
        if n == 2:
            return build_real_time(
                OfflineCause(
                    cover_open=self._cover_open,
                    paper_end_stop=out,
                    error=self._jammed,
                )
            )
        if n == 3:
            return build_real_time(ErrorCause(mechanical=self._jammed))
        if n == 4:
            return build_real_time(
                RollPaper(near_end=level in (PaperStatus.LOW, PaperStatus.OUT), paper_end=out)
            )
        if n == _FULL_STATUS_N:
            return build_full_status(
                FullStatus(
                    no_paper=out,
                    near_end=level in (PaperStatus.LOW, PaperStatus.OUT),
                    ticket_present=self._presented is not None,
                    cover_open=self._cover_open,
                )
            )
        return b""

    # --- PrinterBackend ------------------------------------------------------------------

    async def open(self, listener: BackendListener[PrinterStatus]) -> None:
        """Start reporting to ``listener``.

        Raises:
            DeviceNotReady: another service has the printer open.
        """
        if self._listener is not None and self._listener is not listener:
            raise DeviceNotReady(f"{self.name} is already open by another service; close it first")
        await self._reply_delay(opening=True)
        self._listener = listener
        self._last_status = None
        self._last_level = self._level()
        self._changed()

    async def close(self) -> None:
        """Stop reporting."""
        self._listener = None
        self._signal.notify()

    def capabilities(self) -> PrinterCapabilities:
        """What the profile's printer can do."""
        p = self.profile
        return PrinterCapabilities(
            type=p.type,
            dots_per_line=p.dots,
            dpi=203,
            columns=p.columns,
            code_pages=frozenset(CodePage),
            cut=frozenset({"full", "partial"}) if p.cutter else frozenset(),
            presenter=p.presenter,
            retract_capacity=p.retract_capacity,
            near_end_sensor=p.near_end_sensor,
            firmware=f"tellerhal-sim {p.model_name}",
        )

    async def get_status(self) -> PrinterStatus:
        """Where things stand now."""
        await self._reply_delay()
        return self._status()

    async def print_document(self, document: Document) -> PrintResult:
        """Encode ``document`` (`protocols.escpos.encode_blocks`) and print it block by
        block through `feed`.

        Raises:
            CoverOpen: the cover is open (nothing printed).
            PaperOut: the paper ran out (the counts say how far it got).
            MediaJam: the paper jammed (the message says how far it got).
            DeviceNotReady: offline or no power.
        """
        await self._reply_delay()
        p = self.profile
        chunks = encode_blocks(
            document, columns=p.columns, dots=p.dots, code_pages=frozenset(CodePage)
        )
        total = len(document.blocks)
        self._ready_to_print(total)
        sent = 0
        for index, chunk in enumerate(chunks):
            before = self._paper_left
            self.feed(chunk)
            sent += len(chunk)
            self._check_stopped(printed=max(0, index - 1), total=total, sent=sent)
            if not await self._printing(before - self._paper_left):
                # Cancelled: the block under way has printed; stop after it.
                return PrintResult(index, total, sent, complete=index == total)
        return PrintResult(blocks=total, total_blocks=total, bytes_sent=sent)

    async def print_raw(self, data: bytes) -> PrintResult:
        """Print ``data`` through `feed` (answers to requests in it go nowhere).

        Raises:
            CoverOpen, PaperOut, MediaJam, DeviceNotReady: as `print_document`
            (``printed_blocks`` and ``total_blocks`` ``None``).
        """
        await self._reply_delay()
        self._ready_to_print()
        before = self._paper_left
        self.feed(bytes(data))
        self._check_stopped(printed=None, total=None, sent=len(data))
        done = await self._printing(before - self._paper_left)
        return PrintResult(blocks=0, total_blocks=0, bytes_sent=len(data), complete=done)

    async def control_media(self, action: MediaControl) -> None:
        """Cut (GS V 0 through `feed`), eject or retract the receipt at the exit.

        Raises:
            UnsupportedOperation: no cutter, or no presenter for eject and retract.
            NoMedia: no receipt at the exit to eject or retract.
            RetainBinFull: the retract bin is full.
            CoverOpen, MediaJam, DeviceNotReady: the printer cannot move paper.
        """
        await self._reply_delay()
        media = MediaControl(action)
        p = self.profile
        if media is MediaControl.CUT and not p.cutter:
            raise UnsupportedOperation(f"{self.name} has no cutter")
        if media is not MediaControl.CUT and not p.presenter:
            raise UnsupportedOperation(f"{self.name} has no presenter to {media.value}")
        self._ready_to_print()
        if media is MediaControl.CUT:
            self.feed(b"\x1dV\x00")
            return
        if self._presented is None:
            raise NoMedia(f"{self.name}: no receipt at the exit to {media.value}")
        if media is MediaControl.EJECT:
            self._eject()
        else:
            self._retract()
        self._changed()

    async def reset(self) -> None:
        """Reset: the buffer cleared (the decoder's state and the line under way), a
        jam cleared (the operator freed the paper).

        Raises:
            DeviceNotReady: no power.
        """
        await self._reply_delay()
        self._require_power()
        self._decoder = EscPosDecoder()
        self._jam_after = None
        self._recover(clear_buffers=True)
        self._changed()

    def _recover_request(self, n: int) -> None:
        """DLE ENQ ``n``: 1 recovers from a recoverable error (printing resumes at the
        line of the error), 2 clears the receive and print buffers first; acted on only
        while such an error stands (here: a jam), ignored otherwise."""
        if n in (1, 2) and self._jammed:
            self._recover(clear_buffers=n == 2)

    def _recover(self, *, clear_buffers: bool) -> None:
        """Recover from a jam (the operator freed the paper): the one path of `reset`
        and DLE ENQ."""
        if self._jammed:
            log.info("%s: recovered from the jam", self.name)
        self._jammed = False
        if clear_buffers:
            self._drop_line_buffer()

    def __repr__(self) -> str:
        return (
            f"PrinterModel({self.name!r}, {self.profile.name}, paper_left={self._paper_left}, "
            f"receipts={len(self._receipts)})"
        )

    # --- the paper -------------------------------------------------------------------------

    def _can_print(self) -> bool:
        return self._online and not self._cover_open and not self._jammed and not self._stopped

    def _apply(self, op: ops.Operation, replies: list[bytes]) -> None:
        if isinstance(op, ops.StatusRequest) and op.kind is ops.StatusKind.REAL_TIME_REQUEST:
            self._recover_request(op.n)
            return
        if isinstance(op, ops.StatusRequest):
            answer = self._answer(op)
            if answer:
                replies.append(answer)
            return
        if isinstance(op, ops.ProcessIdRequest):
            if self._can_print():
                replies.append(build_process_id_reply(op.ident))
            return
        if isinstance(op, ops.Presenter):
            self._presenter(op)
            return
        if not self._can_print():
            return  # offline: the data goes nowhere
        if isinstance(op, ops.Cut) and not self.profile.cutter:
            return  # no cutter: a printer ignores the cut
        self._print(op)

    def _answer(self, op: ops.StatusRequest) -> bytes:
        if op.kind is ops.StatusKind.REAL_TIME:
            return self.status_byte(op.n)
        if op.kind is ops.StatusKind.TRANSMIT and op.n in (1, 49):
            level = self._level()
            return build_paper_sensor(
                PaperSensor(
                    near_end=level in (PaperStatus.LOW, PaperStatus.OUT),
                    paper_end=level is PaperStatus.OUT,
                )
            )
        if op.kind is ops.StatusKind.TRANSMIT and op.n in (2, 50):
            return b"\x00"  # no drawer
        if op.kind is ops.StatusKind.PRINTER_ID:
            return self._printer_id(op.n)
        return b""

    def _printer_id(self, n: int) -> bytes:
        p = self.profile
        if n in (1, 49):
            return b"\x20"  # model ID
        if n in (2, 50):
            return bytes((0x02 if p.cutter else 0x00,))  # type ID: b1 autocutter
        if n in (3, 51):
            return b"\x10"  # ROM version ID
        texts = {65: "1.00", 66: "TELLERHAL", 67: p.model_name, 68: "SIM00001", 69: "GB18030"}
        text = texts.get(n)
        return b"_" + text.encode("ascii") + b"\x00" if text is not None else b""

    def _presenter(self, op: ops.Presenter) -> None:
        if not self.profile.presenter or self._presented is None:
            return
        if op.action == "eject":
            self._eject()
        elif op.action == "retract":
            try:
                self._retract()
            except RetainBinFull as exc:
                log.info("%s: %s", self.name, exc)

    def _print(self, op: ops.Operation) -> None:
        paper = self._paper
        if isinstance(op, ops.LineSpacing):
            paper.spacing = op
        elif isinstance(op, ops.Initialize):
            paper.spacing = None
        paper.printed.append(op)
        paper.window.append(op)
        laid = layout(paper.window, paper.dots)
        new = laid.rows[paper.counted :]
        need = _lines(new)
        limit = self._paper_left
        if self._jam_after is not None:
            limit = min(limit, self._jam_after)
        if need > limit:
            self._run_out(limit)
            return
        self._consume(need, new)
        paper.counted = len(laid.rows)
        if laid.pending is None:
            self._new_window()
        if any(isinstance(row, CutRow) for row in new):
            self._close_piece(cut=True)

    def _consume(self, need: int, rows: Sequence[Row]) -> None:
        self._paper_left -= need
        if self._jam_after is not None:
            self._jam_after -= need
        self._printed_log.extend(text_lines(rows, self._paper.dots))
        if self._level() is not self._last_level:
            self._changed()  # a threshold crossed mid-job is announced where it happened

    def _run_out(self, room: int) -> None:
        """The row under way does not fit in ``room`` lines: print what fits, then stop
        (the paper ended) or jam."""
        paper = self._paper
        window = paper.window
        jam = self._jam_after is not None and self._jam_after < self._paper_left
        # The window as laid out from an empty line buffer, its rows up to `counted`
        # already on paper.
        full = layout(window, paper.dots)
        done = full.rows[: paper.counted]
        kept, _ = _fit(window, _lines(done) + room, paper.dots)
        laid = layout(kept, paper.dots)
        new = laid.rows[paper.counted :]
        self._consume(_lines(new), new)
        del paper.printed[paper.start :]
        paper.printed.extend(kept)
        if jam:
            self._jammed = True
            self._jam_after = None
            log.info("%s: the paper jammed", self.name)
        else:
            self._stopped = True
            self._paper_left = 0
            log.info("%s: the paper ran out", self.name)
        self._new_window()

    def _new_window(self) -> None:
        paper = self._paper
        paper.window = [paper.spacing] if paper.spacing is not None else []
        paper.counted = 0
        paper.start = len(paper.printed)

    def _drop_line_buffer(self) -> None:
        """Forget the line under way (a reset clears the printer's buffer)."""
        paper = self._paper
        if paper.window and layout(paper.window, paper.dots).pending is not None:
            kept, _ = _fit(paper.window, _lines(layout(paper.window, paper.dots).rows), paper.dots)
            del paper.printed[paper.start :]
            paper.printed.extend(kept)
        self._new_window()

    def _close_piece(self, *, cut: bool) -> None:
        paper = self._paper
        piece = Receipt(tuple(paper.printed), paper.dots, paper_out=self._stopped, cut=cut)
        self._receipts.append(piece)
        del self._receipts[:-MAX_RECEIPTS]
        paper.printed = []
        paper.window = [paper.spacing] if paper.spacing is not None else []
        paper.counted = 0
        paper.start = 0
        if not cut:
            return
        if self.profile.presenter:
            if self._presented is not None:
                try:
                    self._retract()
                except RetainBinFull:
                    self._eject()
            self._presented = piece
            self._emit(MediaPresented())
        else:
            self._untaken = piece
        self._signal.notify()

    def _eject(self) -> None:
        self._presented = None
        self.ejected += 1
        log.info("%s: the receipt is ejected to the customer", self.name)
        self._signal.notify()

    def _retract(self) -> None:
        cap = self.profile.retract_capacity
        if self.retracted >= cap:
            raise RetainBinFull(f"{self.name}: the retract bin holds {cap} receipts; it is full")
        self._presented = None
        self.retracted += 1
        log.info("%s: the receipt is retracted (%d in the bin)", self.name, self.retracted)
        self._signal.notify()

    # --- checks and status ---------------------------------------------------------------

    def _require_power(self) -> None:
        if not self._powered:
            raise DeviceNotReady(f"{self.name} is powered off")

    def _ready_to_print(self, total: int | None = None) -> None:
        self._require_power()
        if not self._online:
            raise DeviceNotReady(f"{self.name} is offline")
        if self._cover_open:
            raise CoverOpen(f"{self.name}: the cover is open; nothing was printed")
        if self._jammed:
            raise MediaJam(f"{self.name}: the paper is jammed; reset after clearing it")
        if self._stopped or self._paper_left == 0:
            raise PaperOut(
                f"{self.name}: out of paper; nothing was printed",
                printed_blocks=0 if total is not None else None,
                total_blocks=total,
                bytes_sent=0,
            )

    def _check_stopped(self, *, printed: int | None, total: int | None, sent: int) -> None:
        if self._jammed:
            where = f" after {printed} of {total} blocks" if total is not None else ""
            raise MediaJam(f"{self.name}: the paper jammed{where} ({sent} bytes sent)")
        if self._stopped:
            where = f" after {printed} of {total} blocks" if total is not None else ""
            raise PaperOut(
                f"{self.name}: the paper ran out{where} ({sent} bytes sent)",
                printed_blocks=printed,
                total_blocks=total,
                bytes_sent=sent,
            )

    def _offline_now(self) -> bool:
        return not self._can_print() or self._level() is PaperStatus.OUT

    def _level(self) -> PaperStatus:
        if self._stopped or self._paper_left <= 0:
            return PaperStatus.OUT
        if self.profile.near_end_sensor and self._paper_left <= self.near_end_lines:
            return PaperStatus.LOW
        return PaperStatus.FULL

    def _status(self) -> PrinterStatus:
        if not self._powered:
            return PrinterStatus(
                device=DeviceState.POWER_OFF,
                media=PrintMediaStatus.UNKNOWN,
                paper=PaperStatus.UNKNOWN,
                cover_open=self._cover_open,
            )
        device = DeviceState.ONLINE
        if not self._online:
            device = DeviceState.OFFLINE
        elif self._jammed:
            device = DeviceState.HARDWARE_ERROR
        if self._jammed:
            media = PrintMediaStatus.JAMMED
        elif self._presented is not None:
            media = PrintMediaStatus.PRESENT
        else:
            media = PrintMediaStatus.NOT_PRESENT
        paper = PaperStatus.JAMMED if self._jammed else self._level()
        return PrinterStatus(device=device, media=media, paper=paper, cover_open=self._cover_open)

    def _emit(self, event: MediaPresented | MediaTaken | PaperThreshold) -> None:
        listener = self._listener
        if listener is not None:
            listener.event(event)

    def _changed(self) -> None:
        """Report a new paper level (`PaperThreshold`, once per crossing) and a new
        status; wake the waiters."""
        level = self._level()
        if level is not self._last_level:
            self._last_level = level
            self._emit(PaperThreshold(paper=level))
        listener = self._listener
        if listener is not None:
            status = self._status()
            if status != self._last_status:
                self._last_status = status
                listener.status_changed(status)
        self._signal.notify()

    async def _printing(self, lines: int) -> bool:
        """Take the time ``lines`` printed lines take; ``False`` if cancelled meanwhile
        (the backend contract: finish the block under way, then say how far it got)."""
        if not (self._line_time_s and lines > 0):
            return True
        try:
            await self.clock.sleep(lines * self._line_time_s)
        except asyncio.CancelledError:
            return False
        return True

    async def _reply_delay(self, *, opening: bool = False) -> None:
        await reply_delay(
            self.clock,
            self._reply_delay_s,
            name=self.name,
            listener=lambda: self._listener,
            signal=self._signal,
            opening=opening,
        )
