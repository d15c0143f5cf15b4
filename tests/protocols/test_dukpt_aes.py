"""AES DUKPT (protocols.dukpt_aes) against the ANSI X9.24-3:2017 published vectors.

Vector sources:
* Initial keys and intermediate derivation ("transaction") keys: ANSI X9.24-3:2017
  Supplement Test Vectors for AES-128 and AES-256 BDKs (B.1 sample for the AES-128 initial
  key), as carried in openemv/dukpt test/dukpt_aes128_test.c and test/dukpt_aes256_test.c.
* Working keys: the same X9.24-3:2017 supplement (Annex B) values as carried in the tests of
  the Rust crate paysec-dukpt (tests of derive_working_key, "annex_b" and "ASC X9
  supplemental X9.24-3 test vectors"); the AES-128 PIN key of counter 1 is also quoted by
  other independent implementations in the code index (found by its value).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.dukpt import DukptKeyError, KsnError, KsnExhaustedError
from protocols.dukpt_aes import (
    AesKeyType,
    AesKeyUsage,
    AesKsn,
    AesOriginator,
    derive_derivation_key,
    derive_initial_key,
    derive_working_key,
    host_derive_working_key,
)

BDK128 = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
BDK256 = BDK128 * 2
IKID = "1234567890123456"
IK128 = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
IK256 = bytes.fromhex("CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F")

# Counter -> intermediate derivation key (openemv/dukpt, X9.24-3:2017 supplement). Counter
# 0x1FFFF is in the supplement but has 17 one-bits, so a conforming device never uses it.
DERIVATION_KEYS_128 = {
    0x00000001: "4F21B565BAD9835E112B6465635EAE44",
    0x00000002: "2F34D68DE10F68D38091A73B9E7C437C",
    0x00000003: "031504E530365CF81264238540518318",
    0x00000004: "0EEFC7ADA628BA68878DA9165A8A1887",
    0x00000005: "C2A7AC328A5DA2D6002D62465BFC028B",
    0x00000006: "D30F7D9351DA58448A2F5E92B4EE3B7D",
    0x00000007: "A8253CEED9AC042C54F75D35C8352278",
    0x00000008: "718EE6CF0B27E53D5F7AF99C4D8146A2",
    0x0001FFFE: "E21E8C8D347F8561A2BE752DAA85A111",
    0x00020000: "F7AE9025468A25D37B7249CFFED224C8",
    0x00020001: "692C8EA4013645135B36497131DF9D2C",
    0xFFFE2000: "48E585B694EB0B18D5C35443E163C0BA",
    0xFFFE4000: "396C2C7CA1EA701C03B86B7D41F0C562",
    0xFFFE8000: "0387625F189B58AE03EF0E8CCA41105E",
    0xFFFF0000: "F6BA59389BD14A9855BE9727E7C52E3C",
}
DERIVATION_KEYS_256 = {
    0x00000001: "54AC2B32B145EA4A554CB8BC44B17467063A799856B1CCC2A138D36E8DBF78B3",
    0x00000002: "5DD5A0253842BBBE1D7C0DA27021412C6F1FAB53FB928DEAE56DA06090A9DE97",
    0x00000003: "8EEEF7C464AE415BB1D73FAED21993CD669F7999092A579EC6DD3CC680C65171",
    0x00000004: "C18CBED570B3B89ECADA7CEC9C224CD5A86ECF3DE377D3EFAB720F8C4D76B9D0",
    0x00000005: "6B3C3C93307151C25DC2309456F01C5C3108DAD571C321899A9B7E0C009FD2EB",
    0x00000006: "B8BB61AE3E2D5CD8C699E0C578FB2C7B89B0C0CF02DBAB60864D8049C986C844",
    0x00000007: "88D0ACA287B3066F5DE0C93396337D4C2DA8D92C1F720A576D62CEB4C979E01E",
    0x00000008: "20A796D5077D51B8E7613893A4F095B134E02917DC84BD391F3661D0873FF308",
    0x0001FFFE: "A289508CBF1228452CD86AB77B15CB35577AC828C18BB66681E5A16D6C9CCED3",
    0x00020000: "D62DDA94A47D7DA5D763443B4ECB15EA8DD62E0E4F915958BA459591F8312E37",
    0x00020001: "44110A1102748D4A3AC326F53D8CAC650212590CA7126D54546DDE0F20E89CEE",
    0xFFFE2000: "4625EB06E4886D4AFCC9AE37ED4F4E4E1653C9E60E3F24742A87A26AA96AB7A6",
    0xFFFE4000: "FF20E1BB575539ACCB44E3111BE8757F83AE8549A2DD71B441A4A424F7FFD4B1",
    0xFFFE8000: "630535C9C53E1EC6524016930B56F6728909C45403536B419AEBCB25B7351C07",
    0xFFFF0000: "6D6DB7AAAE8B3EA90E57A39E4BBA71E173B21B446B30A78D64BFC6A8806C55EE",
}

# AES-128 BDK, AES-128 working keys, counter 1, every usage (paysec-dukpt tests).
WORKING_KEYS_128_COUNTER_1 = {
    AesKeyUsage.KEY_ENCRYPTION: "36A724B7BEFA5A25F5E7B5782A4554A2",
    AesKeyUsage.PIN_ENCRYPTION: "AF8CB133A78F8DC2D1359F18527593FB",
    AesKeyUsage.MAC_GENERATION: "A2DC23DE6FDE0824A2BC321E08E4B8B7",
    AesKeyUsage.MAC_VERIFICATION: "DBB463945B286C07CD3AD82EE96FD9C9",
    AesKeyUsage.MAC_BOTH: "85675439D18D7F1158BD8E3EAA3D502B",
    AesKeyUsage.DATA_ENCRYPT: "A35C412EFD41FDB98B69797C02DCD08F",
    AesKeyUsage.DATA_DECRYPT: "16292C6EA8F64C5420A0584BFBC577BE",
    AesKeyUsage.DATA_BOTH: "A308E080DD15A1B741F1721BF67DE11C",
}
# AES-128 BDK: counter -> (PIN, MAC generation, data encrypt) AES-128 working keys.
WORKING_KEYS_128 = {
    0x00000002: (
        "D30BDC73EC9714B000BEC66BDB7B6D09",
        "484C3B06E8562704528CD5B46FB12FB6",
        "D639514AA33AC43AD9229E433D6D4E5B",
    ),
    0x00000005: (
        "35A43BC9EFEB09C756204B57E3FB7D4D",
        "0588185FE1FF8C7E22FAD78C1C61F065",
        "CA02DF6F30B39E14BD0B4A30E460920F",
    ),
    0x0001FFFE: (
        "DDF7E08A84B5478C498D007C743BF762",
        "6D7623AD652734B8FAE1B6E093EACE3D",
        "8E4E5D5E0F01C54F01F4ACA1C8F8EDCE",
    ),
    0x00020000: (
        "AB828BE7B58C7EC5D5ED0D5D320A0C9D",
        "0B59D3D7D93028D97135FB895CACE24E",
        "13361208975755318FE7AE28C9616014",
    ),
}
# AES-256 BDK, counter 1: (working key type, PIN, MAC generation, data encrypt).
WORKING_KEYS_256_COUNTER_1 = [
    (
        AesKeyType.AES128,
        "09C9C432966811D6B2C3336BAC1B1202",
        "F04A1FABD4176E15490CEC82E217A96D",
        "616D59AE91F8CC7016F89FDA29605FA4",
    ),
    (
        AesKeyType.AES256,
        "8C1AB7BEE973829E30242E0BBBDD4946D540C98FC1B5BDCF94790001A23FD502",
        "61DABDF4B340CF461EE860B1D1AB55357142BD2D6977306859CF49AEFE8F1549",
        "71EB36C9A6B7F801D1D1700C29741FC5A5C4E9B45D742DA7AF6992B8AA29AF58",
    ),
]
TRIPLE = (AesKeyUsage.PIN_ENCRYPTION, AesKeyUsage.MAC_GENERATION, AesKeyUsage.DATA_ENCRYPT)


def ksn(counter: int) -> AesKsn:
    return AesKsn.from_initial_key_id(IKID, counter)


def test_initial_keys() -> None:
    assert derive_initial_key(BDK128, IKID) == IK128
    assert derive_initial_key(BDK256, bytes.fromhex(IKID)) == IK256
    assert derive_initial_key(BDK256, ksn(7)) == IK256


@pytest.mark.parametrize(
    ("initial_key", "table"),
    [(IK128, DERIVATION_KEYS_128), (IK256, DERIVATION_KEYS_256)],
    ids=["aes128", "aes256"],
)
def test_intermediate_derivation_keys(initial_key: bytes, table: dict[int, str]) -> None:
    for counter, expected in table.items():
        assert derive_derivation_key(initial_key, ksn(counter)).hex().upper() == expected, counter


def test_the_published_ksn_sequences_follow_next() -> None:
    start = ksn(0)
    assert [(start := start.next()).counter for _ in range(8)] == list(range(1, 9))
    assert ksn(0x1FFFE).next().counter == 0x20000  # 0x1FFFF has 17 one-bits
    assert ksn(0xFFFE2000).next().counter == 0xFFFE4000
    assert ksn(0xFFFE8000).next().counter == 0xFFFF0000
    with pytest.raises(KsnExhaustedError):
        ksn(0xFFFF0000).next()


def test_working_keys_of_every_usage() -> None:
    for usage, expected in WORKING_KEYS_128_COUNTER_1.items():
        key = derive_working_key(IK128, ksn(1), usage, AesKeyType.AES128)
        assert key.hex().upper() == expected, usage.name


def test_the_originator_gives_the_published_keys() -> None:
    device = AesOriginator(IK128, ksn(0))
    for counter in range(1, 9):
        assert device.ksn == ksn(counter)
        assert device.derivation_key().hex().upper() == DERIVATION_KEYS_128[counter]
        if counter in WORKING_KEYS_128:
            got = [device.working_key(u, AesKeyType.AES128).hex().upper() for u in TRIPLE]
            assert tuple(got) == WORKING_KEYS_128[counter]
        device.advance()
    assert "1273671E" not in repr(device)


def test_the_aes256_originator_agrees_with_the_host_over_600_transactions() -> None:
    device = AesOriginator(IK256, ksn(0))
    seen = set()
    for _ in range(600):
        key = device.derivation_key()
        assert key == derive_derivation_key(IK256, device.ksn), device.ksn
        seen.add(key)
        device.advance()
    assert len(seen) == 600
    assert device.working_key(AesKeyUsage.PIN_ENCRYPTION, AesKeyType.AES256) == (
        derive_working_key(IK256, device.ksn, AesKeyUsage.PIN_ENCRYPTION, AesKeyType.AES256)
    )


def test_the_originator_stops_when_the_counter_is_exhausted() -> None:
    device = AesOriginator(IK128, ksn(0))
    device._counter = 0xFFFF0000  # white-box: the last valid counter (its register exists)
    with pytest.raises(KsnExhaustedError):
        device.advance()
    assert device.exhausted
    with pytest.raises(KsnExhaustedError):
        device.working_key(AesKeyUsage.PIN_ENCRYPTION, AesKeyType.AES128)


def test_working_keys_over_counters() -> None:
    for counter, expected in WORKING_KEYS_128.items():
        for usage, value in zip(TRIPLE, expected, strict=True):
            key = host_derive_working_key(BDK128, ksn(counter), usage, AesKeyType.AES128)
            assert key.hex().upper() == value, (counter, usage.name)


def test_working_keys_from_an_aes256_bdk() -> None:
    for kind, *expected in WORKING_KEYS_256_COUNTER_1:
        for usage, value in zip(TRIPLE, expected, strict=True):
            key = host_derive_working_key(BDK256, ksn(1).hex(), usage, kind)
            assert key.hex().upper() == value, (kind.name, usage.name)


def test_tdea_working_key_lengths() -> None:
    # No published TDEA working-key vector was found: lengths and distinctness only.
    two = derive_working_key(IK128, ksn(1), AesKeyUsage.PIN_ENCRYPTION, AesKeyType.TDEA2)
    three = derive_working_key(IK128, ksn(1), AesKeyUsage.PIN_ENCRYPTION, AesKeyType.TDEA3)
    assert (len(two), len(three)) == (16, 24)
    assert two != three[:16]


def test_a_working_key_stronger_than_its_derivation_key_is_refused() -> None:
    for kind in (AesKeyType.AES192, AesKeyType.AES256):
        with pytest.raises(DukptKeyError):
            derive_working_key(IK128, ksn(1), AesKeyUsage.PIN_ENCRYPTION, kind)


def test_derivation_usages_are_no_working_keys() -> None:
    for usage in (AesKeyUsage.KEY_DERIVATION, AesKeyUsage.KEY_DERIVATION_INITIAL):
        with pytest.raises(DukptKeyError):
            derive_working_key(IK128, ksn(1), usage, AesKeyType.AES128)


@pytest.mark.parametrize("length", [0, 8, 15, 20, 33])
def test_bad_key_lengths_are_refused_without_quoting_the_key(length: int) -> None:
    key = bytes(range(0xB0, 0xB0 + length))
    for call in (
        lambda: derive_initial_key(key, IKID),
        lambda: derive_derivation_key(key, ksn(1)),
    ):
        with pytest.raises(DukptKeyError) as caught:
            call()
        if length >= 4:
            assert key[:4].hex() not in (str(caught.value) + repr(caught.value)).lower()


@pytest.mark.parametrize(
    "value", ["12345678901234560000001", "1234567890123456000000XY", b"\x00" * 10, 3]
)
def test_malformed_ksns_are_refused(value: object) -> None:
    with pytest.raises(KsnError):
        AesKsn.parse(value)  # type: ignore[arg-type]


def test_ksn_fields_and_text() -> None:
    k = AesKsn.parse("123456789012345600000001")
    assert (k.bdk_id, k.derivation_id, k.counter) == (0x12345678, 0x90123456, 1)
    assert repr(k) == "AesKsn('123456789012345600000001')"
    with pytest.raises(KsnError):
        derive_derivation_key(IK128, ksn(0))


ikids = st.integers(0, (1 << 64) - 1)
valid_counters = st.sets(st.integers(0, 31), max_size=16).map(lambda s: sum(1 << b for b in s))
crowded_counters = st.sets(st.integers(0, 31), min_size=17).map(lambda s: sum(1 << b for b in s))


@settings(max_examples=200)
@given(ikid=ikids, counter=valid_counters)
def test_ksn_round_trips(ikid: int, counter: int) -> None:
    k = AesKsn(ikid, counter)
    assert AesKsn.parse(k.to_bytes()) == k
    assert AesKsn.parse(k.hex().lower()) == k
    assert AesKsn.from_initial_key_id(k.initial_key_id_bytes, counter) == k


@settings(max_examples=200)
@given(ikid=ikids, counter=crowded_counters)
def test_counters_with_more_than_sixteen_ones_are_refused(ikid: int, counter: int) -> None:
    with pytest.raises(KsnError):
        AesKsn(ikid, counter)
    with pytest.raises(KsnError):
        AesKsn.parse(ikid.to_bytes(8, "big") + counter.to_bytes(4, "big"))


@settings(max_examples=40, deadline=None)
@given(pair=st.lists(valid_counters.filter(bool), min_size=2, max_size=2, unique=True))
def test_derived_keys_differ_per_counter(pair: list[int]) -> None:
    first, second = (ksn(c) for c in pair)
    assert derive_derivation_key(IK128, first) != derive_derivation_key(IK128, second)
    for usage in TRIPLE:
        assert derive_working_key(IK256, first, usage, AesKeyType.AES256) != (
            derive_working_key(IK256, second, usage, AesKeyType.AES256)
        )
