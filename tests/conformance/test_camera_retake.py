"""THE acceptance test of the identity check's camera: a simulated customer whose photo
is blurred is asked to retake it, and the sharp retake passes; a picture with nobody in
it is refused. It drives the real ``opencv`` driver (``hal.open("opencv://?file=...")``,
`CameraService` over ``cv2.VideoCapture``) on recorded frames: the customer's session
written as an image sequence (and as a short MJPEG video) from the simulator's scenes,
frame 1 blurred, frame 2 the sharp face, frame 3 nobody there.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

import hal
from hal.devices.camera import (
    DEFAULT_POLICY,
    Camera,
    CameraPosition,
    PictureFormat,
    QualityProblem,
    check_quality,
)
from hal.errors import CameraInoperable
from simulator import scenes
from tests.camera_rig import start_opencv_threads

start_opencv_threads()

#: The recorded session: what the camera saw at each picture the app took.
SESSION = ("blurred", "face", "no_face")


def record_sequence(directory: Path) -> str:
    """The session as ``frames_000.png``, ``frames_001.png``...; the driver's pattern."""
    for n, scene in enumerate(SESSION):
        assert cv2.imwrite(str(directory / f"frames_{n:03d}.png"), scenes.render(scene, seed=8))
    return str(directory / "frames_%03d.png")


def record_video(directory: Path) -> str:
    """The session as a 3-frame MJPEG AVI (OpenCV's own writer)."""
    path = directory / "session.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 5.0, (640, 480))
    assert writer.isOpened()
    try:
        for scene in SESSION:
            writer.write(scenes.render(scene, seed=8))
    finally:
        writer.release()
    return str(path)


def address_of(file: str) -> str:
    # An address escapes '%' (the sequence's pattern) as %25.
    return "opencv://?file=" + urllib.parse.quote(file, safe="/")


@pytest.mark.parametrize("recording", [record_sequence, record_video], ids=["frames", "video"])
async def test_a_blurred_photo_is_retaken_and_a_no_face_picture_refused(
    tmp_path: Path, recording: Callable[[Path], str]
) -> None:
    file = recording(tmp_path)
    device = hal.open(address_of(file))
    assert isinstance(device, Camera)
    async with device as camera:
        # 1. The customer moved: the photo is blurred, and the app asks for a retake.
        first = await camera.take_picture(timeout=10)
        verdict = check_quality(first, DEFAULT_POLICY)
        assert not verdict.ok
        assert QualityProblem.BLURRED in verdict.problems
        assert verdict.advice == "Please hold still for the photo."
        assert first.quality.sharpness < DEFAULT_POLICY.min_sharpness

        # 2. The customer holds still: the retake passes.
        retake = await camera.take_picture(format=PictureFormat.PNG, timeout=10)
        passed = check_quality(retake, DEFAULT_POLICY)
        assert passed.ok, retake
        assert len(retake.quality.faces) == 1
        assert retake.quality.sharpness > DEFAULT_POLICY.min_sharpness
        assert retake.timestamp >= first.timestamp
        assert retake.data.startswith(b"\x89PNG")

        # 3. Nobody in front of the camera: refused, the customer asked to look at it.
        nobody = await camera.take_picture(timeout=10)
        refused = check_quality(nobody, DEFAULT_POLICY)
        assert refused.problems[0] is QualityProblem.NO_FACE
        assert refused.advice == "Please look at the camera."
        assert nobody.camera is CameraPosition.PERSON

        # The recording is over: no frame is made up.
        with pytest.raises(CameraInoperable):
            await camera.take_picture(timeout=10)
