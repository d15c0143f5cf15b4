"""Benchmark of a picture with its quality check, at 640x480, against OpenCV alone, same run.

Run from the repository root:  python bench/bench_camera.py [--runs N]

The scene is the simulator's face picture (simulator/assets/faces/astronaut.jpg) on a
640x480 grey canvas, written as a PNG to a temporary folder. Measured, each the median
(and 95th percentile) of N runs after 3 warm-up runs (``time.perf_counter``):

The four are measured in turn within each run, so a change of load hits them alike.

- ``take_picture()`` (JPEG) through `CameraService` over the real ``opencv`` driver on a
  still file source (``opencv://?file=...&mode=still``): the driver's worker thread opens,
  reads and releases the file; the service measures the frame in a worker thread
  (faces, sharpness, brightness, contrast) and encodes it;
- the analysis alone: `hal.devices.picture_quality.analyse` + `encode` on the frame;
- baseline (a): raw ``cv2.VideoCapture(file, CAP_IMAGES)`` open + read + release, then
  ``cv2.imencode(".jpg", q90)`` of the same frame: a picture with no quality check;
- baseline (b): (a) plus the same OpenCV calls the analysis makes, written inline (grey,
  equalised Haar detection with the same parameters, Laplacian variance, mean/std):
  what our layers add on top of OpenCV's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

import hal
from hal.devices import picture_quality
from hal.devices.camera import Frame, FrameEncoding, PictureFormat
from hal.devices.camera_service import CameraService

FACE = Path(__file__).resolve().parents[1] / "simulator" / "assets" / "faces" / "astronaut.jpg"


def scene() -> Any:
    """The face picture in the middle of a 640x480 mid-grey frame."""
    face = cv2.imread(str(FACE), cv2.IMREAD_COLOR)
    if face is None:
        raise SystemExit(f"cannot read {FACE}")
    canvas = np.full((480, 640, 3), 120, np.uint8)
    h, w = face.shape[:2]
    y, x = (480 - h) // 2, (640 - w) // 2
    canvas[y : y + h, x : x + w] = face
    return canvas


def stats_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p95 * 1e3


async def interleaved(calls: list[Callable[[], Any]], runs: int) -> list[list[float]]:
    """Seconds per run of each call (awaited if it returns an awaitable), the calls taken
    in turn within each run, after 3 warm-up runs."""
    samples: list[list[float]] = [[] for _ in calls]
    for n in range(runs + 3):
        for call, out in zip(calls, samples, strict=True):
            start = perf_counter()
            result = call()
            if isinstance(result, Awaitable):
                await result
            if n >= 3:
                out.append(perf_counter() - start)
    return samples


def baseline_a(path: str) -> bytes:
    cap = cv2.VideoCapture(path, cv2.CAP_IMAGES)
    ok, image = cap.read()
    cap.release()
    assert ok
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buffer.tobytes())


def baseline_b(path: str, cascade: Any) -> bytes:
    cap = cv2.VideoCapture(path, cv2.CAP_IMAGES)
    ok, image = cap.read()
    cap.release()
    assert ok
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    faces = cascade.detectMultiScale(
        cv2.equalizeHist(grey), scaleFactor=1.1, minNeighbors=5, minSize=(40, 40)
    )
    region = grey
    if len(faces):
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        region = grey[y : y + h, x : x + w]
    cv2.Laplacian(region, cv2.CV_64F).var()
    cv2.meanStdDev(region)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buffer.tobytes())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="measured runs per figure")
    args = parser.parse_args()
    runs = args.runs

    image = scene()
    frame = Frame(image.tobytes(), FrameEncoding.BGR24, 640, 480, _now())
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + picture_quality.CASCADE)

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "scene.png")
        cv2.imwrite(path, image)
        camera = hal.open(f"opencv://?file={path}&mode=still")
        assert isinstance(camera, CameraService)
        async with camera:
            picture = await camera.take_picture()
            faces = len(picture.quality.faces)
            calls: list[Callable[[], Any]] = [
                lambda: camera.take_picture(format=PictureFormat.JPEG),
                lambda: picture_quality.encode(
                    picture_quality.analyse(frame)[1], PictureFormat.JPEG
                ),
                lambda: baseline_a(path),
                lambda: baseline_b(path, cascade),
            ]
            # Interleaved, so that a change of load on the machine hits every figure alike.
            samples = await interleaved(calls, runs)
    ours, analysis, base_a, base_b = samples

    ours_ms, ours_p95 = stats_ms(ours)
    analysis_ms, analysis_p95 = stats_ms(analysis)
    a_ms, a_p95 = stats_ms(base_a)
    b_ms, b_p95 = stats_ms(base_b)
    print(
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}, numpy {np.__version__}, "
        f"cv2 threads {cv2.getNumThreads()}; {runs} runs, 640x480, {faces} face found"
    )
    print(f"take_picture (opencv still file, JPEG q{picture_quality.JPEG_QUALITY}):")
    print(f"  {ours_ms:8.2f} ms median  {ours_p95:8.2f} ms p95")
    print("analysis + encode alone (picture_quality):")
    print(f"  {analysis_ms:8.2f} ms median  {analysis_p95:8.2f} ms p95")
    print("baseline (a) raw VideoCapture read + imencode:")
    print(f"  {a_ms:8.2f} ms median  {a_p95:8.2f} ms p95")
    print("baseline (b) (a) + the same OpenCV analysis calls inline:")
    print(f"  {b_ms:8.2f} ms median  {b_p95:8.2f} ms p95")
    print(f"take_picture / (a): {ours_ms / a_ms:6.2f}x   / (b): {ours_ms / b_ms:5.2f}x")
    print(f"analysis / (a):     {analysis_ms / a_ms:6.2f}x   / (b): {analysis_ms / b_ms:5.2f}x")


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


if __name__ == "__main__":
    asyncio.run(main())
