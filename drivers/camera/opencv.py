"""The ``opencv`` driver: a camera as ``cv2.VideoCapture`` sees it, as a `CameraBackend`.

Addresses (entry point ``opencv`` in group ``tellerhal.drivers``)::

    opencv:///dev/video0                       a V4L2 webcam, by its device path
    opencv://?device=0                         the same, by its index (/dev/video0)
    opencv://?file=/data/clip.mp4&loop=true    a video file (FFmpeg), restarted at its end
    opencv://?file=/data/frames_%2503d.png     an image sequence (frames_000.png, frames_001.png...)
    opencv://?file=/data/scene.png&mode=still  one image, re-read on every capture

Options (`OpenCvOptions`): ``device``, ``file``, ``mode`` (``stream``: a device, a video
or an image sequence read frame after frame; ``still``: one image file opened, read and
released on every capture, which is how CI and the simulator's file stimulus drive this
very code without a camera), ``width``/``height`` (asked of a live device with
``CAP_PROP_FRAME_WIDTH``/``HEIGHT``; 0 keeps its own), ``camera`` (the position this
camera serves: ``person``, ``document`` or ``room``), ``loop`` (a file starts again at its
end instead of running out), ``timeout`` (seconds an open or a read may take) and
``drop`` (at most this many buffered frames a live device's capture grabs and throws
away first, so the picture is of now, not of when the app last looked). The ``%`` of an
image sequence's pattern is written ``%25`` in an address (addresses escape ``%``); a
kiosk file gives the option unescaped.

Every ``VideoCapture`` call runs in the driver's own worker thread (one per device:
``VideoCapture`` is not thread-safe), and every wait for it is bounded by ``timeout``:
a capture that does not come back in time is `CameraInoperable`. Frames come back as
`FrameEncoding.BGR24` with the UTC time they were read.

The camera going away: the device cannot be opened, a read fails, the device path is
gone, or a file that does not loop has ended (a still file deleted: the next capture
cannot open it). Then the capture raises `CameraInoperable`, the status becomes
``cameras[position] = inoperative`` with ``device = noDevice`` (a `StatusChanged`), and
`reset` reopens it; a reset that cannot reopen it raises `CameraInoperable` too. A
source that cannot be opened at `open` does not fail the open: the status says
inoperative until a reset finds it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from drivers.camera.opencv_source import OpenCvOptions, Source, Worker
from drivers.camera.opencv_source import source_of as source_of  # public before the split
from hal.address import DeviceAddress
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
from hal.devices.camera_service import CameraService
from hal.devices.picture_quality import INSTALL_HINT
from hal.errors import CameraInoperable, CameraNotSupported, ConfigurationError
from hal.registry import DriverSpec

__all__ = ["OPENCV_DRIVER", "OpenCvCamera", "OpenCvOptions", "Source", "open_opencv"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The size a source that says nothing is taken to have until a frame is read.
_DEFAULT_SIZE = (640, 480)
#: A grab that takes longer than this waited for a new frame: the buffer held no stale one.
_FRESH_GRAB = 0.010
#: Seconds `close` waits for the worker thread to finish what it is doing.
_STOP_WAIT = 5.0


class OpenCvCamera:
    """A camera read through ``cv2.VideoCapture`` (see the module docstring).

    Args:
        source: what to read.
        options: the address's options.
        name: the device name, for messages.
    """

    def __init__(
        self, source: Source, options: OpenCvOptions | None = None, *, name: str = "camera"
    ) -> None:
        self.source = source
        self.options = options if options is not None else OpenCvOptions()
        self.name = name
        self.position = self.options.camera
        self._listener: BackendListener[CameraStatus] | None = None
        self._worker: Worker | None = None
        self._state = CameraState.UNKNOWN
        self._size = (
            (self.options.width, self.options.height)
            if self.options.width and self.options.height
            else _DEFAULT_SIZE
        )
        self._backend_name = ""
        # Touched only in the worker thread.
        self._cap: Any = None
        self._cv2: ModuleType | None = None

    def __repr__(self) -> str:
        return f"OpenCvCamera({self.source.describe()!r}, camera={self.position.value!r})"

    # --- lifecycle and queries ---------------------------------------------------------

    async def open(self, listener: BackendListener[CameraStatus]) -> None:
        """Start the worker and open the source (one that cannot be opened leaves the
        camera inoperative, not the open failed).

        Raises:
            ConfigurationError: OpenCV is not installed.
        """
        self._cv2 = _import_cv2()
        self._listener = listener
        self._worker = Worker(f"{self.name} opencv")
        try:
            await self._reopen()
        except CameraInoperable as exc:
            log.warning("%s: %s; the camera is inoperative until a reset", self.name, exc)

    async def close(self) -> None:
        """Release the source and stop the worker (a bounded wait)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.submit(self._release)
            if not await asyncio.to_thread(worker.stop, _STOP_WAIT):
                log.warning(
                    "%s: the OpenCV worker is still busy %s s after the close; left behind",
                    self.name,
                    _STOP_WAIT,
                )
        self._listener = None

    def capabilities(self) -> CameraCapabilities:
        """One camera at the address's position, JPEG and PNG, the source's frame size."""
        width, height = self._size
        return CameraCapabilities(
            cameras=frozenset({self.position}),
            formats=frozenset(PictureFormat),
            width=width,
            height=height,
            firmware=f"OpenCV {self._cv2.__version__ if self._cv2 else '?'}"
            + (f" {self._backend_name}" if self._backend_name else ""),
        )

    async def get_status(self) -> CameraStatus:
        """The camera's state as the last open, capture or reset found it."""
        return self._status()

    # --- commands ----------------------------------------------------------------------

    async def capture(self, camera: CameraPosition) -> Frame:
        """One fresh frame, read in the worker thread.

        Raises:
            CameraNotSupported: a position this camera does not serve.
            CameraInoperable: no frame (see the module docstring).
        """
        if CameraPosition(camera) is not self.position:
            raise CameraNotSupported(f"{self.name} serves the {self.position.value} camera only")
        if self._state is not CameraState.OK:
            raise CameraInoperable(
                f"{self.name}: the camera ({self.source.describe()}) is inoperative; reset it"
            )
        try:
            frame = await self._in_worker(self._capture, "a frame")
        except CameraInoperable:
            self._set_state(CameraState.INOPERATIVE)
            raise
        return frame

    async def reset(self) -> None:
        """Reopen the source.

        Raises:
            CameraInoperable: it still cannot be opened.
        """
        await self._reopen()

    # --- in the loop -------------------------------------------------------------------

    async def _reopen(self) -> None:
        try:
            size, backend = await self._in_worker(self._open_source, "the open")
        except CameraInoperable:
            self._set_state(CameraState.INOPERATIVE)
            raise
        self._size = size
        self._backend_name = backend
        self._set_state(CameraState.OK)

    async def _in_worker(self, job: Callable[[], T], what: str) -> T:
        """Run ``job`` in the worker, waiting ``timeout`` seconds at most."""
        worker = self._worker
        if worker is None:
            raise CameraInoperable(f"{self.name} is not open")
        future = asyncio.wrap_future(worker.submit(job))
        try:
            async with asyncio.timeout(self.options.timeout):
                return await future
        except TimeoutError:
            raise CameraInoperable(
                f"{self.name}: {what} from {self.source.describe()} took over "
                f"{self.options.timeout} s"
            ) from None

    def _set_state(self, state: CameraState) -> None:
        if state is self._state:
            return
        self._state = state
        if state is CameraState.INOPERATIVE:
            log.warning("%s: %s is inoperative", self.name, self.source.describe())
        listener = self._listener
        if listener is not None:
            listener.status_changed(self._status())

    def _status(self) -> CameraStatus:
        gone = self._state is CameraState.INOPERATIVE
        return CameraStatus(
            device=DeviceState.NO_DEVICE if gone else DeviceState.ONLINE,
            cameras={self.position: self._state},
        )

    # --- in the worker thread ------------------------------------------------------------

    def _new_capture(self) -> Any:
        """A VideoCapture on the source (opened, or raising CameraInoperable)."""
        cv2 = self._cv2
        assert cv2 is not None
        source = self.source
        if source.file is not None:
            if source.still or "%" in source.file:
                cap = cv2.VideoCapture(source.file, cv2.CAP_IMAGES)
            else:
                cap = cv2.VideoCapture(source.file, cv2.CAP_ANY)
        elif source.path is not None:
            cap = cv2.VideoCapture(source.path, cv2.CAP_V4L2)
        else:
            cap = cv2.VideoCapture(source.index, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraInoperable(f"{self.name}: cannot open {source.describe()}")
        if source.live and self.options.width and self.options.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.options.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.options.height)
        return cap

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()

    def _open_source(self) -> tuple[tuple[int, int], str]:
        """(Re)open the source; the frame size and OpenCV's backend name."""
        cv2 = self._cv2
        assert cv2 is not None
        self._release()
        cap = self._new_capture()
        backend = str(cap.getBackendName())
        if self.source.still:
            try:
                image = self._read(cap)
            finally:
                cap.release()
            height, width = image.shape[:2]
            return (int(width), int(height)), backend
        self._cap = cap
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            width, height = self._size
        return (width, height), backend

    def _read(self, cap: Any) -> Any:
        ok, image = cap.read()
        if not ok or image is None:
            raise CameraInoperable(f"{self.name}: no frame from {self.source.describe()}")
        return image

    def _capture(self) -> Frame:
        source = self.source
        if source.still:
            cap = self._new_capture()
            try:
                image = self._read(cap)
            finally:
                cap.release()
            return self._frame(image)
        cap = self._cap
        if cap is None:
            raise CameraInoperable(f"{self.name}: {source.describe()} is not open; reset it")
        if source.path is not None and not os.path.exists(source.path):
            self._release()
            raise CameraInoperable(f"{self.name}: {source.path} is gone")
        ok, image = self._fresh_read(cap) if source.live else cap.read()
        if (not ok or image is None) and source.loop:
            self._release()
            cap = self._cap = self._new_capture()
            ok, image = cap.read()
        if not ok or image is None:
            self._release()
            ended = "has ended" if source.file is not None else "gives no frame"
            raise CameraInoperable(f"{self.name}: {source.describe()} {ended}")
        return self._frame(image)

    def _fresh_read(self, cap: Any) -> tuple[bool, Any]:
        """A frame of now from a live device: grab (and drop) the frames the kernel
        buffered while nobody read, until a grab has to wait for a new one (that one is
        kept), ``drop`` grabs at most, then one read."""
        for _ in range(self.options.drop):
            started = time.monotonic()
            if not cap.grab():
                return False, None
            if time.monotonic() - started > _FRESH_GRAB:
                ok, image = cap.retrieve()
                return bool(ok), image
        ok, image = cap.read()
        return bool(ok), image

    def _frame(self, image: Any) -> Frame:
        cv2 = self._cv2
        assert cv2 is not None
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if image.dtype != "uint8":
            image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
        height, width = image.shape[:2]
        return Frame(
            data=image.tobytes(),
            encoding=FrameEncoding.BGR24,
            width=int(width),
            height=int(height),
            timestamp=dt.datetime.now(dt.UTC),
        )


def _import_cv2() -> ModuleType:
    try:
        import cv2
    except ImportError as exc:
        raise ConfigurationError(
            f"the opencv driver needs OpenCV ({exc}); install it with: {INSTALL_HINT}"
        ) from exc
    return cv2


def open_opencv(address: DeviceAddress, options: OpenCvOptions) -> CameraService:
    """Build the (unopened) camera an address names (the registry factory)."""
    source = source_of(address, options)
    return CameraService(OpenCvCamera(source, options))


OPENCV_DRIVER = DriverSpec(
    name="opencv",
    device_classes=frozenset({"camera"}),
    options=OpenCvOptions,
    factory=open_opencv,
    description=(
        "a camera through OpenCV's VideoCapture: opencv:///dev/video0, opencv://?device=0, "
        "opencv://?file=PATH (a video, an image sequence, or mode=still)"
    ),
    capabilities={"camera": frozenset({"person"})},
)
"""The ``opencv`` driver, registered through the ``tellerhal.drivers`` entry point."""
