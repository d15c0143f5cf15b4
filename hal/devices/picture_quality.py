"""What `CameraService` measures on every picture, and how it encodes it (OpenCV).

`analyse` turns a backend's `Frame` into an image and a `QualityReport`:

- the frame is decoded: ``bgr24`` must hold exactly ``width * height * 3`` bytes,
  ``jpeg``/``png`` must decode to a colour image of the size the frame states; anything
  else is a `ProtocolError` (the backend sent bytes that do not fit), never a crash;
- ``grey = cvtColor(BGR2GRAY)``;
- faces: the frontal-face Haar cascade (``haarcascade_frontalface_default.xml``, shipped
  with OpenCV 4; OpenCV 5 has none) run on the histogram-equalised grey image (so a face
  in poor light is still found and the report says *dark*, not *no face*) with
  ``scaleFactor=1.1``, ``minNeighbors=5``, ``minSize=40x40`` (`DETECTOR_PARAMETERS`):
  1.1 is the usual step (coarser steps miss faces between scales), 5 neighbours keep
  texture from counting as a face, and a face under 40 px in a 640x480 frame is too far
  away to be of use anyway (the policy's ``min_face_size`` is 80). Faces come largest
  first (ties: top-left first);
- the region is the largest face's box if there is a face, else the whole frame;
  ``sharpness`` is the variance of ``Laplacian(region, CV_64F)``, ``brightness`` the
  mean and ``contrast`` the standard deviation of the region's grey levels.

`encode` writes the image as JPEG (quality `JPEG_QUALITY`) or PNG (compression level
`PNG_COMPRESSION`) with ``cv2.imencode``.

OpenCV and numpy are imported on first use (the ``camera`` extra): without them
`require` raises a `ConfigurationError` naming ``pip install 'tellerhal[camera]'``, which
`CameraService.open` calls first. The cascade is loaded once per process and shared by
every worker thread behind a lock (``CascadeClassifier`` is not thread-safe).

Everything here is synchronous and CPU-bound (Haar takes tens of milliseconds on a
640x480 frame): call it from a worker thread (`asyncio.to_thread`), as the service does.
Nothing here logs or prints pixels.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hal.devices.camera_model import FaceBox, Frame, FrameEncoding, PictureFormat, QualityReport
from hal.errors import ConfigurationError, HardwareError, ProtocolError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    #: A decoded picture: height x width x 3 bytes, blue-green-red.
    Image = npt.NDArray[np.uint8]
else:
    Image = Any

__all__ = [
    "CASCADE",
    "DETECTOR_PARAMETERS",
    "INSTALL_HINT",
    "JPEG_QUALITY",
    "PNG_COMPRESSION",
    "Image",
    "analyse",
    "encode",
    "prepare",
    "require",
]

#: What to install for the camera's picture analysis.
INSTALL_HINT = "pip install 'tellerhal[camera]'"
#: The Haar cascade file (in ``cv2.data.haarcascades``) that finds faces.
CASCADE = "haarcascade_frontalface_default.xml"
#: ``detectMultiScale`` parameters (see the module docstring for why).
DETECTOR_PARAMETERS: dict[str, Any] = {
    "scaleFactor": 1.1,
    "minNeighbors": 5,
    "minSize": (40, 40),
}
#: JPEG quality (0-100): 90 keeps a face's detail (the 640x480 face test scene: ~42 kB).
JPEG_QUALITY = 90
#: PNG compression level (0-9): 3 is OpenCV's speed/size middle.
PNG_COMPRESSION = 3

_modules: tuple[ModuleType, ModuleType] | None = None
_modules_lock = threading.Lock()


def require() -> tuple[ModuleType, ModuleType]:
    """OpenCV and numpy, imported on first use.

    Raises:
        ConfigurationError: either is missing, or the OpenCV installed has no Haar
            cascades (OpenCV 5); the message names ``pip install 'tellerhal[camera]'``.
    """
    global _modules
    with _modules_lock:
        if _modules is not None:
            return _modules
        try:
            import cv2
            import numpy
        except ImportError as exc:
            raise ConfigurationError(
                f"the camera's picture analysis needs OpenCV and numpy ({exc}); "
                f"install them with: {INSTALL_HINT}"
            ) from exc
        if not hasattr(cv2, "CascadeClassifier"):
            raise ConfigurationError(
                f"OpenCV {getattr(cv2, '__version__', '?')} has no Haar cascades (OpenCV 5 "
                f"removed them); install OpenCV 4 with: {INSTALL_HINT}"
            )
        _modules = (cv2, numpy)
        return _modules


class _Detector:
    """The one frontal-face cascade of the process, loaded once, used under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cascade: Any = None

    def _load(self, cv2: ModuleType) -> Any:
        data = getattr(cv2, "data", None)
        folder = getattr(data, "haarcascades", None)
        if not folder:
            raise ConfigurationError(
                f"OpenCV ships no Haar cascades here (cv2.data.haarcascades is missing); "
                f"install OpenCV 4 with: {INSTALL_HINT}"
            )
        cascade = cv2.CascadeClassifier(folder + CASCADE)
        if cascade.empty():
            raise ConfigurationError(
                f"cannot load the face cascade {folder + CASCADE}; reinstall with: {INSTALL_HINT}"
            )
        return cascade

    def load(self, cv2: ModuleType) -> None:
        with self._lock:
            if self._cascade is None:
                self._cascade = self._load(cv2)

    def detect(self, cv2: ModuleType, grey: Image) -> list[tuple[int, int, int, int]]:
        equalised = cv2.equalizeHist(grey)
        with self._lock:
            if self._cascade is None:
                self._cascade = self._load(cv2)
            found = self._cascade.detectMultiScale(equalised, **DETECTOR_PARAMETERS)
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


_DETECTOR = _Detector()


def prepare() -> None:
    """Import OpenCV and load the cascade now (so the first picture is not slower).

    Raises:
        ConfigurationError: as `require`, or the cascade cannot be loaded.
    """
    cv2, _ = require()
    _DETECTOR.load(cv2)


def decode(frame: Frame) -> Image:
    """The frame's pixels as a height x width x 3 BGR image.

    Raises:
        ProtocolError: the bytes do not fit the frame's encoding and size.
    """
    cv2, np = require()
    width, height = frame.width, frame.height
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise ProtocolError(f"a frame is at least 1x1 pixels; this one says {width}x{height}")
    data = frame.data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolError(f"a frame's data is bytes, not {type(data).__name__}")
    encoding = frame.encoding
    if encoding is FrameEncoding.BGR24:
        expected = width * height * 3
        if len(data) != expected:
            raise ProtocolError(
                f"a {width}x{height} bgr24 frame is {expected} bytes (3 per pixel); "
                f"got {len(data)} bytes"
            )
        image: Image = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
        return image
    if encoding in (FrameEncoding.JPEG, FrameEncoding.PNG):
        buffer = np.frombuffer(data, dtype=np.uint8)
        decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if len(buffer) else None
        if decoded is None:
            raise ProtocolError(
                f"a {encoding.value} frame of {len(data)} bytes does not decode as an image"
            )
        got_height, got_width = decoded.shape[:2]
        if (got_width, got_height) != (width, height):
            raise ProtocolError(
                f"a {encoding.value} frame says {width}x{height} but its image is "
                f"{got_width}x{got_height}"
            )
        result: Image = decoded
        return result
    raise ProtocolError(f"unknown frame encoding {encoding!r}")


def analyse(frame: Frame) -> tuple[QualityReport, Image]:
    """Measure a frame's quality (faces, sharpness, brightness, contrast).

    Returns:
        The report and the decoded BGR image (for `encode`).

    Raises:
        ProtocolError: the frame's bytes do not fit its encoding and size.
        ConfigurationError: OpenCV is missing (see `require`).
    """
    cv2, _ = require()
    image = decode(frame)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    boxes = _DETECTOR.detect(cv2, grey)
    boxes.sort(key=lambda b: (-b[2] * b[3], b[1], b[0]))
    faces = tuple(FaceBox(x, y, w, h) for x, y, w, h in boxes)
    if faces:
        face = faces[0]
        region = grey[face.y : face.y + face.height, face.x : face.x + face.width]
        where = "face"
    else:
        region = grey
        where = "frame"
    sharpness = float(cv2.Laplacian(region, cv2.CV_64F).var())
    mean, std = cv2.meanStdDev(region)
    report = QualityReport(
        sharpness=sharpness,
        brightness=float(mean[0][0]),
        contrast=float(std[0][0]),
        faces=faces,
        region=where,
    )
    return report, image


def encode(image: Image, format: PictureFormat) -> bytes:
    """The image written as ``format`` (JPEG at `JPEG_QUALITY`, PNG at `PNG_COMPRESSION`).

    Raises:
        HardwareError: OpenCV could not encode it.
    """
    cv2, _ = require()
    format = PictureFormat(format)
    if format is PictureFormat.JPEG:
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    else:
        ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise HardwareError(f"OpenCV could not encode a {image.shape[1]}x{image.shape[0]} picture")
    return bytes(buffer.tobytes())
