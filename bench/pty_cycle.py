"""What the pty benchmarks of the Creator drivers share (bench_crt310_pty, bench_crt591_pty).

Each runs a card cycle of the real driver, opened through ``hal.open`` on the ``serial``
transport, against its emulator on a `PtyBridge` paced like a UART, and compares the
cycle's elapsed time with the wire time of the bytes it took. Shared here: registering
the driver and the transport, timing the cycles against the emulator's byte counters,
printing the table (paced rows, then the unpaced one) and the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from hal import registry
from hal.errors import DriverNotFound
from hal.registry import DriverSpec
from hal.transports.serial import SERIAL_TRANSPORT
from simulator.wire.creator_emulator import EmulatorStats
from simulator.wire.link import BITS_PER_BYTE

GOAL = 1.2

#: measure(pacing baud or None, cycles, line baud) -> (bytes, wire s, elapsed s) per cycle.
Measure = Callable[[int | None, int, int], Awaitable[tuple[int, float, float]]]


def register(driver: DriverSpec) -> None:
    """The driver and the serial transport, if their entry points are not installed."""
    for spec, lookup in ((driver, registry.driver), (SERIAL_TRANSPORT, registry.transport)):
        try:
            lookup(spec.name)
        except DriverNotFound:
            registry.register(spec)


async def timed_cycles(
    stats: EmulatorStats, cycles: int, cycle: Callable[[], Awaitable[None]], line_baud: int
) -> tuple[int, float, float]:
    """Run ``cycle`` ``cycles`` times: (bytes, wire seconds, elapsed seconds), medians."""
    sizes, elapsed = [], []
    for _ in range(cycles):
        before = stats.bytes_in + stats.bytes_out
        start = time.perf_counter()
        await cycle()
        elapsed.append(time.perf_counter() - start)
        sizes.append(stats.bytes_in + stats.bytes_out - before)
    size = int(statistics.median(sizes))
    return size, size * BITS_PER_BYTE / line_baud, statistics.median(elapsed)


async def report(title: str, measure: Measure, cycles: int, bauds: list[int]) -> int:
    """Print the table; 1 if a paced ratio misses ``GOAL``."""
    print(title)
    print(f"{'line':>10} {'bytes':>6} {'wire ms':>9} {'elapsed ms':>11} {'ratio':>7}")
    missed = False
    for baud in bauds:
        size, wire, elapsed = await measure(baud, cycles, baud)
        ratio = elapsed / wire
        missed |= ratio > GOAL
        note = "" if ratio <= GOAL else "  (misses the goal)"
        print(
            f"{baud:>10} {size:>6} {wire * 1e3:>9.1f} {elapsed * 1e3:>11.1f} {ratio:>6.2f}x{note}"
        )
    size, _, elapsed = await measure(None, cycles, max(bauds))
    print(f"{'unpaced':>10} {size:>6} {'-':>9} {elapsed * 1e3:>11.1f} {'-':>7}")
    print("unpaced: the pty, asyncio and both sides' Python alone, per cycle")
    return 1 if missed else 0


def run(
    doc: str | None, default_bauds: str, main: Callable[[int, list[int]], Awaitable[int]]
) -> None:
    """The command line: ``--cycles N --bauds B1,B2``; exits with ``main``'s status."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5, help="measured cycles per line rate")
    parser.add_argument(
        "--bauds",
        default=default_bauds,
        help=f"comma-separated line rates (default {default_bauds})",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.cycles, [int(b) for b in args.bauds.split(",")])))
