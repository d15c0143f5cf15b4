"""``tellerhal demo``: the main job, on the embedded simulator."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from hal.errors import HalError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` sub-command."""
    parser = sub.add_parser(
        "demo",
        help="a scripted customer uses the simulated kiosk through the public API",
        description=(
            "Runs a kiosk app against the in-process simulator: a scripted customer "
            "inserts a chip card, the app reads its tracks and its EMV application, the "
            "customer types a PIN on the PIN pad and the app gets its ISO-0 PIN block "
            "(never the PIN), the card is ejected and the customer takes it, then a new "
            "card is issued; the receipt is printed (its lines on the journal too) and its "
            "picture saved as a PNG. Each step prints its timing."
        ),
    )
    parser.add_argument(
        "--scenario",
        default="demo",
        help="a scenario name from simulator/scenarios or a path to one (default: demo)",
    )
    parser.add_argument(
        "--clock-scale",
        type=float,
        default=None,
        metavar="X",
        help="real seconds per simulated second (0.01 runs 100 times faster)",
    )
    parser.add_argument(
        "--receipt-png",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tellerhal-receipt.png",
        metavar="PATH",
        help="where to save the picture of the receipt printed at the end "
        "(default: tellerhal-receipt.png in the temporary directory)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when the customer got the card back and all went to plan
    (chip and stripe agree; with a PIN pad, a PIN block was made; the receipt drawn
    without a missing glyph)."""
    from tellerhal.demo import run_demo

    if args.clock_scale is not None and not args.clock_scale > 0:
        print("tellerhal demo: --clock-scale must be > 0", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(
            run_demo(
                scenario=args.scenario,
                clock_scale=args.clock_scale,
                receipt_png=args.receipt_png,
            )
        )
    except HalError as exc:
        print(f"tellerhal demo: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print("tellerhal demo: the scripted customer did not finish in time", file=sys.stderr)
        return 1
    if result.pin_pad and not result.pin_block:
        print("tellerhal demo: no PIN block was made", file=sys.stderr)
        return 1
    if result.identity is not None and not result.identity.passed:
        print("tellerhal demo: the identity check did not pass", file=sys.stderr)
        return 1
    if result.receipt is not None and result.receipt.missing_glyphs:
        chars = " ".join(f"U+{ord(ch):04X}" for ch in sorted(result.receipt.missing_glyphs))
        print(f"tellerhal demo: the receipt font has no glyph for {chars}", file=sys.stderr)
        return 1
    return 0 if result.chip_and_stripe_agree else 1
