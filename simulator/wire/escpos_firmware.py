"""`EscPosFirmware`: what an ESC/POS printer does with the bytes it is sent.

The bytes are decoded with `protocols.escpos_decoder` (the one decoder the simulator
and the renderer share), as a printer's command interpreter would: printable
operations go on the paper (`printed`, laid out as text by `simulator.printer_text`),
requests are answered from the printer's state:

- DLE EOT 1-4 (real-time status, `protocols.escpos_status`), answered even when the
  printer is offline; the Custom full status ``10 04 14`` on a printer with a
  presenter; GS r 1 (paper sensor); GS I 65/66/67 (``5F text 00``: firmware, maker,
  model) and 1-3 (one ID byte) unless ``identify`` is off.
- GS ( H fn 48: the process ID ``37 22 d1..d4 00`` once everything before it has
  printed; an offline printer (paper out, cover open, jam) prints nothing and answers
  no process ID.
- 1D 65 05 / 02 (presenter eject / retract) move a cut receipt to the exit or into the
  retract bin; `take_receipt` is the customer taking it.

Paper is counted in lines: a LF, each line of ESC d, a barcode, a QR code or an image
is one. `paper_runs_out(after_lines)` lets that many more lines print, then the paper
ends: the line under way and everything after it is not printed (what was printed
stays), and the printer is offline with DLE EOT 2 "stopped on paper end" and DLE EOT 4
"near end + end" (the golden 1A / 32 / 7E of protocols.md 7 #44). `jam_next(after_lines)`
is the same with a mechanical error (DLE EOT 3 bit 2). ``open_cover`` makes it
offline with DLE EOT 2 bit 2 set.

This is PRINTER-DRIVER's own small printer, written before the simulator's printer
model (`simulator.models.printer`) was there; the wire emulator only needs `feed`.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocols import escpos_ops as ops
from protocols.errors import ProtocolError
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
from simulator.printer_text import layout, text_lines

__all__ = ["EscPosFirmware"]

_PAPER_LINE = (ops.Barcode, ops.QrCode, ops.RasterImage)


class EscPosFirmware:
    """A simulated ESC/POS printer's interpreter and mechanism (see the module header).

    Args:
        dots_per_line: the printable width (576: 80 mm, 384: 58 mm).
        presenter: it has a presenter (1D 65, the full status's ticket sensor).
        identify: it answers GS I.
        model, firmware, maker: what GS I 67 / 65 / 66 answer.
    """

    def __init__(
        self,
        *,
        dots_per_line: int = 576,
        presenter: bool = False,
        identify: bool = True,
        model: str = "TH-SIM80",
        firmware: str = "1.00",
        maker: str = "tellerhal",
    ) -> None:
        self.dots_per_line = dots_per_line
        self.presenter = presenter
        self.identify = identify
        self.model, self.firmware, self.maker = model, firmware, maker
        self._decoder = EscPosDecoder()
        #: The operations that went on the paper, in order.
        self.printed: list[ops.Operation] = []
        self._line: list[ops.Operation] = []
        #: Lines of paper used.
        self.lines = 0
        self._paper_left: int | None = None
        self._jam_at: int | None = None
        self.paper_end = False
        self.near_end = False
        self.cover_open = False
        self.jammed = False
        self.receipt_inside = False
        self.ticket_out = False
        self.retracted = 0
        #: Receipts the customer took.
        self.taken = 0
        #: Every request answered, by kind (``DLE EOT 1``, ``GS ( H``...).
        self.requests: list[str] = []
        #: Bytes dropped because the printer was offline.
        self.dropped = 0
        #: Decoding errors (the stream was reset after each).
        self.errors: list[str] = []

    # --- the state the tests set (the printer's "stimulus") ----------------------------

    def paper_runs_out(self, after_lines: int = 0) -> None:
        """Print ``after_lines`` more lines, then the paper ends."""
        self._paper_left = max(0, after_lines)
        self.near_end = True

    def paper_low(self, low: bool = True) -> None:
        self.near_end = low

    def replenish(self) -> None:
        """A new roll: paper full, the printer online again (if nothing else stops it)."""
        self._paper_left = None
        self.paper_end = False
        self.near_end = False

    def open_cover(self) -> None:
        self.cover_open = True

    def close_cover(self) -> None:
        self.cover_open = False

    def jam_next(self, after_lines: int = 0) -> None:
        """Jam after ``after_lines`` more lines."""
        self._jam_at = self.lines + max(0, after_lines)

    def clear_jam(self) -> None:
        self.jammed = False
        self._jam_at = None

    def take_receipt(self) -> bool:
        """The customer takes the receipt at the exit (False: none was there)."""
        if not self.ticket_out:
            return False
        self.ticket_out = False
        self.taken += 1
        return True

    @property
    def offline(self) -> bool:
        return self.paper_end or self.cover_open or self.jammed

    # --- what was printed ----------------------------------------------------------------

    def text_lines(self) -> list[str]:
        """The paper as text, column for column (`simulator.printer_text`)."""
        return text_lines(layout(self.printed, self.dots_per_line).rows, self.dots_per_line)

    # --- the bytes -------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Interpret ``data``; return what the printer answers."""
        try:
            operations: Sequence[ops.Operation] = self._decoder.feed(data)
        except ProtocolError as exc:
            self.errors.append(str(exc))
            self._decoder = EscPosDecoder()
            return b""
        out = bytearray()
        for op in operations:
            out += self._do(op)
        return bytes(out)

    def _do(self, op: ops.Operation) -> bytes:
        if isinstance(op, ops.StatusRequest):
            return self._answer(op)
        if isinstance(op, ops.ProcessIdRequest):
            self.requests.append("GS ( H")
            return b"" if self.offline else build_process_id_reply(op.ident)
        if isinstance(op, ops.Presenter):
            self._presenter(op.n)
            return b""
        if self.offline:
            self.dropped += 1
            return b""
        if isinstance(op, ops.Initialize):
            self._line.clear()
            self.printed.append(op)
        elif isinstance(op, ops.LineFeed):
            self._paper(1, op)
        elif isinstance(op, ops.PrintAndFeed):
            self._paper(max(1, op.lines), op)
        elif isinstance(op, _PAPER_LINE):
            self._paper(1, op)
        elif isinstance(op, ops.Cut):
            self._commit(op)
            if self.presenter:
                self.receipt_inside = True
        else:
            self._line.append(op)
        return b""

    def _paper(self, lines: int, op: ops.Operation) -> None:
        for _ in range(lines):
            if self._jam_at is not None and self.lines >= self._jam_at:
                self.jammed = True
                self._jam_at = None
            elif self._paper_left is not None and self._paper_left <= 0:
                self.paper_end = True
            if self.offline:
                self._line.clear()
                return
            self.lines += 1
            if self._paper_left is not None:
                self._paper_left -= 1
        self._commit(op)

    def _commit(self, op: ops.Operation) -> None:
        self.printed.extend(self._line)
        self._line.clear()
        self.printed.append(op)

    def _presenter(self, n: int) -> None:
        if n == 5 and self.receipt_inside:  # eject: to the exit
            self.receipt_inside = False
            self.ticket_out = True
        elif n == 2 and (self.receipt_inside or self.ticket_out):  # retract
            self.receipt_inside = self.ticket_out = False
            self.retracted += 1

    def _answer(self, op: ops.StatusRequest) -> bytes:
        kind = f"{op.kind.value} {op.n}"
        self.requests.append(kind)
        if op.kind is ops.StatusKind.REAL_TIME:
            if op.n == 1:
                return build_real_time(PrinterState(offline=self.offline))
            if op.n == 2:
                return build_real_time(
                    OfflineCause(
                        cover_open=self.cover_open,
                        paper_end_stop=self.paper_end,
                        error=self.jammed,
                    )
                )
            if op.n == 3:
                return build_real_time(ErrorCause(mechanical=self.jammed))
            if op.n == 4:
                return build_real_time(
                    RollPaper(near_end=self.near_end or self.paper_end, paper_end=self.paper_end)
                )
            if op.n == 0x14 and self.presenter:
                return build_full_status(
                    FullStatus(
                        no_paper=self.paper_end,
                        near_end=self.near_end,
                        ticket_present=self.ticket_out,
                        cover_open=self.cover_open,
                    )
                )
            return b""
        if op.kind is ops.StatusKind.TRANSMIT and op.n in (1, 49):
            return build_paper_sensor(PaperSensor(near_end=self.near_end, paper_end=self.paper_end))
        if op.kind is ops.StatusKind.PRINTER_ID and self.identify:
            texts = {65: self.firmware, 66: self.maker, 67: self.model}
            if op.n in texts:
                return b"\x5f" + texts[op.n].encode("ascii") + b"\x00"
            if op.n in (1, 2, 3, 49, 50, 51):
                return bytes((0x20 + op.n % 16,))
        return b""
