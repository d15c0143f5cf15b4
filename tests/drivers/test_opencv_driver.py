"""The ``opencv`` driver, for real, on files written to ``tmp_path``: image sequences,
a video, still images re-read on every capture; unplugging (the file deleted) and reset;
a read that never comes back (a FIFO with no writer) bounded by ``timeout``; addresses.
No V4L2 device exists here: a device address opens inoperative.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest

import hal
from drivers.camera.opencv import OpenCvCamera, OpenCvOptions, Source, source_of
from hal.address import DeviceAddress
from hal.device import DeviceState
from hal.devices.camera import (
    CameraCapabilities,
    CameraPosition,
    CameraState,
    CameraStatus,
    Frame,
    FrameEncoding,
    PictureFormat,
    check_quality,
)
from hal.devices.camera_service import CameraService
from hal.errors import CameraInoperable, CameraNotSupported, ConfigurationError
from hal.events import Event, StatusChanged
from tests.camera_backend import FACE_FILE, checkerboard

PERSON = CameraPosition.PERSON


class Listener:
    def __init__(self) -> None:
        self.statuses: list[CameraStatus] = []

    def event(self, event: Event) -> None:
        raise AssertionError(f"unexpected event {event!r}")

    def status_changed(self, status: CameraStatus) -> None:
        self.statuses.append(status)

    @property
    def states(self) -> list[CameraState]:
        return [s.cameras[PERSON] for s in self.statuses]


def coloured(level: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A small frame whose three channels differ, so a channel swap would show."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = level, level // 2, 255 - level
    return image


def pixels(frame: Frame) -> np.ndarray:
    assert frame.encoding is FrameEncoding.BGR24
    assert len(frame.data) == frame.width * frame.height * 3
    assert frame.timestamp.utcoffset() is not None
    assert frame.timestamp.utcoffset().seconds == 0
    return np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 3)


def write_sequence(folder: Path, levels: list[int]) -> str:
    for n, level in enumerate(levels):
        assert cv2.imwrite(str(folder / f"frame_{n:03d}.png"), coloured(level))
    return str(folder / "frame_%03d.png")


def unplug(path: Path) -> bytes:
    """The camera unplugged: its still file deleted (its bytes kept for the replug)."""
    kept = path.read_bytes()
    path.unlink()
    return kept


def replug(path: Path, kept: bytes) -> None:
    path.write_bytes(kept)


def unplug_sequence(folder: Path) -> None:
    for path in folder.glob("frame_*.png"):
        path.unlink()


async def opened(source: Source, **options: object) -> tuple[OpenCvCamera, Listener]:
    camera = OpenCvCamera(source, OpenCvOptions(**options))  # type: ignore[arg-type]
    listener = Listener()
    await camera.open(listener)
    return camera, listener


@pytest.fixture
def face(tmp_path: Path) -> Path:
    path = tmp_path / "scene.jpg"
    shutil.copy(FACE_FILE, path)
    return path


# --- image sequences and video -----------------------------------------------------------


async def test_an_image_sequence_frame_by_frame_then_its_end(tmp_path: Path) -> None:
    pattern = write_sequence(tmp_path, [10, 90, 170])
    camera, listener = await opened(Source(file=pattern), file=Path(pattern))
    try:
        assert camera.capabilities().width == 64
        assert camera.capabilities().height == 48
        assert "CV_IMAGES" in camera.capabilities().firmware
        for level in (10, 90, 170):
            assert np.array_equal(pixels(await camera.capture(PERSON)), coloured(level))
        with pytest.raises(CameraInoperable, match="has ended"):
            await camera.capture(PERSON)
        assert listener.states == [CameraState.OK, CameraState.INOPERATIVE]
        status = await camera.get_status()
        assert status.device is DeviceState.NO_DEVICE
        assert status.cameras[PERSON] is CameraState.INOPERATIVE
        with pytest.raises(CameraInoperable, match="inoperative; reset it"):
            await camera.capture(PERSON)
        await camera.reset()  # from the start again
        assert np.array_equal(pixels(await camera.capture(PERSON)), coloured(10))
        assert listener.states[-1] is CameraState.OK
    finally:
        await camera.close()


async def test_a_looping_sequence_starts_again(tmp_path: Path) -> None:
    pattern = write_sequence(tmp_path, [10, 200])
    camera, _ = await opened(Source(file=pattern, loop=True), file=Path(pattern), loop=True)
    try:
        got = [int(pixels(await camera.capture(PERSON))[0, 0, 0]) for _ in range(5)]
        assert got == [10, 200, 10, 200, 10]
    finally:
        await camera.close()


async def test_a_sequence_unplugged_mid_stream(tmp_path: Path) -> None:
    pattern = write_sequence(tmp_path, [10, 90, 170])
    camera, listener = await opened(Source(file=pattern), file=Path(pattern))
    try:
        await camera.capture(PERSON)
        unplug_sequence(tmp_path)
        with pytest.raises(CameraInoperable):
            await camera.capture(PERSON)
        assert listener.states[-1] is CameraState.INOPERATIVE
        with pytest.raises(CameraInoperable, match="cannot open"):
            await camera.reset()
        write_sequence(tmp_path, [50])
        await camera.reset()
        assert int(pixels(await camera.capture(PERSON))[0, 0, 0]) == 50
    finally:
        await camera.close()


async def test_a_video_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for level in (0, 100, 200):
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()
    source = Source(file=str(path), loop=True)
    camera, _ = await opened(source, file=path, loop=True)
    try:
        means = [float(pixels(await camera.capture(PERSON)).mean()) for _ in range(4)]
        assert [round(m / 100) for m in means] == [0, 1, 2, 0]  # JPEG-coded: close, not exact
    finally:
        await camera.close()


# --- still files ----------------------------------------------------------------------------


async def test_a_still_is_reread_on_every_capture(tmp_path: Path) -> None:
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), coloured(30))
    camera, _ = await opened(Source(file=str(path), still=True), file=path, mode="still")
    try:
        assert np.array_equal(pixels(await camera.capture(PERSON)), coloured(30))
        assert np.array_equal(pixels(await camera.capture(PERSON)), coloured(30))
        cv2.imwrite(str(path), coloured(220))
        assert np.array_equal(pixels(await camera.capture(PERSON)), coloured(220))
    finally:
        await camera.close()


async def test_unplug_is_deleting_the_still_and_reset_brings_it_back(face: Path) -> None:
    async with hal.open(f"opencv://?file={face}&mode=still") as camera:
        assert isinstance(camera, CameraService)
        events = camera.events(kinds=[StatusChanged])
        picture = await camera.take_picture()
        assert (picture.width, picture.height) == (360, 450)
        assert len(picture.quality.faces) == 1
        assert check_quality(picture).ok
        assert picture.timestamp.tzinfo is not None

        kept = unplug(face)
        with pytest.raises(CameraInoperable, match="cannot open still file"):
            await camera.take_picture()
        change = await asyncio.wait_for(events.get(), 1)
        assert isinstance(change, StatusChanged)
        assert change.new.cameras[PERSON] is CameraState.INOPERATIVE
        assert change.new.device is DeviceState.NO_DEVICE
        with pytest.raises(CameraInoperable):
            await camera.reset(timeout=5)
        with pytest.raises(CameraInoperable):
            await camera.take_picture()

        replug(face, kept)
        await camera.reset(timeout=5)
        back = await asyncio.wait_for(events.get(), 1)
        assert isinstance(back, StatusChanged)
        assert back.new.cameras[PERSON] is CameraState.OK
        again = await camera.take_picture(format=PictureFormat.PNG)
        assert again.quality == picture.quality


async def test_a_source_missing_at_open_opens_inoperative(tmp_path: Path) -> None:
    path = tmp_path / "later.png"
    async with hal.open(f"opencv://?file={path}&mode=still") as camera:
        status = await camera.status()
        assert status.cameras[PERSON] is CameraState.INOPERATIVE
        with pytest.raises(CameraInoperable):
            await camera.take_picture()
        cv2.imwrite(str(path), checkerboard())
        await camera.reset()
        picture = await camera.take_picture()
        assert (picture.width, picture.height) == (640, 480)
        assert picture.quality.sharpness > 1000


async def test_no_v4l2_device_here() -> None:
    async with hal.open("opencv:///dev/video99") as camera:
        assert (await camera.status()).cameras[PERSON] is CameraState.INOPERATIVE
        with pytest.raises(CameraInoperable, match="/dev/video99"):
            await camera.take_picture()
        with pytest.raises(CameraInoperable, match="cannot open /dev/video99"):
            await camera.reset()
        caps = await camera.capabilities()
        assert caps == CameraCapabilities(
            cameras=frozenset({PERSON}),
            formats=frozenset(PictureFormat),
            width=640,
            height=480,
            firmware=caps.firmware,
        )


# --- nothing hangs --------------------------------------------------------------------------


async def test_a_read_that_never_comes_back_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), coloured(30))
    source = Source(file=str(path), still=True)
    camera, listener = await opened(source, file=path, mode="still", timeout=0.3)
    released = threading.Event()
    try:
        unplug(path)
        os.mkfifo(path)  # opening it for reading blocks until someone writes
        with pytest.raises(CameraInoperable, match=r"took over 0\.3 s"):
            await camera.capture(PERSON)
        assert listener.states[-1] is CameraState.INOPERATIVE
    finally:
        # Free the worker stuck in open(): a writer comes and goes, the read sees EOF.
        def unblock() -> None:
            fd = os.open(path, os.O_WRONLY)
            os.close(fd)
            released.set()

        writer = threading.Thread(target=unblock)
        writer.start()
        await camera.close()
        writer.join(5)
    assert released.is_set()


# --- options and addresses -----------------------------------------------------------------


def test_address_sources() -> None:
    def source(text: str) -> Source:
        address = DeviceAddress.parse(text)
        options = OpenCvOptions(**{k: _typed(k, v) for k, v in address.options.items()})
        return source_of(address, options)

    assert source("opencv:///dev/video0") == Source(path="/dev/video0")
    assert source("opencv://?device=2") == Source(index=2)
    assert source("opencv://?file=/x/clip.mp4&loop=true") == Source(file="/x/clip.mp4", loop=True)
    assert source("opencv://?file=/x/f_%2503d.png") == Source(file="/x/f_%03d.png")
    assert source("opencv://?file=/x/s.png&mode=still") == Source(file="/x/s.png", still=True)


def _typed(key: str, value: str) -> object:
    return {
        "device": int,
        "file": Path,
        "loop": lambda v: v == "true",
        "mode": str,
    }[key](value)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("opencv://?colour=red", r"unknown option 'colour'; allowed: camera, device, drop, file"),
        ("opencv://", "name one source.*got none"),
        ("opencv:///dev/video0?device=0", "got a device path and device="),
        ("opencv://?device=0&file=/x.png", "got device= and file="),
        ("opencv://host/dev/video0", "has no host"),
        ("opencv://?device=0&mode=still", "mode=still re-reads one image"),
        ("opencv://?file=/x/f_%2503d.png&mode=still", "not the sequence"),
        ("opencv://?device=0&loop=true", "loop applies to a file"),
        ("opencv://?device=0&width=9000", "width must be 0"),
        ("opencv://?device=0&timeout=0", "timeout must be 0.05 to 120"),
        ("opencv://?device=0&camera=ceiling", "option 'camera' expects one of person, document"),
        ("opencv://?device=0&drop=99", "drop must be 0 to 30"),
    ],
)
def test_bad_addresses(address: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        hal.open(address)


async def test_the_camera_option_names_the_position(face: Path) -> None:
    async with hal.open(f"opencv://?file={face}&mode=still&camera=document") as camera:
        caps = await camera.capabilities()
        assert caps.cameras == frozenset({CameraPosition.DOCUMENT})
        with pytest.raises(CameraNotSupported, match="no person camera; it has document"):
            await camera.take_picture()
        picture = await camera.take_picture(CameraPosition.DOCUMENT)
        assert picture.camera is CameraPosition.DOCUMENT
        assert check_quality(picture).ok  # no face needed for a document camera


@pytest.fixture
async def many_frames(tmp_path: Path) -> AsyncIterator[str]:
    return write_sequence(tmp_path, list(range(0, 250, 10)))


async def test_captures_queue_in_order_through_the_service(many_frames: str) -> None:
    address = DeviceAddress(driver="opencv", options={"file": many_frames})
    async with hal.open(str(address)) as camera:
        pictures = await asyncio.gather(
            *(camera.take_picture(format=PictureFormat.PNG) for _ in range(6))
        )
    firsts = [
        int(cv2.imdecode(np.frombuffer(p.data, np.uint8), cv2.IMREAD_COLOR)[0, 0, 0])
        for p in pictures
    ]
    assert firsts == [0, 10, 20, 30, 40, 50]


class ScriptedCapture:
    """A live device's buffers, scripted (no V4L2 device exists here): each grab takes
    the next frame; the buffered ones come at once, then each new one after a wait."""

    def __init__(self, buffered: int, wait: float = 0.03) -> None:
        self.buffered = buffered
        self.wait = wait
        self.grabbed = 0
        self.retrieved: list[int] = []

    def grab(self) -> bool:
        if self.grabbed >= self.buffered:
            time.sleep(self.wait)  # the next frame is not there yet
        self.grabbed += 1
        return True

    def retrieve(self) -> tuple[bool, int]:
        self.retrieved.append(self.grabbed)
        return True, self.grabbed

    def read(self) -> tuple[bool, int]:
        self.grab()
        return self.retrieve()


@pytest.mark.parametrize(
    ("buffered", "drop", "grabs", "frame"),
    [
        (3, 4, 4, 4),  # 3 stale frames dropped, the 4th waited for: kept
        (0, 4, 1, 1),  # nothing stale: the first grab waits, its frame is kept
        (9, 4, 5, 5),  # more stale than drop: 4 dropped, then one read
        (3, 0, 1, 1),  # drop=0: a plain read
    ],
)
def test_stale_frames_of_a_live_device_are_dropped(
    buffered: int, drop: int, grabs: int, frame: int
) -> None:
    camera = OpenCvCamera(Source(index=0), OpenCvOptions(device=0, drop=drop))
    cap = ScriptedCapture(buffered)
    ok, image = camera._fresh_read(cap)
    assert ok
    assert image == frame
    assert cap.grabbed == grabs
    assert cap.retrieved == [frame]
