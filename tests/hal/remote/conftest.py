"""Fixtures for the remote tests: a real server over a simulated reader, raw clients.

The server runs in the test's own event loop on ``tcp://127.0.0.1:0`` (its bound port
read back from ``LAST_ENDPOINT``) or on ``ipc://`` in a private 0700 directory, serving
a simulator card reader whose customer the test drives in-process with the world's
`CardReaderControl`. `RawClient` speaks the wire format directly over a DEALER, which
is how malformed input and exact message order are tested.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import zmq
import zmq.asyncio

from hal.remote import RemoteCardReader, RemoteServer
from simulator.control import CardReaderControl
from simulator.world import World, reset_worlds

#: Real seconds per simulated second: the 30 s take timeout lasts 150 ms.
SCALE = 0.005


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


@pytest.fixture
def world() -> World:
    return World("remote", seed=1, clock_scale=SCALE)


@pytest.fixture
def control(world: World) -> CardReaderControl:
    return world.card_reader_control()


@pytest.fixture
def ipc_dir() -> Iterator[Path]:
    """A short private directory (mode 0700) for ipc:// sockets (paths are < 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="thr-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def server(world: World) -> AsyncIterator[RemoteServer]:
    """The world's reader served on loopback TCP (simulator: no keys needed)."""
    reader = world.open_card_reader()
    async with RemoteServer(
        {"card_reader": reader}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as served:
        yield served


@pytest.fixture
async def reader(server: RemoteServer) -> AsyncIterator[RemoteCardReader]:
    async with RemoteCardReader(server.endpoint, timeout=2.0) as remote:
        yield remote


class Reply(NamedTuple):
    """One message as a raw client receives it."""

    header: dict[str, Any]
    payload: dict[str, Any]
    blobs: list[bytes]

    @property
    def type(self) -> str:
        return str(self.header["type"])


class RawClient:
    """A DEALER speaking the wire format by hand."""

    def __init__(self, context: zmq.asyncio.Context, endpoint: str) -> None:
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self._ids = iter(range(1, 1_000_000))

    def next_id(self) -> int:
        return next(self._ids)

    async def send_frames(self, frames: list[bytes]) -> None:
        await self.socket.send_multipart(frames)

    async def send(
        self, header: dict[str, Any], payload: dict[str, Any] | None = None, *blobs: bytes
    ) -> None:
        await self.send_frames(
            [json.dumps(header).encode(), json.dumps(payload or {}).encode(), *blobs]
        )

    async def command(
        self,
        name: str,
        request_id: int | None = None,
        payload: dict[str, Any] | None = None,
        *blobs: bytes,
        device: str | None = "card_reader",
        **header: Any,
    ) -> int:
        """Send a command (a fresh request id unless given); returns its id."""
        rid = self.next_id() if request_id is None else request_id
        full = {"version": "1", "name": name, "type": "command", "requestId": rid, **header}
        if device is not None:
            full["device"] = device
        await self.send(full, payload, *blobs)
        return rid

    async def recv(self, timeout: float = 2.0) -> Reply:
        frames = await asyncio.wait_for(self.socket.recv_multipart(), timeout)
        return Reply(json.loads(frames[0]), json.loads(frames[1]), list(frames[2:]))

    async def next_ack(self, timeout: float = 2.0) -> Reply:
        """The next acknowledge, skipping events."""
        while True:
            reply = await self.recv(timeout)
            if reply.type == "acknowledge":
                return reply

    async def nothing(self, wait: float = 0.2) -> None:
        """Assert no message arrives within ``wait`` seconds."""
        try:
            reply = await self.recv(wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {reply}")

    async def until_completion(self, request_id: int, timeout: float = 3.0) -> list[Reply]:
        """Every message up to and including the completion of ``request_id``."""
        out: list[Reply] = []
        async with asyncio.timeout(timeout):
            while True:
                reply = await self.recv(timeout)
                out.append(reply)
                if reply.type == "completion" and reply.header["requestId"] == request_id:
                    return out

    async def call(
        self, name: str, payload: dict[str, Any] | None = None, *blobs: bytes, **kw: Any
    ) -> Reply:
        """Send a command and return its completion (checking it was acknowledged)."""
        rid = await self.command(name, None, payload, *blobs, **kw)
        replies = await self.until_completion(rid)
        acks = [r for r in replies if r.type == "acknowledge" and r.header["requestId"] == rid]
        assert [a.header["status"] for a in acks] == [None], replies
        return replies[-1]

    async def handshake(self) -> str:
        completion = await self.call("Common.Status", device=None)
        assert completion.header["completionCode"] == "success", completion
        return str(completion.header["session"])

    async def open(self, device: str = "card_reader") -> None:
        completion = await self.call("Common.Open", device=device)
        assert completion.header["completionCode"] == "success", completion

    def close(self) -> None:
        self.socket.close(linger=0)


@pytest.fixture
async def raw_client() -> AsyncIterator[Callable[[str], RawClient]]:
    """``raw_client(endpoint)``: a new raw DEALER; all closed after the test."""
    context = zmq.asyncio.Context()
    clients: list[RawClient] = []

    def make(endpoint: str) -> RawClient:
        client = RawClient(context, endpoint)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    context.destroy(linger=0)


@pytest.fixture
async def raw(server: RemoteServer, raw_client: Callable[[str], RawClient]) -> RawClient:
    """A raw client that has done the handshake and opened the card reader."""
    client = raw_client(server.endpoint)
    await client.handshake()
    await client.open()
    return client
