"""Property tests for protocols.pinblock, with psec as an independent oracle."""

from __future__ import annotations

import psec.des
import psec.pinblock
from hypothesis import given
from hypothesis import strategies as st

from protocols.crypto_primitives import Algorithm, decrypt_ecb
from protocols.pinblock import (
    PinBlockError,
    build_clear_block,
    decipher_iso4,
    decipher_pin_block,
    encipher_iso4,
    encipher_pin_block,
    pan_field_iso4,
    pin_field_iso4,
    recover_pin,
)
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored

pytestmark = STRICT_WARNINGS

pins = st.text("0123456789", min_size=4, max_size=12)
pans_iso0 = st.text("0123456789", min_size=13, max_size=19)  # psec needs 13+
pans_any0 = st.text("0123456789", min_size=8, max_size=19)
pans_iso4 = st.text("0123456789", min_size=1, max_size=19)
tdes_keys = st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@given(pins, pans_any0)
def test_format0_and_3_round_trip(pin: str, pan: str) -> None:
    assert recover_pin(0, build_clear_block(0, pin, pan), pan) == pin
    assert recover_pin(3, build_clear_block(3, pin, pan), pan) == pin


@given(pins)
def test_format1_and_2_round_trip(pin: str) -> None:
    assert recover_pin(1, build_clear_block(1, pin), None) == pin
    assert recover_pin(2, build_clear_block(2, pin), None) == pin


@given(pins, pans_iso0)
def test_format0_against_psec(pin: str, pan: str) -> None:
    ours = build_clear_block(0, pin, pan)
    assert ours == psec.pinblock.encode_pinblock_iso_0(pin, pan)
    assert psec.pinblock.decode_pinblock_iso_0(ours, pan) == pin


@given(pins, pans_iso0)
def test_format3_against_psec(pin: str, pan: str) -> None:
    # Both sides draw their own random fill, so each decodes the other's block.
    theirs = psec.pinblock.encode_pinblock_iso_3(pin, pan)
    assert recover_pin(3, theirs, pan) == pin
    ours = build_clear_block(3, pin, pan)
    assert psec.pinblock.decode_pinblock_iso_3(ours, pan) == pin


@given(pins, st.text("ABCDEF", min_size=14, max_size=14), pans_iso0)
def test_format3_with_fill_equals_psec_layout(pin: str, fill: str, pan: str) -> None:
    # With the fill fixed, format 3 is format 0 with F replaced by the fill: check against psec
    # format 0 XORed back to the PIN field.
    ours = build_clear_block(3, pin, pan, fill=fill[: 14 - len(pin)])
    iso0 = psec.pinblock.encode_pinblock_iso_0(pin, pan)
    pin_field_0 = bytes(a ^ b for a, b in zip(iso0, ours, strict=True)).hex().upper()
    # XOR of the two blocks cancels the PAN field: only control and fill nibbles differ.
    assert pin_field_0[0] == "3"
    expected_fill = "".join(f"{int(c, 16) ^ 0xF:X}" for c in fill[: 14 - len(pin)])  # F xor fill
    assert pin_field_0[2 + len(pin) :] == expected_fill
    assert set(pin_field_0[1 : 2 + len(pin)]) == {"0"}


@given(pins, pans_iso4)
def test_format4_fields_against_psec(pin: str, pan: str) -> None:
    assert pan_field_iso4(pan) == psec.pinblock.encode_pan_field_iso_4(pan)
    theirs = psec.pinblock.encode_pin_field_iso_4(pin)
    assert pin_field_iso4(pin)[:8] == theirs[:8]
    assert psec.pinblock.decode_pin_field_iso_4(pin_field_iso4(pin)) == pin


@given(aes_keys, pins, pans_iso4)
def test_format4_against_psec(key: bytes, pin: str, pan: str) -> None:
    theirs = psec.pinblock.encipher_pinblock_iso_4(key, pin, pan)
    assert decipher_iso4(key, theirs, pan) == pin
    ours = encipher_iso4(key, pin, pan)
    assert psec.pinblock.decipher_pinblock_iso_4(key, ours, pan) == pin


@given(aes_keys, pins, pans_iso4, st.binary(min_size=8, max_size=8))
def test_format4_inner_field_is_the_plain_pin_field(
    key: bytes, pin: str, pan: str, fill: bytes
) -> None:
    block = encipher_iso4(key, pin, pan, fill=fill)
    inner = decrypt_ecb(Algorithm.AES, key, block)
    a = bytes(x ^ y for x, y in zip(inner, pan_field_iso4(pan), strict=True))
    assert decrypt_ecb(Algorithm.AES, key, a) == pin_field_iso4(pin, fill=fill)


@given(tdes_keys, pins, pans_iso0)
def test_enciphered_format0_against_psec(key: bytes, pin: str, pan: str) -> None:
    ours = encipher_pin_block(0, key, pin, pan)
    if len(key) != 8:  # psec's TDES takes double and triple length keys only
        with oracle_warnings_ignored():
            theirs = psec.des.encrypt_tdes_ecb(key, psec.pinblock.encode_pinblock_iso_0(pin, pan))
        assert ours == theirs
    assert decipher_pin_block(0, key, ours, pan) == pin


@given(pins)
def test_format2_against_psec(pin: str) -> None:
    # Format 2 (ICC offline PIN) has no PAN and no random fill: the blocks are equal.
    ours = build_clear_block(2, pin)
    assert ours == psec.pinblock.encode_pinblock_iso_2(pin)
    assert psec.pinblock.decode_pinblock_iso_2(ours) == pin
    assert recover_pin(2, psec.pinblock.encode_pinblock_iso_2(pin)) == pin


@given(pins, st.integers(0, 15), st.integers(0, 15))
def test_format2_decoders_agree_with_psec_on_a_changed_nibble(
    pin: str, position: int, nibble: int
) -> None:
    # One nibble of a good block set to any value: a block psec decodes we decode to the
    # same PIN, and a block psec refuses (control, length, a non-digit, the F filler) we
    # refuse too, with our typed error.
    nibbles = list(build_clear_block(2, pin).hex().upper())
    nibbles[position] = f"{nibble:X}"
    block = bytes.fromhex("".join(nibbles))
    try:
        theirs: str | None = psec.pinblock.decode_pinblock_iso_2(block)
    except ValueError:
        theirs = None
    try:
        ours: str | None = recover_pin(2, block)
    except PinBlockError:
        ours = None
    assert ours == theirs
