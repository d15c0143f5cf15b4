"""The simulated camera: its builds, scenes, faults and broken variants, through the
hal `CameraService` (the service a real driver gets) and directly on the model."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from hal.device import DeviceState
from hal.devices.camera import (
    CameraPosition,
    CameraState,
    FrameEncoding,
    PictureFormat,
    QualityProblem,
    check_quality,
)
from hal.devices.camera_service import CameraService
from hal.errors import (
    CameraInoperable,
    CameraNotSupported,
    ConfigurationError,
    DeviceNotReady,
    HalTimeout,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from simulator.broken_camera import OkWhileUnplugged, StaleFrame
from simulator.camera_control import SimCameraControl
from simulator.models.camera import CameraModel
from simulator.world import CameraSetup, World
from tests.camera_rig import start_opencv_threads

start_opencv_threads()

SCALE = 0.01


def model(**kwargs: object) -> CameraModel:
    return CameraModel(clock=World("m", clock_scale=SCALE).clock, **kwargs)  # type: ignore[arg-type]


async def test_a_capture_is_the_scene_as_bgr24_with_a_utc_time() -> None:
    camera = model(width=320, height=240)
    before = dt.datetime.now(dt.UTC)
    frame = await camera.capture(CameraPosition.PERSON)
    assert frame.encoding is FrameEncoding.BGR24
    assert (frame.width, frame.height) == (320, 240)
    assert len(frame.data) == 320 * 240 * 3
    assert frame.timestamp.tzinfo is dt.UTC
    assert before <= frame.timestamp <= dt.datetime.now(dt.UTC)
    assert camera.captures == 1
    document = await camera.capture(CameraPosition.DOCUMENT)
    assert document.data != frame.data


async def test_builds_have_their_cameras() -> None:
    kiosk = model().capabilities()
    assert kiosk.cameras == {CameraPosition.PERSON, CameraPosition.DOCUMENT}
    assert kiosk.formats == set(PictureFormat)
    assert (kiosk.width, kiosk.height) == (640, 480)
    assert kiosk.features() == {"person", "document"}
    person = model(profile="person")
    assert person.capabilities().cameras == {CameraPosition.PERSON}
    with pytest.raises(CameraNotSupported):
        await person.capture(CameraPosition.DOCUMENT)
    with pytest.raises(ValueError, match="no camera profile"):
        model(profile="atm")


async def test_the_service_measures_each_scene() -> None:
    camera = model()
    hands = SimCameraControl(camera)
    async with CameraService(camera) as service:
        seen = {}
        for scene in ("face", "blurred", "dark", "no_face", "two_faces"):
            await hands.set_scene(scene)
            assert await hands.scene() == scene
            seen[scene] = check_quality(await service.take_picture(timeout=10))
        document = await service.take_picture(CameraPosition.DOCUMENT, timeout=10)
    assert seen["face"].ok
    assert seen["blurred"].problems == (QualityProblem.BLURRED,)
    assert seen["dark"].problems[0] is QualityProblem.TOO_DARK
    assert seen["no_face"].problems == (QualityProblem.NO_FACE,)
    assert seen["two_faces"].problems == (QualityProblem.TOO_MANY_FACES,)
    assert check_quality(document).ok
    assert document.camera is CameraPosition.DOCUMENT


async def test_unplug_replug_and_reset() -> None:
    camera = model()
    hands = SimCameraControl(camera)
    async with CameraService(camera) as service:
        events = service.events()
        try:
            await hands.unplug()
            changed = await asyncio.wait_for(events.get(), 2)
            assert isinstance(changed, StatusChanged)
            assert changed.new.cameras[CameraPosition.PERSON] is CameraState.INOPERATIVE
            with pytest.raises(CameraInoperable, match="unplugged"):
                await service.take_picture(timeout=5)
            status = await service.status()
            assert status.cameras[CameraPosition.PERSON] is CameraState.INOPERATIVE
            assert status.cameras[CameraPosition.DOCUMENT] is CameraState.OK
            assert status.device is DeviceState.ONLINE  # the document camera still works
            await service.take_picture(CameraPosition.DOCUMENT, timeout=5)
            with pytest.raises(CameraInoperable, match="not connected"):
                await service.reset(timeout=5)
            await hands.replug()
            with pytest.raises(CameraInoperable, match="reset it"):
                await service.take_picture(timeout=5)  # the old handle is dead
            await service.reset(timeout=5)
            assert (await service.status()).cameras[CameraPosition.PERSON] is CameraState.OK
            assert check_quality(await service.take_picture(timeout=10)).ok
        finally:
            events.close()


async def test_no_camera_left_is_no_device() -> None:
    camera = model(profile="person")
    await SimCameraControl(camera).unplug()
    assert (await camera.get_status()).device is DeviceState.NO_DEVICE


async def test_a_camera_unplugged_while_its_frame_comes_fails_that_capture() -> None:
    camera = model()
    camera.set_capture_delay(100)  # 1 s real
    capture = asyncio.create_task(camera.capture(CameraPosition.PERSON))
    await asyncio.sleep(0.05)
    camera.unplug()
    with pytest.raises(CameraInoperable):
        await asyncio.wait_for(capture, 0.5)


async def test_a_slow_capture_times_out_and_the_camera_still_works() -> None:
    camera = model()
    hands = SimCameraControl(camera)
    async with CameraService(camera) as service:
        await hands.slow_capture(30)  # 0.3 s real
        with pytest.raises(HalTimeout):
            await service.take_picture(timeout=0.05)
        await hands.slow_capture(0)
        assert check_quality(await service.take_picture(timeout=10)).ok


async def test_power_loss_and_slow_replies() -> None:
    camera = model()
    hands = SimCameraControl(camera)
    await hands.power_loss()
    assert (await camera.get_status()).device is DeviceState.POWER_OFF
    with pytest.raises(DeviceNotReady):
        await camera.capture(CameraPosition.PERSON)
    await hands.power_loss(False)
    await camera.capture(CameraPosition.PERSON)
    async with CameraService(camera) as service:
        await hands.slow_replies(50)  # 0.5 s real
        with pytest.raises(HalTimeout):
            await service.take_picture(timeout=0.05)
        await hands.slow_replies(0)


async def test_the_control_refuses_what_it_cannot_show(tmp_path: object) -> None:
    hands = SimCameraControl(model(profile="person"))
    with pytest.raises(UnsupportedOperation, match="no scene 'smile'"):
        await hands.set_scene("smile")
    with pytest.raises(UnsupportedOperation, match="does not exist"):
        await hands.set_scene("file:/nonexistent/picture.png")
    with pytest.raises(UnsupportedOperation, match="no document camera"):
        await hands.set_scene("document", camera="document")
    with pytest.raises(UnsupportedOperation):
        await hands.unplug(camera="room")


async def test_the_world_builds_its_camera_once() -> None:
    world = World("w", clock_scale=SCALE)
    built = world.camera("camera", CameraSetup(profile="person", scene="no_face"))
    assert world.camera() is built
    assert built.scene() == "no_face"
    assert world.models["camera"] is built
    assert world.camera_setup() == CameraSetup(profile="person", scene="no_face")
    with pytest.raises(ConfigurationError, match="cannot rebuild"):
        world.camera("camera", CameraSetup(profile="kiosk"))
    with pytest.raises(ConfigurationError, match="is a camera"):
        world.card_reader("camera")
    with pytest.raises(ConfigurationError, match="no broken camera"):
        CameraSetup(variant="cracked")
    with pytest.raises(ConfigurationError, match="no scene"):
        CameraSetup(scene="sunset")
    assert isinstance(World("v").camera("c", CameraSetup(variant="stale_frame")), StaleFrame)


async def test_stale_frame_keeps_its_first_frame() -> None:
    camera = StaleFrame(clock=World("s", clock_scale=SCALE).clock)
    first = await camera.capture(CameraPosition.PERSON)
    camera.set_scene("no_face")
    assert (await camera.capture(CameraPosition.PERSON)).data == first.data


async def test_ok_while_unplugged_never_notices() -> None:
    camera = OkWhileUnplugged(clock=World("o", clock_scale=SCALE).clock)
    first = await camera.capture(CameraPosition.PERSON)
    camera.unplug()
    assert (await camera.get_status()).cameras[CameraPosition.PERSON] is CameraState.OK
    assert (await camera.capture(CameraPosition.PERSON)).data == first.data
