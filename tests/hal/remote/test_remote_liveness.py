"""The client against a scripted server: seq gaps, a server gone silent, a forgotten
session, a missing acknowledge, garbage from the server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import zmq
import zmq.asyncio

from hal.devices.card_reader import MediaRemoved, Track
from hal.errors import ConnectionLost, ProtocolError
from hal.events import EventsLost
from hal.remote import RemoteCardReader


class FakeServer:
    """A ROUTER that does the handshake and Open, and otherwise does what it is told."""

    def __init__(self, context: zmq.asyncio.Context) -> None:
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind("tcp://127.0.0.1:0")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.peer = b""
        self.alive = True  # answers the handshake and heartbeats
        self.acks = True  # acknowledges other commands (never completes them)
        self.session = "s1"
        self.commands: list[dict[str, Any]] = []
        self.task = asyncio.get_running_loop().create_task(self._serve())

    async def send(self, header: dict[str, Any], payload: Any = None, *blobs: bytes) -> None:
        frames = [json.dumps(header).encode(), json.dumps(payload or {}).encode(), *blobs]
        await self.socket.send_multipart([self.peer, *frames])

    async def reply(self, kind: str, request: dict[str, Any], payload: Any = None) -> None:
        header = {"version": "1", "name": request["name"], "type": kind}
        header |= {"requestId": request["requestId"], "session": self.session}
        if kind == "acknowledge":
            header["status"] = None
        else:
            header["completionCode"] = "success"
        await self.send(header, payload)

    async def unsolicited(self, name: str, seq: int) -> None:
        header = {"version": "1", "name": name, "type": "unsolicited"}
        await self.send(header | {"device": "card_reader", "seq": seq})

    async def _serve(self) -> None:
        while True:
            frames = await self.socket.recv_multipart()
            self.peer = frames[0]
            header = json.loads(frames[1])
            if header["type"] == "heartbeat":
                if self.alive:
                    await self.send(header | {"session": self.session})
                continue
            session_level = header["name"] == "Common.Open" or (
                header["name"] == "Common.Status" and "device" not in header
            )
            if session_level:
                if not self.alive:
                    continue
                await self.reply("acknowledge", header)
                if header["name"] == "Common.Open":
                    payload: dict[str, Any] = {"interface": "CardReader"}
                else:
                    devices = {"card_reader": "CardReader"}
                    payload = {"devices": devices, "heartbeatInterval": 100, "maxRequests": 8}
                await self.reply("completion", header, payload)
                continue
            self.commands.append(header)
            if self.acks:
                await self.reply("acknowledge", header)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.socket.close(linger=0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    context = zmq.asyncio.Context()
    server = FakeServer(context)
    yield server
    await server.close()
    context.destroy(linger=0)


@pytest.fixture
async def remote(fake: FakeServer) -> AsyncIterator[RemoteCardReader]:
    async with RemoteCardReader(fake.endpoint, timeout=0.3) as reader:
        yield reader


async def test_a_gap_in_seq_becomes_events_lost(fake: FakeServer, remote: RemoteCardReader) -> None:
    with remote.events() as sub:
        await fake.unsolicited("CardReader.MediaRemovedEvent", 1)
        await fake.unsolicited("CardReader.MediaRemovedEvent", 4)
        await fake.socket.send_multipart([fake.peer, b"garbage"])  # ignored
        await fake.unsolicited("CardReader.NoSuchEvent", 5)  # unreadable: lost too
        await fake.unsolicited("CardReader.MediaRemovedEvent", 6)
        got = [await sub.get(timeout=2) for _ in range(5)]
    assert [type(e) for e in got] == [
        MediaRemoved,
        EventsLost,
        MediaRemoved,
        EventsLost,
        MediaRemoved,
    ]
    assert [e.count for e in got if isinstance(e, EventsLost)] == [2, 1]


async def test_a_silent_server_fails_the_pending_call_and_the_next_handshake(
    fake: FakeServer, remote: RemoteCardReader
) -> None:
    with remote.events() as sub:
        read = asyncio.create_task(remote.read_raw_data([Track.TRACK2]))
        await asyncio.sleep(0.05)
        assert fake.commands[-1]["name"] == "CardReader.ReadRawData"
        fake.alive = False  # heartbeats go unanswered from now on
        started = time.monotonic()
        with pytest.raises(ConnectionLost, match="3 heartbeat intervals"):
            await read
        assert time.monotonic() - started < 1.0  # 3 intervals of 100 ms, plus slack
        marker = await sub.get(timeout=1)
        assert isinstance(marker, EventsLost)
    with pytest.raises(ConnectionLost, match=r"no answer from .* within 0\.3 s"):
        await remote.status()


async def test_a_server_that_forgot_the_session_is_noticed(
    fake: FakeServer, remote: RemoteCardReader
) -> None:
    read = asyncio.create_task(remote.read_raw_data([Track.TRACK2]))
    await asyncio.sleep(0.05)
    fake.session = "s2"  # what a restarted server would answer to our heartbeats
    with pytest.raises(ConnectionLost, match="no longer knows this session"):
        await read
    # The next call makes a new handshake (the fake now says s2) and goes through.
    fake.acks = True
    status = asyncio.create_task(remote.status())
    await asyncio.sleep(0.05)
    request = fake.commands[-1]
    assert request["name"] == "Common.Status"
    header = {"version": "1", "name": "Common.Status", "type": "completion"}
    header |= {"requestId": request["requestId"], "completionCode": "success"}
    status_payload = {"device": "online", "media": "notPresent"}
    status_payload |= {"chipPower": "noCard", "retainBin": "ok", "stacker": "ok"}
    await fake.send(header, status_payload)
    assert (await status).media.value == "notPresent"


async def test_no_acknowledge_within_the_timeout_loses_the_connection(
    fake: FakeServer, remote: RemoteCardReader
) -> None:
    fake.acks = False
    with pytest.raises(ConnectionLost, match=r"no acknowledgement of Common\.Status"):
        await remote.status()


async def test_a_completion_that_does_not_fit_is_a_protocol_error(
    fake: FakeServer, remote: RemoteCardReader
) -> None:
    status = asyncio.create_task(remote.status())
    await asyncio.sleep(0.05)
    request = fake.commands[-1]
    header = {"version": "1", "name": "Common.Status", "type": "completion"}
    header |= {"requestId": request["requestId"], "completionCode": "success"}
    await fake.send(header, {"device": "sideways"})
    with pytest.raises(ProtocolError, match=r"completion of Common\.Status"):
        await status
