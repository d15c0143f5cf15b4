"""In-process simulator call overhead: what the HAL service adds to a device call.

Run: ``python bench/bench_sim.py [--calls N] [--repeats R]``

Each figure is the best per-call time over R repeats of N calls, all in one asyncio
loop. The baseline is the same call made straight on the simulator model (the backend),
measured in the same run; the overhead is the difference, the cost of the public API
(argument checks, the command queue, timeouts, status diffing).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

from hal.devices.card_reader import ChipPowerAction, Track
from simulator.world import CardReaderSetup, World

GOAL_US = 30.0
GET_CHALLENGE = bytes.fromhex("0084000008")


async def best_per_call(call: Callable[[], Awaitable[object]], calls: int, repeats: int) -> float:
    """Best mean time per call, in microseconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            await call()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


async def main(calls: int, repeats: int) -> int:
    """Measure and print the table; exit 1 if an overhead misses the goal."""
    world = World("bench", clock_scale=1e-6)
    model = world.card_reader(setup=CardReaderSetup(motion_time=0.0))
    control = world.card_reader_control()
    async with world.open_card_reader() as reader:
        read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=10))
        await control.wait_for("gate_open", timeout=5)
        await control.insert_card("visa")
        await read
        await reader.chip_power(ChipPowerAction.COLD)

        rows = [
            (
                "status()",
                await best_per_call(model.get_status, calls, repeats),
                await best_per_call(reader.status, calls, repeats),
            ),
            (
                "chip_io(GET CHALLENGE)",
                await best_per_call(lambda: model.chip_io(GET_CHALLENGE), calls, repeats),
                await best_per_call(lambda: reader.chip_io(GET_CHALLENGE), calls, repeats),
            ),
            (
                "read_raw_data(track2), card inside",
                await best_per_call(
                    lambda: model.read_card(frozenset({Track.TRACK2})), calls, repeats
                ),
                await best_per_call(lambda: reader.read_raw_data([Track.TRACK2]), calls, repeats),
            ),
        ]
        await reader.chip_power(ChipPowerAction.OFF)

    print(f"# {' '.join([sys.executable, *sys.argv])}")
    print(f"# best of {repeats} x {calls} calls; overhead goal <= {GOAL_US:.0f} us")
    print(f"{'call':38} {'model us':>9} {'hal us':>9} {'overhead us':>12} {'ratio':>6}")
    worst = 0.0
    for name, direct, through in rows:
        overhead = through - direct
        worst = max(worst, overhead)
        print(f"{name:38} {direct:9.2f} {through:9.2f} {overhead:12.2f} {through / direct:6.1f}")
    verdict = "within" if worst <= GOAL_US else "MISSES"
    print(f"worst overhead {worst:.2f} us: {verdict} the {GOAL_US:.0f} us goal")
    return 0 if worst <= GOAL_US else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    ns = parser.parse_args()
    sys.exit(asyncio.run(main(ns.calls, ns.repeats)))
