"""The state of the simulated printer (`simulator.models.printer`).

`PrinterCore` holds what `PrinterModel` is built on: the roll and the piece under way,
how an operation prints on the paper (stopping where the paper ends or jams), the cut
receipts and the presenter's exit, and the status it reports. `PrinterWire` adds the
byte-level entry (`feed` and its answers); the model adds what the world does and the
`PrinterBackend` calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from hal.device import BackendListener, DeviceState
from hal.devices.printer import (
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    PrinterStatus,
    PrintMediaStatus,
)
from hal.errors import CoverOpen, DeviceNotReady, MediaJam, PaperOut, RetainBinFull
from hal.events import Notifier
from protocols import escpos_ops as ops
from protocols.escpos_decoder import EscPosDecoder
from simulator.clock import SimClock, reply_delay
from simulator.models.printer_paper import PaperPath, fit, lines_taken
from simulator.models.printer_profiles import MAX_RECEIPTS, PRINTER_PROFILES, Receipt
from simulator.printer_text import CutRow, Row, layout, text_lines

__all__ = ["PrinterCore"]

# The model's logger keeps its name (one logger for the printer's messages).
log = logging.getLogger("simulator.models.printer")


class PrinterCore:
    """The printer's state and its paper path (see `simulator.models.printer`; the
    arguments are `PrinterModel`'s)."""

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
        self._paper = PaperPath(self.profile.dots)
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

    def _recover(self, *, clear_buffers: bool) -> None:
        """Recover from a jam (the operator freed the paper): the one path of `reset`
        and DLE ENQ."""
        if self._jammed:
            log.info("%s: recovered from the jam", self.name)
        self._jammed = False
        if clear_buffers:
            self._drop_line_buffer()

    # --- the paper -------------------------------------------------------------------------

    def _can_print(self) -> bool:
        return self._online and not self._cover_open and not self._jammed and not self._stopped

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
        need = lines_taken(new)
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
        kept, _ = fit(window, lines_taken(done) + room, paper.dots)
        laid = layout(kept, paper.dots)
        new = laid.rows[paper.counted :]
        self._consume(lines_taken(new), new)
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
            kept, _ = fit(
                paper.window, lines_taken(layout(paper.window, paper.dots).rows), paper.dots
            )
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
