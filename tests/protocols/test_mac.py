"""protocols.mac: ISO/IEC 9797-1 algorithms 1 and 3, CMAC, SM4 MAC.

Published vectors (each names its source), psec and pyemv as independent oracles, and
properties: a MAC verifies, a flipped bit does not.
"""

from __future__ import annotations

import psec.mac
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyemv import mac as pyemv_mac

from protocols.crypto_primitives import (
    Algorithm,
    CryptoError,
    DataLengthError,
    KeyLengthError,
    encrypt_ecb,
)
from protocols.errors import Completion, ProtocolError
from protocols.mac import (
    MacAlgorithm,
    MacDataError,
    MacError,
    MacKeyError,
    MacLengthError,
    MacPadding,
    as_mac_algorithm,
    generate_mac,
    pad,
    sm4_mac,
    verify_mac,
)
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored

pytestmark = STRICT_WARNINGS

# ISO/IEC 9797-1 Annex B examples: K = 0123456789ABCDEF, K' = FEDCBA9876543210, DES.
ISO_K = "0123456789ABCDEF"
ISO_KK = "0123456789ABCDEFFEDCBA9876543210"
NOW_ALL = b"Now is the time for all ".hex()  # 24 bytes
NOW_IT = b"Now is the time for it".hex()  # 22 bytes
ISO_SOURCE = (
    "ISO/IEC 9797-1 Annex B example (as carried by RustCrypto retail-mac's B.4 doc test and "
    "an ISO 9797-1 Annex B test suite found in the code index)"
)

# (MAC algorithm, key, data, padding, MAC (its published length), source)
ISO9797_VECTORS = [
    (MacAlgorithm.ISO9797_1, ISO_K, NOW_ALL, 1, "70A30640", ISO_SOURCE + ", algorithm 1"),
    (MacAlgorithm.ISO9797_1, ISO_K, NOW_ALL, 2, "10E1F0F1", ISO_SOURCE + ", algorithm 1"),
    (MacAlgorithm.ISO9797_1, ISO_K, NOW_ALL, 3, "2C58FB8F", ISO_SOURCE + ", algorithm 1"),
    (MacAlgorithm.ISO9797_1, ISO_K, NOW_IT, 1, "E45B3AD2", ISO_SOURCE + ", algorithm 1"),
    (MacAlgorithm.ISO9797_1, ISO_K, NOW_IT, 2, "A924C721", ISO_SOURCE + ", algorithm 1"),
    (MacAlgorithm.ISO9797_1, ISO_K, NOW_IT, 3, "B1ECD6FC", ISO_SOURCE + ", algorithm 1"),
    (MacAlgorithm.ISO9797_3, ISO_KK, NOW_ALL, 1, "A1C72E74EA3FA9B6", ISO_SOURCE + ", alg 3"),
    (MacAlgorithm.ISO9797_3, ISO_KK, NOW_ALL, 2, "E9086230CA3BE796", ISO_SOURCE + ", alg 3"),
    (MacAlgorithm.ISO9797_3, ISO_KK, NOW_ALL, 3, "AB059463D7A7D170", ISO_SOURCE + ", alg 3"),
    (MacAlgorithm.ISO9797_3, ISO_KK, NOW_IT, 1, "2E2B1428CC78254F", ISO_SOURCE + ", alg 3"),
    (MacAlgorithm.ISO9797_3, ISO_KK, NOW_IT, 2, "5A692CE64F404145", ISO_SOURCE + ", alg 3"),
    (MacAlgorithm.ISO9797_3, ISO_KK, NOW_IT, 3, "C59F7EED328DDD69", ISO_SOURCE + ", alg 3"),
    (
        MacAlgorithm.ISO9797_3,
        "76850752AD7307ADE554D06D3BA73279",
        "8155ADCC76B2FB0064F2C40037710477CE13C4BF75FD3DADF13B6D137AC1B915",
        1,
        "B2A45602664C486F",
        "ANSI X9.19 MAC test of rkbalgi's Go payments crypto (whole blocks, no padding added)",
    ),
]


@pytest.mark.parametrize(("mac_alg", "key", "data", "padding", "mac", "source"), ISO9797_VECTORS)
def test_iso9797_vectors(
    mac_alg: MacAlgorithm, key: str, data: str, padding: int, mac: str, source: str
) -> None:
    k, d, m = bytes.fromhex(key), bytes.fromhex(data), bytes.fromhex(mac)
    assert generate_mac(Algorithm.TDES, k, d, mac_alg, padding=padding, length=len(m)) == m, source
    assert verify_mac(Algorithm.TDES, k, d, m, mac_alg, padding=padding), source


NIST_MESSAGE = (
    "6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51"
    "30C81C46A35CE411E5FBC1191A0A52EFF69F2445DF4F9B17AD2B417BE66C3710"
)
AES_KEY = "2B7E151628AED2A6ABF7158809CF4F3C"
TDEA3_KEY = "8AA83BF8CBDA10620BC1BF19FBB6CD58BC313D4A371CA8B5"
TDEA2_KEY = "4CF15134A2850DD58A3D10BA80570D38"
SP800_38B = "NIST SP 800-38B CMAC examples (updated examples with errata)"

# (algorithm, key, message length in bytes (a prefix of NIST_MESSAGE), tag, source)
CMAC_VECTORS = [
    (Algorithm.AES, AES_KEY, 0, "BB1D6929E95937287FA37D129B756746", SP800_38B + ", AES-128 #1"),
    (Algorithm.AES, AES_KEY, 16, "070A16B46B4D4144F79BDD9DD04A287C", SP800_38B + ", AES-128 #2"),
    (Algorithm.AES, AES_KEY, 40, "DFA66747DE9AE63030CA32611497C827", SP800_38B + ", AES-128 #3"),
    (Algorithm.AES, AES_KEY, 64, "51F0BEBF7E3B9D92FC49741779363CFE", SP800_38B + ", AES-128 #4"),
    (Algorithm.TDES, TDEA3_KEY, 0, "B7A688E122FFAF95", SP800_38B + ", three-key TDEA #13"),
    (Algorithm.TDES, TDEA3_KEY, 8, "8E8F293136283797", SP800_38B + ", three-key TDEA #14"),
    (Algorithm.TDES, TDEA3_KEY, 20, "743DDBE0CE2DC2ED", SP800_38B + ", three-key TDEA #15"),
    (Algorithm.TDES, TDEA3_KEY, 32, "33E6B1092400EAE5", SP800_38B + ", three-key TDEA #16"),
    (Algorithm.TDES, TDEA2_KEY, 0, "BD2EBF9A3BA00361", SP800_38B + ", two-key TDEA #17"),
    (Algorithm.TDES, TDEA2_KEY, 8, "4FF2AB813C53CE83", SP800_38B + ", two-key TDEA #18"),
    (Algorithm.TDES, TDEA2_KEY, 20, "62DD1B471902BD4E", SP800_38B + ", two-key TDEA #19"),
    (Algorithm.TDES, TDEA2_KEY, 32, "31B1E431DABC4EB8", SP800_38B + ", two-key TDEA #20"),
]


@pytest.mark.parametrize(("alg", "key", "size", "tag", "source"), CMAC_VECTORS)
def test_cmac_vectors(alg: Algorithm, key: str, size: int, tag: str, source: str) -> None:
    k, d, t = bytes.fromhex(key), bytes.fromhex(NIST_MESSAGE)[:size], bytes.fromhex(tag)
    assert generate_mac(alg, k, d, MacAlgorithm.CMAC) == t, source
    assert verify_mac(alg, k, d, t, MacAlgorithm.CMAC), source
    assert verify_mac(alg, k, d, t[:4], "cmac"), source  # truncated tags verify on their length


def test_padding_methods() -> None:
    # ISO/IEC 9797-1 padding methods (the psec/pyemv docstring examples, and method 3's
    # length block in bits).
    assert pad(b"\x12\x34", 1, 8).hex().upper() == "1234000000000000"
    assert pad(b"\x12\x34", 2, 8).hex().upper() == "1234800000000000"
    assert pad(b"\x12\x34", 3, 8).hex().upper() == "00000000000000101234000000000000"
    assert pad(bytes(8), 1, 8) == bytes(8)  # whole blocks: method 1 adds nothing
    assert pad(bytes(8), 2, 8) == bytes(8) + b"\x80" + bytes(7)  # method 2 always adds
    assert pad(b"", 2, 16) == b"\x80" + bytes(15)
    assert len(pad(b"x" * 17, 3, 16)) == 48


def _hand_cbc_mac(alg: Algorithm, key: bytes, padded: bytes) -> bytes:
    """CBC-MAC chained block by block with ECB here, independent of encrypt_cbc."""
    size = 8 if alg is Algorithm.TDES else 16
    state = bytes(size)
    for i in range(0, len(padded), size):
        block = bytes(a ^ b for a, b in zip(state, padded[i : i + size], strict=True))
        state = encrypt_ecb(alg, key, block)
    return state


def _hand_cmac(alg: Algorithm, key: bytes, data: bytes) -> bytes:
    """SP 800-38B CMAC from ECB: subkeys by doubling in GF(2^b), then the CBC chain."""
    size = 8 if alg is Algorithm.TDES else 16
    rb = 0x1B if size == 8 else 0x87

    def double(block: bytes) -> bytes:
        value = int.from_bytes(block, "big") << 1
        if value >> (8 * size):
            value = (value ^ rb) & ((1 << (8 * size)) - 1)
        return value.to_bytes(size, "big")

    k1 = double(encrypt_ecb(alg, key, bytes(size)))
    k2 = double(k1)
    if data and len(data) % size == 0:
        last = bytes(a ^ b for a, b in zip(data[-size:], k1, strict=True))
        head = data[:-size]
    else:
        cut = len(data) - len(data) % size
        tail = data[cut:] + b"\x80" + bytes(size - 1 - len(data) % size)
        last = bytes(a ^ b for a, b in zip(tail, k2, strict=True))
        head = data[:cut]
    state = _hand_cbc_mac(alg, key, head) if head else bytes(size)
    return encrypt_ecb(alg, key, bytes(a ^ b for a, b in zip(state, last, strict=True)))


def test_hand_cmac_reproduces_the_published_aes_tag() -> None:
    # The hand CMAC used for SM4 below, checked first on SP 800-38B AES-128 example 3.
    d = bytes.fromhex(NIST_MESSAGE)[:40]
    assert _hand_cmac(Algorithm.AES, bytes.fromhex(AES_KEY), d).hex().upper() == (
        "DFA66747DE9AE63030CA32611497C827"
    )


sm4_keys = st.binary(min_size=16, max_size=16)


@given(key=sm4_keys, data=st.binary(max_size=80))
def test_sm4_cmac_is_the_sp800_38b_construction(key: bytes, data: bytes) -> None:
    # [U] no published SM4-CMAC vector: checked against the construction only.
    assert generate_mac(Algorithm.SM4, key, data, "cmac") == _hand_cmac(Algorithm.SM4, key, data)


@given(key=sm4_keys, data=st.binary(max_size=80))
def test_sm4_mac_is_cbc_mac_with_padding_method_2(key: bytes, data: bytes) -> None:
    # [U] the PBOC/UnionPay convention as understood; checked against the construction.
    expected = _hand_cbc_mac(Algorithm.SM4, key, data + b"\x80" + bytes(-(len(data) + 1) % 16))
    assert sm4_mac(key, data) == expected
    assert sm4_mac(key, data, length=4) == expected[:4]


def test_sm4_mac_on_the_gbt32907_key() -> None:
    # One block of 0x80 + zeros under the GB/T 32907 example key is one SM4 encryption.
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    assert sm4_mac(key, b"") == encrypt_ecb(Algorithm.SM4, key, b"\x80" + bytes(15))
    # The GB/T 32907-2016 example: key = plaintext -> 681EDF34... ; one whole block with
    # padding method 1 is that ciphertext.
    assert generate_mac(Algorithm.SM4, key, key, "iso9797_1").hex().upper() == (
        "681EDF34D206965E86B3E94F536E4246"
    )


# --- the oracles ----------------------------------------------------------------------

des_keys = st.binary(min_size=8, max_size=8)
tdes_keys = st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
paddings = st.sampled_from([1, 2, 3])


@given(k1=des_keys, k2=des_keys, data=st.binary(min_size=1, max_size=64), padding=paddings)
def test_retail_mac_agrees_with_psec_and_pyemv(
    k1: bytes, k2: bytes, data: bytes, padding: int
) -> None:
    ours = generate_mac(Algorithm.TDES, k1 + k2, data, MacAlgorithm.ISO9797_3, padding=padding)
    with oracle_warnings_ignored():
        assert psec.mac.generate_retail_mac(k1, k2, data, padding) == ours
        if padding != 3:  # pyemv implements methods 1 and 2 only
            assert pyemv_mac.mac_iso9797_3(k1, k2, data, padding) == ours


@given(key=tdes_keys, data=st.binary(min_size=1, max_size=64), padding=paddings)
def test_tdes_cbc_mac_agrees_with_psec(key: bytes, data: bytes, padding: int) -> None:
    ours = generate_mac(Algorithm.TDES, key, data, "iso9797_1", padding=padding)
    with oracle_warnings_ignored():
        assert psec.mac.generate_cbc_mac(key, data, padding) == ours


@given(key=aes_keys, data=st.binary(min_size=1, max_size=64), padding=paddings)
def test_aes_cbc_mac_agrees_with_psec(key: bytes, data: bytes, padding: int) -> None:
    ours = generate_mac(Algorithm.AES, key, data, "iso9797_1", padding=padding, length=8)
    with oracle_warnings_ignored():
        theirs = psec.mac.generate_cbc_mac(key, data, padding, 8, psec.mac.Algorithm.AES)
    assert theirs == ours


# --- properties -----------------------------------------------------------------------

CASES = [
    (Algorithm.TDES, 16, MacAlgorithm.ISO9797_1, 2),
    (Algorithm.TDES, 16, MacAlgorithm.ISO9797_3, 1),
    (Algorithm.TDES, 16, MacAlgorithm.CMAC, None),
    (Algorithm.AES, 32, MacAlgorithm.ISO9797_1, 3),
    (Algorithm.AES, 16, MacAlgorithm.CMAC, None),
    (Algorithm.SM4, 16, MacAlgorithm.ISO9797_1, 2),
    (Algorithm.SM4, 16, MacAlgorithm.CMAC, None),
]


@pytest.mark.parametrize(("alg", "key_len", "mac_alg", "padding"), CASES)
@given(data=st.data())
def test_a_mac_verifies_and_a_flipped_bit_does_not(
    alg: Algorithm, key_len: int, mac_alg: MacAlgorithm, padding: int | None, data: st.DataObject
) -> None:
    key = data.draw(st.binary(min_size=key_len, max_size=key_len))
    message = data.draw(st.binary(min_size=1, max_size=70))
    mac = generate_mac(alg, key, message, mac_alg, padding=padding)
    assert verify_mac(alg, key, message, mac, mac_alg, padding=padding)
    bit = data.draw(st.integers(0, 8 * len(message) - 1))
    flipped = bytearray(message)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert not verify_mac(alg, key, bytes(flipped), mac, mac_alg, padding=padding)
    bit = data.draw(st.integers(0, 8 * len(mac) - 1))
    bad_mac = bytearray(mac)
    bad_mac[bit // 8] ^= 1 << (bit % 8)
    assert not verify_mac(alg, key, message, bytes(bad_mac), mac_alg, padding=padding)


def test_padding_method_1_leaves_trailing_zeros_ambiguous_method_2_does_not() -> None:
    key = bytes.fromhex(ISO_KK)
    one = generate_mac(Algorithm.TDES, key, b"\x01", "iso9797_1", padding=1)
    assert one == generate_mac(Algorithm.TDES, key, b"\x01\x00", "iso9797_1", padding=1)
    two = generate_mac(Algorithm.TDES, key, b"\x01", "iso9797_1", padding=2)
    assert two != generate_mac(Algorithm.TDES, key, b"\x01\x00", "iso9797_1", padding=2)


# --- refusals -------------------------------------------------------------------------

SECRET = bytes.fromhex("C0FFEE0123456789ABCDEF0123456789")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: generate_mac("tdes", SECRET + SECRET[:8], b"x", "iso9797_3"), MacKeyError),
        (lambda: generate_mac("tdes", SECRET[:8], b"x", "iso9797_3"), MacKeyError),
        (lambda: generate_mac("aes", SECRET, b"x", "iso9797_3"), MacError),
        (lambda: generate_mac("aes", SECRET[:15], b"x", "cmac"), KeyLengthError),
        (lambda: generate_mac("sm4", SECRET + SECRET, b"x", "iso9797_1"), KeyLengthError),
        (lambda: generate_mac("tdes", SECRET, b"", "iso9797_1"), MacDataError),
        (lambda: generate_mac("tdes", SECRET, b"", "iso9797_3", padding=3), MacDataError),
        (lambda: generate_mac("tdes", SECRET, "text", "iso9797_1"), MacDataError),  # type: ignore[arg-type]
        (lambda: generate_mac("tdes", SECRET, b"x", "iso9797_1", padding=4), MacError),
        (lambda: generate_mac("tdes", SECRET, b"x", "cmac", padding=2), MacError),
        (lambda: generate_mac("tdes", SECRET, b"x", "cmac", length=3), MacLengthError),
        (lambda: generate_mac("tdes", SECRET, b"x", "cmac", length=9), MacLengthError),
        (lambda: generate_mac("tdes", SECRET, b"x", "hmac"), MacError),
        (lambda: generate_mac("des", SECRET, b"x", "cmac"), CryptoError),
        (lambda: verify_mac("aes", SECRET, b"x", b"\x01\x02", "cmac"), MacLengthError),
        (lambda: verify_mac("aes", SECRET, b"x", "0102", "cmac"), MacLengthError),  # type: ignore[arg-type]
    ],
)
def test_bad_requests_get_typed_errors_without_the_key(call: object, error: type) -> None:
    with pytest.raises(error) as info:
        call()  # type: ignore[operator]
    exc = info.value
    assert isinstance(exc, CryptoError)
    assert isinstance(exc, ProtocolError)
    assert exc.completion is Completion.INVALID_DATA
    text = str(exc) + repr(exc)
    for secret in (SECRET.hex(), SECRET.hex().upper(), "C0FFEE", "c0ffee"):
        assert secret not in text


def test_error_classes() -> None:
    assert issubclass(MacKeyError, KeyLengthError)
    assert issubclass(MacDataError, DataLengthError)
    assert as_mac_algorithm("ISO9797-1") is MacAlgorithm.ISO9797_1
    assert as_mac_algorithm("iso9797_3") is MacAlgorithm.ISO9797_3
    assert as_mac_algorithm(MacAlgorithm.CMAC) is MacAlgorithm.CMAC
    assert MacPadding(2) is MacPadding.METHOD_2
