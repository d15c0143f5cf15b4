"""The hot path: `LoopSocket`, batched answers, header templates, and the commands that
bypass the queue (run and answered without a done-callback pass)."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import zmq

from hal.errors import Completion
from hal.remote.connection import Connection
from hal.remote.dispatch import Dispatcher
from hal.remote.encoding import dump_json, encode, header_json, plain_header_json
from hal.remote.interfaces import INTERFACES
from hal.remote.loopsocket import LoopSocket
from hal.remote.messages import (
    LIMITS,
    AckStatus,
    Header,
    MessageType,
)
from simulator.world import World


def _header(rng: random.Random) -> Header:
    kind = rng.choice(list(MessageType))
    text = rng.choice(("Common.Status", 'é"\\\n\u2028', "x" * 70, ""))
    return Header(
        kind,
        rng.choice(("Common.Status", "CardReader.ReadRawData")),
        rng.choice((None, 1, 2**53)),
        timeout=rng.choice((None, 0, 5000)),
        deadline=rng.choice((None, 1.5, 1.7e9 + 0.125)),
        status=rng.choice((None, *AckStatus)),
        completion_code=rng.choice((None, "success", text)),
        error_code=rng.choice((None, "mediaJam")),
        error_description=rng.choice((None, text)),
        device=rng.choice((None, "card_reader")),
        session=rng.choice((None, "0123456789abcdef")),
        seq=rng.choice((None, 1, 99)),
    )


def test_header_json_is_dump_json_of_to_json() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        header = _header(rng)
        assert header_json(header) == dump_json(header.to_json()), header


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        (MessageType.COMMAND, {"timeout": 0, "device": "card_reader"}),
        (MessageType.COMMAND, {"timeout": None, "device": None}),
        (MessageType.ACKNOWLEDGE, {"device": "card_reader", "session": "s1"}),
        (MessageType.ACKNOWLEDGE, {}),
        (MessageType.COMPLETION, {"completion_code": "success", "session": 'é"'}),
    ],
)
def test_a_templated_header_is_the_header(kind: MessageType, fields: dict[str, Any]) -> None:
    for request_id in (1, 7, 10, 2**53):
        expected = header_json(Header(kind, "Common.Status", request_id, **fields))
        assert plain_header_json(kind, "Common.Status", request_id, **fields) == expected


class Inbox:
    """What a LoopSocket hands over, and a way to wait for it."""

    def __init__(self) -> None:
        self.messages: list[list[bytes]] = []
        self._more = asyncio.Event()

    def __call__(self, frames: list[bytes]) -> None:
        self.messages.append(frames)
        self._more.set()

    async def wait(self, count: int, timeout: float = 2.0) -> list[list[bytes]]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self._more.clear()
                await self._more.wait()
        return self.messages


Pair = tuple[zmq.Socket[bytes], LoopSocket, Inbox]


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    context: zmq.Context[Any] = zmq.Context()
    peer: zmq.Socket[bytes] = context.socket(zmq.DEALER)
    peer.bind("inproc://loopsocket")
    raw: zmq.Socket[bytes] = zmq.Socket(context, zmq.DEALER)
    raw.connect("inproc://loopsocket")
    inbox = Inbox()
    watched = LoopSocket(raw, inbox)
    yield peer, watched, inbox
    watched.close()
    peer.close(linger=0)
    context.term()


async def test_loopsocket_hands_over_every_message_in_order(pair: Pair) -> None:
    peer, _, inbox = pair
    for n in range(600):  # more than one batch per pass
        peer.send_multipart([b"%d" % n, b"", b"x" * (n % 7)])
    assert await inbox.wait(600) == [[b"%d" % n, b"", b"x" * (n % 7)] for n in range(600)]


async def test_a_message_waiting_while_we_send_is_not_missed(pair: Pair) -> None:
    peer, watched, inbox = pair
    for n in range(200):
        peer.send_multipart([b"in", b"%d" % n])
        watched.send_nowait([b"out", b"%d" % n])
        with watched.corked():
            watched.send_nowait([b"a"])
            watched.send_nowait([b"b"])
    received = await inbox.wait(200)
    assert [m[1] for m in received] == [b"%d" % n for n in range(200)]
    got = [peer.recv_multipart() for _ in range(600)]
    assert got[:3] == [[b"out", b"0"], [b"a"], [b"b"]]


async def test_a_paused_socket_receives_nothing_but_still_sends(pair: Pair) -> None:
    peer, watched, inbox = pair
    peer.send_multipart([b"before"])
    await inbox.wait(1)
    watched.pause()
    peer.send_multipart([b"after"])
    watched.send_nowait([b"still"])
    assert await asyncio.to_thread(peer.recv_multipart) == [b"still"]
    await asyncio.sleep(0.05)
    assert inbox.messages == [[b"before"]]


async def test_send_waits_for_room_and_close_fails_the_waiters() -> None:
    with socket.socket() as probe:  # a port nobody listens on (yet)
        probe.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    context: zmq.Context[Any] = zmq.Context()
    raw: zmq.Socket[bytes] = zmq.Socket(context, zmq.DEALER)
    raw.setsockopt(zmq.IMMEDIATE, 1)
    raw.setsockopt(zmq.LINGER, 0)
    raw.setsockopt(zmq.RECONNECT_IVL, 10)
    raw.connect(endpoint)
    watched = LoopSocket(raw, lambda frames: None)
    try:
        with pytest.raises(zmq.Again):
            watched.send_nowait([b"x"])
        with pytest.raises(TimeoutError):
            await watched.send([b"x"], 0.05)
        peer: zmq.Socket[bytes] = context.socket(zmq.DEALER)
        sending = asyncio.create_task(watched.send([b"late"], 2.0))
        await asyncio.sleep(0.01)
        peer.setsockopt(zmq.LINGER, 0)
        peer.bind(endpoint)  # the connection comes: room to send
        await sending
        assert await asyncio.to_thread(peer.recv_multipart) == [b"late"]
        peer.close(linger=0)
        async with asyncio.timeout(2):  # until the socket knows the peer is gone
            while True:
                try:
                    watched.send_nowait([b"lost"])
                except zmq.Again:
                    break
                await asyncio.sleep(0.005)
        waiting = asyncio.create_task(watched.send([b"x"] * 3, 2.0))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        watched.close()
        with pytest.raises(zmq.ZMQError):
            await asyncio.wait_for(waiting, 2.0)
    finally:
        watched.close()
        context.term()


def _command(name: str, request_id: int, device: str | None = None, **payload: Any) -> list[bytes]:
    header: dict[str, Any] = {"version": "1", "name": name, "type": "command"}
    header["requestId"] = request_id
    if device is not None:
        header["device"] = device
    return [b"peer", json.dumps(header).encode(), json.dumps(payload).encode()]


async def test_a_status_cancelled_before_it_began_completes_canceled() -> None:
    world = World("fast", clock_scale=0.005)
    reader = world.open_card_reader()
    await reader.open()
    sent: list[dict[str, Any]] = []
    dispatcher = Dispatcher(
        {"card_reader": reader},
        {"card_reader": INTERFACES["CardReader"]},
        lambda frames: sent.append(json.loads(frames[1])) or None,
        heartbeat_interval=1.0,
        max_sessions=4,
        max_requests=8,
        limits=LIMITS,
    )
    try:
        dispatcher.handle(_command("Common.Status", 1))
        dispatcher.handle(_command("Common.Open", 2, "card_reader"))
        sent.clear()
        # Both in one pass: the status task has not begun when the cancel comes.
        dispatcher.handle(_command("Common.Status", 3, "card_reader"))
        dispatcher.handle(_command("Common.Cancel", 4, requestIds=[3]))
        dispatcher.handle(_command("Common.Capabilities", 5, "card_reader"))
        await asyncio.wait(set(dispatcher.tasks), timeout=2)
        await asyncio.sleep(0)
        assert not dispatcher.tasks  # they leave the set themselves
        answers = {(m["requestId"], m["type"]): m for m in sent}
        assert answers[(4, "completion")]["completionCode"] == "success"
        assert answers[(3, "acknowledge")]["status"] is None
        assert answers[(3, "completion")]["completionCode"] == Completion.CANCELED.value
        assert answers[(5, "completion")]["completionCode"] == "success"
        types = [m["type"] for m in sent if m["requestId"] == 3]
        assert types == ["acknowledge", "completion"]
    finally:
        dispatcher.forget_all("test over")
        await reader.close()


async def test_a_completion_that_comes_as_the_caller_is_cancelled_ends_the_wait() -> None:
    """The completion is handled (in the socket's callback) after the caller's task was
    cancelled but before it ran: the command has ended, so there is nothing to settle
    and the cancel goes on at once, instead of waiting for a completion already taken."""
    context: zmq.Context[Any] = zmq.Context()
    server: zmq.Socket[bytes] = context.socket(zmq.ROUTER)
    server.setsockopt(zmq.LINGER, 0)
    server.bind("tcp://127.0.0.1:0")
    endpoint = server.getsockopt_string(zmq.LAST_ENDPOINT)
    conn = Connection(
        context,
        endpoint,
        timeout=2.0,
        curve=None,
        settle_timeout=10.0,
        on_event=lambda conn, message: None,
        on_lost=lambda conn, reason, quiet: None,
    )
    try:
        call = asyncio.create_task(conn.exchange("card_reader", "CardReader.Move", {}))
        command = await asyncio.to_thread(server.recv_multipart)
        request_id = json.loads(command[1])["requestId"]
        completion = Header(
            MessageType.COMPLETION, "CardReader.Move", request_id, completion_code="success"
        )
        call.cancel()
        conn._receive(encode(completion))  # handled before the task sees its cancel
        started = asyncio.get_running_loop().time()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        conn.lose("test over", quiet=True)
        await conn.wait_closed()
        server.close(linger=0)
        context.term()
