"""`RemoteCamera` against a real `RemoteServer` on a real ZeroMQ socket.

The server serves a `CameraService` over the small frame backend (tests/camera_backend.py)
with the simulator's face picture. The same calls in-process and remote give the same
pictures (bytes, size, time, quality report) and the same errors; the picture's bytes
cross as a blob, never inside the JSON; status changes (a camera gone, back) arrive as
StatusChanged; a timeout crosses the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import hal
from hal.devices.camera import Camera, CameraPosition, CameraState, PictureFormat
from hal.devices.camera_service import CameraService
from hal.errors import (
    CameraInoperable,
    CameraNotSupported,
    HalError,
    HalTimeout,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from hal.remote import RemoteCamera, RemoteServer
from tests.camera_backend import FrameBackend, checkerboard, face_on_canvas, frame_of
from tests.remote_tap import FrameTap

PERSON, DOCUMENT = CameraPosition.PERSON, CameraPosition.DOCUMENT


@dataclass
class Rig:
    backend: FrameBackend
    service: CameraService
    server: RemoteServer


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    backend = FrameBackend({PERSON: frame_of(face_on_canvas()), DOCUMENT: frame_of(checkerboard())})
    service = CameraService(backend)
    async with RemoteServer(
        {"camera": service}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        yield Rig(backend, service, server)


async def script(camera: Camera) -> list[object]:
    seen: list[object] = []

    async def step(name: str, call: object) -> None:
        try:
            seen.append((name, await call))  # type: ignore[misc]
        except HalError as exc:
            seen.append((name, type(exc).__name__, exc.error_code, str(exc)))

    await step("status", camera.status())
    await step("capabilities", camera.capabilities())
    await step("person jpeg", camera.take_picture())
    await step("document png", camera.take_picture(DOCUMENT, format=PictureFormat.PNG))
    await step("room", camera.take_picture(CameraPosition.ROOM))
    await step("reset", camera.reset(timeout=5))
    return seen


async def test_same_pictures_and_errors_in_process_and_remote(rig: Rig) -> None:
    await rig.service.open()  # the server's own device (already open: it opens them at start)
    local = await script(rig.service)
    async with RemoteCamera(rig.server.endpoint, timeout=2.0) as remote:
        far = await script(remote)
    assert far == local
    picture = far[2][1]  # type: ignore[index]
    assert len(picture.quality.faces) == 1
    assert picture.timestamp.tzinfo is not None
    assert far[4][:3] == ("room", "CameraNotSupported", "cameraNotSupported")  # type: ignore[index]


async def test_the_picture_is_a_blob_and_the_report_is_json(rig: Rig) -> None:
    async with FrameTap(rig.server.endpoint) as tap, hal.open(tap.address("camera")) as camera:
        assert isinstance(camera, RemoteCamera)
        picture = await camera.take_picture(format=PictureFormat.PNG)
    completions = [
        m
        for m in tap.messages
        if m.direction == "to_client"
        and m.header.get("name") == ("Camera.TakePicture")
        and m.header.get("type") == "completion"
    ]
    assert len(completions) == 1
    message = completions[0]
    assert message.blobs == (picture.data,)
    payload = message.payload
    assert payload["data"] == {"$blob": 0}
    assert payload["quality"]["faces"][0]["width"] == picture.quality.faces[0].width
    assert payload["quality"]["sharpness"] == picture.quality.sharpness
    assert payload["timestamp"] == picture.timestamp.isoformat()
    text = json.dumps(payload)
    assert len(text) < 1000  # no pixels in the JSON
    # No piece of the picture in any JSON frame of the whole exchange.
    piece = picture.data[len(picture.data) // 2 : len(picture.data) // 2 + 12]
    for m in tap.messages:
        for frame in m.frames[:2]:
            assert piece not in frame
            assert piece.hex().encode() not in frame


async def test_status_changes_and_reset_cross_the_wire(rig: Rig) -> None:
    async with RemoteCamera(rig.server.endpoint, timeout=2.0) as camera:
        events = camera.events(kinds=[StatusChanged])
        rig.backend.broken = True
        with pytest.raises(CameraInoperable, match="camera is gone"):
            await camera.take_picture(timeout=5)
        change = await asyncio.wait_for(events.get(), 2)
        assert isinstance(change, StatusChanged)
        assert change.new.cameras[PERSON] is CameraState.INOPERATIVE
        assert (await camera.status()).cameras[DOCUMENT] is CameraState.INOPERATIVE
        await camera.reset(timeout=5)
        back = await asyncio.wait_for(events.get(), 2)
        assert isinstance(back, StatusChanged)
        assert back.new.cameras[PERSON] is CameraState.OK
        assert len((await camera.take_picture(timeout=5)).quality.faces) == 1


async def test_a_timeout_and_bad_arguments(rig: Rig) -> None:
    async with RemoteCamera(rig.server.endpoint, timeout=2.0) as camera:
        rig.backend.hold = asyncio.Event()
        with pytest.raises(HalTimeout):
            await camera.take_picture(timeout=0.2)
        rig.backend.hold = None
        with pytest.raises(CameraNotSupported):
            await camera.take_picture("ceiling")  # type: ignore[arg-type]
        with pytest.raises(UnsupportedOperation):
            await camera.take_picture(format="gif")  # type: ignore[arg-type]
        assert (await camera.take_picture(timeout=5)).camera is PERSON
