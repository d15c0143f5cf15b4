"""Zhengtong (SZZT) ZT588 EPP: the key commands: load a clear key ('1'), load an
enciphered key or erase one ('2'), authenticate (':'); the key types, length codes and
the slots smartware uses. ``protocols.zt588_commands`` describes the TEXT of each and
parses them; ``protocols.zt588`` re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from protocols.zt588_fields import CommandCode, check_byte, hide, to_hex

__all__ = [
    "IMK_SLOT",
    "TMK_SLOT",
    "AuthCode",
    "Authenticate",
    "EraseKey",
    "KeyLength",
    "KeyType",
    "LoadEncryptedKey",
    "LoadPlainKey",
    "tpk_slot",
]

IMK_SLOT = 0x80
"""The slot smartware loads the IMK into [S]."""
TMK_SLOT = 0x00
"""The slot smartware loads the TMK into [S] (reference §4.1 lists 20h as "seen")."""


def tpk_slot(key_set: int) -> int:
    """The slot of working-key set 0..7's PIN key, as smartware numbers them [S]."""
    if not 0 <= key_set <= 7:
        raise ValueError(f"a key set is 0..7, got {key_set!r}")
    return 0x40 + 8 * key_set


class KeyType(IntEnum):
    """What a key is for, one decimal digit on the wire."""

    IMK = 1
    TMK = 2
    TPK = 3
    TAK = 5
    TDK = 6
    TDEK = 7
    TDDK = 8
    TDSK = 9


class KeyLength(IntEnum):
    """'1' sends this code; '2' sends it plus one (its 0 means "erase")."""

    SINGLE = 0
    DOUBLE = 1
    TRIPLE = 2

    @property
    def size(self) -> int:
        """The key's size in bytes: 8, 16 or 24."""
        return 8 * (self.value + 1)

    @classmethod
    def of(cls, key: bytes) -> KeyLength:
        """The code of a key of ``len(key)`` bytes.

        Raises:
            ValueError: not 8, 16 or 24 bytes.
        """
        if len(key) not in (8, 16, 24):
            raise ValueError(f"a DES key is 8, 16 or 24 bytes, got {len(key)}")
        return cls(len(key) // 8 - 1)


class AuthCode(IntEnum):
    """The named codes of an authenticate (':') command; any other byte is accepted
    (smartware also sends key slots 10h, 20h, 30h there [S])."""

    GET_CHALLENGE = 0xA0
    WITH_TMK = 0x90
    WITH_IMK = 0x91


@dataclass(frozen=True, slots=True, repr=False)
class LoadPlainKey:
    """'1': load a clear key into ``slot`` (the pad answers its check value)."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_PLAIN_KEY

    slot: int
    key_type: KeyType
    key: bytes

    def encode(self) -> bytes:
        check_byte(self.slot, "the slot")
        length = KeyLength.of(self.key)
        head = b"1%02X%d%d" % (self.slot, KeyType(self.key_type), length)
        return head + to_hex(self.key)

    def __repr__(self) -> str:
        return f"LoadPlainKey(slot=0x{self.slot:02X}, {self.key_type!r}, key={hide(self.key)})"


@dataclass(frozen=True, slots=True, repr=False)
class LoadEncryptedKey:
    """'2': load a key enciphered under the key in slot ``under``."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_ENCRYPTED_KEY

    slot: int
    under: int
    key_type: KeyType
    key: bytes

    def encode(self) -> bytes:
        check_byte(self.slot, "the slot")
        check_byte(self.under, "the KEK slot")
        code = KeyLength.of(self.key) + 1
        head = b"2%02X%02X%d%d" % (self.under, self.slot, KeyType(self.key_type), code)
        return head + to_hex(self.key)

    def __repr__(self) -> str:
        return (
            f"LoadEncryptedKey(slot=0x{self.slot:02X}, under=0x{self.under:02X}, "
            f"{self.key_type!r}, key={hide(self.key)})"
        )


@dataclass(frozen=True, slots=True)
class EraseKey:
    """'2' with length code '0' and no key: erase ``slot`` [S smartware ``erase_key``,
    which sends under 00 and type 0; both kept as they came]."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_ENCRYPTED_KEY

    slot: int
    under: int = 0
    type_code: int = 0

    def encode(self) -> bytes:
        check_byte(self.slot, "the slot")
        check_byte(self.under, "the KEK slot")
        if not 0 <= self.type_code <= 9:
            raise ValueError(f"the type is one digit, got {self.type_code!r}")
        return b"2%02X%02X%d0" % (self.under, self.slot, self.type_code)


@dataclass(frozen=True, slots=True, repr=False)
class Authenticate:
    """':': a code (`AuthCode` or a key slot) and data (a challenge or a response)."""

    command_code: ClassVar[CommandCode] = CommandCode.AUTHENTICATE

    code: int
    data: bytes = b""

    def encode(self) -> bytes:
        check_byte(self.code, "the code")
        if len(self.data) > 32:
            raise ValueError(f"authentication data is at most 32 bytes [U], got {len(self.data)}")
        return b":%02X" % self.code + to_hex(self.data)

    def __repr__(self) -> str:
        return f"Authenticate(code=0x{self.code:02X}, data={hide(self.data)})"
