"""The 256-byte text block a SAM_V module reads from a China ID card's chip, and the code
tables its fields use.

All text is UCS-2 little-endian, each field padded with spaces (``20 00``) to its size.
The type flag at offset 248 (one character) says the layout [S: reference/protocols.md
§1.6, from one SDK's structs; the resident layout's offsets V]:

- blank (``20 00``) or zero (``00 00``): a mainland resident ID card (`ResidentText`);
- ``J``: a residence permit for Hong Kong, Macao and Taiwan residents (`HmtPermitText`);
- ``I``: a foreigner permanent residence card, 2017 layout (`Foreigner2017Text`);
- ``Y``: a foreigner permanent residence card, 2023 layout (`Foreigner2023Text`).

Each layout is a table of (field, offset, size in bytes); `parse_text_block` reads every
field as ``str`` with its trailing padding (spaces and NULs) removed, and
`build_text_block` writes the fields back padded with spaces, the reserved areas with
spaces, and the flag. ``parse_text_block(build_text_block(b)) == b`` for fields without
trailing spaces.

Nothing is checked for meaning here (a date that is not a date stays the text it is):
turning fields into a document is `hal.devices.id_documents`. A block of the wrong
length, text that is not UCS-2 (a lone surrogate) or an unknown type flag raises
`ProtocolError`, whose message names the field and the offset, never its content.

Code tables: `ETHNICITIES` (GB 3304, §1.7 [V]) and `SEX_CODES` (GB/T 2261.1: '1' male and
'2' female V; '0' unknown and '9' unspecified U).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import ClassVar

from protocols.errors import ProtocolError

__all__ = [
    "ETHNICITIES",
    "FLAG_OFFSET",
    "SEX_CODES",
    "TEXT_SIZE",
    "Foreigner2017Text",
    "Foreigner2023Text",
    "HmtPermitText",
    "ResidentText",
    "TextBlock",
    "TextKind",
    "build_text_block",
    "decode_ucs2",
    "encode_ucs2",
    "ethnicity_name",
    "parse_text_block",
]

TEXT_SIZE = 256
FLAG_OFFSET = 248

#: GB 3304 nationality (ethnic group) codes of resident ID cards, with their names.
ETHNICITIES: dict[str, str] = {
    "01": "汉",
    "02": "蒙古",
    "03": "回",
    "04": "藏",
    "05": "维吾尔",
    "06": "苗",
    "07": "彝",
    "08": "壮",
    "09": "布依",
    "10": "朝鲜",
    "11": "满",
    "12": "侗",
    "13": "瑶",
    "14": "白",
    "15": "土家",
    "16": "哈尼",
    "17": "哈萨克",
    "18": "傣",
    "19": "黎",
    "20": "傈僳",
    "21": "佤",
    "22": "畲",
    "23": "高山",
    "24": "拉祜",
    "25": "水",
    "26": "东乡",
    "27": "纳西",
    "28": "景颇",
    "29": "柯尔克孜",
    "30": "土",
    "31": "达斡尔",
    "32": "仫佬",
    "33": "羌",
    "34": "布朗",
    "35": "撒拉",
    "36": "毛南",
    "37": "仡佬",
    "38": "锡伯",
    "39": "阿昌",
    "40": "普米",
    "41": "塔吉克",
    "42": "怒",
    "43": "乌孜别克",
    "44": "俄罗斯",
    "45": "鄂温克",
    "46": "德昂",
    "47": "保安",
    "48": "裕固",
    "49": "京",
    "50": "塔塔尔",
    "51": "独龙",
    "52": "鄂伦春",
    "53": "赫哲",
    "54": "门巴",
    "55": "珞巴",
    "56": "基诺",
    "97": "其他",
    "98": "外国血统中国籍人士",
}

#: GB/T 2261.1 sex codes, named as `hal.devices.id_scanner_model.Sex`'s values.
SEX_CODES: dict[str, str] = {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}


def ethnicity_name(code: str) -> str | None:
    """The GB 3304 name of a two-digit code, ``None`` for a code not in the table."""
    return ETHNICITIES.get(code)


class TextKind(StrEnum):
    """The layout, by the type flag at offset 248 (the value is the flag character)."""

    RESIDENT = " "
    HMT_PERMIT = "J"
    FOREIGNER_2017 = "I"
    FOREIGNER_2023 = "Y"


def decode_ucs2(raw: bytes, what: str = "text") -> str:
    """UCS-2LE text with its trailing padding (spaces, NULs) removed.

    UCS-2 has no surrogates: any code unit D800-DFFF is refused, a lone one or a
    well-formed UTF-16 pair alike (a character outside the BMP, which `encode_ucs2`
    refuses too).

    Raises:
        ProtocolError: an odd byte count or a surrogate code unit (the message names
            ``what`` and the byte offset, never the text).
    """
    if len(raw) % 2:
        raise ProtocolError(f"{what}: {len(raw)} bytes is not whole UCS-2 characters")
    # The high byte of each little-endian code unit: D8-DF is a surrogate.
    bad = next((i for i, high in enumerate(raw[1::2]) if 0xD8 <= high <= 0xDF), None)
    if bad is not None:
        raise ProtocolError(f"{what}: not UCS-2 (a surrogate code unit at byte {2 * bad})")
    return raw.decode("utf-16-le").rstrip(" \x00")


def encode_ucs2(text: str, size: int, what: str = "text") -> bytes:
    """``text`` as UCS-2LE padded with spaces to ``size`` bytes.

    Raises:
        ValueError: a character outside the Basic Multilingual Plane (UCS-2 has none) or
            a lone surrogate, or more characters than ``size`` holds (the message names
            ``what`` and the counts, never the text).
    """
    for char in text:
        if ord(char) > 0xFFFF or 0xD800 <= ord(char) <= 0xDFFF:
            raise ValueError(f"{what}: a character UCS-2 cannot hold (U+{ord(char):04X})")
    if len(text) * 2 > size:
        raise ValueError(f"{what}: {len(text)} characters, the field holds {size // 2}")
    return (text + " " * (size // 2 - len(text))).encode("utf-16-le")


@dataclass(frozen=True, slots=True, repr=False)
class TextBlock:
    """A parsed text block. Every field is the text as read, padding removed; personal
    data, never printed (the repr shows only the layout)."""

    #: (field, offset, size in bytes) of the layout, in offset order.
    LAYOUT: ClassVar[tuple[tuple[str, int, int], ...]] = ()
    KIND: ClassVar[TextKind] = TextKind.RESIDENT

    @property
    def kind(self) -> TextKind:
        """The layout's type flag."""
        return self.KIND

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{TEXT_SIZE}-byte {self.KIND.name.lower()} text block>)"


@dataclass(frozen=True, slots=True, repr=False)
class ResidentText(TextBlock):
    """A resident ID card's text (§1.6 a)."""

    name: str = ""
    sex: str = ""
    ethnicity: str = ""
    birth_date: str = ""
    address: str = ""
    number: str = ""
    issuer: str = ""
    valid_from: str = ""
    valid_to: str = ""

    LAYOUT: ClassVar[tuple[tuple[str, int, int], ...]] = (
        ("name", 0, 30),
        ("sex", 30, 2),
        ("ethnicity", 32, 4),
        ("birth_date", 36, 16),
        ("address", 52, 70),
        ("number", 122, 36),
        ("issuer", 158, 30),
        ("valid_from", 188, 16),
        ("valid_to", 204, 16),
    )
    KIND: ClassVar[TextKind] = TextKind.RESIDENT


@dataclass(frozen=True, slots=True, repr=False)
class HmtPermitText(TextBlock):
    """A Hong Kong/Macao/Taiwan residence permit's text (§1.6 b): the resident layout
    without the ethnicity (reserved), plus the travel-permit number and issue count."""

    name: str = ""
    sex: str = ""
    birth_date: str = ""
    address: str = ""
    number: str = ""
    issuer: str = ""
    valid_from: str = ""
    valid_to: str = ""
    permit_number: str = ""
    issue_count: str = ""

    LAYOUT: ClassVar[tuple[tuple[str, int, int], ...]] = (
        ("name", 0, 30),
        ("sex", 30, 2),
        ("birth_date", 36, 16),
        ("address", 52, 70),
        ("number", 122, 36),
        ("issuer", 158, 30),
        ("valid_from", 188, 16),
        ("valid_to", 204, 16),
        ("permit_number", 220, 18),
        ("issue_count", 238, 4),
    )
    KIND: ClassVar[TextKind] = TextKind.HMT_PERMIT


@dataclass(frozen=True, slots=True, repr=False)
class Foreigner2017Text(TextBlock):
    """A 2017 foreigner permanent residence card's text (§1.6 c)."""

    name_latin: str = ""
    sex: str = ""
    number: str = ""
    nationality: str = ""
    name: str = ""
    valid_from: str = ""
    valid_to: str = ""
    birth_date: str = ""
    card_version: str = ""
    authority: str = ""

    LAYOUT: ClassVar[tuple[tuple[str, int, int], ...]] = (
        ("name_latin", 0, 120),
        ("sex", 120, 2),
        ("number", 122, 30),
        ("nationality", 152, 6),
        ("name", 158, 30),
        ("valid_from", 188, 16),
        ("valid_to", 204, 16),
        ("birth_date", 220, 16),
        ("card_version", 236, 4),
        ("authority", 240, 8),
    )
    KIND: ClassVar[TextKind] = TextKind.FOREIGNER_2017


#: The 2023 card's English name: characters 1-35 at 52, 36-46 at 220.
_LATIN_1 = 35
_LATIN_2 = 11


@dataclass(frozen=True, slots=True, repr=False)
class Foreigner2023Text(TextBlock):
    """A 2023 foreigner permanent residence card's text (§1.6 d). ``name_latin`` is the
    English name whole (the layout splits it: characters 1-35 at offset 52, 36-46 at
    220); ``old_number_link`` is the 3 characters at offset 250."""

    name: str = ""
    sex: str = ""
    renewal_count: str = ""
    birth_date: str = ""
    name_latin: str = ""
    number: str = ""
    valid_from: str = ""
    valid_to: str = ""
    nationality: str = ""
    old_number_link: str = ""

    LAYOUT: ClassVar[tuple[tuple[str, int, int], ...]] = (
        ("name", 0, 30),
        ("sex", 30, 2),
        ("renewal_count", 32, 4),
        ("birth_date", 36, 16),
        ("name_latin", 52, 70),
        ("number", 122, 36),
        ("valid_from", 188, 16),
        ("valid_to", 204, 16),
        ("name_latin_2", 220, 22),
        ("nationality", 242, 6),
        ("old_number_link", 250, 6),
    )
    KIND: ClassVar[TextKind] = TextKind.FOREIGNER_2023


_CLASSES: dict[TextKind, type[TextBlock]] = {
    TextKind.RESIDENT: ResidentText,
    TextKind.HMT_PERMIT: HmtPermitText,
    TextKind.FOREIGNER_2017: Foreigner2017Text,
    TextKind.FOREIGNER_2023: Foreigner2023Text,
}


def _flag(raw: bytes) -> TextKind:
    flag = raw[FLAG_OFFSET : FLAG_OFFSET + 2]
    if flag in (b" \x00", b"\x00\x00"):
        return TextKind.RESIDENT
    if flag[1] == 0 and chr(flag[0]) in "JIY":
        return TextKind(chr(flag[0]))
    raise ProtocolError(
        f"text block: unknown card type flag {flag.hex(' ').upper()} at offset {FLAG_OFFSET} "
        "(known: blank, 'J', 'I', 'Y')"
    )


def parse_text_block(raw: bytes | bytearray | memoryview) -> TextBlock:
    """The text block's fields, by the layout its type flag names.

    Raises:
        ProtocolError: not 256 bytes, an unknown type flag, or a field that is not
            UCS-2 (the message names the field and its offset).
    """
    data = bytes(raw)
    if len(data) != TEXT_SIZE:
        raise ProtocolError(f"a text block is {TEXT_SIZE} bytes, got {len(data)}")
    kind = _flag(data)
    cls = _CLASSES[kind]
    values: dict[str, str] = {}
    for name, offset, size in cls.LAYOUT:
        what = f"text block field {name} (offset {offset})"
        values[name] = decode_ucs2(data[offset : offset + size], what)
    if kind is TextKind.FOREIGNER_2023:
        # The English name continues at 220: keep part 1 whole (its spaces are inside
        # the name) when part 2 holds anything.
        second = values.pop("name_latin_2")
        if second:
            first = data[52 : 52 + 2 * _LATIN_1].decode("utf-16-le")
            values["name_latin"] = first + second
    return cls(**values)


def build_text_block(block: TextBlock) -> bytes:
    """The 256 bytes of ``block``: fields padded with spaces, reserved areas spaces, the
    type flag at 248 (a resident card's blank).

    Raises:
        ValueError: a field longer than its slot or with a character UCS-2 cannot hold
            (the message names the field, never its content).
    """
    kind = block.KIND
    out = bytearray(" ".encode("utf-16-le") * (TEXT_SIZE // 2))
    values = {f.name: getattr(block, f.name) for f in fields(block)}
    if kind is TextKind.FOREIGNER_2023:
        latin: str = values["name_latin"]
        if len(latin) > _LATIN_1 + _LATIN_2:
            raise ValueError(
                f"text block field name_latin: {len(latin)} characters, the card holds "
                f"{_LATIN_1 + _LATIN_2}"
            )
        values["name_latin"], values["name_latin_2"] = latin[:_LATIN_1], latin[_LATIN_1:]
    for name, offset, size in type(block).LAYOUT:
        out[offset : offset + size] = encode_ucs2(values[name], size, f"text block field {name}")
    out[FLAG_OFFSET : FLAG_OFFSET + 2] = kind.value.encode("utf-16-le")
    return bytes(out)
