"""`CameraService` over a small backend serving generated frames (tests/camera_backend.py).

What the service measures (faces, sharpness, brightness, contrast) on the simulator's face
picture and on generated scenes, and how `check_quality` judges them; validation against
the capabilities; bad frames; the FIFO queue, timeouts and cancellation; StatusChanged;
OpenCV missing; the cascade shared by threads.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator

import cv2
import numpy as np
import pytest

from hal.devices import picture_quality
from hal.devices.camera import (
    CameraPosition,
    CameraState,
    Frame,
    FrameEncoding,
    PictureFormat,
    QualityPolicy,
    QualityProblem,
    check_quality,
)
from hal.devices.camera_service import CameraService
from hal.errors import (
    CameraInoperable,
    CameraNotSupported,
    ConfigurationError,
    DeviceNotReady,
    HalTimeout,
    InvalidData,
    ProtocolError,
    TooManyRequests,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from tests.camera_backend import (
    STAMP,
    FrameBackend,
    blurred,
    checkerboard,
    darkened,
    face_image,
    face_on_canvas,
    flat,
    frame_of,
)

PERSON, DOCUMENT, ROOM = CameraPosition.PERSON, CameraPosition.DOCUMENT, CameraPosition.ROOM


@pytest.fixture
async def backend() -> FrameBackend:
    return FrameBackend(
        {PERSON: frame_of(face_on_canvas()), DOCUMENT: frame_of(checkerboard())},
    )


@pytest.fixture
async def camera(backend: FrameBackend) -> AsyncIterator[CameraService]:
    async with CameraService(backend, max_queue=4) as service:
        yield service


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


# --- what is measured -----------------------------------------------------------------------


async def test_a_face_is_found_and_measured_over_its_box(camera: CameraService) -> None:
    picture = await camera.take_picture()
    assert picture.camera is PERSON
    assert picture.format is PictureFormat.JPEG
    assert (picture.width, picture.height) == (640, 480)
    assert picture.timestamp == STAMP
    report = picture.quality
    assert len(report.faces) == 1
    assert report.region == "face"
    face = report.faces[0]
    # The face picture sits at (140, 15) on the canvas; its face is about 146 px wide there.
    assert 220 <= face.x <= 270, face
    assert 90 <= face.y <= 130, face
    assert 120 <= face.width <= 180, face
    # The measures are over the face's box: recompute them independently.
    grey = cv2.cvtColor(face_on_canvas(), cv2.COLOR_BGR2GRAY)
    box = grey[face.y : face.y + face.height, face.x : face.x + face.width]
    assert report.sharpness == pytest.approx(cv2.Laplacian(box, cv2.CV_64F).var())
    assert report.brightness == pytest.approx(float(box.mean()))
    assert report.contrast == pytest.approx(float(box.std()))
    assert check_quality(picture).ok
    assert decode(picture.data).shape == (480, 640, 3)


async def test_png_is_lossless_and_jpeg_is_close(camera: CameraService) -> None:
    png = await camera.take_picture(PERSON, format=PictureFormat.PNG)
    assert png.data.startswith(b"\x89PNG")
    assert np.array_equal(decode(png.data), face_on_canvas())
    jpeg = await camera.take_picture(PERSON, format=PictureFormat.JPEG)
    assert jpeg.data.startswith(b"\xff\xd8")
    error = np.abs(decode(jpeg.data).astype(int) - face_on_canvas().astype(int)).mean()
    assert error < 3, error
    assert png.quality == jpeg.quality  # measured on the frame, not on the encoding


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (checkerboard(), ()),
        (blurred(checkerboard(square=16), 21), (QualityProblem.BLURRED,)),
        (darkened(checkerboard()), (QualityProblem.TOO_DARK,)),
        (flat(128), (QualityProblem.LOW_CONTRAST, QualityProblem.BLURRED)),
        (flat(250), (QualityProblem.TOO_BRIGHT, QualityProblem.BLURRED)),
    ],
    ids=["sharp", "blurred", "dark", "flat", "glare"],
)
async def test_generated_scenes_on_the_document_camera(
    backend: FrameBackend,
    camera: CameraService,
    image: np.ndarray,
    expected: tuple[QualityProblem, ...],
) -> None:
    backend.frames[DOCUMENT] = frame_of(image)
    picture = await camera.take_picture(DOCUMENT)
    report = picture.quality
    assert report.faces == ()
    assert report.region == "frame"
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert report.sharpness == pytest.approx(cv2.Laplacian(grey, cv2.CV_64F).var())
    assert report.brightness == pytest.approx(float(grey.mean()))
    assert report.contrast == pytest.approx(float(grey.std()))
    assert check_quality(picture).problems == expected


async def test_flat_frame_measures_zero(backend: FrameBackend, camera: CameraService) -> None:
    backend.frames[DOCUMENT] = frame_of(flat(77))
    report = (await camera.take_picture(DOCUMENT)).quality
    assert report.sharpness == 0.0
    assert report.contrast == 0.0
    assert report.brightness == pytest.approx(77.0)


async def test_person_scenes_blurred_dark_and_nobody(
    backend: FrameBackend, camera: CameraService
) -> None:
    sharp = (await camera.take_picture()).quality.sharpness
    backend.frames[PERSON] = frame_of(face_on_canvas(blurred(face_image(), 15)))
    soft = await camera.take_picture()
    assert soft.quality.sharpness < sharp / 4
    assert QualityProblem.BLURRED in check_quality(soft).problems

    backend.frames[PERSON] = frame_of(darkened(face_on_canvas(), 0.2))
    dark = await camera.take_picture()
    assert len(dark.quality.faces) == 1  # found on the equalised grey image
    assert check_quality(dark).problems[0] is QualityProblem.TOO_DARK

    backend.frames[PERSON] = frame_of(checkerboard())
    nobody = await camera.take_picture()
    verdict = check_quality(nobody)
    assert verdict.problems == (QualityProblem.NO_FACE,)
    assert verdict.advice == "Please look at the camera."
    # The same frame from the document camera needs no face.
    assert check_quality(nobody, camera=DOCUMENT).ok


async def test_two_faces_come_largest_first(backend: FrameBackend, camera: CameraService) -> None:
    face = face_image()  # 360 wide x 450 high
    small = cv2.resize(face, (face.shape[1] * 2 // 3, face.shape[0] * 2 // 3))
    canvas = np.full((480, 640 + 0, 3), 120, np.uint8)
    canvas[15 : 15 + 450, 0:360] = face
    canvas[100 : 100 + small.shape[0], 400 : 400 + small.shape[1]] = small
    backend.frames[PERSON] = frame_of(canvas)
    report = (await camera.take_picture()).quality
    assert len(report.faces) == 2
    first, second = report.faces
    assert first.width * first.height > second.width * second.height
    assert first.x < 360 <= second.x
    picture = await camera.take_picture()
    assert check_quality(picture).problems[0] is QualityProblem.TOO_MANY_FACES
    assert check_quality(picture, QualityPolicy(max_faces=2)).ok


async def test_a_small_face_is_too_small(backend: FrameBackend, camera: CameraService) -> None:
    face = face_image()
    backend.frames[PERSON] = frame_of(face_on_canvas(cv2.resize(face, (180, 225))))
    picture = await camera.take_picture()
    assert len(picture.quality.faces) == 1
    assert picture.quality.faces[0].width < 80
    assert check_quality(picture).problems[0] is QualityProblem.FACE_TOO_SMALL


async def test_encoded_frames_are_decoded(backend: FrameBackend, camera: CameraService) -> None:
    raw = face_on_canvas()
    ok, png = cv2.imencode(".png", raw)
    assert ok
    backend.frames[PERSON] = Frame(png.tobytes(), FrameEncoding.PNG, 640, 480, STAMP)
    from_png = await camera.take_picture(format=PictureFormat.PNG)
    assert np.array_equal(decode(from_png.data), raw)
    ok, jpeg = cv2.imencode(".jpg", raw)
    backend.frames[PERSON] = Frame(jpeg.tobytes(), FrameEncoding.JPEG, 640, 480, STAMP)
    from_jpeg = await camera.take_picture()
    assert len(from_jpeg.quality.faces) == 1


# --- bad frames ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (Frame(bytes(640 * 480 * 3 - 1), FrameEncoding.BGR24, 640, 480, STAMP), "921600 bytes"),
        (Frame(bytes(100), FrameEncoding.BGR24, 0, 480, STAMP), "at least 1x1"),
        (Frame(b"\xff\xd8 not a jpeg", FrameEncoding.JPEG, 640, 480, STAMP), "does not decode"),
        (Frame(b"", FrameEncoding.PNG, 640, 480, STAMP), "does not decode"),
        (
            Frame(cv2.imencode(".png", flat())[1].tobytes(), FrameEncoding.PNG, 320, 240, STAMP),
            "its image is 640x480",
        ),
    ],
    ids=["short", "empty-size", "garbage-jpeg", "empty-png", "wrong-size"],
)
async def test_bad_frames_are_clear_errors(
    backend: FrameBackend, camera: CameraService, frame: Frame, message: str
) -> None:
    backend.frames[PERSON] = frame
    with pytest.raises(ProtocolError, match=message):
        await camera.take_picture()
    backend.frames[PERSON] = frame_of(face_on_canvas())
    assert len((await camera.take_picture()).quality.faces) == 1


# --- validation ---------------------------------------------------------------------------


async def test_validation_against_the_capabilities(
    backend: FrameBackend, camera: CameraService
) -> None:
    with pytest.raises(CameraNotSupported, match="no room camera; it has document, person"):
        await camera.take_picture(ROOM)
    with pytest.raises(CameraNotSupported, match="'ceiling' is not a camera position"):
        await camera.take_picture("ceiling")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedOperation, match="'gif' is not a picture format"):
        await camera.take_picture(format="gif")  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="timeout"):
        await camera.take_picture(timeout=-1)
    assert backend.captures == []
    assert (await camera.take_picture("document", format="png")).camera is DOCUMENT  # type: ignore[arg-type]


async def test_a_format_the_device_does_not_deliver() -> None:
    backend = FrameBackend(formats=[PictureFormat.JPEG])
    async with CameraService(backend) as camera:
        with pytest.raises(UnsupportedOperation, match="does not deliver png pictures"):
            await camera.take_picture(format=PictureFormat.PNG)
        assert backend.captures == []


async def test_not_open() -> None:
    camera = CameraService(FrameBackend())
    with pytest.raises(DeviceNotReady):
        await camera.take_picture()
    with pytest.raises(DeviceNotReady):
        await camera.capabilities()


# --- queue, timeouts, cancellation ----------------------------------------------------------


async def test_commands_run_one_at_a_time_in_order(
    backend: FrameBackend, camera: CameraService
) -> None:
    backend.hold = asyncio.Event()
    order = [DOCUMENT, PERSON, DOCUMENT, PERSON]
    tasks = [asyncio.create_task(camera.take_picture(p)) for p in order]
    await asyncio.sleep(0.05)
    assert backend.captures == [DOCUMENT]  # the others wait behind it
    with pytest.raises(TooManyRequests):
        await camera.take_picture()
    backend.hold.set()
    pictures = await asyncio.gather(*tasks)
    assert [p.camera for p in pictures] == order
    assert backend.captures == order


async def test_a_timeout_while_capturing(backend: FrameBackend, camera: CameraService) -> None:
    backend.hold = asyncio.Event()
    with pytest.raises(HalTimeout, match=r"Camera.TakePicture did not finish within 0.1 s"):
        await camera.take_picture(timeout=0.1)
    backend.hold = None
    assert len((await camera.take_picture(timeout=5)).quality.faces) == 1


async def test_a_cancel_while_capturing_then_while_analysing(
    backend: FrameBackend, camera: CameraService
) -> None:
    backend.hold = asyncio.Event()
    task = asyncio.create_task(camera.take_picture())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    backend.hold = None
    # Cancelled once the frame is in hand: the analysis runs to its end, then it raises.
    backend.captured.clear()
    big = cv2.resize(face_on_canvas(), (1920, 1440))
    backend.frames[PERSON] = frame_of(big)
    task = asyncio.create_task(camera.take_picture(format=PictureFormat.PNG))
    await backend.captured.wait()
    detector = picture_quality._DETECTOR._lock
    for _ in range(1000):  # until the worker thread is in the face detection
        if detector.locked():
            break
        await asyncio.sleep(0.001)
    assert detector.locked()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not detector.locked()  # the cancel waited for the analysis to end
    backend.frames[PERSON] = frame_of(face_on_canvas())
    assert len((await camera.take_picture()).quality.faces) == 1


# --- status -------------------------------------------------------------------------------


async def test_camera_gone_and_back(backend: FrameBackend, camera: CameraService) -> None:
    events = camera.events(kinds=[StatusChanged])
    backend.broken = True  # gone without a word: the service asks after the failure
    with pytest.raises(CameraInoperable):
        await camera.take_picture()
    change = await asyncio.wait_for(events.get(), 1)
    assert isinstance(change, StatusChanged)
    assert change.new.cameras[PERSON] is CameraState.INOPERATIVE
    assert "cameras" in change.changed
    assert (await camera.status()).cameras[PERSON] is CameraState.INOPERATIVE
    await camera.reset(timeout=5)
    back = await asyncio.wait_for(events.get(), 1)
    assert isinstance(back, StatusChanged)
    assert back.new.cameras[PERSON] is CameraState.OK
    assert backend.resets == 1
    assert len((await camera.take_picture()).quality.faces) == 1


async def test_unplug_reported_by_the_backend(backend: FrameBackend, camera: CameraService) -> None:
    events = camera.events(kinds=[StatusChanged])
    backend.unplug()
    change = events.get_nowait()
    assert isinstance(change, StatusChanged)
    assert change.new.cameras == {
        PERSON: CameraState.INOPERATIVE,
        DOCUMENT: CameraState.INOPERATIVE,
    }


# --- OpenCV missing, threads -----------------------------------------------------------------


async def test_without_opencv_the_open_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(picture_quality, "_modules", None)
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    backend = FrameBackend()
    camera = CameraService(backend)
    with pytest.raises(ConfigurationError, match=r"pip install 'tellerhal\[camera\]'"):
        await camera.open()
    assert not backend.opened
    assert not camera.is_open


def test_the_cascade_is_shared_safely_by_threads() -> None:
    frame = frame_of(face_on_canvas())
    expected = picture_quality.analyse(frame)[0]
    results: list[object] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2):
                results.append(picture_quality.analyse(frame)[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert results == [expected] * 8
