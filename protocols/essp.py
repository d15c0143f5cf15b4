"""eSSP: the encrypted layer of ITL SSP (key exchange, AES-128 packets with a counter).

Key exchange (commands 4A, 4B, 4C; reference/protocols.md §3.6):

1. the host picks a generator g and a modulus p, both 64-bit primes, and sends them
   (SET_GENERATOR, SET_MODULUS: 8 bytes each, little-endian [U]);
2. the host picks a secret a, sends its inter key A = g^a mod p (REQUEST_KEY_EXCHANGE);
   the device answers F0 and its inter key B = g^b mod p;
3. both sides compute the 64-bit negotiated key k = B^a mod p = A^b mod p.

The AES-128 key is the 64-bit fixed key (default 0123456701234567) then the negotiated
key, each as 8 bytes little-endian [U: the byte order of both halves]. `SessionKey`
holds it and never shows it (repr, str, pickling are refused or masked).

An encrypted packet is carried as the DATA of an ordinary SSP frame::

    STEX(7E) | AES-128-ECB( eLENGTH | eCOUNT (4 LE) | eDATA | ePACKING | eCRC (2 LE) )

eLENGTH is the size of eDATA; ePACKING random bytes that bring the encrypted part to a
multiple of 16 bytes; eCRC the SSP CRC-16 over eLENGTH..ePACKING. eCOUNT is the packet
counter: 0 after each key exchange, [U] the device checks a command's count equals the
one it expects, answers with count + 1, and both sides' next expected count is
count + 2 (so a replayed or out-of-order packet is refused). Each 16-byte block is
encrypted on its own (ECB), as eSSP does.

A 64-bit Diffie-Hellman key is weak by today's measure: eSSP's protection is against
casual line tapping, and the fixed key (set per installation with command 60) adds the
rest. See docs/ssp.md.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable
from typing import NoReturn

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocols.errors import ChecksumError, FramingError, ProtocolError
from protocols.ssp import STEX, crc16

__all__ = [
    "DEFAULT_FIXED_KEY",
    "MAX_PAYLOAD",
    "CounterError",
    "KeyExchange",
    "SessionKey",
    "decrypt_packet",
    "encrypt_packet",
    "is_probable_prime",
    "random_prime",
]

#: The fixed half of the key a device has until command 60 sets another.
DEFAULT_FIXED_KEY = 0x0123456701234567
#: The largest eDATA: 1 + 16 x 15 encrypted bytes fill a 255-byte SSP DATA.
MAX_PAYLOAD = 16 * 15 - 7
_MASK64 = (1 << 64) - 1
_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


class CounterError(ProtocolError):
    """An encrypted packet whose counter is not the one expected (a replay, a lost or
    reordered packet)."""


def is_probable_prime(n: int) -> bool:
    """Miller-Rabin with the first twelve primes as bases: exact for every n below
    3.3 x 10^24, so for every 64-bit number."""
    if n < 2:
        return False
    for p in _BASES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in _BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(bits: int = 64, randbits: Callable[[int], int] = secrets.randbits) -> int:
    """A random prime of exactly ``bits`` bits."""
    if bits < 3:
        raise ValueError("a prime of at least 3 bits")
    while True:
        candidate = randbits(bits) | (1 << (bits - 1)) | 1
        if is_probable_prime(candidate):
            return candidate


class SessionKey:
    """The AES-128 key of an eSSP session. It never shows itself: ``repr`` and ``str``
    say only that it is a key, and it cannot be pickled."""

    __slots__ = ("_cipher",)

    def __init__(self, fixed: int, negotiated: int) -> None:
        if not (0 <= fixed <= _MASK64 and 0 <= negotiated <= _MASK64):
            raise ValueError("both halves of an eSSP key are 64-bit numbers")
        raw = fixed.to_bytes(8, "little") + negotiated.to_bytes(8, "little")
        self._cipher = Cipher(algorithms.AES(raw), modes.ECB())

    def encrypt(self, data: bytes) -> bytes:
        """AES-128-ECB of ``data`` (a multiple of 16 bytes)."""
        encryptor = self._cipher.encryptor()
        return encryptor.update(data) + encryptor.finalize()

    def decrypt(self, data: bytes) -> bytes:
        """The inverse of `encrypt`."""
        decryptor = self._cipher.decryptor()
        return decryptor.update(data) + decryptor.finalize()

    def __repr__(self) -> str:
        return "SessionKey(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("an eSSP session key cannot be pickled")


class KeyExchange:
    """One side of the Diffie-Hellman exchange: a secret exponent and the inter keys.

    Args:
        generator, modulus: the primes the host chose.
        secret: this side's exponent (random when ``None``).
    """

    __slots__ = ("_secret", "generator", "modulus")

    def __init__(self, generator: int, modulus: int, secret: int | None = None) -> None:
        if not (2 < generator <= _MASK64 and 2 < modulus <= _MASK64):
            raise ValueError("the generator and modulus are 64-bit numbers > 2")
        self.generator = generator
        self.modulus = modulus
        self._secret = secret if secret is not None else 2 + secrets.randbelow(modulus - 3)

    @classmethod
    def host(cls, randbits: Callable[[int], int] = secrets.randbits) -> KeyExchange:
        """The host's side with a fresh generator and modulus (two 64-bit primes; the
        generator the smaller, as the guide's examples have it [U])."""
        a, b = random_prime(64, randbits), random_prime(64, randbits)
        while a == b:
            b = random_prime(64, randbits)
        return cls(min(a, b), max(a, b))

    @property
    def inter_key(self) -> int:
        """This side's public inter key g^secret mod p."""
        return pow(self.generator, self._secret, self.modulus)

    def negotiated(self, other_inter_key: int) -> int:
        """The shared 64-bit key from the other side's inter key."""
        if not 0 < other_inter_key < self.modulus:
            raise ProtocolError("the other side's inter key is out of range")
        return pow(other_inter_key, self._secret, self.modulus)

    def __repr__(self) -> str:
        return "KeyExchange(<hidden>)"


def encrypt_packet(
    key: SessionKey,
    count: int,
    payload: bytes,
    packing: Callable[[int], bytes] = secrets.token_bytes,
) -> bytes:
    """The SSP DATA (7E + encrypted blocks) carrying ``payload`` with counter ``count``."""
    if len(payload) > MAX_PAYLOAD:
        raise FramingError(f"eSSP carries at most {MAX_PAYLOAD} bytes, got {len(payload)}")
    head = bytes((len(payload),)) + struct.pack("<I", count & 0xFFFFFFFF) + payload
    pad = -(len(head) + 2) % 16
    plain = head + packing(pad)
    crc = crc16(plain)
    plain += bytes((crc & 0xFF, crc >> 8))
    return bytes((STEX,)) + key.encrypt(plain)


def decrypt_packet(key: SessionKey, data: bytes, *, expect: int | None = None) -> tuple[int, bytes]:
    """``(count, payload)`` of an encrypted SSP DATA; with ``expect``, only a packet
    carrying that counter.

    Raises:
        FramingError: not 7E + a whole number of blocks, or an eLENGTH that does not fit.
        ChecksumError: the inner CRC does not match (a wrong key, or a damaged packet).
        CounterError: ``expect`` given and the packet carries another counter (a
            replayed, lost or reordered packet).
    """
    if not data or data[0] != STEX or (len(data) - 1) % 16 or len(data) < 17:
        raise FramingError("an eSSP packet is 7E and a whole number of 16-byte blocks")
    plain = key.decrypt(data[1:])
    crc = plain[-2] | plain[-1] << 8
    if crc16(plain[:-2]) != crc:
        raise ChecksumError("the encrypted packet's inner CRC does not match")
    length = plain[0]
    if 5 + length > len(plain) - 2:
        raise FramingError("eLENGTH is longer than the packet")
    (count,) = struct.unpack_from("<I", plain, 1)
    if expect is not None and count != expect & 0xFFFFFFFF:
        raise CounterError(f"the packet carries counter {count}, not {expect & 0xFFFFFFFF}")
    return count, bytes(plain[5 : 5 + length])
