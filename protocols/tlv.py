"""BER-TLV as EMV uses it (EMV Book 3 Annex B, ISO/IEC 8825-1 subset).

Spoken by EMV chip cards inside R-APDU data (FCI templates, READ RECORD records, GPO
responses), whichever reader carries the APDUs (CRT-310 over RS-232 at 9600 8N1, PC/SC).

- Tag: 1 or more bytes. If the low five bits of the first byte are all set, more bytes
  follow while bit 8 of the last one read is set. The tag number here is the tag's bytes
  read as a big-endian integer (``0x9F02``, ``0x5F20``, ``0xBF0C``). Bit 6 (0x20) of the
  first byte marks a constructed object, whose value is itself a TLV sequence.
- Length: short form ``00..7F``; long form ``81 xx``, ``82 xxxx``, ``83 ..``, ``84 ..``.
  Indefinite length (``80``) is not allowed in EMV and is rejected.
- Padding: EMV lets ``00`` bytes sit before, between and after objects; ISO/IEC 7816-4
  treats ``FF`` the same way. Both are skipped when parsing.

``build`` writes canonical encodings (shortest lengths, no padding), so input that used
padding or a longer-than-needed length parses to the same objects but rebuilds shorter.
Values stay raw bytes; ``Tlv.children()`` parses a constructed value on demand.

Sources: EMV 4.4 Book 3 Annex A/B (tag names and coding, summarised from public tables);
reference/protocols.md §2.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from protocols.errors import FramingError, ProtocolError
from protocols.tracks import mask_pan

__all__ = [
    "MAX_DEPTH",
    "SENSITIVE_TAGS",
    "TAG_NAMES",
    "Tlv",
    "build",
    "encode_tag",
    "find",
    "find_all",
    "parse",
    "redact",
    "tag_name",
    "walk",
]

MAX_DEPTH = 16
"""Deepest nesting ``find``/``walk`` follow; EMV data nests 3 or 4 levels."""

SENSITIVE_TAGS: frozenset[int] = frozenset(
    {
        0x56,  # Track 1 Equivalent Data (contactless)
        0x57,  # Track 2 Equivalent Data
        0x5A,  # Application PAN
        0x5F20,  # Cardholder Name
        0x99,  # Transaction PIN Data
        0x9F0B,  # Cardholder Name Extended
        0x9F1F,  # Track 1 Discretionary Data
        0x9F20,  # Track 2 Discretionary Data
        0x9F6B,  # Track 2 Data (contactless)
    }
)
"""Tags whose value is cardholder data or PIN data: masked unless revealed.

Decision: the expiry date (5F24), service code (5F30), PAN sequence number (5F34) and
the issuer certificates are not in the set: on their own they identify no one, and
support staff need them to explain a decline.
"""

TAG_NAMES: dict[int, str] = {
    0x42: "Issuer Identification Number",
    0x4F: "Application Identifier (AID)",
    0x50: "Application Label",
    0x56: "Track 1 Equivalent Data",
    0x57: "Track 2 Equivalent Data",
    0x5A: "Application PAN",
    0x5F20: "Cardholder Name",
    0x5F24: "Application Expiration Date",
    0x5F25: "Application Effective Date",
    0x5F28: "Issuer Country Code",
    0x5F2A: "Transaction Currency Code",
    0x5F2D: "Language Preference",
    0x5F30: "Service Code",
    0x5F34: "PAN Sequence Number",
    0x61: "Application Template",
    0x6F: "File Control Information (FCI) Template",
    0x70: "READ RECORD Response Message Template",
    0x77: "Response Message Template Format 2",
    0x80: "Response Message Template Format 1",
    0x82: "Application Interchange Profile",
    0x84: "Dedicated File (DF) Name",
    0x87: "Application Priority Indicator",
    0x88: "Short File Identifier (SFI)",
    0x8C: "CDOL1",
    0x8D: "CDOL2",
    0x8E: "Cardholder Verification Method (CVM) List",
    0x8F: "Certification Authority Public Key Index",
    0x90: "Issuer Public Key Certificate",
    0x92: "Issuer Public Key Remainder",
    0x94: "Application File Locator (AFL)",
    0x95: "Terminal Verification Results",
    0x99: "Transaction PIN Data",
    0x9A: "Transaction Date",
    0x9C: "Transaction Type",
    0x9F02: "Amount, Authorised",
    0x9F03: "Amount, Other",
    0x9F07: "Application Usage Control",
    0x9F08: "Application Version Number",
    0x9F0B: "Cardholder Name Extended",
    0x9F0D: "Issuer Action Code - Default",
    0x9F0E: "Issuer Action Code - Denial",
    0x9F0F: "Issuer Action Code - Online",
    0x9F10: "Issuer Application Data",
    0x9F11: "Issuer Code Table Index",
    0x9F12: "Application Preferred Name",
    0x9F1A: "Terminal Country Code",
    0x9F1F: "Track 1 Discretionary Data",
    0x9F20: "Track 2 Discretionary Data",
    0x9F26: "Application Cryptogram",
    0x9F27: "Cryptogram Information Data",
    0x9F32: "Issuer Public Key Exponent",
    0x9F36: "Application Transaction Counter (ATC)",
    0x9F37: "Unpredictable Number",
    0x9F38: "Processing Options Data Object List (PDOL)",
    0x9F42: "Application Currency Code",
    0x9F44: "Application Currency Exponent",
    0x9F46: "ICC Public Key Certificate",
    0x9F47: "ICC Public Key Exponent",
    0x9F48: "ICC Public Key Remainder",
    0x9F49: "Dynamic Data Authentication Data Object List (DDOL)",
    0x9F4A: "Static Data Authentication Tag List",
    0x9F4B: "Signed Dynamic Application Data",
    0x9F4D: "Log Entry",
    0x9F6B: "Track 2 Data",
    0xA5: "FCI Proprietary Template",
    0xBF0C: "FCI Issuer Discretionary Data",
}
"""Names of common EMV tags, for decoders and logs."""


def tag_name(tag: int) -> str:
    """The EMV name of ``tag``, or ``"unknown"``."""
    return TAG_NAMES.get(tag, "unknown")


def _tag_first_byte(tag: int) -> int:
    return tag >> (8 * ((tag.bit_length() - 1) // 8)) if tag else 0


def encode_tag(tag: int) -> bytes:
    """The bytes of a tag number.

    Raises:
        ValueError: ``tag`` is not a well-formed BER tag, or is 00/FF (padding bytes).
    """
    if not 0 < tag < 1 << 32:
        raise ValueError(f"tag must be 1 to 4 bytes, got {tag!r}")
    raw = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    first = raw[0]
    if first == 0xFF:
        raise ValueError(f"tag {tag:X}: first byte FF is padding, not a tag")
    if len(raw) == 1:
        if first & 0x1F == 0x1F:
            raise ValueError(f"tag {tag:X}: first byte announces more tag bytes")
        return raw
    if first & 0x1F != 0x1F:
        raise ValueError(f"tag {tag:X}: first byte does not announce more tag bytes")
    for index, byte in enumerate(raw[1:], start=1):
        more = byte & 0x80
        last = index == len(raw) - 1
        if bool(more) == last:
            raise ValueError(f"tag {tag:X}: continuation bit wrong in byte {index}")
    return raw


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    if size > 4:
        raise ValueError(f"value of {length} bytes is too long for BER-TLV")
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


@dataclass(frozen=True, slots=True)
class Tlv:
    """One BER-TLV data object.

    Attributes:
        tag: the tag bytes as a big-endian integer (``0x9F02``).
        value: the raw value bytes (for a constructed object, its encoded children).
    """

    tag: int
    value: bytes

    def __post_init__(self) -> None:
        encode_tag(self.tag)
        if len(self.value) >= 1 << 32:
            raise ValueError("value too long for BER-TLV")

    @property
    def constructed(self) -> bool:
        """Bit 6 of the first tag byte: the value is a TLV sequence."""
        return bool(_tag_first_byte(self.tag) & 0x20)

    @property
    def name(self) -> str:
        """The EMV name of the tag, or ``"unknown"``."""
        return tag_name(self.tag)

    @property
    def sensitive(self) -> bool:
        """Whether the value is cardholder or PIN data (see ``SENSITIVE_TAGS``)."""
        return self.tag in SENSITIVE_TAGS

    def children(self) -> tuple[Tlv, ...]:
        """Parse the value of a constructed object.

        Raises:
            ValueError: the object is primitive (a caller mistake).
            ProtocolError: the value is not a valid TLV sequence.
        """
        if not self.constructed:
            raise ValueError(f"tag {self.tag:X} is primitive: it has no children")
        return parse(self.value)

    def to_bytes(self) -> bytes:
        """The canonical encoding of this object."""
        return encode_tag(self.tag) + _encode_length(len(self.value)) + self.value

    def __repr__(self) -> str:
        # A constructed value holds its children encoded (a READ RECORD template holds
        # the PAN): show the children, each hidden as it would be on its own.
        return _repr(self, 0)


def _children_to_show(item: Tlv, depth: int) -> tuple[Tlv, ...] | None:
    """The children of a constructed value, or None if they cannot be shown safely."""
    if depth >= MAX_DEPTH:
        return None
    try:
        return parse(item.value)
    except ProtocolError:
        return None


def _hidden(item: Tlv, why: str = "") -> str:
    return f"<{len(item.value)} bytes{why} hidden>"


def _repr(item: Tlv, depth: int) -> str:
    if item.sensitive:
        shown = _hidden(item)
    elif not item.constructed:
        shown = item.value.hex().upper()
    elif (children := _children_to_show(item, depth)) is None:
        shown = _hidden(item, ", not TLV,")
    else:
        shown = "[" + ", ".join(_repr(child, depth + 1) for child in children) + "]"
    return f"Tlv(tag=0x{item.tag:X}, value={shown})"


def _read_tag(data: bytes, pos: int) -> tuple[int, int]:
    start = pos
    first = data[pos]
    pos += 1
    tag = first
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise FramingError(f"tag at byte {start} is cut off after {pos - start} bytes")
            byte = data[pos]
            pos += 1
            tag = (tag << 8) | byte
            if not byte & 0x80:
                break
            if pos - start >= 4:
                raise ProtocolError(f"tag at byte {start} is longer than 4 bytes")
    return tag, pos


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise FramingError(f"length missing at byte {pos}")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    size = first & 0x7F
    if size == 0:
        raise ProtocolError(f"indefinite length (80) at byte {pos - 1}; EMV forbids it")
    if size > 4:
        raise ProtocolError(f"length at byte {pos - 1} uses {size} bytes, at most 4 allowed")
    if pos + size > len(data):
        raise FramingError(f"length at byte {pos - 1} is cut off: needs {size} more bytes")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size


def parse(data: bytes | bytearray) -> tuple[Tlv, ...]:
    """Parse a sequence of TLV objects (one level: constructed values stay raw).

    Args:
        data: the encoded objects, with optional 00/FF padding between them.

    Returns:
        The objects in order.

    Raises:
        FramingError: an object is cut off.
        ProtocolError: a malformed tag or length.
    """
    raw = bytes(data)
    items: list[Tlv] = []
    pos = 0
    end = len(raw)
    while pos < end:
        if raw[pos] in (0x00, 0xFF):
            pos += 1
            continue
        start = pos
        tag, pos = _read_tag(raw, pos)
        length, pos = _read_length(raw, pos)
        if pos + length > end:
            raise FramingError(
                f"tag {tag:X} at byte {start}: value of {length} bytes, only {end - pos} left"
            )
        items.append(Tlv(tag, raw[pos : pos + length]))
        pos += length
    return tuple(items)


def build(items: Iterable[Tlv]) -> bytes:
    """Encode objects canonically (shortest lengths, no padding)."""
    return b"".join(item.to_bytes() for item in items)


def walk(items: Iterable[Tlv]) -> Iterator[tuple[int, Tlv]]:
    """Every object, depth first, with its nesting depth (0 for ``items`` themselves).

    Raises:
        ProtocolError: a constructed value is malformed, or nesting passes ``MAX_DEPTH``.
    """
    return _walk(items, 0)


def _walk(items: Iterable[Tlv], depth: int) -> Iterator[tuple[int, Tlv]]:
    if depth > MAX_DEPTH:
        raise ProtocolError(f"TLV nesting deeper than {MAX_DEPTH} levels")
    for item in items:
        yield depth, item
        if item.constructed:
            yield from _walk(item.children(), depth + 1)


def find_all(items: Iterable[Tlv], tag: int) -> tuple[Tlv, ...]:
    """Every object with ``tag``, searching constructed values recursively, depth first."""
    return tuple(item for _, item in walk(items) if item.tag == tag)


def find(items: Iterable[Tlv], tag: int) -> Tlv | None:
    """The first object with ``tag`` (depth first, recursively), or None."""
    for _, item in walk(items):
        if item.tag == tag:
            return item
    return None


def _bcd_digits(value: bytes) -> str:
    return value.hex().upper()


def redact(item: Tlv) -> str:
    """A display string for a sensitive object's value that hides the cardholder data.

    - 5A (PAN, BCD padded with F): the masked PAN;
    - 57 (track 2 equivalent: PAN, separator D, expiry, service code, discretionary):
      the masked PAN and the length of the rest;
    - anything else: the length only.

    For a primitive tag outside ``SENSITIVE_TAGS`` the value is shown in hex; a
    constructed one shows its children as ``[TAG=value ...]``, each redacted (its value
    hidden whole if it is not valid TLV).
    """
    return _redact(item, 0)


def _redact(item: Tlv, depth: int) -> str:
    if item.constructed and not item.sensitive:
        children = _children_to_show(item, depth)
        if children is None:
            return _hidden(item, ", not TLV,")
        return "[" + " ".join(f"{c.tag:X}={_redact(c, depth + 1)}" for c in children) + "]"
    if not item.sensitive:
        return item.value.hex().upper()
    if item.tag == 0x5A:
        return mask_pan(_bcd_digits(item.value).rstrip("F"))
    if item.tag == 0x57:
        pan, separator, rest = _bcd_digits(item.value).partition("D")
        if separator:
            return f"{mask_pan(pan)}D<{len(rest.rstrip('F'))} digits hidden>"
    return _hidden(item)
