"""The Camera over the remote, without sockets: a picture through the completion's codec
(JSON text and blob frames, strict decoding) and back, for any picture (property test);
the status delta; timestamps that are not ISO 8601 UTC refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.device import DeviceState
from hal.devices.camera import (
    CameraCapabilities,
    CameraPosition,
    CameraState,
    CameraStatus,
    FaceBox,
    Picture,
    PictureFormat,
    QualityReport,
)
from hal.errors import ProtocolError
from hal.events import StatusChanged
from hal.remote.codec import WireValueError, codec_for
from hal.remote.interfaces import CAMERA, INTERFACES
from hal.remote.interfaces_camera import PictureCompletion, TakePicturePayload

TAKE = CAMERA.commands["Camera.TakePicture"]

finite = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
boxes = st.builds(
    FaceBox,
    st.integers(0, 4000),
    st.integers(0, 4000),
    st.integers(1, 4000),
    st.integers(1, 4000),
)
reports = st.builds(
    QualityReport,
    finite,
    st.floats(0, 255),
    st.floats(0, 128),
    st.lists(boxes, max_size=4).map(tuple),
    st.sampled_from(["face", "frame"]),
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=offsets
)
pictures = st.builds(
    Picture,
    st.binary(max_size=2000),
    st.sampled_from(PictureFormat),
    st.integers(1, 8192),
    st.integers(1, 8192),
    times,
    st.sampled_from(CameraPosition),
    reports,
)


def through_the_wire(picture: Picture) -> tuple[Picture, str, list[bytes]]:
    codec = codec_for(PictureCompletion)
    blobs: list[bytes] = []
    text = json.dumps(codec.encode(TAKE.completion_of(picture), blobs))
    back = TAKE.result_of(codec.decode(json.loads(text), blobs, ""))
    return back, text, blobs


@given(pictures)
def test_any_picture_round_trips(picture: Picture) -> None:
    back, text, blobs = through_the_wire(picture)
    assert back == picture  # the same instant, now in UTC
    assert back.timestamp.utcoffset() == dt.timedelta(0)
    assert blobs == [picture.data]
    assert json.loads(text)["data"] == {"$blob": 0}


def test_the_wire_form() -> None:
    picture = Picture(
        b"\xff\xd8jpeg",
        PictureFormat.JPEG,
        640,
        480,
        dt.datetime(2026, 11, 29, 3, 0, 0, 123456, tzinfo=dt.UTC),
        CameraPosition.PERSON,
        QualityReport(221.5, 154.0, 53.5, (FaceBox(1, 2, 3, 4),), "face"),
    )
    _, text, blobs = through_the_wire(picture)
    assert json.loads(text) == {
        "data": {"$blob": 0},
        "format": "jpeg",
        "width": 640,
        "height": 480,
        "timestamp": "2026-11-29T03:00:00.123456+00:00",
        "camera": "person",
        "quality": {
            "sharpness": 221.5,
            "brightness": 154.0,
            "contrast": 53.5,
            "faces": [{"x": 1, "y": 2, "width": 3, "height": 4}],
            "region": "face",
        },
    }
    assert blobs == [b"\xff\xd8jpeg"]
    assert "<6 bytes>" in repr(TAKE.completion_of(picture))


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [("yesterday", "is not ISO 8601"), ("2026-11-29T03:00:00", "has no UTC offset")],
)
def test_bad_timestamps_are_refused(timestamp: str, message: str) -> None:
    completion = PictureCompletion(
        b"x",
        PictureFormat.PNG,
        1,
        1,
        timestamp,
        CameraPosition.ROOM,
        QualityReport(0.0, 0.0, 0.0),
    )
    with pytest.raises(ProtocolError, match=message):
        TAKE.result_of(completion)


def test_payloads_are_strict() -> None:
    codec = codec_for(TakePicturePayload)
    assert codec.decode({"camera": "document", "format": "png"}, [], "") == TakePicturePayload(
        CameraPosition.DOCUMENT, PictureFormat.PNG
    )
    with pytest.raises(WireValueError):
        codec.decode({"camera": "ceiling", "format": "png"}, [], "")
    with pytest.raises(WireValueError):
        codec.decode({"camera": "person", "format": "png", "extra": 1}, [], "")


def test_status_and_capabilities_travel() -> None:
    assert INTERFACES["Camera"] is CAMERA
    old = CameraStatus()
    new = CameraStatus(
        device=DeviceState.NO_DEVICE, cameras={CameraPosition.PERSON: CameraState.INOPERATIVE}
    )
    change = StatusChanged(old=old, new=new, changed=frozenset({"device", "cameras"}))
    blobs: list[bytes] = []
    name, payload = CAMERA.encode_event(change, blobs)
    assert name == "Common.StatusChangedEvent"
    assert payload["cameras"] == {"person": "inoperative"}
    back = CAMERA.decode_event(name, json.loads(json.dumps(payload)), blobs)
    assert isinstance(back, StatusChanged)
    assert back.new == new
    assert back.old == old
    caps = CameraCapabilities(cameras=frozenset(CameraPosition), width=1280, height=720)
    codec = codec_for(CameraCapabilities)
    assert codec.decode(json.loads(json.dumps(codec.encode(caps, []))), [], "") == caps
