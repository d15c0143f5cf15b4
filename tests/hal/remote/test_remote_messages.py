"""The wire format: frames and header, strict decoding with the right ack status."""

from __future__ import annotations

import json

import pytest

from hal.remote.encoding import encode
from hal.remote.messages import (
    CLIENT_TYPES,
    SERVER_TYPES,
    AckStatus,
    Header,
    Limits,
    MessageError,
    MessageType,
    decode,
)

COMMAND = {"version": "1", "name": "CardReader.Move", "type": "command", "requestId": 7}


def frames(header: object, payload: object = None, *blobs: bytes) -> list[bytes]:
    return [json.dumps(header).encode(), json.dumps(payload or {}).encode(), *blobs]


def refused(raw: list[bytes], accept: frozenset[MessageType] = CLIENT_TYPES) -> MessageError:
    with pytest.raises(MessageError) as info:
        decode(raw, accept=accept)
    return info.value


def test_encode_then_decode_keeps_every_field() -> None:
    header = Header(
        MessageType.COMPLETION,
        "CardReader.ReadRawData",
        12,
        completion_code="commandErrorCode",
        error_code="mediaJam",
        error_description="jammed",
        device="card_reader",
        session="abc",
    )
    raw = encode(header, {"x": {"$blob": 0}}, [b"\x00\xff"])
    message = decode(raw, accept=SERVER_TYPES)
    assert message.header == header
    assert message.payload == {"x": {"$blob": 0}}
    assert message.blobs == (b"\x00\xff",)


def test_an_acknowledge_always_carries_status_and_request_id() -> None:
    header = json.loads(encode(Header(MessageType.ACKNOWLEDGE, "", None))[0])
    assert header["status"] is None
    assert header["requestId"] is None
    assert decode(encode(Header(MessageType.ACKNOWLEDGE, "", None)), accept=SERVER_TYPES)


def test_a_command_decodes() -> None:
    message = decode(
        frames({**COMMAND, "timeout": 0, "deadline": 1.5e9}, {"to": "exit"}), accept=CLIENT_TYPES
    )
    assert message.header.request_id == 7
    assert message.header.timeout == 0
    assert message.header.deadline == 1.5e9
    assert message.payload == {"to": "exit"}


@pytest.mark.parametrize("request_id", [0, -1, "7", 7.0, True, None, 2**60], ids=repr)
def test_a_bad_request_id_is_invalid_request_id(request_id: object) -> None:
    error = refused(frames({**COMMAND, "requestId": request_id}))
    assert error.status is AckStatus.INVALID_REQUEST_ID
    assert error.name == "CardReader.Move"


def test_a_missing_request_id_is_invalid_request_id() -> None:
    header = {k: v for k, v in COMMAND.items() if k != "requestId"}
    assert refused(frames(header)).status is AckStatus.INVALID_REQUEST_ID


BAD_FRAMES = {
    "one frame": [b"{}"],
    "header not json": [b"{", b"{}"],
    "header not utf-8": [b"\xff\xfe", b"{}"],
    "header a list": [b"[]", b"{}"],
    "payload not json": [json.dumps(COMMAND).encode(), b"nope"],
    "payload a list": [json.dumps(COMMAND).encode(), b"[1]"],
    "NaN": [json.dumps(COMMAND).encode(), b'{"a": NaN}'],
    "duplicate keys": [json.dumps(COMMAND).encode(), b'{"a": 1, "a": 2}'],
    "deep payload": [json.dumps(COMMAND).encode(), b'{"a":' * 20 + b"1" + b"}" * 20],
    "very deep payload": [json.dumps(COMMAND).encode(), b"[" * 100_000 + b"]" * 100_000],
    "huge header": frames({**COMMAND, "device": "x" * 5000}),
    "unknown key": frames({**COMMAND, "colour": "red"}),
    "ack key on a command": frames({**COMMAND, "status": None}),
    "unknown type": frames({**COMMAND, "type": "query"}),
    "server type": frames({**COMMAND, "type": "completion", "completionCode": "success"}),
    "no type": frames({k: v for k, v in COMMAND.items() if k != "type"}),
    "no version": frames({k: v for k, v in COMMAND.items() if k != "version"}),
    "bad name": frames({**COMMAND, "name": "move"}),
    "name not text": frames({**COMMAND, "name": 5}),
    "negative timeout": frames({**COMMAND, "timeout": -1}),
    "float timeout": frames({**COMMAND, "timeout": 1.5}),
    "deadline text": frames({**COMMAND, "deadline": "soon"}),
    "bad device": frames({**COMMAND, "device": "Card Reader"}),
    "dangling blob": frames(COMMAND, {"data": {"$blob": 1}}, b"x"),
    "unused blob": frames(COMMAND, {}, b"x"),
    "blob twice": frames(COMMAND, {"a": {"$blob": 0}, "b": {"$blob": 0}}, b"x"),
    "bad blob ref": frames(COMMAND, {"a": {"$blob": "0"}}, b"x"),
    "too many blobs": frames(COMMAND, {}, *[b""] * 65),
}


@pytest.mark.parametrize("raw", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_malformed_input_is_invalid_message(raw: list[bytes]) -> None:
    error = refused(raw)
    assert error.status is AckStatus.INVALID_MESSAGE
    assert error.description


def test_the_request_id_is_kept_for_the_ack_when_it_can_be_read() -> None:
    error = refused(frames({**COMMAND, "colour": "red"}))
    assert error.request_id == 7
    assert "colour" in error.description


def test_an_unsupported_version_names_the_supported_one() -> None:
    error = refused(frames({**COMMAND, "version": "2"}))
    assert error.status is AckStatus.INVALID_MESSAGE
    assert "'2' is not supported" in error.description
    assert "speaks 1" in error.description


def test_limits_are_configurable() -> None:
    small = Limits(max_payload=10)
    with pytest.raises(MessageError, match="limit is 10"):
        decode(frames(COMMAND, {"to": "transport"}), accept=CLIENT_TYPES, limits=small)


def test_server_messages_need_their_fields() -> None:
    event = {"version": "1", "name": "CardReader.MediaRemovedEvent", "type": "unsolicited"}
    assert "seq" in refused(frames({**event, "device": "card_reader"}), SERVER_TYPES).description
    ok = decode(frames({**event, "device": "card_reader", "seq": 1}), accept=SERVER_TYPES)
    assert ok.header.seq == 1
    assert refused(frames({**event, "device": "card_reader", "seq": 0}), SERVER_TYPES)


@pytest.mark.parametrize("value", [[], {}, [1, 2], {"a": 1}], ids=repr)
@pytest.mark.parametrize("key", ["version", "name", "type", "status", "device", "timeout"])
def test_unhashable_values_are_invalid_messages_not_crashes(key: str, value: object) -> None:
    error = refused(frames({**COMMAND, key: value}))
    assert error.status is AckStatus.INVALID_MESSAGE
