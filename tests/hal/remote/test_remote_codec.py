"""Typed values to JSON + blobs and back: every card reader payload, strict decoding."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.device import DeviceState
from hal.devices.card_reader import (
    CardAction,
    CardData,
    CardReaderCapabilities,
    CardReaderStatus,
    ChipPower,
    DataStatus,
    InsertCard,
    MediaDetected,
    MediaRemoved,
    MediaStatus,
    ReaderType,
    ReadResult,
    ReplenishmentStatus,
    RetainBin,
    Track,
)
from hal.events import StatusChanged
from hal.remote.codec import WireValueError, camel, codec_for
from hal.remote.interfaces import CARD_READER, CancelPayload, ServiceInfo


def round_trip(value: Any, tp: Any = None) -> tuple[Any, Any, list[bytes]]:
    codec = codec_for(tp or type(value))
    blobs: list[bytes] = []
    data = codec.encode(value, blobs)
    json.dumps(data)  # plain JSON, no bytes inside
    return codec.decode(json.loads(json.dumps(data)), blobs, ""), data, blobs


def test_camel_case() -> None:
    assert camel("chip_power_actions") == "chipPowerActions"
    assert camel("request_ids") == "requestIds"
    assert camel("atr") == "atr"


def test_a_read_result_travels_with_its_bytes_as_blobs() -> None:
    result = ReadResult(
        {
            Track.TRACK2: CardData(DataStatus.OK, b"4761739001010010=2812"),
            Track.CHIP: CardData(DataStatus.MISSING),
        }
    )
    back, data, blobs = round_trip(result)
    assert back == result
    assert data == {
        "sources": {
            "track2": {"status": "ok", "data": {"$blob": 0}},
            "chip": {"status": "dataMissing", "data": {"$blob": 1}},
        }
    }
    assert blobs == [b"4761739001010010=2812", b""]
    assert "4761" not in json.dumps(data)


VALUES = [
    CardReaderStatus(),
    CardReaderStatus(
        DeviceState.BUSY, MediaStatus.JAMMED, ChipPower.ONLINE, ReplenishmentStatus.FULL
    ),
    CardReaderCapabilities(),
    CardReaderCapabilities(ReaderType.DIP, frozenset({Track.TRACK2}), frozenset(), frozenset()),
    RetainBin(3, 50, 1, 0, ReplenishmentStatus.OK),
    ServiceInfo({"card_reader": "CardReader"}, 1000, 32),
    CancelPayload(None),
    CancelPayload((1, 2, 3)),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_models_round_trip(value: Any) -> None:
    assert round_trip(value)[0] == value


def test_every_command_payload_and_completion_has_a_codec() -> None:
    for command in CARD_READER.commands.values():
        codec_for(command.payload)
        if command.completion is not None:
            codec_for(command.completion)


@given(st.dictionaries(st.sampled_from(list(Track)), st.binary(max_size=300)))
def test_any_bytes_round_trip(tracks: dict[Track, bytes]) -> None:
    result = ReadResult({t: CardData(DataStatus.OK, b) for t, b in tracks.items()})
    assert round_trip(result)[0] == result


@pytest.mark.parametrize(
    "event",
    [
        InsertCard(),
        MediaRemoved(),
        MediaDetected(position="exit"),
        CardAction(source="exit", to="retain"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_events_travel_by_their_xfs_name(event: Any) -> None:
    blobs: list[bytes] = []
    name, payload = CARD_READER.encode_event(event, blobs)
    assert name == event.xfs_name
    assert CARD_READER.decode_event(name, json.loads(json.dumps(payload)), blobs) == event


def test_status_changed_sends_the_delta_and_old() -> None:
    old = CardReaderStatus()
    new = dataclasses.replace(old, media=MediaStatus.PRESENT, chip_power=ChipPower.POWERED_OFF)
    event = StatusChanged(old=old, new=new, changed=frozenset({"media", "chip_power"}))
    blobs: list[bytes] = []
    name, payload = CARD_READER.encode_event(event, blobs)
    assert name == "Common.StatusChangedEvent"
    assert {k: v for k, v in payload.items() if k != "old"} == {
        "media": "present",
        "chipPower": "poweredOff",
    }
    assert payload["old"]["media"] == "notPresent"
    assert CARD_READER.decode_event(name, payload, blobs) == event


def test_an_unknown_event_name_is_refused() -> None:
    with pytest.raises(WireValueError, match="not an event"):
        CARD_READER.decode_event("CardReader.NoSuchEvent", {}, [])
    old = codec_for(CardReaderStatus).encode(CardReaderStatus(), [])
    with pytest.raises(WireValueError, match="not a field"):
        CARD_READER.decode_event("Common.StatusChangedEvent", {"old": old, "colour": 1}, [])


STATUS = {
    "device": "online",
    "media": "present",
    "chipPower": "online",
    "retainBin": "ok",
    "stacker": "ok",
}
BAD = {
    "unknown field": (CardReaderStatus, {**STATUS, "colour": "red"}, "unknown colour"),
    "missing field": (
        CardReaderStatus,
        {k: v for k, v in STATUS.items() if k != "media"},
        "missing media",
    ),
    "bad enum": (CardReaderStatus, {**STATUS, "media": "inTheBin"}, "media: expected one of"),
    "enum not text": (CardReaderStatus, {**STATUS, "media": 1}, "media"),
    "not an object": (CardReaderStatus, [1], "expected a CardReaderStatus object"),
    "bool for int": (
        RetainBin,
        {"count": True, "capacity": 1, "unknown": 0, "pending": 0, "status": "ok"},
        "count",
    ),
    "float for int": (
        RetainBin,
        {"count": 1.0, "capacity": 1, "unknown": 0, "pending": 0, "status": "ok"},
        "count",
    ),
    "duplicate set items": (
        CardReaderCapabilities,
        {
            **codec_for(CardReaderCapabilities).encode(CardReaderCapabilities(), []),
            "readTracks": ["chip", "chip"],
        },
        "readTracks",
    ),
    "bytes not a blob": (
        ReadResult,
        {"sources": {"track1": {"status": "ok", "data": "AAEC"}}},
        "sources.track1.data",
    ),
    "blob out of range": (
        ReadResult,
        {"sources": {"track1": {"status": "ok", "data": {"$blob": 3}}}},
        "blob index",
    ),
    "bad mapping key": (
        ReadResult,
        {"sources": {"track9": {"status": "ok", "data": {"$blob": 0}}}},
        "track9",
    ),
    "null for a list": (CancelPayload, {"requestIds": [None]}, "requestIds[0]"),
}


@pytest.mark.parametrize(("tp", "data", "where"), BAD.values(), ids=BAD.keys())
def test_decoding_is_strict_and_says_where(tp: Any, data: Any, where: str) -> None:
    with pytest.raises(WireValueError) as info:
        codec_for(tp).decode(data, [b"x"], "")
    assert where in str(info.value)


def test_a_check_in_the_dataclass_becomes_a_wire_error() -> None:
    @dataclass(frozen=True)
    class Positive:
        n: int

        def __post_init__(self) -> None:
            if self.n <= 0:
                raise ValueError(f"n must be > 0, got {self.n}")

    with pytest.raises(WireValueError, match="n must be > 0"):
        codec_for(Positive).decode({"n": 0}, [], "")


def test_unsupported_types_are_refused_when_the_codec_is_built() -> None:
    @dataclass(frozen=True)
    class Odd:
        things: list[object]

    with pytest.raises(TypeError, match="cannot carry"):
        codec_for(Odd)
    with pytest.raises(TypeError, match=r"X \| None"):
        codec_for(int | str)
    with pytest.raises(TypeError, match="keys"):
        codec_for(Mapping[int, str])
