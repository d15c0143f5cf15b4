"""`CameraService`: the one implementation of `Camera` over a backend.

The service validates the arguments against the capabilities (a camera position the
device does not have: `CameraNotSupported`; a format it does not deliver:
`UnsupportedOperation`), queues the commands (FIFO, one at a time, ``max_queue`` at
most), applies timeouts and cancellation, publishes `StatusChanged` and measures every
picture (`hal.devices.picture_quality`: faces, sharpness, brightness, contrast) and
encodes it, in a worker thread so the event loop never waits on OpenCV. Backends only
capture frames.

A cancelled or timed-out `take_picture` leaves nothing behind: the analysis under way
in the worker thread is awaited to its end (tens of milliseconds) before the
cancellation is raised, and its result dropped; a capture is the backend's to stop.
Pictures are personal data: logs say a picture's size and measures, never its bytes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TypeVar

from hal.device import DeviceService, finish
from hal.devices import picture_quality
from hal.devices.camera import (
    Camera,
    CameraBackend,
    CameraCapabilities,
    CameraPosition,
    CameraStatus,
    Frame,
    Picture,
    PictureFormat,
    QualityReport,
)
from hal.errors import CameraInoperable, CameraNotSupported, ProtocolError, UnsupportedOperation

__all__ = ["CameraService"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class CameraService(DeviceService[CameraStatus, CameraCapabilities], Camera):
    """`Camera` over any `CameraBackend`.

    Args:
        backend: the driver or simulator model.
        name: the device's name (``camera``).
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands to settle with the
            device before it closes the backend under them.
    """

    #: `_run` logs each command (its ``args`` hold no image data) here.
    _log = log

    def __init__(
        self,
        backend: CameraBackend,
        *,
        name: str = "camera",
        max_queue: int = 16,
        close_timeout: float = 30.0,
    ) -> None:
        super().__init__(name, max_queue=max_queue)
        self._backend = backend
        self._close_timeout = close_timeout
        self._caps: CameraCapabilities | None = None

    def __repr__(self) -> str:
        return f"CameraService(name={self.name!r}, backend={type(self._backend).__name__})"

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Check OpenCV is there (and load the face cascade), then open the backend.

        Raises:
            ConfigurationError: OpenCV or numpy is missing (the message names
                ``pip install 'tellerhal[camera]'``); the backend is not opened.
        """

        async def prepare() -> None:
            await asyncio.to_thread(picture_quality.prepare)

        async def opened() -> None:
            self._caps = self._backend.capabilities()
            self._last_status = await self._fetch_status()

        await self._open_backend(self._backend, opened, prepare=prepare)

    async def close(self) -> None:
        await self._close_backend(self._backend, timeout=self._close_timeout, what="camera")

    # --- queries (no queue) ------------------------------------------------------------

    async def capabilities(self) -> CameraCapabilities:
        self._require_open()
        return self._capabilities()

    def _capabilities(self) -> CameraCapabilities:
        assert self._caps is not None  # set by open(), checked by _require_open()
        return self._caps

    async def _fetch_status(self) -> CameraStatus:
        return await self._backend.get_status()

    # --- commands ----------------------------------------------------------------------

    async def take_picture(
        self,
        camera: CameraPosition = CameraPosition.PERSON,
        *,
        format: PictureFormat = PictureFormat.JPEG,
        timeout: float | None = None,
    ) -> Picture:
        self._require_open()
        caps = self._capabilities()
        position = _position(camera, caps, self.name)
        picture_format = _format(format, caps, self.name)

        async def op(command_id: int) -> Picture:
            try:
                frame = await self._backend.capture(position)
            except CameraInoperable:
                await self._refresh()
                raise
            if not isinstance(frame, Frame):
                raise ProtocolError(
                    f"{self.name}: the backend's capture gave a {type(frame).__name__}, not a Frame"
                )
            report, data = await _off_loop(
                lambda: _develop(frame, picture_format),
            )
            picture = Picture(
                data=data,
                format=picture_format,
                width=frame.width,
                height=frame.height,
                timestamp=_utc(frame.timestamp),
                camera=position,
                quality=report,
            )
            log.debug(
                "%s: TakePicture #%d: %s %dx%d, %d bytes, faces=%d, sharpness=%.1f, "
                "brightness=%.1f, contrast=%.1f",
                self.name,
                command_id,
                position.value,
                picture.width,
                picture.height,
                len(data),
                len(report.faces),
                report.sharpness,
                report.brightness,
                report.contrast,
            )
            return picture

        return await self._run(
            "TakePicture", f"{position.value}, {picture_format.value}", op, timeout
        )

    async def reset(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            try:
                await self._backend.reset()
            finally:
                await self._refresh()

        await self._run("Reset", "", op, timeout)


def _position(camera: str, caps: CameraCapabilities, name: str) -> CameraPosition:
    """The position asked for, if the device has it."""
    have = ", ".join(sorted(p.value for p in caps.cameras)) or "none"
    try:
        position = CameraPosition(camera)
    except ValueError:
        raise CameraNotSupported(
            f"{name}: {camera!r} is not a camera position; this device has {have}"
        ) from None
    if position not in caps.cameras:
        raise CameraNotSupported(f"{name} has no {position.value} camera; it has {have}")
    return position


def _format(format: str, caps: CameraCapabilities, name: str) -> PictureFormat:
    """The picture format asked for, if the device delivers it."""
    have = ", ".join(sorted(f.value for f in caps.formats)) or "none"
    try:
        picture_format = PictureFormat(format)
    except ValueError:
        raise UnsupportedOperation(
            f"{name}: {format!r} is not a picture format; this device delivers {have}"
        ) from None
    if picture_format not in caps.formats:
        raise UnsupportedOperation(
            f"{name} does not deliver {picture_format.value} pictures; it delivers {have}"
        )
    return picture_format


def _develop(frame: Frame, picture_format: PictureFormat) -> tuple[QualityReport, bytes]:
    """Measure and encode a frame (in a worker thread)."""
    report, image = picture_quality.analyse(frame)
    return report, picture_quality.encode(image, picture_format)


async def _off_loop(work: Callable[[], T]) -> T:
    """Run ``work`` in a worker thread; a cancellation meanwhile waits for it to end
    (so nothing is left running) and is then raised."""
    result, cancelled = await finish(asyncio.to_thread(work))
    if cancelled:
        raise asyncio.CancelledError()
    return result


def _utc(timestamp: dt.datetime) -> dt.datetime:
    """A capture time as UTC (a naive one is taken to be UTC already)."""
    if timestamp.tzinfo is None:
        return timestamp.replace(tzinfo=dt.UTC)
    return timestamp.astimezone(dt.UTC)
