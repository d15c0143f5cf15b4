"""The Camera contract on every camera we have, and on cameras that lie.

- ``sim``: ``sim://camera`` (the kiosk build) with the world's `SimCameraControl`, a
  fresh world per case;
- ``served``: the simulated camera's service behind a `RemoteServer` on a real TCP socket,
  reached through ``zmq://127.0.0.1:PORT/camera`` (pictures travel as blobs);
- ``opencv``: the real ``opencv`` driver in still-file mode
  (``opencv://?file=PATH&mode=still``), its scene written by `FileCameraStimulus`;
- two broken cameras (a stale frame after a scene change, ``ok`` while unplugged) each
  fail the case that exists to catch them;
- ``tellerhal conformance sim://camera`` runs the whole suite.

Nothing here is skipped: every case must pass (or, for a case the stimulus cannot make,
be skipped for a feature no camera declares).
"""

from __future__ import annotations

import itertools
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

import hal
from hal.devices.camera import Camera
from hal.remote import RemoteServer
from simulator.camera_control import FileCameraStimulus
from simulator.registration import SIM_DRIVER
from simulator.world import CameraSetup, get_world, reset_worlds
from tellerhal.cli.main import main
from tellerhal.conformance.camera import CAMERA_CASES, CameraCase, CameraHarness
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tests import sim_process
from tests.camera_rig import start_opencv_threads

start_opencv_threads()

_worlds = itertools.count()
_SIM = SIM_DRIVER.capabilities["camera"]
#: Real seconds a case waits for a picture (a loaded CI box: rendering, Haar, encoding).
PATIENCE = 10.0


@pytest.fixture(autouse=True)
def _fresh_worlds() -> None:
    reset_worlds()


def _opener(address: str) -> Callable[[], Camera]:
    def open_camera() -> Camera:
        device = hal.open(address)
        assert isinstance(device, Camera)
        return device

    return open_camera


@asynccontextmanager
async def sim_harness(variant: str = "") -> AsyncIterator[CameraHarness]:
    name = f"camera_sim{next(_worlds)}"
    address = f"sim://camera?world={name}&clock_scale=0.01"
    if variant:
        address += f"&camera_variant={variant}"
    hal.open(address)  # builds the world's camera as the address says
    yield Harness(
        open=_opener(address), stimulus=get_world(name).camera_control(), patience=PATIENCE
    )


@asynccontextmanager
async def zmq_harness() -> AsyncIterator[CameraHarness]:
    """The simulated camera's service behind a `RemoteServer`, reached by ``zmq://``."""
    world = get_world(f"camera_zmq{next(_worlds)}", clock_scale=0.01)
    world.camera("camera", CameraSetup())
    async with RemoteServer(
        {"camera": world.open_camera()},
        "tcp://127.0.0.1:0",
        simulator=True,
        heartbeat_interval=0.5,
    ) as server:
        address = "zmq://" + server.endpoint.removeprefix("tcp://") + "/camera"
        yield Harness(open=_opener(address), stimulus=world.camera_control(), patience=PATIENCE)


@asynccontextmanager
async def opencv_harness() -> AsyncIterator[CameraHarness]:
    """The real opencv driver re-reading one PNG the file stimulus writes."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "person.png"
        stimulus = FileCameraStimulus(path)
        await stimulus.set_scene("face")
        address = f"opencv://?file={urllib.parse.quote(str(path), safe='/')}&mode=still"
        yield Harness(open=_opener(address), stimulus=stimulus, patience=PATIENCE)


HARNESSES: dict[str, Callable[[], AbstractAsyncContextManager[CameraHarness]]] = {
    "sim": sim_harness,
    "served": zmq_harness,
    "opencv": opencv_harness,
}


@pytest.mark.parametrize("case", CAMERA_CASES, ids=lambda c: c.id.split(".")[-1])
# "served", not "zmq": that name makes tests/conformance/conftest.py start a sim process.
@pytest.mark.parametrize("implementation", ["sim", "served", "opencv"])
async def test_camera_contract(implementation: str, case: CameraCase) -> None:
    async with HARNESSES[implementation]() as harness:
        result = await run_case(case, harness)
    why = acceptable(result, _SIM)
    assert why is None, why
    assert result.verdict is Verdict.PASSED, result  # every case applies to these cameras


@pytest.mark.parametrize(
    ("variant", "case_id", "said"),
    [
        ("stale_frame", "camera.retake", "the sharp retake failed: ['blurred']"),
        ("ok_while_unplugged", "camera.unplug", "expected CameraInoperable, but it returned"),
    ],
)
async def test_a_broken_camera_fails_its_case(variant: str, case_id: str, said: str) -> None:
    (case,) = [c for c in CAMERA_CASES if c.id == case_id]
    async with sim_harness(variant) as harness:
        result = await run_case(case, harness)
    assert result.verdict is Verdict.FAILED, result
    assert said in result.detail
    async with sim_harness() as harness:  # the faithful camera passes the same case
        assert (await run_case(case, harness)).verdict is Verdict.PASSED


def test_tellerhal_conformance_runs_the_camera_suite(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["conformance", "--json", "sim://camera?camera_profile=person&clock_scale=0.01"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert status == 0, out
    assert len(lines) == len(CAMERA_CASES)
    assert all('"passed"' in line for line in lines), out


def test_the_suite_against_a_tellerhal_sim_process_with_its_control_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tellerhal conformance zmq://.../camera --stimulus CONTROL``: the camera of a
    ``tellerhal sim`` in another process, its scenes set through the control socket
    (`RemoteCameraControl`), a fresh world per case (``Control.Reset``)."""
    scenario = tmp_path / "camera.toml"
    scenario.write_text('version = 1\n[devices.camera]\nprofile = "person"\n', encoding="utf-8")
    with sim_process.sim(tmp_path / "sim", str(scenario)) as proc:
        status = main(
            [
                "conformance",
                "--json",
                "--case",
                "camera.retake",
                "--case",
                "camera.unplug",
                "--case",
                "camera.no_face",
                proc.address("camera"),
                "--stimulus",
                proc.control,
            ]
        )
        assert proc.stop() == 0, proc.err
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert status == 0, out
    assert len(lines) == 3
    assert all('"passed"' in line for line in lines), out
