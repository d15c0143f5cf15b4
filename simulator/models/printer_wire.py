"""The byte-level entry of the simulated printer (`simulator.models.printer`).

`PrinterWire.feed` is what the ESC/POS wire emulator is a shell over: it decodes the
bytes with `protocols.escpos_decoder`, prints the operations on the paper
(`PrinterCore`) and returns the printer's answers to the requests in them, in order:
DLE EOT 1-4 (and the Custom ``10 04 14`` full status), GS r 1, GS I n, and the
GS ( H fn 48 process ID once the data before it has printed. DLE ENQ 1/2 recovers from
a jam, and the presenter commands (1D 65) eject or retract the receipt at the exit.
"""

from __future__ import annotations

import logging

from hal.devices.printer import PaperStatus
from hal.errors import RetainBinFull
from protocols import escpos_ops as ops
from protocols.errors import ProtocolError
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
from simulator.models.printer_core import PrinterCore

__all__ = ["PrinterWire"]

# The model's logger keeps its name (one logger for the printer's messages).
log = logging.getLogger("simulator.models.printer")

#: The Custom full-status request (DLE EOT 20).
_FULL_STATUS_N = 0x14


class PrinterWire(PrinterCore):
    """The printer as its cable sees it (see the module docstring)."""

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

    def _recover_request(self, n: int) -> None:
        """DLE ENQ ``n``: 1 recovers from a recoverable error (printing resumes at the
        line of the error), 2 clears the receive and print buffers first; acted on only
        while such an error stands (here: a jam), ignored otherwise."""
        if n in (1, 2) and self._jammed:
            self._recover(clear_buffers=n == 2)

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
