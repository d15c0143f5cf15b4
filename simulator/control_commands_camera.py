"""The control commands of a simulated camera and what they carry
(`simulator.camera_control`; re-exported by `simulator.control_commands`, whose
docstring describes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from simulator.control_commands_base import (
    CAMERA,
    ControlCommand,
    SlowRepliesPayload,
)

#: The camera positions a camera command names (`hal.devices.camera.CameraPosition`).
CAMERA_POSITIONS: Final = frozenset({"person", "document", "room"})

#: The longest scene name (an image file's path) ``Control.SetScene`` takes.
MAX_SCENE: Final = 1024


def _check_camera(camera: str) -> None:
    if camera not in CAMERA_POSITIONS:
        raise ValueError(f"camera is one of {sorted(CAMERA_POSITIONS)}, got {camera!r}")


@dataclass(frozen=True)
class SetScenePayload:
    """``Control.SetScene``: what ``camera`` sees from its next frame on: a generated
    scene's name (``face``, ``blurred``...) or an image file (``file:PATH``)."""

    scene: str
    camera: str = "person"

    def __post_init__(self) -> None:
        if not 1 <= len(self.scene) <= MAX_SCENE:
            raise ValueError(f"scene must be 1 to {MAX_SCENE} characters, got {len(self.scene)}")
        _check_camera(self.camera)


@dataclass(frozen=True)
class CameraPayload:
    """``Control.UnplugCamera``, ``Control.ReplugCamera``: the camera acted on."""

    camera: str = "person"

    def __post_init__(self) -> None:
        _check_camera(self.camera)


CAMERA_COMMANDS: Final[tuple[ControlCommand, ...]] = (
    ControlCommand("Control.SetScene", SetScenePayload, target=CAMERA),
    ControlCommand("Control.UnplugCamera", CameraPayload, target=CAMERA),
    ControlCommand("Control.ReplugCamera", CameraPayload, target=CAMERA),
    ControlCommand("Control.SlowCapture", SlowRepliesPayload, target=CAMERA),
)
"""The control commands of a camera (in `simulator.control_commands.COMMANDS`)."""
