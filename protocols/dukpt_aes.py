"""AES DUKPT (ANSI X9.24-3:2017): initial key, intermediate derivation keys and working keys.

KSN (12 bytes) = 8-byte initial key ID (4-byte BDK ID + 4-byte derivation ID) + 32-bit
transaction counter; a valid counter has at most 16 one-bits and is not zero.

Every key is derived with AES-ECB under the parent key of 16-byte *derivation data* blocks:

=====  ===============================================================================
bytes  meaning
=====  ===============================================================================
0      version, 01
1      key block counter, 01, 02 ... (one block per 16 bytes of output key)
2-3    key usage indicator (`AesKeyUsage`: 8001 initial key, 8000 derivation key, ...)
4-5    algorithm of the derived key (`AesKeyType`: 0000 2TDEA ... 0004 AES-256)
6-7    its length in bits (0080, 00C0, 0100)
8-15   initial key: the initial key ID; otherwise derivation ID (4) + counter (4)
=====  ===============================================================================

The blocks' ciphertexts, concatenated and cut to the key length, are the key. The initial
key comes from the BDK; the intermediate derivation key for a counter from the initial key,
taking the counter's set bits from the top (each step's derivation data carries the counter
bits so far); working keys from that derivation key with their own usage and algorithm.
A working key may not be stronger than its derivation key (AES-128 gives 2TDEA, 3TDEA or
AES-128 keys).

Keys are bytes and never appear in an error or a repr. Source of facts: reference/
protocols.md §4.3 (vectors from openemv/dukpt, ANSI X9.24-3:2017 supplement).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from protocols.crypto_primitives import Algorithm, encrypt_ecb
from protocols.dukpt import (
    DukptKeyError,
    KsnError,
    RegisterOriginator,
    check_counter,
    next_counter,
    parse_hex_or_bytes,
)

__all__ = [
    "AES_COUNTER_BITS",
    "AES_MAX_ONE_BITS",
    "AesKeyType",
    "AesKeyUsage",
    "AesKsn",
    "AesOriginator",
    "derive_derivation_key",
    "derive_initial_key",
    "derive_working_key",
    "host_derive_working_key",
]

AES_KSN_LEN = 12
AES_IKID_LEN = 8
AES_COUNTER_BITS = 32
AES_MAX_ONE_BITS = 16


class AesKeyType(Enum):
    """Algorithm and length of a derived key: (algorithm indicator, length in bits)."""

    TDEA2 = (0x0000, 128)
    TDEA3 = (0x0001, 192)
    AES128 = (0x0002, 128)
    AES192 = (0x0003, 192)
    AES256 = (0x0004, 256)

    @property
    def indicator(self) -> int:
        return self.value[0]

    @property
    def bits(self) -> int:
        return self.value[1]

    @property
    def length(self) -> int:
        """Key length in bytes."""
        return self.value[1] // 8

    @property
    def is_aes(self) -> bool:
        return self in (AesKeyType.AES128, AesKeyType.AES192, AesKeyType.AES256)

    @classmethod
    def aes_of_length(cls, length: int) -> AesKeyType:
        for kind in (cls.AES128, cls.AES192, cls.AES256):
            if kind.length == length:
                return kind
        raise DukptKeyError(f"an AES DUKPT key must be 16, 24 or 32 bytes, got {length}")


class AesKeyUsage(IntEnum):
    """Key usage indicators of X9.24-3:2017 derivation data."""

    KEY_ENCRYPTION = 0x0002
    PIN_ENCRYPTION = 0x1000
    MAC_GENERATION = 0x2000
    MAC_VERIFICATION = 0x2001
    MAC_BOTH = 0x2002
    DATA_ENCRYPT = 0x3000
    DATA_DECRYPT = 0x3001
    DATA_BOTH = 0x3002
    KEY_DERIVATION = 0x8000
    KEY_DERIVATION_INITIAL = 0x8001


_WORKING_USAGES = frozenset(AesKeyUsage) - {
    AesKeyUsage.KEY_DERIVATION,
    AesKeyUsage.KEY_DERIVATION_INITIAL,
}


@dataclass(frozen=True, slots=True)
class AesKsn:
    """A 12-byte AES DUKPT key serial number.

    Attributes:
        initial_key_id: the 64-bit initial key ID (BDK ID in the top 32 bits, derivation
            ID in the low 32).
        counter: the 32-bit transaction counter (at most 16 one-bits; 0 = no transaction yet).
    """

    initial_key_id: int
    counter: int = 0

    def __post_init__(self) -> None:
        ikid = self.initial_key_id
        if isinstance(ikid, bool) or not isinstance(ikid, int) or not 0 <= ikid < 1 << 64:
            raise KsnError("initial_key_id must be an int of 64 bits")
        check_counter(self.counter, AES_COUNTER_BITS, AES_MAX_ONE_BITS)

    @classmethod
    def parse(cls, value: AesKsn | bytes | str) -> AesKsn:
        """A KSN from 12 bytes or 24 hex digits."""
        if isinstance(value, AesKsn):
            return value
        raw = parse_hex_or_bytes(value, AES_KSN_LEN, "an AES KSN")
        return cls(int.from_bytes(raw[:AES_IKID_LEN], "big"), int.from_bytes(raw[8:], "big"))

    @classmethod
    def from_initial_key_id(cls, ikid: bytes | str, counter: int = 0) -> AesKsn:
        raw = parse_hex_or_bytes(ikid, AES_IKID_LEN, "an AES initial key ID")
        return cls(int.from_bytes(raw, "big"), counter)

    @property
    def initial_key_id_bytes(self) -> bytes:
        return self.initial_key_id.to_bytes(AES_IKID_LEN, "big")

    @property
    def bdk_id(self) -> int:
        return self.initial_key_id >> 32

    @property
    def derivation_id(self) -> int:
        return self.initial_key_id & 0xFFFFFFFF

    def to_bytes(self) -> bytes:
        return self.initial_key_id_bytes + self.counter.to_bytes(4, "big")

    def hex(self) -> str:
        return self.to_bytes().hex().upper()

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"AesKsn({self.hex()!r})"

    def with_counter(self, counter: int) -> AesKsn:
        return AesKsn(self.initial_key_id, counter)

    def next(self) -> AesKsn:
        """The KSN of the originator's next transaction (skipping counters with > 16 ones)."""
        return self.with_counter(next_counter(self.counter, AES_COUNTER_BITS, AES_MAX_ONE_BITS))


def _aes_key(key: bytes, name: str) -> tuple[bytes, AesKeyType]:
    if not isinstance(key, bytes | bytearray | memoryview):
        raise DukptKeyError(f"{name} must be bytes, not {type(key).__name__}")
    raw = bytes(key)
    try:
        return raw, AesKeyType.aes_of_length(len(raw))
    except DukptKeyError:
        raise DukptKeyError(f"{name} must be 16, 24 or 32 bytes, got {len(raw)}") from None


def _derive(key: bytes, usage: AesKeyUsage, kind: AesKeyType, tail: bytes) -> bytes:
    """Derive a ``kind`` key from ``key`` with derivation data ending in ``tail`` (8 bytes)."""
    head = (
        usage.to_bytes(2, "big") + kind.indicator.to_bytes(2, "big") + kind.bits.to_bytes(2, "big")
    )
    blocks = (kind.length + 15) // 16
    data = b"".join(bytes((0x01, i)) + head + tail for i in range(1, blocks + 1))
    return encrypt_ecb(Algorithm.AES, key, data)[: kind.length]


def derive_initial_key(bdk: bytes, initial_key_id: bytes | str | AesKsn) -> bytes:
    """The initial key of a device, same type as the AES BDK (16, 24 or 32 bytes)."""
    key, kind = _aes_key(bdk, "BDK")
    if isinstance(initial_key_id, AesKsn):
        ikid = initial_key_id.initial_key_id_bytes
    else:
        ikid = parse_hex_or_bytes(initial_key_id, AES_IKID_LEN, "an AES initial key ID")
    return _derive(key, AesKeyUsage.KEY_DERIVATION_INITIAL, kind, ikid)


def derive_derivation_key(initial_key: bytes, ksn: AesKsn | bytes | str) -> bytes:
    """The intermediate derivation key for the KSN's counter (the published 'transaction key')."""
    key, kind = _aes_key(initial_key, "initial key")
    parsed = AesKsn.parse(ksn)
    counter = check_counter(parsed.counter, AES_COUNTER_BITS, AES_MAX_ONE_BITS, allow_zero=False)
    device = parsed.derivation_id.to_bytes(4, "big")
    so_far = 0
    bit = 1 << (AES_COUNTER_BITS - 1)
    while bit:
        if counter & bit:
            so_far |= bit
            key = _derive(key, AesKeyUsage.KEY_DERIVATION, kind, device + so_far.to_bytes(4, "big"))
        bit >>= 1
    return key


def _check_strength(parent: AesKeyType, kind: AesKeyType) -> None:
    if kind.is_aes and kind.bits > parent.bits:
        raise DukptKeyError(f"a {parent.name} derivation key cannot make a {kind.name} working key")


def derive_working_key(
    initial_key: bytes,
    ksn: AesKsn | bytes | str,
    usage: AesKeyUsage,
    kind: AesKeyType,
) -> bytes:
    """The device side: the working key of ``usage`` and ``kind`` for a KSN."""
    if usage not in _WORKING_USAGES:
        raise DukptKeyError(f"{usage.name} is not a working key usage")
    _, parent = _aes_key(initial_key, "initial key")
    _check_strength(parent, kind)
    parsed = AesKsn.parse(ksn)
    derivation_key = derive_derivation_key(initial_key, parsed)
    tail = parsed.derivation_id.to_bytes(4, "big") + parsed.counter.to_bytes(4, "big")
    return _derive(derivation_key, usage, kind, tail)


def host_derive_working_key(
    bdk: bytes,
    ksn: AesKsn | bytes | str,
    usage: AesKeyUsage,
    kind: AesKeyType,
) -> bytes:
    """The host side: the working key of ``usage`` and ``kind`` for a KSN, from the BDK."""
    parsed = AesKsn.parse(ksn)
    return derive_working_key(derive_initial_key(bdk, parsed), parsed, usage, kind)


class AesOriginator(RegisterOriginator):
    """The PIN pad side of AES DUKPT (see `RegisterOriginator`): 32 intermediate
    derivation key registers loaded from the initial key; working keys derive from the
    current one. Gives the same keys as `derive_derivation_key` on the host (tested).
    """

    __slots__ = ("_kind", "_ksn")

    counter_bits = AES_COUNTER_BITS
    max_one_bits = AES_MAX_ONE_BITS

    def __init__(self, initial_key: bytes, ksn: AesKsn | bytes | str) -> None:
        key, self._kind = _aes_key(initial_key, "initial key")
        self._ksn = AesKsn.parse(ksn).with_counter(0)
        self._load(key)

    def _register_key(self, key: bytes, counter: int) -> bytes:
        tail = self._ksn.derivation_id.to_bytes(4, "big") + counter.to_bytes(4, "big")
        return _derive(key, AesKeyUsage.KEY_DERIVATION, self._kind, tail)

    @property
    def ksn(self) -> AesKsn:
        """The KSN of the current transaction."""
        return self._ksn.with_counter(self._counter)

    def derivation_key(self) -> bytes:
        """The current transaction's intermediate derivation key."""
        return self._current()

    def working_key(self, usage: AesKeyUsage, kind: AesKeyType) -> bytes:
        """The current transaction's working key of ``usage`` and ``kind``."""
        if usage not in _WORKING_USAGES:
            raise DukptKeyError(f"{usage.name} is not a working key usage")
        _check_strength(self._kind, kind)
        tail = self._ksn.derivation_id.to_bytes(4, "big") + self._counter.to_bytes(4, "big")
        return _derive(self.derivation_key(), usage, kind, tail)

    def advance(self) -> AesKsn:
        """End the current transaction; the KSN of the next (KsnExhaustedError at the end)."""
        self._advance()
        return self.ksn

    def __repr__(self) -> str:
        state = "exhausted" if self.exhausted else self.ksn.hex()
        return f"AesOriginator(ksn={state!r}, registers={len(self._registers)})"
