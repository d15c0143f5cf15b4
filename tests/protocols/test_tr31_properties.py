"""Property tests for protocols.tr31: round trips, psec as an independent oracle, headers."""

from __future__ import annotations

import psec.tr31
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.tr31 import unwrap, wrap
from protocols.tr31_header import (
    Header,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    OptionalBlock,
    Tr31Error,
    Version,
    build_header,
    cipher_block_size,
    parse_header,
)
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored

pytestmark = STRICT_WARNINGS

KBPK_LENGTHS = {
    Version.A: (16, 24),
    Version.B: (16, 24),
    Version.C: (16, 24),
    Version.D: (16, 24, 32),
}
KEY_LENGTHS = {Version.A: (8, 16, 24), Version.B: (8, 16, 24), Version.C: (8, 16, 24)}
KEY_LENGTHS[Version.D] = (16, 24, 32)


@st.composite
def kbpk_and_key(draw: st.DrawFn) -> tuple[Version, bytes, bytes]:
    version = draw(st.sampled_from(list(Version)))
    n = draw(st.sampled_from(KBPK_LENGTHS[version]))
    kbpk = draw(st.binary(min_size=n, max_size=n))
    m = draw(st.sampled_from(KEY_LENGTHS[version]))
    key = draw(st.binary(min_size=m, max_size=m))
    return version, kbpk, key


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
# alphanumeric, as psec insists (our parser takes any printable ID)
block_ids = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=2)


@st.composite
def headers(draw: st.DrawFn) -> Header:
    version = draw(st.sampled_from(list(Version)))
    ids = draw(st.lists(block_ids.filter(lambda i: i != "PB"), max_size=3))
    blocks = tuple(OptionalBlock(i, draw(printable), draw(st.booleans())) for i in ids)
    return Header(
        version=version,
        key_usage=draw(st.sampled_from([*KeyUsage, "V2", "C0"])),
        algorithm=draw(st.sampled_from([*KeyAlgorithm, "E"])),
        mode_of_use=draw(st.sampled_from([*ModeOfUse, "Y"])),
        key_version=draw(st.sampled_from(["00", "12", "c1"])),
        exportability=draw(st.sampled_from(["E", "N", "S"])),
        blocks=blocks,
    )


#: The key lengths protocols.tr31 accepts for an algorithm (T 2/3-key TDEA, D single DES).
ALGORITHM_LENGTHS = {"T": (16, 24), "D": (8,), "A": (16, 24, 32)}


def usual_algorithm(version: Version, key: bytes) -> str:
    """The algorithm a key of this length has: D (8 bytes), else A in D blocks, else T."""
    if len(key) == 8:
        return "D"
    return "A" if version is Version.D else "T"


def fitting(algorithm: KeyAlgorithm | str, version: Version, key: bytes) -> KeyAlgorithm | str:
    """``algorithm`` if a key of this length can have it, else the usual one."""
    allowed = ALGORITHM_LENGTHS.get(str(algorithm))
    return algorithm if allowed is None or len(key) in allowed else usual_algorithm(version, key)


def psec_header(version: Version, key: bytes) -> str:
    return f"{version.value}0000P0{usual_algorithm(version, key)}E00N0000"


@settings(max_examples=40, deadline=None)
@given(kbpk_and_key())
def test_our_wrap_psec_unwrap(case: tuple[Version, bytes, bytes]) -> None:
    version, kbpk, key = case
    header, _, _ = parse_header(psec_header(version, key))
    block = wrap(kbpk, header, key)
    with oracle_warnings_ignored():
        their_header, their_key = psec.tr31.unwrap(kbpk, block)
    assert their_key == key
    assert their_header.version_id == version.value
    assert their_header.key_usage == "P0"


@settings(max_examples=40, deadline=None)
@given(kbpk_and_key())
def test_psec_wrap_our_unwrap(case: tuple[Version, bytes, bytes]) -> None:
    version, kbpk, key = case
    with oracle_warnings_ignored():
        block = psec.tr31.wrap(kbpk, psec_header(version, key), key)
    result = unwrap(kbpk, block)
    assert result.key == key
    assert result.header.version is version
    assert result.header.key_usage is KeyUsage.PIN_ENCRYPTION


@settings(max_examples=40, deadline=None)
@given(kbpk_and_key(), headers(), st.data())
def test_wrap_unwrap_round_trip_and_tampering(
    case: tuple[Version, bytes, bytes], header: Header, data: st.DataObject
) -> None:
    version, kbpk, key = case
    header = Header(
        version,
        header.key_usage,
        fitting(header.algorithm, version, key),
        header.mode_of_use,
        header.key_version,
        header.exportability,
        blocks=header.blocks,
    )
    block = wrap(kbpk, header, key)
    result = unwrap(kbpk, block)
    assert result.key == key
    assert [b for b in result.header.blocks if b.id != "PB"] == list(header.blocks)
    i = data.draw(st.integers(0, len(block) - 1))
    swapped = "1" if block[i] != "1" else "2"
    with pytest.raises(Tr31Error):
        unwrap(kbpk, block[:i] + swapped + block[i + 1 :])


@settings(max_examples=100, deadline=None)
@given(headers(), st.integers(0, 9999))
def test_header_build_parse_round_trip(header: Header, length: int) -> None:
    text = build_header(header, length)
    parsed, declared, head_len = parse_header(text)
    assert declared == length
    assert head_len == len(text)
    assert head_len % cipher_block_size(header.version) == 0
    assert [b for b in parsed.blocks if b.id != "PB"] == list(header.blocks)
    assert (parsed.key_usage, parsed.algorithm, parsed.mode_of_use) == (
        header.key_usage,
        header.algorithm,
        header.mode_of_use,
    )
    assert parsed.key_version == header.key_version
    assert parsed.exportability == header.exportability
    # a parsed header rebuilds to the same text
    assert build_header(parsed, length) == text


def test_extended_length_block() -> None:
    long = OptionalBlock("HM", "A" * 300)
    header = Header(
        Version.B, KeyUsage.PIN_ENCRYPTION, KeyAlgorithm.TDES, ModeOfUse.ENCRYPT, blocks=(long,)
    )
    text = build_header(header, 0)
    assert text[16:26] == f"HM0002{310:04X}"
    parsed, _, _ = parse_header(text)
    assert parsed.blocks[0] == OptionalBlock("HM", "A" * 300, extended=True)


def test_unknown_values_are_kept_verbatim() -> None:
    parsed, _, _ = parse_header("B0000V2EY07Q0000")
    assert parsed.key_usage == "V2"
    assert not isinstance(parsed.key_usage, KeyUsage)
    assert parsed.algorithm == "E"
    assert not isinstance(parsed.algorithm, KeyAlgorithm)
    assert parsed.mode_of_use == "Y"
    assert not isinstance(parsed.mode_of_use, ModeOfUse)
    assert parsed.exportability == "Q"
    assert build_header(parsed, 0) == "B0000V2EY07Q0000"


@settings(max_examples=25, deadline=None)
@given(kbpk_and_key(), headers())
def test_optional_blocks_agree_with_psec(
    case: tuple[Version, bytes, bytes], header: Header
) -> None:
    """psec reads our optional blocks (short and extended form, PB) and we read psec's."""
    version, kbpk, key = case
    header = Header(
        version,
        KeyUsage.PIN_ENCRYPTION,
        fitting(header.algorithm, version, key),
        ModeOfUse.ENCRYPT,
        blocks=header.blocks,
    )
    block = wrap(kbpk, header, key)
    with oracle_warnings_ignored():
        their_header, their_key = psec.tr31.unwrap(kbpk, block)
        theirs = psec.tr31.wrap(kbpk, block[: parse_header(block)[2]], key)
    assert their_key == key
    ours = {b.id: b.data for b in header.blocks}
    assert {i: d for i, d in their_header.blocks.items() if i != "PB"} == ours
    assert unwrap(kbpk, theirs).key == key
