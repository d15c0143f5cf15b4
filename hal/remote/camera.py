"""`RemoteCamera`: a `Camera` served by another process, over ZeroMQ.

Every method is one command on the server's `CameraService` (the queue, timeouts, the
quality measurement and the encoding happen there); the picture comes back with its
bytes as a blob and its quality report, the errors as the same `HalError` classes.
"""

from __future__ import annotations

from typing import ClassVar

from hal.devices.camera import (
    Camera,
    CameraCapabilities,
    CameraPosition,
    CameraStatus,
    Picture,
    PictureFormat,
)
from hal.errors import CameraNotSupported, UnsupportedOperation
from hal.remote.interfaces import Empty, InterfaceSpec
from hal.remote.interfaces_camera import CAMERA, TakePicturePayload
from hal.remote.proxy import RemoteDevice
from hal.remote.security import CurveClientKeys

__all__ = ["RemoteCamera"]


class RemoteCamera(RemoteDevice[CameraStatus, CameraCapabilities], Camera):
    """A camera on a `hal.remote.server.RemoteServer`.

    Usually made by ``hal.open("zmq://HOST:PORT/camera")``. Opening it joins (or starts)
    this event loop's session to the endpoint and opens the device there.

    Args:
        endpoint: the server's ZeroMQ endpoint (``tcp://127.0.0.1:5740``).
        device: the device's name on the server.
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats (``None``: the server's interval).
        curve: CURVE keys if the server requires them.

    Raises:
        ConfigurationError: a bad endpoint or device name.
    """

    spec: ClassVar[InterfaceSpec] = CAMERA

    def __init__(
        self,
        endpoint: str,
        device: str = "camera",
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout, heartbeat=heartbeat, curve=curve)

    async def take_picture(
        self,
        camera: CameraPosition = CameraPosition.PERSON,
        *,
        format: PictureFormat = PictureFormat.JPEG,
        timeout: float | None = None,
    ) -> Picture:
        try:
            position = CameraPosition(camera)
        except ValueError:
            raise CameraNotSupported(f"{self.name}: {camera!r} is not a camera position") from None
        try:
            picture_format = PictureFormat(format)
        except ValueError:
            raise UnsupportedOperation(f"{self.name}: {format!r} is not a picture format") from None
        payload = TakePicturePayload(position, picture_format)
        picture: Picture = await self._call("Camera.TakePicture", payload, timeout)
        return picture

    async def reset(self, *, timeout: float | None = None) -> None:
        await self._call("Camera.Reset", Empty(), timeout)
