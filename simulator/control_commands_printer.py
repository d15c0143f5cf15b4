"""The control commands of a simulated receipt or journal printer and what they carry
(`simulator.printer_control`; re-exported by `simulator.control_commands`, whose
docstring describes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from simulator.control_commands_base import (
    PRINTER,
    ControlCommand,
    TakeCardPayload,
)


@dataclass(frozen=True)
class PaperOutPayload:
    """``Control.PaperOut``, ``Control.JamPrinter``: lines that print first (0: now)."""

    after_lines: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.after_lines <= 10**7:
            raise ValueError(f"after_lines must be from 0 to 10000000, got {self.after_lines}")


@dataclass(frozen=True)
class PrintedLinesCompletion:
    """The text lines a printer printed since the last ``Control.PrintedLines``."""

    lines: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class LastReceiptCompletion:
    """The newest paper of a printer: its text form and its PNG (a blob)."""

    text: str
    png: bytes

    def __repr__(self) -> str:
        return f"LastReceiptCompletion(<{len(self.text)} characters>, <{len(self.png)} PNG bytes>)"


PRINTER_COMMANDS: Final[tuple[ControlCommand, ...]] = (
    ControlCommand("Control.TakeReceipt", TakeCardPayload, wait="timeout", target=PRINTER),
    ControlCommand("Control.PaperOut", PaperOutPayload, target=PRINTER),
    ControlCommand("Control.PaperLow", target=PRINTER),
    ControlCommand("Control.ReplenishPaper", target=PRINTER),
    ControlCommand("Control.OpenCover", target=PRINTER),
    ControlCommand("Control.CloseCover", target=PRINTER),
    ControlCommand("Control.JamPrinter", PaperOutPayload, target=PRINTER),
    ControlCommand("Control.PrintedLines", completion=PrintedLinesCompletion, target=PRINTER),
    ControlCommand("Control.LastReceipt", completion=LastReceiptCompletion, target=PRINTER),
)
"""The control commands of a printer (in `simulator.control_commands.COMMANDS`)."""
