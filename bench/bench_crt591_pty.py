"""CRT-591 over a pty: issuing one card, against the wire time of the bytes it took.

Run: ``python bench/bench_crt591_pty.py [--cycles N] [--bauds 9600,57600]``

The real ``crt591`` driver, opened through ``hal.open`` on the ``serial`` transport,
issues cards from the CRT-591 emulator on a `PtyBridge`. The emulator paces both
directions like a UART at the line rate (10 bits a byte, precise mode), the model's
mechanics take no time and the driver polls with no pause (``poll_interval=0``), so the
line is never idle: the wire time of the bytes is the floor a cycle can reach.

One cycle: ``move(transport, from_unit="stacker")`` (status, 32 31), ``read_raw_data
([chip])`` (status, status, 51 30), ``move(exit)`` (status, 32 39); the customer takes
the card at once; the cycle ends when ``MediaRemoved`` arrives (the gate watcher's
poll). Wire time = bytes the emulator received and sent in the cycle x 10 bits / baud;
the ratio is elapsed over wire time (goal: 1.2 at most). The unpaced row is the same
cycle with no pacing: what the pty, asyncio and both sides' Python cost alone.

Exit status 1 if a paced ratio misses the goal.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import hal
from drivers.card_reader.crt591 import CRT591_DRIVER
from hal import registry
from hal.devices.card_reader import DISPENSE_UNIT, CardReader, MediaRemoved, MoveTarget, Track
from hal.errors import DriverNotFound
from hal.transports.serial import SERIAL_TRANSPORT
from simulator.wire.crt591 import Crt591Emulator
from simulator.wire.link import BITS_PER_BYTE
from simulator.wire.pty import PtyBridge
from simulator.world import CardReaderSetup, World

GOAL = 1.2
STACKER = 1000


def register() -> None:
    """The driver and the serial transport, if their entry points are not installed."""
    for spec, lookup in ((CRT591_DRIVER, registry.driver), (SERIAL_TRANSPORT, registry.transport)):
        try:
            lookup(spec.name)
        except DriverNotFound:
            registry.register(spec)


async def issue(reader: CardReader, world: World) -> None:
    """Issue a card, read its chip, hand it out, the customer takes it."""
    with reader.events(kinds=[MediaRemoved]) as removed:
        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=30)
        chip = (await reader.read_raw_data([Track.CHIP], timeout=30))[Track.CHIP]
        assert chip.status == "ok", chip
        await reader.move(MoveTarget.EXIT, timeout=30)
        await world.card_reader_control().take_card(timeout=30)
        await removed.wait_for(MediaRemoved, timeout=30)


async def measure(baud: int | None, cycles: int, line_baud: int) -> tuple[int, float, float]:
    """(bytes per cycle, wire seconds per cycle, elapsed seconds per cycle), medians."""
    world = World(f"bench591-{baud}", clock_scale=1e-6)
    setup = CardReaderSetup(motion_time=0.0, take_timeout=None, stacker_capacity=STACKER)
    model = world.card_reader(setup=setup)
    with tempfile.TemporaryDirectory(prefix="bench-crt591-") as directory:
        address = (
            f"crt591+serial://{Path(directory) / 'crt591'}?baud={line_baud}&poll_interval=0"
            f"&take_timeout=&reply_timeout=10&stacker_capacity={STACKER}"
        )
        async with (
            PtyBridge("crt591", directory=directory) as bridge,
            Crt591Emulator(model, bridge, baud=baud, precise=True) as emulator,
        ):
            reader = hal.open(address)
            assert isinstance(reader, CardReader)
            async with reader:
                await reader.load_stacker(STACKER, reason="bench")
                await issue(reader, world)  # warm-up: imports, first frames
                sizes, elapsed = [], []
                for _ in range(cycles):
                    before = emulator.stats.bytes_in + emulator.stats.bytes_out
                    start = time.perf_counter()
                    await issue(reader, world)
                    elapsed.append(time.perf_counter() - start)
                    sizes.append(emulator.stats.bytes_in + emulator.stats.bytes_out - before)
                assert (await reader.stacker()).count == model.stacker_count
    size = int(statistics.median(sizes))
    return size, size * BITS_PER_BYTE / line_baud, statistics.median(elapsed)


async def main(cycles: int, bauds: list[int]) -> int:
    register()
    print(f"CRT-591 over a pty: issuing one card, median of {cycles} (goal: <= {GOAL}x wire)")
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5, help="measured cycles per line rate")
    parser.add_argument("--bauds", default="9600,57600", help="comma-separated line rates")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.cycles, [int(b) for b in args.bauds.split(",")])))
