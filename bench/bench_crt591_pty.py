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

import tempfile
from pathlib import Path

from pty_cycle import GOAL, register, report, run, timed_cycles

import hal
from drivers.card_reader.crt591 import CRT591_DRIVER
from hal.devices.card_reader import DISPENSE_UNIT, CardReader, MediaRemoved, MoveTarget, Track
from simulator.wire.crt591 import Crt591Emulator
from simulator.wire.pty import PtyBridge
from simulator.world import CardReaderSetup, World

STACKER = 1000


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
                result = await timed_cycles(
                    emulator.stats, cycles, lambda: issue(reader, world), line_baud
                )
                assert (await reader.stacker()).count == model.stacker_count
    return result


async def main(cycles: int, bauds: list[int]) -> int:
    register(CRT591_DRIVER)
    title = f"CRT-591 over a pty: issuing one card, median of {cycles} (goal: <= {GOAL}x wire)"
    return await report(title, measure, cycles, bauds)


if __name__ == "__main__":
    run(__doc__, "9600,57600", main)
