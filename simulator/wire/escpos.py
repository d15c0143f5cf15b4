"""`EscPosEmulator`: a simulated ESC/POS printer on the device side of a wire.

The emulator is the printer's serial port (a pty through `simulator.wire.pty.
PtyBridge`) or, through `simulator.wire.escpos_usb`, its USB printer interface's bulk
pipes. It is a thin shell over the simulator's printer (`simulator.models.printer.
PrinterModel`): what the host sends goes to `PrinterModel.feed` (the model decodes it
with `protocols.escpos_decoder`, prints it on its paper, and answers DLE EOT n, GS r,
GS I and GS ( H process IDs from its state), and its answers are sent back. The real
``escpos`` driver, unmodified, runs against it.

Faults, for driver tests: paper out after N lines, near end, cover open, jam and the
presenter's receipt are the model's (`PrinterModel.paper_runs_out`, ``paper_low``,
``set_cover``, ``jam_next``, ``take``); the line's are `FaultyEmulator`'s: a silent
printer (`mute`), garbage before the next answer (`inject_garbage`) or at once
(`send_garbage`), the next status bytes garbled (`corrupt_next_statuses`: bits 0 and 7
set, so no longer a status byte), slow answers (`set_reply_delay`, real seconds).
``baud`` paces both directions like a UART (a bench).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from simulator.models.printer import PrinterModel
from simulator.wire.emulator_base import FaultyEmulator
from simulator.wire.link import WireLink, WirePacer

__all__ = ["EscPosEmulator", "EscPosStats", "printed_lines"]

log = logging.getLogger(__name__)


@dataclass
class EscPosStats:
    """What crossed the wire, counted by the emulator.

    Attributes:
        bytes_in, bytes_out: bytes received from / sent to the host (garbage included).
        answers: answers sent (one per chunk of the host's bytes that asked something).
        unanswered: answers not sent because the printer was muted.
        corrupted: status bytes sent garbled.
    """

    bytes_in: int = 0
    bytes_out: int = 0
    answers: int = 0
    unanswered: int = 0
    corrupted: int = 0


def printed_lines(model: PrinterModel) -> list[str]:
    """Everything the model's paper shows as text, oldest receipt first, the piece under
    way last (`simulator.printer_text`'s text form, column for column)."""
    lines: list[str] = []
    for receipt in model.receipts:
        lines += receipt.lines
    return lines + model.under_way().lines


class EscPosEmulator(FaultyEmulator):
    """An ESC/POS printer answering on a `WireLink` (an async context manager).

    Args:
        link: the device side of the wire.
        model: the printer (an 80 mm kiosk receipt printer when ``None``).
        baud: pace both directions like a UART at this rate; ``None``: no pacing.
        precise: pace with sub-millisecond precision (a bench).
    """

    def __init__(
        self,
        link: WireLink,
        model: PrinterModel | None = None,
        *,
        baud: int | None = None,
        precise: bool = False,
    ) -> None:
        stats = EscPosStats()
        super().__init__(
            link,
            WirePacer(baud, precise=precise),
            task_name="escpos emulator",
            power=None,
            stats=stats,
        )
        self.model = model if model is not None else PrinterModel()
        self.stats = stats
        #: Every byte the host sent, in order.
        self.received = bytearray()
        self._corrupt = 0

    def corrupt_next_statuses(self, count: int = 1) -> None:
        """Garble the next ``count`` one-byte answers (DLE EOT, GS r): bits 0 and 7 set."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._corrupt = count

    def lines(self) -> list[str]:
        """What the printer printed, as text (`printed_lines`)."""
        return printed_lines(self.model)

    async def _serve(self) -> None:
        generation = self.link.generation
        while True:
            data = await self.link.receive()
            if self.link.generation != generation:
                generation = self.link.generation
                self.pacer.reset()
            self.stats.bytes_in += len(data)
            self.received += data
            await self.pacer.received(len(data))
            try:
                answers = self.model.feed(data)
            except Exception:
                log.exception("escpos emulator: the model failed on %d bytes", len(data))
                continue
            answer = b"".join(self._garbled(a) for a in answers)
            if not answer:
                continue
            if self._muted:
                self.stats.unanswered += 1
                continue
            if self._reply_delay:
                await asyncio.sleep(self._reply_delay)
            self.stats.answers += 1
            await self._send(answer)

    def _garbled(self, answer: bytes) -> bytes:
        if self._corrupt and len(answer) == 1:
            self._corrupt -= 1
            self.stats.corrupted += 1
            return bytes((answer[0] | 0x81,))
        return answer

    def __repr__(self) -> str:
        return f"EscPosEmulator({self.model!r}, running={self._task is not None})"
