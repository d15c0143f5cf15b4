"""Deliberately broken cameras, for proving that the Camera contract suite bites.

Each class is the simulator's `CameraModel` with exactly one defect, of a kind a real
driver could have. Run the contract suite against each (``sim://camera?variant=
stale_frame``, or `simulator.world_camera.CameraSetup` with ``variant``): the case named
beside it must fail (``tests/conformance/test_camera_contract.py`` checks that it does).
"""

from __future__ import annotations

from typing import Any

from hal.devices.camera import CameraPosition, CameraState, Frame
from simulator.models.camera import CameraModel

__all__ = ["CAMERA_BROKEN_VARIANTS", "OkWhileUnplugged", "StaleFrame"]


class StaleFrame(CameraModel):
    """Hands out the first frame it captured from a camera for ever after, whatever the
    camera sees now (a driver reading an old buffer). Caught by ``camera.retake``: the
    sharp retake still shows the blurred customer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._first: dict[CameraPosition, Frame] = {}

    async def capture(self, camera: CameraPosition) -> Frame:
        frame = await super().capture(camera)
        return self._first.setdefault(CameraPosition(camera), frame)


class OkWhileUnplugged(CameraModel):
    """Never notices a camera unplugged: the status still says ``ok`` and a capture
    hands out the last frame it had (a driver that never checks its source). Caught by
    ``camera.unplug``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._last: dict[CameraPosition, Frame] = {}

    def unplug(self, camera: CameraPosition | str = CameraPosition.PERSON) -> None:
        position = self._position(camera)
        self._plugged[position] = False  # gone from the bus; the driver does not see it

    async def capture(self, camera: CameraPosition) -> Frame:
        position = CameraPosition(camera)
        if position in self._plugged and not self._plugged[position]:
            last = self._last.get(position)
            if last is not None:
                return last
        frame = await super().capture(camera)
        self._last[position] = frame
        return frame

    async def reset(self) -> None:
        for position in self._state:
            self._state[position] = CameraState.OK
        self._update_status()


CAMERA_BROKEN_VARIANTS: dict[str, type[CameraModel]] = {
    "stale_frame": StaleFrame,
    "ok_while_unplugged": OkWhileUnplugged,
}
"""Each broken camera by the name a ``variant`` option gives it."""
