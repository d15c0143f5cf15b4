"""The process `test_reader_crash` kills mid-capture.

Run as ``python -m tests.hal.reader_crash_child LEDGER [capture|dispense]``: opens the
simulated card reader over the ledger file, then either reads a card, makes the reader's
replies slow and asks it to retain the card (``capture``), or loads the card stacker and
asks for a card whose trip out of the stacker never ends (``dispense``). The service
journals the movement before the reader moves; the parent kills this process (SIGKILL)
while the move is under way.
"""

from __future__ import annotations

import asyncio
import sys

from hal.devices.card_reader import DISPENSE_UNIT, MoveTarget, Track
from simulator.world import CardReaderSetup, World


async def dispense(ledger: str) -> None:
    """Load the stacker, then issue a card that is still on its way at the kill."""
    world = World("crash", clock_scale=0.01)
    world.card_reader(setup=CardReaderSetup(motion_time=100_000))  # 1000 s real
    async with world.open_card_reader(ledger=ledger) as reader:
        await reader.load_stacker(10, reason="test: loaded")
        print("moving", flush=True)
        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
    print("the dispense finished: the test should have killed this process", flush=True)


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
    mode = sys.argv[2] if len(sys.argv) > 2 else "capture"
    asyncio.run(dispense(sys.argv[1]) if mode == "dispense" else main(sys.argv[1]))
