"""Tests for protocols.checksums: BCC and the track LRC core."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.checksums import bcc_xor, xor_of_values

# (input hex, BCC over all of it, source). The CRT-310 rows are the frames of reference
# §7 #16 without their last byte: the expected BCC is the published last byte.
BCC_VECTORS = [
    ("02 00 02 30 30 03", 0x03, "reference §7 #16 reset, V/C"),
    ("02 00 02 32 2F 03", 0x1E, "reference §7 #16 move to IC, V/C"),
    ("02 00 04 45 30 30 37 03", 0x77, "reference §7 #16 read tracks, V/C"),
    ("02 00 05 31 30 4E 4A 4A 03", 0x4B, "reference §7 #17 status reply, C"),
    ("", 0x00, "empty input, by definition"),
]


def loop_xor(data: bytes) -> int:
    """An independent XOR written as a plain loop."""
    acc = 0
    for byte in data:
        acc = acc ^ byte
    return acc


@pytest.mark.parametrize(("hex_in", "expected", "source"), BCC_VECTORS)
def test_bcc_vectors(hex_in: str, expected: int, source: str) -> None:
    assert bcc_xor(bytes.fromhex(hex_in)) == expected, source


@given(st.binary(max_size=300))
def test_bcc_matches_independent_loop(data: bytes) -> None:
    assert bcc_xor(data) == loop_xor(data)
    assert bcc_xor(bytearray(data)) == bcc_xor(memoryview(data))


@given(st.binary(min_size=1, max_size=64))
def test_appending_the_bcc_gives_zero(data: bytes) -> None:
    assert bcc_xor(data + bytes((bcc_xor(data),))) == 0


def test_xor_of_values_subtracts_the_base() -> None:
    # ';' '1' '?' on track 2: values 0xB, 0x1, 0xF -> 0xB ^ 0x1 ^ 0xF = 0x5
    assert xor_of_values(b";1?", 0x30) == 0x5


def test_xor_of_values_rejects_bytes_below_the_base() -> None:
    with pytest.raises(ValueError, match="below the character base"):
        xor_of_values(b"1 ", 0x30)
