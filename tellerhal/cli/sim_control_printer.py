"""``tellerhal sim-control``'s printer actions (`tellerhal.cli.sim_control` describes
them): their names, their arguments and what each does over the control socket.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ACTIONS", "act", "add_actions"]

#: The printer's actions (``--device`` defaults to ``receipt_printer``).
ACTIONS = frozenset(
    {
        "take-receipt",
        "paper-out",
        "paper-low",
        "replenish-paper",
        "open-cover",
        "close-cover",
        "jam-printer",
        "printed",
    }
)


def add_actions(
    actions: argparse._SubParsersAction[Any], count: Callable[[str], int]
) -> tuple[argparse.ArgumentParser, ...]:
    """Add the printer's actions to ``actions``; returns those that take ``--timeout``
    (``count`` parses ``--after``)."""
    take_receipt = actions.add_parser(
        "take-receipt", help="wait for a cut receipt at the printer's exit and take it"
    )
    paper_out = actions.add_parser("paper-out", help="the printer's paper roll runs out")
    actions.add_parser("paper-low", help="the printer's paper roll reaches its near end")
    actions.add_parser("replenish-paper", help="an operator puts a new paper roll in")
    actions.add_parser("open-cover", help="someone opens the printer's cover")
    actions.add_parser("close-cover", help="the printer's cover is closed again")
    jam_printer = actions.add_parser("jam-printer", help="the printer's next job jams")
    for after in (paper_out, jam_printer):
        after.add_argument(
            "--after",
            type=count,
            default=0,
            metavar="N",
            help="lines that print first (default 0: at once)",
        )
    printed = actions.add_parser(
        "printed", help="the text lines the printer printed since the last time asked"
    )
    printed.add_argument("--png", metavar="FILE", help="save the newest receipt's PNG here")
    return (take_receipt,)


async def act(endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    from simulator.remote_control import RemotePrinterControl

    printer = RemotePrinterControl(endpoint, args.device, timeout=args.timeout)
    action: str = args.action
    if action == "take-receipt":
        await printer.take_receipt(timeout=args.timeout)
    elif action == "paper-out":
        await printer.paper_runs_out(after_lines=args.after)
    elif action == "paper-low":
        await printer.paper_low()
    elif action == "replenish-paper":
        await printer.replenish()
    elif action == "open-cover":
        await printer.open_cover()
    elif action == "close-cover":
        await printer.close_cover()
    elif action == "jam-printer":
        await printer.jam_next(after_lines=args.after)
    elif action == "printed":
        lines = list(await printer.printed_lines() or ())
        if args.png is None:
            return {"lines": lines}
        _, png = await printer.last_receipt()
        await asyncio.to_thread(Path(args.png).write_bytes, png)
        return {"lines": lines, "png": args.png, "pngBytes": len(png)}
    return {}
