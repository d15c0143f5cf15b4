"""``status()`` over ``zmq://`` against plain ZeroMQ exchanges of the same shape.

Run: ``python bench/bench_remote.py [--calls N] [--rounds R]``

Four ways to make one call over TCP loopback, each measured per call (median and
99th percentile), in the same run:

- **hal**: ``RemoteCardReader.status()`` against ``tellerhal sim`` in another process
  (the deployment), and against a `RemoteServer` in the same process and loop;
- **(b) asyncio**: a minimal ``zmq.asyncio`` DEALER/ROUTER exchange with the same
  pattern and sizes: one request, answered by an acknowledge and a completion, the
  server in another process (and in the same loop);
- **(a) sync echo**: a synchronous pyzmq DEALER sending the request and a synchronous
  ROUTER in another process answering one reply of the completion's size.

The goals: hal <= 1.25x (b), hal <= 2x (a), both with the server in another process.
With two CPUs or more the client is pinned to one and the servers in other processes to
another (``--no-pin`` to let the OS place them): where each of the four busy threads
(two event loops, two ZeroMQ I/O threads) lands otherwise moves the figures by 10-20%
from run to run.
The frames of (a) and (b) are the bytes the hal client and server exchange for
``Common.Status`` on a card reader (headers, payloads), made with the same encoder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

ROOT = Path(__file__).resolve().parents[1]
GOAL_ASYNC = 1.25
GOAL_SYNC = 2.0


def frames() -> tuple[list[bytes], list[bytes], list[bytes]]:
    """The command, acknowledge and completion of one ``Common.Status`` on a reader."""
    from hal.devices.card_reader import CardReaderStatus
    from hal.remote.codec import codec_for
    from hal.remote.encoding import encode
    from hal.remote.messages import Header, MessageType

    session = "0123456789abcdef"
    command = encode(
        Header(MessageType.COMMAND, "Common.Status", 7, timeout=0, device="card_reader")
    )
    ack = encode(
        Header(MessageType.ACKNOWLEDGE, "Common.Status", 7, device="card_reader", session=session)
    )
    status = codec_for(CardReaderStatus).encode(CardReaderStatus(), [])
    completion = encode(
        Header(
            MessageType.COMPLETION,
            "Common.Status",
            7,
            completion_code="success",
            device="card_reader",
            session=session,
        ),
        status,
    )
    return command, ack, completion


# --- the servers of the baselines (run as child processes) --------------------------------


def serve_sync_echo(endpoint: str) -> None:
    """(a): a synchronous ROUTER answering each request with one completion-sized reply."""
    _, _, completion = frames()
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.bind(endpoint)
    print(sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    while True:
        request = sock.recv_multipart()
        sock.send_multipart([request[0], *completion])


async def serve_async(endpoint: str, ready: Callable[[str], None] | None = None) -> None:
    """(b): an asyncio ROUTER answering each request with an ack and a completion."""
    _, ack, completion = frames()
    context = zmq.asyncio.Context()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    if ready is None:
        print(bound, flush=True)
    else:
        ready(bound)
    try:
        while True:
            request = await sock.recv_multipart()
            json.loads(request[1])  # the server reads the header, as any server must
            await sock.send_multipart([request[0], *ack])
            await sock.send_multipart([request[0], *completion])
    finally:
        sock.close()
        context.term()


# --- measuring ---------------------------------------------------------------------------


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile, in microseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.99)] * 1e6


Call = Callable[[], Awaitable[object]]


async def timed(call: Call, calls: int, samples: list[float]) -> None:
    """Make ``calls`` calls, appending each one's seconds to ``samples``."""
    clock = time.perf_counter
    for _ in range(calls):
        start = clock()
        await call()
        samples.append(clock() - start)


def sync_client(endpoint: str) -> tuple[Call, Callable[[], None]]:
    """(a): the synchronous client (blocking calls, wrapped to be timed like the rest)."""
    command, _, _ = frames()
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.connect(endpoint)

    async def call() -> object:
        sock.send_multipart(command)
        return sock.recv_multipart()

    def close() -> None:
        sock.close(linger=0)
        context.term()

    return call, close


async def async_client(endpoint: str) -> tuple[Call, Callable[[], None]]:
    """(b): the asyncio client: send, await the ack, await the completion."""
    command, _, _ = frames()
    context = zmq.asyncio.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)

    async def call() -> object:
        await sock.send_multipart(command)
        await sock.recv_multipart()
        return await sock.recv_multipart()

    def close() -> None:
        sock.close()
        context.term()

    return call, close


#: CPUs the servers in other processes run on (the client keeps the others); empty: any.
SERVER_CPUS: set[int] = set()


def _pin(proc: subprocess.Popen[Any]) -> None:
    """Pin a server process just started (its threads, made later, inherit it)."""
    if SERVER_CPUS:
        os.sched_setaffinity(proc.pid, SERVER_CPUS)


def child(*role: str) -> tuple[subprocess.Popen[str], str]:
    """Start this script in a server role; returns it and the endpoint it bound."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", *role],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    _pin(proc)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def start_sim(directory: str) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    """``tellerhal sim`` on an ephemeral port; returns it and its ready file."""
    ready = Path(directory) / "ready.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tellerhal",
            "sim",
            "--endpoint",
            "tcp://127.0.0.1:0",
            "--ready-file",
            str(ready),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    _pin(proc)
    while not ready.exists():
        time.sleep(0.01)
    return proc, json.loads(ready.read_text())


async def measure(calls: int, rounds: int) -> dict[str, list[float]]:
    """Every variant's per-call samples, the variants taking turns (``rounds`` times
    ``calls`` calls each) so that a machine's drift weighs on all of them alike."""
    import hal
    from hal.devices.card_reader import CardReader
    from hal.remote import RemoteServer
    from simulator.world import World

    variants: dict[str, Call] = {}
    closing: list[Callable[[], Awaitable[None] | None]] = []
    procs: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []
    directory = tempfile.TemporaryDirectory()
    try:
        sim, ready = start_sim(directory.name)
        procs.append(sim)
        devices = ready["devices"]
        assert isinstance(devices, dict)
        remote = hal.open(str(devices["card_reader"]))
        assert isinstance(remote, CardReader)
        await remote.open()
        closing.append(remote.close)
        variants["hal, server in another process"] = remote.status

        echo, endpoint = child("async", "tcp://127.0.0.1:0")
        procs.append(echo)
        call, close = await async_client(endpoint)
        closing.append(close)
        variants["(b) asyncio, server in another process"] = call

        sync, endpoint = child("sync", "tcp://127.0.0.1:0")
        procs.append(sync)
        call, close = sync_client(endpoint)
        closing.append(close)
        variants["(a) sync echo, server in another process"] = call

        world = World("bench", clock_scale=1e-6)
        server = RemoteServer(
            {"card_reader": world.open_card_reader()}, "tcp://127.0.0.1:0", simulator=True
        )
        await server.start()
        closing.append(server.stop)
        port = server.endpoint.rpartition(":")[2]
        local = hal.open(f"zmq://127.0.0.1:{port}/card_reader")
        assert isinstance(local, CardReader)
        await local.open()
        closing.append(local.close)
        variants["hal, server in the same loop"] = local.status

        bound: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        serving = asyncio.create_task(serve_async("tcp://127.0.0.1:0", bound.set_result))

        async def stop_serving() -> None:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)

        closing.append(stop_serving)
        call, close = await async_client(await bound)
        closing.append(close)
        variants["(b) asyncio, server in the same loop"] = call

        out: dict[str, list[float]] = {name: [] for name in variants}
        for call in variants.values():  # warm up
            await timed(call, 200, [])
        for _ in range(rounds):
            for name, call in variants.items():
                await timed(call, calls, out[name])
        return out
    finally:
        for close_one in reversed(closing):
            result = close_one()
            if result is not None:
                await result
        for proc in procs:
            proc.terminate()
            proc.wait()
        directory.cleanup()


def report(out: dict[str, list[float]], calls: int, rounds: int) -> int:
    """Print the table and the ratios; 1 if a goal is missed."""
    print(f"# {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(
        f"# {rounds} rounds of {calls} calls per variant, taking turns; TCP loopback; "
        "after 200 warm-up calls"
    )
    pinned = f"client on CPU {sorted(os.sched_getaffinity(0))}, servers on {sorted(SERVER_CPUS)}"
    print(f"# {pinned if SERVER_CPUS else 'not pinned'}")
    print(f"{'variant':42} {'median us':>10} {'p99 us':>9}")
    medians = {}
    for name, samples in out.items():
        median, p99 = summary(samples)
        medians[name] = median
        print(f"{name:42} {median:10.1f} {p99:9.1f}")
    hal_other = medians["hal, server in another process"]
    ratio_b = hal_other / medians["(b) asyncio, server in another process"]
    ratio_a = hal_other / medians["(a) sync echo, server in another process"]
    same_b = (
        medians["hal, server in the same loop"] / medians["(b) asyncio, server in the same loop"]
    )
    print(f"hal / (b), another process: {ratio_b:.2f}x (goal <= {GOAL_ASYNC}x)")
    print(f"hal / (a), another process: {ratio_a:.2f}x (goal <= {GOAL_SYNC}x)")
    print(f"hal / (b), same loop:       {same_b:.2f}x")
    return 0 if ratio_b <= GOAL_ASYNC and ratio_a <= GOAL_SYNC else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per variant and round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the OS place the processes (by default, with 2 CPUs or more, the client "
        "runs on CPU 0 and the servers in other processes on CPU 1)",
    )
    parser.add_argument("--role", nargs=2, metavar=("ROLE", "ENDPOINT"), help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.role is not None:
        role, endpoint = ns.role
        try:
            if role == "sync":
                serve_sync_echo(endpoint)
            else:
                asyncio.run(serve_async(endpoint))
        except KeyboardInterrupt:
            pass
        sys.exit(0)
    cpus = sorted(os.sched_getaffinity(0))
    if not ns.no_pin and len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[0]})
        SERVER_CPUS.add(cpus[1])
    samples = asyncio.run(measure(ns.calls, ns.rounds))
    sys.exit(report(samples, ns.calls, ns.rounds))
