"""The usb transport with several pipes: writes to a named OUT endpoint, reads from named
IN endpoints (each into a buffer of its own), as the SAM_V module's four bulk pipes need.

The device is a `SimUsbDevice` with two bulk OUT (0x02, 0x06) and two bulk IN (0x81,
0x85) endpoints whose firmware sends what came on 0x02 back on 0x81 and what came on
0x06 back on 0x85, tagged with the OUT endpoint it came on.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from hal.errors import ConnectionLost, HalTimeout, TransportError
from hal.transports.usb import UsbOptions, UsbTransport
from simulator.wire.usb import (
    BULK,
    SIM_VENDOR_ID,
    ConfigurationSpec,
    EndpointSpec,
    InterfaceSpec,
    SimUsbDevice,
    UsbDeviceSpec,
    UsbFirmware,
    default_bus,
)

PID = 0x7E58
_serials = itertools.count()
_ROUTE = {0x02: 0x81, 0x06: 0x85}


class _Crossed(UsbFirmware):
    """OUT 0x02 back on IN 0x81, OUT 0x06 back on IN 0x85, each tagged."""

    def bulk_out(self, device: SimUsbDevice, endpoint: int, data: bytes) -> None:
        device.send(bytes((endpoint,)) + data, _ROUTE[endpoint])


def _spec() -> UsbDeviceSpec:
    endpoints = tuple(EndpointSpec(a, BULK, 64) for a in (0x02, 0x06, 0x81, 0x85))
    return UsbDeviceSpec(
        SIM_VENDOR_ID,
        PID,
        product="Four-pipe test device",
        serial=f"P{next(_serials):05d}",
        configurations=(ConfigurationSpec(interfaces=(InterfaceSpec(endpoints=endpoints),)),),
    )


@pytest.fixture
def device() -> Iterator[SimUsbDevice]:
    dev = SimUsbDevice(_spec(), _Crossed())
    with default_bus().plugged(dev):
        yield dev


def _transport(dev: SimUsbDevice) -> UsbTransport:
    options = UsbOptions(backend="sim", serial=dev.spec.serial or "")
    return UsbTransport(dev.spec.vendor_id, dev.spec.product_id, options)


@pytest.fixture
async def port(device: SimUsbDevice) -> AsyncIterator[UsbTransport]:
    transport = _transport(device)
    transport.add_in_endpoint(0x85)
    await transport.open()
    yield transport
    await transport.close()


async def test_each_pipe_is_named_and_kept_apart(port: UsbTransport) -> None:
    assert port.info is not None
    assert (port.info.ep_out, port.info.ep_in) == (0x02, 0x81)
    await port.write(b"head", endpoint=0x02)
    await port.write(b"body", endpoint=0x06)
    assert await port.read_exactly(5, timeout=2, endpoint=0x85) == b"\x06body"
    assert await port.read_exactly(5, timeout=2, endpoint=0x81) == b"\x02head"
    # Without endpoint=: the ep_out and ep_in pipes, as for any device.
    await port.write(b"x")
    assert await port.read_exactly(2, timeout=2) == b"\x02x"
    assert port.flush_input() == 0
    assert port.flush_input(0x85) == 0


async def test_a_timeout_on_one_pipe_consumes_nothing_and_flush_is_per_pipe(
    port: UsbTransport,
) -> None:
    await port.write(b"ab", endpoint=0x06)
    with pytest.raises(HalTimeout):
        await port.read_exactly(9, timeout=0.1, endpoint=0x85)
    await port.write(b"cd", endpoint=0x02)
    await asyncio.sleep(0.05)
    assert port.flush_input(0x81) == 3
    assert await port.read_exactly(3, timeout=1, endpoint=0x85) == b"\x06ab"
    with pytest.raises(HalTimeout):
        await port.read(timeout=0.05)


async def test_unknown_pipes_are_refused(port: UsbTransport, device: SimUsbDevice) -> None:
    with pytest.raises(TransportError, match="no OUT endpoint 0x04"):
        await port.write(b"x", endpoint=0x04)
    with pytest.raises(ValueError, match="IN endpoint 0x86 is not read"):
        await port.read(timeout=0.1, endpoint=0x86)
    with pytest.raises(TransportError, match="before open"):
        port.add_in_endpoint(0x86)
    with pytest.raises(ValueError, match="0x81 to 0x8f"):
        _transport(device).add_in_endpoint(0x05)


async def test_an_endpoint_the_interface_lacks_refuses_to_open(device: SimUsbDevice) -> None:
    transport = _transport(device)
    transport.add_in_endpoint(0x83)
    with pytest.raises(TransportError, match="no endpoint 0x83"):
        await transport.open()
    await transport.close()


async def test_an_unplug_ends_reads_on_every_pipe(port: UsbTransport, device: SimUsbDevice) -> None:
    waiting = asyncio.ensure_future(port.read(timeout=5, endpoint=0x85))
    await asyncio.sleep(0.05)
    default_bus().unplug(device)
    try:
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(waiting, 2)
    finally:
        default_bus().plug(device)
    await port.reopen()
    await port.write(b"again", endpoint=0x06)
    assert await port.read_exactly(6, timeout=2, endpoint=0x85) == b"\x06again"


async def test_a_long_transfer_is_read_back_to_back(
    port: UsbTransport, device: SimUsbDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reply of many packets on one pipe is not interleaved with a read (a slice's
    # wait) of the other pipe per packet.
    reads: list[int] = []
    original = device._bulk_read

    def counted(generation: int, endpoint: int, size: int, timeout_ms: int) -> bytes:
        reads.append(endpoint)
        return original(generation, endpoint, size, timeout_ms)

    monkeypatch.setattr(device, "_bulk_read", counted)
    body = bytes(range(256)) * 16  # 64 packets
    await port.write(body, endpoint=0x06)
    assert await port.read_exactly(len(body) + 1, timeout=5, endpoint=0x85) == b"\x06" + body
    first = reads.index(0x85)
    during = reads[first : first + 65]
    assert during.count(0x85) >= 64, during.count(0x81)
