"""Zhengtong (SZZT) ZT588 EPP: the PIN-entry commands: start PIN entry ('6') and get
the PIN block ('7'), and the refusal of the clear-PIN format '@'.

'@' would make the pad send the PIN itself: `PinFormat` has no member for it,
`StartPinEntry.encode` and `check_not_clear_pin` (which the frame builder calls) raise
`ClearPinRefused`, and a captured '@' request parses to `ClearPinRequest`, which has no
encoder. ``protocols.zt588`` re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from protocols.errors import Completion, HalError
from protocols.zt588_fields import CommandCode, check_byte, hide

__all__ = [
    "CLEAR_PIN_FORMAT",
    "MAX_PAN_DIGITS",
    "ClearPinRefused",
    "ClearPinRequest",
    "GetPinBlock",
    "PinFormat",
    "StartPinEntry",
    "check_not_clear_pin",
]

CLEAR_PIN_FORMAT = 0x40
"""'@': the format character of the clear-PIN (ASCII) mode. Never built; only recognised."""

MAX_PAN_DIGITS = 19


class ClearPinRefused(HalError, ValueError):
    """Someone asked to build a clear-PIN ('@') request: the codec never does."""

    default_completion = Completion.UNSUPPORTED_DATA

    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where}: the ZT588 clear-PIN format '@' would make the pad send the PIN "
            "itself; this codec never builds it (use an ISO 9564 format)"
        )


class PinFormat(StrEnum):
    """The PIN block formats '6' can ask for. The clear-PIN '@' is deliberately absent."""

    ISO9564_0 = " "
    ISO9564_1 = "!"
    ISO9564_3 = "#"
    IBM3624 = "0"


def check_not_clear_pin(text: bytes | bytearray) -> None:
    """Refuse a TEXT that is a clear-PIN ('@') request (the frame builder calls this).

    Raises:
        ClearPinRefused: ``text`` is ``'6' slot slot '@' ...``.
    """
    start = CommandCode.START_PIN_ENTRY.byte
    if len(text) > 3 and text[0] == start and text[3] == CLEAR_PIN_FORMAT:
        raise ClearPinRefused("a start-PIN-entry TEXT")


@dataclass(frozen=True, slots=True, repr=False)
class StartPinEntry:
    """'6': start PIN entry; the pad builds a ``format`` PIN block under the key in
    ``slot``. ``hint`` is smartware's "hint code" (it sends 0) [S]; ``length`` the PIN
    length (the pad ends entry there); ``pan`` the digits the block uses (as given: the
    pad's expectation, 12 digits or the whole PAN, is not known [U])."""

    command_code: ClassVar[CommandCode] = CommandCode.START_PIN_ENTRY

    slot: int
    format: PinFormat
    hint: int
    length: int
    pan: str

    def encode(self) -> bytes:
        if not isinstance(self.format, PinFormat):
            if self.format in ("@", b"@", CLEAR_PIN_FORMAT):
                raise ClearPinRefused("StartPinEntry")
            raise ValueError(f"the format is a PinFormat, got {type(self.format).__name__}")
        check_byte(self.slot, "the slot")
        if not 0 <= self.hint <= 9:
            raise ValueError(f"the hint is one digit, got {self.hint!r}")
        if not 0 <= self.length <= 99:
            raise ValueError(f"the length is two digits, got {self.length!r}")
        if not ((self.pan.isascii() and self.pan.isdigit()) or self.pan == ""):
            raise ValueError("the PAN is decimal digits")
        if len(self.pan) > MAX_PAN_DIGITS:
            raise ValueError(f"the PAN is at most {MAX_PAN_DIGITS} digits, got {len(self.pan)}")
        head = b"6%02X%s%d%02d" % (self.slot, self.format.value.encode(), self.hint, self.length)
        return head + self.pan.encode("ascii")

    def __repr__(self) -> str:
        return (
            f"StartPinEntry(slot=0x{self.slot:02X}, {self.format!r}, hint={self.hint}, "
            f"length={self.length}, pan={hide(self.pan)})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class ClearPinRequest:
    """A captured '6' asking for the clear-PIN format '@'. Parse-only: it has no
    ``encode``. A tool shows it to say someone asked the pad to send a PIN in clear."""

    command_code: ClassVar[CommandCode] = CommandCode.START_PIN_ENTRY

    slot: int
    hint: int
    length: int
    pan: str

    clear_pin: ClassVar[bool] = True
    """Always True: the flag a tool checks."""

    def __repr__(self) -> str:
        return (
            f"ClearPinRequest(slot=0x{self.slot:02X}, hint={self.hint}, "
            f"length={self.length}, pan={hide(self.pan)})"
        )


@dataclass(frozen=True, slots=True)
class GetPinBlock:
    """'7': ask for the PIN block of the last entry."""

    command_code: ClassVar[CommandCode] = CommandCode.GET_PIN_BLOCK

    def encode(self) -> bytes:
        return b"7"
