"""A simulated kiosk camera device: one or more cameras looking at generated scenes.

`CameraModel` implements `hal.devices.camera.CameraBackend`. What each camera sees is a
scene of `simulator.scenes` (``face``, ``blurred``, ``dark``, ``bright``, ``no_face``,
``two_faces``, ``document``, or an image file), chosen by the world
(`simulator.camera_control.SimCameraControl`); a capture renders the scene the camera
sees at that moment (deterministic per the world's seed, so a scene looks the same
every time) and hands it over as a `FrameEncoding.BGR24` frame stamped with the UTC time
of the capture. The service (`hal.devices.camera_service.CameraService`) measures and
encodes it.

Builds (`CAMERA_PROFILES`): ``kiosk`` has a ``person`` camera facing the customer and a
``document`` camera over the document tray; ``person`` has the person camera only.
At start the person camera sees ``face``, the document camera ``document``.

Faults, as a USB (UVC) camera has them:

- **unplugged** (`CameraModel.unplug`): the camera is gone from the bus at once: its
  state becomes ``inoperative`` (a `StatusChanged`; the device ``noDevice`` when no
  camera is left) and a capture raises `CameraInoperable`, also one that was waiting
  for its frame. **Replugged** (`CameraModel.replug`), it is back on the bus, but the
  handle the driver held is dead: it stays inoperative until a `reset` reopens it. A
  reset while a camera is still unplugged raises `CameraInoperable` (the others are
  reopened).
- **slow capture** (`CameraModel.set_capture_delay`): every frame takes that many
  simulated seconds (a camera adjusting its exposure).
- **slow replies** and **power loss**, as on the other models: every backend call waits
  first; without power every call raises `DeviceNotReady` and the status says
  ``powerOff``.

Rendering needs the ``camera`` extra (OpenCV and NumPy): `simulator.scenes` is imported
on the first capture, in a worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

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
from hal.errors import CameraInoperable, CameraNotSupported, DeviceNotReady
from hal.events import Notifier
from simulator.clock import SimClock, reply_delay

__all__ = ["CAMERA_PROFILES", "DEFAULT_SCENES", "GENERATED_SCENES", "CameraModel", "CameraProfile"]

log = logging.getLogger(__name__)

#: The generated scenes (`simulator.scenes.SCENES`, named here so that checking a name
#: does not import OpenCV).
GENERATED_SCENES: tuple[str, ...] = (
    "face",
    "blurred",
    "dark",
    "bright",
    "no_face",
    "two_faces",
    "document",
)

#: What each camera sees until the world says otherwise.
DEFAULT_SCENES: Mapping[CameraPosition, str] = {
    CameraPosition.PERSON: "face",
    CameraPosition.DOCUMENT: "document",
    CameraPosition.ROOM: "no_face",
}

_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp"})
_FILE_PREFIX = "file:"
#: Rendered frames kept (a scene renders in tens of milliseconds; a frame is 900 kB).
_CACHE = 8


@dataclass(frozen=True)
class CameraProfile:
    """A camera device's build.

    Attributes:
        name: the profile's name.
        cameras: its camera positions.
        formats: the picture formats it delivers.
        description: one line for the docs.
    """

    name: str
    cameras: tuple[CameraPosition, ...]
    formats: frozenset[PictureFormat]
    description: str


#: The builds by name.
CAMERA_PROFILES: Mapping[str, CameraProfile] = {
    profile.name: profile
    for profile in (
        CameraProfile(
            "kiosk",
            (CameraPosition.PERSON, CameraPosition.DOCUMENT),
            frozenset(PictureFormat),
            "a camera facing the customer and one over the document tray",
        ),
        CameraProfile(
            "person",
            (CameraPosition.PERSON,),
            frozenset(PictureFormat),
            "a camera facing the customer",
        ),
    )
}


def check_scene(scene: str) -> str:
    """``scene`` if it names a generated scene or an existing image file.

    Raises:
        ValueError: neither (the message lists the scenes).
    """
    if not isinstance(scene, str):
        raise ValueError(f"a scene is a name or an image file, got {scene!r}")
    if scene in GENERATED_SCENES:
        return scene
    path = scene.removeprefix(_FILE_PREFIX)
    if scene.startswith(_FILE_PREFIX) or Path(path).suffix.lower() in _IMAGE_SUFFIXES:
        if not Path(path).is_file():
            raise ValueError(f"the scene's image file {path} does not exist")
        return scene
    raise ValueError(
        f"no scene {scene!r}; the scenes are {', '.join(GENERATED_SCENES)}, or an image "
        f"file ({_FILE_PREFIX}PATH)"
    )


class CameraModel:
    """A simulated camera device (see the module docstring).

    Args:
        name: the device name used in messages.
        profile: a build of `CAMERA_PROFILES`.
        clock: the world's clock (delays are simulated seconds); real time if ``None``.
        seed: what the scenes' rooms and noise are drawn from.
        width, height: the frames' size.

    Raises:
        ValueError: an unknown profile or a bad size.
    """

    def __init__(
        self,
        *,
        name: str = "camera",
        profile: str = "kiosk",
        clock: SimClock | None = None,
        seed: int = 0,
        width: int = 640,
        height: int = 480,
    ) -> None:
        if profile not in CAMERA_PROFILES:
            raise ValueError(
                f"no camera profile {profile!r}; known: {', '.join(sorted(CAMERA_PROFILES))}"
            )
        for what, value, low in (("width", width, 320), ("height", height, 240)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 4096:
                raise ValueError(f"{what} is an integer from {low} to 4096, got {value!r}")
        self.name = name
        self.profile = CAMERA_PROFILES[profile]
        self.clock = clock if clock is not None else SimClock()
        self.seed = seed
        self.width = width
        self.height = height
        self._scenes = {p: DEFAULT_SCENES[p] for p in self.profile.cameras}
        self._plugged = dict.fromkeys(self.profile.cameras, True)
        self._state = dict.fromkeys(self.profile.cameras, CameraState.OK)
        self._powered = True
        self._reply_delay_s = 0.0
        self._capture_delay_s = 0.0
        self._listener: BackendListener[CameraStatus] | None = None
        self._last_status: CameraStatus | None = None
        self._signal = Notifier()
        self._frames: dict[str, bytes] = {}
        #: Frames captured so far (ground truth for tests).
        self.captures = 0

    # --- ground truth (read by the control and tests) ------------------------------------

    @property
    def cameras(self) -> tuple[CameraPosition, ...]:
        """The camera positions the device has."""
        return self.profile.cameras

    @property
    def powered(self) -> bool:
        """Whether the device has power."""
        return self._powered

    @property
    def is_open(self) -> bool:
        """Whether a service has the device open."""
        return self._listener is not None

    def scene(self, camera: CameraPosition | str = CameraPosition.PERSON) -> str:
        """What ``camera`` sees now."""
        return self._scenes[self._position(camera)]

    def plugged(self, camera: CameraPosition | str = CameraPosition.PERSON) -> bool:
        """Whether ``camera`` is on the bus."""
        return self._plugged[self._position(camera)]

    def state(self, camera: CameraPosition | str = CameraPosition.PERSON) -> CameraState:
        """The state the device reports for ``camera``."""
        return self._state[self._position(camera)]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (re-checked at every change)."""
        await self._signal.wait_until(predicate)

    # --- what the world does -------------------------------------------------------------

    def set_scene(self, scene: str, camera: CameraPosition | str = CameraPosition.PERSON) -> None:
        """``camera`` sees ``scene`` from its next frame on.

        Raises:
            ValueError: an unknown scene, a missing image file, or a camera the device
                does not have.
        """
        position = self._position(camera)
        self._scenes[position] = check_scene(scene)
        log.debug("%s: the %s camera sees %s", self.name, position.value, scene)
        self._signal.notify()

    def unplug(self, camera: CameraPosition | str = CameraPosition.PERSON) -> None:
        """``camera`` leaves the bus: inoperative at once.

        Raises:
            ValueError: a camera the device does not have.
        """
        position = self._position(camera)
        self._plugged[position] = False
        self._state[position] = CameraState.INOPERATIVE
        log.info("%s: the %s camera is unplugged", self.name, position.value)
        self._update_status()
        self._signal.notify()

    def replug(self, camera: CameraPosition | str = CameraPosition.PERSON) -> None:
        """``camera`` is back on the bus (it works again after a `reset`).

        Raises:
            ValueError: a camera the device does not have.
        """
        position = self._position(camera)
        self._plugged[position] = True
        log.info("%s: the %s camera is plugged in again", self.name, position.value)
        self._signal.notify()

    def set_capture_delay(self, seconds: float) -> None:
        """Every frame takes ``seconds`` simulated seconds (0: at once)."""
        if not seconds >= 0:
            raise ValueError(f"a capture delay is >= 0 seconds, got {seconds!r}")
        self._capture_delay_s = float(seconds)

    def set_reply_delay(self, seconds: float) -> None:
        """Delay every backend call by ``seconds`` simulated seconds (0: no delay)."""
        if not seconds >= 0:
            raise ValueError(f"a reply delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay_s = float(seconds)

    def set_power(self, on: bool) -> None:
        """Cut or restore the power."""
        if on == self._powered:
            return
        self._powered = on
        self._update_status()
        self._signal.notify()

    # --- CameraBackend -------------------------------------------------------------------

    async def open(self, listener: BackendListener[CameraStatus]) -> None:
        """Start reporting to ``listener``.

        Raises:
            DeviceNotReady: another service has the device open.
        """
        if self._listener is not None and self._listener is not listener:
            raise DeviceNotReady(f"{self.name} is already open by another service; close it first")
        await self._reply_delay(opening=True)
        self._listener = listener
        self._last_status = None
        self._update_status()

    async def close(self) -> None:
        """Stop reporting."""
        self._listener = None
        self._signal.notify()

    def capabilities(self) -> CameraCapabilities:
        """The profile's cameras and formats, the model's frame size."""
        return CameraCapabilities(
            cameras=frozenset(self.profile.cameras),
            formats=self.profile.formats,
            width=self.width,
            height=self.height,
            firmware="tellerhal-sim",
        )

    async def get_status(self) -> CameraStatus:
        """Where things stand now."""
        await self._reply_delay()
        return self._status()

    async def capture(self, camera: CameraPosition) -> Frame:
        """The frame ``camera`` sees now.

        Raises:
            CameraNotSupported: a camera the device does not have.
            CameraInoperable: the camera is unplugged (or was, and is not reset yet),
                also when it goes while the frame is coming.
            DeviceNotReady: no power.
        """
        await self._reply_delay()
        self._require_power()
        position = CameraPosition(camera)
        if position not in self._state:
            raise CameraNotSupported(f"{self.name} has no {position.value} camera")
        self._require_working(position)
        if self._capture_delay_s:
            await self._wait_for_frame(position)
        scene = self._scenes[position]
        data = await asyncio.to_thread(self._render, scene)
        self._require_power()
        self._require_working(position)
        self.captures += 1
        self._signal.notify()  # `wait_until` callers may wait for a picture
        return Frame(
            data=data,
            encoding=FrameEncoding.BGR24,
            width=self.width,
            height=self.height,
            timestamp=dt.datetime.now(dt.UTC),
        )

    async def reset(self) -> None:
        """Reopen every camera on the bus.

        Raises:
            CameraInoperable: a camera is still unplugged (the others are reopened).
            DeviceNotReady: no power.
        """
        await self._reply_delay()
        self._require_power()
        for position, plugged in self._plugged.items():
            self._state[position] = CameraState.OK if plugged else CameraState.INOPERATIVE
        self._update_status()
        self._signal.notify()
        gone = [p.value for p, plugged in self._plugged.items() if not plugged]
        if gone:
            raise CameraInoperable(f"{self.name}: the {', '.join(gone)} camera is not connected")

    def __repr__(self) -> str:
        states = ", ".join(f"{p.value}={s.value}" for p, s in self._state.items())
        return f"CameraModel({self.name!r}, {self.profile.name}, {states})"

    # --- plumbing --------------------------------------------------------------------------

    def _position(self, camera: CameraPosition | str) -> CameraPosition:
        try:
            position = CameraPosition(camera)
        except ValueError:
            position = None
        if position is None or position not in self._state:
            have = ", ".join(p.value for p in self.profile.cameras)
            raise ValueError(f"{self.name} has no {camera!s} camera; it has {have}")
        return position

    def _require_power(self) -> None:
        if not self._powered:
            raise DeviceNotReady(f"{self.name} is powered off")

    def _require_working(self, position: CameraPosition) -> None:
        if self._state[position] is not CameraState.OK:
            why = "is unplugged" if not self._plugged[position] else "was lost; reset it"
            raise CameraInoperable(f"{self.name}: the {position.value} camera {why}")

    async def _wait_for_frame(self, position: CameraPosition) -> None:
        """Wait out the capture delay; a camera unplugged (or the power cut) meanwhile
        ends the wait at once."""
        delay = asyncio.ensure_future(self.clock.sleep(self._capture_delay_s))
        gone = asyncio.ensure_future(
            self._signal.wait_until(
                lambda: self._state[position] is not CameraState.OK or not self._powered
            )
        )
        try:
            await asyncio.wait({delay, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (delay, gone):
                waiter.cancel()
            await asyncio.gather(delay, gone, return_exceptions=True)

    def _render(self, scene: str) -> bytes:
        """The scene's frame as BGR24 bytes (in a worker thread; cached)."""
        cached = self._frames.get(scene)
        if cached is not None:
            return cached
        from simulator import scenes

        image = scenes.render(scene, width=self.width, height=self.height, seed=self.seed)
        data = image.tobytes()
        if not scene.startswith(_FILE_PREFIX) and scene in GENERATED_SCENES:
            # A file may change on disk; a generated scene never does.
            if len(self._frames) >= _CACHE:
                self._frames.pop(next(iter(self._frames)))
            self._frames[scene] = data
        return data

    def _status(self) -> CameraStatus:
        if not self._powered:
            device = DeviceState.POWER_OFF
        elif all(state is CameraState.INOPERATIVE for state in self._state.values()):
            device = DeviceState.NO_DEVICE
        else:
            device = DeviceState.ONLINE
        return CameraStatus(device=device, cameras=dict(self._state))

    def _update_status(self) -> None:
        listener = self._listener
        if listener is None:
            return
        status = self._status()
        if status != self._last_status:
            self._last_status = status
            listener.status_changed(status)

    async def _reply_delay(self, *, opening: bool = False) -> None:
        """Wait out the reply delay (`simulator.clock.reply_delay`)."""
        await reply_delay(
            self.clock,
            self._reply_delay_s,
            name=self.name,
            listener=lambda: self._listener,
            signal=self._signal,
            opening=opening,
        )
