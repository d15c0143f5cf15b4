"""The SAM_V text block (protocols.samv_text): the reference's synthetic 张三 bytes
(§1.10, §7 #13), each layout's offsets checked against bytes placed here by hand, round
trips, bad UCS-2 and wrong lengths, the code tables, and random bytes (only
ProtocolError may come out).

Synthetic people only.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import ProtocolError
from protocols.samv_text import (
    ETHNICITIES,
    SEX_CODES,
    Foreigner2017Text,
    Foreigner2023Text,
    HmtPermitText,
    ResidentText,
    TextBlock,
    TextKind,
    build_text_block,
    decode_ucs2,
    encode_ucs2,
    ethnicity_name,
    parse_text_block,
)

SPACE = b"\x20\x00"


def u(text: str) -> bytes:
    return text.encode("utf-16-le")


def placed(*fields: tuple[int, str, int], flag: bytes = SPACE) -> bytes:
    """A 256-byte block of spaces with each (offset, text, size) written at its offset
    by hand, and the flag at 248."""
    block = bytearray(SPACE * 128)
    for offset, text, size in fields:
        encoded = u(text)
        assert len(encoded) <= size
        block[offset : offset + len(encoded)] = encoded
    block[248:250] = flag
    return bytes(block)


ZHANG_SAN = ResidentText(
    name="张三",
    sex="1",
    ethnicity="01",
    birth_date="19900307",
    address="北京市西城区某某路1号",
    number="11010519900307001X",  # synthetic
    issuer="北京市公安局西城分局",
    valid_from="20200101",
    valid_to="20400101",
)


def test_the_reference_synthetic_zhang_san_bytes() -> None:
    # §1.10 [C, constructed]: 张三 = 20 5F 09 4E then 13 x 20 00; sex 31 00 at 30;
    # nation "01" = 30 00 31 00 at 32; birth "19900307" begins 31 00 39 00 at 36.
    raw = build_text_block(ZHANG_SAN)
    assert len(raw) == 256
    assert raw[:4] == bytes.fromhex("205F094E")
    assert raw[4:30] == SPACE * 13
    assert raw[30:32] == bytes.fromhex("3100")
    assert raw[32:36] == bytes.fromhex("30003100")
    # §7 #13 [C]: bytes 30..35 = 31 00 30 00 31 00: sex '1' male, nation "01" 汉.
    assert raw[30:36] == bytes.fromhex("310030003100")
    assert raw[36:40] == bytes.fromhex("31003900")
    assert raw[248:250] == SPACE
    block = parse_text_block(raw)
    assert block == ZHANG_SAN
    assert isinstance(block, ResidentText)
    assert SEX_CODES[block.sex] == "male"
    assert ethnicity_name(block.ethnicity) == "汉"
    assert block.kind is TextKind.RESIDENT


def test_resident_offsets_by_hand() -> None:
    raw = placed(
        (0, "李四", 30),
        (30, "2", 2),
        (32, "03", 4),
        (36, "19851111", 16),
        (52, "上海市某区", 70),
        (122, "310104198511110028", 36),
        (158, "某公安局", 30),
        (188, "20100101", 16),
        (204, "长期", 16),
        flag=b"\x00\x00",  # a zero flag is a resident card too
    )
    block = parse_text_block(raw)
    assert block == ResidentText(
        "李四", "2", "03", "19851111", "上海市某区", "310104198511110028", "某公安局",
        "20100101", "长期",
    )  # fmt: skip


def test_hmt_permit_offsets_by_hand() -> None:
    raw = placed(
        (0, "陈大文", 30),
        (30, "1", 2),
        (36, "19800101", 16),
        (52, "香港某街", 70),
        (122, "810000198001010015", 36),
        (158, "某公安局", 30),
        (188, "20190101", 16),
        (204, "20240101", 16),
        (220, "H01234567", 18),
        (238, "02", 4),
        flag=u("J"),
    )
    block = parse_text_block(raw)
    assert isinstance(block, HmtPermitText)
    assert block.kind is TextKind.HMT_PERMIT
    assert (block.number, block.permit_number, block.issue_count) == (
        "810000198001010015",
        "H01234567",
        "02",
    )
    assert block.address == "香港某街"
    assert build_text_block(block) == raw


def test_foreigner_2017_offsets_by_hand() -> None:
    raw = placed(
        (0, "SMITH JOHN", 120),
        (120, "1", 2),
        (122, "USA110075061501", 30),
        (152, "USA", 6),
        (158, "史密斯", 30),
        (188, "20170101", 16),
        (204, "20270101", 16),
        (220, "19750615", 16),
        (236, "01", 4),
        (240, "1100", 8),
        flag=u("I"),
    )
    block = parse_text_block(raw)
    assert block == Foreigner2017Text(
        "SMITH JOHN", "1", "USA110075061501", "USA", "史密斯", "20170101", "20270101",
        "19750615", "01", "1100",
    )  # fmt: skip
    assert build_text_block(block) == raw


def test_foreigner_2023_offsets_and_the_split_english_name() -> None:
    long_name = "WOLFESCHLEGELSTEINHAUSEN BARTHOLOMEW ALEXANDER"  # 46 characters
    assert len(long_name) == 46
    raw = placed(
        (0, "沃尔夫", 30),
        (30, "2", 2),
        (32, "01", 4),
        (36, "19850615", 16),
        (52, long_name[:35], 70),
        (122, "931156198506150023", 36),
        (188, "20230101", 16),
        (204, "20330101", 16),
        (220, long_name[35:], 22),
        (242, "DEU", 6),
        (250, "1", 6),
        flag=u("Y"),
    )
    block = parse_text_block(raw)
    assert isinstance(block, Foreigner2023Text)
    assert block.name_latin == long_name
    assert (block.renewal_count, block.nationality, block.old_number_link) == ("01", "DEU", "1")
    assert build_text_block(block) == raw
    short = Foreigner2023Text(name="沃", name_latin="ANNA MARIA", number="931156198506150023")
    assert parse_text_block(build_text_block(short)) == short
    # A name whose 35th character is a space keeps it when the name goes on at 220.
    spaced = Foreigner2023Text(name_latin="A" * 34 + " " + "BCD")
    assert parse_text_block(build_text_block(spaced)) == spaced


@pytest.mark.parametrize("size", [0, 255, 257, 1024])
def test_wrong_length(size: int) -> None:
    with pytest.raises(ProtocolError, match=f"256 bytes, got {size}"):
        parse_text_block(b" \x00" * (size // 2) + b"\x00" * (size % 2))


def test_lone_surrogate_names_the_field_not_the_text() -> None:
    raw = bytearray(build_text_block(ZHANG_SAN))
    raw[2:4] = b"\x00\xd8"  # a high surrogate followed by a space: not UCS-2
    with pytest.raises(ProtocolError, match=r"field name \(offset 0\): not UCS-2") as caught:
        parse_text_block(bytes(raw))
    assert "张" not in str(caught.value)
    raw = bytearray(build_text_block(ZHANG_SAN))
    raw[124:126] = b"\x00\xdc"  # a lone low surrogate in the number
    with pytest.raises(ProtocolError, match=r"field number \(offset 122\)") as caught:
        parse_text_block(bytes(raw))
    assert "110105" not in str(caught.value)


def test_a_surrogate_pair_is_refused_as_encode_refuses_it() -> None:
    # U+20000 (outside the BMP) as a well-formed UTF-16 pair D840 DC00: UCS-2 has no
    # such character, so it is not UCS-2 however well formed the pair is.
    raw = bytearray(build_text_block(ZHANG_SAN))
    raw[2:6] = "\U00020000".encode("utf-16-le")
    with pytest.raises(
        ProtocolError,
        match=r"field name \(offset 0\): not UCS-2 \(a surrogate code unit at byte 2\)",
    ) as caught:
        parse_text_block(bytes(raw))
    assert "张" not in str(caught.value)
    assert "20000" not in str(caught.value)
    with pytest.raises(ProtocolError, match=r"^newest address: .* at byte 4\)$"):
        decode_ucs2("ab\U0001f600".encode("utf-16-le"), "newest address")


@given(st.text(max_size=8))
def test_decode_accepts_exactly_what_encode_accepts(text: str) -> None:
    try:
        raw = encode_ucs2(text, 2 * len(text))
    except ValueError:
        refused = True
    else:
        refused = False
        assert decode_ucs2(raw) == text.rstrip(" \x00")
    if refused:
        with pytest.raises(ProtocolError):
            decode_ucs2(text.encode("utf-16-le", "surrogatepass"))


def test_unknown_type_flag() -> None:
    with pytest.raises(ProtocolError, match="unknown card type flag 41 00 at offset 248"):
        parse_text_block(placed(flag=u("A")))


def test_build_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="field name: 16 characters, the field holds 15"):
        build_text_block(ResidentText(name="张" * 16))
    with pytest.raises(ValueError, match="U\\+20000"):
        build_text_block(ResidentText(name="\U00020000"))
    with pytest.raises(ValueError, match="name_latin: 47 characters"):
        build_text_block(Foreigner2023Text(name_latin="A" * 47))


def test_repr_shows_no_personal_data() -> None:
    shown = repr(ZHANG_SAN)
    assert "张" not in shown
    assert "110105" not in shown
    assert "resident" in shown


def test_code_tables() -> None:
    assert len(ETHNICITIES) == 58
    assert ETHNICITIES["01"] == "汉"
    assert ETHNICITIES["56"] == "基诺"
    assert ETHNICITIES["98"] == "外国血统中国籍人士"
    assert all(len(code) == 2 and code.isdigit() for code in ETHNICITIES)
    assert ethnicity_name("57") is None
    assert SEX_CODES == {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}


# --- properties ----------------------------------------------------------------------

# Field text: BMP characters, no surrogates, no trailing space or NUL (padding).
_chars = st.characters(min_codepoint=0x21, max_codepoint=0xFFFF, blacklist_categories=("Cs",))


def _field(size: int) -> st.SearchStrategy[str]:
    inner = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFFFF, blacklist_categories=("Cs",)),
        max_size=size // 2 - 1,
    )
    return st.one_of(st.just(""), st.builds(lambda a, b: a + b, inner, _chars))


def _block(cls: type[TextBlock]) -> st.SearchStrategy[TextBlock]:
    sizes = {name: size for name, _, size in cls.LAYOUT}
    if cls is Foreigner2023Text:
        sizes["name_latin"] = 92
        sizes.pop("name_latin_2")
    return st.builds(cls, **{name: _field(size) for name, size in sizes.items()})


blocks = st.one_of(
    _block(ResidentText),
    _block(HmtPermitText),
    _block(Foreigner2017Text),
    _block(Foreigner2023Text),
)


@given(blocks)
def test_parse_build_round_trip(block: TextBlock) -> None:
    raw = build_text_block(block)
    assert len(raw) == 256
    assert parse_text_block(raw) == block
    assert build_text_block(parse_text_block(raw)) == raw


@given(st.binary(min_size=256, max_size=256) | st.binary(max_size=300))
def test_random_bytes_parse_or_raise_protocol_error(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        assert isinstance(parse_text_block(raw), TextBlock)


@given(st.binary(min_size=248, max_size=248), st.sampled_from([SPACE, u("J"), u("I"), u("Y")]))
def test_random_bytes_with_a_known_flag(head: bytes, flag: bytes) -> None:
    raw = head + flag + b"\x20\x00" * 3
    try:
        block = parse_text_block(raw)
    except ProtocolError as exc:
        message = str(exc)
    else:
        assert block.kind.value == flag.decode("utf-16-le")
        return
    assert "not UCS-2" in message
