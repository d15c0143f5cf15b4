"""The usb transport on the simulated bus, against raw pyusb calls on the same backend.

Run: ``python bench/bench_usb.py [--rounds N] [--size BYTES] [--statuses N]``

1. **Bulk round trip**: write ``size`` bytes to an echo device's bulk OUT, read them back
   from its bulk IN; the median of ``rounds``. Three ways, same run, same ``sim`` pyusb
   backend (`simulator.wire.usb`), so the difference is what each layer costs:

   - *raw pyusb*: ``dev.write`` + ``dev.read`` in a loop on one thread (the floor: pyusb
     and the simulated device alone, no event loop);
   - *raw pyusb from asyncio*: the same two calls, each in ``asyncio.to_thread`` (what
     the least an async app must pay to keep blocking calls off its loop);
   - *UsbTransport*: ``await write()`` + ``await read_exactly()``: the worker thread's
     job queue, its bulk IN reads in slices, the hops back to the loop. A write waits for
     the read slice in progress to end (``read_slice``, 1 ms by default: libusb's
     timeouts are whole milliseconds), so this row is bounded below by about one slice.

2. **CRT-310 status** (``reader.status()``: a 31 30 command, its ACK, the ENQ and the
   reply, through the real ``crt310`` driver opened by address), the median of
   ``statuses``: over ``crt310+usb://`` (sim backend, `UsbLink`) and over
   ``crt310+serial://`` on a pty (`PtyBridge`, no UART pacing): the same driver and
   emulator, only the wire differs.

Ratios are printed against the raw pyusb row (1) and the pty row (2).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import usb.core
import usb.util

import hal
from drivers.card_reader.crt310 import CRT310_DRIVER
from hal import registry
from hal.devices.card_reader import CardReader
from hal.errors import DriverNotFound
from hal.transports.serial import SERIAL_TRANSPORT
from hal.transports.usb import USB_TRANSPORT, UsbOptions, UsbTransport
from simulator.wire.crt310 import Crt310Emulator
from simulator.wire.pty import PtyBridge
from simulator.wire.usb import (
    CRT310_PRODUCT_ID,
    CRT310_USB,
    SIM_VENDOR_ID,
    EchoFirmware,
    SimUsbDevice,
    UsbLink,
    bulk_spec,
    default_bus,
)
from simulator.world import CardReaderSetup, World

ECHO_PID = 0xBE7C


def register() -> None:
    """The driver and the transports, if their entry points are not installed."""
    for spec in (CRT310_DRIVER, SERIAL_TRANSPORT, USB_TRANSPORT):
        lookup: Callable[[str], object] = (
            registry.driver if spec is CRT310_DRIVER else registry.transport
        )
        try:
            lookup(spec.name)
        except DriverNotFound:
            registry.register(spec)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def raw_round_trips(rounds: int, payload: bytes) -> list[float]:
    dev = usb.core.find(idVendor=SIM_VENDOR_ID, idProduct=ECHO_PID, backend=default_bus().backend)
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            dev.write(0x01, payload, 1000)
            got = b""
            while len(got) < len(payload):
                got += bytes(dev.read(0x81, 4096, 1000))
            times.append(time.perf_counter() - start)
            assert got == payload
    finally:
        usb.util.dispose_resources(dev)
    return times


async def raw_threaded_round_trips(rounds: int, payload: bytes) -> list[float]:
    dev = usb.core.find(idVendor=SIM_VENDOR_ID, idProduct=ECHO_PID, backend=default_bus().backend)
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            await asyncio.to_thread(dev.write, 0x01, payload, 1000)
            got = b""
            while len(got) < len(payload):
                got += bytes(await asyncio.to_thread(dev.read, 0x81, 4096, 1000))
            times.append(time.perf_counter() - start)
            assert got == payload
    finally:
        usb.util.dispose_resources(dev)
    return times


async def transport_round_trips(rounds: int, payload: bytes) -> list[float]:
    transport = UsbTransport(SIM_VENDOR_ID, ECHO_PID, UsbOptions(backend="sim", serial="BENCH"))
    await transport.open()
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            await transport.write(payload)
            got = await transport.read_exactly(len(payload), timeout=5)
            times.append(time.perf_counter() - start)
            assert got == payload
    finally:
        await transport.close()
    return times


async def statuses(reader: CardReader, count: int) -> list[float]:
    await reader.status()  # warm-up
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await reader.status()
        times.append(time.perf_counter() - start)
    return times


async def status_over_usb(count: int) -> list[float]:
    world = World("bench-usb", clock_scale=1e-6)
    model = world.card_reader(setup=CardReaderSetup(motion_time=0.0, take_timeout=None))
    device = SimUsbDevice(dataclasses.replace(CRT310_USB, serial="BENCH-USB"))
    link = UsbLink(device)
    address = (
        f"crt310+usb://{SIM_VENDOR_ID:04x}:{CRT310_PRODUCT_ID:04x}?backend=sim&serial=BENCH-USB"
    )
    with default_bus().plugged(device):
        async with Crt310Emulator(model, link):
            reader = hal.open(address)
            assert isinstance(reader, CardReader)
            async with reader:
                return await statuses(reader, count)


async def status_over_pty(count: int) -> list[float]:
    world = World("bench-pty", clock_scale=1e-6)
    model = world.card_reader(setup=CardReaderSetup(motion_time=0.0, take_timeout=None))
    with tempfile.TemporaryDirectory(prefix="bench-usb-") as directory:
        address = f"crt310+serial://{Path(directory) / 'crt310'}?baud=115200"
        async with (
            PtyBridge("crt310", directory=directory) as bridge,
            Crt310Emulator(model, bridge),
        ):
            reader = hal.open(address)
            assert isinstance(reader, CardReader)
            async with reader:
                return await statuses(reader, count)


async def main(rounds: int, size: int, count: int) -> None:
    register()
    payload = bytes(i & 0xFF for i in range(size))
    echo = SimUsbDevice(bulk_spec(SIM_VENDOR_ID, ECHO_PID, serial="BENCH"), EchoFirmware())
    with default_bus().plugged(echo):
        raw_round_trips(50, payload)  # warm-up
        raw = median_us(raw_round_trips(rounds, payload))
        threaded = median_us(await raw_threaded_round_trips(rounds, payload))
        ours = median_us(await transport_round_trips(rounds, payload))
    print(f"bulk write+read round trip, {size} bytes, sim backend, median of {rounds}")
    print(f"{'':34} {'us':>9} {'x raw':>7}")
    for label, value in (
        ("raw pyusb (one thread)", raw),
        ("raw pyusb from asyncio (to_thread)", threaded),
        ("UsbTransport write + read_exactly", ours),
    ):
        print(f"{label:34} {value:>9.1f} {value / raw:>6.1f}x")
    over_usb = median_us(await status_over_usb(count))
    over_pty = median_us(await status_over_pty(count))
    print(f"\nCRT-310 status (31 30, ACK, ENQ, reply) through the crt310 driver, median of {count}")
    print(f"{'':34} {'us':>9} {'x pty':>7}")
    for label, value in (
        ("crt310+serial:// on a pty", over_pty),
        ("crt310+usb:// (sim)", over_usb),
    ):
        print(f"{label:34} {value:>9.1f} {value / over_pty:>6.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=500, help="bulk round trips per way")
    parser.add_argument("--size", type=int, default=64, help="bytes per round trip")
    parser.add_argument("--statuses", type=int, default=200, help="CRT-310 status commands")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.size, args.statuses))
