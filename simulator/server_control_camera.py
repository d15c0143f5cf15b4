"""What the control socket (`simulator.server_control.ControlServer`) does to a simulated
camera for each of its control commands (`simulator.control_commands_camera`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from simulator.camera_control import SimCameraControl

__all__ = ["CAMERA_ACTIONS"]


CAMERA_ACTIONS: Final[dict[str, Callable[[SimCameraControl, Any], Awaitable[Any]]]] = {
    "Control.SetScene": lambda c, p: c.set_scene(p.scene, camera=p.camera),
    "Control.UnplugCamera": lambda c, p: c.unplug(camera=p.camera),
    "Control.ReplugCamera": lambda c, p: c.replug(camera=p.camera),
    "Control.SlowCapture": lambda c, p: c.slow_capture(p.seconds),
    "Control.PowerLoss": lambda c, p: c.power_loss(p.on),
    "Control.SlowReplies": lambda c, p: c.slow_replies(p.seconds),
}
