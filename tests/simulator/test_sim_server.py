"""`SimServer` and its control socket, in-process: every control command, the refusals,
a reset to a fresh world, and the client `RemoteCardReaderControl`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

import hal
from hal.devices.card_reader import CardReader, MediaStatus, MoveTarget, Track
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    HalTimeout,
    InvalidData,
    ProtocolError,
    SequenceError,
)
from hal.ledger import Ledger
from simulator.remote_control import RemoteCardReaderControl
from simulator.scenario import parse_scenario
from simulator.server import SimServer, default_control_endpoint

SCALE = 0.005


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimServer]:
    server = SimServer(
        endpoint="tcp://127.0.0.1:0", clock_scale=SCALE, ledger=tmp_path / "ledger.sqlite"
    )
    async with server:
        yield server


@pytest.fixture
def control(sim: SimServer) -> RemoteCardReaderControl:
    return RemoteCardReaderControl(sim.control_endpoint, timeout=2.0)


def _open(sim: SimServer) -> CardReader:
    reader = hal.open(sim.addresses["card_reader"])
    assert isinstance(reader, CardReader)
    return reader


@pytest.mark.parametrize(
    ("endpoint", "control"),
    [
        ("tcp://127.0.0.1:5740", "tcp://127.0.0.1:5741"),
        ("tcp://127.0.0.1:0", "tcp://127.0.0.1:0"),
        ("tcp://[::1]:6000", "tcp://[::1]:6001"),
        ("ipc:///run/t/sim.sock", "ipc:///run/t/sim-control.sock"),
        ("ipc:///run/t/sim", "ipc:///run/t/sim-control"),
        ("ipc://@sim", "ipc://@sim-control"),
        ("inproc://sim", "inproc://sim-control"),
    ],
)
def test_the_control_endpoint_sits_next_to_the_devices(endpoint: str, control: str) -> None:
    assert default_control_endpoint(endpoint) == control


def test_no_control_endpoint_after_the_last_port() -> None:
    with pytest.raises(ConfigurationError, match="--control"):
        default_control_endpoint("tcp://127.0.0.1:65535")


async def test_a_second_client_drives_the_reader_through_the_control_socket(
    sim: SimServer, control: RemoteCardReaderControl
) -> None:
    assert sim.addresses == {
        "card_reader": f"zmq://127.0.0.1:{sim.endpoint.split(':')[-1]}/card_reader"
    }
    async with _open(sim) as reader:
        read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
        await control.wait_for("gate_open", timeout=2)
        sample = await control.insert_card("visa")
        result = await read
        track2 = result.get(Track.TRACK2)
        assert track2 is not None
        assert track2.data == sample.track2
        assert sample.has_chip
        assert sample.pan is not None
        assert await control.card_position() == "inside"
        await reader.move(MoveTarget.EXIT, timeout=2)
        await control.take_card(timeout=2)
        assert await control.card_position() == "customer"
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT


async def test_faults_reach_the_reader(sim: SimServer, control: RemoteCardReaderControl) -> None:
    model = sim.world.card_reader()
    await control.power_loss(True)
    assert not model.powered
    await control.power_loss(False)
    assert model.powered
    await control.slow_replies(2.5)
    assert model._reply_delay_s == 2.5
    await control.slow_replies(0)
    await control.insert_card("visa")  # waits in the slot
    async with _open(sim) as reader:
        await reader.read_raw_data([Track.TRACK2], timeout=2)
        await control.jam()
        with pytest.raises(hal.errors.MediaJam):
            await reader.move(MoveTarget.EXIT, timeout=2)
        assert await control.card_position() == "jammed"
        await control.clear_jam()
        assert await control.card_position() == "inside"
        await reader.move(MoveTarget.RETAIN, timeout=2)
    assert await control.retained_count() == 1
    assert await control.empty_retain_bin() == 1
    assert await control.retained_count() == 0


async def test_errors_come_back_as_their_classes(
    sim: SimServer, control: RemoteCardReaderControl
) -> None:
    with pytest.raises(HalTimeout, match=r"card_at_exit did not happen within 0\.05 s"):
        await control.take_card(timeout=0.05)
    with pytest.raises(InvalidData, match="unknown condition 'soon'"):
        await control.wait_for("soon", timeout=0.1)
    with pytest.raises(InvalidData, match="no card profile named 'gold'"):
        await control.insert_card("gold")
    await control.insert_card("visa")
    with pytest.raises(SequenceError):
        await control.insert_card("visa")
    other = RemoteCardReaderControl(sim.control_endpoint, "cash_dispenser")
    with pytest.raises(ProtocolError, match="no device 'cash_dispenser'; offered: card_reader"):
        await other.jam()
    gone = RemoteCardReaderControl("tcp://127.0.0.1:1", timeout=0.2)
    with pytest.raises(ConnectionLost):
        await gone.jam()


async def test_reset_gives_a_fresh_world_and_drops_sessions(
    sim: SimServer, control: RemoteCardReaderControl, tmp_path: Path
) -> None:
    endpoint = sim.endpoint
    async with _open(sim) as reader:
        await control.insert_card("visa")
        await reader.read_raw_data([Track.TRACK2], timeout=2)
        await reader.move(MoveTarget.RETAIN, timeout=2)
        assert (await reader.retain_bin()).count == 1
        old_world = sim.world
        await control.reset()
        assert sim.world is not old_world
        assert sim.endpoint == endpoint  # the same port again
        assert await control.card_position() == "none"
        assert await control.retained_count() == 0
        # The old session is gone: the next call says so, the one after reconnects.
        with pytest.raises(ConnectionLost, match="no longer knows this session"):
            await reader.status()
        assert (await reader.retain_bin()).count == 0
    with Ledger.open(tmp_path / "ledger.sqlite", read_only=True) as ledger:
        assert ledger.counts("card_reader").get("retain", 0) == 0


async def test_the_customer_of_a_scenario_runs_when_asked() -> None:
    scenario = parse_scenario(
        """
        version = 1
        [devices.card_reader]
        retain_capacity = 5
        [[customer]]
        wait_for = "gate_open"
        action = "insert_card"
        profile = "mag_only"
        """,
        name="one_card",
    )
    sim = SimServer(scenario, "tcp://127.0.0.1:0", clock_scale=SCALE, customer=True)
    async with sim:
        reader = _open(sim)
        async with reader:
            assert (await reader.capabilities()).retain_capacity == 5
            result = await reader.read_raw_data([Track.TRACK2], timeout=2)
            assert result.get(Track.TRACK2) is not None


class _Raw:
    """A DEALER on the control socket, speaking the envelope by hand."""

    def __init__(self, context: zmq.asyncio.Context, endpoint: str) -> None:
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)

    async def send(self, *frames: bytes) -> None:
        await self.socket.send_multipart(list(frames))

    async def command(self, name: str, payload: Any = None, rid: int = 1, **header: Any) -> None:
        head = {"version": "1", "name": name, "type": "command", "requestId": rid, **header}
        await self.send(json.dumps(head).encode(), json.dumps(payload or {}).encode())

    async def recv(self) -> dict[str, Any]:
        frames = await asyncio.wait_for(self.socket.recv_multipart(), 2)
        header: dict[str, Any] = json.loads(frames[0])
        return header


@pytest.fixture
async def raw(sim: SimServer) -> AsyncIterator[_Raw]:
    context = zmq.asyncio.Context()
    client = _Raw(context, sim.control_endpoint)
    yield client
    client.socket.close(linger=0)
    context.destroy(linger=0)


@pytest.mark.parametrize(
    ("frames", "status", "text"),
    [
        ([b"{"], "invalidMessage", "at least 2 frames"),
        ([b"not json", b"{}"], "invalidMessage", "not UTF-8 JSON"),
        ([b'{"version":"1","name":"Control.Jam","type":"command"}', b"{}"], "invalidRequestID", ""),
        (
            [b'{"version":"1","name":"Control.Jam","type":"command","requestId":1}', b"{}", b"x"],
            "invalidMessage",
            "at most 0 blob",
        ),
        (
            [b'{"version":"1","name":"Control.Fly","type":"command","requestId":1}', b"{}"],
            "invalidMessage",
            "Control.Fly is not one of",
        ),
        (
            [b'{"version":"1","name":"Control.Jam","type":"command","requestId":1}', b"{}"],
            "invalidMessage",
            "a device in the header",
        ),
        (
            [
                b'{"version":"1","name":"Control.Reset","type":"command","requestId":1,'
                b'"device":"card_reader"}',
                b"{}",
            ],
            "invalidMessage",
            "acts on no device",
        ),
        (
            [
                b'{"version":"1","name":"Control.TakeCard","type":"command","requestId":1,'
                b'"device":"card_reader"}',
                b'{"timeout":-1}',
            ],
            "invalidMessage",
            "timeout must be from 0 to 3600",
        ),
        (
            [
                b'{"version":"1","name":"Control.PowerLoss","type":"command","requestId":1,'
                b'"device":"card_reader"}',
                b'{"on":1}',
            ],
            "invalidMessage",
            "expected true or false",
        ),
        (
            [b'{"version":"1","name":"Common.Heartbeat","type":"heartbeat"}', b"{}"],
            "invalidMessage",
            "not accepted here",
        ),
    ],
)
async def test_malformed_control_messages_are_refused(
    raw: _Raw, frames: list[bytes], status: str, text: str
) -> None:
    await raw.send(*frames)
    ack = await raw.recv()
    assert (ack["type"], ack["status"]) == ("acknowledge", status), ack
    assert text in ack.get("errorDescription", ""), ack
    # The socket still serves.
    await raw.command("Control.CardPosition", rid=7, device="card_reader")
    assert (await raw.recv())["status"] is None
    done = await raw.recv()
    assert (done["type"], done["completionCode"]) == ("completion", "success")


async def test_a_live_request_id_is_refused_and_a_stop_cancels(sim: SimServer, raw: _Raw) -> None:
    wait = {"condition": "card_inside", "timeout": 60}
    await raw.command("Control.WaitFor", wait, rid=3, device="card_reader")
    assert (await raw.recv())["status"] is None
    await raw.command("Control.WaitFor", wait, rid=3, device="card_reader")
    assert (await raw.recv())["status"] == "invalidRequestID"
    await sim.stop()
    done = await raw.recv()
    assert (done["requestId"], done["completionCode"]) == (3, "canceled")
