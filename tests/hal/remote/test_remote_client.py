"""`RemoteCardReader` against a real server: the same typed results and errors as
in-process, events, cancellation, shared sessions, ``hal.open``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import hal
from hal.device import COMMAND_DEADLINE
from hal.devices.card_reader import (
    DISPENSE_UNIT,
    CardReader,
    ChipPowerAction,
    InsertCard,
    MediaInserted,
    MediaRemoved,
    MoveTarget,
    StorageError,
    Track,
)
from hal.errors import DeviceNotReady, HalError, HalTimeout, NoMedia, ProtocolError
from hal.events import StatusChanged
from hal.remote import RemoteCardReader, RemoteServer
from simulator.control import CardReaderControl
from simulator.world import World

SELECT_PSE = bytes.fromhex("00A404000E315041592E5359532E444446303100")
MAG = (Track.TRACK1, Track.TRACK2, Track.TRACK3)


async def read_with_card(reader: CardReader, control: CardReaderControl, tracks: Any) -> Any:
    task = asyncio.create_task(reader.read_raw_data(tracks, timeout=5))
    await control.wait_for("gate_open", timeout=2)
    await control.insert_card("visa")
    return await task


@pytest.fixture
async def local(world: World) -> AsyncIterator[CardReader]:
    """The same reader as the served one, in another world with the same seed."""
    twin = World("twin", seed=world.seed, clock_scale=world.clock.scale)
    async with twin.open_card_reader() as service:
        service.twin_control = twin.card_reader_control()  # type: ignore[attr-defined]
        yield service


async def test_typed_results_equal_the_in_process_ones(
    reader: RemoteCardReader, local: CardReader, control: CardReaderControl
) -> None:
    twin: CardReaderControl = local.twin_control  # type: ignore[attr-defined]
    assert await reader.status() == await local.status()
    assert await reader.capabilities() == await local.capabilities()
    assert await reader.retain_bin() == await local.retain_bin()
    sources = (*MAG, Track.CHIP)
    remote_read = await read_with_card(reader, control, sources)
    local_read = await read_with_card(local, twin, sources)
    assert remote_read == local_read
    assert remote_read[Track.TRACK2].data  # not vacuous
    assert await reader.status() == await local.status()
    for action in (ChipPowerAction.COLD, ChipPowerAction.WARM):
        assert await reader.chip_power(action) == await local.chip_power(action)
    assert await reader.chip_io(SELECT_PSE) == await local.chip_io(SELECT_PSE)
    assert await reader.chip_power(ChipPowerAction.OFF) == b""
    await reader.write_raw_data({Track.TRACK3: b"0123"})
    await reader.move(MoveTarget.RETAIN)
    await local.move(MoveTarget.RETAIN)
    assert await reader.retain_bin() == await local.retain_bin()
    await reader.empty_retain_bin(reason="test")
    assert (await reader.retain_bin()).count == 0


ERRORS: dict[str, Callable[[CardReader], Awaitable[Any]]] = {
    "no source": lambda r: r.read_raw_data([], timeout=1),
    "read times out": lambda r: r.read_raw_data([Track.TRACK2], timeout=0.05),
    "apdu without card": lambda r: r.chip_io(SELECT_PSE),
    "short apdu": lambda r: r.chip_io(b"\x00"),
    "bad track characters": lambda r: r.write_raw_data({Track.TRACK2: b"\x01"}),
    "retain without card": lambda r: r.move(MoveTarget.RETAIN),
}


@pytest.mark.parametrize("call", ERRORS.values(), ids=ERRORS.keys())
async def test_errors_come_back_as_the_same_class_and_message(
    reader: RemoteCardReader, local: CardReader, call: Callable[[CardReader], Awaitable[Any]]
) -> None:
    with pytest.raises(HalError) as remote:
        await call(reader)
    with pytest.raises(HalError) as in_process:
        await call(local)
    assert type(remote.value) is type(in_process.value)
    assert remote.value.completion == in_process.value.completion
    assert remote.value.error_code == in_process.value.error_code
    assert remote.value.message == in_process.value.message


async def test_unsolicited_events_arrive_typed_without_a_command_id(
    reader: RemoteCardReader, control: CardReaderControl
) -> None:
    with reader.events() as sub:
        await read_with_card(reader, control, [Track.TRACK2])
        await reader.move(MoveTarget.EXIT)
        await control.take_card(timeout=2)
        removed = await sub.wait_for(MediaRemoved, timeout=2)
        after = await sub.wait_for(StatusChanged, timeout=2)
    assert removed.command_id is None
    assert removed.device == "card_reader"
    assert after.new.media.value == "notPresent"


async def test_command_events_come_before_the_result(
    reader: RemoteCardReader, control: CardReaderControl
) -> None:
    with reader.events() as sub:
        await read_with_card(reader, control, [Track.TRACK2])
        events = sub.drain()  # everything is there when the call returns
    kinds = [type(e) for e in events if not isinstance(e, StatusChanged)]
    assert kinds == [InsertCard, MediaInserted]
    assert events[0].command_id is not None
    assert events[0].command_id == events[1].command_id
    changes = [e for e in events if isinstance(e, StatusChanged)]
    assert changes
    assert changes[0].new.media.value == "present"
    assert "media" in changes[0].changed


async def test_cancelling_a_call_cancels_it_on_the_server_and_waits_for_it(
    reader: RemoteCardReader, control: CardReaderControl
) -> None:
    task = asyncio.create_task(reader.read_raw_data([Track.TRACK2]))
    await control.wait_for("gate_open", timeout=2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not control.model.gate_open  # settled before CancelledError was raised
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await reader.read_raw_data([Track.TRACK2])
    assert not control.model.gate_open
    assert (await reader.status()).device.value == "online"


async def test_the_deadline_of_the_caller_travels(reader: RemoteCardReader) -> None:
    token = COMMAND_DEADLINE.set(time.time() - 1)
    try:
        with pytest.raises(HalTimeout, match="past its deadline"):
            await reader.move(MoveTarget.EXIT)
    finally:
        COMMAND_DEADLINE.reset(token)


async def test_hal_open_over_tcp(server: RemoteServer, control: CardReaderControl) -> None:
    port = int(server.endpoint.rpartition(":")[2])
    device = hal.open(f"zmq://127.0.0.1:{port}/card_reader?timeout=2")
    assert isinstance(device, RemoteCardReader)
    async with device as reader:
        result = await read_with_card(reader, control, [Track.TRACK2])
        assert result[Track.TRACK2].data


async def test_hal_open_over_ipc(world: World, ipc_dir: Path, control: CardReaderControl) -> None:
    socket = ipc_dir / "kiosk.sock"
    served = RemoteServer({"card_reader": world.open_card_reader()}, f"ipc://{socket}")
    async with served, hal.open(f"zmq+ipc://{socket}/card_reader") as reader:
        assert served.endpoint == f"ipc://{socket}"
        assert (await reader.status()).device.value == "online"


async def test_devices_on_one_endpoint_share_a_session(
    server: RemoteServer, control: CardReaderControl
) -> None:
    first = RemoteCardReader(server.endpoint)
    second = RemoteCardReader(server.endpoint)
    async with first, second:
        assert first._session is second._session
        assert server.session_count == 1
        with first.events() as one, second.events() as two:
            await read_with_card(first, control, [Track.TRACK2])
            assert [type(e) for e in one.drain()] == [type(e) for e in two.drain()]
        await first.close()
        assert (await second.status()).media.value == "present"
        with pytest.raises(DeviceNotReady):
            await first.status()
    await asyncio.sleep(0.05)
    # The session stays until its heartbeats are missed, but the device is closed in it.
    assert all(not s.opened for s in server._dispatcher.sessions.values())


async def test_an_unknown_device_is_refused_and_nothing_stays_open(server: RemoteServer) -> None:
    with pytest.raises(ProtocolError, match="no device named 'printer'"):
        await RemoteCardReader(server.endpoint, "printer").open()


async def test_a_restarted_server_gives_connection_lost_then_is_reached_again(
    world: World,
) -> None:
    def serve(endpoint: str) -> RemoteServer:
        return RemoteServer(
            {"card_reader": world.open_card_reader()},
            endpoint,
            simulator=True,
            heartbeat_interval=0.1,
        )

    first = serve("tcp://127.0.0.1:0")
    await first.start()
    endpoint = first.endpoint
    async with RemoteCardReader(endpoint, timeout=0.5) as reader:
        with reader.events() as sub:
            assert (await reader.status()).device.value == "online"
            await first.stop()
            with pytest.raises(hal.ConnectionLost):
                await reader.status()
            lost = await sub.get(timeout=2)
            assert isinstance(lost, hal.EventsLost)
        async with serve(endpoint):
            assert (await reader.status()).device.value == "online"


async def test_issuing_over_the_remote_equals_in_process(
    reader: RemoteCardReader, local: CardReader, control: CardReaderControl
) -> None:
    twin: CardReaderControl = local.twin_control  # type: ignore[attr-defined]
    for device in (reader, local):
        await device.load_stacker(100, reason="test: loaded")
    assert await reader.stacker() == await local.stacker()
    with reader.events(kinds=[StorageError]) as sub:
        await control.load_stacker(0)
        with pytest.raises(NoMedia) as caught:
            await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=5)
        assert caught.value.error_code == "noMedia"
        event = await sub.wait_for(StorageError, timeout=2)
    assert isinstance(event, StorageError)
    assert (event.failure, event.unit) == ("empty", DISPENSE_UNIT)
    await control.load_stacker(100)
    await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT, timeout=5)
    await local.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT, timeout=5)
    assert await control.card_position() == await twin.card_position() == "exit"
    remote_stacker, local_stacker = await reader.stacker(), await local.stacker()
    assert remote_stacker.count == 99  # not vacuous
    # The failed dispense (stacker empty) left no trace in the counts.
    assert remote_stacker == local_stacker
    assert (await reader.status()).stacker == (await local.status()).stacker
