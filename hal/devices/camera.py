"""The camera: public interface and backend contract (and, re-exported from
`hal.devices.camera_model`, its data model and the quality policy).

Semantics follow XFS4IoT ``Camera`` (``Camera.TakePicture``, ``Camera.Reset``; errors
``cameraNotSupported``, ``cameraInoperable``). Apps program against `Camera`; drivers and
simulator models implement `CameraBackend`; `hal.devices.camera_service.CameraService`
joins the two and measures every picture's quality (sharpness, brightness, faces), so
the app can judge it with `check_quality` and ask the customer for a retake.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol

from hal.device import BackendListener, Device, DeviceState
from hal.devices.camera_model import (
    CAMERA_FEATURES,
    DEFAULT_POLICY,
    CameraCapabilities,
    CameraPosition,
    CameraState,
    CameraStatus,
    FaceBox,
    Frame,
    FrameEncoding,
    Picture,
    PictureFormat,
    QualityPolicy,
    QualityProblem,
    QualityReport,
    QualityVerdict,
    check_quality,
)

__all__ = [
    "CAMERA_FEATURES",
    "DEFAULT_POLICY",
    "Camera",
    "CameraBackend",
    "CameraCapabilities",
    "CameraPosition",
    "CameraState",
    "CameraStatus",
    "DeviceState",
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


class Camera(Device[CameraStatus, CameraCapabilities]):
    """One or more kiosk cameras (facing the customer, over the document tray, watching
    the room).

    Every operation is a command: queued FIFO behind the device's other commands, with
    a ``timeout`` in seconds counted from the call (``None`` waits for ever).
    """

    interface = "Camera"

    @abstractmethod
    async def take_picture(
        self,
        camera: CameraPosition = CameraPosition.PERSON,
        *,
        format: PictureFormat = PictureFormat.JPEG,
        timeout: float | None = None,
    ) -> Picture:
        """Take a picture with ``camera`` and measure its quality.

        The picture comes back whatever its quality; judge it with `check_quality` (and
        a `QualityPolicy`) and ask the customer for a retake when it fails.

        Raises:
            CameraNotSupported: the device has no such camera.
            UnsupportedOperation: the format is not one the capabilities list.
            CameraInoperable: the camera gives no frames (gone from the bus, broken).
        """

    @abstractmethod
    async def reset(self, *, timeout: float | None = None) -> None:
        """Reset the cameras (reopen a camera that went away)."""


class CameraBackend(Protocol):
    """What a driver or a simulator model implements for a camera device.

    The service calls one method at a time and does all validation, queueing,
    timeouts, the quality measurement and the encoding; the backend captures frames.
    Status changes (a camera gone, back) go to ``listener.status_changed``.
    """

    async def open(self, listener: BackendListener[CameraStatus]) -> None:
        """Connect and start reporting to ``listener``."""

    async def close(self) -> None:
        """Disconnect; stop reporting."""

    def capabilities(self) -> CameraCapabilities:
        """What the device can do (known after `open()`)."""

    async def get_status(self) -> CameraStatus:
        """Ask the device where things stand now."""

    async def capture(self, camera: CameraPosition) -> Frame:
        """Capture one fresh frame from ``camera`` (asked only for cameras the
        capabilities list).

        Raises ``CameraInoperable`` when the camera gives no frame.
        """

    async def reset(self) -> None:
        """Reset the device (reopen the cameras)."""
