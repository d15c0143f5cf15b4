"""The memory transport: a connected pair, its fault manipulator, and unplugging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost, HalTimeout, TransportError
from hal.registry import make_transport
from hal.transports.base import ReceiveBuffer, Transport
from hal.transports.memory import MEMORY_TRANSPORT, MemoryTransport, memory_pair
from tests.specs import registered

Pair = tuple[MemoryTransport, MemoryTransport]


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    host, device = memory_pair()
    await host.open()
    await device.open()
    yield host, device
    await host.close()
    await device.close()


@pytest.fixture
def specs() -> Iterator[None]:
    with registered(MEMORY_TRANSPORT):
        yield


async def test_bytes_cross_in_both_directions(
    pair: Pair,
) -> None:
    host, device = pair
    assert isinstance(host, Transport)
    await host.write(b"\x02\x00\x02\x31\x30\x03\x02")
    assert await device.read_exactly(7, timeout=1) == b"\x02\x00\x02\x31\x30\x03\x02"
    await device.write(b"\x06")
    assert await host.read(10, timeout=1) == b"\x06"


async def test_read_returns_what_is_there_and_times_out_when_nothing(
    pair: Pair,
) -> None:
    host, device = pair
    await device.write(b"abc")
    assert await host.read(2, timeout=0) == b"ab"
    assert await host.read(10, timeout=0) == b"c"
    with pytest.raises(HalTimeout, match=r"nothing received within 0\.01 s"):
        await host.read(timeout=0.01)


async def test_read_exactly_that_times_out_consumes_nothing(
    pair: Pair,
) -> None:
    host, device = pair
    await device.write(b"ab")
    with pytest.raises(HalTimeout, match="2 of 3 bytes"):
        await host.read_exactly(3, timeout=0.01)
    await device.write(b"c")
    assert await host.read_exactly(3, timeout=1) == b"abc"


async def test_flush_input_drops_unread_bytes(
    pair: Pair,
) -> None:
    host, device = pair
    await device.write(b"stale")
    assert host.flush_input() == 5
    with pytest.raises(HalTimeout):
        await host.read(timeout=0)


async def test_split_delivers_chunks_one_loop_turn_apart(
    pair: Pair,
) -> None:
    host, device = pair
    device.faults.split(2)
    await device.write(b"12345")
    chunks = [await host.read(10, timeout=1) for _ in range(3)]
    assert chunks == [b"12", b"34", b"5"]


async def test_delay_holds_bytes_back(pair: Pair) -> None:
    host, device = pair
    device.faults.delay(0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await device.write(b"late")
    with pytest.raises(HalTimeout):
        await host.read(timeout=0.01)
    assert await host.read(timeout=1) == b"late"
    assert loop.time() - start >= 0.045


async def test_corrupt_and_drop_address_bytes_from_now(
    pair: Pair,
) -> None:
    host, device = pair
    await device.write(b"xx")  # positions 0 and 1
    device.faults.corrupt(1, 0x01)  # the second byte sent from now on
    device.faults.drop(3, 2)
    await device.write(b"ABCDEFG")
    assert await host.read_exactly(7, timeout=1) == b"xxACCFG"  # B^1, D and E dropped
    assert device.faults.sent == 9
    await device.write(b"ok")  # each fault hits once
    assert await host.read_exactly(2, timeout=1) == b"ok"


async def test_closing_an_end_unplugs_the_other(
    pair: Pair,
) -> None:
    host, device = pair
    waiting = asyncio.create_task(host.read(timeout=5))
    await asyncio.sleep(0)
    await device.write(b"last")
    await device.close()
    assert await waiting == b"last"  # what came before the unplug is read first
    with pytest.raises(ConnectionLost, match="other end"):
        await host.read(timeout=5)
    with pytest.raises(ConnectionLost):
        await host.write(b"x")
    with pytest.raises(ConnectionLost):
        await host.reopen()
    await device.open()
    await host.reopen()
    await device.write(b"back")
    assert await host.read(timeout=1) == b"back"


async def test_a_pending_read_ends_when_its_own_end_closes(
    pair: Pair,
) -> None:
    host, _ = pair
    waiting = asyncio.create_task(host.read(timeout=5))
    await asyncio.sleep(0)
    await host.close()
    with pytest.raises(ConnectionLost, match="was closed"):
        await waiting
    with pytest.raises(TransportError, match="not open"):
        await host.read(timeout=0)


async def test_the_peer_reopening_is_awaited_without_polling(
    pair: Pair,
) -> None:
    host, device = pair
    await host.close()
    waiter = asyncio.create_task(device.wait_peer_open())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await host.open()
    await asyncio.wait_for(waiter, 1)


def test_a_named_pair_is_reached_through_the_registry(specs: None) -> None:
    host, _device = memory_pair("bench-a")
    assert make_transport(DeviceAddress.parse("crt310+memory://bench-a")) is host
    with pytest.raises(ConfigurationError, match="no memory pair named 'nothing'"):
        make_transport(DeviceAddress.parse("crt310+memory://nothing"))
    with pytest.raises(ConfigurationError, match="exists already"):
        memory_pair("bench-a")


def test_manipulator_arguments_are_checked() -> None:
    host, _ = memory_pair()
    with pytest.raises(ValueError, match="chunk"):
        host.faults.split(0)
    with pytest.raises(ValueError, match="delay"):
        host.faults.delay(-1)
    with pytest.raises(ValueError, match="mask"):
        host.faults.corrupt(0, 0)
    with pytest.raises(ValueError, match="count"):
        host.faults.drop(0, 0)


async def test_receive_buffer_keeps_at_most_its_limit() -> None:
    buffer = ReceiveBuffer("test", limit=4)
    buffer.feed(b"123456")
    assert buffer.overflowed == 2
    assert await buffer.read(10) == b"3456"
