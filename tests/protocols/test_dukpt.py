"""TDES DUKPT (protocols.dukpt) against the ANSI X9.24-1:2009 Annex A.4 test data.

Vector source: ANSI X9.24-1:2009 A.4 "DUKPT Test Data Examples" (A.4.2 initial sequence,
A.4.3 rollover sequence), as carried in openemv/dukpt test/dukpt_tdes_test.c; IPEK, the PIN
key of counter 1 and the two first encrypted PIN blocks also in reference/ecosystem.md §8.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.dukpt import (
    DukptError,
    DukptKeyError,
    KsnError,
    KsnExhaustedError,
    TdesKeyUsage,
    TdesKsn,
    TdesOriginator,
    apply_variant,
    decrypt_pin_block,
    derive_ipek,
    derive_key,
    derive_transaction_key,
    encrypt_pin_block,
    host_derive_key,
)
from protocols.errors import Completion, ProtocolError

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
IKSN = TdesKsn.parse("FFFF9876543210E00000")
IPEK = bytes.fromhex("6AC292FAA1315B4D858AB3A3D7D5933A")

# A.4.2 initial sequence: transaction key (no variant) and PIN block encrypted under the
# PIN variant, for counters 1..21 (KSN FFFF9876543210E00001 .. E00015).
INITIAL_SEQUENCE = [
    ("042666B49184CFA368DE9628D0397BC9", "1B9C1845EB993A7A"),
    ("C46551CEF9FD24B0AA9AD834130D3BC7", "10A01C8D02C69107"),
    ("0DF3D9422ACA56E547676D07AD6BADFA", "18DC07B94797B466"),
    ("279C0F6AEED0BE652B2C733E1383AE91", "0BC79509D5645DF7"),
    ("5F8DC6D2C845C125508DDC048093B83F", "5BC0AF22AD87B327"),
    ("5E415CB0BAF9F03CD0C14B63FB62FF43", "A16DF70AE36158D8"),
    ("0C8F780B7C8B49D0AE84A9EB2A6CE660", "27711C16CB257F8E"),
    ("27F66D5244FF62E1AA6F6120EDEB4280", "50E55547A5027551"),
    ("27E31064FDC565698900E2057F658E7E", "536CF7F678ACFC8D"),
    ("6CF2500A22507C7CC776CEADC1E33014", "EDABBA23221833FE"),
    ("3E8260BA04B2D620C01482B3819A18B7", "2328981C57B4BDBA"),
    ("B716E1E11CF53D80726CAEE75C3A624F", "038D03CC926CF286"),
    ("E072EDF95340535FB6C581C58FBF2533", "6C8AA97088B62C68"),
    ("A80046087F5B8F245AAD95E18429084F", "F17C9E1D72CD4950"),
    ("93DD5B956C4878472E453AAEFD32A5AA", "B170F6E7F7F2F64A"),
    ("59598DCBD9BD94C094165CE453585F57", "D5D9638559EF53D6"),
    ("2B5F01F4F0CC05EA639D523231BF1BA2", "D544F8CDD292C863"),
    ("9CF640F279C2AEE615F725EEEAC2CBAF", "7A21BD10F36DC41D"),
    ("C3DF489FDF1153B4F03DE97C27DC4C2F", "78649BD17D0DFA60"),
    ("658488507721B3F14737FA93F923CBD2", "7E7E16EA0C31AD56"),
    ("E161D1956A61F6D2F37AFD7F9CC3699A", "72105C22EBC791E6"),
]

# A.4.3 rollover sequence: KSN, transaction key, encrypted PIN block.
ROLLOVER_SEQUENCE = [
    ("FFFF9876543210EFF800", "F9CDFEBF4F5B1D9EB3EC12454527E176", "33365F5CC6F23C35"),
    ("FFFF9876543210EFF801", "5BEE92627E97825C911BF619DF72CA3B", "3A86BF003F835C9D"),
    ("FFFF9876543210EFF802", "64CA2F8AB93F61B01620B00BF77C7301", "3DB977D05C36DF3F"),
    ("FFFF9876543210EFF804", "35A168695B3BA83307E871C42021DD37", "BA83243305712099"),
    ("FFFF9876543210EFF808", "12C380FCB72ED3C26FC6079AF63F4787", "B0DA04AC90A36D85"),
    ("FFFF9876543210EFF810", "D8007C833A1E3C49C6889B97A68C54FF", "2CF02BD9C309EEDA"),
    ("FFFF9876543210EFF820", "A9C9FF9B735FDD49591F296B0BF0FD70", "9D1E2F77AEEE81C6"),
    ("FFFF9876543210EFF840", "0E3E221062CB5E03A384602783A004FA", "40870B0F8BA2011C"),
    ("FFFF9876543210EFF880", "CA8225C587124DFBB87F279C0BE29727", "22E340D6ABB40981"),
    ("FFFF9876543210EFF900", "906AAC1751D4971A144D52C76C6E1F97", "1A4C10AFBA03A430"),
    ("FFFF9876543210EFFA00", "2B9E2CE7C2750337E10B54D2989EA6AF", "849763B43E5F9CFF"),
    ("FFFF9876543210EFFC00", "F9430DF975082491C77BE4EF4FDB91EE", "DEFC6F09F8927B71"),
    ("FFFF9876543210F00000", "AA4D58DB653EC74A48C75F2F047DD2B5", "73EC88AD0AC5830E"),
]


def iso0_pin_block(pin: str, pan: str) -> bytes:
    """ISO 9564-1 format 0, written here for the vector (the library's is elsewhere)."""
    pin_field = bytes.fromhex(f"0{len(pin)}{pin}".ljust(16, "F"))
    pan_field = bytes.fromhex("0000" + pan[:-1][-12:])
    return bytes(a ^ b for a, b in zip(pin_field, pan_field, strict=True))


PIN_BLOCK = iso0_pin_block("1234", "4012345678909")


def test_the_iso0_pin_block_of_the_annex() -> None:
    # X9.24-1:2009 A.4: PIN 1234, PAN 4012345678909 -> 041274EDCBA9876F.
    assert PIN_BLOCK.hex().upper() == "041274EDCBA9876F"


def test_ipek() -> None:
    assert derive_ipek(BDK, IKSN) == IPEK
    assert derive_ipek(BDK, "FFFF9876543210E00001") == IPEK  # the counter is ignored
    assert derive_ipek(BDK, IKSN.to_bytes()) == IPEK


def test_initial_sequence() -> None:
    ksn = IKSN
    for number, (txn_key, encrypted) in enumerate(INITIAL_SEQUENCE, start=1):
        ksn = ksn.next()
        assert ksn.counter == number
        assert derive_transaction_key(IPEK, ksn).hex().upper() == txn_key, number
        assert encrypt_pin_block(IPEK, ksn, PIN_BLOCK).hex().upper() == encrypted, number
        assert decrypt_pin_block(IPEK, ksn, bytes.fromhex(encrypted)) == PIN_BLOCK


def test_rollover_sequence_and_the_counter_skips() -> None:
    ksn = TdesKsn.parse(ROLLOVER_SEQUENCE[0][0])
    for ksn_hex, txn_key, encrypted in ROLLOVER_SEQUENCE:
        assert ksn.hex() == ksn_hex
        assert derive_transaction_key(IPEK, ksn).hex().upper() == txn_key, ksn_hex
        assert encrypt_pin_block(IPEK, ksn, PIN_BLOCK).hex().upper() == encrypted, ksn_hex
        ksn = ksn.next()


def test_the_originator_walks_the_initial_sequence() -> None:
    device = TdesOriginator(IPEK, IKSN)
    for number, (txn_key, encrypted) in enumerate(INITIAL_SEQUENCE, start=1):
        assert device.ksn == IKSN.with_counter(number)
        assert device.transaction_key().hex().upper() == txn_key, number
        pin_key = device.key(TdesKeyUsage.PIN)
        assert pin_key == derive_key(IPEK, device.ksn, TdesKeyUsage.PIN)
        encryptor = Cipher(TripleDES(pin_key + pin_key[:8]), modes.ECB()).encryptor()
        assert (encryptor.update(PIN_BLOCK) + encryptor.finalize()).hex().upper() == encrypted
        device.advance()
    assert "6AC292" not in repr(device)


def test_the_originator_agrees_with_the_host_over_2000_transactions() -> None:
    device = TdesOriginator(IPEK, IKSN.with_counter(5))  # loading starts from counter 0
    assert device.ksn.counter == 1
    seen = set()
    for _ in range(2000):
        key = device.transaction_key()
        assert key == derive_transaction_key(IPEK, device.ksn), device.ksn
        seen.add(key)
        previous = device.ksn.counter
        assert device.advance().counter == IKSN.with_counter(previous).next().counter
    assert len(seen) == 2000
    assert len(device._registers) <= 21


def test_the_originator_stops_when_the_counter_is_exhausted() -> None:
    device = TdesOriginator(IPEK, IKSN)
    device._counter = 0x1FF800  # white-box: the last valid counter (its register exists)
    with pytest.raises(KsnExhaustedError):
        device.advance()
    assert device.exhausted
    with pytest.raises(KsnExhaustedError):
        device.transaction_key()
    assert repr(device) == "TdesOriginator(ksn='exhausted', registers=0)"


def test_pin_key_of_counter_1_and_the_host_side() -> None:
    # reference/ecosystem.md §8: PEK for counter 1 = 042666B49184CF5C68DE9628D0397B36.
    ksn = "FFFF9876543210E00001"
    pek = "042666B49184CF5C68DE9628D0397B36"
    assert derive_key(IPEK, ksn, TdesKeyUsage.PIN).hex().upper() == pek
    assert host_derive_key(BDK, ksn, TdesKeyUsage.PIN).hex().upper() == pek
    assert (
        host_derive_key(BDK, ksn, TdesKeyUsage.TRANSACTION).hex().upper()
        == (INITIAL_SEQUENCE[0][0])
    )


# Working keys of counters 1..5 from BDK 0123...3210 / KSN FFFF9876543210E0000n: (PIN, MAC
# request, data request). Not in the Annex A.4 tables: they come from the test cases of
# shenyan1206/dukpt (npm @shenyan1206/dukpt) and agree with other implementations found in
# the code index by value (an independent C# suite calls the counter-1 row "official").
VARIANT_KEYS = [
    (
        "042666B49184CF5C68DE9628D0397B36",
        "042666B4918430A368DE9628D03984C9",
        "448D3F076D8304036A55A3D7E0055A78",
    ),
    (
        "C46551CEF9FD244FAA9AD834130D3B38",
        "C46551CEF9FDDBB0AA9AD834130DC4C7",
        "F1BE73B36135C5C26CF937D50ABBE5AF",
    ),
    (
        "0DF3D9422ACA561A47676D07AD6BAD05",
        "0DF3D9422ACAA9E547676D07AD6B52FA",
        "EEEEF522C67239E4A2A65FEBF4C511F4",
    ),
    (
        "279C0F6AEED0BE9A2B2C733E1383AE6E",
        "279C0F6AEED041652B2C733E13835191",
        "BCF2610997C3AC3C5F13AE965A1B773B",
    ),
    (
        "5F8DC6D2C845C1DA508DDC048093B8C0",
        "5F8DC6D2C8453E25508DDC048093473F",
        "F3054D8B7471284BDB4EE18AFC3B091B",
    ),
]


def test_pin_mac_and_data_keys_of_counters_1_to_5() -> None:
    usages = (TdesKeyUsage.PIN, TdesKeyUsage.MAC_REQUEST, TdesKeyUsage.DATA_REQUEST)
    for counter, row in enumerate(VARIANT_KEYS, start=1):
        for usage, expected in zip(usages, row, strict=True):
            key = host_derive_key(BDK, IKSN.with_counter(counter), usage)
            assert key.hex().upper() == expected, (counter, usage.name)
    # MAC response, counter 1: the same C# suite (data response: no vector found).
    key = derive_key(IPEK, IKSN.with_counter(1), TdesKeyUsage.MAC_RESPONSE)
    assert key.hex().upper() == "042666B46E84CFA368DE96282F397BC9"


def test_variants_are_the_x9_24_masks() -> None:
    # PIN: bytes 7/15; MAC request: 6/14; MAC response: 4/12 (X9.24-1:2009 A.6). Data keys
    # (bytes 5/13 request, 3/11 response) are further encrypted under themselves.
    key = bytes(16)
    assert apply_variant(key, TdesKeyUsage.PIN).hex().upper() == "00000000000000FF" * 2
    assert apply_variant(key, TdesKeyUsage.MAC_REQUEST).hex().upper() == "000000000000FF00" * 2
    assert apply_variant(key, TdesKeyUsage.MAC_RESPONSE).hex().upper() == "00000000FF000000" * 2
    usages = list(TdesKeyUsage)
    keys = {apply_variant(IPEK, usage) for usage in usages}
    assert len(keys) == len(usages)


def test_ksn_text_forms() -> None:
    ksn = TdesKsn.parse("ffff 9876 5432 10e0 0001")
    assert str(ksn) == "FFFF9876543210E00001"
    assert repr(ksn) == "TdesKsn('FFFF9876543210E00001')"
    assert ksn.initial == IKSN
    assert ksn.with_counter(0x1F) == TdesKsn.parse("FFFF9876543210E0001F")


@pytest.mark.parametrize(
    "value",
    ["FFFF9876543210E0000", "FFFF9876543210E0000G", b"\x00" * 9, b"\x00" * 11, 42],
)
def test_malformed_ksns_are_refused(value: object) -> None:
    with pytest.raises(KsnError) as caught:
        TdesKsn.parse(value)  # type: ignore[arg-type]
    assert isinstance(caught.value, ProtocolError)
    assert caught.value.completion is Completion.INVALID_DATA


def test_counter_zero_is_no_transaction() -> None:
    with pytest.raises(KsnError):
        derive_transaction_key(IPEK, IKSN)


def test_the_last_counter_is_exhausted() -> None:
    last = IKSN.with_counter(0x1FF800)  # ten one-bits at the top
    with pytest.raises(KsnExhaustedError):
        last.next()


@pytest.mark.parametrize("length", [0, 8, 15, 17, 24])
def test_bad_key_lengths_are_refused_without_quoting_the_key(length: int) -> None:
    key = bytes(range(0xA0, 0xA0 + length))
    for call in (
        lambda: derive_ipek(key, IKSN),
        lambda: derive_transaction_key(key, IKSN.next()),
    ):
        with pytest.raises(DukptKeyError) as caught:
            call()
        text = str(caught.value) + repr(caught.value)
        if length:
            assert key.hex() not in text.lower()
            assert key[:4].hex() not in text.lower()


def test_a_str_key_is_a_typed_error() -> None:
    with pytest.raises(DukptError):
        derive_ipek(BDK.hex(), IKSN)  # type: ignore[arg-type]


key_sets = st.integers(0, (1 << 59) - 1).map(lambda v: v << 21)
valid_counters = st.sets(st.integers(0, 20), max_size=10).map(lambda s: sum(1 << b for b in s))
crowded_counters = st.sets(st.integers(0, 20), min_size=11).map(lambda s: sum(1 << b for b in s))


@settings(max_examples=200)
@given(key_set=key_sets, counter=valid_counters)
def test_ksn_round_trips(key_set: int, counter: int) -> None:
    ksn = TdesKsn(key_set, counter)
    assert TdesKsn.parse(ksn.to_bytes()) == ksn
    assert TdesKsn.parse(ksn.hex()) == ksn
    assert TdesKsn.parse(ksn.hex().lower()) == ksn


@settings(max_examples=200)
@given(key_set=key_sets, counter=crowded_counters)
def test_counters_with_more_than_ten_ones_are_refused(key_set: int, counter: int) -> None:
    with pytest.raises(KsnError):
        TdesKsn(key_set, counter)
    with pytest.raises(KsnError):
        TdesKsn.parse((key_set | counter).to_bytes(10, "big"))


@settings(max_examples=200)
@given(counter=valid_counters)
def test_next_is_the_following_valid_counter(counter: int) -> None:
    try:
        following = IKSN.with_counter(counter).next().counter
    except KsnExhaustedError:
        assert counter >= 0x1FF800
        return
    assert following > counter
    assert following.bit_count() <= 10
    skipped = range(counter + 1, following)
    assert all(c.bit_count() > 10 for c in skipped[:64])


@settings(max_examples=50, deadline=None)
@given(pair=st.lists(valid_counters.filter(bool), min_size=2, max_size=2, unique=True))
def test_derived_keys_differ_per_counter(pair: list[int]) -> None:
    first, second = (IKSN.with_counter(c) for c in pair)
    for usage in (TdesKeyUsage.TRANSACTION, TdesKeyUsage.PIN, TdesKeyUsage.DATA_REQUEST):
        assert derive_key(IPEK, first, usage) != derive_key(IPEK, second, usage)
