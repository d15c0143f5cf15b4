"""Card-like pictures for the simulated ID scanner's `scan_image`: small, generated,
deterministic.

A side is a 214x135 picture (the ID-1 card's 85.6 x 54 mm at 2.5 px/mm): a light
background tinted by the document's profile, a darker header band, a grey photo box on
the front, bars standing for the printed lines, and on the back of an MRZ document a
white band with dark blocks where the MRZ characters sit. It holds no personal data: no
text is drawn. PNG and BMP are written here (zlib and struct); JPEG goes through OpenCV
when it is installed (the ``camera`` extra), else it is not offered; OpenCV is
imported on the first JPEG only (its import starts native threads).
"""

from __future__ import annotations

import hashlib
import importlib.util
import struct
import zlib
from collections.abc import Callable

from hal.devices.id_scanner_model import ImageFormat, ImageSide

__all__ = ["HEIGHT", "WIDTH", "card_image", "image_formats"]

WIDTH = 214
HEIGHT = 135

_Rgb = tuple[int, int, int]


def image_formats() -> frozenset[ImageFormat]:
    """The formats this host can write (JPEG needs OpenCV)."""
    formats = {ImageFormat.PNG, ImageFormat.BMP}
    # Looked up, not imported: importing OpenCV (and numpy) starts native threads.
    if importlib.util.find_spec("cv2") is not None:
        formats.add(ImageFormat.JPEG)
    return frozenset(formats)


def _pixels(seed: str, side: ImageSide, mrz_lines: int) -> list[bytearray]:
    """Rows of RGB bytes."""
    tint = hashlib.sha256(seed.encode()).digest()
    background: _Rgb = (200 + tint[0] % 48, 200 + tint[1] % 48, 200 + tint[2] % 48)
    header: _Rgb = (60 + tint[3] % 80, 90 + tint[4] % 80, 120 + tint[5] % 80)
    ink: _Rgb = (40, 40, 48)
    rows = [bytearray(bytes(background) * WIDTH) for _ in range(HEIGHT)]

    def box(x0: int, y0: int, x1: int, y1: int, colour: _Rgb) -> None:
        line = bytes(colour) * (x1 - x0)
        for y in range(y0, y1):
            rows[y][x0 * 3 : x1 * 3] = line

    box(0, 0, WIDTH, 18, header)
    if side is ImageSide.FRONT:
        box(150, 28, 200, 92, (150, 150, 156))  # the photo's place
        for i in range(6):  # the printed fields
            box(12, 30 + i * 14, 60 + (tint[6 + i] % 70), 36 + i * 14, ink)
    else:
        for i in range(3):
            box(12, 30 + i * 12, 120 + (tint[12 + i] % 70), 35 + i * 12, ink)
    if mrz_lines:
        top = HEIGHT - 8 - 10 * mrz_lines
        box(6, top, WIDTH - 6, HEIGHT - 6, (250, 250, 250))
        for line in range(mrz_lines):
            y = top + 3 + line * 10
            for x in range(10, WIDTH - 12, 7):
                box(x, y, x + 5, y + 6, ink)
    return rows


def _png(rows: list[bytearray]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter 0 on every row
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _bmp(rows: list[bytearray]) -> bytes:
    stride = (WIDTH * 3 + 3) & ~3
    pad = b"\x00" * (stride - WIDTH * 3)
    body = bytearray()
    for row in reversed(rows):  # bottom-up, BGR
        bgr = bytearray(row)
        bgr[0::3], bgr[2::3] = row[2::3], row[0::3]
        body += bgr + pad
    info = struct.pack("<IiiHHIIiiII", 40, WIDTH, HEIGHT, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(body), 0, 0, 14 + len(info))
    return header + info + bytes(body)


def _jpeg(rows: list[bytearray]) -> bytes:
    import cv2
    import numpy as np

    image = np.frombuffer(b"".join(bytes(row) for row in rows), dtype=np.uint8)
    bgr = image.reshape(HEIGHT, WIDTH, 3)[:, :, ::-1]
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode the JPEG")
    return bytes(encoded.tobytes())


_WRITERS: dict[ImageFormat, Callable[[list[bytearray]], bytes]] = {
    ImageFormat.PNG: _png,
    ImageFormat.BMP: _bmp,
    ImageFormat.JPEG: _jpeg,
}


def card_image(seed: str, side: ImageSide, format: ImageFormat, *, mrz_lines: int = 0) -> bytes:
    """A ``WIDTH`` x ``HEIGHT`` picture of one side of a card, encoded.

    Args:
        seed: makes each document's tint its own (a profile's name).
        side: front (a photo box) or back.
        format: PNG, BMP or JPEG (JPEG needs OpenCV).
        mrz_lines: MRZ lines to draw as blocks at the bottom (0: none).

    Raises:
        ValueError: a format this module cannot write.
    """
    writer = _WRITERS.get(format)
    if writer is None:
        raise ValueError(f"cannot write a {format.value} image")
    return writer(_pixels(seed, side, mrz_lines))
