"""A small `CameraBackend` for the camera service tests, and the frames it serves.

The frames are generated with numpy (a sharp checkerboard, the same blurred, darkened,
a flat grey) or read from the face image the simulator ships
(simulator/assets/faces/astronaut.jpg, read directly: tests are not a layer). The
backend serves a frame per camera position, can be made to hold a capture until
released (for queue, timeout and cancellation tests) and to break (the camera gone)
until reset.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hal.device import BackendListener, DeviceState
from hal.devices.camera import (
    CameraCapabilities,
    CameraPosition,
    CameraState,
    CameraStatus,
    Frame,
    FrameEncoding,
    PictureFormat,
)
from hal.errors import CameraInoperable

FACE_FILE = Path(__file__).resolve().parents[1] / "simulator" / "assets" / "faces" / "astronaut.jpg"

WIDTH, HEIGHT = 640, 480
STAMP = dt.datetime(2026, 11, 29, 3, 0, 0, tzinfo=dt.UTC)


def frame_of(image: Any, timestamp: dt.datetime = STAMP) -> Frame:
    """A BGR24 frame of a height x width x 3 uint8 image."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    return Frame(image.tobytes(), FrameEncoding.BGR24, width, height, timestamp)


def checkerboard(square: int = 8, low: int = 40, high: int = 215) -> Any:
    """Sharp edges everywhere: a grey checkerboard, 640x480."""
    ys, xs = np.indices((HEIGHT, WIDTH))
    grey = np.where(((ys // square) + (xs // square)) % 2 == 0, low, high).astype(np.uint8)
    return np.dstack([grey, grey, grey])


def blurred(image: Any, size: int = 21) -> Any:
    return cv2.GaussianBlur(image, (size, size), 0)


def darkened(image: Any, factor: float = 0.15) -> Any:
    return (image.astype(np.float32) * factor).astype(np.uint8)


def flat(level: int = 128) -> Any:
    return np.full((HEIGHT, WIDTH, 3), level, dtype=np.uint8)


def face_image() -> Any:
    """The simulator's face picture (one frontal face), as BGR."""
    image = cv2.imread(str(FACE_FILE), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {FACE_FILE}"
    return image


def face_on_canvas(image: Any | None = None) -> Any:
    """The face picture in the middle of a 640x480 mid-grey frame."""
    face = face_image() if image is None else image
    canvas = flat(120)
    h, w = face.shape[:2]
    y, x = (HEIGHT - h) // 2, (WIDTH - w) // 2
    canvas[y : y + h, x : x + w] = face
    return canvas


def start_opencv_threads() -> None:
    """Start OpenCV's worker pool now, at import.

    OpenCV starts a process-wide pool of worker threads at its first parallel call
    (a Haar detection, a blur) and keeps it until the process exits. Started here, at
    collection, it is there before every test, so the leak check does not blame it on
    whichever camera test happens to run first.
    """
    from hal.devices import picture_quality

    picture_quality.analyse(frame_of(checkerboard()))
    cv2.GaussianBlur(checkerboard(), (21, 21), 0)


class FrameBackend:
    """Serves one frame per camera position; records what it was asked.

    Attributes:
        frames: the frame each position gives next (and on every capture after).
        captures: the positions captured, in order.
        hold: when set (an unset event), a capture waits for it.
        captured: set each time a capture returns its frame.
        broken: the camera is gone: captures raise CameraInoperable until reset.
    """

    def __init__(
        self,
        frames: dict[CameraPosition, Frame] | None = None,
        *,
        formats: Iterable[PictureFormat] = tuple(PictureFormat),
    ) -> None:
        self.frames: dict[CameraPosition, Frame] = dict(
            frames or {CameraPosition.PERSON: frame_of(face_on_canvas())}
        )
        self.formats = frozenset(formats)
        self.captures: list[CameraPosition] = []
        self.hold: asyncio.Event | None = None
        self.captured = asyncio.Event()
        self.broken = False
        self.resets = 0
        self.opened = False
        self.listener: BackendListener[CameraStatus] | None = None

    async def open(self, listener: BackendListener[CameraStatus]) -> None:
        self.listener = listener
        self.opened = True

    async def close(self) -> None:
        self.opened = False
        self.listener = None

    def capabilities(self) -> CameraCapabilities:
        return CameraCapabilities(
            cameras=frozenset(self.frames), formats=self.formats, width=WIDTH, height=HEIGHT
        )

    def _status(self) -> CameraStatus:
        state = CameraState.INOPERATIVE if self.broken else CameraState.OK
        return CameraStatus(
            device=DeviceState.NO_DEVICE if self.broken else DeviceState.ONLINE,
            cameras=dict.fromkeys(self.frames, state),
        )

    async def get_status(self) -> CameraStatus:
        return self._status()

    def unplug(self) -> None:
        self.broken = True
        if self.listener is not None:
            self.listener.status_changed(self._status())

    async def capture(self, camera: CameraPosition) -> Frame:
        self.captures.append(camera)
        if self.hold is not None:
            await self.hold.wait()
        if self.broken:
            raise CameraInoperable(f"the {camera.value} camera is gone")
        self.captured.set()
        return self.frames[camera]

    async def reset(self) -> None:
        self.resets += 1
        self.broken = False
        if self.listener is not None:
            self.listener.status_changed(self._status())


start_opencv_threads()
