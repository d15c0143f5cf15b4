"""Zhengtong (SZZT) ZT588 EPP: the command character and the field codecs the command
modules share (``protocols.zt588_commands`` describes the commands).

Binary fields (keys, scancodes, control values, challenges) travel as upper-case hex;
the helpers here never quote a field in an error (it may be a key).
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import TypeVar

from protocols.errors import FramingError, ProtocolError, UnknownCodeError

__all__ = [
    "CommandCode",
    "byte_field",
    "check_byte",
    "code_of",
    "decimal",
    "digit",
    "from_hex",
    "hide",
    "need",
    "to_hex",
]


class CommandCode(StrEnum):
    """The first character of a command's TEXT."""

    LOAD_PLAIN_KEY = "1"
    LOAD_ENCRYPTED_KEY = "2"
    USER_INFO = "3"
    LOAD_SCANCODES = "4"
    CONTROL = "5"
    START_PIN_ENTRY = "6"
    GET_PIN_BLOCK = "7"
    AUTHENTICATE = ":"

    @property
    def byte(self) -> int:
        """The character as a byte."""
        return ord(self.value)


_HEX_DIGITS = frozenset(b"0123456789ABCDEF")


def to_hex(data: bytes) -> bytes:
    """Bytes as the upper-case hex the pad expects."""
    return data.hex().upper().encode("ascii")


def from_hex(field: bytes, what: str) -> bytes:
    """An upper-case hex field's bytes; never quotes the field (it may be a key).

    Raises:
        ProtocolError: odd length or a character that is no upper-case hex digit.
    """
    if len(field) % 2:
        raise FramingError(f"{what} is {len(field)} hex digits, expected an even number")
    bad = next((i for i, c in enumerate(field) if c not in _HEX_DIGITS), None)
    if bad is not None:
        raise ProtocolError(f"{what}: character {bad} is not an upper-case hex digit")
    return bytes.fromhex(field.decode("ascii"))


def byte_field(field: bytes, what: str) -> int:
    return from_hex(field, what)[0]


def digit(value: int, what: str) -> int:
    if not 0x30 <= value <= 0x39:
        raise ProtocolError(f"{what} is 0x{value:02X}, expected a decimal digit")
    return value - 0x30


def decimal(field: bytes, what: str) -> int:
    if not field or not field.isdigit():
        raise ProtocolError(f"{what} is not {len(field)} decimal digits")
    return int(field)


def need(text: bytes, size: int, what: str, *, exact: bool = False) -> None:
    if len(text) < size or (exact and len(text) != size):
        expected = f"{size}" if exact else f"at least {size}"
        raise FramingError(f"{what} TEXT is {len(text)} bytes, expected {expected}")


def check_byte(value: int, what: str) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} is a byte, got {value!r}")


def hide(data: bytes | str) -> str:
    return f"<{len(data)} {'bytes' if isinstance(data, bytes) else 'chars'}>"


_E = TypeVar("_E", bound=Enum)


def code_of(enum: type[_E], value: object, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise UnknownCodeError(f"unknown {what} {value!r}") from None
