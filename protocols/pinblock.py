"""ISO 9564-1 PIN blocks, formats 0 to 4 (reference protocols.md §4.2).

Formats 0-3 are 8-byte clear blocks (enciphered by the caller, usually under TDES):

- format 0: PIN field ``0 N P..P F..F`` XOR PAN field ``0000`` + the 12 right-most PAN digits
  excluding the check digit (left-padded with zeros if the PAN is short);
- format 1: ``1 N P..P R..R``, random (or transaction-unique) fill, no PAN;
- format 2: ``2 N P..P F..F``, no PAN (ICC offline PIN verification);
- format 3: as format 0 but with random fill nibbles A-F.

Format 4 (AES) has a 16-byte PIN field ``4 N P..P A..A`` + 8 random bytes and a 16-byte PAN
field ``M`` + PAN (right-justified in 12 nibbles when short) + zeros; the block is
``AES_K(AES_K(PIN field) XOR PAN field)``.

Fill for formats 1, 3 and 4 comes from `secrets` unless a test injects it. A PIN is a string
of 4 to 12 ASCII digits; a PAN a string of ASCII digits. No error message and no ``repr``
here carries a PIN, a PAN, a PIN block or a key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import IntEnum

from protocols.crypto_primitives import (
    Algorithm,
    CryptoError,
    as_algorithm,
    decrypt_ecb,
    encrypt_ecb,
    xor_bytes,
)


class PinError(CryptoError):
    """A PIN that is not 4 to 12 decimal digits."""


class PanError(CryptoError):
    """A PAN (or other account data) that is missing, not digits, or of the wrong length."""


class PinBlockError(CryptoError):
    """A PIN block (or fill) of the wrong size, or one that does not decode as its format."""


class PinBlockFormat(IntEnum):
    """ISO 9564-1 PIN block formats."""

    ISO_0 = 0
    ISO_1 = 1
    ISO_2 = 2
    ISO_3 = 3
    ISO_4 = 4


PIN_MIN = 4
PIN_MAX = 12
#: PAN lengths accepted for formats 0 and 3 (ISO/IEC 7812 allows 8 to 19 digits).
PAN_MIN_ISO0 = 8
#: PAN lengths accepted for format 4 (ISO 9564-1: M encodes 0..7 digits beyond 12).
PAN_MIN_ISO4 = 1
PAN_MAX = 19

_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789ABCDEF")
_HEX_AF = frozenset("ABCDEF")


def _is_digits(value: object) -> bool:
    return isinstance(value, str) and bool(value) and set(value) <= _DIGITS


def check_pin(pin: str) -> None:
    """Raise `PinError` unless `pin` is 4 to 12 ASCII digits (the message never echoes it)."""
    if not _is_digits(pin) or not PIN_MIN <= len(pin) <= PIN_MAX:
        raise PinError(f"PIN must be {PIN_MIN} to {PIN_MAX} decimal digits")


def check_pan(pan: str, minimum: int = PAN_MIN_ISO0) -> None:
    """Raise `PanError` unless `pan` is `minimum` to 19 ASCII digits (never echoed)."""
    if not _is_digits(pan):
        raise PanError("PAN must be a string of decimal digits")
    if not minimum <= len(pan) <= PAN_MAX:
        raise PanError(f"PAN must be {minimum} to {PAN_MAX} digits long, got {len(pan)}")


def _random_nibbles(count: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(count))


def _fill_for(fmt: PinBlockFormat, count: int, fill: str | None) -> str:
    """The fill nibbles after the PIN: fixed F for 0/2, random 0-F for 1, random A-F for 3."""
    if fmt in (PinBlockFormat.ISO_0, PinBlockFormat.ISO_2):
        if fill is not None:
            raise PinBlockError(f"format {fmt.value} has a fixed fill; none may be given")
        return "F" * count
    alphabet = "0123456789ABCDEF" if fmt is PinBlockFormat.ISO_1 else "ABCDEF"
    if fill is None:
        return _random_nibbles(count, alphabet)
    fill = fill.upper() if isinstance(fill, str) else ""
    if len(fill) != count or not set(fill) <= set(alphabet):
        raise PinBlockError(
            f"format {fmt.value} fill must be {count} nibbles from {alphabet[0]}-{alphabet[-1]}"
        )
    return fill


def pan_field_iso0(pan: str) -> bytes:
    """The format 0/3 PAN field: 0000 + 12 right-most digits excluding the check digit."""
    check_pan(pan, PAN_MIN_ISO0)
    digits = pan[:-1][-12:].rjust(12, "0")
    return bytes.fromhex("0000" + digits)


def build_clear_block(
    fmt: PinBlockFormat | int,
    pin: str,
    pan: str | None = None,
    *,
    fill: str | None = None,
) -> bytes:
    """The 8-byte clear ISO 9564-1 PIN block of format 0, 1, 2 or 3.

    `pan` is required for formats 0 and 3 and refused for 1 and 2. `fill` (hex nibbles, one
    per unused PIN position) is for golden tests of formats 1 and 3; by default the fill is
    drawn from `secrets`.
    """
    fmt = _format(fmt)
    if fmt is PinBlockFormat.ISO_4:
        raise PinBlockError("format 4 is 16 bytes: use build_format4_fields or encipher_iso4")
    check_pin(pin)
    pin_field = bytes.fromhex(
        f"{fmt.value:X}{len(pin):X}{pin}{_fill_for(fmt, 14 - len(pin), fill)}"
    )
    if fmt in (PinBlockFormat.ISO_0, PinBlockFormat.ISO_3):
        if pan is None:
            raise PanError(f"format {fmt.value} needs a PAN")
        return xor_bytes(pin_field, pan_field_iso0(pan))
    if pan is not None:
        raise PanError(f"format {fmt.value} takes no PAN")
    return pin_field


def recover_pin(fmt: PinBlockFormat | int, block: bytes, pan: str | None = None) -> str:
    """The PIN from an 8-byte clear block of format 0-3; `PinBlockError` if it does not decode.

    Formats 0 and 3 need the PAN the block was built with; a wrong PAN almost always shows as
    a malformed block.
    """
    fmt = _format(fmt)
    if fmt is PinBlockFormat.ISO_4:
        raise PinBlockError("format 4 blocks are enciphered: use decipher_iso4")
    if not isinstance(block, bytes | bytearray) or len(block) != 8:
        raise PinBlockError("a format 0-3 PIN block is 8 bytes")
    if fmt in (PinBlockFormat.ISO_0, PinBlockFormat.ISO_3):
        if pan is None:
            raise PanError(f"format {fmt.value} needs a PAN")
        field = xor_bytes(bytes(block), pan_field_iso0(pan)).hex().upper()
    else:
        if pan is not None:
            raise PanError(f"format {fmt.value} takes no PAN")
        field = bytes(block).hex().upper()
    pin = _pin_from_field(fmt, field)
    rest = field[2 + len(pin) :]
    allowed = {
        PinBlockFormat.ISO_0: frozenset("F"),
        PinBlockFormat.ISO_1: _HEX,
        PinBlockFormat.ISO_2: frozenset("F"),
        PinBlockFormat.ISO_3: _HEX_AF,
    }[fmt]
    if not set(rest) <= allowed:
        raise PinBlockError(f"PIN block does not decode as format {fmt.value}: bad fill")
    return pin


def _pin_from_field(fmt: PinBlockFormat, field: str) -> str:
    """Control nibble, length nibble and PIN digits of a hex PIN field, checked."""
    if field[0] != f"{fmt.value:X}":
        raise PinBlockError(f"PIN block does not decode as format {fmt.value}: control field")
    length = int(field[1], 16)
    if not PIN_MIN <= length <= PIN_MAX:
        raise PinBlockError(f"PIN block does not decode as format {fmt.value}: PIN length")
    pin = field[2 : 2 + length]
    if not set(pin) <= _DIGITS:
        raise PinBlockError(f"PIN block does not decode as format {fmt.value}: PIN digits")
    return pin


def _format(fmt: PinBlockFormat | int) -> PinBlockFormat:
    try:
        return PinBlockFormat(fmt)
    except ValueError:
        raise PinBlockError("PIN block format must be 0, 1, 2, 3 or 4") from None


# --- format 4 -------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Format4Fields:
    """The two 16-byte plain fields of an ISO 9564-1 format 4 block (secret: no repr)."""

    pin_field: bytes
    pan_field: bytes

    def __repr__(self) -> str:
        return "Format4Fields(<secret>)"

    __str__ = __repr__


def pin_field_iso4(pin: str, *, fill: bytes | None = None) -> bytes:
    """The 16-byte format 4 plain PIN field: ``4 N P..P A..A`` + 8 random bytes."""
    check_pin(pin)
    if fill is None:
        fill = secrets.token_bytes(8)
    elif not isinstance(fill, bytes | bytearray) or len(fill) != 8:
        raise PinBlockError("format 4 fill must be 8 bytes")
    return bytes.fromhex(f"4{len(pin):X}{pin}".ljust(16, "A")) + bytes(fill)


def pan_field_iso4(pan: str) -> bytes:
    """The 16-byte format 4 plain PAN field: M + PAN (at least 12 nibbles) + zeros."""
    check_pan(pan, PAN_MIN_ISO4)
    text = f"{max(0, len(pan) - 12)}{pan.rjust(12, '0')}".ljust(32, "0")
    return bytes.fromhex(text)


def build_format4_fields(pin: str, pan: str, *, fill: bytes | None = None) -> Format4Fields:
    """Both plain fields of a format 4 block; `fill` (8 bytes) only for golden tests."""
    return Format4Fields(pin_field_iso4(pin, fill=fill), pan_field_iso4(pan))


def encipher_iso4(key: bytes, pin: str, pan: str, *, fill: bytes | None = None) -> bytes:
    """The enciphered 16-byte format 4 block: AES_K(AES_K(PIN field) XOR PAN field)."""
    fields = build_format4_fields(pin, pan, fill=fill)
    intermediate = encrypt_ecb(Algorithm.AES, key, fields.pin_field)
    return encrypt_ecb(Algorithm.AES, key, xor_bytes(intermediate, fields.pan_field))


def decipher_iso4(key: bytes, block: bytes, pan: str) -> str:
    """The PIN from an enciphered format 4 block; `PinBlockError` if it does not decode."""
    if not isinstance(block, bytes | bytearray) or len(block) != 16:
        raise PinBlockError("a format 4 PIN block is 16 bytes")
    pan_field = pan_field_iso4(pan)
    intermediate = xor_bytes(decrypt_ecb(Algorithm.AES, key, bytes(block)), pan_field)
    field = decrypt_ecb(Algorithm.AES, key, intermediate)[:8].hex().upper()
    pin = _pin_from_field(PinBlockFormat.ISO_4, field)
    if set(field[2 + len(pin) :]) - {"A"}:
        raise PinBlockError("PIN block does not decode as format 4: bad fill")
    return pin


# --- any format, enciphered -----------------------------------------------------------


def encipher_pin_block(
    fmt: PinBlockFormat | int,
    key: bytes,
    pin: str,
    pan: str | None = None,
    *,
    algorithm: Algorithm | None = None,
) -> bytes:
    """An enciphered PIN block: formats 0-3 under TDES in ECB, format 4 under AES.

    `algorithm` defaults to the one the format uses; any other is refused (an 8-byte block
    under a 16-byte-block cipher is not an ISO 9564-1 construction).
    """
    fmt = _format(fmt)
    expected = Algorithm.AES if fmt is PinBlockFormat.ISO_4 else Algorithm.TDES
    if algorithm is not None and as_algorithm(algorithm) is not expected:
        raise PinBlockError(f"format {fmt.value} is enciphered with {expected.value} only")
    if fmt is PinBlockFormat.ISO_4:
        if pan is None:
            raise PanError("format 4 needs a PAN")
        return encipher_iso4(key, pin, pan)
    return encrypt_ecb(Algorithm.TDES, key, build_clear_block(fmt, pin, pan))


def decipher_pin_block(
    fmt: PinBlockFormat | int,
    key: bytes,
    block: bytes,
    pan: str | None = None,
) -> str:
    """The PIN from a block made by `encipher_pin_block` (TDES for 0-3, AES for 4)."""
    fmt = _format(fmt)
    if fmt is PinBlockFormat.ISO_4:
        if pan is None:
            raise PanError("format 4 needs a PAN")
        return decipher_iso4(key, block, pan)
    if not isinstance(block, bytes | bytearray) or len(block) != 8:
        raise PinBlockError("a format 0-3 PIN block is 8 bytes")
    return recover_pin(fmt, decrypt_ecb(Algorithm.TDES, key, bytes(block)), pan)
