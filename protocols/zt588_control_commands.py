"""Zhengtong (SZZT) ZT588 EPP: the identify, scancode and control commands: query or
write the user info ('3'), load the scancode table ('4'), a control ('5': reset, wipe,
input on/off, sound, PIN lengths and mask, time limits, hex mode, line speed).
``protocols.zt588_commands`` parses them; ``protocols.zt588`` re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from protocols.zt588_fields import CommandCode, check_byte, to_hex

__all__ = [
    "DEFAULT_SCANCODES",
    "MAX_SCANCODES",
    "MAX_USER_INFO",
    "Communication",
    "Control",
    "ControlCode",
    "LoadScancodes",
    "Misc",
    "QueryUserInfo",
    "WriteUserInfo",
]

DEFAULT_SCANCODES = b"123\x1b456\x08789\x07.0#\rACEGBDFH"
"""The 6x4 key matrix smartware loads with '4' [S]: rows ``1 2 3 cancel``, ``4 5 6
clear``, ``7 8 9 blank``, ``. 0 00 enter``, then the side keys ``A C E G`` / ``B D F H``."""

MAX_USER_INFO = 50
MAX_SCANCODES = 64  # [U] a table of 24 is all we have seen


class ControlCode(StrEnum):
    """The sub-code of a control ('5') command."""

    MISC = "0"
    INPUT_TIME_LIMIT = "2"
    PIN_MASK = "3"
    MIN_PIN_LENGTH = "4"
    MAX_PIN_LENGTH = "5"
    COMMUNICATION = "6"
    BEEP_TIME = "8"


class Misc(StrEnum):
    """The value of a MISC control."""

    RESET = "0"
    WIPE = "1"
    DISABLE_INPUT = "2"
    ENABLE_INPUT = "3"
    SOUND_OFF = "4"
    SOUND_ON = "5"
    BEEP = "="


class Communication(StrEnum):
    """The value of a COMMUNICATION control: the hex mode, or the line speed."""

    BROKEN_HEX = "0"  # [S] smartware's name; what it changes is not known [U]
    HEX = "7"
    BAUD_1200 = "H"
    BAUD_2400 = "I"
    BAUD_4800 = "J"
    BAUD_9600 = "K"
    BAUD_19200 = "L"
    BAUD_38400 = "M"
    BAUD_57600 = "N"
    BAUD_115200 = "O"

    @property
    def baud(self) -> int | None:
        """The line speed this selects, or None for a hex-mode value."""
        return _BAUDS.get(self)


_BAUDS = dict(
    zip(
        list(Communication)[2:],
        (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200),
        strict=True,
    )
)


@dataclass(frozen=True, slots=True)
class QueryUserInfo:
    """'3' alone: ask for the user text, scancodes, settings, model and versions."""

    command_code: ClassVar[CommandCode] = CommandCode.USER_INFO

    def encode(self) -> bytes:
        return b"3"


@dataclass(frozen=True, slots=True)
class WriteUserInfo:
    """'3' and a text: store up to 50 characters of user text [S]."""

    command_code: ClassVar[CommandCode] = CommandCode.USER_INFO

    text: str

    def encode(self) -> bytes:
        raw = self.text.encode("latin-1")
        if not 1 <= len(raw) <= MAX_USER_INFO:
            raise ValueError(f"user text is 1..{MAX_USER_INFO} characters, got {len(raw)}")
        return b"3" + raw


@dataclass(frozen=True, slots=True)
class LoadScancodes:
    """'4': the byte each key sends, in matrix order (`DEFAULT_SCANCODES`)."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_SCANCODES

    table: bytes = DEFAULT_SCANCODES

    def encode(self) -> bytes:
        if not 1 <= len(self.table) <= MAX_SCANCODES:
            raise ValueError(f"a table is 1..{MAX_SCANCODES} bytes, got {len(self.table)}")
        return b"4" + to_hex(self.table)


@dataclass(frozen=True, slots=True)
class Control:
    """'5': a sub-code and a value, which travels as hex (smartware hex-encodes it
    [S]; the constructors below build the known ones)."""

    command_code: ClassVar[CommandCode] = CommandCode.CONTROL

    sub: ControlCode
    value: bytes

    def encode(self) -> bytes:
        if not 1 <= len(self.value) <= 16:
            raise ValueError(f"a control value is 1..16 bytes [U], got {len(self.value)}")
        return b"5" + ControlCode(self.sub).value.encode() + to_hex(self.value)

    @classmethod
    def misc(cls, operation: Misc) -> Control:
        return cls(ControlCode.MISC, Misc(operation).value.encode())

    @classmethod
    def communication(cls, setting: Communication) -> Control:
        return cls(ControlCode.COMMUNICATION, Communication(setting).value.encode())

    @classmethod
    def number(cls, sub: ControlCode, value: int) -> Control:
        """A one-byte numeric setting: time limit (s), PIN lengths, beep time (10 ms)."""
        check_byte(value, f"the {ControlCode(sub).name} value")
        return cls(sub, bytes((value,)))

    @classmethod
    def pin_mask(cls, char: int) -> Control:
        """The byte the pad sends for each PIN digit ('*', or 0xFF as smartware sets)."""
        return cls.number(ControlCode.PIN_MASK, char)

    @property
    def operation(self) -> Misc | Communication | None:
        """The named value of a MISC or COMMUNICATION control; None if unknown/numeric."""
        if len(self.value) != 1:
            return None
        char = chr(self.value[0])
        if self.sub is ControlCode.MISC and char in Misc._value2member_map_:
            return Misc(char)
        if self.sub is ControlCode.COMMUNICATION and char in Communication._value2member_map_:
            return Communication(char)
        return None
