"""Key check values (reference protocols.md §4.5, §4.6).

- Legacy: the left-most bytes of the key's encryption of one block of zeros: 3 bytes for
  TDES/DES (E_K(8 x 00)) and AES (E_K(16 x 00)); 4 bytes for SM4 (E_K(16 x 00)), a common
  Chinese EPP convention that reference §4.6 marks unverified.
- CMAC-based (ANSI X9.24-1:2017, TR-31 KCV algorithm "01"): the left-most 5 bytes of
  CMAC_K(one block of zeros), for AES and TDES.

A KCV reveals nothing useful about the key, but the key itself never appears in an error.
"""

from __future__ import annotations

import hmac
from enum import StrEnum

from protocols.crypto_primitives import (
    Algorithm,
    CryptoError,
    as_algorithm,
    block_size,
    cmac_generate,
    encrypt_ecb,
)


class KcvMethod(StrEnum):
    """How a key check value is computed."""

    LEGACY = "legacy"
    CMAC = "cmac"


class KcvError(CryptoError):
    """A KCV that cannot be computed as asked (method, algorithm or length)."""


class KcvMismatchError(KcvError):
    """A key whose KCV differs from the one that came with it."""


#: Default KCV lengths in bytes.
LEGACY_LENGTHS: dict[Algorithm, int] = {Algorithm.TDES: 3, Algorithm.AES: 3, Algorithm.SM4: 4}
CMAC_LENGTH = 5


def kcv_legacy(algorithm: Algorithm, key: bytes, length: int | None = None) -> bytes:
    """Left-most `length` bytes of E_K(one block of zeros); 3 for TDES/AES, 4 for SM4."""
    algorithm = as_algorithm(algorithm)
    size = block_size(algorithm)
    length = LEGACY_LENGTHS[algorithm] if length is None else length
    if not 1 <= length <= size:
        raise KcvError(f"KCV length must be 1 to {size} bytes for {algorithm.value}")
    return encrypt_ecb(algorithm, key, bytes(size))[:length]


def kcv_cmac(algorithm: Algorithm, key: bytes, length: int = CMAC_LENGTH) -> bytes:
    """Left-most `length` (5) bytes of CMAC_K(one block of zeros); AES and TDES only."""
    algorithm = as_algorithm(algorithm)
    if algorithm not in (Algorithm.AES, Algorithm.TDES):
        raise KcvError(f"CMAC-based KCV is defined for aes and tdes, not {algorithm.value}")
    size = block_size(algorithm)
    if not 1 <= length <= size:
        raise KcvError(f"KCV length must be 1 to {size} bytes for {algorithm.value}")
    return cmac_generate(algorithm, key, bytes(size))[:length]


def compute_kcv(
    algorithm: Algorithm,
    key: bytes,
    method: KcvMethod = KcvMethod.LEGACY,
    length: int | None = None,
) -> bytes:
    """The KCV of `key` by `method` (default length for the method when `length` is None)."""
    try:
        method = KcvMethod(method)
    except ValueError:
        raise KcvError("KCV method must be legacy or cmac") from None
    if method is KcvMethod.CMAC:
        return kcv_cmac(algorithm, key, CMAC_LENGTH if length is None else length)
    return kcv_legacy(algorithm, key, length)


def verify_kcv(
    algorithm: Algorithm,
    key: bytes,
    expected: bytes,
    method: KcvMethod = KcvMethod.LEGACY,
) -> None:
    """Raise `KcvMismatchError` unless `key`'s KCV equals `expected` (its length is used)."""
    if not isinstance(expected, bytes | bytearray) or not expected:
        raise KcvError("expected KCV must be non-empty bytes")
    actual = compute_kcv(algorithm, key, method, len(expected))
    if not hmac.compare_digest(actual, bytes(expected)):
        raise KcvMismatchError("key check value does not match the key")
