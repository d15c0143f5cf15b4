"""protocols.essp: Miller-Rabin, the Diffie-Hellman exchange, the encrypted packet, and
the key never shown."""

from __future__ import annotations

import contextlib
import pickle
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import ChecksumError, FramingError
from protocols.essp import (
    DEFAULT_FIXED_KEY,
    MAX_PAYLOAD,
    CounterError,
    KeyExchange,
    SessionKey,
    decrypt_packet,
    encrypt_packet,
    is_probable_prime,
    random_prime,
)
from protocols.ssp import STEX, crc16


def _slow_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def test_miller_rabin_agrees_with_trial_division() -> None:
    assert [n for n in range(3000) if is_probable_prime(n)] == [
        n for n in range(3000) if _slow_prime(n)
    ]


def test_miller_rabin_known_numbers() -> None:
    assert is_probable_prime(2**61 - 1)  # a Mersenne prime
    assert is_probable_prime(18446744073709551557)  # the largest 64-bit prime
    assert not is_probable_prime(3215031751)  # strong pseudoprime to bases 2, 3, 5, 7
    assert not is_probable_prime(3825123056546413051)  # to bases 2..23
    assert not is_probable_prime((2**32 - 5) * (2**31 - 1))


def test_random_prime_has_64_bits() -> None:
    rng = random.Random(7)
    p = random_prime(64, rng.getrandbits)
    assert p.bit_length() == 64
    assert is_probable_prime(p)


def test_key_exchange_agrees() -> None:
    rng = random.Random(1)
    host = KeyExchange.host(rng.getrandbits)
    device = KeyExchange(host.generator, host.modulus, secret=rng.getrandbits(63))
    assert host.negotiated(device.inter_key) == device.negotiated(host.inter_key)
    assert "hidden" in repr(host)


def test_known_small_exchange() -> None:
    # A textbook example worked by hand: g=5, p=23, a=6, b=15 -> A=8, B=19, k=2.
    host = KeyExchange(5, 23, secret=6)
    device = KeyExchange(5, 23, secret=15)
    assert (host.inter_key, device.inter_key) == (8, 19)
    assert host.negotiated(19) == device.negotiated(8) == 2


def test_packet_layout() -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, 0x1122334455667788)
    packet = encrypt_packet(key, 5, b"\x07", packing=lambda n: bytes(n))
    assert packet[0] == STEX
    assert len(packet) == 17
    plain = key.decrypt(packet[1:])
    assert plain[:6] == b"\x01\x05\x00\x00\x00\x07"
    assert plain[6:14] == bytes(8)
    assert plain[14] | plain[15] << 8 == crc16(plain[:14])
    assert decrypt_packet(key, packet) == (5, b"\x07")


def test_aes_key_is_fixed_then_negotiated() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = SessionKey(DEFAULT_FIXED_KEY, 0x0102030405060708)
    raw = bytes.fromhex("6745230167452301 0807060504030201".replace(" ", ""))
    encryptor = Cipher(algorithms.AES(raw), modes.ECB()).encryptor()
    block = bytes(range(16))
    assert key.encrypt(block) == encryptor.update(block) + encryptor.finalize()


def test_wrong_key_and_damage_refused() -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, 1)
    packet = encrypt_packet(key, 0, b"\x46\x01")
    with pytest.raises(ChecksumError):
        decrypt_packet(SessionKey(DEFAULT_FIXED_KEY, 2), packet)
    with pytest.raises(ChecksumError):
        decrypt_packet(key, packet[:5] + bytes((packet[5] ^ 1,)) + packet[6:])
    with pytest.raises(FramingError):
        decrypt_packet(key, packet[:-1])
    with pytest.raises(FramingError):
        encrypt_packet(key, 0, bytes(MAX_PAYLOAD + 1))


def test_a_packet_with_another_counter_than_expected_is_refused() -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, 9)
    packet = encrypt_packet(key, 7, b"\xf0")
    assert decrypt_packet(key, packet, expect=7) == (7, b"\xf0")
    for expect in (5, 8, 9):
        with pytest.raises(CounterError):
            decrypt_packet(key, packet, expect=expect)
    wrapped = encrypt_packet(key, 0, b"\xf0")
    assert decrypt_packet(key, wrapped, expect=2**32) == (0, b"\xf0")  # 32-bit counter


def test_key_is_never_shown() -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, 0xDEADBEEFCAFEF00D)
    for text in (repr(key), str(key), f"{key}"):
        assert "deadbeef" not in text.lower()
        assert "0123456" not in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=MAX_PAYLOAD))
def test_packet_round_trip(negotiated: int, count: int, payload: bytes) -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, negotiated)
    packet = encrypt_packet(key, count, payload)
    assert (len(packet) - 1) % 16 == 0
    assert len(packet) <= 255
    assert decrypt_packet(key, packet) == (count, payload)


@given(st.binary(min_size=1, max_size=255))
def test_fuzz_decrypt_refuses_garbage(data: bytes) -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, 3)
    with contextlib.suppress(ChecksumError, FramingError):
        decrypt_packet(key, data)
