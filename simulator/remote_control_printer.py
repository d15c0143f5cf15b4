"""`RemotePrinterControl`: the customer at a printer's exit, the operator and fate of a
``tellerhal sim``, over the control socket (re-exported by `simulator.remote_control`).
"""

from __future__ import annotations

from collections.abc import Sequence

from hal.stimulus import (
    PrinterStimulus,
)
from simulator.control_commands import (
    LastReceiptCompletion,
    PaperOutPayload,
    PrintedLinesCompletion,
    TakeCardPayload,
)
from simulator.remote_control_base import _RemoteDeviceControl


class RemotePrinterControl(_RemoteDeviceControl, PrinterStimulus):
    """The customer at the exit, the operator and fate at a printer of a ``tellerhal
    sim`` (the methods of `simulator.printer_control.SimPrinterControl`).

    Args:
        endpoint: the simulator's control socket.
        device: the printer's device name (``receipt_printer``, ``journal_printer``).
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(
        self, endpoint: str, device: str = "receipt_printer", *, timeout: float = 5.0
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    # --- PrinterStimulus -----------------------------------------------------------------

    async def take_receipt(self, *, timeout: float = 10.0) -> None:
        """Wait (``timeout`` real seconds) for a cut receipt and take it.

        Raises:
            HalTimeout: none came in time. UnsupportedOperation: a journal printer.
        """
        await self._call("Control.TakeReceipt", TakeCardPayload(timeout), wait=timeout)

    async def paper_runs_out(self, *, after_lines: int = 0) -> None:
        """The roll ends after ``after_lines`` more printed lines (0: now)."""
        await self._call("Control.PaperOut", PaperOutPayload(after_lines))

    async def paper_low(self) -> None:
        """The roll reaches its near end."""
        await self._call("Control.PaperLow")

    async def replenish(self) -> None:
        """An operator puts in a new roll."""
        await self._call("Control.ReplenishPaper")

    async def open_cover(self) -> None:
        """Someone opens the cover."""
        await self._call("Control.OpenCover")

    async def close_cover(self) -> None:
        """The cover is closed again."""
        await self._call("Control.CloseCover")

    async def jam_next(self, *, after_lines: int = 0) -> None:
        """The next job jams once ``after_lines`` lines have printed."""
        await self._call("Control.JamPrinter", PaperOutPayload(after_lines))

    async def printed_lines(self) -> Sequence[str] | None:
        """The text lines printed since the last call."""
        done = await self._call("Control.PrintedLines")
        assert isinstance(done, PrintedLinesCompletion)
        return list(done.lines)

    # --- the paper -----------------------------------------------------------------------

    async def last_receipt(self) -> tuple[str, bytes]:
        """The newest paper's text form and PNG.

        Raises:
            NoMedia: nothing printed yet.
        """
        done = await self._call("Control.LastReceipt", wait=30.0)
        assert isinstance(done, LastReceiptCompletion)
        return done.text, done.png
