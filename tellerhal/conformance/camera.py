"""The Camera contract: what every camera implementation must do.

Each case drives the camera only through `hal.Camera` and changes what the camera sees
only through `hal.stimulus.CameraStimulus` (the simulator's control, a file the
``opencv`` driver re-reads, a person at the bench). Pictures are judged with
`hal.devices.camera.check_quality` under `DEFAULT_POLICY`, as an app would:

- a sharp, well lit face passes;
- a blurred one fails as ``blurred``; the customer is asked to retake (the verdict's
  advice), the stimulus shows the face again, and the retake passes (a camera handing
  out a stale frame fails here);
- a dark one fails as ``tooDark``; nobody there is refused as ``noFace``; two people as
  ``tooManyFaces`` (where the stimulus can show two);
- every camera position and format in the capabilities works; any other position is
  `CameraNotSupported`, any other format `UnsupportedOperation`;
- an unplugged camera raises `CameraInoperable` and reports itself ``inoperative`` (a
  `StatusChanged`); plugged in again and reset, it works (where the stimulus can
  unplug);
- a `take_picture` that times out leaves the camera usable.

A case whose stimulus cannot do what it needs raises `MissingCapability` naming a
feature no camera declares (``two_faces``, ``unplug``), so it never counts against a
driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from hal.devices.camera import (
    DEFAULT_POLICY,
    Camera,
    CameraCapabilities,
    CameraPosition,
    CameraState,
    Picture,
    PictureFormat,
    QualityProblem,
    QualityVerdict,
    check_quality,
)
from hal.errors import (
    CameraInoperable,
    CameraNotSupported,
    HalTimeout,
    UnsupportedOperation,
)
from hal.events import StatusChanged, Subscription
from hal.stimulus import CameraStimulus
from tellerhal.conformance.framework import (
    ContractCase,
    Harness,
    MissingCapability,
    check,
    expect_raises,
)

__all__ = ["CAMERA_CASES", "CameraCase", "CameraHarness"]

CameraHarness = Harness[Camera, CameraStimulus]
CameraCase = ContractCase[Camera, CameraStimulus]

PERSON = CameraPosition.PERSON

#: How each picture format's bytes begin.
_MAGIC = {PictureFormat.JPEG: b"\xff\xd8\xff", PictureFormat.PNG: b"\x89PNG\r\n\x1a\n"}


# --- steps ---------------------------------------------------------------------------------


async def person_camera(device: Camera) -> CameraCapabilities:
    """The capabilities, failing the case's premise unless there is a person camera."""
    caps = await device.capabilities()
    if PERSON not in caps.cameras:
        raise MissingCapability({"person"}, "the face checks need a camera facing the customer")
    return caps


async def picture_of(
    h: CameraHarness, device: Camera, scene: str, camera: CameraPosition = PERSON
) -> tuple[Picture, QualityVerdict]:
    """Show ``scene`` to ``camera``, take a picture and judge it."""
    await h.stimulus.set_scene(scene, camera=camera.value)
    picture = await device.take_picture(camera, timeout=h.patience)
    check(picture.camera is camera, f"asked the {camera.value} camera, got {picture.camera}")
    return picture, check_quality(picture, DEFAULT_POLICY)


def well_formed(picture: Picture, caps: CameraCapabilities, what: str) -> None:
    """A picture's bytes, size and time are what it says."""
    magic = _MAGIC[picture.format]
    check(
        picture.data.startswith(magic),
        f"{what}: a {picture.format.value} picture does not start with {magic!r}",
    )
    check(
        picture.width > 0 and picture.height > 0,
        f"{what}: the picture is {picture.width}x{picture.height}",
    )
    check(
        (picture.width, picture.height) == (caps.width, caps.height),
        f"{what}: the picture is {picture.width}x{picture.height}, the capabilities say "
        f"{caps.width}x{caps.height}",
    )
    stamp = picture.timestamp
    check(
        stamp.tzinfo is not None and stamp.utcoffset() == dt.timedelta(0),
        f"{what}: the timestamp {stamp} is not UTC",
    )


def expect(verdict: QualityVerdict, problem: QualityProblem, scene: str) -> None:
    check(not verdict.ok, f"a {scene} picture passed the quality check")
    check(
        problem in verdict.problems,
        f"a {scene} picture failed with {[p.value for p in verdict.problems]}, not {problem.value}",
    )
    check(verdict.advice, f"a {scene} picture's verdict gives the customer no advice")


# --- cases ---------------------------------------------------------------------------------


async def capabilities_and_status(h: CameraHarness) -> None:
    async with h.open() as device:
        caps = await device.capabilities()
        check(caps.cameras, "the capabilities list no camera")
        check(caps.formats, "the capabilities list no picture format")
        check(caps.width > 0 and caps.height > 0, f"the frame size is {caps.width}x{caps.height}")
        check(
            caps.features() == {p.value for p in caps.cameras},
            f"features {sorted(caps.features())} are not the cameras {sorted(caps.cameras)}",
        )
        status = await device.status()
        for position in caps.cameras:
            state = status.cameras.get(position)
            check(
                isinstance(state, CameraState),
                f"the status gives no state for the {position.value} camera: "
                f"{dict(status.cameras)}",
            )
        extra = set(status.cameras) - set(caps.cameras)
        check(not extra, f"the status reports cameras the device does not have: {extra}")


async def positions(h: CameraHarness) -> None:
    async with h.open() as device:
        caps = await device.capabilities()
        for position in sorted(caps.cameras):
            before = dt.datetime.now(dt.UTC)
            picture = await device.take_picture(position, timeout=h.patience)
            check(
                picture.camera is position,
                f"asked the {position.value} camera, got {picture.camera}",
            )
            check(
                picture.format is PictureFormat.JPEG or PictureFormat.JPEG not in caps.formats,
                f"the default format is JPEG, got {picture.format}",
            )
            well_formed(picture, caps, f"the {position.value} camera's picture")
            # Clocks of two hosts may differ a little (a camera served over zmq://).
            check(
                picture.timestamp >= before - dt.timedelta(seconds=30),
                f"the {position.value} picture is stamped {picture.timestamp}, taken after "
                f"{before}: an old frame",
            )
        for position in sorted(set(CameraPosition) - caps.cameras):
            await expect_raises(
                CameraNotSupported,
                device.take_picture(position, timeout=h.patience),
                f"a picture from the {position.value} camera the device does not have",
            )


async def formats(h: CameraHarness) -> None:
    async with h.open() as device:
        caps = await device.capabilities()
        camera = min(caps.cameras)
        for picture_format in sorted(caps.formats):
            picture = await device.take_picture(camera, format=picture_format, timeout=h.patience)
            check(
                picture.format is picture_format,
                f"asked for {picture_format.value}, got {picture.format.value}",
            )
            well_formed(picture, caps, f"a {picture_format.value} picture")
        for picture_format in sorted(set(PictureFormat) - caps.formats):
            await expect_raises(
                UnsupportedOperation,
                device.take_picture(camera, format=picture_format, timeout=h.patience),
                f"a {picture_format.value} picture the device does not deliver",
            )


async def sharp_face_passes(h: CameraHarness) -> None:
    async with h.open() as device:
        await person_camera(device)
        picture, verdict = await picture_of(h, device, "face")
        check(
            verdict.ok,
            f"a sharp, well lit face failed: {[p.value for p in verdict.problems]} ({picture!r})",
        )
        check(len(picture.quality.faces) == 1, f"{len(picture.quality.faces)} faces found")
        check(picture.quality.region == "face", "sharpness was not measured over the face")


async def blurred_then_retake(h: CameraHarness) -> None:
    async with h.open() as device:
        await person_camera(device)
        first, verdict = await picture_of(h, device, "blurred")
        expect(verdict, QualityProblem.BLURRED, "blurred")
        check(
            first.quality.sharpness < DEFAULT_POLICY.min_sharpness,
            f"a blurred picture measured sharpness {first.quality.sharpness:.1f}",
        )
        # The app shows the advice; the customer holds still; the picture is retaken.
        retake, again = await picture_of(h, device, "face")
        check(
            again.ok,
            f"the sharp retake failed: {[p.value for p in again.problems]} ({retake!r}); "
            f"the first was {first!r}",
        )
        check(
            retake.data != first.data and retake.timestamp >= first.timestamp,
            "the retake is the first picture again (a stale frame)",
        )


async def dark_is_too_dark(h: CameraHarness) -> None:
    async with h.open() as device:
        await person_camera(device)
        picture, verdict = await picture_of(h, device, "dark")
        expect(verdict, QualityProblem.TOO_DARK, "dark")
        check(
            picture.quality.brightness < DEFAULT_POLICY.min_brightness,
            f"a dark picture measured brightness {picture.quality.brightness:.1f}",
        )


async def nobody_is_refused(h: CameraHarness) -> None:
    async with h.open() as device:
        await person_camera(device)
        picture, verdict = await picture_of(h, device, "no_face")
        expect(verdict, QualityProblem.NO_FACE, "no-face")
        check(
            verdict.problems[0] is QualityProblem.NO_FACE,
            f"nobody there, yet the first problem is {verdict.problems[0].value}",
        )
        check(picture.quality.faces == (), f"faces found in an empty scene: {picture!r}")


async def two_faces_are_too_many(h: CameraHarness) -> None:
    async with h.open() as device:
        await person_camera(device)
        try:
            await h.stimulus.set_scene("two_faces")
        except UnsupportedOperation as exc:
            raise MissingCapability({"two_faces"}, "the stimulus cannot show two people") from exc
        picture = await device.take_picture(timeout=h.patience)
        verdict = check_quality(picture)
        expect(verdict, QualityProblem.TOO_MANY_FACES, "two-faces")
        check(len(picture.quality.faces) == 2, f"{len(picture.quality.faces)} faces found, not 2")


async def unplug_and_recover(h: CameraHarness) -> None:
    async with h.open() as device:
        await person_camera(device)
        await h.stimulus.set_scene("face")
        await device.take_picture(timeout=h.patience)
        events = device.events()
        try:
            try:
                await h.stimulus.unplug()
            except UnsupportedOperation as exc:
                raise MissingCapability({"unplug"}, "the stimulus cannot unplug a camera") from exc
            await expect_raises(
                CameraInoperable,
                device.take_picture(timeout=h.patience),
                "a picture from an unplugged camera",
            )
            status = await device.status()
            check(
                status.cameras.get(PERSON) is CameraState.INOPERATIVE,
                f"the unplugged camera's status is {status.cameras.get(PERSON)}",
            )
            seen = await _status_changes(events, h.patience)
            check(
                any(e.new.cameras.get(PERSON) is CameraState.INOPERATIVE for e in seen),
                f"no StatusChanged said the person camera is inoperative (got {seen})",
            )
        finally:
            events.close()
        await h.stimulus.replug()
        await device.reset(timeout=h.patience)
        picture, verdict = await picture_of(h, device, "face")
        check(verdict.ok, f"after replug and reset the face failed: {picture!r}")
        status = await device.status()
        check(
            status.cameras.get(PERSON) is CameraState.OK,
            f"after replug and reset the camera's status is {status.cameras.get(PERSON)}",
        )


async def _status_changes(events: Subscription, patience: float) -> list[StatusChanged[Any]]:
    """The `StatusChanged` events delivered, waiting up to ``patience`` for one saying
    the person camera is inoperative."""
    found: list[StatusChanged[Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(patience):
            while True:
                event = await events.get()
                if isinstance(event, StatusChanged):
                    found.append(event)
                    if getattr(event.new, "cameras", {}).get(PERSON) is CameraState.INOPERATIVE:
                        return found
    return found


async def timeout_leaves_it_usable(h: CameraHarness) -> None:
    async with h.open() as device:
        caps = await device.capabilities()
        camera = PERSON if PERSON in caps.cameras else min(caps.cameras)
        if camera is PERSON:
            await h.stimulus.set_scene("face")
        # A frame, its faces and its encoding take far longer than a millisecond.
        await expect_raises(
            HalTimeout,
            device.take_picture(camera, timeout=0.001),
            "a take_picture given 1 ms",
        )
        picture = await device.take_picture(camera, timeout=h.patience)
        well_formed(picture, caps, "the picture after a timeout")
        if camera is PERSON:
            verdict = check_quality(picture)
            check(verdict.ok, f"the face after a timeout failed: {picture!r}")


CAMERA_CASES: tuple[CameraCase, ...] = (
    ContractCase(
        "camera.capabilities",
        "capabilities list cameras and formats; the status has a state per camera",
        capabilities_and_status,
    ),
    ContractCase(
        "camera.positions",
        "every camera in the capabilities takes a picture; any other is cameraNotSupported",
        positions,
    ),
    ContractCase(
        "camera.formats",
        "every format in the capabilities is delivered; any other is unsupported",
        formats,
    ),
    ContractCase(
        "camera.face", "a sharp, well lit face passes the quality check", sharp_face_passes
    ),
    ContractCase(
        "camera.retake",
        "a blurred picture fails as blurred; the sharp retake passes",
        blurred_then_retake,
    ),
    ContractCase("camera.dark", "a dark picture fails as too dark", dark_is_too_dark),
    ContractCase("camera.no_face", "a picture with nobody in it is refused", nobody_is_refused),
    ContractCase(
        "camera.two_faces", "a picture of two people has too many faces", two_faces_are_too_many
    ),
    ContractCase(
        "camera.unplug",
        "an unplugged camera is inoperable and says so; replugged and reset, it works",
        unplug_and_recover,
    ),
    ContractCase(
        "camera.timeout",
        "a take_picture that times out leaves the camera usable",
        timeout_leaves_it_usable,
    ),
)
