"""TR-31 (ASC X9 TR-31:2018) key block header and optional blocks (reference protocols.md §4.4).

The header is 16 printable ASCII characters:

====  =========================================================
0     version: A (TDES variant), B (TDES derivation), C (TDES variant binding), D (AES derivation)
1-4   total key block length, 4 decimal digits
5-6   key usage (P0, K0, K1, B0, B1, D0, M3...)
7     algorithm (T, A, D, H, R...)
8     mode of use (E, D, B, N, C, G, V, X, S...)
9-10  key version ("00": unused)
11    exportability (E, N, S)
12-13 number of optional blocks, 2 decimal digits
14    key context ("0" in the published examples)
15    reserved ("0")
====  =========================================================

Optional blocks follow: a 2-character ID, a 2-hex-digit length that counts the whole block
(ID and length included) and printable data. A length of "00" announces the extended form:
2 hex digits giving the length of the length in bytes, then that length in hex. A "PB" padding
block, last, brings the header to a whole number of cipher blocks (8 for A/B/C, 16 for D).

Values the reference does not name are kept verbatim as strings. No error quotes key material;
header text is not secret, but errors quote only field names and positions anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from protocols.errors import Completion, ProtocolError


class Tr31Error(ProtocolError):
    """A TR-31 key block that cannot be built or read: the root of the TR-31 errors."""

    default_completion = Completion.INVALID_DATA


class Tr31HeaderError(Tr31Error):
    """A malformed header or optional block."""


class Tr31LengthError(Tr31Error):
    """A length field that does not match what follows it (header, key data or block)."""


class Tr31MacError(Tr31Error):
    """A key block whose MAC does not verify under the KBPK (tampered, or the wrong KBPK)."""


class Tr31KeyError(Tr31Error):
    """A KBPK or a key the version cannot take (length, algorithm)."""


class Version(StrEnum):
    """Key block version ID (header byte 0)."""

    A = "A"  # TDES, key variant binding (deprecated)
    B = "B"  # TDES, key derivation binding
    C = "C"  # TDES, key variant binding
    D = "D"  # AES, key derivation binding


class KeyUsage(StrEnum):
    """Key usage (header bytes 5-6); others are kept verbatim."""

    BDK = "B0"
    INITIAL_DUKPT_KEY = "B1"
    DATA_ENCRYPTION = "D0"
    EMV_MASTER_KEY_CRYPTOGRAM = "E0"
    KEY_ENCRYPTION = "K0"
    TR31_KBPK = "K1"
    MAC_ISO9797_1_ALG3 = "M3"
    PIN_ENCRYPTION = "P0"


class KeyAlgorithm(StrEnum):
    """Algorithm of the wrapped key (header byte 7); others are kept verbatim."""

    AES = "A"
    DES = "D"
    HMAC = "H"
    RSA = "R"
    TDES = "T"


class ModeOfUse(StrEnum):
    """Mode of use (header byte 8); others are kept verbatim."""

    BOTH = "B"
    GENERATE_AND_VERIFY = "C"
    DECRYPT = "D"
    ENCRYPT = "E"
    GENERATE = "G"
    NO_RESTRICTION = "N"
    SIGN = "S"
    VERIFY = "V"
    DERIVE = "X"


class Exportability(StrEnum):
    """Exportability (header byte 11); others are kept verbatim."""

    EXPORTABLE = "E"
    NON_EXPORTABLE = "N"
    SENSITIVE = "S"


HEADER_LENGTH = 16
MAX_BLOCK_LENGTH = 9999
PADDING_BLOCK_ID = "PB"

_E = TypeVar("_E", bound=StrEnum)


def _typed(enum: type[_E], value: str) -> _E | str:
    try:
        return enum(value)
    except ValueError:
        return value


def _printable(text: str) -> bool:
    return all(0x20 <= ord(ch) <= 0x7E for ch in text)


def _is_hex(text: str) -> bool:
    return bool(text) and all(ch in "0123456789ABCDEFabcdef" for ch in text)


def cipher_block_size(version: Version) -> int:
    """The cipher block size the version encrypts with: 16 for D, 8 for A, B, C."""
    return 16 if version is Version.D else 8


@dataclass(frozen=True)
class OptionalBlock:
    """One optional block: a 2-character ID and printable data.

    `extended` forces the extended length form ("00", length of length, length) even when the
    block would fit the 2-hex-digit form; parsing sets it when the block used that form.
    """

    id: str
    data: str
    extended: bool = False

    def encode(self) -> str:
        """The block as it appears in a header."""
        if len(self.id) != 2 or not _printable(self.id):
            raise Tr31HeaderError("optional block ID must be 2 printable characters")
        if not _printable(self.data):
            raise Tr31HeaderError(f"optional block {self.id} data must be printable ASCII")
        short = 4 + len(self.data)
        if short <= 0xFF and not self.extended:
            return f"{self.id}{short:02X}{self.data}"
        total = 2 + 2 + 2 + 4 + len(self.data)
        if total > 0xFFFF:
            raise Tr31LengthError(f"optional block {self.id} is too long")
        return f"{self.id}0002{total:04X}{self.data}"


@dataclass(frozen=True)
class Header:
    """A TR-31 key block header (the block length is computed when the block is built)."""

    version: Version
    key_usage: KeyUsage | str
    algorithm: KeyAlgorithm | str
    mode_of_use: ModeOfUse | str
    key_version: str = "00"
    exportability: Exportability | str = Exportability.NON_EXPORTABLE
    key_context: str = "0"
    reserved: str = "0"
    blocks: tuple[OptionalBlock, ...] = field(default=())

    def block(self, block_id: str) -> OptionalBlock | None:
        """The first optional block with this ID, if any."""
        return next((b for b in self.blocks if b.id == block_id), None)


def _check_fields(header: Header) -> None:
    widths = {
        "key usage": (str(header.key_usage), 2),
        "algorithm": (str(header.algorithm), 1),
        "mode of use": (str(header.mode_of_use), 1),
        "key version": (header.key_version, 2),
        "exportability": (str(header.exportability), 1),
        "key context": (header.key_context, 1),
        "reserved": (header.reserved, 1),
    }
    for name, (value, width) in widths.items():
        if len(value) != width or not _printable(value):
            raise Tr31HeaderError(f"{name} must be {width} printable character(s)")


def encode_blocks(header: Header) -> tuple[str, int]:
    """The optional blocks as text, padded with a PB block to the version's cipher block.

    A trailing PB block that already aligns the header is kept as it is; otherwise it is
    replaced. Returns the text and the number of blocks it holds.
    """
    size = cipher_block_size(header.version)
    blocks = list(header.blocks)
    text = "".join(b.encode() for b in blocks)
    if blocks and blocks[-1].id == PADDING_BLOCK_ID and (HEADER_LENGTH + len(text)) % size == 0:
        return text, len(blocks)
    blocks = [b for b in blocks if b.id != PADDING_BLOCK_ID]
    text = "".join(b.encode() for b in blocks)
    if blocks and (HEADER_LENGTH + len(text)) % size:
        pad = -(HEADER_LENGTH + len(text) + 4) % size
        blocks.append(OptionalBlock(PADDING_BLOCK_ID, "0" * pad))
        text += blocks[-1].encode()
    return text, len(blocks)


def build_header(header: Header, block_length: int) -> str:
    """The header text (fixed part and optional blocks) for a key block `block_length` long."""
    if not isinstance(header.version, Version):
        raise Tr31HeaderError("version must be A, B, C or D")
    _check_fields(header)
    if not 0 <= block_length <= MAX_BLOCK_LENGTH:
        raise Tr31LengthError("key block length must fit 4 decimal digits")
    blocks_text, count = encode_blocks(header)
    if count > 99:
        raise Tr31HeaderError("at most 99 optional blocks")
    return (
        f"{header.version.value}{block_length:04d}{header.key_usage}{header.algorithm}"
        f"{header.mode_of_use}{header.key_version}{header.exportability}{count:02d}"
        f"{header.key_context}{header.reserved}{blocks_text}"
    )


def _parse_block(text: str, pos: int) -> tuple[OptionalBlock, int]:
    if len(text) < pos + 4:
        raise Tr31HeaderError(f"optional block at offset {pos} is truncated")
    block_id = text[pos : pos + 2]
    length_text = text[pos + 2 : pos + 4]
    if not _is_hex(length_text):
        raise Tr31HeaderError(f"optional block {block_id!r} length is not hex")
    length = int(length_text, 16)
    extended = length == 0
    data_start = pos + 4
    if extended:
        lol_text = text[pos + 4 : pos + 6]
        if not _is_hex(lol_text) or int(lol_text, 16) == 0:
            raise Tr31HeaderError(f"optional block {block_id!r} length of length is bad")
        digits = 2 * int(lol_text, 16)
        long_text = text[pos + 6 : pos + 6 + digits]
        if len(long_text) != digits or not _is_hex(long_text):
            raise Tr31HeaderError(f"optional block {block_id!r} extended length is bad")
        length = int(long_text, 16)
        data_start = pos + 6 + digits
    if length < data_start - pos or pos + length > len(text):
        raise Tr31LengthError(f"optional block {block_id!r} length does not fit the header")
    data = text[data_start : pos + length]
    if not _printable(block_id) or not _printable(data):
        raise Tr31HeaderError(f"optional block {block_id!r} is not printable ASCII")
    return OptionalBlock(block_id, data, extended), pos + length


def parse_header(text: str) -> tuple[Header, int, int]:
    """Parse the header at the start of `text` (a key block or a header alone).

    Returns the header, the declared block length and the header's length in characters
    (fixed part and optional blocks).
    """
    if len(text) < HEADER_LENGTH:
        raise Tr31LengthError(f"a TR-31 header is {HEADER_LENGTH} characters, got {len(text)}")
    if not _printable(text[:HEADER_LENGTH]):
        raise Tr31HeaderError("the header is not printable ASCII")
    try:
        version = Version(text[0])
    except ValueError:
        raise Tr31HeaderError("version must be A, B, C or D") from None
    if not text[1:5].isdigit() or not text[1:5].isascii():
        raise Tr31HeaderError("key block length must be 4 decimal digits")
    if not text[12:14].isdigit() or not text[12:14].isascii():
        raise Tr31HeaderError("number of optional blocks must be 2 decimal digits")
    count = int(text[12:14])
    pos = HEADER_LENGTH
    blocks = []
    for _ in range(count):
        block, pos = _parse_block(text, pos)
        blocks.append(block)
    header = Header(
        version=version,
        key_usage=_typed(KeyUsage, text[5:7]),
        algorithm=_typed(KeyAlgorithm, text[7]),
        mode_of_use=_typed(ModeOfUse, text[8]),
        key_version=text[9:11],
        exportability=_typed(Exportability, text[11]),
        key_context=text[14],
        reserved=text[15],
        blocks=tuple(blocks),
    )
    return header, int(text[1:5]), pos
