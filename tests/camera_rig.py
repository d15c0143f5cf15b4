"""Helpers for the simulated camera's tests: measuring a scene as the HAL does, and
OpenCV's worker threads started at import.

OpenCV starts a process-wide pool of worker threads at its first parallel call (a
resize, a blur, a Haar detection) and keeps it until the process exits. Importing this
module renders and measures a scene, so the pool is there before any test runs and the
leak check does not blame it on the first camera test.
"""

from __future__ import annotations

import datetime as dt

from hal.devices.camera import Frame, FrameEncoding, QualityReport
from hal.devices.picture_quality import analyse
from simulator import scenes


def frame_of(image: scenes.Image) -> Frame:
    """A BGR24 frame of ``image``."""
    height, width = image.shape[:2]
    return Frame(image.tobytes(), FrameEncoding.BGR24, width, height, dt.datetime.now(dt.UTC))


def measure(image: scenes.Image) -> QualityReport:
    """What the HAL measures on ``image`` (`hal.devices.picture_quality.analyse`)."""
    return analyse(frame_of(image))[0]


def start_opencv_threads() -> None:
    """Start OpenCV's worker pool now (see the module docstring)."""
    measure(scenes.render_scene("blurred", width=320, height=240))


start_opencv_threads()
