"""A person at the bench as the Camera suite's `CameraStimulus`.

`BenchCameraStimulus` asks the person in front of the camera under test to make each
scene the suite needs (a sharp face, a moving one, the light off, nobody there, two
people) and to pull the camera's cable and plug it back, then waits for Enter. An
image-file scene is a simulator's: refused (`UnsupportedOperation`).
"""

from __future__ import annotations

from hal.errors import UnsupportedOperation
from hal.stimulus import CameraStimulus
from tellerhal.conformance.bench import _Person

__all__ = ["SCENE_INSTRUCTIONS", "BenchCameraStimulus"]

#: What the person is asked to do for each scene (``{camera}`` is the camera's name).
SCENE_INSTRUCTIONS: dict[str, str] = {
    "face": "Face the {camera} camera from about 60 cm, in good even light, and hold still.",
    "blurred": (
        "Face the {camera} camera and keep moving your head from side to side (or hold a "
        "sheet of frosted plastic in front of the lens)."
    ),
    "dark": "Face the {camera} camera with the room lights off (or the lens shaded).",
    "bright": "Face the {camera} camera with a strong lamp shining into the lens.",
    "no_face": "Step out of the {camera} camera's view; nobody may be in the picture.",
    "two_faces": "Stand in front of the {camera} camera with a second person beside you.",
    "document": "Lay a test identity document flat under the {camera} camera.",
}


class BenchCameraStimulus(_Person, CameraStimulus):
    """Asks a person at the bench to change what the camera under test sees."""

    async def set_scene(self, scene: str, *, camera: str = "person") -> None:
        instruction = SCENE_INSTRUCTIONS.get(scene)
        if instruction is None:
            raise UnsupportedOperation(
                f"a person at the bench cannot show {scene!r}; they can show "
                f"{', '.join(SCENE_INSTRUCTIONS)}"
            )
        await self._prompt(
            instruction.format(camera=camera) + " Press Enter here when ready and stay so "
            "until the next instruction."
        )

    async def unplug(self, *, camera: str = "person") -> None:
        await self._prompt(f"Pull the {camera} camera's USB cable out, then press Enter.")

    async def replug(self, *, camera: str = "person") -> None:
        await self._prompt(
            f"Plug the {camera} camera's USB cable back in, wait until the system sees it "
            "(a few seconds), then press Enter."
        )
