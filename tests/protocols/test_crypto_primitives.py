"""Tests for protocols.crypto_primitives: TDES, AES, SM4 in ECB/CBC, and CMAC."""

from __future__ import annotations

import warnings

import psec.aes
import psec.des
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.crypto_primitives import (
    Algorithm,
    CryptoError,
    DataLengthError,
    KeyLengthError,
    block_size,
    cmac_generate,
    decrypt_cbc,
    decrypt_ecb,
    encrypt_cbc,
    encrypt_ecb,
    tdes_expand,
    xor_bytes,
)
from protocols.errors import Completion, ProtocolError
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored

pytestmark = STRICT_WARNINGS

# (algorithm, key, plaintext, ciphertext, source), ECB single block.
ECB_VECTORS = [
    (
        Algorithm.SM4,
        "0123456789ABCDEFFEDCBA9876543210",
        "0123456789ABCDEFFEDCBA9876543210",
        "681EDF34D206965E86B3E94F536E4246",
        "GB/T 32907-2016 example; reference §4.6 and §7 #43",
    ),
    (
        Algorithm.AES,
        "000102030405060708090A0B0C0D0E0F",
        "00112233445566778899AABBCCDDEEFF",
        "69C4E0D86A7B0430D8CDB78070B4C55A",
        "FIPS 197 Appendix C.1 (AES-128)",
    ),
    (
        Algorithm.AES,
        "000102030405060708090A0B0C0D0E0F1011121314151617",
        "00112233445566778899AABBCCDDEEFF",
        "DDA97CA4864CDFE06EAF70A0EC0D7191",
        "FIPS 197 Appendix C.2 (AES-192)",
    ),
    (
        Algorithm.AES,
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
        "00112233445566778899AABBCCDDEEFF",
        "8EA2B7CA516745BFEAFC49904B496089",
        "FIPS 197 Appendix C.3 (AES-256)",
    ),
    (
        Algorithm.TDES,
        "133457799BBCDFF1",
        "0123456789ABCDEF",
        "85E813540F0AB405",
        "classic single-DES worked example (key 133457799BBCDFF1), single length = K1K1K1",
    ),
    (
        Algorithm.TDES,
        "0123456789ABCDEFFEDCBA9876543210",
        "0000000000000000",
        "08D7B4FB629D0885",
        "KCV 08D7B4 of reference ecosystem §8 / pyemv docstring; full block computed",
    ),
]


@pytest.mark.parametrize(("alg", "key", "plain", "cipher", "source"), ECB_VECTORS)
def test_ecb_vectors(alg: Algorithm, key: str, plain: str, cipher: str, source: str) -> None:
    k, p, c = bytes.fromhex(key), bytes.fromhex(plain), bytes.fromhex(cipher)
    assert encrypt_ecb(alg, k, p) == c, source
    assert decrypt_ecb(alg, k, c) == p, source


def test_cbc_vector_sp800_38a() -> None:
    # NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, first block.
    key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    iv = bytes(range(16))
    plain = bytes.fromhex("6BC1BEE22E409F96E93D7E117393172A")
    cipher = bytes.fromhex("7649ABAC8119B246CEE98E9B12E9197D")
    assert encrypt_cbc(Algorithm.AES, key, plain, iv) == cipher
    assert decrypt_cbc(Algorithm.AES, key, cipher, iv) == plain


@pytest.mark.parametrize(
    ("message", "tag", "source"),
    [
        ("", "BB1D6929E95937287FA37D129B756746", "NIST SP 800-38B D.1 example 1"),
        (
            "6BC1BEE22E409F96E93D7E117393172A",
            "070A16B46B4D4144F79BDD9DD04A287C",
            "NIST SP 800-38B D.1 example 2",
        ),
    ],
)
def test_aes_cmac_vectors(message: str, tag: str, source: str) -> None:
    key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    assert cmac_generate(Algorithm.AES, key, bytes.fromhex(message)) == bytes.fromhex(tag), source


def test_double_length_tdes_raises_no_warning() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encrypt_ecb(Algorithm.TDES, key, bytes(8))
        decrypt_cbc(Algorithm.TDES, key, bytes(16))
        cmac_generate(Algorithm.TDES, key, b"abc")
        encrypt_ecb(Algorithm.TDES, key[:8], bytes(8))


def test_tdes_key_expansion() -> None:
    k1, k2 = bytes.fromhex("0123456789ABCDEF"), bytes.fromhex("FEDCBA9876543210")
    assert tdes_expand(k1) == k1 + k1 + k1
    assert tdes_expand(k1 + k2) == k1 + k2 + k1
    assert tdes_expand(k1 + k2 + k1) == k1 + k2 + k1


tdes_keys = st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@given(tdes_keys, st.integers(1, 4).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n)))
def test_tdes_lengths_agree(key: bytes, data: bytes) -> None:
    # A double-length key is the triple K1K2K1; a single-length one is K1K1K1 (= DES).
    full = tdes_expand(key)
    assert encrypt_ecb(Algorithm.TDES, key, data) == encrypt_ecb(Algorithm.TDES, full, data)
    assert decrypt_ecb(Algorithm.TDES, key, encrypt_ecb(Algorithm.TDES, key, data)) == data


@given(
    st.sampled_from(list(Algorithm)),
    st.data(),
)
def test_round_trips_and_cbc_chaining(alg: Algorithm, data: st.DataObject) -> None:
    lengths = {Algorithm.TDES: [8, 16, 24], Algorithm.AES: [16, 24, 32], Algorithm.SM4: [16]}
    n = data.draw(st.sampled_from(lengths[alg]))
    key = data.draw(st.binary(min_size=n, max_size=n))
    size = block_size(alg)
    blocks = data.draw(st.integers(1, 4))
    plain = data.draw(st.binary(min_size=size * blocks, max_size=size * blocks))
    iv = data.draw(st.binary(min_size=size, max_size=size))
    assert decrypt_ecb(alg, key, encrypt_ecb(alg, key, plain)) == plain
    cbc = encrypt_cbc(alg, key, plain, iv)
    assert decrypt_cbc(alg, key, cbc, iv) == plain
    # CBC by hand from ECB: C_i = E(P_i XOR C_{i-1}).
    previous, expected = iv, b""
    for i in range(blocks):
        previous = encrypt_ecb(alg, key, xor_bytes(plain[i * size : (i + 1) * size], previous))
        expected += previous
    assert cbc == expected


@given(tdes_keys.filter(lambda k: len(k) != 8), st.binary(min_size=8, max_size=8))
def test_tdes_against_psec(key: bytes, data: bytes) -> None:
    with oracle_warnings_ignored():
        theirs = psec.des.encrypt_tdes_ecb(key, data)
        theirs_cbc = psec.des.encrypt_tdes_cbc(key, bytes(8), data + data)
    assert encrypt_ecb(Algorithm.TDES, key, data) == theirs
    assert encrypt_cbc(Algorithm.TDES, key, data + data) == theirs_cbc


@given(aes_keys, st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32))
def test_aes_against_psec(key: bytes, iv: bytes, data: bytes) -> None:
    assert encrypt_ecb(Algorithm.AES, key, data) == psec.aes.encrypt_aes_ecb(key, data)
    assert encrypt_cbc(Algorithm.AES, key, data, iv) == psec.aes.encrypt_aes_cbc(key, iv, data)


SECRET_KEY = bytes.fromhex("C0FFEE0123456789ABCDEF0123")


@pytest.mark.parametrize(
    ("alg", "key"),
    [
        (Algorithm.TDES, SECRET_KEY[:7]),
        (Algorithm.TDES, SECRET_KEY),
        (Algorithm.AES, SECRET_KEY),
        (Algorithm.AES, SECRET_KEY[:8]),
        (Algorithm.SM4, SECRET_KEY[:8]),
        (Algorithm.SM4, SECRET_KEY + SECRET_KEY),
    ],
)
def test_bad_key_lengths_refused_without_the_key(alg: Algorithm, key: bytes) -> None:
    for call in (
        lambda: encrypt_ecb(alg, key, bytes(16)),
        lambda: decrypt_cbc(alg, key, bytes(16)),
        lambda: cmac_generate(alg, key, b""),
    ):
        with pytest.raises(KeyLengthError) as info:
            call()
        err = info.value
        assert isinstance(err, CryptoError)
        assert isinstance(err, ProtocolError)
        assert err.completion is Completion.INVALID_DATA
        for text in (str(err), repr(err)):
            assert key.hex() not in text.lower()
            assert "c0ffee" not in text.lower()


@pytest.mark.parametrize("alg", list(Algorithm))
@pytest.mark.parametrize("extra", [-1, 1, 3])
def test_partial_blocks_refused(alg: Algorithm, extra: int) -> None:
    key = bytes(16)
    data = bytes(block_size(alg) + extra)
    with pytest.raises(DataLengthError):
        encrypt_ecb(alg, key, data)
    with pytest.raises(DataLengthError):
        decrypt_cbc(alg, key, data)


@pytest.mark.parametrize("alg", list(Algorithm))
def test_empty_data_and_bad_iv_refused(alg: Algorithm) -> None:
    key = bytes(16)
    with pytest.raises(DataLengthError):
        encrypt_ecb(alg, key, b"")
    with pytest.raises(DataLengthError):
        encrypt_cbc(alg, key, bytes(block_size(alg)), iv=bytes(block_size(alg) - 1))


def test_non_bytes_refused_with_typed_errors() -> None:
    with pytest.raises(KeyLengthError):
        encrypt_ecb(Algorithm.AES, "00" * 16, bytes(16))  # type: ignore[arg-type]
    with pytest.raises(DataLengthError):
        encrypt_ecb(Algorithm.AES, bytes(16), "00" * 16)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        encrypt_ecb("des", bytes(8), bytes(8))  # type: ignore[arg-type]
