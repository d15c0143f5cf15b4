"""SAM_V reply bodies (`protocols.samv`): the base message of 30 01 / 30 10, the newest
address of 30 03 and the SAM ID's display form. A body holds personal data: the
``repr`` of `BaseMessage` shows sizes only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from protocols.errors import ProtocolError
from protocols.samv_text import TEXT_SIZE, decode_ucs2

__all__ = [
    "FINGERPRINT_SIZE",
    "NEWEST_ADDRESS_SIZE",
    "PHOTO_SIZE",
    "SAM_ID_SIZE",
    "BaseMessage",
    "parse_base_message",
    "parse_newest_address",
    "sam_id_string",
]

PHOTO_SIZE = 1024
FINGERPRINT_SIZE = 1024
NEWEST_ADDRESS_SIZE = 70
SAM_ID_SIZE = 16


@dataclass(frozen=True, slots=True, repr=False)
class BaseMessage:
    """The body of a 30 01 / 30 10 reply: the chip's blocks as read (personal data,
    never printed).

    Attributes:
        text: the 256-byte text block (`protocols.samv_text.parse_text_block`).
        photo: the 1024-byte WLT photo.
        fingerprint: the fingerprint block (1024 bytes, ``b""`` when the card has none);
            ``None`` for a 30 01 reply (not asked).
    """

    text: bytes
    photo: bytes
    fingerprint: bytes | None = None

    def to_data(self) -> bytes:
        """The reply DATA that carries these blocks (the inverse of `parse_base_message`)."""
        sizes = [len(self.text), len(self.photo)]
        blocks = [self.text, self.photo]
        if self.fingerprint is not None:
            sizes.append(len(self.fingerprint))
            blocks.append(self.fingerprint)
        return b"".join(n.to_bytes(2, "big") for n in sizes) + b"".join(blocks)

    def __repr__(self) -> str:
        fingerprint = "not asked" if self.fingerprint is None else f"{len(self.fingerprint)}"
        return (
            f"BaseMessage(<text {len(self.text)}, photo {len(self.photo)}, "
            f"fingerprint {fingerprint} bytes>)"
        )


def _sizes(data: bytes, count: int) -> Iterator[int]:
    for index in range(count):
        yield int.from_bytes(data[2 * index : 2 * index + 2], "big")


def parse_base_message(data: bytes | bytearray | memoryview, *, fingerprint: bool) -> BaseMessage:
    """The blocks of a successful 30 01 (``fingerprint=False``) or 30 10 reply's DATA.

    Raises:
        ProtocolError: a length other than the layout's (text 256, photo 1024,
            fingerprint 1024 or 0) or DATA of another size than the lengths add up to.
    """
    body = bytes(data)
    count = 3 if fingerprint else 2
    if len(body) < 2 * count:
        raise ProtocolError(
            f"a base message starts with {count} two-byte lengths, got {len(body)} bytes"
        )
    sizes = list(_sizes(body, count))
    if sizes[0] != TEXT_SIZE:
        raise ProtocolError(f"base message: text length {sizes[0]}, expected {TEXT_SIZE}")
    if sizes[1] != PHOTO_SIZE:
        raise ProtocolError(f"base message: photo length {sizes[1]}, expected {PHOTO_SIZE}")
    if fingerprint and sizes[2] not in (0, FINGERPRINT_SIZE):
        raise ProtocolError(
            f"base message: fingerprint length {sizes[2]}, expected {FINGERPRINT_SIZE} or 0"
        )
    expected = 2 * count + sum(sizes)
    if len(body) != expected:
        raise ProtocolError(
            f"base message: the lengths add up to {expected} bytes, the DATA has {len(body)}"
        )
    start = 2 * count
    text = body[start : start + TEXT_SIZE]
    photo = body[start + TEXT_SIZE : start + TEXT_SIZE + PHOTO_SIZE]
    prints = body[start + TEXT_SIZE + PHOTO_SIZE :] if fingerprint else None
    return BaseMessage(text, photo, prints)


def parse_newest_address(data: bytes | bytearray | memoryview) -> str:
    """The newest address of a successful 30 03 reply's DATA (70 bytes UCS-2LE).

    Raises:
        ProtocolError: not 70 bytes, or not UCS-2.
    """
    body = bytes(data)
    if len(body) != NEWEST_ADDRESS_SIZE:
        raise ProtocolError(f"a newest address is {NEWEST_ADDRESS_SIZE} bytes, got {len(body)}")
    return decode_ucs2(body, "newest address")


def sam_id_string(data: bytes | bytearray | memoryview) -> str:
    """The SAM ID's display form (§1.5 [S]): byte 0 and byte 2 as hex joined by '.',
    bytes 4-7 as a little-endian number, bytes 8-11 and 12-15 the same zero-padded to 10
    digits, all joined by '-' (``05.01-20110708-0012345678-1234567890``).

    Raises:
        ProtocolError: not 16 bytes.
    """
    body = bytes(data)
    if len(body) != SAM_ID_SIZE:
        raise ProtocolError(f"a SAM ID is {SAM_ID_SIZE} bytes, got {len(body)}")
    first = int.from_bytes(body[4:8], "little")
    second = int.from_bytes(body[8:12], "little")
    third = int.from_bytes(body[12:16], "little")
    return f"{body[0]:02X}.{body[2]:02X}-{first}-{second:010d}-{third:010d}"
