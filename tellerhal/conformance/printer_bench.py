"""A person at the bench as the Printer suite's `PrinterStimulus`.

`BenchPrinterStimulus` asks the person at the printer under test to take the receipt
from the exit, to open and close the cover, to put in a nearly used roll, a roll that
ends soon, and a new roll, then waits for Enter. A jam cannot be made on request
(`UnsupportedOperation`: that case is skipped naming ``jam_stimulus``), and what the
paper shows is for the person's eyes (`printed_lines` is ``None``): the cases check
the results, errors, events and statuses the printer reports.
"""

from __future__ import annotations

from hal.stimulus import PrinterStimulus
from tellerhal.conformance.bench import _Person

__all__ = ["BenchPrinterStimulus"]


class BenchPrinterStimulus(_Person, PrinterStimulus):
    """Asks a person at the bench to act on the printer under test."""

    async def take_receipt(self, *, timeout: float = 10.0) -> None:
        await self._prompt("Take the receipt from the printer's exit, then press Enter.")

    async def paper_runs_out(self, *, after_lines: int = 0) -> None:
        await self._prompt(
            f"Put in a roll with paper for about {after_lines} more lines (0: take the roll "
            "out), close the cover, then press Enter."
        )

    async def paper_low(self) -> None:
        await self._prompt(
            "Put in a roll past its near-end mark (the near-end sensor uncovered), close the "
            "cover, then press Enter."
        )

    async def replenish(self) -> None:
        await self._prompt("Put in a new roll of paper, close the cover, then press Enter.")

    async def open_cover(self) -> None:
        await self._prompt("Open the printer's cover and leave it open, then press Enter.")

    async def close_cover(self) -> None:
        await self._prompt("Close the printer's cover, then press Enter.")
