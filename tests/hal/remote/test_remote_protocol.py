"""The server, spoken to byte by byte from a raw DEALER.

Each XFS4IoT protocol fact of reference/xfs4iot.md §6 (items 1-6) is a test here, plus
deadlines, malformed and out-of-order input, and limits. The server is real, in the
test's loop, over a simulated reader whose customer the test drives.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable

import pytest

from hal.devices.card_reader import ReadResult, Track
from hal.remote import RemoteServer
from hal.remote.codec import codec_for
from simulator.control import CardReaderControl
from simulator.world import World
from tests.hal.remote.conftest import RawClient, Reply

READ = "CardReader.ReadRawData"
TRACKS = {"tracks": ["track1", "track2"]}


def of(replies: list[Reply], request_id: int) -> list[Reply]:
    return [r for r in replies if r.header.get("requestId") == request_id]


async def test_one_ack_before_the_events_then_one_completion_with_typed_tracks(
    raw: RawClient, control: CardReaderControl
) -> None:
    """Facts 1 and 5: ack, InsertCard, MediaInserted, media present, completion."""
    rid = await raw.command(READ, payload=TRACKS, timeout=0)
    await control.wait_for("gate_open", timeout=2)
    sample = await control.insert_card("visa")
    replies = await raw.until_completion(rid)
    mine = of(replies, rid)
    assert [r.type for r in mine] == ["acknowledge", "event", "event", "completion"]
    assert mine[0].header["status"] is None
    assert [r.header["name"] for r in mine[1:3]] == [
        "CardReader.InsertCardEvent",
        "CardReader.MediaInsertedEvent",
    ]
    assert replies[0] is mine[0]  # nothing at all before the ack
    changes = [r for r in replies if r.header["name"] == "Common.StatusChangedEvent"]
    assert changes[0].payload["media"] == "present"
    assert changes[0].type == "unsolicited"
    assert "requestId" not in changes[0].header
    completion = mine[-1]
    assert completion.header["completionCode"] == "success"
    result = codec_for(ReadResult).decode(completion.payload, completion.blobs, "")
    assert result[Track.TRACK1].data == sample.track1
    assert result[Track.TRACK2].data == sample.track2
    seqs = [r.header["seq"] for r in replies if "seq" in r.header]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    await raw.nothing()  # exactly one completion


@pytest.mark.parametrize("request_id", [0, -3, "5", 2.5, True, None])
async def test_a_bad_request_id_gets_invalid_request_id_and_nothing_more(
    raw: RawClient, request_id: object
) -> None:
    """Fact 2."""
    header = {"version": "1", "name": "Common.Status", "type": "command"}
    await raw.send({**header, "device": "card_reader", "requestId": request_id})
    ack = await raw.recv()
    assert ack.type == "acknowledge"
    assert ack.header["status"] == "invalidRequestID"
    await raw.nothing()


async def test_a_duplicate_live_request_id_gets_invalid_request_id(
    raw: RawClient, control: CardReaderControl
) -> None:
    """Fact 2: the duplicate is refused; the first request goes on untouched."""
    rid = await raw.command(READ, payload=TRACKS, timeout=0)
    assert (await raw.next_ack()).header["status"] is None
    await raw.command("Common.Status", rid)
    refused = await raw.next_ack()
    assert refused.header == {**refused.header, "requestId": rid, "status": "invalidRequestID"}
    await control.wait_for("gate_open", timeout=2)
    await control.insert_card("visa")
    mine = of(await raw.until_completion(rid), rid)
    assert [r.type for r in mine][-2:] == ["event", "completion"]
    assert [r.type for r in mine].count("acknowledge") == 0
    assert mine[-1].header["completionCode"] == "success"


BAD_INPUT = {
    "unparseable json": [b"{not json", b"{}"],
    "one frame": [b"{}"],
    "payload not json": [
        b'{"version":"1","name":"Common.Status","type":"command","requestId":9}',
        b"?",
    ],
    "empty frames": [b"", b""],
    "binary noise": [b"\x00\xff\x13" * 50, b"\xc3\x28"],
}


@pytest.mark.parametrize("frames", BAD_INPUT.values(), ids=BAD_INPUT.keys())
async def test_malformed_input_gets_invalid_message_and_the_server_keeps_serving(
    raw: RawClient, frames: list[bytes]
) -> None:
    """Fact 2 (unparseable JSON) and robustness: the next good command still works."""
    await raw.send_frames(frames)
    ack = await raw.recv()
    assert ack.type == "acknowledge"
    assert ack.header["status"] == "invalidMessage"
    assert ack.header["errorDescription"]
    await raw.nothing(0.05)
    completion = await raw.call("Common.Status")
    assert completion.payload["device"] == "online"


async def test_an_unsupported_version_is_refused_naming_ours(raw: RawClient) -> None:
    await raw.command("Common.Status", 77, version="2.0")
    ack = await raw.recv()
    assert (ack.header["requestId"], ack.header["status"]) == (77, "invalidMessage")
    assert "speaks 1" in ack.header["errorDescription"]


REFUSED = {
    "unknown command": ("CardReader.Fly", {}, "card_reader", "not a command of CardReader"),
    "unknown device": ("Common.Status", {}, "printer", "no device named 'printer'"),
    "no device": ("CardReader.Move", {"to": "exit"}, None, "needs a device"),
    "bad enum": (
        "CardReader.Move",
        {"to": "moon", "fromUnit": None},
        "card_reader",
        "to: expected one of",
    ),
    "extra field": ("CardReader.Move", {"to": "exit", "speed": 3}, "card_reader", "unknown speed"),
    "missing field": (READ, {}, "card_reader", "missing tracks"),
    "status payload": ("Common.Status", {"x": 1}, "card_reader", "unknown x"),
}


@pytest.mark.parametrize(("name", "payload", "device", "why"), REFUSED.values(), ids=REFUSED.keys())
async def test_bad_commands_are_refused_at_the_ack(
    raw: RawClient, name: str, payload: dict[str, object], device: str | None, why: str
) -> None:
    rid = await raw.command(name, None, payload, device=device)
    ack = await raw.recv()
    assert (ack.header["requestId"], ack.header["status"]) == (rid, "invalidMessage")
    assert why in ack.header["errorDescription"]
    await raw.nothing(0.05)


async def test_out_of_order_commands_complete_sequence_error(
    server: RemoteServer, raw_client: Callable[[str], RawClient]
) -> None:
    client = raw_client(server.endpoint)
    before = await client.call("Common.Status")  # no handshake yet
    assert before.header["completionCode"] == "sequenceError"
    assert "begin with Common.Status" in before.header["errorDescription"]
    await client.handshake()
    not_open = await client.call("Common.Status")  # the device is not opened yet
    assert not_open.header["completionCode"] == "sequenceError"
    await client.open()
    assert (await client.call("Common.Status")).header["completionCode"] == "success"
    await client.call("Common.Close")
    closed = await client.call("Common.Status")
    assert closed.header["completionCode"] == "sequenceError"


async def test_cancel_a_queued_command(raw: RawClient, control: CardReaderControl) -> None:
    """Fact 3: the queued target completes canceled, Cancel succeeds, the rest goes on."""
    first = await raw.command(READ, payload=TRACKS, timeout=0)
    second = await raw.command(READ, payload=TRACKS, timeout=0)
    await control.wait_for("gate_open", timeout=2)
    cancel = await raw.command("Common.Cancel", payload={"requestIds": [second]}, device=None)
    replies = await raw.until_completion(cancel)
    replies += await raw.until_completion(second)
    assert of(replies, cancel)[-1].header["completionCode"] == "success"
    assert [r.type for r in of(replies, second)] == ["acknowledge", "completion"]
    assert of(replies, second)[-1].header["completionCode"] == "canceled"
    await control.insert_card("visa")
    assert (await raw.until_completion(first))[-1].header["completionCode"] == "success"


async def test_cancel_a_running_read_settles_with_the_gate_closed(
    raw: RawClient, control: CardReaderControl
) -> None:
    rid = await raw.command(READ, payload=TRACKS, timeout=0)
    await control.wait_for("gate_open", timeout=2)
    await raw.command("Common.Cancel", payload={"requestIds": None}, device=None)
    completion = (await raw.until_completion(rid))[-1]
    assert completion.header["completionCode"] == "canceled"
    assert not control.model.gate_open


async def test_cancel_of_an_unknown_id_is_no_matching_request_ids(raw: RawClient) -> None:
    """Fact 3."""
    completion = await raw.call("Common.Cancel", {"requestIds": [424242]}, device=None)
    assert completion.header["completionCode"] == "commandErrorCode"
    assert completion.header["errorCode"] == "noMatchingRequestIDs"


async def test_cancel_ignores_the_ids_of_another_session(
    server: RemoteServer,
    raw: RawClient,
    raw_client: Callable[[str], RawClient],
    control: CardReaderControl,
) -> None:
    """Fact 3: another session's Cancel of our id matches nothing; our read goes on."""
    rid = await raw.command(READ, payload=TRACKS, timeout=0)
    other = raw_client(server.endpoint)
    await other.handshake()
    await other.open()
    completion = await other.call("Common.Cancel", {"requestIds": [rid]}, device=None)
    assert completion.header["errorCode"] == "noMatchingRequestIDs"
    await control.wait_for("gate_open", timeout=2)
    await control.insert_card("visa")
    mine = of(await raw.until_completion(rid), rid)
    assert mine[-1].header["completionCode"] == "success"
    # The other session saw the unsolicited status changes but none of our command events.
    seen = []
    while True:
        try:
            seen.append(await other.recv(0.1))
        except TimeoutError:
            break
    assert seen
    assert all(r.type == "unsolicited" for r in seen)


async def test_timeout_zero_never_times_out_and_100_ms_does(
    raw: RawClient, control: CardReaderControl
) -> None:
    """Fact 4."""
    short = await raw.command(READ, payload=TRACKS, timeout=100)
    started = time.monotonic()
    completion = (await raw.until_completion(short))[-1]
    assert completion.header["completionCode"] == "timeOut"
    assert 0.09 < time.monotonic() - started < 1.5
    never = await raw.command(READ, payload=TRACKS, timeout=0)
    await asyncio.sleep(0.4)
    assert not [r for r in await _pending(raw) if r.type == "completion"]
    await control.wait_for("gate_open", timeout=2)
    await control.insert_card("visa")
    assert (await raw.until_completion(never))[-1].header["completionCode"] == "success"


async def _pending(raw: RawClient) -> list[Reply]:
    out = []
    while True:
        try:
            out.append(await raw.recv(0.01))
        except TimeoutError:
            return out


async def test_move_to_exit_then_take_is_an_unsolicited_media_removed(
    raw: RawClient, control: CardReaderControl
) -> None:
    """Fact 6."""
    rid = await raw.command(READ, payload=TRACKS, timeout=0)
    await control.wait_for("gate_open", timeout=2)
    await control.insert_card("visa")
    await raw.until_completion(rid)
    move = await raw.call("CardReader.Move", {"to": "exit", "fromUnit": None})
    assert move.header["completionCode"] == "success"
    await control.take_card(timeout=2)
    replies = await _until_named(raw, "CardReader.MediaRemovedEvent")
    removed = replies[-1]
    assert removed.type == "unsolicited"
    assert "requestId" not in removed.header
    follow = await _until_named(raw, "Common.StatusChangedEvent")
    assert follow[-1].payload["media"] == "notPresent"
    assert follow[-1].header["seq"] == removed.header["seq"] + 1


async def _until_named(raw: RawClient, name: str) -> list[Reply]:
    out = []
    while not out or out[-1].header["name"] != name:
        out.append(await raw.recv())
    return out


async def test_a_deadline_already_past_is_refused_and_never_runs(
    raw: RawClient, control: CardReaderControl
) -> None:
    completion = await raw.call(
        "CardReader.Move", {"to": "exit", "fromUnit": None}, deadline=time.time() - 1
    )
    assert completion.header["completionCode"] == "timeOut"
    assert "past its deadline" in completion.header["errorDescription"]
    late = await raw.call(READ, TRACKS, deadline=time.time() - 0.001)
    assert late.header["completionCode"] == "timeOut"
    assert not control.model.gate_open


async def test_a_deadline_passed_while_queued_is_refused_at_the_head(
    raw: RawClient, control: CardReaderControl
) -> None:
    first = await raw.command(READ, payload=TRACKS, timeout=0)
    queued = await raw.command(READ, payload=TRACKS, deadline=time.time() + 0.1)
    await control.wait_for("gate_open", timeout=2)
    await asyncio.sleep(0.2)
    await control.insert_card("visa")
    replies = await raw.until_completion(queued)
    assert of(replies, first)[-1].header["completionCode"] == "success"
    refused = of(replies, queued)[-1]
    assert refused.header["completionCode"] == "timeOut"
    assert "head of the queue" in refused.header["errorDescription"]
    assert not control.model.gate_open  # the late read never opened the gate


async def test_a_full_device_queue_is_too_many_requests_at_the_ack(raw: RawClient) -> None:
    ids = [await raw.command(READ, payload=TRACKS, timeout=0) for _ in range(17)]
    acks = {}
    while len(acks) < 17:
        reply = await raw.recv()
        if reply.type == "acknowledge":
            acks[reply.header["requestId"]] = reply.header["status"]
    assert [acks[i] for i in ids] == [None] * 16 + ["tooManyRequests"]
    await raw.call("Common.Cancel", {"requestIds": None}, device=None)


async def test_the_per_session_request_limit(
    world: World, raw_client: Callable[[str], RawClient]
) -> None:
    served = RemoteServer(
        {"card_reader": world.open_card_reader()},
        "tcp://127.0.0.1:0",
        simulator=True,
        max_requests=2,
    )
    async with served:
        client = raw_client(served.endpoint)
        await client.handshake()
        await client.open()
        for _ in range(2):
            await client.command(READ, payload=TRACKS, timeout=0)
            assert (await client.next_ack()).header["status"] is None
        await client.command(READ, payload=TRACKS, timeout=0)
        refused = await client.next_ack()
        assert refused.header["status"] == "tooManyRequests"
        assert "2 live requests" in refused.header["errorDescription"]


async def test_heartbeats_are_answered_with_the_session(
    server: RemoteServer, raw_client: Callable[[str], RawClient]
) -> None:
    client = raw_client(server.endpoint)
    beat = {"version": "1", "name": "Common.Heartbeat", "type": "heartbeat"}
    await client.send(beat)
    assert (await client.recv()).header == beat  # no session yet
    session = await client.handshake()
    await client.send(beat)
    assert (await client.recv()).header["session"] == session


async def test_blobs_travel_as_raw_frames(raw: RawClient, control: CardReaderControl) -> None:
    rid = await raw.command(READ, payload={"tracks": ["chip"]}, timeout=0)
    await control.wait_for("gate_open", timeout=2)
    await control.insert_card("visa")
    await raw.until_completion(rid)
    power = await raw.call("CardReader.ChipPower", {"action": "cold"})
    assert power.payload == {"atr": {"$blob": 0}}
    assert power.blobs[0].startswith(b"\x3b")
    select = bytes.fromhex("00A404000E315041592E5359532E444446303100")
    reply = await raw.call("CardReader.ChipIO", {"apdu": {"$blob": 0}}, select)
    assert reply.header["completionCode"] == "success"
    assert reply.blobs[0][-2:] == b"\x90\x00"
    assert b"$blob" not in json.dumps(reply.header).encode()


async def test_a_device_error_completes_with_its_codes_and_description(raw: RawClient) -> None:
    completion = await raw.call("CardReader.ChipIO", {"apdu": {"$blob": 0}}, b"\x00\xa4\x04\x00")
    assert completion.header["completionCode"] == "commandErrorCode"
    assert completion.header["errorCode"] in {"noMedia", "atrNotObtained"}
    assert completion.header["errorDescription"]
    write = await raw.call("CardReader.WriteRawData", {"data": {"track2": {"$blob": 0}}}, b"\x01")
    assert write.header["completionCode"] == "invalidData"


def _mutations(rng: random.Random) -> list[list[bytes]]:
    """Near-valid messages: a good command with one key, value or frame spoiled."""
    values: list[object] = [
        None,
        True,
        0,
        -1,
        2**64,
        1.5,
        "",
        "x" * 300,
        [],
        {},
        [[[]]],
        {"$blob": 0},
    ]
    keys = [
        "version",
        "name",
        "type",
        "requestId",
        "timeout",
        "deadline",
        "device",
        "status",
        "seq",
    ]
    names = ["Common.Status", "Common.Open", "Common.Cancel", READ, "CardReader.Move", "Nope.Nope"]
    out = []
    for _ in range(400):
        header: dict[str, object] = {
            "version": "1",
            "name": rng.choice(names),
            "type": "command",
            "requestId": rng.randint(10_000, 10_050),
            "device": "card_reader",
        }
        header[rng.choice(keys)] = rng.choice(values)
        payload: object = rng.choice(
            [{}, {"tracks": ["track1"]}, {"to": "exit"}, [], {"requestIds": None}]
        )
        frames = [json.dumps(header).encode(), json.dumps(payload).encode()]
        cut = rng.random()
        if cut < 0.1:
            frames[0] = frames[0][: rng.randint(0, len(frames[0]))]
        elif cut < 0.2:
            frames.append(rng.randbytes(rng.randint(0, 40)))
        elif cut < 0.25:
            frames = frames[:1]
        out.append(frames)
    return out


async def test_hostile_input_never_stops_the_server(
    raw: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    for frames in _mutations(random.Random(7)):
        await raw.send_frames(frames)
    await raw.call("Common.Cancel", {"requestIds": None}, device=None)
    completion = await raw.call("Common.Status")
    assert completion.payload["device"] == "online"
    assert "failed to handle" not in caplog.text
