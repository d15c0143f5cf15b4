"""The camera's data model: positions, frames, pictures, the quality report and the
quality policy that tells an app when to ask the customer for a retake.

Semantics follow XFS4IoT ``Camera`` (``TakePicture{camera: room | person | exitSlot}``,
errors ``cameraNotSupported``, ``cameraInoperable``), with ``document`` (the camera over
the document tray) in place of ``exitSlot``. `hal.devices.camera` re-exports all of it
with the interface and the backend contract; import from there.

Pictures of people are personal data: the dataclasses here never print their bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hal.device import DeviceState

__all__ = [
    "CAMERA_FEATURES",
    "DEFAULT_POLICY",
    "CameraCapabilities",
    "CameraPosition",
    "CameraState",
    "CameraStatus",
    "FaceBox",
    "Frame",
    "FrameEncoding",
    "Picture",
    "PictureFormat",
    "QualityPolicy",
    "QualityProblem",
    "QualityReport",
    "QualityVerdict",
    "check_quality",
]

#: The capability features `CameraCapabilities.features` names, and what each means.
CAMERA_FEATURES: dict[str, str] = {
    "person": "has a camera facing the customer",
    "document": "has a camera over the document tray",
    "room": "has a camera watching the room",
}


class CameraPosition(StrEnum):
    """Which camera takes the picture (XFS4IoT ``camera``; ``document`` is ours)."""

    PERSON = "person"
    DOCUMENT = "document"
    ROOM = "room"


class CameraState(StrEnum):
    """State of one camera (XFS4IoT ``media``/camera status values)."""

    OK = "ok"
    INOPERATIVE = "inoperative"
    NOT_SUPPORTED = "notSupported"
    UNKNOWN = "unknown"


class PictureFormat(StrEnum):
    """Encodings `Camera.take_picture` delivers."""

    JPEG = "jpeg"
    PNG = "png"


class FrameEncoding(StrEnum):
    """How a backend hands a frame to the service."""

    #: Raw pixels, 3 bytes per pixel in blue, green, red order, rows top to bottom,
    #: no padding: ``len(data) == width * height * 3``.
    BGR24 = "bgr24"
    JPEG = "jpeg"
    PNG = "png"


@dataclass(frozen=True, repr=False)
class Frame:
    """One frame as a backend captured it (the service analyses and encodes it).

    Attributes:
        data: the pixels or the encoded image.
        encoding: how ``data`` is encoded.
        width, height: the frame's size in pixels.
        timestamp: when it was captured (UTC, timezone-aware).
    """

    data: bytes
    encoding: FrameEncoding
    width: int
    height: int
    timestamp: dt.datetime

    def __repr__(self) -> str:
        return f"Frame({self.encoding.value}, {self.width}x{self.height}, <{len(self.data)} bytes>)"


@dataclass(frozen=True)
class FaceBox:
    """A face the detector found: its box in pixels (top-left corner, size)."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class QualityReport:
    """What the service measured on a picture.

    Attributes:
        sharpness: variance of the Laplacian of the grey image, over the largest face's
            box when a face was found, else over the whole picture (higher is sharper;
            a flat image is 0).
        brightness: mean grey level (0-255) over the same region.
        contrast: standard deviation of the grey level over the same region.
        faces: the faces found (frontal Haar cascade), largest first.
        region: ``face`` or ``frame``: where sharpness and brightness were measured.
    """

    sharpness: float
    brightness: float
    contrast: float
    faces: tuple[FaceBox, ...] = ()
    region: str = "frame"


@dataclass(frozen=True, repr=False)
class Picture:
    """A picture `Camera.take_picture` returns.

    Attributes:
        data: the encoded picture (never printed, never logged).
        format: its encoding.
        width, height: its size in pixels.
        timestamp: when the frame was captured (UTC, timezone-aware).
        camera: which camera took it.
        quality: what the service measured on it.
    """

    data: bytes
    format: PictureFormat
    width: int
    height: int
    timestamp: dt.datetime
    camera: CameraPosition
    quality: QualityReport

    def __repr__(self) -> str:
        return (
            f"Picture(camera={self.camera.value!r}, format={self.format.value!r}, "
            f"{self.width}x{self.height}, <{len(self.data)} bytes>, "
            f"faces={len(self.quality.faces)}, sharpness={self.quality.sharpness:.1f}, "
            f"brightness={self.quality.brightness:.1f})"
        )


class QualityProblem(StrEnum):
    """Why a picture fails the quality policy."""

    BLURRED = "blurred"
    TOO_DARK = "tooDark"
    TOO_BRIGHT = "tooBright"
    LOW_CONTRAST = "lowContrast"
    NO_FACE = "noFace"
    TOO_MANY_FACES = "tooManyFaces"
    FACE_TOO_SMALL = "faceTooSmall"


@dataclass(frozen=True)
class QualityVerdict:
    """The outcome of `check_quality`.

    Attributes:
        ok: the picture is good enough.
        problems: what is wrong, most important first (empty when ``ok``).
        advice: one sentence an app can show the customer (``""`` when ``ok``).
    """

    ok: bool
    problems: tuple[QualityProblem, ...] = ()
    advice: str = ""


_ADVICE: dict[QualityProblem, str] = {
    QualityProblem.NO_FACE: "Please look at the camera.",
    QualityProblem.TOO_MANY_FACES: "Please make sure only you are in front of the camera.",
    QualityProblem.FACE_TOO_SMALL: "Please come closer to the camera.",
    QualityProblem.BLURRED: "Please hold still for the photo.",
    QualityProblem.TOO_DARK: "The picture is too dark; please face the light.",
    QualityProblem.TOO_BRIGHT: "The picture is too bright; please step out of the glare.",
    QualityProblem.LOW_CONTRAST: "The picture is unclear; please face the camera.",
}


@dataclass(frozen=True)
class QualityPolicy:
    """Thresholds a picture must meet; an app asks for a retake when one fails.

    There is no universal sharpness threshold: 100 (variance of the Laplacian) is the
    usual starting point for a 640x480 face; tune on the kiosk's own camera and light.

    Attributes:
        min_sharpness: lowest acceptable sharpness.
        min_brightness, max_brightness: acceptable mean grey level.
        min_contrast: lowest acceptable grey-level standard deviation.
        require_face: a person picture must show a face (``person`` camera only).
        max_faces: most faces allowed in a person picture.
        min_face_size: smallest acceptable face box side in pixels.
    """

    min_sharpness: float = 100.0
    min_brightness: float = 60.0
    max_brightness: float = 200.0
    min_contrast: float = 15.0
    require_face: bool = True
    max_faces: int = 1
    min_face_size: int = 80

    def __post_init__(self) -> None:
        if self.min_brightness > self.max_brightness:
            raise ValueError(
                f"min_brightness {self.min_brightness} is above max_brightness "
                f"{self.max_brightness}"
            )
        if self.max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {self.max_faces}")
        for name in ("min_sharpness", "min_brightness", "min_contrast", "min_face_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")


#: The policy `check_quality` applies when given none.
DEFAULT_POLICY = QualityPolicy()


def check_quality(
    picture: Picture,
    policy: QualityPolicy = DEFAULT_POLICY,
    *,
    camera: CameraPosition | None = None,
) -> QualityVerdict:
    """Judge ``picture`` against ``policy``.

    Face rules apply to pictures of the ``person`` camera (or ``camera`` if given);
    sharpness, brightness and contrast to every picture. Problems come out in the order
    a customer should fix them: face first, then light, then stillness.
    """
    report = picture.quality
    position = camera if camera is not None else picture.camera
    problems: list[QualityProblem] = []
    if position is CameraPosition.PERSON and policy.require_face:
        if not report.faces:
            problems.append(QualityProblem.NO_FACE)
        elif len(report.faces) > policy.max_faces:
            problems.append(QualityProblem.TOO_MANY_FACES)
        elif min(report.faces[0].width, report.faces[0].height) < policy.min_face_size:
            problems.append(QualityProblem.FACE_TOO_SMALL)
    if report.brightness < policy.min_brightness:
        problems.append(QualityProblem.TOO_DARK)
    elif report.brightness > policy.max_brightness:
        problems.append(QualityProblem.TOO_BRIGHT)
    elif report.contrast < policy.min_contrast:
        problems.append(QualityProblem.LOW_CONTRAST)
    if report.sharpness < policy.min_sharpness:
        problems.append(QualityProblem.BLURRED)
    if not problems:
        return QualityVerdict(ok=True)
    return QualityVerdict(ok=False, problems=tuple(problems), advice=_ADVICE[problems[0]])


@dataclass(frozen=True)
class CameraStatus:
    """The camera device's status.

    Attributes:
        device: the common device state.
        cameras: the state of each camera position the device has.
    """

    device: DeviceState = DeviceState.ONLINE
    cameras: Mapping[CameraPosition, CameraState] = field(
        default_factory=lambda: {CameraPosition.PERSON: CameraState.OK}
    )


@dataclass(frozen=True)
class CameraCapabilities:
    """What the camera device can do.

    Attributes:
        cameras: the camera positions it has.
        formats: the picture formats `Camera.take_picture` delivers.
        width, height: the frame size it captures.
        firmware: what the device reports of itself (``""`` when nothing).
    """

    cameras: frozenset[CameraPosition] = frozenset({CameraPosition.PERSON})
    formats: frozenset[PictureFormat] = frozenset(PictureFormat)
    width: int = 640
    height: int = 480
    firmware: str = ""

    def features(self) -> frozenset[str]:
        """The capability features it has, named as in `CAMERA_FEATURES`."""
        return frozenset(position.value for position in self.cameras)
