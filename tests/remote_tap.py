"""`FrameTap`: record every frame between remote clients and a `RemoteServer`.

A man in the middle on real ZeroMQ sockets, for tests that must see the wire (no clear
PIN, key or PAN in any frame): clients connect to the tap instead of the server; the
tap binds a ROUTER, opens one DEALER to the server per client (so the server sees one
peer per client, as without the tap) and forwards every message both ways unchanged,
keeping a copy. It runs in the test's event loop (`hal.remote.loopsocket.LoopSocket`:
no tasks, no threads of its own), and works with any upstream endpoint, a
`RemoteServer` in the test or ``tellerhal serve``/``tellerhal sim`` in another process.

    async with RemoteServer(devices, "tcp://127.0.0.1:0", simulator=True) as server:
        async with FrameTap(server.endpoint) as tap:
            async with hal.open(tap.address("pin_pad")) as pad:
                ...
            assert all(secret not in frame for frame in tap.all_frames())

Each `Tapped` is one message as it crossed: ``to_server`` or ``to_client``, its frames
(header JSON, payload JSON, blobs; the ROUTER's routing id is not a wire frame and is
left out), and which client it belongs to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import zmq

from hal.remote.loopsocket import LoopSocket

__all__ = ["FrameTap", "Tapped"]

Direction = Literal["to_server", "to_client"]


@dataclass(frozen=True, repr=False)
class Tapped:
    """One message the tap forwarded (its repr shows the header and blob sizes only:
    the blobs may be key components or PIN blocks).

    Attributes:
        direction: ``to_server`` (a client's command or heartbeat) or ``to_client``.
        client: the tap's number for the client (0, 1, ... in order of first message).
        frames: the message's frames: header JSON, payload JSON, blobs.
    """

    direction: Direction
    client: int
    frames: tuple[bytes, ...]

    def __repr__(self) -> str:
        sizes = ", ".join(f"<{len(blob)} bytes>" for blob in self.blobs)
        head = self.frames[0].decode("utf-8", "replace") if self.frames else ""
        return f"Tapped({self.direction}, client={self.client}, {head}, blobs=({sizes}))"

    @property
    def header(self) -> dict[str, Any]:
        """The header, parsed."""
        header: dict[str, Any] = json.loads(self.frames[0])
        return header

    @property
    def payload(self) -> Any:
        """The payload, parsed (blob references left as ``{"$blob": N}``)."""
        return json.loads(self.frames[1]) if len(self.frames) > 1 else None

    @property
    def blobs(self) -> tuple[bytes, ...]:
        """The blob frames."""
        return self.frames[2:]


class FrameTap:
    """Forward clients to ``upstream`` and record every message, both ways.

    Args:
        upstream: the server's endpoint (``tcp://127.0.0.1:41234``, ``ipc:///...``).
        bind: where clients connect (port 0: one the OS picks; read `endpoint`).
    """

    def __init__(self, upstream: str, bind: str = "tcp://127.0.0.1:0") -> None:
        self.upstream = upstream
        self._bind = bind
        self._context: zmq.Context[Any] | None = None
        self._front: LoopSocket | None = None
        self._backs: dict[bytes, LoopSocket] = {}
        self._numbers: dict[bytes, int] = {}
        self._endpoint: str | None = None
        #: Every message forwarded, in the order the tap forwarded them.
        self.messages: list[Tapped] = []

    @property
    def endpoint(self) -> str:
        """The endpoint clients connect to (after `start`)."""
        if self._endpoint is None:
            raise RuntimeError("the tap is not started")
        return self._endpoint

    def address(self, device: str) -> str:
        """The ``zmq://`` address of ``device`` through the tap (TCP binds only)."""
        host_port = self.endpoint.removeprefix("tcp://")
        return f"zmq://{host_port}/{device}"

    def all_frames(self) -> list[bytes]:
        """Every frame of every message, both ways."""
        return [frame for message in self.messages for frame in message.frames]

    def names(self, direction: Direction | None = None) -> list[str]:
        """The header ``name`` of each message (of one direction, if given)."""
        return [
            str(m.header.get("name"))
            for m in self.messages
            if direction is None or m.direction == direction
        ]

    async def start(self) -> None:
        """Bind and start forwarding."""
        if self._context is not None:
            return
        context = self._context = zmq.Context()
        front: zmq.Socket[bytes] = zmq.Socket(context, zmq.ROUTER)
        front.setsockopt(zmq.LINGER, 0)
        front.bind(self._bind)
        self._endpoint = front.getsockopt_string(zmq.LAST_ENDPOINT)
        self._front = LoopSocket(front, self._from_client)

    async def stop(self) -> None:
        """Stop forwarding and close every socket (what was recorded stays)."""
        for back in self._backs.values():
            back.close(linger=0)
        self._backs.clear()
        if self._front is not None:
            self._front.close(linger=0)
            self._front = None
        if self._context is not None:
            self._context.term()
            self._context = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _from_client(self, frames: list[bytes]) -> None:
        routing_id, message = frames[0], frames[1:]
        back = self._backs.get(routing_id)
        if back is None:
            assert self._context is not None
            sock: zmq.Socket[bytes] = zmq.Socket(self._context, zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.upstream)
            self._numbers[routing_id] = len(self._numbers)
            back = self._backs[routing_id] = LoopSocket(
                sock, lambda reply: self._from_server(routing_id, reply)
            )
        self.messages.append(Tapped("to_server", self._numbers[routing_id], tuple(message)))
        back.send_nowait(message)

    def _from_server(self, routing_id: bytes, frames: list[bytes]) -> None:
        self.messages.append(Tapped("to_client", self._numbers[routing_id], tuple(frames)))
        if self._front is not None:
            self._front.send_nowait([routing_id, *frames])
