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

Where the code lives: the builds and `Receipt` in `simulator.models.printer_profiles`,
fitting rows on the paper left in `simulator.models.printer_paper`, the state, paper
path and status in `simulator.models.printer_core` (`PrinterCore`), `feed` and its
answers in `simulator.models.printer_wire` (`PrinterWire`); this module keeps what the
world does and the backend calls, and every name above imports from here as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hal.device import BackendListener
from hal.devices.printer import (
    CodePage,
    Document,
    MediaControl,
    MediaTaken,
    PrinterCapabilities,
    PrinterStatus,
    PrintResult,
)
from hal.errors import DeviceNotReady, NoMedia, UnsupportedOperation
from protocols.escpos import encode_blocks
from protocols.escpos_decoder import EscPosDecoder
from simulator.models.printer_profiles import (
    MAX_RECEIPTS,
    PRINTER_PROFILES,
    PrinterProfile,
    Receipt,
)
from simulator.models.printer_wire import PrinterWire

__all__ = [
    "MAX_RECEIPTS",
    "PRINTER_PROFILES",
    "PrinterModel",
    "PrinterProfile",
    "Receipt",
]

log = logging.getLogger(__name__)


class PrinterModel(PrinterWire):
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

    def __repr__(self) -> str:
        return (
            f"PrinterModel({self.name!r}, {self.profile.name}, paper_left={self._paper_left}, "
            f"receipts={len(self._receipts)})"
        )
