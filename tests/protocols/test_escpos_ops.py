"""The ESC/POS decoder's operation types: immutable, the derived views right."""

from __future__ import annotations

import dataclasses

import pytest

from protocols.escpos_ops import (
    Barcode,
    Presenter,
    RasterImage,
    Text,
    TextStyle,
    Underline,
    code128_text,
)


def test_operations_are_frozen_and_compare_by_value() -> None:
    style = TextStyle(bold=True, underline=Underline.SINGLE, width=2)
    assert Text("TOTAL", style) == Text("TOTAL", TextStyle(True, Underline.SINGLE, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        style.bold = False  # type: ignore[misc]
    assert style.double_width
    assert not style.double_height


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"{BABC-123", "ABC-123"),  # code set B, as the encoder and the manual send it
        (b"{C\x0c\x22\x38", "123456"),  # code set C: one byte per digit pair
        (b"{BNo.{C\x0c\x22", "No.1234"),  # switching sets mid-data
        (b"{B{{x{1", "{x"),  # {{ is a literal brace, {1 FNC1 prints nothing
        (b"plain", "plain"),  # no selector: read as set B
    ],
)
def test_code128_text_follows_the_code_sets(data: bytes, text: str) -> None:
    assert code128_text(data) == text
    assert Barcode("CODE128", data, 73).text == text


def test_other_symbologies_read_as_ascii() -> None:
    assert Barcode("EAN13", b"4006381333931", 2).text == "4006381333931"


def test_raster_image_dots_msb_left() -> None:
    image = RasterImage(10, 2, bytes([0x80, 0x40, 0x00, 0x01]))
    assert image.row_bytes == 2
    assert [image.dot(x, 0) for x in (0, 1, 9)] == [True, False, True]
    assert [image.dot(x, 1) for x in (0, 15)] == [False, True]
    assert "pixels" not in repr(image)


def test_presenter_actions() -> None:
    assert [Presenter(n).action for n in (2, 3, 5, 9)] == ["retract", "present", "eject", "n=9"]
