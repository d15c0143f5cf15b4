"""The cameras of a simulated `simulator.world.World`: their setup and accessors.

`CameraSetup` says how a world's camera device is built; `CameraDevicesMixin` gives
`World` its camera accessors (the models by name, made on first use; their setups and
controls; the service over them). Both are re-exported by `simulator.world`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from hal.errors import ConfigurationError
from simulator.broken_camera import CAMERA_BROKEN_VARIANTS
from simulator.camera_control import SimCameraControl
from simulator.clock import SimClock
from simulator.models.camera import CAMERA_PROFILES, CameraModel, check_scene

if TYPE_CHECKING:
    from hal.devices.camera_service import CameraService

SetupT = TypeVar("SetupT")
ModelT = TypeVar("ModelT")

__all__ = ["CameraDevicesMixin", "CameraSetup"]


@dataclass(frozen=True)
class CameraSetup:
    """How a world's camera device is built.

    Attributes:
        profile: ``kiosk`` (a person and a document camera) or ``person``; see
            `simulator.models.camera.CAMERA_PROFILES`.
        scene: what the person camera sees at start (a scene name or ``file:PATH``).
        width, height: the frames' size.
        capture_time: simulated seconds a frame takes.
        variant: a name from `simulator.broken_camera.CAMERA_BROKEN_VARIANTS`, or ``""``
            for the faithful model.
    """

    profile: str = "kiosk"
    scene: str = "face"
    width: int = 640
    height: int = 480
    capture_time: float = 0.0
    variant: str = ""

    def __post_init__(self) -> None:
        if self.profile not in CAMERA_PROFILES:
            raise ConfigurationError(
                f"no camera profile named {self.profile!r}; known: "
                f"{', '.join(sorted(CAMERA_PROFILES))}"
            )
        try:
            check_scene(self.scene)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        for what, value, low in (("width", self.width, 320), ("height", self.height, 240)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 4096:
                raise ConfigurationError(f"{what} is an integer from {low} to 4096, got {value!r}")
        pace = self.capture_time
        if isinstance(pace, bool) or not isinstance(pace, int | float) or not 0 <= pace < 3600:
            raise ConfigurationError(f"capture_time is from 0 to 3600 seconds, got {pace!r}")
        if self.variant and self.variant not in CAMERA_BROKEN_VARIANTS:
            raise ConfigurationError(
                f"no broken camera named {self.variant!r}; known: "
                f"{', '.join(sorted(CAMERA_BROKEN_VARIANTS))}"
            )


class CameraDevicesMixin:
    """The camera accessors of `simulator.world.World` (which provides the table and the
    helpers declared here)."""

    name: str
    seed: int
    clock: SimClock
    _cameras: dict[str, tuple[CameraSetup, CameraModel]]

    if TYPE_CHECKING:

        def _made(
            self,
            table: dict[str, tuple[SetupT, ModelT]],
            name: str,
            kind: str,
            setup: SetupT | None,
            default: Callable[[], SetupT],
            build: Callable[[SetupT], ModelT],
        ) -> ModelT: ...

        @staticmethod
        def _setup_of(table: Mapping[str, tuple[SetupT, object]], name: str) -> SetupT | None: ...

    @property
    def cameras(self) -> Mapping[str, CameraModel]:
        """The camera models made so far, by device name."""
        return MappingProxyType({name: m for name, (_, m) in self._cameras.items()})

    def camera(self, name: str = "camera", setup: CameraSetup | None = None) -> CameraModel:
        """The camera device called ``name``, made on first use.

        Raises:
            ConfigurationError: it exists and was built with a different setup, or
                ``name`` is another kind of device.
        """

        def build(setup: CameraSetup) -> CameraModel:
            model_type = CAMERA_BROKEN_VARIANTS[setup.variant] if setup.variant else CameraModel
            model = model_type(
                name=name,
                profile=setup.profile,
                clock=self.clock,
                seed=self.seed,
                width=setup.width,
                height=setup.height,
            )
            model.set_scene(setup.scene)
            model.set_capture_delay(setup.capture_time)
            return model

        return self._made(self._cameras, name, "camera", setup, CameraSetup, build)

    def camera_setup(self, name: str = "camera") -> CameraSetup | None:
        """How the camera ``name`` was built, or ``None`` if it is not made yet."""
        return self._setup_of(self._cameras, name)

    def camera_control(self, name: str = "camera") -> SimCameraControl:
        """The scene, the cables and the faults of the camera ``name`` (made on first use)."""
        return SimCameraControl(self.camera(name))

    def open_camera(self, name: str = "camera") -> CameraService:
        """A new, unopened `CameraService` over the model (use ``async with``)."""
        from hal.devices.camera_service import CameraService

        return CameraService(self.camera(name), name=name)
