"""TDES DUKPT (ANSI X9.24-1:2009): IPEK, transaction keys and their PIN, MAC and data variants.

Derived Unique Key Per Transaction: a PIN pad holds an initial key (IPEK) derived from the
bank's base derivation key (BDK) and its key serial number (KSN); every transaction uses a
key derived from the IPEK and the KSN's transaction counter, and the host derives the same
key from the BDK and the KSN sent beside the PIN block.

KSN (10 bytes, 80 bits) = 59-bit key set ID / device ID + 21-bit transaction counter. A valid
counter has at most 10 one-bits (the originator skips the others), and is not zero for a
transaction.

Derivations (X9.24-1:2009 A.6 / A.2):

* IPEK: ``KSN8`` = left 8 bytes of the KSN with its counter cleared;
  left = TDES(BDK, KSN8), right = TDES(BDK xor C0C0C0C000000000C0C0C0C000000000, KSN8).
* Non-reversible key generation (key K = KL || KR, 8-byte crypto register R):
  ``right = DES(KL, R xor KR) xor KR``, and the same with K xor C0C0... gives the left half.
* Transaction key: R = right 8 bytes of the KSN with the counter cleared; for each counter bit
  from the top, if set, R |= bit and K = NRKG(K, R), starting from the IPEK.
* Variants XORed into the transaction key: PIN ``..FF..FF`` (byte 7 and 15), MAC request
  (bytes 6, 14), MAC response (bytes 4, 12), data request (bytes 5, 13), data response
  (bytes 3, 11). X9.24-1:2009 data keys then encrypt each half of the variant key under
  itself (TDES ECB).

Keys are bytes; none appears in an error message or a repr. TDES runs on `cryptography`'s
decrepit ``TripleDES`` with double-length keys expanded to K1K2K1 (no deprecation warning).
Source of facts: reference/protocols.md §4.3, reference/ecosystem.md §8.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from protocols.crypto_primitives import Algorithm, decrypt_ecb, encrypt_ecb, xor_bytes
from protocols.errors import Completion, ProtocolError

__all__ = [
    "TDES_COUNTER_BITS",
    "TDES_MAX_ONE_BITS",
    "DukptError",
    "DukptKeyError",
    "KsnError",
    "KsnExhaustedError",
    "RegisterOriginator",
    "TdesKeyUsage",
    "TdesKsn",
    "TdesOriginator",
    "apply_variant",
    "decrypt_pin_block",
    "derive_ipek",
    "derive_key",
    "derive_transaction_key",
    "encrypt_pin_block",
    "host_derive_key",
    "non_reversible_key",
]

TDES_KSN_LEN = 10
TDES_COUNTER_BITS = 21
TDES_MAX_ONE_BITS = 10
_COUNTER_MASK = (1 << TDES_COUNTER_BITS) - 1
_KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")


class DukptError(ProtocolError):
    """Bad DUKPT input (a key of the wrong length, a malformed KSN); never quotes key bytes."""

    default_completion = Completion.INVALID_DATA


class KsnError(DukptError):
    """A KSN that is malformed or whose counter is not a valid DUKPT counter."""


class KsnExhaustedError(KsnError):
    """The transaction counter has no valid value left: the device needs a new initial key."""


class DukptKeyError(DukptError):
    """A key of the wrong length or type for the derivation asked."""


def _key(value: bytes, name: str, lengths: tuple[int, ...]) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise DukptKeyError(f"{name} must be bytes, not {type(value).__name__}")
    key = bytes(value)
    if len(key) not in lengths:
        wanted = " or ".join(str(n) for n in lengths)
        raise DukptKeyError(f"{name} must be {wanted} bytes, got {len(key)}")
    return key


def _tdes_ecb(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    """TDES ECB under an 8-, 16- or 24-byte key (single and double length expanded)."""
    return (decrypt_ecb if decrypt else encrypt_ecb)(Algorithm.TDES, key, data)


def ones(counter: int) -> int:
    """How many bits of ``counter`` are set."""
    return counter.bit_count()


def check_counter(counter: int, bits: int, max_ones: int, *, allow_zero: bool = True) -> int:
    """Validate a DUKPT transaction counter of ``bits`` bits with at most ``max_ones`` set."""
    if isinstance(counter, bool) or not isinstance(counter, int):
        raise KsnError(f"transaction counter must be an int, not {type(counter).__name__}")
    if not 0 <= counter < (1 << bits):
        raise KsnError(f"transaction counter {counter} is outside 0..{(1 << bits) - 1}")
    if counter == 0 and not allow_zero:
        raise KsnError("transaction counter 0 is the initial KSN, not a transaction")
    if ones(counter) > max_ones:
        raise KsnError(
            f"transaction counter {counter:#x} has {ones(counter)} one-bits (at most {max_ones})"
        )
    return counter


def next_counter(counter: int, bits: int, max_ones: int) -> int:
    """The originator's next valid counter (adds the lowest set bit once the limit is hit)."""
    step = counter & -counter if ones(counter) >= max_ones else 1
    following = counter + step
    if following >= (1 << bits):
        raise KsnExhaustedError("the transaction counter is exhausted")
    return following


def parse_hex_or_bytes(value: bytes | str, length: int, what: str) -> bytes:
    """Bytes as given, or a hex string (spaces allowed), of exactly ``length`` bytes."""
    if isinstance(value, str):
        text = "".join(value.split())
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise KsnError(f"{what} is not hex") from None
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    else:
        raise KsnError(f"{what} must be bytes or hex, not {type(value).__name__}")
    if len(raw) != length:
        raise KsnError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True, slots=True)
class TdesKsn:
    """A 10-byte TDES DUKPT key serial number.

    Attributes:
        key_set: the KSN as an 80-bit integer with its 21 counter bits cleared (the initial
            KSN: key set ID, device ID).
        counter: the 21-bit transaction counter (at most 10 one-bits; 0 = the initial KSN).
    """

    key_set: int
    counter: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.key_set, bool) or not isinstance(self.key_set, int):
            raise KsnError("key_set must be an int")
        if not 0 <= self.key_set < (1 << (8 * TDES_KSN_LEN)):
            raise KsnError("key_set does not fit in 80 bits")
        if self.key_set & _COUNTER_MASK:
            raise KsnError("key_set has counter bits set")
        check_counter(self.counter, TDES_COUNTER_BITS, TDES_MAX_ONE_BITS)

    @classmethod
    def parse(cls, value: TdesKsn | bytes | str) -> TdesKsn:
        """A KSN from 10 bytes or 20 hex digits."""
        if isinstance(value, TdesKsn):
            return value
        whole = int.from_bytes(parse_hex_or_bytes(value, TDES_KSN_LEN, "a TDES KSN"), "big")
        return cls(whole & ~_COUNTER_MASK, whole & _COUNTER_MASK)

    def to_bytes(self) -> bytes:
        return (self.key_set | self.counter).to_bytes(TDES_KSN_LEN, "big")

    def hex(self) -> str:
        return self.to_bytes().hex().upper()

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"TdesKsn({self.hex()!r})"

    @property
    def initial(self) -> TdesKsn:
        """The initial KSN (counter 0), from which the IPEK is derived."""
        return TdesKsn(self.key_set, 0)

    def with_counter(self, counter: int) -> TdesKsn:
        return TdesKsn(self.key_set, counter)

    def next(self) -> TdesKsn:
        """The KSN of the originator's next transaction (skipping counters with > 10 ones)."""
        return self.with_counter(next_counter(self.counter, TDES_COUNTER_BITS, TDES_MAX_ONE_BITS))


class TdesKeyUsage(Enum):
    """Which key a TDES DUKPT transaction key becomes (X9.24-1:2009 A.6 variants)."""

    TRANSACTION = "transaction"
    PIN = "pin"
    MAC_REQUEST = "mac-request"
    MAC_RESPONSE = "mac-response"
    DATA_REQUEST = "data-request"
    DATA_RESPONSE = "data-response"


def _variant_mask(byte: int) -> bytes:
    half = bytearray(8)
    half[byte] = 0xFF
    return bytes(half) * 2


_VARIANTS = {
    TdesKeyUsage.TRANSACTION: bytes(16),
    TdesKeyUsage.PIN: _variant_mask(7),
    TdesKeyUsage.MAC_REQUEST: _variant_mask(6),
    TdesKeyUsage.MAC_RESPONSE: _variant_mask(4),
    TdesKeyUsage.DATA_REQUEST: _variant_mask(5),
    TdesKeyUsage.DATA_RESPONSE: _variant_mask(3),
}
_DATA_USAGES = (TdesKeyUsage.DATA_REQUEST, TdesKeyUsage.DATA_RESPONSE)


def derive_ipek(bdk: bytes, ksn: TdesKsn | bytes | str) -> bytes:
    """The 16-byte initial PIN encryption key (IPEK) for a double-length BDK and a KSN."""
    key = _key(bdk, "BDK", (16,))
    ksn8 = TdesKsn.parse(ksn).initial.to_bytes()[:8]
    left = _tdes_ecb(key, ksn8)
    right = _tdes_ecb(xor_bytes(key, _KEY_MASK), ksn8)
    return left + right


def non_reversible_key(key: bytes, register: bytes) -> bytes:
    """X9.24-1 non-reversible key generation: the next key from ``key`` and a crypto register."""
    key = _key(key, "key", (16,))
    reg = _key(register, "crypto register", (8,))

    def half(k: bytes) -> bytes:
        return xor_bytes(_tdes_ecb(k[:8], xor_bytes(reg, k[8:])), k[8:])

    return half(xor_bytes(key, _KEY_MASK)) + half(key)


def derive_transaction_key(ipek: bytes, ksn: TdesKsn | bytes | str) -> bytes:
    """The transaction (future) key for a KSN, derived from the IPEK (no variant applied)."""
    key = _key(ipek, "IPEK", (16,))
    parsed = TdesKsn.parse(ksn)
    counter = check_counter(parsed.counter, TDES_COUNTER_BITS, TDES_MAX_ONE_BITS, allow_zero=False)
    register = parsed.key_set & ((1 << 64) - 1)
    bit = 1 << (TDES_COUNTER_BITS - 1)
    while bit:
        if counter & bit:
            register |= bit
            key = non_reversible_key(key, register.to_bytes(8, "big"))
        bit >>= 1
    return key


def apply_variant(transaction_key: bytes, usage: TdesKeyUsage) -> bytes:
    """The working key of ``usage`` made from a transaction key."""
    key = xor_bytes(_key(transaction_key, "transaction key", (16,)), _VARIANTS[usage])
    if usage in _DATA_USAGES:
        key = _tdes_ecb(key, key[:8]) + _tdes_ecb(key, key[8:])
    return key


def derive_key(ipek: bytes, ksn: TdesKsn | bytes | str, usage: TdesKeyUsage) -> bytes:
    """The device side: the working key of ``usage`` for a KSN, from the IPEK."""
    return apply_variant(derive_transaction_key(ipek, ksn), usage)


def host_derive_key(bdk: bytes, ksn: TdesKsn | bytes | str, usage: TdesKeyUsage) -> bytes:
    """The host side: the working key of ``usage`` for a KSN, from the BDK."""
    return derive_key(derive_ipek(bdk, ksn), ksn, usage)


def encrypt_pin_block(ipek: bytes, ksn: TdesKsn | bytes | str, pin_block: bytes) -> bytes:
    """Encrypt an 8-byte clear PIN block under the PIN key of the KSN (TDES ECB)."""
    block = _key(pin_block, "PIN block", (8,))
    return _tdes_ecb(derive_key(ipek, ksn, TdesKeyUsage.PIN), block)


def decrypt_pin_block(ipek: bytes, ksn: TdesKsn | bytes | str, encrypted: bytes) -> bytes:
    """Decrypt an 8-byte PIN block encrypted under the PIN key of the KSN."""
    block = _key(encrypted, "encrypted PIN block", (8,))
    return _tdes_ecb(derive_key(ipek, ksn, TdesKeyUsage.PIN), block, decrypt=True)


class RegisterOriginator:
    """The originator's (PIN pad's) future-key registers, shared by TDES and AES DUKPT.

    Register ``b`` holds the key of the current counter's prefix with bit ``b`` added.
    Loading fills every register from the initial key, which is not kept; a transaction
    uses the register of its counter's lowest set bit; afterwards, unless the counter has
    the most one-bits allowed, it fills the registers of the lower bits from its own key,
    erases its register and moves to the next valid counter. A subclass says how a
    register's key derives from its parent (`_register_key`).
    """

    __slots__ = ("_counter", "_registers")

    #: Bits of the transaction counter, and the one-bits a counter may have.
    counter_bits: ClassVar[int]
    max_one_bits: ClassVar[int]

    def _load(self, key: bytes) -> None:
        self._registers: dict[int, bytes] = {}
        self._fill(key, 0, self.counter_bits)
        self._counter = 1

    def _register_key(self, key: bytes, counter: int) -> bytes:
        """The key of the register for ``counter``, derived from ``key``."""
        raise NotImplementedError

    def _fill(self, key: bytes, prefix: int, below: int) -> None:
        for position in range(below):
            bit = 1 << position
            self._registers[bit] = self._register_key(key, prefix | bit)

    @property
    def exhausted(self) -> bool:
        """The counter has run out: the device needs a new initial key."""
        return self._counter == 0

    def _current(self) -> bytes:
        if self.exhausted:
            raise KsnExhaustedError("the transaction counter is exhausted")
        return self._registers[self._counter & -self._counter]

    def _advance(self) -> None:
        key = self._current()
        counter = self._counter
        low = counter & -counter
        del self._registers[low]
        if ones(counter) < self.max_one_bits:
            self._fill(key, counter, low.bit_length() - 1)
        try:
            self._counter = next_counter(counter, self.counter_bits, self.max_one_bits)
        except KsnExhaustedError:
            self._registers.clear()
            self._counter = 0
            raise


class TdesOriginator(RegisterOriginator):
    """The PIN pad side of TDES DUKPT (see `RegisterOriginator`): 21 registers loaded from
    the IPEK. Gives the same keys as `derive_transaction_key` on the host (tested).
    """

    __slots__ = ("_key_set",)

    counter_bits = TDES_COUNTER_BITS
    max_one_bits = TDES_MAX_ONE_BITS

    def __init__(self, ipek: bytes, ksn: TdesKsn | bytes | str) -> None:
        key = _key(ipek, "IPEK", (16,))
        self._key_set = TdesKsn.parse(ksn).initial.key_set
        self._load(key)

    def _register_key(self, key: bytes, counter: int) -> bytes:
        base = self._key_set & ((1 << 64) - 1)
        return non_reversible_key(key, (base | counter).to_bytes(8, "big"))

    @property
    def ksn(self) -> TdesKsn:
        """The KSN of the current transaction (sent beside its PIN block)."""
        return TdesKsn(self._key_set, self._counter)

    def transaction_key(self) -> bytes:
        """The current transaction key (no variant)."""
        return self._current()

    def key(self, usage: TdesKeyUsage) -> bytes:
        """The current transaction's working key of ``usage``."""
        return apply_variant(self.transaction_key(), usage)

    def advance(self) -> TdesKsn:
        """End the current transaction; the KSN of the next (KsnExhaustedError at the end)."""
        self._advance()
        return self.ksn

    def __repr__(self) -> str:
        state = "exhausted" if self.exhausted else self.ksn.hex()
        return f"TdesOriginator(ksn={state!r}, registers={len(self._registers)})"
