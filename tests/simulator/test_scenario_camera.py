"""A scenario's camera (`simulator.scenario_camera`): ``[devices.camera]``, the
``set_scene`` step and the ``picture_taken`` condition, parsed and run."""

from __future__ import annotations

import asyncio

import pytest

from hal.devices.camera import CameraPosition
from hal.errors import ConfigurationError, HalTimeout
from simulator.scenario import build_world, parse_scenario, run_customer
from simulator.world import CameraSetup

HEAD = 'version = 1\ndescription = "camera"\n'

RETAKE = (
    HEAD
    + """
[devices.camera]
scene = "blurred"
capture_time = 0.0

[[customer]]
device = "camera"
wait_for = "picture_taken"
after = 0.5
action = "set_scene"
scene = "face"
"""
)


def test_the_camera_table_and_the_set_scene_step_parse() -> None:
    scenario = parse_scenario(RETAKE, name="retake")
    assert scenario.cameras == {"camera": CameraSetup(scene="blurred")}
    (step,) = scenario.customer
    assert step.device == "camera"
    assert step.wait_for == "picture_taken"
    assert step.action == "set_scene"
    assert step.scene == "face"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[devices.camera]\nlens = 1\n", "lens"),
        ('[devices.camera]\nscene = "moon"\n', "moon"),
        ('[[customer]]\ndevice = "camera"\naction = "set_scene"\n', "'scene' goes with"),
        ('[[customer]]\naction = "take_card"\nscene = "face"\n', "'scene' goes with"),
        ('[[customer]]\ndevice = "camera"\naction = "set_scene"\nscene = "moon"\n', "moon"),
        ('[[customer]]\ndevice = "camera"\nwait_for = "gate_open"\n', "unknown condition"),
        ('[[customer]]\ndevice = "camera"\naction = "insert_card"\nprofile = "visa"\n', "camera"),
        ('[[customer]]\naction = "set_scene"\nscene = "face"\n', "card_reader has no action"),
    ],
)
def test_bad_camera_scenarios_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_scenario(HEAD + text, name="bad")


async def test_the_customer_holds_still_once_the_first_picture_is_taken() -> None:
    scenario = parse_scenario(RETAKE, name="retake")
    world = build_world(scenario, "camera-scenario", clock_scale=0.01)
    control = world.camera_control()
    customer = asyncio.create_task(run_customer(world, scenario))
    await asyncio.sleep(0.05)  # 5 simulated seconds: nobody acts before a picture
    assert await control.scene() == "blurred"
    assert not customer.done()
    model = world.camera()
    await model.capture(CameraPosition.PERSON)
    await asyncio.wait_for(customer, timeout=5)
    assert await control.scene() == "face"


async def test_waiting_for_a_picture_that_never_comes_times_out() -> None:
    scenario = parse_scenario(
        HEAD
        + '[devices.camera]\nscene = "blurred"\n'
        + '[[customer]]\ndevice = "camera"\nwait_for = "picture_taken"\ntimeout = 2.0\n'
        + 'action = "set_scene"\nscene = "face"\n',
        name="nobody",
    )
    world = build_world(scenario, "camera-nobody", clock_scale=0.01)
    with pytest.raises(HalTimeout, match=r"no picture within 2\.0 s"):
        await run_customer(world, scenario)
    assert world.camera().scene() == "blurred"  # the step never acted
