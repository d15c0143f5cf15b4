"""Symmetric primitives for PIN pad cryptography: TDES, AES and SM4 in ECB and CBC, and CMAC.

Everything here stands on the `cryptography` package; no cipher is written by hand.

TDES comes from ``cryptography.hazmat.decrepit`` (the non-decrepit name warns). Banking
double-length keys (16 bytes, K1K2) are expanded here to K1K2K1 and single-length DES keys
(8 bytes) to K1K1K1, so `cryptography` only ever sees 24-byte keys and never raises its
deprecation warning for two-key TDES.

Keys are plain ``bytes``. No error raised here names a key, a byte of one, or the data:
messages carry lengths and algorithm names only.
"""

from __future__ import annotations

from enum import StrEnum

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import (
    BlockCipherAlgorithm,
    Cipher,
    algorithms,
    modes,
)

from protocols.errors import Completion, ProtocolError


class CryptoError(ProtocolError):
    """Input a cryptographic function cannot take: the root of the crypto errors."""

    default_completion = Completion.INVALID_DATA


class KeyLengthError(CryptoError):
    """A key whose length the algorithm does not accept."""


class DataLengthError(CryptoError):
    """Data (or an IV) that is not a whole number of cipher blocks."""


class Algorithm(StrEnum):
    """The block ciphers a PIN pad uses."""

    TDES = "tdes"
    AES = "aes"
    SM4 = "sm4"


#: Accepted key lengths in bytes, per algorithm.
KEY_LENGTHS: dict[Algorithm, tuple[int, ...]] = {
    Algorithm.TDES: (8, 16, 24),
    Algorithm.AES: (16, 24, 32),
    Algorithm.SM4: (16,),
}

#: Block size in bytes, per algorithm.
BLOCK_SIZES: dict[Algorithm, int] = {
    Algorithm.TDES: 8,
    Algorithm.AES: 16,
    Algorithm.SM4: 16,
}


def as_algorithm(value: Algorithm | str) -> Algorithm:
    """`value` as an `Algorithm`; `CryptoError` if it names none ("tdes", "aes", "sm4")."""
    if type(value) is Algorithm:
        return value
    try:
        return Algorithm(value)
    except ValueError:
        raise CryptoError("algorithm must be one of tdes, aes, sm4") from None


def block_size(algorithm: Algorithm) -> int:
    """The cipher block size of `algorithm`, in bytes."""
    return BLOCK_SIZES[as_algorithm(algorithm)]


def check_key(algorithm: Algorithm, key: bytes) -> None:
    """Raise `KeyLengthError` unless `key` is bytes of a length `algorithm` accepts."""
    algorithm = as_algorithm(algorithm)
    if not isinstance(key, bytes | bytearray):
        raise KeyLengthError(f"{algorithm.value} key must be bytes")
    allowed = KEY_LENGTHS[algorithm]
    if len(key) not in allowed:
        spelled = ", ".join(str(n) for n in allowed)
        raise KeyLengthError(
            f"{algorithm.value} key must be {spelled} bytes long, got {len(key)} bytes"
        )


def tdes_expand(key: bytes) -> bytes:
    """A TDES key as the 24 bytes `cryptography` wants: K1 -> K1K1K1, K1K2 -> K1K2K1."""
    check_key(Algorithm.TDES, key)
    return _expand(bytes(key))


def _expand(key: bytes) -> bytes:
    """`tdes_expand` of a key already checked."""
    if len(key) == 8:
        return key * 3
    if len(key) == 16:
        return key + key[:8]
    return key


def _cipher_algorithm(algorithm: Algorithm, key: bytes) -> BlockCipherAlgorithm:
    algorithm = as_algorithm(algorithm)
    check_key(algorithm, key)
    if algorithm is Algorithm.TDES:
        return TripleDES(_expand(bytes(key)))
    if algorithm is Algorithm.AES:
        return algorithms.AES(bytes(key))
    return algorithms.SM4(bytes(key))


def _check_data(algorithm: Algorithm, data: bytes, what: str = "data") -> None:
    size = BLOCK_SIZES[algorithm]
    if not isinstance(data, bytes | bytearray):
        raise DataLengthError(f"{algorithm.value} {what} must be bytes")
    if len(data) == 0 or len(data) % size:
        raise DataLengthError(
            f"{algorithm.value} {what} must be a non-empty multiple of {size} bytes, "
            f"got {len(data)} bytes"
        )


def _check_iv(algorithm: Algorithm, iv: bytes) -> None:
    size = block_size(algorithm)
    if not isinstance(iv, bytes | bytearray) or len(iv) != size:
        raise DataLengthError(f"{as_algorithm(algorithm).value} IV must be {size} bytes")


def _run(cipher: Cipher[modes.ECB] | Cipher[modes.CBC], data: bytes, encrypt: bool) -> bytes:
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return ctx.update(bytes(data)) + ctx.finalize()


def encrypt_ecb(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    """Encrypt whole blocks of `data` under `key` in ECB mode (no padding)."""
    algorithm = as_algorithm(algorithm)
    cipher_alg = _cipher_algorithm(algorithm, key)
    _check_data(algorithm, data)
    return _run(Cipher(cipher_alg, modes.ECB()), data, encrypt=True)


def decrypt_ecb(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    """Decrypt whole blocks of `data` under `key` in ECB mode (no padding)."""
    algorithm = as_algorithm(algorithm)
    cipher_alg = _cipher_algorithm(algorithm, key)
    _check_data(algorithm, data)
    return _run(Cipher(cipher_alg, modes.ECB()), data, encrypt=False)


def encrypt_cbc(algorithm: Algorithm, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """Encrypt whole blocks of `data` under `key` in CBC mode; the IV defaults to zeros."""
    algorithm = as_algorithm(algorithm)
    cipher_alg = _cipher_algorithm(algorithm, key)
    _check_data(algorithm, data)
    iv = bytes(block_size(algorithm)) if iv is None else iv
    _check_iv(algorithm, iv)
    return _run(Cipher(cipher_alg, modes.CBC(bytes(iv))), data, encrypt=True)


def decrypt_cbc(algorithm: Algorithm, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """Decrypt whole blocks of `data` under `key` in CBC mode; the IV defaults to zeros."""
    algorithm = as_algorithm(algorithm)
    cipher_alg = _cipher_algorithm(algorithm, key)
    _check_data(algorithm, data)
    iv = bytes(block_size(algorithm)) if iv is None else iv
    _check_iv(algorithm, iv)
    return _run(Cipher(cipher_alg, modes.CBC(bytes(iv))), data, encrypt=False)


def cmac_generate(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    """The full-length CMAC (NIST SP 800-38B) of `data` under `key`; `data` may be any length."""
    algorithm = as_algorithm(algorithm)
    cipher_alg = _cipher_algorithm(algorithm, key)
    if not isinstance(data, bytes | bytearray):
        raise DataLengthError(f"{algorithm.value} CMAC data must be bytes")
    mac = cmac.CMAC(cipher_alg)
    mac.update(bytes(data))
    return mac.finalize()


def xor_bytes(left: bytes, right: bytes) -> bytes:
    """The XOR of two byte strings of equal length."""
    if len(left) != len(right):
        raise DataLengthError("XOR operands must be the same length")
    size = len(left)
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(size, "big")
