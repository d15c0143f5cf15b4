"""The generated camera scenes, measured the way the HAL measures a picture
(`hal.devices.picture_quality.analyse`): faces found, sharpness and brightness over the
largest face (else the frame) within the ranges `simulator.scenes` documents, for
several seeds; deterministic per seed; image-file scenes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pytest

from hal.devices.camera import (
    DEFAULT_POLICY,
    CameraPosition,
    Picture,
    PictureFormat,
    QualityProblem,
    check_quality,
)
from simulator import scenes
from simulator.models.camera import GENERATED_SCENES
from tests.camera_rig import measure

SEEDS = (0, 7, 41)


def test_the_model_names_the_scenes_the_module_renders() -> None:
    assert GENERATED_SCENES == scenes.SCENES


def test_the_face_asset_is_small_and_has_one_face() -> None:
    asset = Path(scenes.__file__).parent / "assets" / "faces" / "astronaut.jpg"
    assert asset.stat().st_size < 100_000
    assert (asset.parent / "SOURCE.md").read_text(encoding="utf-8").count("public domain") >= 1
    image = scenes.face_image()
    assert image.shape == (450, 360, 3)
    report = measure(np.ascontiguousarray(image))
    assert len(report.faces) == 1
    assert report.faces[0].width >= 120


@pytest.mark.parametrize("seed", SEEDS)
def test_each_scene_measures_in_its_documented_range(seed: int) -> None:
    face = measure(scenes.render_scene("face", seed=seed))
    assert len(face.faces) == 1
    assert face.region == "face"
    assert min(face.faces[0].width, face.faces[0].height) >= 120
    assert face.sharpness > 200
    assert 90 <= face.brightness <= 190
    assert face.contrast > DEFAULT_POLICY.min_contrast

    blurred = measure(scenes.render_scene("blurred", seed=seed))
    assert blurred.sharpness < 50
    assert len(blurred.faces) <= 1

    dark = measure(scenes.render_scene("dark", seed=seed))
    assert dark.brightness < 40

    bright = measure(scenes.render_scene("bright", seed=seed))
    assert bright.brightness > 200

    nobody = measure(scenes.render_scene("no_face", seed=seed))
    assert nobody.faces == ()
    assert nobody.region == "frame"

    two = measure(scenes.render_scene("two_faces", seed=seed))
    assert len(two.faces) == 2
    assert min(min(f.width, f.height) for f in two.faces) >= DEFAULT_POLICY.min_face_size

    document = measure(scenes.render_scene("document", seed=seed))
    assert document.faces == ()
    assert document.sharpness > 200
    assert 60 <= document.brightness <= 200


def test_the_verdicts_the_scenes_are_made_for() -> None:
    def verdict(scene: str, camera: CameraPosition = CameraPosition.PERSON) -> set[QualityProblem]:
        report = measure(scenes.render_scene(scene, seed=3))
        picture = Picture(
            b"", PictureFormat.JPEG, 640, 480, dt.datetime.now(dt.UTC), camera, report
        )
        return set(check_quality(picture).problems)

    assert verdict("face") == set()
    assert QualityProblem.BLURRED in verdict("blurred")
    assert QualityProblem.TOO_DARK in verdict("dark")
    assert QualityProblem.TOO_BRIGHT in verdict("bright")
    assert verdict("no_face") == {QualityProblem.NO_FACE}
    assert verdict("two_faces") == {QualityProblem.TOO_MANY_FACES}
    assert verdict("document", CameraPosition.DOCUMENT) == set()


def test_a_scene_is_the_same_for_the_same_seed_and_differs_between_seeds() -> None:
    one = scenes.render_scene("face", seed=5)
    assert np.array_equal(one, scenes.render_scene("face", seed=5))
    assert not np.array_equal(one, scenes.render_scene("face", seed=6))
    assert one.shape == (480, 640, 3)
    assert one.dtype == np.uint8


def test_scenes_come_at_the_cameras_size() -> None:
    small = scenes.render_scene("face", width=320, height=240)
    assert small.shape == (240, 320, 3)
    assert len(measure(small).faces) == 1
    assert scenes.render("document", width=1280, height=720).shape == (720, 1280, 3)


def test_an_image_file_scene_is_fitted_to_the_frame(tmp_path: Path) -> None:
    picture = np.zeros((100, 400, 3), dtype=np.uint8)
    picture[:, :, 2] = 255  # red
    path = tmp_path / "wide.png"
    assert cv2.imwrite(str(path), picture)
    for name in (f"file:{path}", str(path)):
        frame = scenes.render(name)
        assert frame.shape == (480, 640, 3)
        assert tuple(frame[240, 320]) == (0, 0, 255)  # the picture, scaled to the width
        assert tuple(frame[10, 320]) == (128, 128, 128)  # grey above it


def test_bad_scenes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no scene 'smile'"):
        scenes.render("smile")
    with pytest.raises(FileNotFoundError):
        scenes.render(f"file:{tmp_path / 'missing.png'}")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(FileNotFoundError):
        scenes.render(str(tmp_path / "junk.png"))
    with pytest.raises(ValueError, match="width"):
        scenes.render_scene("face", width=100)
