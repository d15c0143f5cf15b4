"""`SyncCamera`: a `Camera` for threads (see `hal.sync`)."""

from __future__ import annotations

from hal.devices.camera import (
    Camera,
    CameraCapabilities,
    CameraPosition,
    CameraStatus,
    Picture,
    PictureFormat,
)
from hal.sync_base import SyncDevice

__all__ = ["SyncCamera"]


class SyncCamera(SyncDevice[CameraStatus, CameraCapabilities]):
    """A `Camera` for threads; each method forwards to the async one."""

    _device: Camera

    def __init__(self, device: Camera) -> None:
        super().__init__(device)

    def take_picture(
        self,
        camera: CameraPosition = CameraPosition.PERSON,
        *,
        format: PictureFormat = PictureFormat.JPEG,
        timeout: float | None = None,
    ) -> Picture:
        """See `Camera.take_picture`."""
        return self._call(self._device.take_picture, camera, format=format, timeout=timeout)

    def reset(self, *, timeout: float | None = None) -> None:
        """See `Camera.reset`."""
        self._call(self._device.reset, timeout=timeout)
