"""Tests for protocols.kcv: legacy and CMAC-based key check values."""

from __future__ import annotations

import psec.des
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyemv import tools as pyemv_tools

from protocols.crypto_primitives import Algorithm, KeyLengthError, block_size, encrypt_ecb
from protocols.kcv import (
    KcvError,
    KcvMethod,
    KcvMismatchError,
    compute_kcv,
    kcv_cmac,
    kcv_legacy,
    verify_kcv,
)
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored

pytestmark = STRICT_WARNINGS

NIST_AES_KEY = "2B7E151628AED2A6ABF7158809CF4F3C"

# (algorithm, method, key, KCV, source)
KCV_VECTORS = [
    (Algorithm.TDES, KcvMethod.LEGACY, "5DB50B454F8389ADCE573BE50861F2BF", "5C9405", "§4.5, V"),
    (
        Algorithm.TDES,
        KcvMethod.LEGACY,
        "0123456789ABCDEFFEDCBA9876543210",
        "08D7B4",
        "ecosystem §8 (cryptography check) and pyemv key_check_digits docstring (08D7)",
    ),
    (Algorithm.AES, KcvMethod.LEGACY, NIST_AES_KEY, "7DF76B", "§4.5, computed"),
    (Algorithm.AES, KcvMethod.CMAC, NIST_AES_KEY, "7AD386C376", "§4.5, computed (X9.24-1:2017)"),
    (
        Algorithm.SM4,
        KcvMethod.LEGACY,
        "0123456789ABCDEFFEDCBA9876543210",
        "2677F46B",
        "computed here with cryptography's SM4; the 4-byte convention is §4.6 U (unverified)",
    ),
]


@pytest.mark.parametrize(("alg", "method", "key", "kcv", "source"), KCV_VECTORS)
def test_kcv_vectors(alg: Algorithm, method: KcvMethod, key: str, kcv: str, source: str) -> None:
    raw = bytes.fromhex(key)
    assert compute_kcv(alg, raw, method).hex().upper() == kcv, source
    verify_kcv(alg, raw, bytes.fromhex(kcv), method)


def test_sm4_legacy_kcv_is_the_first_four_bytes_of_the_gbt32907_cipher() -> None:
    # Ties the SM4 KCV to the GB/T 32907 vector (§4.6, §7 #43) through the same primitive.
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    assert encrypt_ecb(Algorithm.SM4, key, key).hex().upper() == "681EDF34D206965E86B3E94F536E4246"
    assert kcv_legacy(Algorithm.SM4, key) == encrypt_ecb(Algorithm.SM4, key, bytes(16))[:4]


def _dbl(block: bytes) -> bytes:
    """Subkey doubling of NIST SP 800-38B, written independently of cryptography's CMAC."""
    value = int.from_bytes(block, "big") << 1
    bits = len(block) * 8
    rb = 0x87 if bits == 128 else 0x1B
    if value >> bits:
        value = (value ^ rb) & ((1 << bits) - 1)
    return value.to_bytes(len(block), "big")


def _cmac_of_zero_block(alg: Algorithm, key: bytes) -> bytes:
    """CMAC_K(one zero block) = E_K(K1 XOR 0) where K1 = dbl(E_K(0)) (SP 800-38B, full block)."""
    size = block_size(alg)
    k1 = _dbl(encrypt_ecb(alg, key, bytes(size)))
    return encrypt_ecb(alg, key, k1)


tdes_keys = st.sampled_from([16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@given(tdes_keys)
def test_tdes_legacy_kcv_against_psec_and_pyemv(key: bytes) -> None:
    with oracle_warnings_ignored():
        psec_kcv = psec.des.generate_kcv(key, 3)
        pyemv_kcv = pyemv_tools.key_check_digits(key, 3)
    ours = kcv_legacy(Algorithm.TDES, key)
    assert ours == psec_kcv == pyemv_kcv


@given(st.binary(min_size=8, max_size=8))
def test_single_length_kcv_is_double_length_k1k1(key: bytes) -> None:
    assert kcv_legacy(Algorithm.TDES, key) == kcv_legacy(Algorithm.TDES, key + key)


cmac_cases = st.one_of(
    tdes_keys.map(lambda k: (Algorithm.TDES, k)),
    aes_keys.map(lambda k: (Algorithm.AES, k)),
)


@given(cmac_cases)
def test_cmac_kcv_against_hand_derived_cmac(case: tuple[Algorithm, bytes]) -> None:
    alg, key = case
    assert kcv_cmac(alg, key) == _cmac_of_zero_block(alg, key)[:5]


def test_hand_cmac_matches_sp800_38b_example() -> None:
    # The hand derivation above reproduces NIST SP 800-38B D.1 example 2 K1 = FBEED618...
    key = bytes.fromhex(NIST_AES_KEY)
    k1 = _dbl(encrypt_ecb(Algorithm.AES, key, bytes(16)))
    assert k1.hex().upper() == "FBEED618357133667C85E08F7236A8DE"


def test_wrong_kcv_refused() -> None:
    key = bytes.fromhex("5DB50B454F8389ADCE573BE50861F2BF")
    with pytest.raises(KcvMismatchError) as info:
        verify_kcv(Algorithm.TDES, key, bytes.fromhex("5C9406"))
    assert "5DB50B" not in str(info.value).upper()
    with pytest.raises(KcvMismatchError):
        verify_kcv(Algorithm.AES, bytes.fromhex(NIST_AES_KEY), bytes.fromhex("7AD386C377"), "cmac")
    verify_kcv(Algorithm.TDES, key, bytes.fromhex("5C94"))  # a shorter KCV is the prefix


def test_bad_requests_refused() -> None:
    with pytest.raises(KcvError):
        kcv_cmac(Algorithm.SM4, bytes(16))
    with pytest.raises(KcvError):
        kcv_legacy(Algorithm.TDES, bytes(16), length=9)
    with pytest.raises(KcvError):
        kcv_cmac(Algorithm.AES, bytes(16), length=0)
    with pytest.raises(KcvError):
        verify_kcv(Algorithm.TDES, bytes(16), b"")
    with pytest.raises(KcvError):
        compute_kcv(Algorithm.TDES, bytes(16), "sha")  # type: ignore[arg-type]
    with pytest.raises(KeyLengthError):
        kcv_legacy(Algorithm.AES, bytes(15))
