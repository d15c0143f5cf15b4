"""Tests for protocols.pinblock: ISO 9564-1 formats 0-4, golden vectors and bad input."""

from __future__ import annotations

import base64

import pytest

from protocols.crypto_primitives import Algorithm, CryptoError, KeyLengthError, encrypt_ecb
from protocols.errors import Completion
from protocols.pinblock import (
    Format4Fields,
    PanError,
    PinBlockError,
    PinBlockFormat,
    PinError,
    build_clear_block,
    build_format4_fields,
    decipher_iso4,
    decipher_pin_block,
    encipher_iso4,
    encipher_pin_block,
    pan_field_iso0,
    pan_field_iso4,
    pin_field_iso4,
    recover_pin,
)
from tests.protocols.crypto_oracles import STRICT_WARNINGS

pytestmark = STRICT_WARNINGS

# (format, PIN, PAN, fill, clear block, source)
CLEAR_VECTORS = [
    (0, "1234", "43219876543210987", None, "0412AC89ABCDEF67", "reference §4.2 and §7 #39, V"),
    (0, "1234", "4111111111111111", None, "041225EEEEEEEEEE", "reference §4.2, computed"),
    (3, "1234", "4111111111111111", "ABCDEFABCD", "341225BADCFEBADC", "reference §4.2, computed"),
    (0, "1234", "4000001234567899", None, "041234FEDCBA9876", "psec ISO-0 test (ecosystem §8)"),
    (2, "1234", None, None, "241234FFFFFFFFFF", "ISO 9564-1 format 2 construction (§4.2)"),
    (1, "1234", None, "0123456789", "1412340123456789", "ISO 9564-1 format 1 construction (§4.2)"),
]


@pytest.mark.parametrize(("fmt", "pin", "pan", "fill", "block", "source"), CLEAR_VECTORS)
def test_clear_block_vectors(
    fmt: int, pin: str, pan: str | None, fill: str | None, block: str, source: str
) -> None:
    assert build_clear_block(fmt, pin, pan, fill=fill).hex().upper() == block, source
    assert recover_pin(fmt, bytes.fromhex(block), pan) == pin, source


def test_format0_fields_of_the_published_example() -> None:
    # Reference §4.2: 041234FFFFFFFFFF XOR 0000987654321098.
    assert pan_field_iso0("43219876543210987").hex().upper() == "0000987654321098"
    assert build_clear_block(2, "1234")[0:1] == b"\x24"  # same PIN field, control 2


FORMAT4_FIELD_VECTORS = [
    # (PIN, PAN, PIN field prefix (8 bytes) or None, PAN field or None, source)
    ("12345", None, "451234 5AAAAAAAAA", None, "openemv/dukpt pinblock_format4_test.c (§4.2)"),
    (None, "411111111111111", None, "34111111111111110000000000000000", "openemv/dukpt (§4.2)"),
    (None, "123456789", None, "00001234567890000000000000000000", "openemv/dukpt (§4.2)"),
    (None, "4111111111111111111", None, "74111111111111111111000000000000", "M = 7, computed"),
]


@pytest.mark.parametrize(("pin", "pan", "pin_field", "pan_field", "source"), FORMAT4_FIELD_VECTORS)
def test_format4_field_vectors(
    pin: str | None, pan: str | None, pin_field: str | None, pan_field: str | None, source: str
) -> None:
    if pin is not None and pin_field is not None:
        fill = bytes.fromhex("0102030405060708")
        field = pin_field_iso4(pin, fill=fill)
        assert field[:8] == bytes.fromhex(pin_field.replace(" ", "")), source
        assert field[8:] == fill
    if pan is not None and pan_field is not None:
        assert pan_field_iso4(pan).hex().upper() == pan_field, source


def test_format4_encipher_follows_the_reference_construction() -> None:
    # §4.2: A = AES_K(PIN field); B = A XOR PAN field; block = AES_K(B). Built step by step
    # here with the raw ECB primitive, against the one-call function with the same fill.
    key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    fill = bytes.fromhex("1122334455667788")
    fields = build_format4_fields("2468013", "4111111111111111", fill=fill)
    a = encrypt_ecb(Algorithm.AES, key, fields.pin_field)
    b = bytes(x ^ y for x, y in zip(a, fields.pan_field, strict=True))
    expected = encrypt_ecb(Algorithm.AES, key, b)
    assert encipher_iso4(key, "2468013", "4111111111111111", fill=fill) == expected
    assert decipher_iso4(key, expected, "4111111111111111") == "2468013"


def test_random_fill_differs_between_blocks() -> None:
    pan = "4111111111111111"
    key = bytes(16)
    assert len({build_clear_block(1, "1234").hex() for _ in range(8)}) > 1
    assert len({build_clear_block(3, "1234", pan).hex() for _ in range(8)}) > 1
    assert len({encipher_iso4(key, "1234", pan).hex() for _ in range(8)}) == 8
    assert len({build_clear_block(0, "1234", pan).hex() for _ in range(3)}) == 1


def test_format3_random_fill_is_a_to_f() -> None:
    pan = "0000000000000000"  # PAN field all zero: the block shows the fill itself
    for _ in range(20):
        block = build_clear_block(3, "1234", pan).hex().upper()
        assert set(block[6:]) <= set("ABCDEF")


@pytest.mark.parametrize("fmt", [0, 1, 2, 3, 4])
def test_enciphered_round_trip_each_format(fmt: int) -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    pan = "4111111111111111" if fmt in (0, 3, 4) else None
    block = encipher_pin_block(fmt, key, "97531", pan)
    assert len(block) == (16 if fmt == 4 else 8)
    assert decipher_pin_block(fmt, key, block, pan) == "97531"


@pytest.mark.parametrize(
    "pin", ["123", "1234567890123", "12a4", "", "１２３４", " 1234", "12.4", "+1234"]
)
def test_bad_pins_refused(pin: str) -> None:
    with pytest.raises(PinError) as info:
        build_clear_block(0, pin, "4111111111111111")
    assert info.value.completion is Completion.INVALID_DATA
    with pytest.raises(PinError):
        pin_field_iso4(pin)


@pytest.mark.parametrize("pan", ["411111111111111A", "", "1234567", "12345678901234567890", "4 11"])
def test_bad_pans_refused_format0(pan: str) -> None:
    with pytest.raises(PanError):
        build_clear_block(0, "1234", pan)


@pytest.mark.parametrize("pan", ["", "41111111111111111111", "4111-1111", "x"])
def test_bad_pans_refused_format4(pan: str) -> None:
    with pytest.raises(PanError):
        encipher_iso4(bytes(16), "1234", pan)


def test_structural_mistakes_refused() -> None:
    with pytest.raises(PanError):
        build_clear_block(0, "1234")
    with pytest.raises(PanError):
        build_clear_block(1, "1234", "4111111111111111")
    with pytest.raises(PinBlockError):
        build_clear_block(4, "1234", "4111111111111111")
    with pytest.raises(PinBlockError):
        build_clear_block(5, "1234", "4111111111111111")
    with pytest.raises(PinBlockError):
        build_clear_block(0, "1234", "4111111111111111", fill="ABCDEFABCD")
    with pytest.raises(PinBlockError):
        build_clear_block(3, "1234", "4111111111111111", fill="0BCDEFABCD")  # 0 is not A-F
    with pytest.raises(PinBlockError):
        build_clear_block(1, "1234", fill="ABC")
    with pytest.raises(PinBlockError):
        pin_field_iso4("1234", fill=b"short")
    with pytest.raises(PinBlockError):
        recover_pin(0, bytes(7), "4111111111111111")
    with pytest.raises(PinBlockError):
        decipher_iso4(bytes(16), bytes(8), "4111111111111111")
    with pytest.raises(PinBlockError):
        encipher_pin_block(0, bytes(16), "1234", "4111111111111111", algorithm=Algorithm.AES)
    with pytest.raises(PinBlockError):
        encipher_pin_block(4, bytes(16), "1234", "4111111111111111", algorithm=Algorithm.SM4)
    with pytest.raises(KeyLengthError):
        encipher_iso4(bytes(8), "1234", "4111111111111111")


@pytest.mark.parametrize(
    ("fmt", "block", "pan"),
    [
        (0, "1412AC89ABCDEF67", "43219876543210987"),  # control nibble 1, not 0
        (0, "0312AC89ABCDEF67", "43219876543210987"),  # PIN length 3
        (0, "0412AC89ABCDEF66", "43219876543210987"),  # fill not F
        (0, "0412AC89ABCDEF67", "43219876543210997"),  # another PAN: fill no longer F
        (2, "2412A4FFFFFFFFFF", None),  # a PIN digit that is not a digit
        (3, "3412251111111111", "4111111111111111"),  # fill 0 after unXOR: not A-F
    ],
)
def test_malformed_blocks_refused(fmt: int, block: str, pan: str | None) -> None:
    with pytest.raises(PinBlockError):
        recover_pin(fmt, bytes.fromhex(block), pan)


def test_check_digit_is_outside_the_pan_field() -> None:
    block = bytes.fromhex("0412AC89ABCDEF67")  # reference §7 #39
    assert recover_pin(0, block, "43219876543210980") == "1234"


def test_format4_with_wrong_key_or_pan_refused() -> None:
    key = bytes(range(16))
    block = encipher_iso4(key, "8642", "4111111111111111")
    with pytest.raises(PinBlockError):
        decipher_iso4(bytes(16), block, "4111111111111111")
    with pytest.raises(PinBlockError):
        decipher_iso4(key, block, "4111111111111112")


DISTINCTIVE_PIN = "7305"
DISTINCTIVE_PAN = "5480123498761234"


def _forms(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        raw.hex(),
        raw.hex().upper(),
        value.encode("utf-16-le").hex(),
        base64.b64encode(raw).decode(),
    ]


def test_no_pin_or_pan_in_errors_or_reprs() -> None:
    texts: list[str] = []
    fields = build_format4_fields(DISTINCTIVE_PIN, DISTINCTIVE_PAN)
    assert isinstance(fields, Format4Fields)
    texts += [repr(fields), str(fields), f"{fields}", f"{fields!r}"]
    attempts = [
        lambda: build_clear_block(0, DISTINCTIVE_PIN + "x", DISTINCTIVE_PAN),
        lambda: build_clear_block(0, DISTINCTIVE_PIN, DISTINCTIVE_PAN + "x"),
        lambda: build_clear_block(0, DISTINCTIVE_PIN, DISTINCTIVE_PAN + "123456"),
        lambda: build_clear_block(1, DISTINCTIVE_PIN, DISTINCTIVE_PAN),
        lambda: encipher_iso4(bytes(16), DISTINCTIVE_PIN * 4, DISTINCTIVE_PAN),
        lambda: recover_pin(0, build_clear_block(0, DISTINCTIVE_PIN, DISTINCTIVE_PAN), "4" * 16),
        lambda: decipher_iso4(
            bytes(16), encipher_iso4(bytes(range(16)), DISTINCTIVE_PIN, DISTINCTIVE_PAN), "4" * 16
        ),
        lambda: encipher_pin_block(0, b"\x73\x05" * 3, DISTINCTIVE_PIN, DISTINCTIVE_PAN),
    ]
    for attempt in attempts:
        with pytest.raises(CryptoError) as info:
            attempt()
        err = info.value
        texts += [str(err), repr(err), err.message, str(err.__cause__), str(err.__context__)]
    blob = "\n".join(texts)
    assert "7305" not in blob
    for secret in (DISTINCTIVE_PIN, DISTINCTIVE_PAN, DISTINCTIVE_PAN[-13:-1]):
        for form in _forms(secret):
            assert form not in blob


def test_format_enum() -> None:
    assert [f.value for f in PinBlockFormat] == [0, 1, 2, 3, 4]
