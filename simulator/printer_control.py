"""What the customer at a printer's exit, the operator and fate do: `SimPrinterControl`.

`SimPrinterControl` implements `hal.stimulus.PrinterStimulus` over a simulated
`simulator.models.printer.PrinterModel`, never through the hal service: the customer
takes the receipt, the roll runs out (now or after some lines) or reaches its near end,
an operator puts in a new roll, opens and closes the cover, the next job jams. It also
reads the paper: `printed_lines` (the text form of what printed since the last call)
and the newest receipt as text and as a PNG (`last_receipt_text`, `last_receipt_png`),
which the demo saves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hal.errors import HalTimeout, NoMedia, UnsupportedOperation
from hal.stimulus import PrinterStimulus
from simulator.models.printer import PrinterModel, Receipt

__all__ = ["SimPrinterControl"]


class SimPrinterControl(PrinterStimulus):
    """The world around one simulated printer.

    Args:
        model: the printer acted on.
    """

    def __init__(self, model: PrinterModel) -> None:
        self._model = model

    @property
    def model(self) -> PrinterModel:
        """The printer acted on."""
        return self._model

    # --- PrinterStimulus -----------------------------------------------------------------

    async def take_receipt(self, *, timeout: float = 10.0) -> None:
        """Wait (``timeout`` real seconds) for a cut receipt, then take it (on a printer
        with a presenter: `MediaTaken`).

        Raises:
            UnsupportedOperation: a printer with no cutter (a journal) makes no receipts.
            HalTimeout: none came in time.
        """
        model = self._model
        if not model.profile.cutter:
            raise UnsupportedOperation(f"{model.name} has no cutter: it makes no receipts")
        try:
            async with asyncio.timeout(timeout):
                await model.wait_until(model.receipt_waiting)
        except TimeoutError:
            raise HalTimeout(f"{model.name}: no receipt to take within {timeout:g} s") from None
        model.take()

    async def paper_runs_out(self, *, after_lines: int = 0) -> None:
        """The roll ends after ``after_lines`` more printed lines (0: now)."""
        self._model.paper_runs_out(after_lines)

    async def paper_low(self) -> None:
        """The roll reaches its near end."""
        self._model.paper_low()

    async def replenish(self) -> None:
        """An operator puts in a new roll (the piece under way is torn off)."""
        self._model.replenish()

    async def open_cover(self) -> None:
        """Someone opens the cover."""
        self._model.set_cover(True)

    async def close_cover(self) -> None:
        """The cover is closed again."""
        self._model.set_cover(False)

    async def jam_next(self, *, after_lines: int = 0) -> None:
        """The paper jams during the next job, once ``after_lines`` lines have printed."""
        self._model.jam_next(after_lines)

    async def printed_lines(self) -> Sequence[str] | None:
        """The text lines printed since the last call (CJK characters two columns;
        barcodes, QR codes, images and cuts as the renderer marks them)."""
        return self._model.take_printed_lines()

    # --- more of fate and the paper ------------------------------------------------------

    async def power_loss(self, on: bool = True) -> None:
        """Cut the power (``on=True``) or restore it."""
        self._model.set_power(not on)

    async def offline(self, on: bool = True) -> None:
        """Put the printer offline (``on=True``) or back online."""
        self._model.set_online(not on)

    async def slow_print(self, seconds_per_line: float) -> None:
        """Every printed line takes ``seconds_per_line`` simulated seconds (0: at once)."""
        self._model.set_line_time(seconds_per_line)

    async def slow_replies(self, seconds: float) -> None:
        """Every backend call waits ``seconds`` simulated seconds first (0: none)."""
        self._model.set_reply_delay(seconds)

    async def retracted_count(self) -> int:
        """Receipts physically in the retract bin."""
        return self._model.retracted

    def last_receipt_text(self) -> str:
        """The newest paper's text form (the piece under way if anything printed on it
        since the last cut, else the last receipt cut).

        Raises:
            NoMedia: nothing printed yet.
        """
        return self._last().text

    def last_receipt_png(self) -> bytes:
        """The newest paper as a 1-bit PNG at the printer's dot width (needs the
        ``render`` extra and a CJK font).

        Raises:
            NoMedia: nothing printed yet.
        """
        return self._last().png()

    def _last(self) -> Receipt:
        receipt = self._model.last_receipt()
        if receipt is None:
            raise NoMedia(f"{self._model.name} has printed nothing yet")
        return receipt

    def __repr__(self) -> str:
        return f"SimPrinterControl({self._model!r})"
