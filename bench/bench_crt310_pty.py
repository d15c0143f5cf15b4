"""CRT-310 over a pty: a full card cycle against the wire time of the bytes it took.

Run: ``python bench/bench_crt310_pty.py [--cycles N] [--bauds 9600,115200]``

For each baud rate the real ``crt310`` driver runs on the ``serial`` transport, opened
through its address, against the CRT-310 emulator on a `PtyBridge`. A pty moves bytes
as fast as the kernel copies them, so the emulator paces both directions like a UART
at that baud rate (10 bits a byte, precise mode): the bytes reach each side no earlier
than a real line would deliver them. The driver runs in fast mode (``poll_interval=0``:
the next status poll leaves as soon as the last reply is in) and the reader's
mechanics take no time, so the line is never idle and the wire time is the floor.

A cycle: the customer's card waits in the slot; ``read_raw_data(track1-3)`` (status,
entry control, polls, read); ``move(exit)``; the customer takes the card at once; the
cycle ends when ``MediaRemoved`` arrives (the exit watcher's poll). Wire time = the
bytes the emulator received and sent in the cycle x 10 bits / baud. The ratio is the
cycle's elapsed time over its wire time; the goal is 1.2 at most. The unpaced row is
the same cycle with no pacing: what the pty, asyncio and the Python on both sides cost
alone (the overhead the paced ratios carry), measured in the same run.

Exit status 1 if a paced ratio misses the goal.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pty_cycle import GOAL, register, report, run, timed_cycles

import hal
from drivers.card_reader.crt310 import CRT310_DRIVER
from hal.devices.card_reader import CardReader, MediaRemoved, MoveTarget, Track
from simulator.wire.crt310 import Crt310Emulator
from simulator.wire.pty import PtyBridge
from simulator.world import CardReaderSetup, World

MAG = [Track.TRACK1, Track.TRACK2, Track.TRACK3]


async def cycle(reader: CardReader, world: World) -> None:
    """Insert, read tracks 1-3, eject, taken, MediaRemoved."""
    control = world.card_reader_control()
    await control.insert_card("visa")  # waits in the slot until the entry opens
    with reader.events(kinds=[MediaRemoved]) as removed:
        result = await reader.read_raw_data(MAG, timeout=30)
        assert all(result[t].status == "ok" for t in MAG), result
        await reader.move(MoveTarget.EXIT, timeout=30)
        await control.take_card(timeout=30)
        await removed.wait_for(MediaRemoved, timeout=30)


async def measure(baud: int | None, cycles: int, line_baud: int) -> tuple[int, float, float]:
    """(bytes per cycle, wire seconds per cycle, elapsed seconds per cycle), medians."""
    world = World(f"bench{baud}", clock_scale=1e-6)
    model = world.card_reader(setup=CardReaderSetup(motion_time=0.0, take_timeout=None))
    with tempfile.TemporaryDirectory(prefix="bench-crt310-") as directory:
        link = Path(directory) / "crt310"
        address = (
            f"crt310+serial://{link}?baud={line_baud}&poll_interval=0&take_timeout="
            "&reply_timeout=10"
        )
        async with (
            PtyBridge("crt310", directory=directory) as bridge,
            Crt310Emulator(model, bridge, baud=baud, precise=True) as emulator,
        ):
            reader = hal.open(address)
            assert isinstance(reader, CardReader)
            async with reader:
                await cycle(reader, world)  # warm-up: imports, first frames
                return await timed_cycles(
                    emulator.stats, cycles, lambda: cycle(reader, world), line_baud
                )


async def main(cycles: int, bauds: list[int]) -> int:
    register(CRT310_DRIVER)
    title = f"CRT-310 over a pty: one card cycle, median of {cycles} (goal: <= {GOAL}x wire time)"
    return await report(title, measure, cycles, bauds)


if __name__ == "__main__":
    run(__doc__, "9600,115200", main)
