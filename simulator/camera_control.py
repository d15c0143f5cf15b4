"""What the customer in front of a camera, the light and fate do: two `CameraStimulus`.

- `SimCameraControl` acts on a simulated `simulator.models.camera.CameraModel`: the scene
  each camera sees, a camera unplugged and plugged in again, slow frames, slow replies,
  power loss. It never goes through the hal service.
- `FileCameraStimulus` drives the real ``opencv`` driver in still-file mode
  (``opencv://?file=PATH&mode=still``, which re-reads one image on every capture): a
  scene is rendered (`simulator.scenes`) and written to ``PATH`` as PNG atomically (a
  temporary file in the same directory, then ``os.replace``, so the driver never reads
  half a file); unplugging removes the file, replugging writes it back.

Scenes: the generated ones (``face``, ``blurred``, ``dark``, ``bright``, ``no_face``,
``two_faces``, ``document``) or an image file (``file:PATH``). A picture of a person is
personal data: nothing here logs pixels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from pathlib import Path

from hal.devices.camera import CameraPosition
from hal.errors import HalTimeout, UnsupportedOperation
from hal.stimulus import CameraStimulus
from simulator.models.camera import CameraModel, check_scene

__all__ = ["FileCameraStimulus", "SimCameraControl", "write_png"]

log = logging.getLogger(__name__)


class SimCameraControl(CameraStimulus):
    """The world in front of one simulated camera device.

    Args:
        model: the camera device acted on.
    """

    def __init__(self, model: CameraModel) -> None:
        self._model = model

    @property
    def model(self) -> CameraModel:
        """The camera device acted on."""
        return self._model

    # --- CameraStimulus ------------------------------------------------------------------

    async def set_scene(self, scene: str, *, camera: str = "person") -> None:
        """What ``camera`` sees from its next frame on.

        Raises:
            UnsupportedOperation: an unknown scene, a missing image file, or a camera
                the device does not have.
        """
        try:
            self._model.set_scene(scene, camera)
        except ValueError as exc:
            raise UnsupportedOperation(str(exc)) from None

    async def unplug(self, *, camera: str = "person") -> None:
        """``camera`` leaves the bus (inoperative until replugged and reset).

        Raises:
            UnsupportedOperation: a camera the device does not have.
        """
        try:
            self._model.unplug(camera)
        except ValueError as exc:
            raise UnsupportedOperation(str(exc)) from None

    async def replug(self, *, camera: str = "person") -> None:
        """``camera`` is back on the bus (a reset makes it work).

        Raises:
            UnsupportedOperation: a camera the device does not have.
        """
        try:
            self._model.replug(camera)
        except ValueError as exc:
            raise UnsupportedOperation(str(exc)) from None

    # --- ground truth and fate -----------------------------------------------------------

    async def scene(self, *, camera: str = "person") -> str:
        """What ``camera`` sees now."""
        try:
            return self._model.scene(camera)
        except ValueError as exc:
            raise UnsupportedOperation(str(exc)) from None

    async def captures(self) -> int:
        """Frames the device has captured so far."""
        return self._model.captures

    async def slow_capture(self, seconds: float) -> None:
        """Every frame takes ``seconds`` simulated seconds (0: at once)."""
        self._model.set_capture_delay(seconds)

    async def slow_replies(self, seconds: float) -> None:
        """Every backend call waits ``seconds`` simulated seconds first (0: none)."""
        self._model.set_reply_delay(seconds)

    async def power_loss(self, on: bool = True) -> None:
        """Cut the power (``on=False`` restores it)."""
        self._model.set_power(not on)

    async def wait_for_open(self, timeout: float | None = 10.0) -> None:
        """Wait (real seconds) until a service has the device open.

        Raises:
            HalTimeout: none opened it in time.
        """
        model = self._model
        try:
            async with asyncio.timeout(timeout):
                await model.wait_until(lambda: model.is_open)
        except TimeoutError:
            raise HalTimeout(f"{model.name} was not opened within {timeout} s") from None


class FileCameraStimulus(CameraStimulus):
    """The scene in front of the ``opencv`` driver in still-file mode: the image file it
    re-reads on every capture.

    Args:
        path: the file the driver reads (``opencv://?file=PATH&mode=still``).
        camera: the position the driver serves (its ``camera`` option).
        width, height: the size scenes are rendered at.
        seed: what the generated rooms and noise are drawn from.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        camera: str = "person",
        width: int = 640,
        height: int = 480,
        seed: int = 0,
    ) -> None:
        self.path = Path(path)
        self.position = CameraPosition(camera)
        self.width = width
        self.height = height
        self.seed = seed
        self._scene: str | None = None
        self._plugged = True

    @property
    def current(self) -> str | None:
        """The scene last set (``None`` before the first)."""
        return self._scene

    async def set_scene(self, scene: str, *, camera: str = "person") -> None:
        """Render ``scene`` and write it to the file (unless the camera is unplugged:
        then it is written on `replug`).

        Raises:
            UnsupportedOperation: an unknown scene, a missing image file, or a camera
                other than the one the driver serves.
        """
        self._check_camera(camera)
        try:
            check_scene(scene)
        except ValueError as exc:
            raise UnsupportedOperation(str(exc)) from None
        self._scene = scene
        if self._plugged:
            await asyncio.to_thread(self._write, scene)

    async def unplug(self, *, camera: str = "person") -> None:
        """The file is gone: the driver's next capture finds no frame."""
        self._check_camera(camera)
        self._plugged = False
        self.path.unlink(missing_ok=True)
        log.debug("%s: removed (the camera is unplugged)", self.path)

    async def replug(self, *, camera: str = "person") -> None:
        """The file is back with the last scene set (``no_face`` if none was)."""
        self._check_camera(camera)
        self._plugged = True
        await asyncio.to_thread(self._write, self._scene or "no_face")

    def _check_camera(self, camera: str) -> None:
        if camera != self.position.value:
            raise UnsupportedOperation(
                f"the file camera {self.path} serves the {self.position.value} camera, "
                f"not {camera!r}"
            )

    def _write(self, scene: str) -> None:
        from simulator import scenes

        image = scenes.render(scene, width=self.width, height=self.height, seed=self.seed)
        write_png(self.path, image)


def write_png(path: Path, image: object) -> None:
    """Write ``image`` (a BGR ``numpy`` array) to ``path`` as PNG, atomically: a reader
    sees the old file or the new one, never part of one.

    Raises:
        OSError: the file cannot be written.
        ValueError: OpenCV cannot encode the image.
    """
    import cv2

    ok, encoded = cv2.imencode(".png", image)  # type: ignore[call-overload]
    if not ok:
        raise ValueError(f"OpenCV could not encode the scene for {path} as PNG")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=".png.tmp", dir=path.parent or "."
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(encoded.tobytes())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
