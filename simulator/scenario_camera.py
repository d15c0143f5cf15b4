"""A scenario's camera: its ``[devices.camera]`` table and its customer's steps.

`simulator.scenario` parses the file and runs the customer; what is particular to a
camera is here::

    [devices.camera]                 # all optional
    profile = "kiosk"                # kiosk (person + document cameras) or person
    scene = "blurred"                # what the person camera sees at start
    width = 640
    height = 480
    capture_time = 0.0               # simulated seconds a frame takes

    [[customer]]
    device = "camera"
    wait_for = "picture_taken"       # the camera has taken a picture
    after = 1.0
    action = "set_scene"             # the customer holds still
    scene = "face"

Actions: ``set_scene`` (needs ``scene``: a scene of `simulator.scenes` or
``file:PATH``), ``unplug``, ``replug``, ``power_off``, ``power_on``, ``slow_replies``.
Conditions (`CAMERA_CONDITIONS`): ``picture_taken`` (the device has captured a frame,
whenever since it was made), ``camera_open`` (a service has the device open).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hal.errors import ConfigurationError, HalTimeout
from simulator.models.camera import check_scene
from simulator.tomlcheck import check_keys, typed
from simulator.world import CameraSetup, World

if TYPE_CHECKING:
    from simulator.scenario import Scenario, Step

__all__ = [
    "CAMERA_CONDITIONS",
    "CAMERA_ONLY_ACTIONS",
    "CAMERA_STEP_ACTIONS",
    "camera_setup",
    "camera_step",
    "check_step_scene",
]

log = logging.getLogger("simulator.scenario")

#: The actions only a camera has.
CAMERA_ONLY_ACTIONS = frozenset({"set_scene", "unplug", "replug"})
#: Everything a camera step may do.
CAMERA_STEP_ACTIONS = CAMERA_ONLY_ACTIONS | frozenset({"power_off", "power_on", "slow_replies"})
#: What a camera step may wait for.
CAMERA_CONDITIONS = frozenset({"picture_taken", "camera_open"})

_SETUP_KEYS = frozenset({"profile", "scene", "width", "height", "capture_time"})


def camera_setup(table: Mapping[str, Any], at: str) -> CameraSetup:
    """The setup a ``[devices.camera]`` table describes.

    Raises:
        ConfigurationError: an unknown key or a bad value (named with ``at``).
    """
    check_keys(table, _SETUP_KEYS, at)
    capture_time = table.get("capture_time", 0.0)
    if (
        isinstance(capture_time, bool)
        or not isinstance(capture_time, int | float)
        or not math.isfinite(capture_time)
    ):
        raise ConfigurationError(f"{at}: 'capture_time' must be a finite number")
    try:
        return CameraSetup(
            profile=typed(table, "profile", str, at, "kiosk"),
            scene=typed(table, "scene", str, at, "face"),
            width=typed(table, "width", int, at, 640),
            height=typed(table, "height", int, at, 480),
            capture_time=float(capture_time),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{at}: {exc}") from None


def check_step_scene(scene: str, where: str) -> None:
    """Refuse a step's scene nobody renders.

    Raises:
        ConfigurationError: no such scene, or a missing image file.
    """
    try:
        check_scene(scene)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


async def camera_step(
    world: World, scenario: Scenario, number: int, step: Step, start: float
) -> None:
    """One customer (or fate) step at a camera."""
    clock = world.clock
    control = world.camera_control(step.device)
    model = control.model
    if step.at is not None:
        await clock.sleep(max(0.0, start + step.at - clock.now()))
    if step.wait_for == "camera_open":
        await control.wait_for_open(timeout=clock.to_real(step.timeout))
    elif step.wait_for == "picture_taken":
        try:
            async with asyncio.timeout(clock.to_real(step.timeout)):
                await model.wait_until(lambda: model.captures > 0)
        except TimeoutError:
            raise HalTimeout(
                f"{scenario.name}: step {number}: no picture within {step.timeout} s"
            ) from None
    if step.after:
        await clock.sleep(step.after)
    log.debug("%s: customer step %d: %s", scenario.name, number, step.action or "wait")
    if step.action == "set_scene":
        assert step.scene is not None  # checked when parsed
        await control.set_scene(step.scene)
    elif step.action == "unplug":
        await control.unplug()
    elif step.action == "replug":
        await control.replug()
    elif step.action in ("power_off", "power_on"):
        await control.power_loss(step.action == "power_off")
    elif step.action == "slow_replies":
        await control.slow_replies(step.seconds or 0.0)
