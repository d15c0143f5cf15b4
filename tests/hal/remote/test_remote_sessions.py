"""Server sessions: a client whose heartbeats stop is forgotten, its commands cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hal.remote import RemoteServer
from simulator.control import CardReaderControl
from simulator.models.card_reader import CardPosition
from simulator.world import World
from tests.hal.remote.conftest import RawClient

BEAT = {"version": "1", "name": "Common.Heartbeat", "type": "heartbeat"}
READ = "CardReader.ReadRawData"


async def test_a_silent_session_has_its_read_cancelled_and_the_card_is_not_lost(
    world: World, control: CardReaderControl, raw_client: Callable[[str], RawClient]
) -> None:
    served = RemoteServer(
        {"card_reader": world.open_card_reader()},
        "tcp://127.0.0.1:0",
        simulator=True,
        heartbeat_interval=0.1,
    )
    async with served:
        silent = raw_client(served.endpoint)
        await silent.handshake()
        await silent.open()
        await silent.command(READ, payload={"tracks": ["track2"]}, timeout=0)
        await control.wait_for("gate_open", timeout=2)
        assert served.session_count == 1
        # No heartbeat: after three intervals the server forgets the session and
        # cancels its read, which settles: the entry closes.
        model = control.model
        async with asyncio.timeout(2):
            await model.wait_until(lambda: not model.gate_open)
        assert served.session_count == 0
        # A card pushed now waits in the slot: nobody swallows it.
        await control.insert_card("visa")
        assert control.model.position is CardPosition.EXIT
        # The forgotten session hears nothing more; its heartbeat is answered sessionless.
        await silent.send(BEAT)
        replies = [await silent.recv()]
        while replies[-1].type != "heartbeat":
            replies.append(await silent.recv())
        assert "session" not in replies[-1].header
        assert all(r.type in ("acknowledge", "event", "heartbeat") for r in replies)
        # Another client reads the card that waited.
        other = raw_client(served.endpoint)
        await other.handshake()
        await other.open()
        done = await other.call(READ, {"tracks": ["track2"]}, timeout=2000)
        assert done.header["completionCode"] == "success"
        assert control.model.position is CardPosition.INSIDE


async def test_heartbeats_keep_a_session(
    world: World, raw_client: Callable[[str], RawClient]
) -> None:
    served = RemoteServer(
        {"card_reader": world.open_card_reader()},
        "tcp://127.0.0.1:0",
        simulator=True,
        heartbeat_interval=0.25,
    )
    async with served:
        client = raw_client(served.endpoint)
        session = await client.handshake()
        # 1.6 s, far beyond three intervals; a beat every 0.2 s leaves the loop 0.55 s of
        # slack per beat (0.05 s intervals lost the session on a loaded 2-core CI box).
        for _ in range(8):
            await asyncio.sleep(0.2)
            await client.send(BEAT)
            assert (await client.recv()).header["session"] == session
        assert served.session_count == 1
