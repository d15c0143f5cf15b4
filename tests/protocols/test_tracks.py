"""Tests for protocols.tracks: ISO/IEC 7811/7813 tracks, LRC, masking, Luhn."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ChecksumError, FramingError, ProtocolError
from protocols.tracks import (
    RawTrack,
    Track1Data,
    Track2Data,
    Track3Data,
    build_track1,
    build_track2,
    build_track3,
    encode_track,
    lrc,
    luhn_valid,
    mask_pan,
    parse_track1,
    parse_track2,
    parse_track3,
    read_track,
)

PAN = "4111111111111111"

# (track, SS..ES characters, expected LRC, source). Both rows are constructed in the
# reference (no published capture); the test recomputes them with an independent loop.
LRC_VECTORS = [
    (2, ";4111111111111111=25121010000000000000?", "8", "reference §7 #38 (C)"),
    (1, "%B4111111111111111^DOE/JOHN^2512101000000000000?", "+", "reference §7 #38 (C)"),
]


def independent_lrc(track: int, chars: str) -> str:
    """XOR of the data bits, written out without the module's helpers."""
    base, bits = (0x20, 6) if track == 1 else (0x30, 4)
    acc = 0
    for char in chars:
        acc ^= (ord(char) - base) % (1 << bits)
    return chr(base + acc)


@pytest.mark.parametrize(("track", "chars", "expected", "source"), LRC_VECTORS)
def test_lrc_vectors(track: int, chars: str, expected: str, source: str) -> None:
    assert independent_lrc(track, chars) == expected, source
    assert lrc(track, chars) == expected, source
    assert lrc(track, chars.encode()) == expected, source


@pytest.mark.parametrize(
    "raw",
    [
        ";4111111111111111=25121010000000000000?8",
        ";4111111111111111=25121010000000000000?",
        ";4111111111111111=25121010000000000000",
        "4111111111111111=25121010000000000000?",
        "4111111111111111=25121010000000000000?8",  # LRC with the SS implied
        "4111111111111111=25121010000000000000",
        b";4111111111111111=25121010000000000000?8",
    ],
)
def test_track2_parses_with_or_without_framing(raw: str | bytes) -> None:
    data = parse_track2(raw)
    assert data == Track2Data(PAN, "2512", "101", "0000000000000")


def test_track1_vector_fields() -> None:
    data = parse_track1("%B4111111111111111^DOE/JOHN^2512101000000000000?+")
    assert data == Track1Data(PAN, "DOE/JOHN", "2512", "101", "000000000000")
    assert build_track1(data) == b"%B4111111111111111^DOE/JOHN^2512101000000000000?+"


def test_track2_build_matches_vector() -> None:
    built = build_track2(Track2Data(PAN, "2512", "101", "0000000000000"))
    assert built == b";4111111111111111=25121010000000000000?8"


def test_raw_track_records_framing() -> None:
    raw = read_track(2, "4111=2512?")
    assert (raw.start_sentinel, raw.end_sentinel, raw.lrc) == (False, True, False)
    assert raw.to_bytes() == b"4111=2512?"


def test_bad_lrc_is_a_checksum_error() -> None:
    with pytest.raises(ChecksumError, match="LRC is '7', expected '8'"):
        parse_track2(";4111111111111111=25121010000000000000?7")


@pytest.mark.parametrize(
    ("track", "raw", "message"),
    [
        (2, ";4111A=2512101?", "0x41 at position 5"),
        (1, "%b4111^X/Y^2512101?", "0x62 at position 1"),
        (3, ";01\x7f?", "0x7F at position 3"),
        (2, "41;11=2512101", "sentinel"),
        (1, "B4111^DOE/J%^2512101", "sentinel"),
    ],
)
def test_characters_outside_the_set_are_rejected(track: int, raw: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        read_track(track, raw)


@pytest.mark.parametrize(("track", "limit"), [(1, 79), (2, 40), (3, 107)])
def test_length_limits_count_sentinels_and_lrc(track: int, limit: int) -> None:
    filler = "B" if track == 1 else "1"
    fits = encode_track(track, filler * (limit - 3))
    assert len(fits) == limit
    assert read_track(track, fits).content == filler * (limit - 3)
    with pytest.raises(ProtocolError, match=f"at most {limit - 3} fit"):
        read_track(track, filler * (limit - 2))
    with pytest.raises(ValueError, match="at most"):
        encode_track(track, filler * (limit - 2))


def test_more_than_an_lrc_after_the_end_sentinel() -> None:
    with pytest.raises(FramingError, match="2 characters after the end sentinel"):
        read_track(2, ";1234?11")


def test_empty_and_non_ascii_input() -> None:
    with pytest.raises(FramingError):
        read_track(2, b"")
    with pytest.raises(ProtocolError, match="not ASCII"):
        read_track(1, "B4111^NAMÉ^2512101")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("A4111111111111111^DOE/JOHN^2512101", "format code is 0x41"),
        ("B4111111111111111^DOE/JOHN", "2 field separators"),
        ("B4111111111111111^D^2512101", "name must be 2 to 26"),
        ("B4111111111111111^DOE/JOHN^25A2101", "expiry must be 4 digits"),
        ("B4111111111111111^DOE/JOHN^25121", "service code must be 3 digits"),
        ("B41111111111111111111^DOE/JOHN^2512101", "PAN must be 1 to 19 digits"),
    ],
)
def test_track1_field_errors_never_show_the_pan(raw: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message) as info:
        parse_track1(raw)
    assert "4111111111111111" not in str(info.value)
    assert "DOE" not in str(info.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("4111111111111111", "no field separator"),
        ("=2512101", "PAN must be 1 to 19 digits"),
        ("4111111111111111=2512", "service code"),
    ],
)
def test_track2_field_errors_never_show_the_pan(raw: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message) as info:
        parse_track2(raw)
    assert "4111111111111111" not in str(info.value)


@pytest.mark.parametrize(
    ("pan", "masked"),
    [
        ("4111111111111111", "411111******1111"),
        ("378282246310005", "378282*****0005"),
        ("4111111111111111111", "411111*********1111"),
        ("41111111111111", "**********1111"),
        ("4111111111", "******1111"),
        ("411111111", "*********"),
        ("", ""),
    ],
)
def test_mask_pan(pan: str, masked: str) -> None:
    assert mask_pan(pan) == masked


@given(st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_mask_pan_hides_at_least_five_and_keeps_length(pan: str) -> None:
    masked = mask_pan(pan)
    assert len(masked) == len(pan)
    assert masked.count("*") >= min(len(pan), 5)


@pytest.mark.parametrize(
    ("pan", "valid"),
    [
        ("4111111111111111", True),
        ("378282246310005", True),
        ("79927398713", True),
        ("4111111111111112", False),
        ("", False),
        ("4111-1111", False),
        ("٤١١١", False),  # Arabic-Indic digits are digits, but not ASCII
    ],
)
def test_luhn(pan: str, valid: bool) -> None:
    assert luhn_valid(pan) is valid


@given(st.text(alphabet="0123456789", min_size=1, max_size=18))
def test_luhn_accepts_exactly_one_check_digit(body: str) -> None:
    valid = [d for d in "0123456789" if luhn_valid(body + d)]
    assert len(valid) == 1


def test_reprs_hide_cardholder_data() -> None:
    t1 = Track1Data(PAN, "DOE/JOHN", "2512", "101", "987654321")
    t2 = Track2Data(PAN, "2512", "101", "987654321")
    t3 = Track3Data("0112233445566")
    raw = read_track(2, ";4111111111111111=25121010000000000000?8")
    for obj in (t1, t2, t3, raw):
        text = repr(obj)
        assert PAN not in text
        assert "DOE" not in text
        assert "987654321" not in text
        assert "0112233445566" not in text
    assert "411111******1111" in repr(t1)


def test_dataclasses_validate_for_builders() -> None:
    with pytest.raises(ValueError, match="PAN"):
        Track2Data("41x1", "2512", "101")
    with pytest.raises(ValueError, match="name"):
        Track1Data(PAN, "A^B", "2512", "101")
    with pytest.raises(ValueError, match="at most 37 fit"):
        Track2Data(PAN, "2512", "101", "0" * 20)
    with pytest.raises(ValueError, match="lrc requires end_sentinel"):
        RawTrack(2, "1", end_sentinel=False, lrc=True)


# ----------------------------------------------------------------------------- properties

DIGITS = "0123456789"
TRACK1_FREE = "".join(chr(c) for c in range(0x20, 0x60) if chr(c) not in "%?^")
TRACK1_DISC = "".join(chr(c) for c in range(0x20, 0x60) if chr(c) not in "%?")
TRACK2_DISC = "0123456789:<=>"


@st.composite
def track1_data(draw: st.DrawFn) -> Track1Data:
    pan = draw(st.text(DIGITS, min_size=1, max_size=19))
    name = draw(st.text(TRACK1_FREE, min_size=2, max_size=26))
    room = 76 - (1 + len(pan) + 1 + len(name) + 1 + 7)
    disc = draw(st.text(TRACK1_DISC, max_size=room))
    expiry = draw(st.text(DIGITS, min_size=4, max_size=4))
    return Track1Data(pan, name, expiry, draw(st.text(DIGITS, min_size=3, max_size=3)), disc)


@st.composite
def track2_data(draw: st.DrawFn) -> Track2Data:
    pan = draw(st.text(DIGITS, min_size=1, max_size=19))
    disc = draw(st.text(TRACK2_DISC, max_size=37 - len(pan) - 8))
    expiry = draw(st.text(DIGITS, min_size=4, max_size=4))
    return Track2Data(pan, expiry, draw(st.text(DIGITS, min_size=3, max_size=3)), disc)


@given(track1_data())
def test_track1_round_trip(data: Track1Data) -> None:
    raw = build_track1(data)
    assert parse_track1(raw) == data
    assert build_track1(parse_track1(raw)) == raw
    assert raw[-1:].decode() == independent_lrc(1, raw[:-1].decode())


@given(track2_data())
def test_track2_round_trip(data: Track2Data) -> None:
    raw = build_track2(data)
    assert parse_track2(raw) == data
    assert raw[-1:].decode() == independent_lrc(2, raw[:-1].decode())


@given(st.text("0123456789:<=>", max_size=104))
def test_track3_round_trip(content: str) -> None:
    data = Track3Data(content)
    assert parse_track3(build_track3(data)) == data


@st.composite
def raw_tracks(draw: st.DrawFn) -> RawTrack:
    track = draw(st.sampled_from([1, 2, 3]))
    alphabet = TRACK1_DISC if track == 1 else "0123456789:<=>"
    limit = {1: 76, 2: 37, 3: 104}[track]
    content = draw(st.text(alphabet, max_size=limit))
    end = draw(st.booleans())
    start = draw(st.booleans())
    # Without a start sentinel the first content character must not look like one.
    if not start and content[:1] == ("%" if track == 1 else ";"):
        start = True
    return RawTrack(track, content, start, end, end and draw(st.booleans()))


@given(raw_tracks())
def test_accepted_input_rebuilds_byte_for_byte(track: RawTrack) -> None:
    raw = track.to_bytes()
    if not raw:
        return
    parsed = read_track(track.track, raw)
    assert parsed == track
    assert parsed.to_bytes() == raw


@settings(max_examples=300)
@given(st.sampled_from([1, 2, 3]), st.binary(max_size=120) | st.text(max_size=120))
def test_fuzz_raises_only_protocol_errors(track: int, raw: bytes | str) -> None:
    parsers = {1: parse_track1, 2: parse_track2, 3: parse_track3}
    for parse in (parsers[track], lambda r: read_track(track, r)):
        with contextlib.suppress(ProtocolError):
            parse(raw)


@settings(max_examples=300)
@given(st.sampled_from([1, 2, 3]), st.text("%;?^=B0123456789/ABC", max_size=50))
def test_fuzz_near_valid_tracks(track: int, raw: str) -> None:
    parsers = {1: parse_track1, 2: parse_track2, 3: parse_track3}
    try:
        parsed = read_track(track, raw)
    except ProtocolError:
        return
    assert parsed.to_bytes() == raw.encode()
    with contextlib.suppress(ProtocolError):
        parsers[track](raw)
