"""Pictures are personal data: no image bytes in a log line, a repr or an error message.

Every log record of the camera service and the opencv driver at DEBUG, the reprs of the
frame, the picture, the service and the driver, and the messages of the errors a bad
frame raises are searched for pieces of the frame's pixels and of the encoded picture,
as raw bytes' repr, hex (either case) and base64.
"""

from __future__ import annotations

import base64
import logging
import shutil
from pathlib import Path

import cv2
import pytest

import hal
from hal.devices.camera import Frame, FrameEncoding, PictureFormat
from hal.devices.camera_service import CameraService
from hal.errors import ProtocolError
from tests.camera_backend import FACE_FILE, STAMP, FrameBackend, face_on_canvas, frame_of


def forms(data: bytes) -> list[str]:
    """Spellings of a few 12-byte pieces of ``data`` that a careless log could hold."""
    out = []
    for start in (len(data) // 3, len(data) // 2, 2 * len(data) // 3):
        piece = data[start : start + 12]
        out += [repr(piece)[2:-1], piece.hex(), piece.hex().upper(), piece.hex(" ")]
        out += [base64.b64encode(piece).decode()[:12]]
    return out


def assert_absent(data: bytes, texts: list[str]) -> None:
    haystack = "\n".join(texts)
    for form in forms(data):
        assert form not in haystack, f"image bytes leaked as {form!r}"


async def test_service_logs_reprs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    frame = frame_of(face_on_canvas())
    backend = FrameBackend()
    texts: list[str] = []
    async with CameraService(backend) as camera:
        jpeg = await camera.take_picture()
        png = await camera.take_picture(format=PictureFormat.PNG)
        backend.frames[backend.captures[0]] = Frame(
            frame.data[:-5], FrameEncoding.BGR24, 640, 480, STAMP
        )
        with pytest.raises(ProtocolError) as bad:
            await camera.take_picture()
        texts += [repr(camera), str(bad.value), repr(bad.value)]
    texts += [repr(frame), repr(jpeg), repr(png), str(jpeg), repr(jpeg.quality)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("TakePicture" in t for t in texts)  # the log is there, only without bytes
    for data in (frame.data, jpeg.data, png.data):
        assert_absent(data, texts)
    assert "bytes>" in repr(jpeg)
    assert "bytes>" in repr(frame)


async def test_driver_logs_and_reprs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    scene = tmp_path / "scene.jpg"
    shutil.copy(FACE_FILE, scene)
    raw = cv2.imread(str(scene)).tobytes()
    async with hal.open(f"opencv://?file={scene}&mode=still") as camera:
        picture = await camera.take_picture()
        texts = [repr(camera), repr(picture)]
    texts += [record.getMessage() for record in caplog.records]
    assert_absent(raw, texts)
    assert_absent(picture.data, texts)
