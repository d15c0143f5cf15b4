"""What a simulated camera sees: generated scenes, deterministic per seed.

Every scene is a BGR image (``numpy.ndarray``, ``uint8``, height x width x 3) at the
camera's size. The person camera's scenes put one face (`face_image`: NASA's photo of
the astronaut Eileen Collins, public domain, see ``simulator/assets/faces/SOURCE.md``)
in front of a generated room (a gradient wall, a floor, a door, a picture, a plant, mild
sensor noise). What the HAL measures on them (`hal.devices.camera_model
.QualityReport`: the variance of the Laplacian and the mean grey level over the largest
face's box, else over the frame) falls in these ranges at 640x480 for every seed
(``tests/simulator/test_camera_scenes.py`` measures them):

=============  ===============================================  ======================
scene          what                                              measured (face box)
=============  ===============================================  ======================
``face``       one sharp, well lit face (box about 140 px)       sharpness > 200,
                                                                  brightness 90-190
``blurred``    the same, out of focus (Gaussian blur)            sharpness < 50
``dark``       the same in poor light                            brightness < 40
``bright``     the same, washed out by glare                     brightness > 200
``no_face``    the room, nobody there                            no face found
``two_faces``  two people side by side (boxes about 110 px)      two faces found
``document``   a generated identity card on the tray (no real    frame sharpness > 200,
               person: ``SPECIMEN``, made-up text)               brightness 60-200
=============  ===============================================  ======================

A scene may also be an image file (`image_scene`: ``file:PATH``, or a path ending in
``.png``, ``.jpg``, ``.jpeg`` or ``.bmp``), scaled to fit the frame and centred on grey.

Needs the ``camera`` extra (``pip install 'tellerhal[camera]'``: OpenCV and NumPy);
`simulator.models.camera` imports this module only when it renders a frame.
"""

from __future__ import annotations

import functools
import random
from importlib import resources
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "IMAGE_SUFFIXES",
    "SCENES",
    "Image",
    "face_image",
    "image_scene",
    "is_image_path",
    "render",
    "render_scene",
]

#: A BGR image: height x width x 3, ``uint8``.
Image = npt.NDArray[np.uint8]

#: The generated scenes, by name.
SCENES: Final = ("face", "blurred", "dark", "bright", "no_face", "two_faces", "document")

#: File name endings read as an image file scene.
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".bmp"})

#: The file-scene prefix (``file:/path/to/picture.png``).
FILE_PREFIX: Final = "file:"

_FACE_ASSET: Final = ("simulator", "assets/faces/astronaut.jpg")
#: Sensor noise (standard deviation, grey levels) of a sharp frame and of a blurred one.
_NOISE: Final = 2.0
_NOISE_BLURRED: Final = 0.8
#: How far out of focus the ``blurred`` scene's person is (Gaussian sigma at 640x480).
_BLUR: Final = 5.0


@functools.cache
def face_image() -> Image:
    """The face photo (head and shoulders, 360x450), as shipped in the package.

    Raises:
        FileNotFoundError: the asset is missing from the installation.
    """
    data = resources.files("simulator").joinpath("assets/faces/astronaut.jpg").read_bytes()
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # pragma: no cover - a damaged installation
        raise FileNotFoundError("simulator/assets/faces/astronaut.jpg is not a readable image")
    frame = _u8(image)
    frame.setflags(write=False)
    return frame


def is_image_path(scene: str) -> bool:
    """Whether ``scene`` names an image file (``file:PATH`` or an image file name)."""
    return scene.startswith(FILE_PREFIX) or Path(scene).suffix.lower() in IMAGE_SUFFIXES


def render(scene: str, *, width: int = 640, height: int = 480, seed: int = 0) -> Image:
    """The frame a camera of ``width`` x ``height`` sees in ``scene``: a generated
    scene's name (`SCENES`) or an image file (`is_image_path`).

    Raises:
        ValueError: neither a scene nor an image file name, or a bad size.
        FileNotFoundError: the image file cannot be read as an image.
    """
    if scene in SCENES:
        return render_scene(scene, width=width, height=height, seed=seed)
    if is_image_path(scene):
        return image_scene(scene.removeprefix(FILE_PREFIX), width=width, height=height)
    raise ValueError(
        f"no scene {scene!r}; the scenes are {', '.join(SCENES)}, or an image file "
        f"({FILE_PREFIX}PATH)"
    )


def image_scene(path: str | Path, *, width: int = 640, height: int = 480) -> Image:
    """The image file at ``path`` scaled to fit ``width`` x ``height``, centred on grey.

    Raises:
        FileNotFoundError: no such file, or not an image OpenCV reads.
        ValueError: a bad size.
    """
    _check_size(width, height)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: not an image file OpenCV can read")
    scale = min(width / image.shape[1], height / image.shape[0])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(image, size, interpolation=interpolation)
    frame = np.full((height, width, 3), 128, dtype=np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    frame[top : top + size[1], left : left + size[0]] = scaled
    return frame


def render_scene(scene: str, *, width: int = 640, height: int = 480, seed: int = 0) -> Image:
    """A generated scene (one of `SCENES`), the same for the same seed and size.

    Raises:
        ValueError: an unknown scene, or a size below 320x240 or above 4096x4096.
    """
    _check_size(width, height)
    if scene not in SCENES:
        raise ValueError(f"no scene {scene!r}; the scenes are {', '.join(SCENES)}")
    layout = random.Random(f"{seed}:{scene}:layout")
    noise = np.random.default_rng([seed, SCENES.index(scene)])
    if scene == "document":
        return _add_noise(_document(width, height, layout), noise, _NOISE)
    room = _room(width, height, random.Random(f"{seed}:room"))
    if scene == "no_face":
        return _add_noise(room, noise, _NOISE)
    if scene == "two_faces":
        scale = 0.8 * height / 480
        for centre in (0.27, 0.73):
            room = _paste_portrait(room, scale, centre)
        return _add_noise(room, noise, _NOISE)
    centre = 0.5 + layout.uniform(-0.05, 0.05)
    if scene == "blurred":
        # The customer moved (or stands out of the focal plane): the person is blurred,
        # the room stays sharp.
        frame = _paste_portrait(room, height / 480, centre, blur=_BLUR)
        return _add_noise(frame, noise, _NOISE_BLURRED)
    frame = _paste_portrait(room, height / 480, centre)
    if scene == "dark":
        frame = _u8(cv2.convertScaleAbs(frame, alpha=0.2, beta=2))
        return _add_noise(frame, noise, _NOISE_BLURRED)
    if scene == "bright":
        frame = _u8(cv2.convertScaleAbs(frame, alpha=0.3, beta=180))
        return _add_noise(frame, noise, _NOISE)
    return _add_noise(frame, noise, _NOISE)


# --- the pieces ---------------------------------------------------------------------------


def _check_size(width: int, height: int) -> None:
    for what, value, low in (("width", width, 320), ("height", height, 240)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 4096:
            raise ValueError(f"{what} is an integer from {low} to 4096, got {value!r}")


def _colour(rng: random.Random, low: int, high: int) -> tuple[int, int, int]:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def _room(width: int, height: int, rng: random.Random) -> Image:
    """A wall (a vertical gradient), a floor, a door, a picture and a plant."""
    top = np.array(_colour(rng, 150, 200), dtype=np.float32)
    bottom = np.array(_colour(rng, 90, 140), dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    wall = top * (1 - ramp) + bottom * ramp
    frame: Image = np.ascontiguousarray(np.broadcast_to(wall, (height, width, 3))).astype(np.uint8)
    floor = int(height * rng.uniform(0.78, 0.85))
    frame[floor:] = _colour(rng, 60, 100)
    cv2.line(frame, (0, floor), (width - 1, floor), _colour(rng, 30, 60), 3)
    door_x = rng.choice((int(width * 0.04), int(width * 0.8)))
    door_w = int(width * 0.15)
    door_top = int(height * 0.18)
    cv2.rectangle(frame, (door_x, door_top), (door_x + door_w, floor), _colour(rng, 70, 120), -1)
    cv2.rectangle(frame, (door_x, door_top), (door_x + door_w, floor), _colour(rng, 20, 50), 4)
    knob = (door_x + door_w - 12 if door_x < width // 2 else door_x + 12, (door_top + floor) // 2)
    cv2.circle(frame, knob, 5, _colour(rng, 180, 230), -1)
    # A picture high on the wall beside the door, clear of the customer's head (a
    # dark frame over hair reads as a face to the detector now and then).
    w, h = rng.randint(width // 12, width // 9), rng.randint(height // 14, height // 10)
    x = (
        door_x + door_w + rng.randint(8, 20)
        if door_x < width // 2
        else door_x - w - rng.randint(8, 20)
    )
    y = rng.randint(height // 40, height // 14)
    cv2.rectangle(frame, (x, y), (x + w, y + h), _colour(rng, 20, 70), 4)
    cv2.rectangle(frame, (x + 4, y + 4), (x + w - 4, y + h - 4), _colour(rng, 100, 220), -1)
    cv2.line(frame, (x + 7, y + h - 8), (x + w // 2, y + 9), _colour(rng, 40, 120), 3)
    # A plant in a pot on the floor.
    px = rng.randint(width // 20, width - width // 20)
    pot = int(height * 0.05)
    cv2.rectangle(frame, (px - pot, floor - pot * 2), (px + pot, floor), _colour(rng, 60, 110), -1)
    cv2.ellipse(frame, (px, floor - pot * 3), (pot * 2, pot), 0, 0, 360, (60, 130, 70), -1)
    return frame


@functools.cache
def _portrait(scale: float) -> tuple[Image, npt.NDArray[np.float32]]:
    """The face photo at ``scale`` and its soft head-and-shoulders mask (0..1)."""
    face = face_image()
    size = (round(face.shape[1] * scale), round(face.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(face, size, interpolation=interpolation)
    w, h = size
    # The suit's folds below the collar ring are soft (out of the focal plane): sharp,
    # they fool the face detector at the frame's bottom edge now and then.
    soft_suit = cv2.GaussianBlur(image, (0, 0), 5.0 * scale)
    ramp = np.clip((np.arange(h, dtype=np.float32) / h - 0.74) / 0.08, 0, 1)[:, None, None]
    image = (image * (1 - ramp) + soft_suit * ramp + 0.5).astype(np.uint8)
    mask = np.zeros((h, w), dtype=np.uint8)
    cv2.ellipse(mask, (w // 2, int(h * 0.36)), (int(w * 0.36), int(h * 0.34)), 0, 0, 360, 255, -1)
    cv2.ellipse(mask, (w // 2, h), (int(w * 0.44), int(h * 0.4)), 0, 180, 360, 255, -1)
    soft = cv2.GaussianBlur(mask, (0, 0), max(2.0, 6.0 * scale)).astype(np.float32) / 255.0
    image.setflags(write=False)
    soft.setflags(write=False)
    return image, soft


def _paste_portrait(frame: Image, scale: float, centre: float, *, blur: float = 0.0) -> Image:
    """``frame`` with a person standing at ``centre`` (a fraction of its width),
    shoulders at its bottom edge; ``blur``: the person's Gaussian blur (sigma, pixels)."""
    image, mask = _portrait(round(scale, 3))
    if blur:
        image = _u8(cv2.GaussianBlur(image, (0, 0), blur * scale))
        mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), blur * scale), dtype=np.float32)
    h, w = mask.shape
    fh, fw = frame.shape[:2]
    left = round(fw * centre - w / 2)
    top = fh - h
    # The part of the portrait inside the frame.
    x0, y0 = max(0, -left), max(0, -top)
    x1, y1 = min(w, fw - left), min(h, fh - top)
    out = frame.copy()
    region = out[top + y0 : top + y1, left + x0 : left + x1].astype(np.float32)
    alpha = mask[y0:y1, x0:x1, None]
    blended = region * (1 - alpha) + image[y0:y1, x0:x1].astype(np.float32) * alpha
    out[top + y0 : top + y1, left + x0 : left + x1] = np.clip(blended + 0.5, 0, 255).astype(
        np.uint8
    )
    return out


def _document(width: int, height: int, rng: random.Random) -> Image:
    """A made-up identity card (``SPECIMEN``) on a dark tray."""
    frame = np.full((height, width, 3), _colour(rng, 35, 55), dtype=np.uint8)
    card_w = int(width * 0.78)
    card_h = int(card_w * 54 / 85.6)
    x, y = (width - card_w) // 2, (height - card_h) // 2
    card = _colour(rng, 200, 235)
    radius = card_w // 28
    cv2.rectangle(frame, (x + radius, y), (x + card_w - radius, y + card_h), card, -1)
    cv2.rectangle(frame, (x, y + radius), (x + card_w, y + card_h - radius), card, -1)
    for cx, cy in (
        (x + radius, y + radius),
        (x + card_w - radius, y + radius),
        (x + radius, y + card_h - radius),
        (x + card_w - radius, y + card_h - radius),
    ):
        cv2.circle(frame, (cx, cy), radius, card, -1)
    band = _colour(rng, 90, 150)
    cv2.rectangle(frame, (x + radius, y + radius), (x + card_w - radius, y + card_h // 6), band, -1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    ink = (40, 30, 30)
    unit = card_w / 500
    cv2.putText(
        frame,
        "SPECIMEN IDENTITY CARD",
        (x + int(30 * unit), y + card_h // 8),
        font,
        0.8 * unit,
        (250, 250, 250),
        2,
    )
    # A photo box with a featureless silhouette (no face a detector would find).
    px, py = x + int(25 * unit), y + card_h // 4
    pw, ph = int(120 * unit), int(150 * unit)
    cv2.rectangle(frame, (px, py), (px + pw, py + ph), (170, 180, 190), -1)
    cv2.circle(frame, (px + pw // 2, py + ph // 3), pw // 5, (110, 110, 120), -1)
    cv2.ellipse(
        frame, (px + pw // 2, py + ph), (pw // 2 - 4, ph // 3), 0, 180, 360, (110, 110, 120), -1
    )
    lines = ("NAME  SAMPLE PERSON", "BORN  01 01 1990", "NO.   X0000000", "VALID 2030 12 31")
    for n, text in enumerate(lines):
        cv2.putText(
            frame,
            text,
            (px + pw + int(25 * unit), py + int((28 + 38 * n) * unit)),
            font,
            0.7 * unit,
            ink,
            2,
        )
    # A barcode-like strip along the bottom.
    bx, by = x + int(25 * unit), y + card_h - int(55 * unit)
    cursor = bx
    while cursor < x + card_w - int(30 * unit):
        bar = rng.randint(2, 6)
        cv2.rectangle(frame, (cursor, by), (cursor + bar, by + int(30 * unit)), ink, -1)
        cursor += bar + rng.randint(2, 6)
    return frame


def _u8(image: object) -> Image:
    """``image`` (an OpenCV result) as a ``uint8`` array."""
    return np.asarray(image, dtype=np.uint8)


def _add_noise(frame: Image, rng: np.random.Generator, sigma: float) -> Image:
    noisy = frame.astype(np.float32) + rng.normal(0.0, sigma, frame.shape).astype(np.float32)
    return _u8(np.clip(noisy + 0.5, 0, 255))
