"""Message authentication codes for PIN pads and hosts: ISO/IEC 9797-1 and CMAC.

Three MAC algorithms over the block ciphers of `protocols.crypto_primitives` (TDES, AES, SM4;
every block operation is `cryptography`'s, none is written here):

- **ISO/IEC 9797-1 MAC algorithm 1** (`MacAlgorithm.ISO9797_1`, CBC-MAC): the data, padded,
  is CBC-encrypted under the key with a zero IV; the last cipher block is the MAC. The cipher
  is the one given: a 16-byte TDES key means TDES throughout, an 8-byte key single DES.
- **ISO/IEC 9797-1 MAC algorithm 3** (`MacAlgorithm.ISO9797_3`, the ANSI X9.19 "retail MAC"):
  a double-length TDES key K || K'. Single DES CBC under K over every block, then the last
  block is decrypted under K' and encrypted again under K. TDES only, 16-byte keys only.
- **CMAC** (`MacAlgorithm.CMAC`, NIST SP 800-38B, also ISO/IEC 9797-1 algorithm 5): AES and
  TDES; SM4 through the same construction (`cryptography` accepts it) with no published
  vector found, so SM4-CMAC is unverified [U].

Padding (ISO/IEC 9797-1) for algorithms 1 and 3, `MacPadding`:

- method 1: zero bytes up to a whole block (none if the data already fills whole blocks);
- method 2: one 0x80 byte, then zero bytes up to a whole block (always adds at least one byte);
- method 3: a block holding the data length in bits (big-endian), then the data padded as
  method 1.

Empty data is refused with methods 1 and 3: method 1 cannot tell it from a block of zeros,
and the editions of ISO/IEC 9797-1 and the implementations we checked (psec) disagree on what
methods 1 and 3 make of it. Method 2 and CMAC take empty data. CMAC pads itself and takes no
`padding`.

"SM4 MAC" (`sm4_mac`): algorithm 1 with SM4 and padding method 2, the convention of PBOC /
UnionPay secure messaging as we understand it. It is unverified [U]: no published vector was
found; it is tested only against the construction.

A MAC is cut to `length` bytes (4 to the cipher block; default the whole block). `verify_mac`
compares with `hmac.compare_digest`. Errors are `CryptoError` subclasses whose messages name
algorithms and lengths, never a key byte or the data.
"""

from __future__ import annotations

import hmac
from enum import IntEnum, StrEnum

from protocols.crypto_primitives import (
    Algorithm,
    CryptoError,
    DataLengthError,
    KeyLengthError,
    as_algorithm,
    block_size,
    check_key,
    cmac_generate,
    decrypt_ecb,
    encrypt_cbc,
    encrypt_ecb,
)

__all__ = [
    "MAC_MIN_LENGTH",
    "MacAlgorithm",
    "MacDataError",
    "MacError",
    "MacKeyError",
    "MacLengthError",
    "MacPadding",
    "as_mac_algorithm",
    "generate_mac",
    "pad",
    "sm4_mac",
    "verify_mac",
]

#: The shortest MAC `generate_mac` gives or `verify_mac` checks, in bytes.
MAC_MIN_LENGTH = 4

#: The double-length TDES key of MAC algorithm 3, in bytes.
_RETAIL_KEY_LENGTH = 16


class MacError(CryptoError):
    """A MAC that cannot be computed or checked as asked: the root of the MAC errors."""


class MacKeyError(MacError, KeyLengthError):
    """A key the MAC algorithm cannot take (e.g. not double-length TDES for algorithm 3)."""


class MacDataError(MacError, DataLengthError):
    """Data the MAC algorithm cannot take (not bytes, or empty with padding method 1)."""


class MacLengthError(MacError):
    """A MAC length outside 4 bytes to the cipher block."""


class MacAlgorithm(StrEnum):
    """The MAC algorithms: ISO/IEC 9797-1 algorithms 1 and 3, and CMAC."""

    ISO9797_1 = "iso9797_1"
    ISO9797_3 = "iso9797_3"
    CMAC = "cmac"


class MacPadding(IntEnum):
    """ISO/IEC 9797-1 padding methods."""

    METHOD_1 = 1
    METHOD_2 = 2
    METHOD_3 = 3


def as_mac_algorithm(value: MacAlgorithm | str) -> MacAlgorithm:
    """`value` as a `MacAlgorithm`; "iso9797-1" and "iso9797_1" both name algorithm 1."""
    if isinstance(value, str):
        value = value.strip().lower().replace("-", "_")
    try:
        return MacAlgorithm(value)
    except ValueError:
        raise MacError("MAC algorithm must be one of iso9797_1, iso9797_3, cmac") from None


def _as_padding(value: MacPadding | int) -> MacPadding:
    try:
        return MacPadding(value)
    except ValueError:
        raise MacError("padding method must be 1, 2 or 3 (ISO/IEC 9797-1)") from None


def pad(data: bytes, method: MacPadding | int, size: int) -> bytes:
    """`data` padded to whole `size`-byte blocks by ISO/IEC 9797-1 padding `method`."""
    method = _as_padding(method)
    if not isinstance(data, bytes | bytearray):
        raise MacDataError("MAC data must be bytes")
    data = bytes(data)
    if method is MacPadding.METHOD_2:
        data += b"\x80"
    elif not data:
        raise MacDataError(f"padding method {method.value} takes no empty data; use method 2")
    padded = data + bytes(-len(data) % size)
    if method is MacPadding.METHOD_3:
        if 8 * len(data) >= 1 << (8 * size):
            raise MacDataError("data too long for padding method 3")
        padded = (8 * len(data)).to_bytes(size, "big") + padded
    return padded


def _mac_length(algorithm: Algorithm, length: int | None) -> int:
    size = block_size(algorithm)
    if length is None:
        return size
    if isinstance(length, bool) or not isinstance(length, int):
        raise MacLengthError("MAC length must be an int")
    if not MAC_MIN_LENGTH <= length <= size:
        raise MacLengthError(
            f"{algorithm.value} MAC length must be {MAC_MIN_LENGTH} to {size} bytes, got {length}"
        )
    return length


def _cbc_mac(algorithm: Algorithm, key: bytes, padded: bytes) -> bytes:
    """The last block of the zero-IV CBC encryption of whole blocks."""
    return encrypt_cbc(algorithm, key, padded)[-block_size(algorithm) :]


def _retail_mac(key: bytes, padded: bytes) -> bytes:
    left, right = key[:8], key[8:]
    chained = _cbc_mac(Algorithm.TDES, left, padded)
    return encrypt_ecb(Algorithm.TDES, left, decrypt_ecb(Algorithm.TDES, right, chained))


def generate_mac(
    algorithm: Algorithm | str,
    key: bytes,
    data: bytes,
    mac_algorithm: MacAlgorithm | str,
    *,
    padding: MacPadding | int | None = None,
    length: int | None = None,
) -> bytes:
    """The MAC of `data` under `key`, cut to `length` bytes (default: one cipher block).

    `padding` is the ISO/IEC 9797-1 method for algorithms 1 and 3 (default method 1); CMAC
    takes none. Algorithm 3 needs `algorithm` tdes and a 16-byte key.
    """
    algorithm = as_algorithm(algorithm)
    mac_algorithm = as_mac_algorithm(mac_algorithm)
    check_key(algorithm, key)
    size = _mac_length(algorithm, length)
    if not isinstance(data, bytes | bytearray):
        raise MacDataError("MAC data must be bytes")
    if mac_algorithm is MacAlgorithm.CMAC:
        if padding is not None:
            raise MacError("CMAC pads by itself; give no padding method")
        return cmac_generate(algorithm, key, bytes(data))[:size]
    method = MacPadding.METHOD_1 if padding is None else _as_padding(padding)
    if mac_algorithm is MacAlgorithm.ISO9797_3:
        if algorithm is not Algorithm.TDES:
            raise MacError(f"ISO 9797-1 algorithm 3 is defined for tdes, not {algorithm.value}")
        if len(key) != _RETAIL_KEY_LENGTH:
            raise MacKeyError(
                f"ISO 9797-1 algorithm 3 needs a double-length tdes key of "
                f"{_RETAIL_KEY_LENGTH} bytes, got {len(key)} bytes"
            )
        return _retail_mac(bytes(key), pad(data, method, 8))[:size]
    padded = pad(data, method, block_size(algorithm))
    return _cbc_mac(algorithm, bytes(key), padded)[:size]


def verify_mac(
    algorithm: Algorithm | str,
    key: bytes,
    data: bytes,
    mac: bytes,
    mac_algorithm: MacAlgorithm | str,
    *,
    padding: MacPadding | int | None = None,
) -> bool:
    """True if `mac` is the MAC of `data` (compared over `mac`'s length, in constant time)."""
    if not isinstance(mac, bytes | bytearray):
        raise MacLengthError("the MAC to verify must be bytes")
    expected = generate_mac(algorithm, key, data, mac_algorithm, padding=padding, length=len(mac))
    return hmac.compare_digest(expected, bytes(mac))


def sm4_mac(key: bytes, data: bytes, *, length: int | None = None) -> bytes:
    """The "SM4 MAC" [U]: ISO/IEC 9797-1 algorithm 1 with SM4 and padding method 2.

    The PBOC / UnionPay convention as we understand it; unverified (no published vector).
    """
    return generate_mac(
        Algorithm.SM4, key, data, MacAlgorithm.ISO9797_1, padding=MacPadding.METHOD_2, length=length
    )
