"""Tests for protocols.tr31 and protocols.tr31_header: published key blocks, tampering, errors.

Sources of the key blocks (KBPK, block, clear key):
- "TR-31:2018 A.7.x": the TR-31:2018 Annex A.7 examples, as carried by openemv/tr31
  test/tr31_decrypt_test.c (labelled there with their annex clause).
- "payShield 10k": blocks generated on a Thales payShield 10k HSM, from the same file.
"""

from __future__ import annotations

import psec.tr31
import pytest

from protocols.crypto_primitives import Algorithm
from protocols.errors import ProtocolError
from protocols.kcv import kcv_cmac, kcv_legacy
from protocols.tr31 import Tr31Key, unwrap, wrap
from protocols.tr31_header import (
    Exportability,
    Header,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    OptionalBlock,
    Tr31Error,
    Tr31HeaderError,
    Tr31KeyError,
    Tr31LengthError,
    Tr31MacError,
    Version,
    parse_header,
)
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored

pytestmark = STRICT_WARNINGS

PAYSHIELD_TDES = "EFE0853B256B583D868F251CE99EA1D9"
PAYSHIELD_AES = "41" * 32
A_KEY = "5DB50B454F8389ADCE573BE50861F2BF"

# (source, KBPK, key block, clear key, KCV as openemv/tr31 gives it (3 bytes: legacy for TDES
# keys, CMAC-based for AES keys), padding found in the block by decrypting it)
VECTORS = [
    (
        "TR-31:2018 A.7.2.1",
        "89E88CF7931444F334BD7547FC3F380C",
        "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
        "F039121BEC83D26B169BDCD5B22AAF8F",
        "CB9DEA",
        "720DF563BB07",
    ),
    (
        "TR-31:2018 A.7.2.2",
        "DD7515F2BFC17F85CE48F3CA25CB21F6",
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "57C409",
        "1C2965473CE2",
    ),
    (
        "TR-31:2018 A.7.3.1",
        "B8ED59E0A279A295E9F5ED7944FD06B9",
        "C0096B0TX12S0100KS1800604B120F9292800000"
        "BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C",
        "EDB380DD340BC2620247D445F5B8D678",
        "F4B08D",
        "8546A8ED98D1",
    ),
    (
        "TR-31:2018 A.7.3.2",
        "1D22BF32387C600AD97F9B97A51311AC",
        "B0104B0TX12S0100KS1800604B120F9292800000"
        "BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627",
        "E8BC63E5479455E26577F715D587FE68",
        "9A4212",
        "30111D18CC4C",
    ),
    (
        "TR-31:2018 A.7.4",
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D2"
        "07E2E417C07156A27E8E31DA05F7425509593D03A457DC34",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "08793E",
        "1C2965473CE206BB855B01533782",
    ),
    (
        "payShield 10k, version A",
        PAYSHIELD_TDES,
        "A0072K0TN00N0000F40D5672C6D0EC86F860BA88D44D00F0CA9A8CE8CD2F640287A9A9EB",
        A_KEY,
        "5C9405",
        "89BC81604BDF",
    ),
    (
        "payShield 10k, version B",
        PAYSHIELD_TDES,
        "B0080K0TN00N00001C414014375212C24995E405B5EE052CB92B67F455EA2680F6751088F9F1C228",
        A_KEY,
        "5C9405",
        "F786DF9F6A54",
    ),
    (
        "payShield 10k, version C",
        PAYSHIELD_TDES,
        "C0072K0TN00N0000C9B875FF7A5316BF221C09ED52080DE0B45632A4EA9CE87699CB565E",
        A_KEY,
        "5C9405",
        "345A7B73542D",
    ),
    (
        "payShield 10k, version D, TDES key",
        PAYSHIELD_AES,
        "D0112B0TN00N000037DB9B046B7B0048785690759580ABC3B9842AB4BB7717B49E92528E"
        "575785D8123559376A2553B27BE94F054F4E971C",
        "1FA1F7CEC798D91545DA8AE0C7796BD9",
        "FF5087",
        "6B58C03B829BF4CC37B8B93C17F6",
    ),
    (
        "payShield 10k, version D, AES-256 key",
        PAYSHIELD_AES,
        "D0144D0AN00N0000127862F945C2DED04530FAF7CDBC8B0BA10C7AA79BD5E0C2C5D6AC173B"
        "F588E4B19ACF1357178D50EA0AB193228E13958304FC6149632DFDCADF3A5B3D57E814",
        "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC",
        "0A00E3",
        "295FF17ED49FA896A5D945C176B7",
    ),
]
IDS = [v[0] for v in VECTORS]


@pytest.mark.parametrize(("source", "kbpk", "block", "key", "kcv", "padding"), VECTORS, ids=IDS)
def test_published_blocks_unwrap(
    source: str, kbpk: str, block: str, key: str, kcv: str, padding: str
) -> None:
    result = unwrap(bytes.fromhex(kbpk), block)
    assert result.key == bytes.fromhex(key)
    if result.header.algorithm is KeyAlgorithm.AES:
        # openemv/tr31 gives AES keys the CMAC-based KCV, cut to 3 bytes
        assert kcv_cmac(Algorithm.AES, result.key)[:3] == bytes.fromhex(kcv)
    else:
        assert kcv_legacy(Algorithm.TDES, result.key) == bytes.fromhex(kcv)


@pytest.mark.parametrize(("source", "kbpk", "block", "key", "kcv", "padding"), VECTORS, ids=IDS)
def test_published_blocks_rewrap_byte_for_byte(
    source: str, kbpk: str, block: str, key: str, kcv: str, padding: str
) -> None:
    """With the block's own padding, wrap rebuilds the published block exactly."""
    header, _, _ = parse_header(block)
    pad = bytes.fromhex(padding)

    def fill(n: int) -> bytes:
        assert n == len(pad)
        return pad

    assert wrap(bytes.fromhex(kbpk), header, bytes.fromhex(key), fill=fill) == block


def test_a7_header_fields() -> None:
    header, length, head_len = parse_header(VECTORS[2][2])
    assert (length, head_len) == (96, 40)
    assert header.version is Version.C
    assert header.key_usage is KeyUsage.BDK
    assert header.algorithm is KeyAlgorithm.TDES
    assert header.mode_of_use is ModeOfUse.DERIVE
    assert header.key_version == "12"
    assert header.exportability is Exportability.SENSITIVE
    assert header.blocks == (OptionalBlock("KS", "00604B120F9292800000"),)
    assert header.block("KS") is not None
    assert header.block("KP") is None


@pytest.mark.parametrize(("source", "kbpk", "block", "key", "kcv", "padding"), VECTORS, ids=IDS)
def test_every_tampered_character_is_refused(
    source: str, kbpk: str, block: str, key: str, kcv: str, padding: str
) -> None:
    head_len = parse_header(block)[2]
    for i, ch in enumerate(block):
        swapped = "1" if ch != "1" else "2"
        tampered = block[:i] + swapped + block[i + 1 :]
        # past the header the block is still well formed: only the MAC can catch it
        expected = Tr31MacError if i >= head_len else Tr31Error
        with pytest.raises(expected):
            unwrap(bytes.fromhex(kbpk), tampered)


def test_wrong_kbpk_is_refused_as_mac_error() -> None:
    _, kbpk, block, *_ = VECTORS[1]
    wrong = bytes.fromhex(kbpk)[:-1] + b"\x00"
    with pytest.raises(Tr31MacError):
        unwrap(wrong, block)


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda b: b[:-2], Tr31LengthError),
        (lambda b: b + "00", Tr31LengthError),
        (lambda b: "E" + b[1:], Tr31HeaderError),
        (lambda b: b[:1] + "00X2" + b[5:], Tr31HeaderError),
        (lambda b: b[:12] + "0A" + b[14:], Tr31HeaderError),
        (lambda b: b[:16], Tr31LengthError),
        (lambda b: b[:10], Tr31LengthError),
        (lambda b: b[:20] + "ZZ" + b[22:], Tr31Error),
        (lambda b: b[:20] + "é" + b[21:], Tr31Error),
        (lambda b: b[:20] + " " + b[21:], Tr31Error),
        (lambda b: b[:-2] + " 1", Tr31Error),
    ],
)
def test_malformed_blocks_get_typed_errors(mutate: object, error: type[Tr31Error]) -> None:
    _, kbpk, block, *_ = VECTORS[0]
    assert callable(mutate)
    with pytest.raises(error):
        unwrap(bytes.fromhex(kbpk), mutate(block))


def test_kbpk_of_the_wrong_kind_is_refused() -> None:
    header = Header(Version.D, KeyUsage.PIN_ENCRYPTION, KeyAlgorithm.AES, ModeOfUse.ENCRYPT)
    with pytest.raises(Tr31KeyError):
        wrap(b"\x11" * 8, header, b"\x22" * 16)
    tdes = Header(Version.B, KeyUsage.PIN_ENCRYPTION, KeyAlgorithm.TDES, ModeOfUse.ENCRYPT)
    with pytest.raises(Tr31KeyError):
        wrap(b"\x11" * 32, tdes, b"\x22" * 16)
    with pytest.raises(Tr31KeyError):
        unwrap(b"\x11" * 8, VECTORS[0][2])
    with pytest.raises(Tr31KeyError):
        wrap(b"\x11" * 16, tdes, b"")


def test_errors_are_protocol_errors_and_carry_no_key_bytes() -> None:
    _, kbpk, block, key, *_ = VECTORS[1]
    secrets_hex = {kbpk, key, kbpk.lower(), key.lower()}
    assert issubclass(Tr31Error, ProtocolError)
    messages = []
    for i in range(16, len(block)):
        tampered = block[:i] + ("1" if block[i] != "1" else "2") + block[i + 1 :]
        with pytest.raises(Tr31Error) as caught:
            unwrap(bytes.fromhex(kbpk), tampered)
        exc = caught.value
        messages.append(str(exc) + repr(exc) + repr(exc.__cause__))
    for text in messages:
        assert not any(s in text for s in secrets_hex)


def test_unwrapped_key_repr_hides_the_key() -> None:
    _, kbpk, block, key, *_ = VECTORS[4]
    result = unwrap(bytes.fromhex(kbpk), block)
    assert isinstance(result, Tr31Key)
    text = repr(result) + str(result)
    assert key not in text.upper()
    assert repr(bytes.fromhex(key)) not in text


def test_masked_key_length_hides_the_key_length() -> None:
    header = Header(Version.B, KeyUsage.PIN_ENCRYPTION, KeyAlgorithm.TDES, ModeOfUse.ENCRYPT)
    kbpk = bytes(range(16))
    short = wrap(kbpk, header, b"\x33" * 16, masked_key_length=24)
    long = wrap(kbpk, header, b"\x33" * 24)
    assert len(short) == len(long)
    assert unwrap(kbpk, short).key == b"\x33" * 16
    with pytest.raises(Tr31KeyError):
        wrap(kbpk, header, b"\x33" * 24, masked_key_length=16)


def test_optional_blocks_are_padded_to_the_cipher_block() -> None:
    kbpk = bytes(range(32))
    header = Header(
        Version.D,
        KeyUsage.BDK,
        KeyAlgorithm.AES,
        ModeOfUse.DERIVE,
        blocks=(OptionalBlock("KS", "00604B120F9292800000"),),
    )
    block = wrap(kbpk, header, b"\x44" * 16)
    parsed, _, head_len = parse_header(block)
    assert head_len % 16 == 0
    assert [b.id for b in parsed.blocks] == ["KS", "PB"]
    assert block[12:14] == "02"
    assert unwrap(kbpk, block).key == b"\x44" * 16


@pytest.mark.parametrize(
    ("algorithm", "good", "bad"),
    [
        (KeyAlgorithm.TDES, (16, 24), (2, 8, 15, 17, 32)),
        (KeyAlgorithm.DES, (8,), (2, 7, 16, 24)),
        (KeyAlgorithm.AES, (16, 24, 32), (2, 8, 15, 33, 40)),
    ],
)
def test_wrap_takes_only_key_lengths_the_algorithm_has(
    algorithm: KeyAlgorithm, good: tuple[int, ...], bad: tuple[int, ...]
) -> None:
    for version, kbpk in ((Version.B, bytes(range(16))), (Version.D, bytes(range(32)))):
        header = Header(version, KeyUsage.DATA_ENCRYPTION, algorithm, ModeOfUse.BOTH)
        for length in good:
            assert unwrap(kbpk, wrap(kbpk, header, b"\x5a" * length)).key == b"\x5a" * length
        for length in bad:
            with pytest.raises(Tr31KeyError, match=f"algorithm {algorithm.value} .* got {length}"):
                wrap(kbpk, header, b"\x5a" * length)


def test_algorithms_without_fixed_lengths_are_not_checked() -> None:
    kbpk = bytes(range(16))
    for algorithm in (KeyAlgorithm.HMAC, KeyAlgorithm.RSA, "E"):
        header = Header(Version.B, KeyUsage.DATA_ENCRYPTION, algorithm, ModeOfUse.BOTH)
        assert unwrap(kbpk, wrap(kbpk, header, b"\x5a" * 2)).key == b"\x5a" * 2


def test_unwrap_refuses_an_authentic_block_whose_key_does_not_fit_its_algorithm() -> None:
    # psec (an independent TR-31 implementation that checks no algorithm) makes the blocks:
    # properly MACed, but a 2-byte or single-length key where the header says TDES.
    kbpk = bytes(range(16))
    for key, header in (
        (b"\x5a" * 2, "B0000D0TB00E0000"),
        (b"\x5a" * 8, "B0000P0TE00E0000"),
        (b"\x5a" * 16, "B0000D0DB00E0000"),
    ):
        with oracle_warnings_ignored():
            block = psec.tr31.wrap(kbpk, header, key)
        with pytest.raises(Tr31KeyError, match=f"does not fit its header.* got {len(key)}"):
            unwrap(kbpk, block)
    with oracle_warnings_ignored():
        fine = psec.tr31.wrap(kbpk, "B0000P0DE00E0000", b"\x5a" * 8)
    assert unwrap(kbpk, fine).key == b"\x5a" * 8
