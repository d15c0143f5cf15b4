"""TR-31 key blocks (ASC X9 TR-31:2018): wrap and unwrap, versions A, B, C and D.

A key block is the header (protocols.tr31_header), the encrypted key data in upper-case hex and
the MAC in upper-case hex. The key data is the key length in bits (2 bytes), the key and
random padding to a whole number of cipher blocks.

- A and C (key variant binding, TDES KBPK): KBEK = KBPK XOR 45..45, KBAK = KBPK XOR 4D..4D.
  The key data is TDES-CBC encrypted under KBEK with the header's first 8 characters as IV; the
  MAC is the first 4 bytes of the TDES CBC-MAC (zero IV) under KBAK of the header (ASCII) and
  the encrypted key data (binary).
- B (key derivation binding, TDES KBPK): KBEK and KBAK are TDES-CMAC outputs under KBPK of
  counter || usage (0000 encryption, 0001 MAC) || 00 || algorithm (0000 2TDEA, 0001 3TDEA) ||
  length in bits. The MAC is the 8-byte TDES-CMAC under KBAK of the header and the clear key
  data; the key data is TDES-CBC encrypted under KBEK with the MAC as IV.
- D (key derivation binding, AES KBPK): as B with AES (algorithm 0002/0003/0004 for
  AES-128/192/256) and a 16-byte MAC.

The wrapped key's length must be one its algorithm (header byte 7) has: T (TDEA) 16 or 24
bytes (two- and three-key; single-length TDEA is single DES, algorithm D), D (DEA) 8, A (AES)
16, 24 or 32. Other algorithms (HMAC, RSA, ...) have no fixed lengths and are not checked.
Wrap refuses such a key and unwrap such a block (after its MAC verified) with `Tr31KeyError`.

Unwrap checks every length, compares the MAC in constant time, and refuses a block that fails
with a typed `Tr31Error`; no error or repr carries key bytes.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from protocols.crypto_primitives import (
    Algorithm,
    CryptoError,
    cmac_generate,
    decrypt_cbc,
    encrypt_cbc,
    xor_bytes,
)
from protocols.tr31_header import (
    Header,
    KeyAlgorithm,
    Tr31Error,
    Tr31KeyError,
    Tr31LengthError,
    Tr31MacError,
    Version,
    build_header,
    cipher_block_size,
    parse_header,
)

__all__ = ["Tr31Key", "mac_length", "unwrap", "wrap"]

_TDES_KBPK_LENGTHS = (16, 24)
_AES_KBPK_LENGTHS = (16, 24, 32)
#: (algorithm code, key length in bits) of the derivation input, by KBPK length.
_B_DERIVATION = {16: (0x0000, 128), 24: (0x0001, 192)}
_D_DERIVATION = {16: (0x0002, 128), 24: (0x0003, 192), 32: (0x0004, 256)}
_USAGE_ENCRYPTION = 0x0000
_USAGE_MAC = 0x0001
#: The key lengths (bytes) an algorithm of header byte 7 has; others are not checked.
_KEY_LENGTHS: dict[str, tuple[int, ...]] = {
    KeyAlgorithm.TDES: (16, 24),
    KeyAlgorithm.DES: (8,),
    KeyAlgorithm.AES: (16, 24, 32),
}


@dataclass(frozen=True)
class Tr31Key:
    """An unwrapped key and its header; the key stays out of the repr."""

    header: Header
    key: bytes = field(repr=False)


def mac_length(version: Version) -> int:
    """MAC length in bytes: 4 for A and C, 8 for B, 16 for D."""
    return {Version.A: 4, Version.B: 8, Version.C: 4, Version.D: 16}[version]


def _check_kbpk(version: Version, kbpk: bytes) -> None:
    if not isinstance(kbpk, bytes | bytearray):
        raise Tr31KeyError("KBPK must be bytes")
    allowed = _AES_KBPK_LENGTHS if version is Version.D else _TDES_KBPK_LENGTHS
    if len(kbpk) not in allowed:
        spelled = ", ".join(str(n) for n in allowed)
        kind = "an AES" if version is Version.D else "a TDES"
        raise Tr31KeyError(
            f"version {version.value} needs {kind} KBPK of {spelled} bytes, got {len(kbpk)}"
        )


def _key_length_fault(header: Header, length: int) -> str | None:
    """Why a key of ``length`` bytes cannot carry ``header``'s algorithm (None: it can)."""
    allowed = _KEY_LENGTHS.get(str(header.algorithm))
    if allowed is None or length in allowed:
        return None
    algorithm = header.algorithm
    named = f"{algorithm.value} ({algorithm.name})" if isinstance(algorithm, KeyAlgorithm) else ""
    *head, last = allowed
    spelled = f"{', '.join(map(str, head))} or {last}" if head else str(last)
    return f"a key of algorithm {named or algorithm} is {spelled} bytes, got {length}"


def _variant_keys(kbpk: bytes) -> tuple[bytes, bytes]:
    return xor_bytes(kbpk, b"\x45" * len(kbpk)), xor_bytes(kbpk, b"\x4d" * len(kbpk))


def _derived_keys(version: Version, kbpk: bytes) -> tuple[bytes, bytes]:
    if version is Version.B:
        algorithm, (code, bits) = Algorithm.TDES, _B_DERIVATION[len(kbpk)]
    else:
        algorithm, (code, bits) = Algorithm.AES, _D_DERIVATION[len(kbpk)]
    step = 8 if algorithm is Algorithm.TDES else 16
    rounds = -(-len(kbpk) // step)

    def derive(usage: int) -> bytes:
        out = b"".join(
            cmac_generate(
                algorithm,
                kbpk,
                bytes([counter])
                + usage.to_bytes(2, "big")
                + b"\x00"
                + code.to_bytes(2, "big")
                + bits.to_bytes(2, "big"),
            )
            for counter in range(1, rounds + 1)
        )
        return out[: len(kbpk)]

    return derive(_USAGE_ENCRYPTION), derive(_USAGE_MAC)


def _cbc_mac_tdes(key: bytes, data: bytes) -> bytes:
    return encrypt_cbc(Algorithm.TDES, key, data, bytes(8))[-8:]


def _key_data(key: bytes, size: int, masked: int | None, fill: Callable[[int], bytes]) -> bytes:
    field_length = len(key) if masked is None else masked
    if masked is not None and masked < len(key):
        raise Tr31KeyError("masked key length is shorter than the key")
    pad = field_length - len(key) + (-(2 + field_length) % size)
    padding = fill(pad)
    if len(padding) != pad:
        raise Tr31KeyError("the padding source returned the wrong number of bytes")
    return (8 * len(key)).to_bytes(2, "big") + key + padding


def wrap(
    kbpk: bytes,
    header: Header,
    key: bytes,
    *,
    masked_key_length: int | None = None,
    fill: Callable[[int], bytes] = secrets.token_bytes,
) -> str:
    """Wrap `key` under `kbpk` in a key block with `header` (version A, B, C or D).

    `masked_key_length` pads the key field to that many bytes so the block hides the key's
    true length; `fill` supplies the random padding (injectable for golden tests).
    """
    version = header.version
    if not isinstance(version, Version):
        raise Tr31KeyError("version must be A, B, C or D")
    _check_kbpk(version, kbpk)
    if not isinstance(key, bytes | bytearray) or not 0 < len(key) <= 0xFFFF // 8:
        raise Tr31KeyError("the key must be 1 to 8191 bytes")
    fault = _key_length_fault(header, len(key))
    if fault is not None:
        raise Tr31KeyError(fault)
    kbpk, key = bytes(kbpk), bytes(key)
    size = cipher_block_size(version)
    data = _key_data(key, size, masked_key_length, fill)
    head_len = len(build_header(header, 0))
    total = head_len + 2 * len(data) + 2 * mac_length(version)
    head = build_header(header, total)
    if version in (Version.A, Version.C):
        kbek, kbak = _variant_keys(kbpk)
        enc = encrypt_cbc(Algorithm.TDES, kbek, data, head[:8].encode("ascii"))
        enc_hex = enc.hex().upper()
        mac = _cbc_mac_tdes(kbak, head.encode("ascii") + enc)[:4]
    else:
        algorithm = Algorithm.AES if version is Version.D else Algorithm.TDES
        kbek, kbak = _derived_keys(version, kbpk)
        mac = cmac_generate(algorithm, kbak, head.encode("ascii") + data)
        enc_hex = encrypt_cbc(algorithm, kbek, data, mac).hex().upper()
    return head + enc_hex + mac.hex().upper()


def _from_hex(text: str, what: str) -> bytes:
    if not text or not all(ch in "0123456789ABCDEFabcdef" for ch in text):
        raise Tr31Error(f"the {what} is not hex")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise Tr31Error(f"the {what} is not hex") from None


def unwrap(kbpk: bytes, key_block: str) -> Tr31Key:
    """Check and decrypt `key_block` under `kbpk`: the header and the key."""
    if not isinstance(key_block, str):
        raise Tr31Error("a key block is text")
    header, declared, head_len = parse_header(key_block)
    version = header.version
    _check_kbpk(version, kbpk)
    kbpk = bytes(kbpk)
    if declared != len(key_block):
        raise Tr31LengthError(
            f"key block length field says {declared}, the block is {len(key_block)} characters"
        )
    size = cipher_block_size(version)
    if head_len % size:
        raise Tr31LengthError(f"the header is not a multiple of {size} characters")
    mac_chars = 2 * mac_length(version)
    body = key_block[head_len:]
    enc_chars = len(body) - mac_chars
    if enc_chars <= 0 or enc_chars % (2 * size):
        raise Tr31LengthError("the encrypted key data is not a whole number of cipher blocks")
    enc = _from_hex(body[:enc_chars], "encrypted key data")
    mac = _from_hex(body[enc_chars:], "MAC")
    head = key_block[:head_len].encode("ascii")
    try:
        if version in (Version.A, Version.C):
            kbek, kbak = _variant_keys(kbpk)
            expected = _cbc_mac_tdes(kbak, head + enc)[:4]
            if not hmac.compare_digest(expected, mac):
                raise Tr31MacError("key block MAC does not verify")
            data = decrypt_cbc(Algorithm.TDES, kbek, enc, head[:8])
        else:
            algorithm = Algorithm.AES if version is Version.D else Algorithm.TDES
            kbek, kbak = _derived_keys(version, kbpk)
            data = decrypt_cbc(algorithm, kbek, enc, mac)
            expected = cmac_generate(algorithm, kbak, head + data)
            if not hmac.compare_digest(expected, mac):
                raise Tr31MacError("key block MAC does not verify")
    except CryptoError as exc:
        raise Tr31Error(f"key block cannot be decrypted: {type(exc).__name__}") from None
    bits = int.from_bytes(data[:2], "big")
    if bits == 0 or bits % 8 or 2 + bits // 8 > len(data):
        raise Tr31LengthError("the key length field does not fit the key data")
    fault = _key_length_fault(header, bits // 8)
    if fault is not None:
        raise Tr31KeyError(f"the key block's key does not fit its header: {fault}")
    return Tr31Key(header, data[2 : 2 + bits // 8])
