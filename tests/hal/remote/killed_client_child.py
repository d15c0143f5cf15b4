"""The client process `test_remote_robustness` kills mid-`read_raw_data`.

Run as ``python -m tests.hal.remote.killed_client_child ADDRESS``: opens the remote
card reader, starts a read, prints ``reading`` once the reader asks for a card (the
parent then inserts one and makes the reader slow), and waits for ever.
"""

from __future__ import annotations

import asyncio
import sys

import hal
from hal.devices.card_reader import CardReader, InsertCard, Track


async def main(address: str) -> None:
    """Start a read that only a SIGKILL ends."""
    reader = hal.open(address)
    assert isinstance(reader, CardReader)
    async with reader:
        with reader.events(kinds=[InsertCard]) as asked:
            read = asyncio.create_task(reader.read_raw_data([Track.TRACK2]))
            await asked.wait_for(InsertCard, timeout=10)
            print("reading", flush=True)
            await read
    print("the read finished: the test should have killed this process", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
