"""Tests for protocols.tlv: BER-TLV as EMV uses it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import FramingError, ProtocolError
from protocols.tlv import (
    MAX_DEPTH,
    SENSITIVE_TAGS,
    Tlv,
    build,
    encode_tag,
    find,
    find_all,
    parse,
    redact,
    tag_name,
    walk,
)

# The PSE's FCI as EMV Book 1 lays it out: 6F { 84 DF name, A5 { 88 SFI, 5F2D lang } }.
# Built from the layout (no published capture); the lengths are checked in the test.
PSE_FCI = (
    bytes.fromhex("6F 1A 84 0E")
    + b"1PAY.SYS.DDF01"
    + bytes.fromhex("A5 08 88 01 01 5F 2D 02 65 6E")
)

# (hex, expected top-level (tag, value hex) list, source)
VECTORS = [
    ("9F 02 06 00 00 00 01 00 00", [(0x9F02, "000000010000")], "built: 2-byte tag"),
    ("DF 81 01 01 7F", [(0xDF8101, "7F")], "built: 3-byte tag"),
    ("5A 08 41 11 11 11 11 11 11 11", [(0x5A, "4111111111111111")], "built: PAN"),
    ("00 00 50 01 41 FF 00 9A 03 25 12 31 FF", [(0x50, "41"), (0x9A, "251231")], "built: pads"),
    ("50 81 02 41 42", [(0x50, "4142")], "built: non-minimal long length"),
    ("", [], "empty input"),
]


@pytest.mark.parametrize(("hex_in", "expected", "source"), VECTORS)
def test_vectors(hex_in: str, expected: list[tuple[int, str]], source: str) -> None:
    items = parse(bytes.fromhex(hex_in))
    assert [(i.tag, i.value.hex().upper()) for i in items] == expected, source


def test_pse_fci_layout_and_lengths() -> None:
    assert len(PSE_FCI) == 2 + 0x1A  # outer length counts everything after it
    (fci,) = parse(PSE_FCI)
    assert fci.tag == 0x6F
    assert fci.constructed
    df_name, proprietary = fci.children()
    assert df_name == Tlv(0x84, b"1PAY.SYS.DDF01")
    assert not df_name.constructed
    assert proprietary.tag == 0xA5
    assert proprietary.constructed
    assert find((fci,), 0x88) == Tlv(0x88, b"\x01")
    assert find((fci,), 0x5F2D) == Tlv(0x5F2D, b"en")
    assert find((fci,), 0x9F38) is None
    assert [(depth, item.tag) for depth, item in walk((fci,))] == [
        (0, 0x6F),
        (1, 0x84),
        (1, 0xA5),
        (2, 0x88),
        (2, 0x5F2D),
    ]
    assert build((fci,)) == PSE_FCI
    assert fci.name == "File Control Information (FCI) Template"


def test_long_form_lengths() -> None:
    for size, header in ((0x7F, "7F"), (0x80, "8180"), (0xFF, "81FF"), (0x100, "820100")):
        raw = Tlv(0x53, bytes(size)).to_bytes()
        assert raw[1 : 1 + len(header) // 2].hex().upper() == header
        assert parse(raw) == (Tlv(0x53, bytes(size)),)


def test_padding_and_long_lengths_rebuild_canonically() -> None:
    raw = bytes.fromhex("00 50 81 02 41 42 FF")
    assert build(parse(raw)) == bytes.fromhex("50 02 41 42")


@pytest.mark.parametrize(
    ("hex_in", "error", "message"),
    [
        ("50 80 41 00 00", ProtocolError, "indefinite length"),
        ("50 85 00 00 00 00 01 41", ProtocolError, "uses 5 bytes"),
        ("50 05 41 42", FramingError, "value of 5 bytes, only 2 left"),
        ("50", FramingError, "length missing"),
        ("50 82 01", FramingError, "cut off"),
        ("9F", FramingError, "cut off"),
        ("9F 81 81 81 81 01 00", ProtocolError, "longer than 4 bytes"),
    ],
)
def test_malformed_input(hex_in: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse(bytes.fromhex(hex_in))


@pytest.mark.parametrize(
    ("tag", "message"),
    [(0, "1 to 4 bytes"), (0xFF, "padding"), (0x1F, "announces more"), (0x5F, "announces")],
)
def test_encode_tag_rejects_malformed_tags(tag: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_tag(tag)


def test_encode_tag_continuation_bits() -> None:
    assert encode_tag(0x9F8101) == bytes.fromhex("9F8101")
    with pytest.raises(ValueError, match="continuation"):
        encode_tag(0x9F0101)
    with pytest.raises(ValueError, match="announce"):
        encode_tag(0x5A01)


def test_children_of_a_primitive_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError, match="primitive"):
        Tlv(0x5A, b"\x41").children()


def test_deep_nesting_is_bounded() -> None:
    item = Tlv(0x50, b"x")
    for _ in range(MAX_DEPTH + 2):
        item = Tlv(0x61, item.to_bytes())
    with pytest.raises(ProtocolError, match="nesting deeper"):
        find((item,), 0x50)
    shallow = Tlv(0x50, b"x")
    for _ in range(MAX_DEPTH):
        shallow = Tlv(0x61, shallow.to_bytes())
    assert find((shallow,), 0x50) == Tlv(0x50, b"x")


def test_find_all_is_depth_first() -> None:
    raw = bytes.fromhex("70 08 61 03 4F 01 01 4F 01 02 4F 01 03")
    assert [i.value for i in find_all(parse(raw), 0x4F)] == [b"\x01", b"\x02", b"\x03"]


def test_sensitive_tags_and_redaction() -> None:
    assert {0x5A, 0x57, 0x5F20, 0x56, 0x9F1F, 0x9F20, 0x9F6B} <= SENSITIVE_TAGS
    assert 0x5F24 not in SENSITIVE_TAGS
    pan = Tlv(0x5A, bytes.fromhex("4111111111111111"))
    odd = Tlv(0x5A, bytes.fromhex("411111111111111F"))
    track2 = Tlv(0x57, bytes.fromhex("4111111111111111D25121010000000000000F"))
    name = Tlv(0x5F20, b"DOE/JOHN")
    assert redact(pan) == "411111******1111"
    assert redact(odd) == "411111*****1111"
    assert redact(track2) == "411111******1111D<20 digits hidden>"
    assert redact(name) == "<8 bytes hidden>"
    assert redact(Tlv(0x5F24, bytes.fromhex("251231"))) == "251231"
    for item in (pan, track2, name):
        assert "4111111111111111" not in repr(item)
        assert "DOE" not in repr(item)
        assert "444F45" not in repr(item)
    assert "251231" in repr(Tlv(0x5F24, bytes.fromhex("251231")))


def test_templates_hide_the_cardholder_data_inside_them() -> None:
    # A READ RECORD template (70) and a GPO format 2 answer (77) are not sensitive tags
    # themselves, but carry the PAN, track 2 equivalent and name in their value.
    pan = "4761739001010010"
    record = Tlv(
        0x70,
        build(
            [
                Tlv(0x57, bytes.fromhex(pan + "D25122010000000000000F")),
                Tlv(0x5F20, b"DOE/JOHN"),
                Tlv(0xA5, build([Tlv(0x5A, bytes.fromhex(pan)), Tlv(0x5F24, b"\x25\x12\x31")])),
            ]
        ),
    )
    garbled = Tlv(0x77, bytes.fromhex("5A09" + pan))  # 9 bytes announced, 8 sent
    for item in (record, Tlv(0x77, record.to_bytes()), garbled):
        for shown in (repr(item), str(item), redact(item)):
            assert pan not in shown
            assert "444F45" not in shown
            assert "DOE" not in shown
    # What is not secret stays readable.
    assert "251231" in repr(record)
    assert "251231" in redact(record)
    assert "476173******0010" in redact(record)
    assert "not TLV" in repr(garbled)


def test_tag_names() -> None:
    assert tag_name(0x5A) == "Application PAN"
    assert tag_name(0x9F38) == "Processing Options Data Object List (PDOL)"
    assert tag_name(0xDF01) == "unknown"


# ----------------------------------------------------------------------------- properties


def one_byte_tags(flag: int) -> list[int]:
    return [b for b in range(1, 0xFF) if b & 0x20 == flag and b & 0x1F != 0x1F]


@st.composite
def tags(draw: st.DrawFn, constructed: bool) -> int:
    flag = 0x20 if constructed else 0x00
    if draw(st.booleans()):
        return draw(st.sampled_from(one_byte_tags(flag)))
    classes = [0x00, 0x40, 0x80] if constructed else [0x00, 0x40, 0x80, 0xC0]
    first = draw(st.sampled_from(classes)) | flag | 0x1F
    middle = draw(st.lists(st.integers(0x80, 0xFF), max_size=2))
    last = draw(st.integers(0x00, 0x7F))
    return int.from_bytes(bytes([first, *middle, last]), "big")


primitives = st.builds(Tlv, tags(False), st.binary(max_size=300))
trees = st.recursive(
    primitives,
    lambda children: st.builds(
        lambda tag, kids: Tlv(tag, build(kids)), tags(True), st.lists(children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.lists(trees, max_size=5))
def test_round_trip(items: list[Tlv]) -> None:
    raw = build(items)
    assert parse(raw) == tuple(items)
    assert build(parse(raw)) == raw
    for item in items:
        assert Tlv(item.tag, item.value).constructed == item.constructed


# Trees with what walk() must yield, (depth, object) depth first, built alongside.
Walked = list[tuple[int, Tlv]]
walked_trees: st.SearchStrategy[tuple[Tlv, Walked]] = st.recursive(
    primitives.map(lambda item: (item, [(0, item)])),
    lambda children: st.builds(
        lambda tag, kids: (
            node := Tlv(tag, build(kid for kid, _ in kids)),
            [(0, node)] + [(depth + 1, item) for _, seen in kids for depth, item in seen],
        ),
        tags(True),
        st.lists(children, max_size=4),
    ),
    max_leaves=12,
)


@given(st.lists(walked_trees, max_size=3))
def test_walk_visits_every_built_object_depth_first(trees_: list[tuple[Tlv, Walked]]) -> None:
    items = [item for item, _ in trees_]
    expected = [entry for _, seen in trees_ for entry in seen]
    assert list(walk(items)) == expected
    for _, item in expected:
        found = find(items, item.tag)
        assert found is not None
        assert found == next(i for _, i in expected if i.tag == item.tag)  # the first one
        assert item in find_all(items, item.tag)


@st.composite
def mutated(draw: st.DrawFn, encoded: st.SearchStrategy[bytes]) -> bytes:
    """Valid encodings with one byte changed, dropped or added, or cut short."""
    raw = draw(encoded)
    at = draw(st.integers(0, len(raw)))
    byte = bytes([draw(st.integers(0, 0xFF))])
    how = draw(st.sampled_from(["replace", "drop", "insert", "cut", "keep"]))
    if how == "replace":
        return raw[:at] + byte + raw[at + 1 :]
    if how == "drop":
        return raw[:at] + raw[at + 1 :]
    if how == "insert":
        return raw[:at] + byte + raw[at:]
    return raw[:at] if how == "cut" else raw


# Random bytes almost never parse (4 in 400); near-valid trees reach the nested values.
@settings(max_examples=600)
@given(st.binary(max_size=200) | mutated(st.lists(trees, min_size=1, max_size=3).map(build)))
def test_fuzz_raises_only_protocol_errors(raw: bytes) -> None:
    try:
        items = parse(raw)
    except ProtocolError:
        return
    assert parse(build(items)) == items
    try:
        for _, item in walk(items):
            redact(item)
            repr(item)
    except ProtocolError:
        pass
