"""The camera's control: over a real control socket (`RemoteCameraControl`, and
``tellerhal sim-control set-scene | unplug-camera | replug-camera``), and the file
stimulus that drives the ``opencv`` driver's still-file mode."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import pytest

import hal
from hal.devices.camera import (
    Camera,
    CameraPosition,
    CameraState,
    QualityProblem,
    check_quality,
)
from hal.errors import CameraInoperable, UnsupportedOperation
from protocols.errors import ProtocolError
from simulator import scenes
from simulator.camera_control import FileCameraStimulus
from simulator.control_commands import SetScenePayload
from simulator.remote_control import RemoteCameraControl
from simulator.scenario import parse_scenario
from simulator.server import ControlServer, SimServer
from simulator.world import World
from tellerhal.cli.main import main
from tests.camera_rig import start_opencv_threads

start_opencv_threads()


@pytest.fixture
async def controlled() -> AsyncIterator[tuple[World, RemoteCameraControl]]:
    world = World("remote-camera", clock_scale=0.01)
    world.camera()
    server = ControlServer("tcp://127.0.0.1:0", lambda: world)
    await server.start()
    try:
        yield world, RemoteCameraControl(server.endpoint, timeout=2.0)
    finally:
        await server.stop()


async def test_the_camera_commands_over_zeromq(
    controlled: tuple[World, RemoteCameraControl],
) -> None:
    world, remote = controlled
    model = world.camera()
    async with world.open_camera() as camera:
        await remote.set_scene("blurred")
        assert model.scene() == "blurred"
        verdict = check_quality(await camera.take_picture(timeout=10))
        assert verdict.problems == (QualityProblem.BLURRED,)
        await remote.set_scene("no_face", camera="document")
        assert model.scene(CameraPosition.DOCUMENT) == "no_face"

        await remote.unplug()
        assert (await camera.status()).cameras[CameraPosition.PERSON] is CameraState.INOPERATIVE
        await remote.replug()
        assert model.plugged()
        await camera.reset(timeout=5)
        await remote.set_scene("face")
        assert check_quality(await camera.take_picture(timeout=10)).ok

        await remote.slow_capture(2.5)
        assert model._capture_delay_s == 2.5
        await remote.slow_capture(0)
        await remote.slow_replies(0)
        await remote.power_loss()
        assert not model.powered
        await remote.power_loss(on=False)
        assert model.powered


async def test_what_the_camera_cannot_show_is_refused(
    controlled: tuple[World, RemoteCameraControl],
) -> None:
    world, remote = controlled
    with pytest.raises(UnsupportedOperation, match="no scene 'sunset'"):
        await remote.set_scene("sunset")
    with pytest.raises(UnsupportedOperation, match="no room camera"):
        await remote.unplug(camera="room")
    with pytest.raises(ValueError, match="camera is one of"):
        SetScenePayload("face", "ceiling")
    # A camera command sent to another kind of device is refused before it runs.
    world.card_reader()
    wrong = RemoteCameraControl(remote.endpoint, "card_reader", timeout=2.0)
    with pytest.raises(ProtocolError, match="no device 'card_reader'; offered: camera"):
        await wrong.set_scene("face")
    assert world.camera().scene() == "face"


async def test_sim_control_cli_acts_on_the_camera(
    controlled: tuple[World, RemoteCameraControl],
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, remote = controlled
    model = world.camera()

    def cli(*args: str) -> tuple[int, str]:
        status = main(["sim-control", "--control", remote.endpoint, *args])
        return status, capsys.readouterr().out.strip()

    status, out = await asyncio.to_thread(cli, "set-scene", "two_faces")
    assert status == 0
    assert json.loads(out) == {"ok": True, "camera": "person", "scene": "two_faces"}
    assert model.scene() == "two_faces"
    status, out = await asyncio.to_thread(cli, "set-scene", "dark", "--camera", "document")
    assert status == 0
    assert model.scene(CameraPosition.DOCUMENT) == "dark"
    status, out = await asyncio.to_thread(cli, "unplug-camera")
    assert (status, json.loads(out)) == (0, {"ok": True, "camera": "person"})
    assert not model.plugged()
    status, out = await asyncio.to_thread(cli, "replug-camera", "--camera", "person")
    assert status == 0
    assert model.plugged()
    status, out = await asyncio.to_thread(cli, "set-scene", "sunset")
    assert status == 1
    assert model.scene() == "two_faces"


async def test_the_file_stimulus_writes_removes_and_restores_the_picture(tmp_path: Path) -> None:
    path = tmp_path / "camera.png"
    stimulus = FileCameraStimulus(path, width=320, height=240, seed=4)
    await stimulus.set_scene("no_face")
    written = cv2.imread(str(path))
    assert written is not None
    assert written.shape == (240, 320, 3)
    assert (written == scenes.render("no_face", width=320, height=240, seed=4)).all()
    assert os.listdir(tmp_path) == ["camera.png"]  # no temporary left

    await stimulus.unplug()
    assert not path.exists()
    await stimulus.set_scene("face")  # still unplugged: nothing written
    assert not path.exists()
    await stimulus.replug()
    restored = cv2.imread(str(path))
    assert restored is not None
    assert (restored == scenes.render("face", width=320, height=240, seed=4)).all()

    with pytest.raises(UnsupportedOperation, match="serves the person camera"):
        await stimulus.set_scene("document", camera="document")
    with pytest.raises(UnsupportedOperation, match="no scene"):
        await stimulus.set_scene("sunset")
    picture = tmp_path / "given.png"
    assert cv2.imwrite(str(picture), scenes.render_scene("dark", width=320, height=240))
    await stimulus.set_scene(f"file:{picture}")
    assert stimulus.current == f"file:{picture}"
    assert cv2.imread(str(path)) is not None


async def test_tellerhal_sim_serves_a_scenarios_camera_and_its_control() -> None:
    scenario = parse_scenario(
        'version = 1\n[devices.camera]\nprofile = "person"\nscene = "blurred"\n', name="cam"
    )
    async with SimServer(scenario, "tcp://127.0.0.1:0", heartbeat_interval=0.5) as sim:
        address = sim.addresses["camera"]
        remote = RemoteCameraControl(sim.control_endpoint, timeout=2.0)
        device = hal.open(address)
        assert isinstance(device, Camera)
        async with device as camera:
            assert (await camera.capabilities()).cameras == {CameraPosition.PERSON}
            first = check_quality(await camera.take_picture(timeout=10))
            assert first.problems == (QualityProblem.BLURRED,)
            await remote.set_scene("face")
            assert check_quality(await camera.take_picture(timeout=10)).ok
            await remote.unplug()
            with pytest.raises(CameraInoperable):
                await camera.take_picture(timeout=10)
            await remote.replug()
            await camera.reset(timeout=10)
            assert check_quality(await camera.take_picture(timeout=10)).ok
