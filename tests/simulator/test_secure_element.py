"""The simulated secure element: key loading, PIN blocks, DUKPT, TR-31, MACs, usage rules.

Vectors and their sources:
- KEK 0123456789ABCDEFFEDCBA9876543210, KCV 08D7B4 (reference ecosystem §8; pyemv's
  key_check_digits docstring), built from component 1 5DB50B454F8389ADCE573BE50861F2BF
  (KCV 5C9405, reference protocols.md §4.5) and component 2 = KEK XOR component 1
  (KCV 571540, computed with psec and pyemv, which agree).
- TDES DUKPT: ANSI X9.24-1:2009 A.4 (IPEK 6AC292FA..., KSN FFFF9876543210E00000, PIN
  1234, PAN 4012345678909; the encrypted PIN blocks of counters 1 and 2).
- AES DUKPT: ANSI X9.24-3:2017 supplement vectors (AES-128 BDK FEDCBA98...F1F1, initial
  key ID 1234567890123456, initial key 1273671E...; PIN working key of counter 1
  AF8CB133..., as carried by paysec-dukpt's tests).
- TR-31: TR-31:2018 A.7.2.2 (version B, P0 TDES key, KCV 57C409) and A.7.4 (version D,
  P0 AES key, CMAC-based KCV 08793E), as carried by openemv/tr31.

Key separation (docs/pinpad.md): one key value, one usage, so each test key below is a
distinct value; AES and SM4 keys go under an AES-256 KEK (`aes_se`), never under a
weaker TDES one.
"""

from __future__ import annotations

import logging
import warnings

import psec.des
import pytest
from pyemv import tools as pyemv_tools

from hal.devices.pin_pad_model import (
    CipherMode,
    EncryptionState,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinFormat,
)
from hal.errors import (
    DukptOverflow,
    DuplicateKey,
    FormatNotSupported,
    HalError,
    InvalidData,
    InvalidKeyLength,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    ModeNotSupported,
    UseViolation,
)
from protocols import crypto_primitives as prim
from protocols import dukpt, dukpt_aes, pinblock
from protocols import mac as maclib
from protocols.kcv import compute_kcv
from protocols.tr31 import wrap
from protocols.tr31_header import Header, OptionalBlock, Version
from simulator.models.secure_element import SecureElement
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored

pytestmark = STRICT_WARNINGS

TDES = KeyAlgorithm.TDES
AES = KeyAlgorithm.AES
SM4 = KeyAlgorithm.SM4

KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
KEK_KCV = bytes.fromhex("08D7B4")
COMPONENT_1 = bytes.fromhex("5DB50B454F8389ADCE573BE50861F2BF")
COMPONENT_1_KCV = bytes.fromhex("5C9405")
COMPONENT_2 = bytes.fromhex("5C964E22C6284442308B817D7E35C0AF")
COMPONENT_2_KCV = bytes.fromhex("571540")

# TR-31:2018 A.7.2.1's clear P0 key (KCV CB9DEA there): a TDES PIN key.
PIN_KEY = bytes.fromhex("F039121BEC83D26B169BDCD5B22AAF8F")
PIN_KEY_KCV = bytes.fromhex("CB9DEA")

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
IPEK = bytes.fromhex("6AC292FAA1315B4D858AB3A3D7D5933A")
IKSN = bytes.fromhex("FFFF9876543210E00000")

AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
AES_IK = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
AES_IKSN = bytes.fromhex("123456789012345600000000")

PIN = "73915"  # distinctive: not 1234
PAN = "4761739001010010"

KEK_ATTRS = KeyAttributes(KeyUsage.KEK, TDES, ModeOfUse.BOTH)

# An AES-256 KEK (made up) and its two components, for AES and SM4 keys.
AES_KEK = bytes.fromhex("603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4")
AES_COMPONENT_1 = bytes.fromhex("8E73B0F7DA0E6452C810F32B809079E562F8EAD2522C6B7B0123456789ABCDEF")
AES_COMPONENT_2 = bytes(a ^ b for a, b in zip(AES_KEK, AES_COMPONENT_1, strict=True))
AES_KEK_ATTRS = KeyAttributes(KeyUsage.KEK, AES, ModeOfUse.BOTH)

# Distinct TDES test keys (made up, no two halves equal).
KEY_A = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")
KEY_B = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")
KEY_C = bytes.fromhex("13579BDF02468ACEECA8642FDB975310")
KEY_D = bytes.fromhex("2C4E6A8193B5D7F01F3D5B7968A4C2E0")


def attrs(usage: KeyUsage, algorithm: KeyAlgorithm, mode: ModeOfUse) -> KeyAttributes:
    return KeyAttributes(usage, algorithm, mode)


def under_kek(key: bytes) -> bytes:
    return prim.encrypt_ecb(TDES, KEK, key)


def kcv(algorithm: KeyAlgorithm, key: bytes) -> bytes:
    return compute_kcv(algorithm, key)


@pytest.fixture
def se() -> SecureElement:
    """A secure element holding the KEK ``kek``, built from two components."""
    element = SecureElement()
    element.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)
    element.load_component("kek", COMPONENT_2, KEK_ATTRS, COMPONENT_2_KCV)
    element.activate("kek", KEK_KCV)
    return element


@pytest.fixture
def aes_se() -> SecureElement:
    """A secure element holding the AES-256 KEK ``kek``, built from two components."""
    element = SecureElement()
    for component in (AES_COMPONENT_1, AES_COMPONENT_2):
        element.load_component("kek", component, AES_KEK_ATTRS, kcv(AES, component))
    element.activate("kek", kcv(AES, AES_KEK))
    return element


def load_aes(
    se: SecureElement,
    name: str,
    key: bytes,
    usage: KeyUsage,
    algorithm: KeyAlgorithm = AES,
    mode: ModeOfUse = ModeOfUse.BOTH,
    ksn: bytes = b"",
) -> None:
    """Load ``key`` enciphered under `aes_se`'s AES-256 KEK."""
    se.load_key(
        name,
        prim.encrypt_ecb(AES, AES_KEK, key),
        "kek",
        attrs(usage, algorithm, mode),
        kcv(algorithm, key),
        ksn,
    )


def load(
    se: SecureElement,
    name: str,
    key: bytes,
    usage: KeyUsage,
    algorithm: KeyAlgorithm = TDES,
    mode: ModeOfUse = ModeOfUse.BOTH,
    ksn: bytes = b"",
) -> None:
    se.load_key(
        name, under_kek(key), "kek", attrs(usage, algorithm, mode), kcv(algorithm, key), ksn
    )


def test_component_kcvs_agree_with_psec_and_pyemv() -> None:
    assert bytes(a ^ b for a, b in zip(COMPONENT_1, COMPONENT_2, strict=True)) == KEK
    with oracle_warnings_ignored():
        for component, expected in ((COMPONENT_1, COMPONENT_1_KCV), (COMPONENT_2, COMPONENT_2_KCV)):
            assert psec.des.generate_kcv(component, 3) == expected
            assert pyemv_tools.key_check_digits(component, 3) == expected


# --- components -----------------------------------------------------------------------


def test_a_kek_from_two_components(se: SecureElement) -> None:
    detail = se.detail("kek")
    assert detail.state is KeyState.LOADED
    assert detail.kcv == KEK_KCV
    assert detail.usage is KeyUsage.KEK
    assert detail.length == 16
    assert se.encryption_state is EncryptionState.READY


def test_components_are_constructing_until_activated() -> None:
    element = SecureElement()
    detail = element.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)
    assert detail.state is KeyState.CONSTRUCTING
    assert detail.components == 1
    assert not detail.kcv
    assert element.encryption_state is EncryptionState.NOT_INITIALIZED
    with pytest.raises(KeyNoValue):
        element.activate("kek", KEK_KCV)  # one component is not dual control
    with pytest.raises(KeyNoValue):
        element.kcv("kek")
    with pytest.raises(KeyNotFound):
        element.activate("other", KEK_KCV)


def test_a_component_with_a_wrong_kcv_is_not_kept() -> None:
    element = SecureElement()
    with pytest.raises(KcvMismatch) as caught:
        element.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_2_KCV)
    assert caught.value.error_code == "kcvVerificationFail"
    with pytest.raises(KeyNotFound):
        element.detail("kek")
    element.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)
    with pytest.raises(KcvMismatch):
        element.load_component("kek", COMPONENT_2, KEK_ATTRS, COMPONENT_1_KCV)
    assert element.detail("kek").components == 1


def test_a_wrong_combined_kcv_discards_the_components() -> None:
    element = SecureElement()
    element.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)
    element.load_component("kek", COMPONENT_2, KEK_ATTRS, COMPONENT_2_KCV)
    with pytest.raises(KcvMismatch):
        element.activate("kek", COMPONENT_1_KCV)
    with pytest.raises(KeyNotFound):
        element.detail("kek")


def test_component_rules() -> None:
    element = SecureElement()
    with pytest.raises(InvalidData, match="clear components"):
        element.load_component(
            "p", PIN_KEY, attrs(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT), PIN_KEY_KCV
        )
    with pytest.raises(InvalidKeyLength):
        element.load_component("kek", COMPONENT_1[:15], KEK_ATTRS, COMPONENT_1_KCV)
    element.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)
    with pytest.raises(InvalidKeyLength):
        element.load_component("kek", COMPONENT_2 + COMPONENT_2[:8], KEK_ATTRS, b"\0\0\0")
    with pytest.raises(InvalidData):
        element.load_component(
            "kek", COMPONENT_2, KeyAttributes(KeyUsage.KEK, AES, ModeOfUse.BOTH), b"\0\0\0"
        )


# --- keys under the KEK ---------------------------------------------------------------


def test_a_pin_key_under_the_kek_makes_blocks_the_host_deciphers(se: SecureElement) -> None:
    load(se, "pin", PIN_KEY, KeyUsage.PIN, mode=ModeOfUse.ENCRYPT)
    assert se.detail("pin").kcv == PIN_KEY_KCV
    for fmt, number in ((PinFormat.ISO0, 0), (PinFormat.ISO1, 1), (PinFormat.ISO3, 3)):
        block = se.pin_block("pin", fmt, PAN, 0xF, PIN)
        assert len(block.block) == 8
        assert block.ksn == b""
        assert block.format is fmt
        pan = None if fmt is PinFormat.ISO1 else PAN
        assert pinblock.decipher_pin_block(number, PIN_KEY, block.block, pan) == PIN
    # Format 0 is deterministic: the same block as psec builds and enciphers.
    with oracle_warnings_ignored():
        clear = psec.pinblock.encode_pinblock_iso_0(PIN, PAN)
        expected = psec.des.encrypt_tdes_ecb(PIN_KEY, clear)
    assert se.pin_block("pin", PinFormat.ISO0, PAN, 0xF, PIN).block == expected


def test_format_0_with_another_padding_nibble(se: SecureElement) -> None:
    load(se, "pin", PIN_KEY, KeyUsage.PIN)
    block = se.pin_block("pin", PinFormat.ISO0, PAN, 0x0, PIN)
    clear = prim.decrypt_ecb(TDES, PIN_KEY, block.block)
    field = prim.xor_bytes(clear, pinblock.pan_field_iso0(PAN)).hex().upper()
    assert field == f"05{PIN}".ljust(16, "0")


def test_a_wrong_kcv_loads_nothing(se: SecureElement) -> None:
    with pytest.raises(KcvMismatch):
        se.load_key(
            "pin", under_kek(PIN_KEY), "kek", attrs(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT), KEK_KCV
        )
    with pytest.raises(KeyNotFound):
        se.detail("pin")
    assert set(se.details()) == {"kek"}


def test_a_wrong_kcv_leaves_the_key_it_would_replace(se: SecureElement) -> None:
    load(se, "pin", PIN_KEY, KeyUsage.PIN)
    with pytest.raises(KcvMismatch):
        se.load_key("pin", under_kek(KEK), "kek", attrs(KeyUsage.PIN, TDES, ModeOfUse.BOTH), b"abc")
    assert se.detail("pin").kcv == PIN_KEY_KCV


def test_the_kek_must_be_a_k0_that_deciphers(se: SecureElement) -> None:
    load(se, "pin", PIN_KEY, KeyUsage.PIN)
    load(se, "wrap_only", KEY_A, KeyUsage.KEK, mode=ModeOfUse.ENCRYPT)
    p0 = attrs(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT)
    for kek in ("pin", "wrap_only"):
        with pytest.raises(UseViolation):
            se.load_key("x", under_kek(PIN_KEY), kek, p0, PIN_KEY_KCV)
    with pytest.raises(KeyNotFound):
        se.load_key("x", under_kek(PIN_KEY), "nothing", p0, PIN_KEY_KCV)


def test_lengths_and_modes_are_checked(se: SecureElement) -> None:
    p0 = attrs(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT)
    with pytest.raises(InvalidKeyLength):
        se.load_key("x", under_kek(PIN_KEY)[:12], "kek", p0, PIN_KEY_KCV)
    with pytest.raises(InvalidKeyLength):  # single DES
        se.load_key("x", under_kek(PIN_KEY[:8]), "kek", p0, kcv(TDES, PIN_KEY[:8]))
    with pytest.raises(InvalidKeyLength):  # an M3 key is double-length TDES
        load(se, "m3", KEK + KEK[:8], KeyUsage.MAC_ISO9797_3, mode=ModeOfUse.GENERATE_VERIFY)
    with pytest.raises(InvalidData, match="mode of use"):
        load(se, "x", PIN_KEY, KeyUsage.PIN, mode=ModeOfUse.GENERATE)
    with pytest.raises(InvalidData, match="KSN"):
        load(se, "x", PIN_KEY, KeyUsage.PIN, ksn=IKSN)
    with pytest.raises(InvalidData, match="KSN"):
        load(se, "x", IPEK, KeyUsage.INITIAL_DUKPT, mode=ModeOfUse.DERIVE)
    assert set(se.details()) == {"kek"}


# --- DUKPT ----------------------------------------------------------------------------


def test_tdes_dukpt_pin_blocks_of_annex_a4(se: SecureElement) -> None:
    load(se, "ipek", IPEK, KeyUsage.INITIAL_DUKPT, mode=ModeOfUse.DERIVE, ksn=IKSN)
    detail = se.detail("ipek")
    assert detail.ksn.hex().upper() == "FFFF9876543210E00001"
    assert detail.kcv == kcv(TDES, IPEK)
    first = se.pin_block("ipek", PinFormat.ISO0, "4012345678909", 0xF, "1234")
    second = se.pin_block("ipek", PinFormat.ISO0, "4012345678909", 0xF, "1234")
    # X9.24-1:2009 A.4.2, counters 1 and 2.
    assert (first.ksn.hex().upper(), first.block.hex().upper()) == (
        "FFFF9876543210E00001",
        "1B9C1845EB993A7A",
    )
    assert (second.ksn.hex().upper(), second.block.hex().upper()) == (
        "FFFF9876543210E00002",
        "10A01C8D02C69107",
    )
    assert se.detail("ipek").ksn.hex().upper() == "FFFF9876543210E00003"


def test_tdes_dukpt_agrees_with_the_host(se: SecureElement) -> None:
    load(se, "ipek", IPEK, KeyUsage.INITIAL_DUKPT, mode=ModeOfUse.DERIVE, ksn=IKSN)
    seen = set()
    for fmt, number in ((PinFormat.ISO0, 0), (PinFormat.ISO1, 1), (PinFormat.ISO3, 3)) * 3:
        block = se.pin_block("ipek", fmt, PAN, 0xF, PIN)
        assert block.ksn not in seen
        seen.add(block.ksn)
        pin_key = dukpt.host_derive_key(BDK, block.ksn, dukpt.TdesKeyUsage.PIN)
        pan = None if fmt is PinFormat.ISO1 else PAN
        assert pinblock.decipher_pin_block(number, pin_key, block.block, pan) == PIN
    with pytest.raises(FormatNotSupported):
        se.pin_block("ipek", PinFormat.ISO4, PAN, 0xF, PIN)


def test_aes_dukpt_pin_blocks_agree_with_the_host(aes_se: SecureElement) -> None:
    se = aes_se
    load_aes(se, "ik", AES_IK, KeyUsage.INITIAL_DUKPT, AES, ModeOfUse.DERIVE, ksn=AES_IKSN)
    first = se.pin_block("ik", PinFormat.ISO4, PAN, 0xF, PIN)
    assert first.ksn.hex().upper() == "123456789012345600000001"
    # X9.24-3:2017 supplement: the AES-128 PIN working key of counter 1.
    published = bytes.fromhex("AF8CB133A78F8DC2D1359F18527593FB")
    assert pinblock.decipher_iso4(published, first.block, PAN) == PIN
    with oracle_warnings_ignored():
        assert psec.pinblock.decipher_pinblock_iso_4(published, first.block, PAN) == PIN
    for expected_counter in (2, 3, 4):
        block = se.pin_block("ik", PinFormat.ISO4, PAN, 0xF, PIN)
        assert block.ksn == AES_IKSN[:8] + expected_counter.to_bytes(4, "big")
        key = dukpt_aes.host_derive_working_key(
            AES_BDK, block.ksn, dukpt_aes.AesKeyUsage.PIN_ENCRYPTION, dukpt_aes.AesKeyType.AES128
        )
        assert pinblock.decipher_iso4(key, block.block, PAN) == PIN
    with pytest.raises(FormatNotSupported):
        se.pin_block("ik", PinFormat.ISO0, PAN, 0xF, PIN)


def test_an_exhausted_dukpt_counter_overflows(se: SecureElement) -> None:
    load(se, "ipek", IPEK, KeyUsage.INITIAL_DUKPT, mode=ModeOfUse.DERIVE, ksn=IKSN)
    originator = se._keys["ipek"].originator
    assert isinstance(originator, dukpt.TdesOriginator)
    originator._counter = 0x1FF800  # white-box: the last counter with 10 one-bits
    last = se.pin_block("ipek", PinFormat.ISO0, PAN, 0xF, PIN)
    assert last.ksn.hex().upper() == "FFFF9876543210FFF800"
    with pytest.raises(DukptOverflow) as caught:
        se.pin_block("ipek", PinFormat.ISO0, PAN, 0xF, PIN)
    assert caught.value.error_code == "dukptOverflow"
    assert se.detail("ipek").ksn == b""


# --- TR-31 ----------------------------------------------------------------------------


def test_tr31_version_b_p0_block_of_annex_a722(se: SecureElement) -> None:
    kbpk = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
    load(se, "kbpk", kbpk, KeyUsage.KBPK)
    block = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"
    detail = se.load_key_block("pin", block, "kbpk")
    assert (detail.usage, detail.algorithm, detail.mode_of_use) == (
        KeyUsage.PIN,
        TDES,
        ModeOfUse.ENCRYPT,
    )
    assert detail.kcv == bytes.fromhex("57C409")
    assert detail.version == "00"
    clear_key = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")
    made = se.pin_block("pin", PinFormat.ISO0, PAN, 0xF, PIN)
    assert pinblock.decipher_pin_block(0, clear_key, made.block, PAN) == PIN


def test_tr31_version_d_aes_p0_block_of_annex_a74(aes_se: SecureElement) -> None:
    se = aes_se
    kbpk = bytes.fromhex("88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")
    load_aes(se, "kbpk", kbpk, KeyUsage.KBPK)
    block = (
        "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D2"
        "07E2E417C07156A27E8E31DA05F7425509593D03A457DC34"
    )
    detail = se.load_key_block("pin", block, "kbpk")
    assert detail.algorithm is AES
    assert se.kcv("pin", KcvMethod.CMAC)[:3] == bytes.fromhex("08793E")
    made = se.pin_block("pin", PinFormat.ISO4, PAN, 0xF, PIN)
    clear_key = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")
    assert pinblock.decipher_iso4(clear_key, made.block, PAN) == PIN
    # A TDES KBPK cannot open a version D block.
    load_aes(se, "kbpk_t", KEK, KeyUsage.KBPK, TDES)
    with pytest.raises(FormatNotSupported):
        se.load_key_block("other", block, "kbpk_t")


def test_tr31_refusals(se: SecureElement) -> None:
    kbpk = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
    load(se, "kbpk", kbpk, KeyUsage.KBPK)
    good = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(InvalidData, match="MAC"):
        se.load_key_block("pin", tampered, "kbpk")
    with pytest.raises(InvalidData):
        se.load_key_block("pin", "B0080P0TE00E", "kbpk")
    with pytest.raises(UseViolation):
        se.load_key_block("pin", good, "kek")  # a K0 is no key block protection key
    # A.7.3.2: a B0 (BDK) block: a PIN pad takes no base derivation key.
    bdk_block = (
        "B0104B0TX12S0100KS1800604B120F9292800000"
        "BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627"
    )
    load(se, "kbpk2", bytes.fromhex("1D22BF32387C600AD97F9B97A51311AC"), KeyUsage.KBPK)
    with pytest.raises(FormatNotSupported):
        se.load_key_block("bdk", bdk_block, "kbpk2")
    assert set(se.details()) == {"kek", "kbpk", "kbpk2"}


def test_tr31_initial_dukpt_key_takes_its_ksn_from_ks(se: SecureElement) -> None:
    kbpk = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
    load(se, "kbpk", kbpk, KeyUsage.KBPK)
    header = Header(Version.B, "B1", "T", "X", blocks=(OptionalBlock("KS", IKSN.hex().upper()),))
    se.load_key_block("ipek", wrap(kbpk, header, IPEK), "kbpk")
    block = se.pin_block("ipek", PinFormat.ISO0, "4012345678909", 0xF, "1234")
    assert block.block.hex().upper() == "1B9C1845EB993A7A"  # X9.24-1 A.4.2, counter 1
    bare = Header(Version.B, "B1", "T", "X")
    with pytest.raises(InvalidData, match="KS"):
        se.load_key_block("ipek2", wrap(kbpk, bare, IPEK), "kbpk")


# --- crypto and usage -----------------------------------------------------------------


def test_data_encryption(aes_se: SecureElement) -> None:
    se = aes_se
    data_key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    load_aes(se, "data", data_key, KeyUsage.DATA)
    data = bytes(range(32))
    iv = bytes(range(16, 32))
    enc = se.crypt("data", data, True, CipherMode.CBC, iv)
    assert enc == prim.encrypt_cbc(AES, data_key, data, iv)
    assert se.crypt("data", enc, False, CipherMode.CBC, iv) == data
    assert se.crypt("data", data, True, CipherMode.ECB, None) == prim.encrypt_ecb(
        AES, data_key, data
    )
    with pytest.raises(InvalidData):
        se.crypt("data", data[:5], True, CipherMode.ECB, None)
    load_aes(se, "sm4", bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), KeyUsage.DATA, SM4)
    # GB/T 32907-2016 A.1: the key encrypts itself to 681EDF34...
    assert se.crypt("sm4", KEK, True, CipherMode.ECB, None).hex().upper() == (
        "681EDF34D206965E86B3E94F536E4246"
    )
    enc_key = bytes(reversed(data_key))
    load_aes(se, "enc_only", enc_key, KeyUsage.DATA, AES, ModeOfUse.ENCRYPT)
    with pytest.raises(UseViolation):
        se.crypt("enc_only", prim.encrypt_ecb(AES, enc_key, data), False, CipherMode.ECB, None)


def test_macs_by_usage(aes_se: SecureElement) -> None:
    se = aes_se
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    data = b"Now is the time for all "
    gv = ModeOfUse.GENERATE_VERIFY
    # One value per usage (key separation): the SM4 MAC key is the GB/T 32907 key.
    load_aes(se, "m1", KEY_A, KeyUsage.MAC_ISO9797_1, TDES, gv)
    load_aes(se, "m3", KEY_B, KeyUsage.MAC_ISO9797_3, TDES, gv)
    load_aes(se, "m6", KEY_C, KeyUsage.MAC_CMAC, AES, gv)
    load_aes(se, "m1sm4", key, KeyUsage.MAC_ISO9797_1, SM4, gv)
    cases = [
        ("m1", KEY_A, TDES, maclib.MacAlgorithm.ISO9797_1, 2),
        ("m3", KEY_B, TDES, maclib.MacAlgorithm.ISO9797_3, 1),
        ("m6", KEY_C, AES, maclib.MacAlgorithm.CMAC, None),
    ]
    for name, value, alg, mac_alg, padding in cases:
        mac = se.mac(name, data, padding or 1)
        assert mac == maclib.generate_mac(alg, value, data, mac_alg, padding=padding)
        assert se.verify_mac(name, data, mac, padding or 1)
        assert se.verify_mac(name, data, mac[:4], padding or 1)
        assert not se.verify_mac(name, data + b"!", mac, padding or 1)
    assert se.mac("m1sm4", data, 2) == maclib.sm4_mac(key, data)
    with pytest.raises(InvalidData):
        se.mac("m1", data, 3)
    load_aes(se, "verify_only", KEY_D, KeyUsage.MAC_CMAC, TDES, ModeOfUse.VERIFY)
    with pytest.raises(UseViolation):
        se.mac("verify_only", data, 1)
    assert not se.verify_mac("verify_only", data, bytes(8), 1)


def test_usage_is_enforced(se: SecureElement) -> None:
    gv = ModeOfUse.GENERATE_VERIFY
    load(se, "mac", KEY_A, KeyUsage.MAC_ISO9797_1, mode=gv)
    load(se, "pin", PIN_KEY, KeyUsage.PIN)
    load(se, "data", KEY_B, KeyUsage.DATA)
    violations = [
        lambda: se.pin_block("mac", PinFormat.ISO0, PAN, 0xF, PIN),  # a MAC key: no PIN block
        lambda: se.pin_block("data", PinFormat.ISO0, PAN, 0xF, PIN),
        lambda: se.pin_block("kek", PinFormat.ISO0, PAN, 0xF, PIN),
        lambda: se.crypt("pin", bytes(8), True, CipherMode.ECB, None),  # a PIN key: no data
        lambda: se.crypt("kek", bytes(8), True, CipherMode.ECB, None),
        lambda: se.mac("pin", bytes(8), 1),
        lambda: se.verify_mac("data", bytes(8), bytes(8), 1),
    ]
    for violation in violations:
        with pytest.raises(UseViolation) as caught:
            violation()
        assert caught.value.error_code == "useViolation"
    with pytest.raises(FormatNotSupported):
        se.pin_block("pin", PinFormat.ISO4, PAN, 0xF, PIN)
    with pytest.raises(FormatNotSupported):
        se.pin_block("pin", PinFormat.IBM3624, PAN, 0xF, PIN)
    with pytest.raises(InvalidData):
        se.pin_block("pin", PinFormat.ISO0, "41111111111a1111", 0xF, PIN)
    with pytest.raises(InvalidData):
        se.pin_block("pin", PinFormat.ISO0, "", 0xF, PIN)


def test_kcv_methods(se: SecureElement, aes_se: SecureElement) -> None:
    assert se.kcv("kek") == KEK_KCV
    assert se.kcv("kek", KcvMethod.CMAC) == compute_kcv(TDES, KEK, KcvMethod.CMAC)
    load_aes(aes_se, "sm4", KEK, KeyUsage.DATA, SM4)
    assert aes_se.kcv("sm4") == bytes.fromhex("2677F46B")
    with pytest.raises(ModeNotSupported):
        aes_se.kcv("sm4", KcvMethod.CMAC)


def test_random() -> None:
    values = {SecureElement.random(16) for _ in range(4)}
    assert len(values) == 4
    assert all(len(v) == 16 for v in values)
    for bad in (0, 257):
        with pytest.raises(InvalidData):
            SecureElement.random(bad)


def test_delete_and_initialize(se: SecureElement) -> None:
    load(se, "pin", PIN_KEY, KeyUsage.PIN)
    load(se, "data", KEY_A, KeyUsage.DATA)
    load(se, "ipek", IPEK, KeyUsage.INITIAL_DUKPT, mode=ModeOfUse.DERIVE, ksn=IKSN)
    buffer = se._keys["pin"].value
    assert buffer is not None
    se.delete_key("data")
    with pytest.raises(KeyNotFound):
        se.crypt("data", bytes(8), True, CipherMode.ECB, None)
    with pytest.raises(KeyNotFound):
        se.delete_key("data")
    se.initialize()
    assert buffer == bytearray(16)  # overwritten, not just dropped
    assert se.details() == {}
    assert len(se) == 0
    assert se.encryption_state is EncryptionState.NOT_INITIALIZED
    attempts = [
        lambda: se.pin_block("pin", PinFormat.ISO0, PAN, 0xF, PIN),
        lambda: se.pin_block("ipek", PinFormat.ISO0, PAN, 0xF, PIN),
        lambda: se.crypt("data", bytes(8), True, CipherMode.ECB, None),
        lambda: se.mac("pin", bytes(8), 1),
        lambda: se.kcv("kek"),
        lambda: se.load_key("x", under_kek(PIN_KEY), "kek", KEK_ATTRS, PIN_KEY_KCV),
        lambda: se.detail("kek"),
    ]
    for attempt in attempts:
        with pytest.raises(KeyNotFound):
            attempt()


def test_no_key_pin_or_pan_in_reprs_or_errors(
    se: SecureElement, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    load(se, "pin", PIN_KEY, KeyUsage.PIN)
    load(se, "ipek", IPEK, KeyUsage.INITIAL_DUKPT, mode=ModeOfUse.DERIVE, ksn=IKSN)
    texts.append(repr(se))
    texts.extend(repr(d) for d in se.details().values())
    texts.append(repr(se.pin_block("pin", PinFormat.ISO0, PAN, 0xF, PIN)))
    failures = [
        lambda: se.pin_block("pin", PinFormat.ISO0, PAN[:5], 0xF, PIN),
        lambda: se.pin_block("pin", PinFormat.ISO0, PAN, 0xF, "12"),
        lambda: se.load_key("x", under_kek(PIN_KEY), "kek", KEK_ATTRS, b"\1\2\3"),
        lambda: se.load_key("x", under_kek(PIN_KEY)[:9], "kek", KEK_ATTRS, PIN_KEY_KCV),
        lambda: se.load_key_block("x", "B0080P0TE00E" + PIN_KEY.hex() * 2, "kek"),
        lambda: se.crypt("pin", bytes(8), True, CipherMode.ECB, None),
    ]
    for failure in failures:
        with pytest.raises(HalError) as caught:
            failure()
        texts.append(str(caught.value))
        texts.append(repr(caught.value))
        assert caught.value.__cause__ is None
    texts.extend(record.getMessage() for record in caplog.records)
    secrets_ = {PIN, PAN, PAN[:5]}
    for key in (KEK, COMPONENT_1, COMPONENT_2, PIN_KEY, IPEK):
        secrets_ |= {key.hex(), key.hex().upper(), key[:4].hex().upper(), repr(key)[2:-1]}
    for text in texts:
        leaked = sorted(s for s in secrets_ if s in text)
        assert not leaked, f"{leaked} in {text!r}"


def test_strict_warnings_hold() -> None:
    # Double-length TDES through the element raises no deprecation warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        element = SecureElement()
        element.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)
        element.load_component("kek", COMPONENT_2, KEK_ATTRS, COMPONENT_2_KCV)
        element.activate("kek", KEK_KCV)


# --- key separation (security review of issue 5; /tmp/rev attack1.py, zero.py) --------


def test_clear_components_only_build_the_first_kek(se: SecureElement) -> None:
    # The review's attack A: with the bank's KEK loaded, the host loads its own KEK from
    # components it made, then a PIN key it knows under the bank's key name.
    for name, attributes in (
        ("evil", KEK_ATTRS),
        ("evil1", attrs(KeyUsage.KBPK, TDES, ModeOfUse.BOTH)),
    ):
        with pytest.raises(UseViolation, match="clear components are no longer taken"):
            se.load_component(name, KEY_A, attributes, kcv(TDES, KEY_A))
        with pytest.raises(KeyNotFound):
            se.detail(name)
    # Components begun before the first KEK was activated cannot be activated after it.
    element = SecureElement()
    for name, first in (("one", KEY_A), ("two", KEY_B)):
        element.load_component(name, first, KEK_ATTRS, kcv(TDES, first))
        element.load_component(name, KEY_C, KEK_ATTRS, kcv(TDES, KEY_C))
    element.activate("one", kcv(TDES, prim.xor_bytes(KEY_A, KEY_C)))
    with pytest.raises(UseViolation):
        element.activate("two", kcv(TDES, prim.xor_bytes(KEY_B, KEY_C)))
    assert set(element.details()) == {"one"}  # the refused components are discarded
    # A KEK deleted, or the pad initialized: components are taken again.
    element.delete_key("one")
    element.load_component("one", KEY_A, KEK_ATTRS, kcv(TDES, KEY_A))
    se.initialize()
    se.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)


def test_a_later_kek_arrives_enciphered_under_the_first(se: SecureElement) -> None:
    load(se, "kek2", KEY_A, KeyUsage.KEK)
    load(se, "kbpk", KEY_B, KeyUsage.KBPK)
    assert se.detail("kek2").usage is KeyUsage.KEK
    se.load_key(
        "pin",
        prim.encrypt_ecb(TDES, KEY_A, PIN_KEY),
        "kek2",
        attrs(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT),
        PIN_KEY_KCV,
    )


def test_identical_and_all_zero_components_are_refused() -> None:
    # The review's zero.py: one caller sends one component twice; the KEK is all zeros.
    element = SecureElement()
    element.load_component("k", KEY_A, KEK_ATTRS, kcv(TDES, KEY_A))
    with pytest.raises(KeyInvalid, match="identical"):
        element.load_component("k", KEY_A, KEK_ATTRS, kcv(TDES, KEY_A))
    # Parity bits do not make a component another one (DES ignores them).
    flipped = bytes(b ^ 1 for b in KEY_A)
    with pytest.raises(KeyInvalid, match="identical"):
        element.load_component("k", flipped, KEK_ATTRS, kcv(TDES, flipped))
    assert element.detail("k").components == 1
    for zero in (bytes(16), bytes.fromhex("01" * 16)):
        with pytest.raises(KeyInvalid, match="zeros"):
            element.load_component("z", zero, KEK_ATTRS, kcv(TDES, zero))
    # Three components that cancel out: the combined key is all zeros.
    element.load_component("k", KEY_B, KEK_ATTRS, kcv(TDES, KEY_B))
    third = prim.xor_bytes(KEY_A, KEY_B)
    element.load_component("k", third, KEK_ATTRS, kcv(TDES, third))
    with pytest.raises(KeyInvalid, match="zeros"):
        element.activate("k", kcv(TDES, bytes(16)))
    with pytest.raises(KeyNotFound):  # discarded: loading starts again
        element.detail("k")
    assert element.encryption_state is EncryptionState.NOT_INITIALIZED


def test_tdes_keys_with_equal_halves_are_refused(se: SecureElement) -> None:
    half = bytes.fromhex("1122334455667788")
    other = bytes.fromhex("8877665544332211")
    weak_16 = half + half
    weak_24 = [half + half + other, other + half + half, half + other + half]
    element = SecureElement()
    with pytest.raises(KeyInvalid, match="single-DES"):
        element.load_component("k", weak_16, KEK_ATTRS, kcv(TDES, weak_16))
    # Two sound components whose XOR has equal halves.
    element.load_component("k", KEY_A, KEK_ATTRS, kcv(TDES, KEY_A))
    second = prim.xor_bytes(KEY_A, weak_16)
    element.load_component("k", second, KEK_ATTRS, kcv(TDES, second))
    with pytest.raises(KeyInvalid, match="single-DES"):
        element.activate("k", kcv(TDES, weak_16))
    p0 = attrs(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT)
    for weak in (weak_16, half[:-1] + b"\x89" + half):  # 0x88/0x89: parity bits only
        with pytest.raises(KeyInvalid, match="single-DES"):
            se.load_key("weak", under_kek(weak), "kek", p0, kcv(TDES, weak))
    # 24-byte keys under a 24-byte KEK (a weaker KEK may not protect them at all).
    kek_24 = KEY_A + KEY_C[:8]
    element = SecureElement()
    element.load_component("k", KEY_B + KEY_C[8:], KEK_ATTRS, kcv(TDES, KEY_B + KEY_C[8:]))
    second = prim.xor_bytes(kek_24, KEY_B + KEY_C[8:])
    element.load_component("k", second, KEK_ATTRS, kcv(TDES, second))
    element.activate("k", kcv(TDES, kek_24))
    for weak in weak_24:
        with pytest.raises(KeyInvalid, match="single-DES"):
            element.load_key("weak", prim.encrypt_ecb(TDES, kek_24, weak), "k", p0, kcv(TDES, weak))
    kbpk = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
    load(se, "kbpk", kbpk, KeyUsage.KBPK)
    with pytest.raises(KeyInvalid, match="single-DES"):
        se.load_key_block("weak", wrap(kbpk, Header(Version.B, "P0", "T", "E"), weak_16), "kbpk")
    assert set(se.details()) == {"kek", "kbpk"}


def test_a_name_in_use_is_replaced_only_by_a_key_of_its_attributes(se: SecureElement) -> None:
    load(se, "pin", PIN_KEY, KeyUsage.PIN, mode=ModeOfUse.ENCRYPT)
    for usage, mode in ((KeyUsage.DATA, ModeOfUse.BOTH), (KeyUsage.PIN, ModeOfUse.BOTH)):
        with pytest.raises(DuplicateKey) as caught:
            load(se, "pin", KEY_A, usage, mode=mode)
        assert caught.value.error_code == "duplicateKey"
    kbpk = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
    load(se, "kbpk", kbpk, KeyUsage.KBPK)
    with pytest.raises(DuplicateKey):
        se.load_key_block("pin", wrap(kbpk, Header(Version.B, "D0", "T", "B"), KEY_B), "kbpk")
    assert se.detail("pin").kcv == PIN_KEY_KCV
    # The same attributes: the new key replaces the old one.
    load(se, "pin", KEY_A, KeyUsage.PIN, mode=ModeOfUse.ENCRYPT)
    assert se.detail("pin").kcv == kcv(TDES, KEY_A)
    se.load_key_block("pin", wrap(kbpk, Header(Version.B, "P0", "T", "E"), KEY_B), "kbpk")
    assert se.detail("pin").kcv == kcv(TDES, KEY_B)


def test_a_key_value_keeps_its_first_usage_until_initialize(se: SecureElement) -> None:
    # The review's attacks B and C: the captured wrapped PIN key re-imported as a data
    # key (it would decipher PIN blocks) or as a KEK (to wrap keys the host knows).
    wrapped = under_kek(PIN_KEY)
    p0 = attrs(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT)
    se.load_key("pin", wrapped, "kek", p0, PIN_KEY_KCV)
    others = [
        attrs(KeyUsage.DATA, TDES, ModeOfUse.BOTH),
        attrs(KeyUsage.KEK, TDES, ModeOfUse.BOTH),
        attrs(KeyUsage.PIN, TDES, ModeOfUse.BOTH),  # same usage, another mode
        attrs(KeyUsage.MAC_ISO9797_1, TDES, ModeOfUse.GENERATE_VERIFY),
    ]
    messages = []
    for other in others:
        with pytest.raises(UseViolation) as caught:
            se.load_key("twin", wrapped, "kek", other, PIN_KEY_KCV)
        messages.append(str(caught.value))
    # Through a TR-31 block too, and after the first key was deleted.
    kbpk = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
    load(se, "kbpk", kbpk, KeyUsage.KBPK)
    se.delete_key("pin")
    with pytest.raises(UseViolation) as caught:
        se.load_key_block("twin", wrap(kbpk, Header(Version.B, "D0", "T", "B"), PIN_KEY), "kbpk")
    messages.append(str(caught.value))
    with pytest.raises(UseViolation):
        load(se, "twin", PIN_KEY, KeyUsage.DATA)
    assert set(se.details()) == {"kek", "kbpk"}
    # With its first attributes it loads again, under any name.
    se.load_key("pin2", wrapped, "kek", p0, PIN_KEY_KCV)
    # A combined KEK is bound too: its value loads as nothing else.
    with pytest.raises(UseViolation):
        load(se, "kek_twin", KEK, KeyUsage.DATA)
    for message in messages:
        assert "P0" in message
        for secret in (PIN_KEY.hex(), PIN_KEY.hex().upper(), PIN_KEY_KCV.hex().upper()):
            assert secret not in message
    # initialize forgets the bindings (and their secret).
    secret_before = se._fingerprint_secret
    se.initialize()
    assert se._seen == {}
    assert se._fingerprint_secret != secret_before
    se.load_component("kek", COMPONENT_1, KEK_ATTRS, COMPONENT_1_KCV)
    se.load_component("kek", COMPONENT_2, KEK_ATTRS, COMPONENT_2_KCV)
    se.activate("kek", KEK_KCV)
    load(se, "data", PIN_KEY, KeyUsage.DATA)


def test_the_fingerprints_are_hmacs_not_values(se: SecureElement) -> None:
    load(se, "pin", PIN_KEY, KeyUsage.PIN)
    assert len(se._seen) == 2  # the KEK and the PIN key
    for fingerprint in se._seen:
        assert len(fingerprint) == 32
        assert PIN_KEY not in fingerprint
        assert KEK not in fingerprint
    # Under another element's secret the same value has another fingerprint.
    other = SecureElement()
    assert other._fingerprint(PIN_KEY) != se._fingerprint(PIN_KEY)
    assert other._fingerprint(PIN_KEY) not in se._seen


def test_a_key_equal_to_its_kek_is_refused(se: SecureElement) -> None:
    with pytest.raises(UseViolation, match="equals the key that protects it"):
        load(se, "kek_again", KEK, KeyUsage.KEK)
    assert set(se.details()) == {"kek"}


def test_no_key_is_stronger_than_its_kek(se: SecureElement, aes_se: SecureElement) -> None:
    # The review: an AES-256 key under a TDES KEK.
    aes_256 = bytes(range(0x21, 0x41))
    for value, algorithm in (
        (aes_256, AES),
        (aes_256[:16], AES),
        (aes_256[:16], SM4),
        (KEY_A + KEY_B[:8], TDES),  # TDES-24 under TDES-16
    ):
        with pytest.raises(UseViolation, match="stronger"):
            load(se, "strong", value, KeyUsage.DATA, algorithm)
    # TR-31: a TDES-24 key in a version B block under a TDES-16 key block protection key.
    kbpk = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
    load(se, "kbpk", kbpk, KeyUsage.KBPK)
    header = Header(Version.B, "D0", "T", "B")
    with pytest.raises(UseViolation, match="stronger"):
        se.load_key_block("strong", wrap(kbpk, header, KEY_A + KEY_B[:8]), "kbpk")
    assert set(se.details()) == {"kek", "kbpk"}
    # Equal or weaker is fine: AES-256 protects anything; SM4 ranks with AES-128.
    load_aes(aes_se, "aes128_kek", aes_256[:16], KeyUsage.KEK, mode=ModeOfUse.DECRYPT)
    # A TDES-24 or AES-192 key fills two AES blocks (zero-padded): its KCV tells its length.
    for value, algorithm in ((KEY_A + KEY_C[:8], TDES), (aes_256[8:], AES)):
        aes_se.load_key(
            f"padded_{algorithm.value}",
            prim.encrypt_ecb(AES, AES_KEK, value + bytes(32 - len(value))),
            "kek",
            attrs(KeyUsage.DATA, algorithm, ModeOfUse.BOTH),
            kcv(algorithm, value),
        )
        detail = aes_se.detail(f"padded_{algorithm.value}")
        assert (detail.length, detail.kcv) == (24, kcv(algorithm, value))
    aes_se.load_key(
        "sm4",
        prim.encrypt_ecb(AES, aes_256[:16], KEY_B),
        "aes128_kek",
        attrs(KeyUsage.DATA, SM4, ModeOfUse.BOTH),
        kcv(SM4, KEY_B),
    )
    with pytest.raises(UseViolation, match="stronger"):  # AES-192 under AES-128
        aes_se.load_key(
            "aes192",
            prim.encrypt_ecb(AES, aes_256[:16], aes_256[8:] + bytes(8)),
            "aes128_kek",
            attrs(KeyUsage.DATA, AES, ModeOfUse.BOTH),
            kcv(AES, aes_256[8:]),
        )


def test_a_bad_name_or_cipher_mode_is_refused_without_quoting_it(se: SecureElement) -> None:
    # A key's bytes passed by mistake as a name or a mode: no message quotes them and no
    # exception context carries them.
    load(se, "data", KEY_A, KeyUsage.DATA)
    calls = [
        lambda: se.load_key(KEY_A, under_kek(KEY_B), "kek", KEK_ATTRS, kcv(TDES, KEY_B)),  # type: ignore[arg-type]
        lambda: se.load_key(KEY_A.hex() * 3, under_kek(KEY_B), "kek", KEK_ATTRS, b"abc"),
        lambda: se.crypt("data", bytes(8), True, KEY_A, None),  # type: ignore[arg-type]
        lambda: se.crypt("data", bytes(8), True, KEY_A.hex(), None),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(HalError) as caught:
            call()
        error = caught.value
        assert error.__context__ is None
        for text in (str(error), repr(error)):
            assert KEY_A.hex() not in text.lower()
            assert repr(KEY_A)[2:-1] not in text
