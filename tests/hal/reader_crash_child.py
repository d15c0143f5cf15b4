"""The process `test_reader_crash` kills mid-capture.

Run as ``python -m tests.hal.reader_crash_child LEDGER``: opens the simulated card
reader over the ledger file, reads a card, makes the reader's replies slow, and asks it
to retain the card. The service journals the capture before the reader moves; the
parent kills this process (SIGKILL) while the move is under way.
"""

from __future__ import annotations

import asyncio
import sys

from hal.devices.card_reader import MoveTarget, Track
from simulator.world import World


async def main(ledger: str) -> None:
    """Read a card, then start a capture that will not finish before the kill."""
    world = World("crash", clock_scale=0.01)
    control = world.card_reader_control()
    async with world.open_card_reader(ledger=ledger) as reader:
        read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=30))
        await control.wait_for("gate_open", timeout=10)
        await control.insert_card("visa")
        await read
        await control.slow_replies(100_000)  # 1000 s of real time at this clock scale
        print("moving", flush=True)
        await reader.move(MoveTarget.RETAIN)
    print("the capture finished: the test should have killed this process", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
