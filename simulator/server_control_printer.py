"""What the control socket (`simulator.server_control.ControlServer`) does to a simulated
printer for each of its control commands (`simulator.control_commands_printer`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

from hal.errors import NoMedia
from simulator.control_commands import (
    LastReceiptCompletion,
    PrintedLinesCompletion,
)
from simulator.printer_control import SimPrinterControl

__all__ = ["PRINTER_ACTIONS"]


async def _printed_lines(control: SimPrinterControl, payload: Any) -> Any:
    return PrintedLinesCompletion(tuple(await control.printed_lines() or ()))


async def _last_receipt(control: SimPrinterControl, payload: Any) -> Any:
    receipt = control.model.last_receipt()  # a snapshot, taken on the loop
    if receipt is None:
        raise NoMedia(f"{control.model.name} has printed nothing yet")
    # Rendering takes milliseconds to tens of them: off the control socket's loop.
    png = await asyncio.to_thread(receipt.png)
    return LastReceiptCompletion(receipt.text, png)


PRINTER_ACTIONS: Final[dict[str, Callable[[SimPrinterControl, Any], Awaitable[Any]]]] = {
    "Control.TakeReceipt": lambda c, p: c.take_receipt(timeout=p.timeout),
    "Control.PaperOut": lambda c, p: c.paper_runs_out(after_lines=p.after_lines),
    "Control.PaperLow": lambda c, p: c.paper_low(),
    "Control.ReplenishPaper": lambda c, p: c.replenish(),
    "Control.OpenCover": lambda c, p: c.open_cover(),
    "Control.CloseCover": lambda c, p: c.close_cover(),
    "Control.JamPrinter": lambda c, p: c.jam_next(after_lines=p.after_lines),
    "Control.PrintedLines": _printed_lines,
    "Control.LastReceipt": _last_receipt,
    "Control.PowerLoss": lambda c, p: c.power_loss(p.on),
    "Control.SlowReplies": lambda c, p: c.slow_replies(p.seconds),
}
