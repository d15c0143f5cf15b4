"""SELECT PSE through the real PC/SC stack against its baselines, measured in one run.

Run: ``python bench/bench_pcsc.py [--runs N] [--slow-runs M]`` (needs pcscd with vpcd:
``.ci/run`` or ``pcscd --foreground &``; the ``pcsc`` extra).

One APDU round trip, SELECT PSE (20-byte command, 30-byte answer), by each path:

- **EMV app direct**: `simulator.emv.EmvChip.exchange` called in-process: the answer's
  own cost, no transport.
- **TCP echo**: the same sizes, framed as vpcd frames them, from a blocking client
  thread to an asyncio server on this loop over loopback TCP, with TCP_NODELAY and the
  server re-arming TCP_QUICKACK: the floor of any loopback path where our card answers
  on the event loop.
- **pyscard raw**: ``SCardTransmit`` from a plain thread: pyscard -> pcscd -> vpcd ->
  our vcard (`simulator.wire.vpcd.VirtualCard` on this loop) and back.
- **PcscReader.transmit**: the same through `hal.transports.pcsc` (its executor
  thread, awaited from the loop).
- **CardReader.chip_io**: the same through ``hal.open("pcsc://...")`` (the pcsc driver
  under `CardReaderService`: queue, timeout, events).
- each PC/SC row again **without TCP_QUICKACK** on the card (``--slow-runs`` times: the
  Nagle + delayed-ACK stall makes each take ~40 ms).

Median and p99 per path, and each path's median over the TCP echo's and over pyscard
raw's. Exit status 0 always: the figures are for the README, not a gate.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import struct
import sys
import threading
import time
from collections.abc import Awaitable, Callable

import hal
from hal.devices.card_reader import CardReader, ChipPowerAction
from hal.transports.pcsc import PcscReader, scard_module
from simulator.emv import EmvChip
from simulator.profiles import load_card_profile
from simulator.wire.pcsc_slot import PcscSlot

SELECT_PSE = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01" + b"\x00"
READER, PORT = "Virtual PCD 00 00", 35963
ADDRESS = "pcsc://" + READER.replace(" ", "%20")


def stats(samples: list[float]) -> tuple[float, float]:
    """(median, p99) in seconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


async def time_async(fn: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    for _ in range(min(20, runs)):
        await fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - start)
    return out


async def time_in_thread(fn: Callable[[], object], runs: int) -> list[float]:
    """Time ``fn`` in a plain thread while this loop keeps running (the card lives here)."""
    out: list[float] = []
    failure: list[BaseException] = []
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def work() -> None:
        try:
            for _ in range(min(20, runs)):
                fn()
            for _ in range(runs):
                start = time.perf_counter()
                fn()
                out.append(time.perf_counter() - start)
        except BaseException as exc:
            failure.append(exc)
        finally:
            loop.call_soon_threadsafe(done.set)

    thread = threading.Thread(target=work, name="bench client")
    thread.start()
    await done.wait()
    thread.join()
    if failure:
        raise failure[0]
    return out


def emv_direct(runs: int) -> list[float]:
    profile = load_card_profile("visa")
    assert profile.chip is not None
    chip = EmvChip(profile.chip, "T1")
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        chip.exchange(SELECT_PSE)
        out.append(time.perf_counter() - start)
    return out


async def tcp_echo(runs: int, answer: bytes) -> list[float]:
    """A blocking client thread <-> an asyncio server on this loop, vpcd's framing."""

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            sock = self.transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            self.transport.write(struct.pack(">H", len(answer)) + answer)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = struct.pack(">H", len(SELECT_PSE)) + SELECT_PSE
    size = 2 + len(answer)

    def exchange() -> None:
        client.sendall(request)
        got = 0
        while got < size:
            got += len(client.recv(size - got))

    try:
        return await time_in_thread(exchange, runs)
    finally:
        client.close()
        server.close()
        await server.wait_closed()


async def pcsc_rows(runs: int, quickack: bool) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    async with PcscSlot(PORT, quickack=quickack) as slot, PcscReader(READER) as reader:
        await reader.wait_absent(timeout=2)
        await slot.insert("visa")
        await reader.wait_present(timeout=2)
        await reader.connect()
        rows["PcscReader.transmit"] = await time_async(lambda: reader.transmit(SELECT_PSE), runs)
        await reader.disconnect()

        scard = scard_module()
        _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _, handle, protocol = scard.SCardConnect(
            context, READER, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1
        )

        def raw() -> None:
            hresult, _ = scard.SCardTransmit(handle, protocol, list(SELECT_PSE))
            assert hresult == 0

        try:
            rows["pyscard raw"] = await time_in_thread(raw, runs)
        finally:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            scard.SCardReleaseContext(context)

        device = hal.open(ADDRESS)
        assert isinstance(device, CardReader)
        async with device:
            await device.chip_power(ChipPowerAction.COLD)
            rows["CardReader.chip_io"] = await time_async(
                lambda: device.chip_io(SELECT_PSE, timeout=5), runs
            )
    return rows


async def main(runs: int, slow_runs: int) -> int:
    profile = load_card_profile("visa")
    assert profile.chip is not None
    answer = EmvChip(profile.chip, "T1").exchange(SELECT_PSE)
    results: dict[str, list[float]] = {"EMV app direct": emv_direct(runs)}
    results["TCP echo (loopback, same sizes)"] = await tcp_echo(runs, answer)
    fast = await pcsc_rows(runs, quickack=True)
    slow = await pcsc_rows(slow_runs, quickack=False)
    order = ["pyscard raw", "PcscReader.transmit", "CardReader.chip_io"]
    for name in order:
        results[f"{name}, QUICKACK"] = fast[name]
    for name in order:
        results[f"{name}, no QUICKACK"] = slow[name]

    echo = statistics.median(results["TCP echo (loopback, same sizes)"])
    raw = statistics.median(results["pyscard raw, QUICKACK"])
    print(f"SELECT PSE round trip ({runs} runs; {slow_runs} without QUICKACK)")
    print(f"{'path':<36} {'median':>10} {'p99':>10} {'/ TCP echo':>11} {'/ pyscard':>10}")
    for name, samples in results.items():
        median, p99 = stats(samples)
        print(
            f"{name:<36} {median * 1e3:>8.3f}ms {p99 * 1e3:>8.3f}ms "
            f"{median / echo:>10.1f}x {median / raw:>9.2f}x"
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="round trips per fast path")
    parser.add_argument(
        "--slow-runs", type=int, default=40, help="round trips per path without QUICKACK"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.runs, args.slow_runs)))
